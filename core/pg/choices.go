package pg

import "github.com/dllmrl/agrpo/core"

// Importance is how AGRPO draws the steps of a trajectory it scores (importance_sampling).
type Importance uint8

// The step distributions.
const (
	// Uniform draws steps uniformly.
	Uniform Importance = iota
	// EntropyWeighted draws steps in proportion to the entropy of the tokens they revealed,
	// reweighted so that the estimate keeps its mean.
	EntropyWeighted
)

var importanceNames = []string{"uniform", "entropy"}

// String gives the name used in configs.
func (i Importance) String() string {
	return core.ChoiceString("importance_sampling", importanceNames, i)
}

// MarshalText writes the name.
func (i Importance) MarshalText() ([]byte, error) {
	n, err := core.ChoiceName("importance_sampling", importanceNames, i)
	return []byte(n), err
}

// UnmarshalText reads a name.
func (i *Importance) UnmarshalText(text []byte) (err error) {
	*i, err = core.ParseChoice[Importance]("importance_sampling", importanceNames, string(text))
	return err
}

// Scaling is how AGRPO weighs a trajectory's sum over its steps (scaling).
type Scaling uint8

// The scalings.
const (
	// MeanScaling weights a trajectory's step-sum by 1/K_b, as the official code does (like
	// GRPO's 1/|o|).
	MeanScaling Scaling = iota
	// SumScaling drops that factor, making the estimate unbiased for ∇J itself.
	SumScaling
)

var scalingNames = []string{"mean", "sum"}

// String gives the name used in configs.
func (s Scaling) String() string { return core.ChoiceString("scaling", scalingNames, s) }

// MarshalText writes the name.
func (s Scaling) MarshalText() ([]byte, error) {
	n, err := core.ChoiceName("scaling", scalingNames, s)
	return []byte(n), err
}

// UnmarshalText reads a name.
func (s *Scaling) UnmarshalText(text []byte) (err error) {
	*s, err = core.ParseChoice[Scaling]("scaling", scalingNames, string(text))
	return err
}

// Likelihood is the step likelihood AGRPO scores (likelihood; docs/exact-likelihood.md).
type Likelihood uint8

// The likelihoods.
const (
	// ExactLikelihood is exact for the rollouts' remasking: under low_confidence the revealed
	// tokens' probability times the selection factor Π F of the block's positions left masked,
	// with the PPO ratio (and the KL term, and the token counts) taken per step; under random
	// and entropy remasking the token product, which is then already exact.
	ExactLikelihood Likelihood = iota
	// TokensLikelihood scores the revealed tokens alone, per token, as the official code does:
	// biased under low_confidence.
	TokensLikelihood
)

var likelihoodNames = []string{"exact", "tokens"}

// String gives the name used in configs.
func (l Likelihood) String() string { return core.ChoiceString("likelihood", likelihoodNames, l) }

// MarshalText writes the name.
func (l Likelihood) MarshalText() ([]byte, error) {
	n, err := core.ChoiceName("likelihood", likelihoodNames, l)
	return []byte(n), err
}

// UnmarshalText reads a name.
func (l *Likelihood) UnmarshalText(text []byte) (err error) {
	*l, err = core.ParseChoice[Likelihood]("likelihood", likelihoodNames, string(text))
	return err
}
