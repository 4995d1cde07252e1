package rl

import (
	"fmt"
	"os"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl/models"
)

// LoadModel loads a checkpoint by path or, when no such file exists, by shipped model name.
func LoadModel(nameOrPath string, b core.Backend) (*model.Checkpoint, error) {
	if _, err := os.Stat(nameOrPath); err == nil {
		return model.Load(nameOrPath, b)
	}
	if raw, ok := models.Bytes(nameOrPath); ok {
		return model.Decode(nameOrPath, raw, b)
	}
	return nil, fmt.Errorf("no checkpoint file %q and no shipped model of that name (shipped: %s)",
		nameOrPath, strings.Join(models.Names(), ", "))
}
