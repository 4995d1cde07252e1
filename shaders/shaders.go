// Package shaders holds the GLSL compute shaders of the Vulkan backend, one file per op family,
// and their SPIR-V, compiled at development time with glslc and committed so that users need no
// shader compiler. `just shaders` recompiles them; TestSPIRVUpToDate fails when a committed .spv
// no longer matches its source.
package shaders

import (
	"embed"
	"fmt"
)

//go:embed *.spv
var spirv embed.FS

// GlslcArgs are the compiler flags every shader is built with (before "-o OUT IN"): optimised,
// for Vulkan 1.1 (subgroup operations, and the version lavapipe and every current driver have).
var GlslcArgs = []string{"-O", "--target-env=vulkan1.1"}

// SPIRV returns the compiled code of a shader by its base name ("matmul" for matmul.comp).
func SPIRV(name string) ([]byte, error) {
	b, err := spirv.ReadFile(name + ".spv")
	if err != nil {
		return nil, fmt.Errorf("shaders: no compiled shader %q: %w", name, err)
	}
	return b, nil
}
