//go:build linux && cgo

package vk

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// DeviceInfo describes one physical device, as Devices lists it.
type DeviceInfo struct {
	Index        int    // position in the loader's enumeration; Options.Device selects by it
	Name         string // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
	Type         string // "discrete", "integrated", "virtual", "cpu" or "other"
	Vendor       string // vendor name when known, else the PCI vendor id in hex
	Driver       string // driver name and version information
	APIVersion   uint32 // Vulkan version the device supports (vk.MakeVersion encoding)
	MemoryBytes  uint64 // size of the largest device-local heap
	SubgroupSize uint32
	// SharedMemoryBytes is maxComputeSharedMemorySize, the per-workgroup shared memory.
	SharedMemoryBytes uint32
	// MaxBindingBytes is maxStorageBufferRange, the most one storage-buffer binding can span.
	MaxBindingBytes uint32
	// Optional features: fp16 arithmetic, 16-bit storage buffers, subgroup arithmetic
	// (subgroupAdd and kin in compute shaders), and timestamps on compute queues.
	Float16, Storage16Bit, SubgroupArithmetic, Timestamps bool
	// TimestampPeriod is nanoseconds per timestamp tick.
	TimestampPeriod float32
	// MinStorageAlignment is minStorageBufferOffsetAlignment in bytes.
	MinStorageAlignment uint64
	// MaxWorkgroups is maxComputeWorkGroupCount, per dimension.
	MaxWorkgroups [3]uint32
}

// APIString formats APIVersion as major.minor.patch.
func (d DeviceInfo) APIString() string {
	return fmt.Sprintf("%d.%d.%d", d.APIVersion>>22, (d.APIVersion>>12)&0x3ff, d.APIVersion&0xfff)
}

// String is a one-line summary for device listings.
func (d DeviceInfo) String() string {
	feats := ""
	for _, f := range []struct {
		on   bool
		name string
	}{{d.Float16, "fp16"}, {d.Storage16Bit, "16bit-storage"}, {d.SubgroupArithmetic, "subgroup-arith"}, {d.Timestamps, "timestamps"}} {
		if f.on {
			feats += " " + f.name
		}
	}
	return fmt.Sprintf("[%d] %s (%s, %s) Vulkan %s, driver %s, %d MiB, subgroup %d, shared %d KiB, binding ≤ %d MiB,%s",
		d.Index, d.Name, d.Type, d.Vendor, d.APIString(), d.Driver, d.MemoryBytes>>20, d.SubgroupSize,
		d.SharedMemoryBytes>>10, d.MaxBindingBytes>>20, feats)
}

// Options configure Open.
type Options struct {
	// Device picks a device by its DeviceInfo.Index; −1 chooses: a discrete GPU, else an
	// integrated one, else (only with AllowCPU) a CPU implementation such as lavapipe.
	Device int
	// AllowCPU lets the automatic choice fall back to a CPU implementation of Vulkan, which is a
	// correctness target (CI), not a speed target.
	AllowCPU bool
	// Validation enables VK_LAYER_KHRONOS_validation and records its messages (see Messages).
	// The environment variable AGRPO_VK_VALIDATION=1 turns it on as well.
	Validation bool
	// Profile writes timestamps around every dispatch so that Profile reports time per label.
	Profile bool
}

// Context is an open device: instance, logical device, one compute queue, the memory
// allocator, the pipeline cache and one command stream. It is safe for use by one goroutine at a
// time.
type Context struct {
	inst     vk.Instance
	phys     vk.PhysicalDevice
	dev      vk.Device
	queue    vk.Queue
	family   uint32
	info     DeviceInfo
	memProps vk.PhysicalDeviceMemoryProperties
	debug    vk.DebugReportCallback
	sink     *messageSink
	profile  bool

	mem       *allocator
	pipelines map[pipelineKey]*Pipeline
	stream    *Stream
}

// Devices lists the physical devices the loader sees.
func Devices() ([]DeviceInfo, error) {
	inst, err := createInstance(false)
	if err != nil {
		return nil, err
	}
	defer vk.DestroyInstance(inst, nil)
	phys, err := physicalDevices(inst)
	if err != nil {
		return nil, err
	}
	infos := make([]DeviceInfo, len(phys))
	for i, p := range phys {
		infos[i], _ = describe(inst, p, i)
	}
	return infos, nil
}

// Open creates a context on the device the options choose. Errors wrap ErrNoVulkan when the
// machine has no loader, driver or suitable device.
func Open(opts Options) (*Context, error) {
	if os.Getenv("AGRPO_VK_VALIDATION") == "1" {
		opts.Validation = true
	}
	inst, err := createInstance(opts.Validation)
	if err != nil {
		return nil, err
	}
	c := &Context{inst: inst, pipelines: map[pipelineKey]*Pipeline{}, profile: opts.Profile}
	if err := c.init(opts); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Context) init(opts Options) error {
	if opts.Validation {
		if err := c.enableValidation(); err != nil {
			return err
		}
	}
	phys, err := physicalDevices(c.inst)
	if err != nil {
		return err
	}
	idx, err := choose(c.inst, phys, opts)
	if err != nil {
		return err
	}
	c.phys = phys[idx]
	c.info, c.memProps = describe(c.inst, c.phys, idx)
	if err := c.createDevice(); err != nil {
		return err
	}
	c.mem = newAllocator(c)
	c.stream, err = newStream(c)
	return err
}

// choose applies Options.Device or the discrete > integrated > (CPU when allowed) preference.
func choose(inst vk.Instance, phys []vk.PhysicalDevice, opts Options) (int, error) {
	if opts.Device >= 0 {
		if opts.Device >= len(phys) {
			return 0, fmt.Errorf("%w: device %d requested, %d present", ErrNoVulkan, opts.Device, len(phys))
		}
		return opts.Device, nil
	}
	rank := map[string]int{"discrete": 4, "integrated": 3, "virtual": 2, "cpu": 1}
	best, bestRank := -1, 0
	var seen []string
	for i, p := range phys {
		info, _ := describe(inst, p, i)
		seen = append(seen, info.Name+" ("+info.Type+")")
		r := rank[info.Type]
		if info.Type == "cpu" && !opts.AllowCPU {
			continue
		}
		if r > bestRank {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("%w: no GPU among %d device(s) %v (a CPU implementation needs AllowCPU)", ErrNoVulkan, len(phys), seen)
	}
	return best, nil
}

func createInstance(validation bool) (vk.Instance, error) {
	if err := load(); err != nil {
		return nil, err
	}
	app := &vk.ApplicationInfo{
		SType:            vk.StructureTypeApplicationInfo,
		PApplicationName: cstr("agrpo"),
		PEngineName:      cstr("agrpo"),
		ApiVersion:       vk.MakeVersion(1, 1, 0),
	}
	ci := &vk.InstanceCreateInfo{SType: vk.StructureTypeInstanceCreateInfo, PApplicationInfo: app}
	if validation {
		ci.EnabledLayerCount = 1
		ci.PpEnabledLayerNames = []string{cstr("VK_LAYER_KHRONOS_validation")}
		ci.EnabledExtensionCount = 1
		ci.PpEnabledExtensionNames = []string{cstr("VK_EXT_debug_report")}
	}
	var inst vk.Instance
	res := vk.CreateInstance(ci, nil, &inst)
	ci.Free()
	app.Free()
	if res == vk.ErrorLayerNotPresent || res == vk.ErrorExtensionNotPresent {
		return nil, fmt.Errorf("vk: validation requested but VK_LAYER_KHRONOS_validation is missing (install vulkan-validationlayers): %w", vk.Error(res))
	}
	if res == vk.ErrorIncompatibleDriver || res == vk.ErrorInitializationFailed {
		return nil, fmt.Errorf("%w: no Vulkan driver (vkCreateInstance: %w)", ErrNoVulkan, vk.Error(res))
	}
	if err := check(res, "vkCreateInstance"); err != nil {
		return nil, err
	}
	// vk.Init only resolved global functions; instance-level ones need the instance.
	if err := vk.InitInstance(inst); err != nil {
		vk.DestroyInstance(inst, nil)
		return nil, fmt.Errorf("vk: loading instance functions: %w", err)
	}
	return inst, nil
}

func physicalDevices(inst vk.Instance) ([]vk.PhysicalDevice, error) {
	var n uint32
	if err := check(vk.EnumeratePhysicalDevices(inst, &n, nil), "vkEnumeratePhysicalDevices"); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: the loader found no devices", ErrNoVulkan)
	}
	phys := make([]vk.PhysicalDevice, n)
	if err := check(vk.EnumeratePhysicalDevices(inst, &n, phys), "vkEnumeratePhysicalDevices"); err != nil {
		return nil, err
	}
	return phys[:n], nil
}

var vendors = map[uint32]string{0x1002: "AMD", 0x10de: "NVIDIA", 0x8086: "Intel", 0x13b5: "ARM", 0x5143: "Qualcomm", 0x1010: "ImgTec", 0x10005: "Mesa"}

// describe queries a device. Every nested output struct needs its own Deref (vulkan-go only
// copies the top level back from C).
func describe(inst vk.Instance, p vk.PhysicalDevice, idx int) (DeviceInfo, vk.PhysicalDeviceMemoryProperties) {
	var props vk.PhysicalDeviceProperties
	vk.GetPhysicalDeviceProperties(p, &props)
	props.Deref()
	props.Limits.Deref()
	defer props.Free()
	info := DeviceInfo{
		Index:               idx,
		Name:                vk.ToString(props.DeviceName[:]),
		APIVersion:          props.ApiVersion,
		SharedMemoryBytes:   props.Limits.MaxComputeSharedMemorySize,
		MaxBindingBytes:     props.Limits.MaxStorageBufferRange,
		Timestamps:          props.Limits.TimestampComputeAndGraphics.B(),
		TimestampPeriod:     props.Limits.TimestampPeriod,
		MinStorageAlignment: uint64(props.Limits.MinStorageBufferOffsetAlignment),
		MaxWorkgroups:       props.Limits.MaxComputeWorkGroupCount,
		Driver:              fmt.Sprintf("version 0x%x", props.DriverVersion),
	}
	switch props.DeviceType {
	case vk.PhysicalDeviceTypeDiscreteGpu:
		info.Type = "discrete"
	case vk.PhysicalDeviceTypeIntegratedGpu:
		info.Type = "integrated"
	case vk.PhysicalDeviceTypeVirtualGpu:
		info.Type = "virtual"
	case vk.PhysicalDeviceTypeCpu:
		info.Type = "cpu"
	default:
		info.Type = "other"
	}
	if v, ok := vendors[props.VendorID]; ok {
		info.Vendor = v
	} else {
		info.Vendor = fmt.Sprintf("0x%x", props.VendorID)
	}
	var mp vk.PhysicalDeviceMemoryProperties
	vk.GetPhysicalDeviceMemoryProperties(p, &mp)
	mp.Deref()
	for i := uint32(0); i < mp.MemoryHeapCount; i++ {
		mp.MemoryHeaps[i].Deref()
		h := mp.MemoryHeaps[i]
		if h.Flags&vk.MemoryHeapFlags(vk.MemoryHeapDeviceLocalBit) != 0 && uint64(h.Size) > info.MemoryBytes {
			info.MemoryBytes = uint64(h.Size)
		}
	}
	for i := uint32(0); i < mp.MemoryTypeCount; i++ {
		mp.MemoryTypes[i].Deref()
	}
	queryExtended(inst, p, &info)
	return info, mp
}

func (c *Context) createDevice() error {
	var n uint32
	vk.GetPhysicalDeviceQueueFamilyProperties(c.phys, &n, nil)
	fams := make([]vk.QueueFamilyProperties, n)
	vk.GetPhysicalDeviceQueueFamilyProperties(c.phys, &n, fams)
	family := -1
	for i := range fams {
		fams[i].Deref()
		flags := fams[i].QueueFlags
		if flags&vk.QueueFlags(vk.QueueComputeBit) == 0 {
			continue
		}
		// Prefer a compute-only family: on discrete GPUs it runs beside graphics work.
		if family < 0 || flags&vk.QueueFlags(vk.QueueGraphicsBit) == 0 {
			family = i
		}
	}
	if family < 0 {
		return fmt.Errorf("%w: device %q has no compute queue", ErrNoVulkan, c.info.Name)
	}
	c.family = uint32(family)
	qci := []vk.DeviceQueueCreateInfo{{
		SType:            vk.StructureTypeDeviceQueueCreateInfo,
		QueueFamilyIndex: c.family,
		QueueCount:       1,
		PQueuePriorities: []float32{1},
	}}
	dci := &vk.DeviceCreateInfo{
		SType:                vk.StructureTypeDeviceCreateInfo,
		QueueCreateInfoCount: 1,
		PQueueCreateInfos:    qci,
	}
	var dev vk.Device
	res := vk.CreateDevice(c.phys, dci, nil, &dev)
	dci.Free()
	if err := check(res, "vkCreateDevice on "+c.info.Name); err != nil {
		return err
	}
	c.dev = dev
	// A fresh local as the out-parameter: &c.queue would hand cgo a pointer into a struct that
	// holds Go pointers.
	var q vk.Queue
	vk.GetDeviceQueue(dev, c.family, 0, &q)
	c.queue = q
	return nil
}

// Info describes the device the context runs on.
func (c *Context) Info() DeviceInfo { return c.info }

// Close waits for the device and releases everything the context created. It is safe to call
// on a partly opened context.
func (c *Context) Close() {
	if c.dev != nil {
		vk.DeviceWaitIdle(c.dev)
		if c.stream != nil {
			c.stream.destroy()
		}
		for _, p := range c.pipelines {
			p.destroy(c.dev)
		}
		if c.mem != nil {
			c.mem.destroy()
		}
		vk.DestroyDevice(c.dev, nil)
		c.dev = nil
	}
	if c.sink != nil {
		vk.DestroyDebugReportCallback(c.inst, c.debug, nil)
		unregisterSink(c.sink)
		c.sink = nil
	}
	if c.inst != nil {
		vk.DestroyInstance(c.inst, nil)
		c.inst = nil
	}
}

// messageSink collects the validation messages of one context.
type messageSink struct {
	mu   sync.Mutex
	msgs []string
}

var (
	sinksMu sync.Mutex
	sinks   = map[*messageSink]bool{}
)

func unregisterSink(s *messageSink) {
	sinksMu.Lock()
	delete(sinks, s)
	sinksMu.Unlock()
}

// debugCallback is the one Go callback of the process: vulkan-go keeps only the first Go
// callback it sees, so every context's messages arrive here and go to every live sink (with
// several validating contexts open at once, each sees all messages — a conservative failure).
func debugCallback(flags vk.DebugReportFlags, _ vk.DebugReportObjectType, _ uint64, _ uint, code int32, prefix, msg string, _ unsafe.Pointer) vk.Bool32 {
	// prefix and msg point into C memory that is reused after the callback returns: clone them.
	line := fmt.Sprintf("%s (code %d, flags 0x%x): %s", strings.Clone(prefix), code, flags, strings.Clone(msg))
	sinksMu.Lock()
	for s := range sinks {
		s.mu.Lock()
		s.msgs = append(s.msgs, line)
		s.mu.Unlock()
	}
	sinksMu.Unlock()
	return vk.False
}

func (c *Context) enableValidation() error {
	ci := &vk.DebugReportCallbackCreateInfo{
		SType:       vk.StructureTypeDebugReportCallbackCreateInfo,
		Flags:       vk.DebugReportFlags(vk.DebugReportErrorBit | vk.DebugReportWarningBit | vk.DebugReportPerformanceWarningBit),
		PfnCallback: debugCallback,
	}
	var cb vk.DebugReportCallback
	res := vk.CreateDebugReportCallback(c.inst, ci, nil, &cb)
	ci.Free()
	if err := check(res, "vkCreateDebugReportCallbackEXT"); err != nil {
		return err
	}
	c.debug = cb
	c.sink = &messageSink{}
	sinksMu.Lock()
	sinks[c.sink] = true
	sinksMu.Unlock()
	return nil
}

// Messages returns the validation messages recorded so far (nil without validation).
func (c *Context) Messages() []string {
	if c.sink == nil {
		return nil
	}
	c.sink.mu.Lock()
	defer c.sink.mu.Unlock()
	return append([]string(nil), c.sink.msgs...)
}

// errClosed is returned by operations on a closed context.
var errClosed = errors.New("vk: context is closed")
