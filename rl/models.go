package rl

import (
	"fmt"
	"os"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
)

// LoadModel loads a checkpoint by path — a file of this project, or a Hugging Face model folder
// in LLaDA's layout (model.LoadDir) — or, when no such file exists, by shipped model name.
func LoadModel(nameOrPath string, b core.Backend) (*model.Checkpoint, error) {
	if st, err := os.Stat(nameOrPath); err == nil {
		if st.IsDir() {
			return model.LoadDir(nameOrPath, b)
		}
		return model.Load(nameOrPath, b)
	}
	if raw, ok := models.Bytes(nameOrPath); ok {
		return model.Decode(nameOrPath, raw, b)
	}
	return nil, fmt.Errorf("no checkpoint file %q and no shipped model of that name (shipped: %s)",
		nameOrPath, strings.Join(models.Names(), ", "))
}

// CheckTask reports why checkpoint ck (named name) cannot run task t: a model that does not fit
// it (task.CheckModel), or one trained for another task, as its metadata says, unless anyTask
// allows that (on purpose: to fine-tune or compare across tasks).
func CheckTask(ck *model.Checkpoint, name string, t task.Task, anyTask bool) error {
	if err := task.CheckModel(ck.Config, t); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if trained := ck.Metadata["task"]; trained != "" && trained != t.Name() && !anyTask {
		return fmt.Errorf("%s was trained for %s, not %s; allow it on purpose with -any-task (model.any_task = true in a config)", name, trained, t.Name())
	}
	return nil
}

// DataNote is a line for the user when the checkpoint file at path carries no checksum of its
// tensor data, saying what was checked; "" when it does, and for shipped models (embedded in
// the binary, checked by the build).
func DataNote(path string, ck *model.Checkpoint) string {
	if _, err := os.Stat(path); ck.DataChecked || err != nil {
		return ""
	}
	return fmt.Sprintf("note: %s carries no checksum of its tensor data (an older file, or another tool's): its header, tensor names, shapes and sizes were checked, its values were not", path)
}
