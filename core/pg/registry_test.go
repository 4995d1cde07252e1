package pg

import (
	"slices"
	"strings"
	"testing"
)

// TestRegistry: both estimators are registered under the names configs use, their defaults
// are the documented ones and valid, the shared settings reach the estimator, a bad setting is
// an error naming its key, and a name cannot be registered twice.
func TestRegistry(t *testing.T) {
	if got := Names(); !slices.Equal(got, []string{"agrpo", "diffu-grpo"}) {
		t.Fatalf("registered %v", got)
	}
	if s := Section("diffu-grpo"); s != "diffu_grpo" {
		t.Errorf("diffu-grpo's section is %q", s)
	}
	shared := Shared{Beta: 0.01, Iterations: 3, Temperature: 0.6, MaxRows: 50}
	for _, name := range Names() {
		d, _ := Defaults(name)
		s := d.With(shared)
		if err := s.Validate(); err != nil {
			t.Errorf("%s: defaults invalid: %v", name, err)
		}
		est, err := s.New()
		if err != nil || est.Name() != name || est.Iterations() != 3 {
			t.Errorf("%s: built %v (%v)", name, est, err)
		}
	}
	a, _ := Defaults("agrpo")
	if want := (AGRPOConfig{MCSamples: 4, Importance: Uniform, LowDiscrepancy: true, EpsLow: 0.2, EpsHigh: 0.2, Scaling: MeanScaling,
		Likelihood: ExactLikelihood}); a != want {
		t.Errorf("agrpo defaults %+v", a)
	}
	if c := a.With(shared).(AGRPOConfig); c.Beta != 0.01 || c.Temperature != 0.6 || c.MaxRows != 50 || c.UpdateRows(40) != 50 || c.UpdateRows(10) != 40 {
		t.Errorf("agrpo with shared settings %+v, %d and %d rows", c, c.UpdateRows(40), c.UpdateRows(10))
	}
	if d, _ := Defaults("diffu-grpo"); d != (DiffuGRPOConfig{PMaskPrompt: 0.15, Eps: 0.5}) || d.UpdateRows(40) != 40 {
		t.Errorf("diffu-grpo defaults %+v", d)
	}
	bad := AGRPOConfig{MCSamples: 0, EpsLow: -1, Iterations: 1, Temperature: 1, Scaling: 9}
	err := bad.Validate()
	for _, want := range []string{"mc_samples = 0", "epsilon_low", "scaling 9 is not one of mean or sum"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad agrpo settings: error %v lacks %q", err, want)
		}
	}
	if _, err := NewDiffuGRPO(DiffuGRPOConfig{PMaskPrompt: 2, Iterations: 1}); err == nil || !strings.Contains(err.Error(), "diffu-grpo: p_mask_prompt = 2") {
		t.Errorf("p_mask_prompt = 2: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("agrpo registered twice")
		}
	}()
	Register("agrpo", AGRPOConfig{})
}
