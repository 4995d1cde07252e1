package rl

import (
	"fmt"

	"github.com/dllmrl/agrpo/core"
	"github.com/dllmrl/agrpo/core/pg"
)

// Method is a run's training method: masked-diffusion SFT or a registered RL estimator.
type Method struct{ name string }

// SFT is masked-diffusion supervised fine-tuning (core/sft); every other method is RL.
var SFT = Method{"sft"}

// ParseMethod reads a method's name: sft or a registered estimator's (pg.Register).
func ParseMethod(name string) (Method, error) {
	if _, ok := pg.Defaults(name); ok || name == SFT.name {
		return Method{name}, nil
	}
	return Method{}, fmt.Errorf("unknown method %q (want %s)", name, core.Alternatives(methodNames()))
}

// methodNames are the methods a config may name.
func methodNames() []string { return append([]string{SFT.name}, pg.Names()...) }

// String is the method's name in configs.
func (m Method) String() string { return m.name }

// MarshalText writes the name; the zero Method, which no config names, is an error.
func (m Method) MarshalText() ([]byte, error) {
	if m.name == "" {
		return nil, fmt.Errorf("no method (want %s)", core.Alternatives(methodNames()))
	}
	return []byte(m.name), nil
}

// UnmarshalText reads a name.
func (m *Method) UnmarshalText(text []byte) (err error) {
	*m, err = ParseMethod(string(text))
	return err
}

// Schedule is the learning rate after warmup.
type Schedule uint8

// The schedules.
const (
	// Constant keeps the peak learning rate.
	Constant Schedule = iota
	// Cosine decays it to min_lr_ratio·lr at the last step.
	Cosine
)

var scheduleNames = []string{"constant", "cosine"}

// String is the schedule's name in configs.
func (s Schedule) String() string { return core.ChoiceString("schedule", scheduleNames, s) }

// MarshalText writes the name.
func (s Schedule) MarshalText() ([]byte, error) {
	n, err := core.ChoiceName("schedule", scheduleNames, s)
	return []byte(n), err
}

// UnmarshalText reads a name.
func (s *Schedule) UnmarshalText(text []byte) (err error) {
	*s, err = core.ParseChoice[Schedule]("schedule", scheduleNames, string(text))
	return err
}
