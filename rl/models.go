package rl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/tokenizer/hf"
	"github.com/dllmrl/agrpo/rl/models"
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

// LoadModel loads a checkpoint by path — a file of this project, or a Hugging Face model folder
// in LLaDA's layout (model.LoadDir) with its tokenizer (ModelEncoder) — or, when no such file
// exists, by shipped model name.
func LoadModel(nameOrPath string, b core.Backend) (*Loaded, error) {
	return loadModel(nameOrPath, b, false)
}

// loadModel is LoadModel; keep16 keeps a folder's 16-bit weights 16-bit (model.LoadDir16), for
// a base that stays frozen.
func loadModel(nameOrPath string, b core.Backend, keep16 bool) (*Loaded, error) {
	if st, err := os.Stat(nameOrPath); err == nil {
		if !st.IsDir() {
			ck, err := model.Load(nameOrPath, b)
			if err != nil {
				return nil, err
			}
			return &Loaded{Checkpoint: ck, Encoder: task.CharEncoder}, nil
		}
		load := model.LoadDir
		if keep16 {
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
	if raw, ok := models.Bytes(nameOrPath); ok {
		ck, err := model.Decode(nameOrPath, raw, b)
		if err != nil {
			return nil, err
		}
		return &Loaded{Checkpoint: ck, Encoder: task.CharEncoder}, nil
	}
	return nil, fmt.Errorf("no checkpoint file %q and no shipped model of that name (shipped: %s)",
		nameOrPath, strings.Join(models.Names(), ", "))
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
// tensor data, saying what was checked; "" when it does, and for shipped models (embedded in
// the binary, checked by the build).
func DataNote(path string, ck *model.Checkpoint) string {
	if _, err := os.Stat(path); ck.DataChecked || err != nil {
		return ""
	}
	return fmt.Sprintf("note: %s carries no checksum of its tensor data (an older file, or another tool's): its header, tensor names, shapes and sizes were checked, its values were not", path)
}

// TaskLimits is what package task checks of a model with configuration c.
func TaskLimits(c model.Config) task.ModelLimits {
	return task.ModelLimits{VocabSize: c.VocabSize, MaskID: c.MaskID, EOSID: c.EOSID, MaxSeqLen: c.MaxSeqLen}
}
