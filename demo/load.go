package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/models"
	"github.com/dllmrl/agrpo/rl/task"
)

// taskAndModel resolves the -task, -ckpt, -dtype and -adapter flags shared by eval and sample;
// every error is a user mistake (exit 2): an unknown task or remasking rule, a checkpoint that
// is missing, damaged or does not fit the task, an adapter that does not fit the checkpoint. It
// returns the model with the encoder of its tokens.
func taskAndModel(cmd, taskName, ckpt, adapter, remasking string, anyTask bool, w rl.Weights, b core.Backend, stderr io.Writer) (task.Task, *model.Model, task.Encoder, core.Remasking, error) {
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
	ck, err := loadModel(ckpt, w, b, stderr)
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

// loadModel loads -ckpt with its weights held as w (refused when missing or damaged) and notes
// a file without a checksum.
func loadModel(ckpt string, w rl.Weights, b core.Backend, stderr io.Writer) (*rl.Loaded, error) {
	ck, err := rl.LoadModelAs(ckpt, models.Shipped, b, w)
	if err != nil {
		return nil, refused(err)
	}
	if note := rl.DataNote(ckpt, ck.Checkpoint); note != "" {
		fmt.Fprintln(stderr, note)
	}
	return ck, nil
}

// weightsFlag adds -dtype, what a command that does not train holds the weights in.
func weightsFlag(fs *flag.FlagSet) *rl.Weights {
	w := rl.AsStored
	fs.TextVar(&w, "dtype", w, "weights in memory: auto keeps the 2-D weights that a model folder stores in BF16 or F16 16-bit "+
		"(half their memory, the same results); f32 widens every weight to float32")
	return &w
}

// heldWeights is what a loaded model holds its weights in, as eval and sample report it.
type heldWeights struct {
	Tensors map[string]int `json:"tensors"` // tensors per dtype (F32, BF16, F16)
	Bytes   int64          `json:"bytes"`   // their data
}

// held reads the dtypes of m's parameter tensors, as the backend holds them.
func held(m *model.Model) heldWeights {
	h := heldWeights{Tensors: map[string]int{}}
	for _, n := range m.P.List(m.Cfg) {
		h.add(n.Tensor.DType(), n.Tensor.Len())
	}
	return h
}

// add counts a tensor of n elements of dtype dt.
func (h *heldWeights) add(dt core.DType, n int) {
	size := int64(4)
	if dt == core.BF16 || dt == core.F16 {
		size = 2
	}
	h.Tensors[dt.String()]++
	h.Bytes += size * int64(n)
}

// String is the line eval and sample print: "251.8 KiB (16 tensors BF16, 5 tensors F32)".
func (h heldWeights) String() string {
	var parts []string
	for _, dt := range slices.Sorted(maps.Keys(h.Tensors)) {
		parts = append(parts, fmt.Sprintf("%d tensors %s", h.Tensors[dt], dt))
	}
	return fmt.Sprintf("%s (%s)", bytesText(h.Bytes), strings.Join(parts, ", "))
}
