package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/rl/task"
)

func runSample(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sample", "sample -ckpt PATH|NAME -task NAME [-seed S] [-problem JSON]", stderr)
	ckpt := fs.String("ckpt", "", "checkpoint path, Hugging Face model folder (LLaDA's layout) or shipped model name")
	taskName := fs.String("task", "", "countdown | sudoku | arithmetic")
	seed := fs.Uint("seed", 0, "picks the test problem and seeds the sampler")
	problemJSON := fs.String("problem", "", `a problem as one JSONL line, e.g. {"numbers":[3,7,12],"target":33}`)
	steps := fs.Int("steps", 0, "sampling steps (0 = one per answer token)")
	block := fs.Int("block", 0, "block length (0 = the whole answer)")
	var rm core.Remasking
	fs.TextVar(&rm, "remasking", core.LowConfidence, "low_confidence | random | entropy")
	temp := fs.Float64("temperature", 0, "sampling temperature (0 = greedy)")
	device := fs.String("device", "auto", deviceHelp)
	anyTask := fs.Bool("any-task", false, "use a checkpoint trained for another task than -task")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b, why, closeBackend, err := openBackend(*device, stderr)
	if err != nil {
		return err
	}
	defer closeBackend()
	t, m, err := taskAndModel("sample", *taskName, *ckpt, *anyTask, b, stderr)
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
	cfg := sampler.Config{GenLength: t.AnswerLen(), BlockLength: *block, Steps: *steps, Temperature: float32(*temp),
		Remasking: rm, Seed: uint32(*seed)}.Resolved()
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "demo sample: -steps, -block, -temperature: %v\n", err)
		return errUsage
	}
	fmt.Fprintf(stderr, "device: %s\n", why)
	text, rw, err := showUnmasking(stdout, m, t, p, cfg, isTerminal(stdout))
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

// showUnmasking samples one problem and prints the completion after every step: masks as '_',
// the tokens revealed at that step highlighted (bold when color is on, underlined by '^' below
// otherwise). It returns the answer text and its reward.
func showUnmasking(w io.Writer, m *model.Model, t task.Task, p task.Problem, cfg sampler.Config, color bool) (string, task.Reward, error) {
	ids, mask, err := task.EncodePrompt(t, p)
	if err != nil {
		return "", task.Reward{}, err
	}
	fmt.Fprintf(w, "prompt %q  (%d steps, %s, T=%g)\n", p.Prompt, cfg.Steps, cfg.Remasking, cfg.Temperature)
	var prev []int32
	tr, err := sampler.Generate(m, []sampler.Prompt{{Tokens: ids, Mask: mask}}, cfg, func(step int, tok []int32, _ []float32) {
		cur := append([]int32(nil), tok[len(ids):]...)
		if step >= 0 {
			fmt.Fprintf(w, "step %3d  %s\n", step+1, render(cur, prev, color))
		} else {
			fmt.Fprintf(w, "start     %s\n", render(cur, nil, color))
		}
		prev = cur
	})
	if err != nil {
		return "", task.Reward{}, err
	}
	text := task.Answer(tr.Completion(0))
	return text, t.Reward(p, text), nil
}

// render draws a completion: '_' for a mask, '·' for EOS, the tokens that differ from prev
// highlighted.
func render(cur, prev []int32, color bool) string {
	var line, marks strings.Builder
	for i, id := range cur {
		g := task.Decode([]int32{id})
		switch id {
		case task.Mask:
			g = "_"
		case task.EOS:
			g = "·"
		}
		fresh := prev != nil && prev[i] != id
		if fresh && color {
			line.WriteString("\x1b[1;32m" + g + "\x1b[0m")
		} else {
			line.WriteString(g)
		}
		if fresh {
			marks.WriteString("^")
		} else {
			marks.WriteString(" ")
		}
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
