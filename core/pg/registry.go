package pg

import (
	"fmt"
	"slices"
	"strings"
)

// Shared are the settings every estimator takes from the trainer's own config (the [rl] section
// and its rollouts) rather than from its section.
type Shared struct {
	Beta        float64 // k3 KL weight to the reference model (rl.beta)
	Iterations  int     // μ, optimizer updates per batch of rollouts (rl.num_iterations)
	Temperature float32 // the rollouts' sampling temperature (rl.rollout.temperature)
	MaxRows     int     // rows per forward/backward chunk of an update (rl.max_rows)
}

// Settings are an estimator's config: a struct whose own keys carry toml tags (they are the
// [rl.<section>] of a run config) and whose Shared ones are tagged "-". A registered estimator
// is all a trainer needs to know of it: its settings' defaults, how to check them and how to
// build it.
type Settings interface {
	// With is the settings with the shared ones filled in.
	With(Shared) Settings
	// Validate reports every setting out of range, naming its key.
	Validate() error
	// New builds the estimator (after Validate).
	New() (Estimator, error)
	// UpdateRows is the most rows one forward/backward pass of an update runs for a batch of
	// rollouts rows (it sizes the memory a run needs).
	UpdateRows(rollouts int) int
}

// registration is one estimator in the registry.
type registration struct {
	name     string
	defaults Settings
}

var registry []registration

// Register adds an estimator by its name (a config's train.method) with its default settings.
// Its section in a run config is [rl.<Section(name)>]. Estimators register in their files'
// init; a name registered twice panics.
func Register(name string, defaults Settings) {
	if _, ok := Defaults(name); ok || name == "" {
		panic(fmt.Sprintf("pg: estimator %q registered twice or unnamed", name))
	}
	registry = append(registry, registration{name, defaults})
	slices.SortFunc(registry, func(a, b registration) int { return strings.Compare(a.name, b.name) })
}

// Names are the registered estimators' names, sorted.
func Names() []string {
	names := make([]string, len(registry))
	for i, r := range registry {
		names[i] = r.name
	}
	return names
}

// Defaults are the default settings of the estimator of that name.
func Defaults(name string) (Settings, bool) {
	for _, r := range registry {
		if r.name == name {
			return r.defaults, true
		}
	}
	return nil, false
}

// Section is the key of an estimator's settings under [rl]: its name with '-' written '_'
// (TOML's bare keys allow both, and the sections have always used '_').
func Section(name string) string { return strings.ReplaceAll(name, "-", "_") }
