// Package infer is the browser demo's inference glue, shared by every build of it: the page's
// js/wasm worker (wasm/cmd/js), the wasip1 command that tests run under wazero
// (wasm/cmd/wasip1) and native Go. It is the one piece of code that loads a checkpoint from
// bytes, turns a request into a task problem and sampler settings, generates while recording
// every step's state, and scores the answer.
//
// It imports the engine (core, core/cpu, core/model, core/sampler) and rl/task but not
// rl/models, which embeds the checkpoints (the page fetches them separately), nor rl, whose
// trainer, TOML config and Hugging Face tokenizer inference does not need and would make the
// page's WebAssembly larger.
package infer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/sampler"
	"github.com/dllmrl/agrpo/rl/task"
)

// Model is a checkpoint loaded onto the CPU backend.
type Model struct {
	// Name labels the model in results and errors, e.g. "sudoku-base".
	Name string
	m    *model.Model
}

// Load decodes a safetensors checkpoint of this project's format. A damaged or foreign file is
// an error naming name.
func Load(name string, raw []byte) (*Model, error) {
	b := cpu.New()
	ck, err := model.Decode(name, raw, b)
	if err != nil {
		return nil, err
	}
	return &Model{Name: name, m: model.New(b, ck.Config, ck.Params)}, nil
}

// Request is one generation as the page, the wasip1 command and tests describe it (JSON).
type Request struct {
	// Task is a task name: "countdown", "sudoku" or "arithmetic".
	Task string `json:"task"`
	// Problem is a typed problem as one JSONL line in the task's format (see rl/task), e.g.
	// {"puzzle":"1.3.4..2....3..1"}; empty picks a test problem by ProblemSeed.
	Problem string `json:"problem,omitempty"`
	// ProblemSeed picks the test problem when Problem is empty, as `demo sample -seed` does.
	ProblemSeed uint64 `json:"problemSeed"`
	// Steps is the number of denoising steps; 0 means one per answer token.
	Steps int `json:"steps"`
	// Block is the semi-autoregressive block length; 0 means the whole answer.
	Block int `json:"block"`
	// Temperature is the sampling temperature; 0 is greedy.
	Temperature float64 `json:"temperature"`
	// Remasking is "low_confidence" (the default when empty), "random" or "entropy".
	Remasking string `json:"remasking,omitempty"`
	// Seed seeds the sampler's random draws.
	Seed uint32 `json:"seed"`
}

// Problem is a resolved request's problem, for showing it before generating.
type Problem struct {
	Task string `json:"task"`
	// Prompt is the prompt text ending in ':', e.g. ".3....1.21......:".
	Prompt string `json:"prompt"`
	// Reference is the reference answer, empty when a typed problem has none.
	Reference string `json:"reference"`
	// AnswerLen is the number of completion tokens.
	AnswerLen int `json:"answerLen"`
}

// TestProblem is the test problem that seed picks: the same one `demo sample -seed` shows.
func TestProblem(t task.Task, seed uint64) task.Problem {
	test := t.Test()
	return test[rand.New(rand.NewPCG(seed, 0)).IntN(len(test))]
}

// ParseProblem reads one typed problem with the task's JSONL parser. Its error is the parser's
// without the "TASK JSONL line 1:" prefix, which means nothing to someone typing in a form.
func ParseProblem(t task.Task, line string) (task.Problem, error) {
	if strings.ContainsAny(line, "\r\n") {
		return task.Problem{}, errors.New("a problem is one line of JSON")
	}
	ps, err := t.ParseJSONL(strings.NewReader(line))
	switch {
	case err != nil:
		return task.Problem{}, errors.New(strings.TrimPrefix(err.Error(), t.Name()+" JSONL line 1: "))
	case len(ps) != 1:
		return task.Problem{}, errors.New("no problem given")
	}
	return ps[0], nil
}

// ParseRemasking reads a remasking rule's name; empty means low_confidence.
func ParseRemasking(name string) (core.Remasking, error) {
	if name == "" {
		return core.LowConfidence, nil
	}
	return core.ParseRemasking(name)
}

// Resolve checks a request and returns its task, problem and sampler settings (defaults
// filled in). Every mistake a user can type is an error saying which field is wrong.
func (r Request) Resolve() (task.Task, task.Problem, sampler.Config, error) {
	t, err := task.ByName(r.Task)
	if err != nil {
		return nil, task.Problem{}, sampler.Config{}, err
	}
	var p task.Problem
	if r.Problem != "" {
		if p, err = ParseProblem(t, r.Problem); err != nil {
			return nil, task.Problem{}, sampler.Config{}, err
		}
	} else {
		p = TestProblem(t, r.ProblemSeed)
	}
	rm, err := ParseRemasking(r.Remasking)
	if err != nil {
		return nil, task.Problem{}, sampler.Config{}, fmt.Errorf("remasking: %w", err)
	}
	// Validate below checks the range; a NaN or an infinity is the one value it lets through.
	if math.IsNaN(r.Temperature) || math.IsInf(r.Temperature, 0) || r.Temperature > math.MaxFloat32 {
		return nil, task.Problem{}, sampler.Config{}, fmt.Errorf("temperature = %g, must be a finite number ≥ 0", r.Temperature)
	}
	cfg := sampler.Config{GenLength: t.AnswerLen(), BlockLength: r.Block, Steps: r.Steps,
		Temperature: float32(r.Temperature), Remasking: rm, Seed: r.Seed}.Resolved()
	if err := cfg.Validate(); err != nil {
		return nil, task.Problem{}, sampler.Config{}, err
	}
	return t, p, cfg, nil
}

// Describe resolves a request's problem for display, or says what is wrong with the request.
func Describe(r Request) (Problem, error) {
	t, p, _, err := r.Resolve()
	if err != nil {
		return Problem{}, err
	}
	return Problem{Task: t.Name(), Prompt: p.Prompt, Reference: p.Answer, AnswerLen: t.AnswerLen()}, nil
}

// Step is the completion as it stood after one sampler step.
type Step struct {
	// Step is the sampler step just taken: −1 for the start (all masked), 0 for the first.
	Step int `json:"step"`
	// Tokens are the completion's token ids (task.Mask where still masked).
	Tokens []int32 `json:"tokens"`
	// Revealed lists the completion positions that changed at this step.
	Revealed []int `json:"revealed,omitempty"`
	// Fill marks the last state of a completion that stopped early: a block came out all EOS,
	// so the sampler filled the rest with EOS without sampling it.
	Fill bool `json:"fill,omitempty"`
	// Confidence is, per completion position, the probability its token had under the
	// distribution it was drawn from when it was revealed (0 while masked), so a page can colour
	// tokens as they appear.
	Confidence []float64 `json:"confidence,omitempty"`
}

// Result is one finished generation.
type Result struct {
	Model   string  `json:"model"`
	Problem Problem `json:"problem"`
	// Settings are the sampler settings used, defaults filled in.
	Steps       int     `json:"steps"`
	Block       int     `json:"block"`
	Temperature float32 `json:"temperature"`
	Remasking   string  `json:"remasking"`
	Seed        uint32  `json:"seed"`
	// States are the completion before the first step and after every step (and after the EOS
	// fill, if any): what the page's step slider scrubs through.
	States []Step `json:"states"`
	// Tokens is the final completion; RevealStep, Confidence, Entropy and Filled describe
	// each of its tokens.
	Tokens     []int32 `json:"tokens"`
	RevealStep []int32 `json:"revealStep"`
	// Confidence is exp(LogP): the probability of the token under the distribution it was
	// drawn from, when it was revealed (1 for filled EOS, which were not drawn).
	Confidence []float64 `json:"confidence"`
	Entropy    []float32 `json:"entropy"`
	Filled     []bool    `json:"filled"`
	// StepsRun is the number of sampler steps taken (fewer than Steps when it stopped early).
	StepsRun int `json:"stepsRun"`
	// Answer is the completion up to its first EOS, as the reward reads it.
	Answer  string             `json:"answer"`
	Reward  float64            `json:"reward"`
	Parts   map[string]float64 `json:"parts"`
	Correct bool               `json:"correct"`
}

// Generate runs one request on m. onStep, if not nil, gets every state as it is recorded
// (the same values as Result.States), so a page can draw steps while the sampler runs.
func Generate(m *Model, r Request, onStep func(Step)) (*Result, error) {
	t, p, cfg, err := r.Resolve()
	if err != nil {
		return nil, err
	}
	c := m.m.Cfg
	if err := task.CheckModel(task.ModelLimits{VocabSize: c.VocabSize, MaskID: c.MaskID, EOSID: c.EOSID, MaxSeqLen: c.MaxSeqLen},
		task.CharEncoder, t); err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	ids, mask, err := task.EncodePrompt(t, p)
	if err != nil {
		return nil, err
	}
	res := &Result{Model: m.Name, Problem: Problem{Task: t.Name(), Prompt: p.Prompt, Reference: p.Answer, AnswerLen: t.AnswerLen()},
		Steps: cfg.Steps, Block: cfg.BlockLength, Temperature: cfg.Temperature, Remasking: cfg.Remasking.String(), Seed: cfg.Seed}
	record := func(s Step) {
		if n := len(res.States); n > 0 {
			for j, id := range s.Tokens {
				if id != res.States[n-1].Tokens[j] {
					s.Revealed = append(s.Revealed, j)
				}
			}
		}
		res.States = append(res.States, s)
		if onStep != nil {
			onStep(s)
		}
	}
	// One row, so the sampler's prompt length is len(ids) and the completion follows it.
	tr, err := sampler.Generate(m.m, []sampler.Prompt{{Tokens: ids, Mask: mask}}, cfg, func(step int, tok []int32, logp []float32) {
		conf := make([]float64, len(logp))
		for j, lp := range logp {
			if tok[len(ids)+j] != task.Mask {
				conf[j] = math.Exp(float64(lp))
			}
		}
		record(Step{Step: step, Tokens: append([]int32(nil), tok[len(ids):]...), Confidence: conf})
	})
	if err != nil {
		return nil, err
	}
	final := tr.Completion(0)
	// The sampler fills a stopped row with EOS and then stops without another step callback.
	if last := res.States[len(res.States)-1].Tokens; !slices.Equal(last, final) {
		record(Step{Step: tr.StepsRun, Tokens: append([]int32(nil), final...), Fill: true})
	}
	res.Tokens = append([]int32(nil), final...)
	res.RevealStep = tr.RevealStep
	res.Entropy = tr.Entropy
	res.StepsRun = tr.StepsRun
	res.Confidence = make([]float64, tr.C)
	res.Filled = make([]bool, tr.C)
	for j := range res.Confidence {
		res.Confidence[j] = math.Exp(float64(tr.LogP[j]))
		res.Filled[j] = int(tr.RevealStep[j]) >= tr.RowSteps[0]
	}
	res.Answer = task.Answer(final)
	rw := t.Reward(p, res.Answer)
	res.Reward, res.Parts, res.Correct = rw.Total, rw.Parts, rw.Correct
	return res, nil
}

// Task describes one task for the page.
type Task struct {
	Name      string `json:"name"`
	PromptLen int    `json:"promptLen"`
	AnswerLen int    `json:"answerLen"`
}

// Info is what the page needs to draw tokens and forms: the tasks it asked about and the
// tokenizer's glyphs.
type Info struct {
	Tasks []Task `json:"tasks"`
	// Glyphs[id] is token id's character (task.Decode's rendering for EOS and Mask).
	Glyphs []string `json:"glyphs"`
	EOS    int32    `json:"eos"`
	Mask   int32    `json:"mask"`
}

// About describes the named tasks (the page derives the names from the shipped models') and
// the tokenizer; an unknown name is an error.
func About(names []string) (Info, error) {
	in := Info{EOS: task.EOS, Mask: task.Mask}
	for _, n := range names {
		t, err := task.ByName(n)
		if err != nil {
			return Info{}, err
		}
		in.Tasks = append(in.Tasks, Task{Name: n, PromptLen: t.PromptLen(), AnswerLen: t.AnswerLen()})
	}
	for id := int32(0); id < task.VocabSize; id++ {
		in.Glyphs = append(in.Glyphs, task.Decode([]int32{id}))
	}
	return in, nil
}
