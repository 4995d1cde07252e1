package core

// Counter-based random numbers for the sampler. Every random draw is a pure function of
// (seed, stream, step, position, lane), so any backend — Go on the CPU, a shader on the GPU —
// produces the same numbers for the same seed without sharing generator state, and a sampling
// run can be replayed from its seed alone. The mixing is 32-bit integer arithmetic only
// (murmur3's finalizer over the words), which every GPU shading language has.

// Random streams, so that draws for different purposes never coincide.
const (
	StreamGumbel uint32 = 1 // per (position, vocabulary entry): the Gumbel-max noise
	StreamRemask uint32 = 2 // per position: the score of `random` remasking
)

func mix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// Hash32 mixes five words into one uniformly distributed word.
func Hash32(seed, stream, step, pos, lane uint32) uint32 {
	h := mix32(seed ^ 0x9e3779b9)
	h = mix32(h ^ stream*0x27d4eb2f)
	h = mix32(h ^ step*0x165667b1)
	h = mix32(h ^ pos*0xd3a2646c)
	return mix32(h ^ lane*0xfd7046c5)
}

// Uniform maps Hash32 to the open interval (0, 1): (h + 0.5)/2³², never 0 or 1, so −log u and
// −log(−log u) are finite.
func Uniform(seed, stream, step, pos, lane uint32) float64 {
	return (float64(Hash32(seed, stream, step, pos, lane)) + 0.5) / (1 << 32)
}
