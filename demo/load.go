package main

import (
	"fmt"
	"io"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/task"
)

// taskAndModel resolves the -task, -ckpt and -adapter flags shared by eval and sample; every
// error is a user mistake (exit 2): an unknown task or remasking rule, a checkpoint that is
// missing, damaged or does not fit the task, an adapter that does not fit the checkpoint. It
// returns the model with the encoder of its tokens.
func taskAndModel(cmd, taskName, ckpt, adapter, remasking string, anyTask bool, b core.Backend, stderr io.Writer) (task.Task, *model.Model, task.Encoder, core.Remasking, error) {
	if ckpt == "" || taskName == "" {
		fmt.Fprintf(stderr, "demo %s: -ckpt and -task are required\n", cmd)
		return nil, nil, task.Encoder{}, 0, errUsage
	}
	t, err := task.ByName(taskName)
	if err != nil {
		fmt.Fprintf(stderr, "demo %s: -task: %v\n", cmd, err)
		return nil, nil, task.Encoder{}, 0, errUsage
	}
	rm, err := parseRemasking(cmd, remasking, stderr)
	if err != nil {
		return nil, nil, task.Encoder{}, 0, err
	}
	ck, err := loadModel(ckpt, b, stderr)
	if err != nil {
		return nil, nil, task.Encoder{}, 0, err
	}
	if err := rl.CheckTask(ck, ckpt, t, anyTask); err != nil {
		return nil, nil, task.Encoder{}, 0, refused(err)
	}
	m, err := adapted(b, ck, adapter)
	if err != nil {
		return nil, nil, task.Encoder{}, 0, err
	}
	return t, m, ck.Encoder, rm, nil
}

// adaptersHelp is the -adapter flag's help.
const adaptersHelp = "a LoRA adapter folder as PEFT saves it (adapter_config.json, adapter_model.safetensors; a LoRA run folder holds one) to apply on top of -ckpt"

// adapted is ck's model with the PEFT adapter folder dir on top when dir is set; an adapter that
// does not fit is refused (exit 2).
func adapted(b core.Backend, ck *rl.Loaded, dir string) (*model.Model, error) {
	m := model.New(b, ck.Config, ck.Params)
	if dir != "" {
		if err := m.LoadAdapter(dir); err != nil {
			return nil, refused(err)
		}
	}
	return m, nil
}

// parseRemasking reads a -remasking flag; a bad one is a usage error.
func parseRemasking(cmd, remasking string, stderr io.Writer) (core.Remasking, error) {
	rm, err := core.ParseRemasking(remasking)
	if err != nil {
		fmt.Fprintf(stderr, "demo %s: -remasking: %v\n", cmd, err)
		return 0, errUsage
	}
	return rm, nil
}

// loadModel loads -ckpt (refused when missing or damaged) and notes a file without a checksum.
func loadModel(ckpt string, b core.Backend, stderr io.Writer) (*rl.Loaded, error) {
	ck, err := rl.LoadModel(ckpt, b)
	if err != nil {
		return nil, refused(err)
	}
	if note := rl.DataNote(ckpt, ck.Checkpoint); note != "" {
		fmt.Fprintln(stderr, note)
	}
	return ck, nil
}
