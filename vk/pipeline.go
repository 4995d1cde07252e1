//go:build linux && cgo

package vk

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

	stage := vk.PipelineShaderStageCreateInfo{
		SType:  vk.StructureTypePipelineShaderStageCreateInfo,
		Stage:  vk.ShaderStageComputeBit,
		Module: module,
		PName:  cstr("main"),
	}
	if len(spec) > 0 {
		entries := make([]vk.SpecializationMapEntry, len(spec))
		for i := range entries {
			entries[i] = vk.SpecializationMapEntry{ConstantID: uint32(i), Offset: uint32(4 * i), Size: 4}
		}
		data := append([]uint32(nil), spec...)
		stage.PSpecializationInfo = []vk.SpecializationInfo{{
			MapEntryCount: uint32(len(entries)),
			PMapEntries:   entries,
			DataSize:      uint(4 * len(data)),
			PData:         unsafe.Pointer(&data[0]),
		}}
	}
	cpci := []vk.ComputePipelineCreateInfo{{SType: vk.StructureTypeComputePipelineCreateInfo, Stage: stage, Layout: layout}}
	pipes := make([]vk.Pipeline, 1)
	res = vk.CreateComputePipelines(dev, nil, 1, cpci, nil, pipes)
	cpci[0].Free()
	if err := check(res, "vkCreateComputePipelines"); err != nil {
		return err
	}
	p.pipe = pipes[0]
	return nil
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
