// Finding and binding libcuda.so.1 and NVRTC at run time. Each entry point
// is looked up under its versioned name first (the `_v2` ABI that cuda.h maps
// the plain name to), so one build works with every driver since CUDA 11.
#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include "cuda_api.h"

namespace fusedet {
namespace cu {
namespace {

template <typename F>
bool bind(void* handle, F* slot, std::initializer_list<const char*> names, std::string* missing) {
  for (const char* n : names) {
    if (void* sym = dlsym(handle, n)) {
      *slot = reinterpret_cast<F>(sym);
      return true;
    }
  }
  if (!missing->empty()) *missing += ", ";
  *missing += *names.begin();
  return false;
}

std::string joined(const std::vector<std::string>& xs) {
  std::string s;
  for (const auto& x : xs) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// libnvrtc-builtins.so* of a folder (its version suffix differs from
// NVRTC's: libnvrtc.so.13 beside libnvrtc-builtins.so.13.0), longest name first.
std::vector<std::string> builtinsIn(const std::string& dir) {
  std::vector<std::string> found;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind("libnvrtc-builtins.so", 0) == 0) found.push_back(dir + name);
    }
    closedir(d);
  }
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size() || (a.size() == b.size() && a > b); });
  return found;
}

}  // namespace

Driver* loadDriver(const std::vector<std::string>& paths, std::string* why) {
  std::vector<std::string> tried{"libcuda.so.1 (loader path)"};
  void* handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  std::string path = "libcuda.so.1";
  for (size_t i = 0; !handle && i < paths.size(); i++) {
    tried.push_back(paths[i]);
    handle = dlopen(paths[i].c_str(), RTLD_NOW | RTLD_LOCAL);
    path = paths[i];
  }
  if (!handle) {
    *why = "libcuda.so.1 not found (searched: " + joined(tried) + "): no NVIDIA driver is installed here";
    return nullptr;
  }
  auto* d = new Driver();
  d->handle = handle;
  d->path = path;
  std::string missing;
  bind(handle, &d->cuInit, {"cuInit"}, &missing);
  bind(handle, &d->cuDriverGetVersion, {"cuDriverGetVersion"}, &missing);
  bind(handle, &d->cuDeviceGetCount, {"cuDeviceGetCount"}, &missing);
  bind(handle, &d->cuDeviceGet, {"cuDeviceGet"}, &missing);
  bind(handle, &d->cuDeviceGetAttribute, {"cuDeviceGetAttribute"}, &missing);
  bind(handle, &d->cuDeviceGetName, {"cuDeviceGetName"}, &missing);
  bind(handle, &d->cuDeviceTotalMem, {"cuDeviceTotalMem_v2"}, &missing);
  bind(handle, &d->cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"}, &missing);
  bind(handle, &d->cuDevicePrimaryCtxRelease, {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}, &missing);
  bind(handle, &d->cuDevicePrimaryCtxReset, {"cuDevicePrimaryCtxReset_v2", "cuDevicePrimaryCtxReset"}, &missing);
  bind(handle, &d->cuCtxSetCurrent, {"cuCtxSetCurrent"}, &missing);
  bind(handle, &d->cuModuleLoadDataEx, {"cuModuleLoadDataEx"}, &missing);
  bind(handle, &d->cuModuleUnload, {"cuModuleUnload"}, &missing);
  bind(handle, &d->cuModuleGetFunction, {"cuModuleGetFunction"}, &missing);
  bind(handle, &d->cuFuncGetAttribute, {"cuFuncGetAttribute"}, &missing);
  bind(handle, &d->cuLaunchKernel, {"cuLaunchKernel"}, &missing);
  bind(handle, &d->cuMemAlloc, {"cuMemAlloc_v2"}, &missing);
  bind(handle, &d->cuMemFree, {"cuMemFree_v2"}, &missing);
  bind(handle, &d->cuMemGetInfo, {"cuMemGetInfo_v2"}, &missing);
  bind(handle, &d->cuMemsetD8Async, {"cuMemsetD8Async"}, &missing);
  bind(handle, &d->cuMemcpyHtoDAsync, {"cuMemcpyHtoDAsync_v2"}, &missing);
  bind(handle, &d->cuMemcpyDtoHAsync, {"cuMemcpyDtoHAsync_v2"}, &missing);
  bind(handle, &d->cuStreamCreate, {"cuStreamCreate"}, &missing);
  bind(handle, &d->cuStreamDestroy, {"cuStreamDestroy_v2", "cuStreamDestroy"}, &missing);
  bind(handle, &d->cuStreamQuery, {"cuStreamQuery"}, &missing);
  bind(handle, &d->cuEventCreate, {"cuEventCreate"}, &missing);
  bind(handle, &d->cuEventDestroy, {"cuEventDestroy_v2", "cuEventDestroy"}, &missing);
  bind(handle, &d->cuEventRecord, {"cuEventRecord"}, &missing);
  bind(handle, &d->cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, &missing);
  bind(handle, &d->cuGetErrorString, {"cuGetErrorString"}, &missing);
  bind(handle, &d->cuGetErrorName, {"cuGetErrorName"}, &missing);
  bind(handle, &d->cuStreamBeginCapture, {"cuStreamBeginCapture_v2"}, &d->graphsMissing);
  bind(handle, &d->cuStreamEndCapture, {"cuStreamEndCapture"}, &d->graphsMissing);
  bind(handle, &d->cuGraphInstantiateWithFlags, {"cuGraphInstantiateWithFlags"}, &d->graphsMissing);
  bind(handle, &d->cuGraphLaunch, {"cuGraphLaunch"}, &d->graphsMissing);
  bind(handle, &d->cuGraphExecDestroy, {"cuGraphExecDestroy"}, &d->graphsMissing);
  bind(handle, &d->cuGraphDestroy, {"cuGraphDestroy"}, &d->graphsMissing);
  if (!missing.empty()) {
    *why = "the NVIDIA driver at " + path + " is too old (it lacks " + missing + "): install a driver for CUDA 11 or newer";
    dlclose(handle);
    delete d;
    return nullptr;
  }
  return d;
}

Nvrtc* loadNvrtc(const std::vector<std::string>& paths, std::string* why) {
  std::vector<std::string> errors;
  for (const auto& p : paths) {
    // The builtins library sits beside NVRTC; loading it first (globally)
    // lets NVRTC find it even when that folder is not on the loader path.
    void* builtins = nullptr;
    const size_t slash = p.rfind('/');
    if (slash != std::string::npos) {
      const std::string dir = p.substr(0, slash + 1);
      for (const std::string& b : builtinsIn(dir)) {
        if ((builtins = dlopen(b.c_str(), RTLD_NOW | RTLD_GLOBAL))) break;
      }
    }
    void* handle = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* e = dlerror();
      errors.push_back(p + ": " + (e ? e : "cannot load"));
      if (builtins) dlclose(builtins);
      continue;
    }
    auto* n = new Nvrtc();
    n->handle = handle;
    n->builtins = builtins;
    n->path = p;
    std::string missing;
    bind(handle, &n->nvrtcVersion, {"nvrtcVersion"}, &missing);
    bind(handle, &n->nvrtcGetErrorString, {"nvrtcGetErrorString"}, &missing);
    bind(handle, &n->nvrtcCreateProgram, {"nvrtcCreateProgram"}, &missing);
    bind(handle, &n->nvrtcDestroyProgram, {"nvrtcDestroyProgram"}, &missing);
    bind(handle, &n->nvrtcCompileProgram, {"nvrtcCompileProgram"}, &missing);
    bind(handle, &n->nvrtcGetProgramLogSize, {"nvrtcGetProgramLogSize"}, &missing);
    bind(handle, &n->nvrtcGetProgramLog, {"nvrtcGetProgramLog"}, &missing);
    bind(handle, &n->nvrtcGetCUBINSize, {"nvrtcGetCUBINSize"}, &missing);
    bind(handle, &n->nvrtcGetCUBIN, {"nvrtcGetCUBIN"}, &missing);
    bind(handle, &n->nvrtcGetPTXSize, {"nvrtcGetPTXSize"}, &missing);
    bind(handle, &n->nvrtcGetPTX, {"nvrtcGetPTX"}, &missing);
    std::string optional;
    bind(handle, &n->nvrtcGetNumSupportedArchs, {"nvrtcGetNumSupportedArchs"}, &optional);
    bind(handle, &n->nvrtcGetSupportedArchs, {"nvrtcGetSupportedArchs"}, &optional);
    if (missing.empty()) return n;
    errors.push_back(p + ": too old (lacks " + missing + "; NVRTC 11.1 or newer is needed)");
    dlclose(handle);
    if (builtins) dlclose(builtins);
    delete n;
  }
  *why = paths.empty() ? "no libnvrtc.so* candidates were found" : "no NVRTC library loads (" + joined(errors) + ")";
  return nullptr;
}

std::string errorText(const Driver& d, CUresult r) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (d.cuGetErrorName) d.cuGetErrorName(r, &name);
  if (d.cuGetErrorString) d.cuGetErrorString(r, &text);
  return std::string(name ? name : "CUDA error " + std::to_string(r)) + (text ? std::string(" (") + text + ")" : "");
}

}  // namespace cu
}  // namespace fusedet
