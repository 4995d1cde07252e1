package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/rl"
	"github.com/dllmrl/agrpo/rl/task"
)

func runSample(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sample", "sample -ckpt PATH|NAME -task NAME [-seed S] [-problem JSON]\n"+
		"       go run ./demo sample -ckpt DIR -prompt TEXT [-length N] [-dtype auto|f32] [-json]", stderr)
	ckpt := fs.String("ckpt", "", "checkpoint path, Hugging Face model folder (LLaDA's layout) or shipped model name")
	taskName := fs.String("task", "", "countdown | sudoku | arithmetic; with a model's own tokenizer also gsm8k | countdown_chat | sudoku_chat")
	seed := fs.Uint("seed", 0, "picks the test problem and seeds the sampler")
	problemJSON := fs.String("problem", "", `a problem as one JSONL line, e.g. {"numbers":[3,7,12],"target":33}`)
	prompt := fs.String("prompt", "", "instead of -task: a question for a model folder with its own tokenizer and chat template, asked as the user turn")
	length := fs.Int("length", 64, "with -prompt: completion tokens")
	asJSON := fs.Bool("json", false, "with -prompt: also print prompt_ids, completion_ids and completion_text as one JSON object on the last line")
	steps := fs.Int("steps", 0, "sampling steps (0 = one per answer token)")
	block := fs.Int("block", 0, "block length (0 = the whole answer)")
	remask := fs.String("remasking", "low_confidence", "low_confidence | random | entropy")
	temp := fs.Float64("temperature", 0, "sampling temperature (0 = greedy)")
	device := fs.String("device", "auto", deviceHelp)
	anyTask := fs.Bool("any-task", false, "use a checkpoint trained for another task than -task")
	weights := weightsFlag(fs)
	adapter := fs.String("adapter", "", adaptersHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	given := map[string]bool{} // -prompt counts even when empty
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	asked := given["prompt"]
	if asked && (*taskName != "" || *problemJSON != "") {
		fmt.Fprintln(stderr, "demo sample: -prompt asks a free question; it does not take -task or -problem")
		return errUsage
	}
	if !asked && (given["json"] || given["length"]) {
		fmt.Fprintln(stderr, "demo sample: -json and -length go with -prompt")
		return errUsage
	}
	b, why, closeBackend, err := openBackend(*device, stderr)
	if err != nil {
		return err
	}
	defer closeBackend()
	cfg := sampler.Config{BlockLength: *block, Steps: *steps, Temperature: float32(*temp), Seed: uint32(*seed)}
	if asked {
		return samplePrompt(*ckpt, *adapter, *prompt, *length, *remask, *asJSON, *weights, cfg, b, why, stdout, stderr)
	}
	t, m, enc, rm, err := taskAndModel("sample", *taskName, *ckpt, *adapter, *remask, *anyTask, *weights, b, stderr)
	if err != nil {
		return err
	}
	var p task.Problem
	if *problemJSON != "" {
		ps, err := t.ParseJSONL(strings.NewReader(*problemJSON))
		if err != nil || len(ps) != 1 {
			fmt.Fprintf(stderr, "demo sample: -problem: %v\n", err)
			return errUsage
		}
		p = ps[0]
	} else {
		test := t.Test()
		p = test[rand.New(rand.NewPCG(uint64(*seed), 0)).IntN(len(test))]
	}
	cfg.GenLength, cfg.Remasking = t.AnswerLen(), rm
	cfg = cfg.Resolved()
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "demo sample: -steps, -block, -temperature: %v\n", err)
		return errUsage
	}
	fmt.Fprintf(stderr, "device: %s\nweights: %s\n", why, held(m))
	text, rw, err := showUnmasking(stdout, m, enc, t, p, cfg, isTerminal(stdout))
	if err != nil {
		return err
	}
	verdict := "wrong"
	if rw.Correct {
		verdict = "right"
	}
	fmt.Fprintf(stdout, "answer %q: reward %.3f of 4, %s", text, rw.Total, verdict)
	if p.Answer != "" {
		fmt.Fprintf(stdout, " (reference %q)", p.Answer)
	}
	fmt.Fprintln(stdout)
	return nil
}

// sampleResult is sample -prompt -json's last line.
type sampleResult struct {
	Prompt         string      `json:"prompt"`
	PromptText     string      `json:"prompt_text"` // the rendered chat prompt
	PromptIDs      []int32     `json:"prompt_ids"`
	CompletionIDs  []int32     `json:"completion_ids"`  // all -length of them, EOS padding included
	CompletionText string      `json:"completion_text"` // the ids before the first EOS, decoded (task.Encoder.Completion)
	Steps          int         `json:"steps"`
	BlockLength    int         `json:"block_length"`
	Remasking      string      `json:"remasking"`
	Temperature    float32     `json:"temperature"`
	Seed           uint32      `json:"seed"`
	Weights        heldWeights `json:"weights"` // what the model held its weights in
}

// samplePrompt is sample -prompt: the question as the user turn of the model's chat template,
// a completion of length tokens unmasked step by step, and the answer.
func samplePrompt(ckpt, adapter, question string, length int, remask string, asJSON bool, w rl.Weights, cfg sampler.Config, b core.Backend,
	why string, stdout, stderr io.Writer) error {
	if ckpt == "" {
		fmt.Fprintln(stderr, "demo sample: -ckpt is required")
		return errUsage
	}
	rm, err := parseRemasking("sample", remask, stderr)
	if err != nil {
		return err
	}
	cfg.GenLength, cfg.Remasking = length, rm
	cfg = cfg.Resolved()
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "demo sample: -length, -steps, -block, -temperature: %v\n", err)
		return errUsage
	}
	ck, err := loadModel(ckpt, w, b, stderr)
	if err != nil {
		return err
	}
	enc := ck.Encoder
	if _, chars := enc.Tok.(task.Chars); chars || enc.Template == nil {
		return refused(fmt.Errorf("%s: -prompt needs a model folder with its own tokenizer and chat template (tokenizer.json, tokenizer_config.json)", ckpt))
	}
	text, ids, err := enc.ChatPrompt(question)
	if err != nil {
		return refused(fmt.Errorf("-prompt: %w", err))
	}
	if n := len(ids) + length; n > ck.Config.MaxSeqLen {
		return refused(fmt.Errorf("-prompt's %d tokens and -length %d make %d, over %s's max_sequence_length %d", len(ids), length, n, ckpt, ck.Config.MaxSeqLen))
	}
	m, err := adapted(b, ck, adapter)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "device: %s\nweights: %s\n", why, held(m))
	mask := make([]int32, len(ids))
	for i := range mask {
		mask[i] = 1
	}
	fmt.Fprintf(stdout, "prompt %q  (%d tokens; %d steps, %s, T=%g)\n", text, len(ids), cfg.Steps, cfg.Remasking, cfg.Temperature)
	comp, err := unmask(stdout, m, enc, sampler.Prompt{Tokens: ids, Mask: mask}, cfg, isTerminal(stdout))
	if err != nil {
		return err
	}
	answer := enc.Completion(comp)
	fmt.Fprintf(stdout, "answer %q\n", answer)
	if !asJSON {
		return nil
	}
	return json.NewEncoder(stdout).Encode(sampleResult{Prompt: question, PromptText: text, PromptIDs: ids, CompletionIDs: comp,
		CompletionText: answer, Steps: cfg.Steps, BlockLength: cfg.BlockLength, Remasking: cfg.Remasking.String(),
		Temperature: cfg.Temperature, Seed: cfg.Seed, Weights: held(m)})
}

// showUnmasking samples one problem and prints the completion after every step (unmask). It
// returns the answer text and its reward.
func showUnmasking(w io.Writer, m *model.Model, enc task.Encoder, t task.Task, p task.Problem, cfg sampler.Config, color bool) (string, task.Reward, error) {
	ids, mask, err := enc.Prompt(t, p)
	if err != nil {
		return "", task.Reward{}, err
	}
	fmt.Fprintf(w, "prompt %q  (%d steps, %s, T=%g)\n", p.Prompt, cfg.Steps, cfg.Remasking, cfg.Temperature)
	comp, err := unmask(w, m, enc, sampler.Prompt{Tokens: ids, Mask: mask}, cfg, color)
	if err != nil {
		return "", task.Reward{}, err
	}
	text := enc.Completion(comp)
	return text, t.Reward(p, text), nil
}

// unmask samples one prompt and prints the completion after every step: masks as '_', EOS as
// '·', the tokens revealed at that step highlighted (bold when color is on, underlined by '^'
// below otherwise). It returns the completion's ids.
func unmask(w io.Writer, m *model.Model, enc task.Encoder, p sampler.Prompt, cfg sampler.Config, color bool) ([]int32, error) {
	var prev []int32
	tr, err := sampler.Generate(m, []sampler.Prompt{p}, cfg, func(step int, tok []int32, _ []float32) {
		cur := append([]int32(nil), tok[len(p.Tokens):]...)
		if step >= 0 {
			fmt.Fprintf(w, "step %3d  %s\n", step+1, render(enc, cur, prev, color))
		} else {
			fmt.Fprintf(w, "start     %s\n", render(enc, cur, nil, color))
		}
		prev = cur
	})
	if err != nil {
		return nil, err
	}
	return tr.Completion(0), nil
}

// render draws a completion: '_' for a mask, '·' for EOS, each other token as its text (line
// breaks and tabs as '↵' and '→'), the tokens that differ from prev highlighted.
func render(enc task.Encoder, cur, prev []int32, color bool) string {
	sp := enc.Tok.Specials()
	var line, marks strings.Builder
	for i, id := range cur {
		var g string
		switch id {
		case sp.Mask:
			g = "_"
		case sp.EOS:
			g = "·"
		default:
			g = enc.Completion([]int32{id})
			g = strings.NewReplacer("\n", "↵", "\r", "↵", "\t", "→").Replace(g)
		}
		fresh := prev != nil && prev[i] != id
		if fresh && color {
			line.WriteString("\x1b[1;32m" + g + "\x1b[0m")
		} else {
			line.WriteString(g)
		}
		mark := " "
		if fresh {
			mark = "^"
		}
		marks.WriteString(strings.Repeat(mark, utf8.RuneCountInString(g)))
	}
	if color || prev == nil || strings.TrimSpace(marks.String()) == "" {
		return line.String()
	}
	return line.String() + "\n          " + strings.TrimRight(marks.String(), " ")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
