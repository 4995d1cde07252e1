//go:build linux && cgo

package vk

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// agrpo_dlopen opens a library and copies dlerror's message before another call can replace it.
static void* agrpo_dlopen(const char* name, char* err, int errLen) {
	void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char* e = dlerror();
		int i = 0;
		for (; e && e[i] && i < errLen - 1; i++) err[i] = e[i];
		err[i] = 0;
	}
	return h;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// ErrNoVulkan is wrapped by every error that means "this machine has no usable Vulkan": no
// loader library, no driver, or no device of the kind asked for.
var ErrNoVulkan = errors.New("vulkan unavailable")

var (
	loadOnce sync.Once
	loadErr  error
	// getInstanceProcAddr is the loader's vkGetInstanceProcAddr, also used by the Features2 shim.
	getInstanceProcAddr unsafe.Pointer
	// deviceCalls are the loader's entry points that this package calls through its own C
	// structures instead of vulkan-go's (see createComputePipeline and calls.go).
	deviceCalls struct {
		createComputePipelines, updateDescriptorSets, cmdCopyBuffer, cmdPipelineBarrier, queueSubmit unsafe.Pointer
	}
)

// loaderNames are tried in order: the versioned soname ships with the runtime package
// (libvulkan1); the bare name only with development headers, which vulkan-go's default loader
// needs and which is why it is not used.
var loaderNames = []string{"libvulkan.so.1", "libvulkan.so"}

// load dlopens the Vulkan loader once per process and hands vkGetInstanceProcAddr to vulkan-go.
func load() error {
	loadOnce.Do(func() {
		var msgs []string
		for _, name := range loaderNames {
			cname := C.CString(name)
			var buf [512]C.char
			h := C.agrpo_dlopen(cname, &buf[0], C.int(len(buf)))
			C.free(unsafe.Pointer(cname))
			if h == nil {
				msgs = append(msgs, C.GoString(&buf[0]))
				continue
			}
			csym := C.CString("vkGetInstanceProcAddr")
			p := C.dlsym(h, csym)
			C.free(unsafe.Pointer(csym))
			if p == nil {
				msgs = append(msgs, name+": no vkGetInstanceProcAddr")
				continue
			}
			if missing := resolveDeviceCalls(h); missing != "" {
				msgs = append(msgs, name+": no "+missing)
				continue
			}
			getInstanceProcAddr = p
			vk.SetGetInstanceProcAddr(p)
			if err := vk.Init(); err != nil {
				loadErr = fmt.Errorf("%w: initialising %s: %w", ErrNoVulkan, name, err)
			}
			return
		}
		loadErr = fmt.Errorf("%w: cannot load the Vulkan loader (install libvulkan1 and a driver, e.g. mesa-vulkan-drivers): %s",
			ErrNoVulkan, strings.Join(msgs, "; "))
	})
	return loadErr
}

// resolveDeviceCalls looks up deviceCalls in the loader library h; it returns the name of the
// first one missing, or "".
func resolveDeviceCalls(h unsafe.Pointer) string {
	for _, e := range []struct {
		name string
		fn   *unsafe.Pointer
	}{
		{"vkCreateComputePipelines", &deviceCalls.createComputePipelines},
		{"vkUpdateDescriptorSets", &deviceCalls.updateDescriptorSets},
		{"vkCmdCopyBuffer", &deviceCalls.cmdCopyBuffer},
		{"vkCmdPipelineBarrier", &deviceCalls.cmdPipelineBarrier},
		{"vkQueueSubmit", &deviceCalls.queueSubmit},
	} {
		csym := C.CString(e.name)
		*e.fn = C.dlsym(h, csym)
		C.free(unsafe.Pointer(csym))
		if *e.fn == nil {
			return e.name
		}
	}
	return ""
}

// cstr NUL-terminates a string for vulkan-go, which hands Go string bytes to C as they are.
func cstr(s string) string { return s + "\x00" }

// check turns a VkResult into an error naming the call that failed.
func check(res vk.Result, what string) error {
	if res == vk.Success {
		return nil
	}
	return fmt.Errorf("vk: %s: %w", what, vk.Error(res))
}
