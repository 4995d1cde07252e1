package main

import (
	"fmt"
	"io"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/task"
)

// taskAndModel resolves the -task and -ckpt flags shared by eval and sample; every error is a
// user mistake (exit 2): an unknown task, a checkpoint that is missing, damaged or does not fit
// the task.
func taskAndModel(cmd, taskName, ckpt string, anyTask bool, b core.Backend, stderr io.Writer) (task.Task, *model.Model, error) {
	if ckpt == "" || taskName == "" {
		fmt.Fprintf(stderr, "demo %s: -ckpt and -task are required\n", cmd)
		return nil, nil, errUsage
	}
	t, err := task.ByName(taskName)
	if err != nil {
		fmt.Fprintf(stderr, "demo %s: -task: %v\n", cmd, err)
		return nil, nil, errUsage
	}
	ck, err := rl.LoadModel(ckpt, b)
	if err != nil {
		return nil, nil, refused(err)
	}
	if err := rl.CheckTask(ck, ckpt, t, anyTask); err != nil {
		return nil, nil, refused(err)
	}
	if note := rl.DataNote(ckpt, ck); note != "" {
		fmt.Fprintln(stderr, note)
	}
	return t, model.New(b, ck.Config, ck.Params), nil
}
