package core

// Backend runs tensor ops. The interface is shaped for a GPU: tensors stay where the backend keeps
// them, host transfers are explicit, and ops may be recorded and run later — a GPU backend is free
// to queue every call until Sync or a Download, so callers never read a tensor except through
// Download. The CPU backend runs each op at once.
//
// Shapes are checked by the backend and a mismatch panics: it is a programming error, not bad
// input. Conventions shared by all backward ops: gradients of parameters are accumulated (+=), so
// several backward passes can add into one gradient buffer; gradients of activations are written
// (=) unless the op's comment says otherwise. An output may alias an input only where the op says so.
type Backend interface {
	// Name identifies the backend and device, e.g. "cpu (2 threads)".
	Name() string

	// Alloc returns a zero-filled tensor.
	Alloc(dtype DType, shape ...int) *Tensor
	// Free releases a tensor's memory; the handle (and its views) must not be used afterwards.
	Free(t *Tensor)
	// Upload copies host data into an F32 tensor; len(src) must equal t.Len().
	Upload(t *Tensor, src []float32)
	// UploadInt copies host data into an I32 tensor.
	UploadInt(t *Tensor, src []int32)
	// Upload16 copies 16-bit floats, as bit patterns of t's dtype, into a BF16 or F16 tensor.
	Upload16(t *Tensor, src []uint16)
	// Download copies an F32 tensor (or a BF16 or F16 one, widened) to the host after all
	// queued work has run.
	Download(t *Tensor, dst []float32)
	// DownloadInt copies an I32 tensor to the host after all queued work has run.
	DownloadInt(t *Tensor, dst []int32)
	// Sync runs all queued work and waits for it; errors are device failures.
	Sync() error

	// Fill sets every element of an F32 tensor to v.
	Fill(t *Tensor, v float32)
	// Copy copies src into dst (same element count, same type).
	Copy(dst, src *Tensor)
	// Add writes out = a + b elementwise (out may alias a or b). It is the residual connection;
	// its backward is the identity on both inputs, so callers pass the same gradient on.
	Add(out, a, b *Tensor)
	// Scale multiplies t by s in place.
	Scale(t *Tensor, s float32)

	// MatMul computes c = alpha·op(a)·op(b) + beta·c, op(x) = x or xᵀ over the last two dims.
	// A 2-D b may be BF16 or F16 (weights kept 16-bit); a and c are F32.
	// With 2-D b the leading dims of a are flattened into rows (a linear layer: a [..., K],
	// b [N, K] with transB). With 3-D operands the first dim is a batch: a [Bt, M, K] (or
	// [Bt, K, M]), b [Bt, K, N] (or [Bt, N, K]), c [Bt, M, N]. The backward of a matmul is two
	// matmuls with other transpose flags (see the model), so there is no separate backward op.
	MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32)

	// Embedding gathers rows: out[i, :] = table[ids[i], :]; out [N, D] (or [..., D]), table [V, D]
	// (F32, BF16 or F16).
	Embedding(out, table, ids *Tensor)
	// EmbeddingBackward scatter-adds dOut rows into dTable: dTable[ids[i], :] += dOut[i, :].
	EmbeddingBackward(dTable, dOut, ids *Tensor)

	// RMSNorm writes out = x·rsqrt(mean(x²)+eps)·w over the last dim and saves rstd [rows] for
	// the backward. x, out [..., D]; w [D].
	RMSNorm(out, rstd, x, w *Tensor, eps float32)
	// RMSNormBackward adds the input gradient into dx (dx += ..., because x is the residual
	// stream, which already carries a gradient) and accumulates dw.
	RMSNormBackward(dx, dw, dOut, x, w, rstd *Tensor)

	// RoPE rotates query or key vectors in place: x [B, L, H·Dh] with the given number of
	// heads, rotate-half layout (pairs i and i+Dh/2), position = index in the row, frequencies
	// theta^(−2i/Dh).
	RoPE(x *Tensor, heads int, theta float32)
	// RoPEBackward applies the inverse rotation to a gradient in place (rotations are orthogonal).
	RoPEBackward(dx *Tensor, heads int, theta float32)

	// Attention is bidirectional multi-head attention with a key-padding mask: q, out are
	// [B, L, H·Dh]; k, v are [B, L, Hkv·Dh] with Hkv dividing H (grouped-query attention: query
	// head h reads key/value head h/(H/Hkv); Hkv = H is plain multi-head attention); keyMask
	// [B, L] is I32, 1 for a real token and 0 for padding, which no query attends to; scale
	// 1/√Dh. lse [B, H, L] receives each query's log-sum-exp of scores, which the backward uses
	// to recompute the probabilities instead of storing them.
	Attention(out, lse, q, k, v, keyMask *Tensor, heads int)
	// AttentionBackward writes dq, dk, dv given dOut and the forward's inputs, output and lse;
	// dk and dv sum over the query heads that share a key/value head.
	AttentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, keyMask *Tensor, heads int)

	// SwiGLU writes out = silu(gate)·up elementwise.
	SwiGLU(out, gate, up *Tensor)
	// SwiGLUBackward writes dGate and dUp.
	SwiGLUBackward(dGate, dUp, dOut, gate, up *Tensor)

	// LogSoftmax writes out = log_softmax(x) over the last dim.
	LogSoftmax(out, x *Tensor)
	// LogSoftmaxBackward writes dx = dOut − softmax(x)·Σ dOut, from the forward's output.
	LogSoftmaxBackward(dx, dOut, out *Tensor)

	// CrossEntropy writes loss[0] = Σ_i weights[i]·(logsumexp(logits[i]) − logits[i, targets[i]])
	// for logits [N, V], targets [N] (I32), weights [N]; loss is [1]. When dLogits is not nil it
	// also writes the gradient of that loss, weights[i]·(softmax(logits[i]) − onehot(targets[i])),
	// fused because the softmax is already at hand.
	CrossEntropy(loss, dLogits, logits, targets, weights *Tensor)

	// TokenLogProbs evaluates, per row i of logits [N, V], the distribution actually sampled
	// from, p = softmax(logits[i]·invTemp) restricted to row i's support — support is an
	// optional (nil: every token) I32 tensor in EncodeSupport's sparse form, at least N+1
	// entries, of which rows 0..N−1 are read; a token outside it is −Inf before the softmax —
	// and writes logp[i] = log p(tokens[i]) and, if entropy is not nil, entropy[i] = −Σ p log p.
	TokenLogProbs(logp, entropy, logits, tokens, support *Tensor, invTemp float32)
	// TokenLogProbsBackward writes dLogits [N, V] from dLogp [N] and an optional dEntropy [N].
	TokenLogProbsBackward(dLogits, dLogp, dEntropy, logits, tokens, support *Tensor, invTemp float32)

	// AdamW updates params in place (PyTorch's AdamW: decoupled weight decay p −= lr·wd·p, then
	// the bias-corrected Adam step). m and v are the moment buffers; step counts from 1.
	AdamW(param, grad, m, v *Tensor, step int, h AdamHyper)
	// UnmaskStep is one step of the unmasking sampler on every active row, fused so that a GPU
	// runs a whole sampling loop without reading logits back: for each masked completion
	// position of the current block it draws a token from logits [B, S, V] (see UnmaskParams),
	// scores the position by the remasking rule, then reveals the p.Reveal best-scored positions
	// of the row (ties to the lower position) and records step, log-probability and entropy for
	// them in s, and the support of every position it drew.
	UnmaskStep(s UnmaskState, logits *Tensor, p UnmaskParams)

	// SelectionLogProbs is the selection factor of a low-confidence unmasking step, per position
	// left masked: for every row i of logits [N, V] with rule[i] ≠ 0 (I32 [N]) it writes
	// logF[i] = log Σ_{v∈B_i} p_i(v), p_i = softmax(logits[i]·InvTemp) on row i's support
	// (support optional, as in TokenLogProbs), the probability that the token drawn there ranks below the
	// lowest kept confidence kappa[i] (F32 [N]). With c_i(v) the confidence of SelectionParams,
	// B_i = {v : c_i(v) < κ_i − Tol}, plus the ties {v : |c_i(v) − κ_i| ≤ Tol} when rule[i] = 2
	// (the position comes after the last kept one, so a tie loses) or when no token is below
	// the band (the rollout did draw a losing token there, so the band is where it was). Rows
	// with rule 0 get 0; an empty B_i gives −Inf, which callers must treat as an error.
	SelectionLogProbs(logF, logits, support, kappa, rule *Tensor, p SelectionParams)
	// SelectionLogProbsBackward adds (+=) into dLogits [N, V] the gradient of Σ_i dLogF[i]·logF[i]:
	// InvTemp·dLogF[i]·p_i(u)·(1[u ∈ B_i]/F_i − 1). B_i is locally constant in the logits, so
	// this is the exact gradient wherever F is differentiable. Rows with rule 0 or F_i = 0 are
	// left alone. It adds because the rows it touches sit in one dLogits with the token term's.
	SelectionLogProbsBackward(dLogits, dLogF, logits, support, kappa, rule *Tensor, p SelectionParams)

	// ClipGradNorm writes the global L2 norm of all grads into norm[0] and, when it exceeds
	// maxNorm, scales every grad by maxNorm/(norm+1e-6), as torch.nn.utils.clip_grad_norm_.
	// A maxNorm ≤ 0 only measures. The norm stays on the device until downloaded.
	ClipGradNorm(norm *Tensor, grads []*Tensor, maxNorm float32)
}

// AdamHyper holds AdamW's hyper-parameters for one step.
type AdamHyper struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
}

// Remasking is the rule that orders a block's masked positions for revealing.
type Remasking uint8

// The remasking rules of LLaDA's and AGRPO's samplers.
const (
	// LowConfidence reveals the positions whose sampled token has the highest log-probability.
	LowConfidence Remasking = iota
	// RandomOrder reveals uniformly random positions; the choice does not depend on the model,
	// which makes AGRPO's per-step likelihood exact.
	RandomOrder
	// LowEntropy reveals the positions whose distribution has the lowest entropy.
	LowEntropy
)

// remaskingNames are the names of the rules in configs and flags, in the constants' order.
var remaskingNames = []string{"low_confidence", "random", "entropy"}

// String gives the name used in configs and flags.
func (r Remasking) String() string { return ChoiceString("remasking", remaskingNames, r) }

// ParseRemasking reads a remasking rule's name, as String writes it.
func ParseRemasking(name string) (Remasking, error) {
	return ParseChoice[Remasking]("remasking", remaskingNames, name)
}

// MarshalText writes the rule's name (configs are TOML).
func (r Remasking) MarshalText() ([]byte, error) {
	n, err := ChoiceName("remasking", remaskingNames, r)
	return []byte(n), err
}

// UnmarshalText reads a rule's name.
func (r *Remasking) UnmarshalText(text []byte) (err error) {
	*r, err = ParseRemasking(string(text))
	return err
}

// Confidence is how low-confidence remasking scores a drawn token.
type Confidence uint8

// The confidence definitions of the samplers this project follows.
const (
	// Tempered is the token's log-probability under the distribution drawn from (temperature,
	// top-k/top-p support), as the official AGRPO sampler scores it.
	Tempered Confidence = iota
	// Untempered is log softmax(logits) of the token over the whole vocabulary (the mask
	// entry included), as LLaDA's generate() and d1 score it.
	Untempered
)

// confidenceNames are the definitions' names in configs, in the constants' order.
var confidenceNames = []string{"tempered", "untempered"}

// String gives the name used in configs.
func (c Confidence) String() string { return ChoiceString("confidence", confidenceNames, c) }

// ParseConfidence reads a confidence definition's name, as String writes it.
func ParseConfidence(name string) (Confidence, error) {
	return ParseChoice[Confidence]("confidence", confidenceNames, name)
}

// MarshalText writes the definition's name.
func (c Confidence) MarshalText() ([]byte, error) {
	n, err := ChoiceName("confidence", confidenceNames, c)
	return []byte(n), err
}

// UnmarshalText reads a definition's name.
func (c *Confidence) UnmarshalText(text []byte) (err error) {
	*c, err = ParseConfidence(string(text))
	return err
}

// SelectionParams configure SelectionLogProbs: the sampling distribution's 1/T, the
// confidence the sampler ranked positions by, and the tolerance within which a confidence
// counts as tied with κ (two forward passes of the same model differ by float rounding, so an
// exact comparison would flip near-ties).
type SelectionParams struct {
	InvTemp    float32
	Confidence Confidence
	Tol        float32
}

// UnmaskState is the sampler's state on the device for B rows of S = P + C tokens (a prompt of
// P tokens, left-padded, then C completion tokens).
type UnmaskState struct {
	Tokens     *Tensor // [B, S] I32: the sequence, MaskID where not yet revealed
	RevealStep *Tensor // [B, C] I32: the step that revealed each completion token, −1 before
	LogP       *Tensor // [B, C] F32: the revealed token's log-probability under the distribution drawn from
	Entropy    *Tensor // [B, C] F32: that distribution's entropy
	Support    *Tensor // [B, BlockLen, V] F32 or nil: the step's top-k/top-p supports drawn from (0 in, −Inf out), position BlockStart+i of row r at r·BlockLen+i
	Active     *Tensor // [B] I32: 1 for rows still being sampled; other rows are left alone
}

// UnmaskParams configure one UnmaskStep.
//
// The distribution at a position is p = softmax(logits/T) over the top-k/top-p support, with
// the MaskID entry always excluded (the model must not "reveal" a mask). A token is drawn by
// Gumbel-max: argmax of z + g with g = −log(−log u), u = core.Uniform(Seed, StreamGumbel,
// Step, (RowOffset + row)·C + position, vocabulary id), which is an exact sample of p. At T = 0 the token
// is the argmax (ties to the lower id) and the recorded log-probability and entropy are those
// of softmax(logits) — the greedy "confidence" LLaDA uses.
//
// Scores: LowConfidence uses the token's confidence (Confidence: by default the recorded
// log-probability), LowEntropy the negated entropy, RandomOrder core.Uniform(Seed,
// StreamRemask, Step, (RowOffset + row)·C + position, 0). Every drawn position's support is written to
// Support, kept or not, so that the likelihood of the positions left masked can be rebuilt; it
// holds the block's positions only (a step draws nowhere else), so it is B × BlockLen × V, not
// B × C × V.
//
// A position whose tempered logits are not all finite (NaN or ±Inf at any id, an overflow of
// logits/T included) has no distribution: it draws MaskID with NaN log-probability and entropy
// and a support of every id but MaskID, and scores +Inf, so that it is revealed before the
// row's finite positions and the step of the fault is on the record (the sampler reports it).
type UnmaskParams struct {
	PromptLen            int // P: completion position j is sequence position P + j
	BlockStart, BlockEnd int // the current block, as completion positions [start, end)
	Reveal               int // positions to reveal per active row at this step
	Step                 int // global step index: recorded, and a counter of the random draws
	Temperature          float32
	TopK                 int     // keep the k most likely tokens; 0 keeps all
	TopP                 float32 // keep the smallest most-likely set with mass ≥ TopP; 0 or 1 keeps all
	Remasking            Remasking
	Confidence           Confidence // LowConfidence's score
	Seed                 uint32
	MaskID               int32
	// RowOffset keys row r's random draws as row RowOffset + r, so that a batch split into parts
	// (over the ranks of a data-parallel job) draws what the whole batch would.
	RowOffset int
}
