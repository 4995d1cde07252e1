package vulkan

// shaderLayout is what a shader's source declares for the Go side: storage buffers at
// bindings 0..bindings−1 of set 0, a push-constant block of push bytes (32-bit members), and
// specialization constants with ids 0..specs−1 (constant_id or local_size_*_id). It is the one
// place these numbers are written; TestShaderLayouts checks each against its .comp file.
type shaderLayout struct {
	bindings, push, specs int
}

// shaderLayouts holds every shader of package shaders by base name.
var shaderLayouts = map[string]shaderLayout{
	"adamw":              {bindings: 4, push: 28, specs: 0},
	"attention":          {bindings: 6, push: 20, specs: 3},
	"attention_backward": {bindings: 10, push: 20, specs: 4},
	"clipnorm":           {bindings: 3, push: 12, specs: 1},
	"crossentropy":       {bindings: 5, push: 12, specs: 1},
	"elementwise":        {bindings: 3, push: 8, specs: 1},
	"embedding":          {bindings: 3, push: 8, specs: 2},
	"logsoftmax":         {bindings: 3, push: 8, specs: 1},
	"matmul":             {bindings: 3, push: 48, specs: 8},
	"matmul_reduce":      {bindings: 2, push: 20, specs: 0},
	"rmsnorm":            {bindings: 6, push: 16, specs: 2},
	"rope":               {bindings: 2, push: 24, specs: 0},
	"selection":          {bindings: 6, push: 24, specs: 1},
	"swiglu":             {bindings: 5, push: 4, specs: 1},
	"tokenlogprobs":      {bindings: 6, push: 20, specs: 1},
	"unmask":             {bindings: 8, push: 76, specs: 3},
}
