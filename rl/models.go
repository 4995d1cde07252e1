package rl

import (
	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
)

// LoadModel loads a checkpoint by path.
func LoadModel(nameOrPath string, b core.Backend) (*model.Checkpoint, error) {
	return model.Load(nameOrPath, b)
}
