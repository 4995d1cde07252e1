package rl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/tokenizer/hf"
	"github.com/dllmrl/agrpo/rl/task"
)

// Loaded is a checkpoint with the encoder that makes its tokens: a Hugging Face folder's own
// tokenizer and chat template when the folder brings them, the tasks' character vocabulary
// otherwise.
type Loaded struct {
	*model.Checkpoint
	// Encoder is the model's tokenizer and chat template.
	Encoder task.Encoder
}

// Catalog finds models by name: for LoadModel and the trainer's model.init, a name that is no
// path. The command passes the shipped models (rl/models.Shipped); rl itself embeds none, so
// that importing it does not put their megabytes into every binary. A nil Catalog knows no
// names.
type Catalog interface {
	// Bytes is the checkpoint file of the model called name, false when there is none.
	Bytes(name string) ([]byte, bool)
	// Names lists the models it holds, for the error that names an unknown one.
	Names() []string
}

// Weights says what a loaded model holds its weights in; its names ("f32", "auto") are the
// -dtype flag's values.
type Weights uint8

const (
	// Float32 widens every weight to float32: training's parameters (the optimizer's master
	// weights) must be.
	Float32 Weights = iota
	// AsStored keeps the 2-D weights that a Hugging Face folder stores in BF16 or F16 in that
	// dtype on the backend (model.LoadDir16): half their memory, for commands that do not
	// train; the model computes what the widened one does. Checkpoint files of this project
	// and the shipped models are float32 either way.
	AsStored
)

var weightsNames = []string{"f32", "auto"}

// String is the name of w.
func (w Weights) String() string { return core.ChoiceString("dtype", weightsNames, w) }

// MarshalText writes the name.
func (w Weights) MarshalText() ([]byte, error) {
	n, err := core.ChoiceName("dtype", weightsNames, w)
	return []byte(n), err
}

// UnmarshalText reads a name.
func (w *Weights) UnmarshalText(text []byte) (err error) {
	*w, err = core.ParseChoice[Weights]("dtype", weightsNames, string(text))
	return err
}

// LoadModel loads a checkpoint by path — a file of this project, or a Hugging Face model folder
// in LLaDA's layout (model.LoadDir) with its tokenizer (ModelEncoder) — or, when no such file
// exists, by name from named. Every weight is float32 (LoadModelAs keeps 16-bit ones).
func LoadModel(nameOrPath string, named Catalog, b core.Backend) (*Loaded, error) {
	return LoadModelAs(nameOrPath, named, b, Float32)
}

// LoadModelAs is LoadModel with the weights held as w says.
func LoadModelAs(nameOrPath string, named Catalog, b core.Backend, w Weights) (*Loaded, error) {
	if st, err := os.Stat(nameOrPath); err == nil {
		if !st.IsDir() {
			ck, err := model.Load(nameOrPath, b)
			if err != nil {
				return nil, err
			}
			return &Loaded{Checkpoint: ck, Encoder: task.CharEncoder}, nil
		}
		load := model.LoadDir
		if w == AsStored {
			load = model.LoadDir16
		}
		ck, err := load(nameOrPath, b)
		if err != nil {
			return nil, err
		}
		enc, err := ModelEncoder(nameOrPath, ck.Config)
		if err != nil {
			return nil, err
		}
		return &Loaded{Checkpoint: ck, Encoder: enc}, nil
	}
	if named == nil {
		return nil, fmt.Errorf("no checkpoint file %q (and no model names are known here)", nameOrPath)
	}
	if raw, ok := named.Bytes(nameOrPath); ok {
		ck, err := model.Decode(nameOrPath, raw, b)
		if err != nil {
			return nil, err
		}
		return &Loaded{Checkpoint: ck, Encoder: task.CharEncoder}, nil
	}
	return nil, fmt.Errorf("no checkpoint file %q and no shipped model of that name (shipped: %s)",
		nameOrPath, strings.Join(named.Names(), ", "))
}

// ModelEncoder is the encoder of the model that path holds, whose architecture is mc: for a
// folder with a tokenizer.json, that tokenizer (with tokenizer_config.json's special tokens and
// chat template), checked against config.json — its ids must fit the embedding and its mask,
// EOS and pad ids be config.json's; for anything else (a checkpoint file, a shipped name, a
// folder without tokenizer.json, "") the tasks' character vocabulary.
func ModelEncoder(path string, mc model.Config) (task.Encoder, error) {
	if st, err := os.Stat(path); path == "" || err != nil || !st.IsDir() {
		return task.CharEncoder, nil
	}
	if _, err := os.Stat(filepath.Join(path, hf.TokenizerFile)); err != nil {
		return task.CharEncoder, nil
	}
	tok, err := hf.Load(path)
	if err != nil {
		return task.Encoder{}, err
	}
	s := tok.Specials()
	disagree := func(what string, tokID int32, key string, cfgID int) error {
		return fmt.Errorf("%s: the tokenizer (%s, %s) and %s disagree: its %s id is %d (-1: none), %s is %d",
			path, hf.TokenizerFile, hf.ConfigFile, model.HFConfigName, what, tokID, key, cfgID)
	}
	switch {
	case tok.VocabSize() > mc.VocabSize:
		return task.Encoder{}, fmt.Errorf("%s: the tokenizer (%s) and %s disagree: it has %d tokens, embedding_size is %d",
			path, hf.TokenizerFile, model.HFConfigName, tok.VocabSize(), mc.VocabSize)
	case s.Mask != int32(mc.MaskID):
		return task.Encoder{}, disagree("mask", s.Mask, "mask_token_id", mc.MaskID)
	case s.EOS != int32(mc.EOSID):
		return task.Encoder{}, disagree("EOS", s.EOS, "eos_token_id", mc.EOSID)
	case s.Pad >= 0 && s.Pad != int32(mc.PadID):
		return task.Encoder{}, disagree("pad", s.Pad, "pad_token_id", mc.PadID)
	}
	enc := task.Encoder{Tok: tok}
	if c := tok.ChatTemplate(); c != nil { // a nil *ChatTemplate must stay a nil interface
		enc.Template = c
	}
	return enc, nil
}

// CheckTask reports why checkpoint ck (named name) cannot run task t: a model that does not fit
// it (task.CheckModel), or one trained for another task, as its metadata says, unless anyTask
// allows that (on purpose: to fine-tune or compare across tasks).
func CheckTask(ck *Loaded, name string, t task.Task, anyTask bool) error {
	if err := task.CheckModel(TaskLimits(ck.Config), ck.Encoder, t); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if trained := ck.Metadata["task"]; trained != "" && trained != t.Name() && !anyTask {
		return fmt.Errorf("%s was trained for %s, not %s; allow it on purpose with -any-task (model.any_task = true in a config)", name, trained, t.Name())
	}
	return nil
}

// DataNote is a line for the user when the checkpoint file at path carries no checksum of its
// tensor data, saying what was checked; "" when it does, for shipped models (embedded in
// the binary, checked by the build) and for Hugging Face folders (whose format has no checksum,
// so the note would only repeat itself).
func DataNote(path string, ck *model.Checkpoint) string {
	if fi, err := os.Stat(path); ck.DataChecked || err != nil || fi.IsDir() {
		return ""
	}
	return fmt.Sprintf("note: %s carries no checksum of its tensor data (an older file, or another tool's): its header, tensor names, shapes and sizes were checked, its values were not", path)
}

// TaskLimits is what package task checks of a model with configuration c.
func TaskLimits(c model.Config) task.ModelLimits {
	return task.ModelLimits{VocabSize: c.VocabSize, MaskID: c.MaskID, EOSID: c.EOSID, MaxSeqLen: c.MaxSeqLen}
}
