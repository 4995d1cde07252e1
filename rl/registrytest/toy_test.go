// Package registrytest checks that an estimator registered outside rl (here, in this test) is
// configured, built, run and logged by the trainer, which names no estimator.
package registrytest

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dllmrl/agrpo/core/cpu"
	"github.com/dllmrl/agrpo/core/model"
	"github.com/dllmrl/agrpo/core/pg"
	"github.com/dllmrl/agrpo/rl"
)

// toySettings are the toy estimator's section [rl.toy_grpo]: AGRPO with m steps per
// trajectory, reporting one extra metric.
type toySettings struct {
	MCSamples int     `toml:"mc_samples"`
	Mark      float64 `toml:"mark"` // logged as toy/mark at every update
	shared    pg.Shared
}

func (s toySettings) With(sh pg.Shared) pg.Settings { s.shared = sh; return s }
func (s toySettings) UpdateRows(rollouts int) int   { return rollouts * s.MCSamples }
func (s toySettings) agrpo() pg.AGRPOConfig {
	return pg.AGRPOConfig{MCSamples: s.MCSamples, EpsLow: 0.2, EpsHigh: 0.2, Beta: s.shared.Beta, Iterations: s.shared.Iterations,
		Temperature: s.shared.Temperature, MaxRows: s.shared.MaxRows}
}
func (s toySettings) Validate() error { return s.agrpo().Validate() }
func (s toySettings) New() (pg.Estimator, error) {
	a, err := pg.NewAGRPO(s.agrpo())
	return &toy{a, s.Mark}, err
}

// toy is AGRPO under another name with an extra metric.
type toy struct {
	*pg.AGRPO
	mark float64
}

func (t *toy) Name() string { return "toy-grpo" }
func (t *toy) Accumulate(m, ref *model.Model, r *pg.Rollouts, it int, rng *rand.Rand) (pg.Stats, error) {
	st, err := t.AGRPO.Accumulate(m, ref, r, it, rng)
	st.Means = append(st.Means, pg.Metric{Name: "toy/mark", Value: t.mark})
	return st, err
}

func init() { pg.Register("toy-grpo", toySettings{MCSamples: 2, Mark: 1}) }

const config = `[run]
name = "toy"
seed = 3
device = "cpu"
[task]
name = "arithmetic"
[model]
d_model = 32
n_layers = 2
n_heads = 2
mlp_hidden_size = 64
[train]
method = "toy-grpo"
steps = 2
lr = 1e-4
warmup_steps = 0
log_every = 1
checkpoint_every = 0
[rl]
prompts_per_step = 2
group_size = 4
[rl.toy_grpo]
mc_samples = 3
mark = 0.25
[eval]
n = 4
batch_size = 4
`

// TestRegisteredEstimatorRuns: the toy estimator's method and section are read from a config
// file (an unknown key in its section and a bad value are errors naming them), it trains, its
// metric is logged beside AGRPO's, and the run folder's config.toml reads back with its section.
func TestRegisteredEstimatorRuns(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for body, want := range map[string]string{
		strings.Replace(config, "mark = 0.25", "mark = 0.25\nwhat = 1", 1): `unknown key "rl.toy_grpo.what"`,
		strings.Replace(config, "mc_samples = 3", "mc_samples = 0", 1):     "rl.toy_grpo: mc_samples = 0, must be positive",
		strings.Replace(config, `"toy-grpo"`, `"toy"`, 1):                  `(want sft, agrpo, diffu-grpo or toy-grpo)`,
	} {
		if _, err := rl.LoadConfig(write("bad.toml", body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one with %q", err, want)
		}
	}
	cfg, err := rl.LoadConfig(write("toy.toml", config))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Run.OutDir = dir
	tr, err := rl.NewRun(cfg, nil, cpu.New(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "toy", rl.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		if _, ok := rec["loss"]; !ok {
			continue
		}
		steps++
		if rec["toy/mark"] != 0.25 || rec["kl"] == nil || rec["clip_ratio/region_mean"] == nil {
			t.Errorf("logged %v: want toy/mark 0.25 beside AGRPO's metrics", rec)
		}
	}
	if steps != 2 {
		t.Errorf("%d steps logged, want 2:\n%s", steps, raw)
	}
	back, err := rl.LoadConfig(filepath.Join(dir, "toy", rl.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := back.RL.Estimators["toy-grpo"].(toySettings); !ok || s.MCSamples != 3 || s.Mark != 0.25 {
		t.Errorf("config.toml read back the toy settings as %+v", back.RL.Estimators["toy-grpo"])
	}
}
