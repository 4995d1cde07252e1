//go:build linux && cgo

package vk

/*
#include <stdint.h>
#include <string.h>

// vulkan-go bundles Vulkan 1.1.88 headers and wraps neither vkGetPhysicalDeviceProperties2 nor
// vkGetPhysicalDeviceFeatures2, so the few structures needed here are declared by hand with their
// registry layouts and the functions are fetched through vkGetInstanceProcAddr.

typedef void (*agrpo_void_fn)(void);
typedef agrpo_void_fn (*agrpo_gipa_fn)(void* instance, const char* name);
typedef void (*agrpo_get2_fn)(void* physicalDevice, void* out);

typedef struct { uint32_t sType; void* pNext; uint64_t properties[256]; } agrpo_props2;  // VkPhysicalDeviceProperties2 (body ≤ 2 KiB)
typedef struct { uint32_t sType; void* pNext; uint32_t subgroupSize, stages, ops, quadAllStages; } agrpo_subgroup;
typedef struct { uint32_t sType; void* pNext; uint32_t driverID; char name[256]; char info[256]; uint8_t conformance[4]; } agrpo_driver;
typedef struct { uint32_t sType; void* pNext; uint32_t features[55]; } agrpo_features2;  // VkPhysicalDeviceFeatures2
typedef struct { uint32_t sType; void* pNext; uint32_t storageBuffer16, uniformStorage16, pushConstant16, inputOutput16; } agrpo_16bit;
typedef struct { uint32_t sType; void* pNext; uint32_t float16, int8; } agrpo_f16i8;

typedef struct {
	int ok;
	uint32_t subgroupSize, subgroupOps, storage16, float16;
	char driverName[256], driverInfo[256];
} agrpo_ext_info;

// agrpo_query fills out from the Properties2/Features2 chains. Structures that need Vulkan 1.2
// (driver properties, float16/int8 features) are chained only when the device has it, because
// chaining an unknown structure is invalid usage.
static void agrpo_query(void* gipa, void* instance, void* phys, int api12, agrpo_ext_info* out) {
	memset(out, 0, sizeof *out);
	agrpo_gipa_fn get = (agrpo_gipa_fn)gipa;
	agrpo_get2_fn props2 = (agrpo_get2_fn)get(instance, "vkGetPhysicalDeviceProperties2");
	agrpo_get2_fn feats2 = (agrpo_get2_fn)get(instance, "vkGetPhysicalDeviceFeatures2");
	if (!props2 || !feats2) return;

	agrpo_subgroup sg = { 1000094000, 0 };
	agrpo_driver drv = { 1000196000, 0 };
	agrpo_props2 p = { 1000059001, &sg };
	if (api12) sg.pNext = &drv;
	props2(phys, &p);

	agrpo_f16i8 f16 = { 1000082000, 0 };
	agrpo_16bit s16 = { 1000083000, 0 };
	agrpo_features2 f = { 1000059000, &s16 };
	if (api12) s16.pNext = &f16;
	feats2(phys, &f);

	out->ok = 1;
	out->subgroupSize = sg.subgroupSize;
	out->subgroupOps = sg.ops;
	out->storage16 = s16.storageBuffer16;
	out->float16 = f16.float16;
	memcpy(out->driverName, drv.name, sizeof drv.name);
	memcpy(out->driverInfo, drv.info, sizeof drv.info);
	out->driverName[255] = out->driverInfo[255] = 0;
}
*/
import "C"

import (
	"unsafe"

	"github.com/vulkan-go/vulkan"
)

// subgroupArithmetic is VK_SUBGROUP_FEATURE_ARITHMETIC_BIT.
const subgroupArithmetic = 0x4

// queryExtended adds what only the Properties2/Features2 chains report to info.
func queryExtended(inst vulkan.Instance, phys vulkan.PhysicalDevice, info *DeviceInfo) {
	var out C.agrpo_ext_info
	api12 := C.int(0)
	if info.APIVersion >= vulkan.MakeVersion(1, 2, 0) {
		api12 = 1
	}
	C.agrpo_query(getInstanceProcAddr, unsafe.Pointer(inst), unsafe.Pointer(phys), api12, &out)
	if out.ok == 0 {
		return
	}
	info.SubgroupSize = uint32(out.subgroupSize)
	info.SubgroupArithmetic = out.subgroupOps&subgroupArithmetic != 0
	info.Storage16Bit = out.storage16 != 0
	info.Float16 = out.float16 != 0
	if name := C.GoString(&out.driverName[0]); name != "" {
		info.Driver = name
		if di := C.GoString(&out.driverInfo[0]); di != "" {
			info.Driver += " " + di
		}
	}
}
