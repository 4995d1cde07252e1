//go:build linux && cgo

package vk

/*
#include <stdint.h>
#include <stdlib.h>

// The registry layouts of the structures vkCreateComputePipelines reads (64-bit: every handle
// is pointer-sized), declared by hand like those in features.go.
typedef struct { uint32_t constantID, offset; size_t size; } agrpo_spec_entry;
typedef struct { uint32_t count; const agrpo_spec_entry* entries; size_t dataSize; const void* data; } agrpo_spec_info;
typedef struct {
	int32_t sType; const void* pNext; uint32_t flags; int32_t stage;
	void* module; const char* name; const agrpo_spec_info* spec;
} agrpo_stage_info;
typedef struct {
	int32_t sType; const void* pNext; uint32_t flags; agrpo_stage_info stage;
	void* layout; void* base; int32_t baseIndex;
} agrpo_compute_info;
typedef int32_t (*agrpo_create_compute_fn)(void* dev, void* cache, uint32_t n, const agrpo_compute_info* info, const void* alloc, void** out);

// agrpo_create_compute_pipeline creates one compute pipeline with entry point "main" and 32-bit
// specialization constants 0..nspec−1 from spec.
static int32_t agrpo_create_compute_pipeline(void* fn, void* dev, void* module, void* layout, const uint32_t* spec, uint32_t nspec, void** out) {
	agrpo_spec_entry entries[32];
	if (nspec > 32) return -13; // VK_ERROR_UNKNOWN: the Go side never asks for more
	for (uint32_t i = 0; i < nspec; i++) {
		entries[i].constantID = i;
		entries[i].offset = 4 * i;
		entries[i].size = 4;
	}
	agrpo_spec_info si = { nspec, entries, 4 * (size_t)nspec, spec };
	agrpo_compute_info ci = {
		29, 0, 0,                                         // VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
		{ 18, 0, 0, 0x20, module, "main", nspec ? &si : 0 }, // ..._PIPELINE_SHADER_STAGE_CREATE_INFO, COMPUTE_BIT
		layout, 0, -1,
	};
	return ((agrpo_create_compute_fn)fn)(dev, 0, 1, &ci, 0, out);
}
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Pipeline is a compute pipeline with its layout: Bindings storage buffers at bindings
// 0..Bindings−1 of set 0 and PushSize bytes of push constants.
type Pipeline struct {
	Name      string
	Bindings  int
	PushSize  int
	setLayout vk.DescriptorSetLayout
	layout    vk.PipelineLayout
	module    vk.ShaderModule
	pipe      vk.Pipeline
}

type pipelineKey struct {
	name string
	spec string
}

// Pipeline returns the compute pipeline for SPIR-V code under the given specialization
// constants (constant_id i = spec[i]), creating it on first use and caching it by name and
// constants: the name must identify the code.
func (c *Context) Pipeline(name string, spirv []byte, bindings, pushSize int, spec ...uint32) (*Pipeline, error) {
	if c.dev == nil {
		return nil, errClosed
	}
	key := pipelineKey{name, fmt.Sprint(spec)}
	if p, ok := c.pipelines[key]; ok {
		return p, nil
	}
	if len(spirv)%4 != 0 || len(spirv) < 20 || binary.LittleEndian.Uint32(spirv) != 0x07230203 {
		return nil, fmt.Errorf("vk: pipeline %s: not SPIR-V (%d bytes)", name, len(spirv))
	}
	if pushSize > 128 || pushSize%4 != 0 {
		return nil, fmt.Errorf("vk: pipeline %s: push constants of %d bytes (want a multiple of 4, ≤ 128)", name, pushSize)
	}
	p := &Pipeline{Name: name, Bindings: bindings, PushSize: pushSize}
	if err := p.create(c.dev, spirv, spec); err != nil {
		p.destroy(c.dev)
		return nil, fmt.Errorf("vk: pipeline %s: %w", name, err)
	}
	c.pipelines[key] = p
	return p, nil
}

func (p *Pipeline) create(dev vk.Device, spirv []byte, spec []uint32) error {
	// Embedded bytes carry no alignment guarantee; the code must be 4-byte words.
	code := make([]uint32, len(spirv)/4)
	for i := range code {
		code[i] = binary.LittleEndian.Uint32(spirv[4*i:])
	}
	smci := &vk.ShaderModuleCreateInfo{SType: vk.StructureTypeShaderModuleCreateInfo, CodeSize: uint(len(spirv)), PCode: code}
	var module vk.ShaderModule
	res := vk.CreateShaderModule(dev, smci, nil, &module)
	smci.Free()
	if err := check(res, "vkCreateShaderModule"); err != nil {
		return err
	}
	p.module = module

	binds := make([]vk.DescriptorSetLayoutBinding, p.Bindings)
	for i := range binds {
		binds[i] = vk.DescriptorSetLayoutBinding{
			Binding:         uint32(i),
			DescriptorType:  vk.DescriptorTypeStorageBuffer,
			DescriptorCount: 1,
			StageFlags:      vk.ShaderStageFlags(vk.ShaderStageComputeBit),
		}
	}
	dslci := &vk.DescriptorSetLayoutCreateInfo{SType: vk.StructureTypeDescriptorSetLayoutCreateInfo, BindingCount: uint32(len(binds)), PBindings: binds}
	var setLayout vk.DescriptorSetLayout
	res = vk.CreateDescriptorSetLayout(dev, dslci, nil, &setLayout)
	dslci.Free()
	if err := check(res, "vkCreateDescriptorSetLayout"); err != nil {
		return err
	}
	p.setLayout = setLayout

	plci := &vk.PipelineLayoutCreateInfo{SType: vk.StructureTypePipelineLayoutCreateInfo, SetLayoutCount: 1, PSetLayouts: []vk.DescriptorSetLayout{setLayout}}
	if p.PushSize > 0 {
		plci.PushConstantRangeCount = 1
		plci.PPushConstantRanges = []vk.PushConstantRange{{StageFlags: vk.ShaderStageFlags(vk.ShaderStageComputeBit), Size: uint32(p.PushSize)}}
	}
	var layout vk.PipelineLayout
	res = vk.CreatePipelineLayout(dev, plci, nil, &layout)
	plci.Free()
	if err := check(res, "vkCreatePipelineLayout"); err != nil {
		return err
	}
	p.layout = layout

	pipe, err := createComputePipeline(dev, module, layout, spec)
	if err != nil {
		return err
	}
	p.pipe = pipe
	return nil
}

// createComputePipeline calls vkCreateComputePipelines with structures in C memory. vulkan-go's
// wrapper cannot be used for it: it converts the create info into C memory that a finalizer on
// a local variable frees, and that finalizer may run while the call is still reading it. The
// window is microseconds for most calls but seconds for this one (lavapipe compiles the
// shader with LLVM inside it), and concurrent processes made it crash there under load.
func createComputePipeline(dev vk.Device, module vk.ShaderModule, layout vk.PipelineLayout, spec []uint32) (vk.Pipeline, error) {
	var data *C.uint32_t
	if len(spec) > 0 {
		data = (*C.uint32_t)(C.malloc(C.size_t(4 * len(spec))))
		defer C.free(unsafe.Pointer(data))
		copy(unsafe.Slice((*uint32)(unsafe.Pointer(data)), len(spec)), spec)
	}
	var pipe vk.Pipeline
	if len(spec) > 32 {
		return nil, fmt.Errorf("vk: %d specialization constants, at most 32", len(spec))
	}
	res := vk.Result(C.agrpo_create_compute_pipeline(deviceCalls.createComputePipelines, *(*unsafe.Pointer)(unsafe.Pointer(&dev)),
		*(*unsafe.Pointer)(unsafe.Pointer(&module)), *(*unsafe.Pointer)(unsafe.Pointer(&layout)),
		data, C.uint32_t(len(spec)), (*unsafe.Pointer)(unsafe.Pointer(&pipe))))
	if err := check(res, "vkCreateComputePipelines"); err != nil {
		return nil, err
	}
	return pipe, nil
}
func (p *Pipeline) destroy(dev vk.Device) {
	if p.pipe != nil {
		vk.DestroyPipeline(dev, p.pipe, nil)
	}
	if p.layout != nil {
		vk.DestroyPipelineLayout(dev, p.layout, nil)
	}
	if p.setLayout != nil {
		vk.DestroyDescriptorSetLayout(dev, p.setLayout, nil)
	}
	if p.module != nil {
		vk.DestroyShaderModule(dev, p.module, nil)
	}
}
