// A stand-in libcuda.so.1 for tests on machines without a GPU: it is built
// against CUDA's own cuda.h, so every entry point is exported under the name
// cuda.h maps it to (cuMemAlloc -> cuMemAlloc_v2, cuStreamBeginCapture ->
// cuStreamBeginCapture_v2, ...) with cuda.h's signature; an addon asking for
// another name or declaring another signature fails here. "Device" memory is
// host memory, the stream runs each launch at once, and a few kernels are
// emulated by name:
//   inc*    (in, out, n): out[i] = in[i] + 1        accum* (buf, n): buf[i] += 1
//   *poke   (buf, i): buf[i] = 1, an illegal address past the allocation
//   fault*  (buf): an illegal address (sticky until the context is reset)
//   hang*   (buf): the stream does not finish (until FAKE_CUDA_FINISH=1)
//   any other name: does nothing (so real programs run through, computing
//   nothing); FAKE_CUDA_STRICT=1 makes it missing from the module instead
// FAKE_CUDA_* variables, read at each call, inject refusals (see below), and
// FAKE_CUDA_TRACE=1 prints each launch, capture and graph launch to stderr.
#include <cuda.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "../../native/cuda/cuda_api.h"

struct CUctx_st {};
struct CUmod_st {};
struct CUfunc_st {
  std::string name;
  int params;
};
struct CUstream_st {};
struct CUevent_st {};
struct Node {
  CUfunc_st* f;
  unsigned grid, block;
  std::vector<unsigned long long> values;
};
struct CUgraph_st {
  std::vector<Node> nodes;
};
struct CUgraphExec_st {
  std::vector<Node> nodes;
};

namespace {

CUctx_st theContext;
CUstream_st theStream;
CUresult stickyError = CUDA_SUCCESS;
bool hung = false;
bool initialised = false;
CUgraph_st* capturing = nullptr;
size_t liveBytes = 0;
std::map<unsigned long long, size_t> allocations;

bool ends(const std::string& s, const char* tail) { return s.size() >= std::strlen(tail) && s.compare(s.size() - std::strlen(tail), std::string::npos, tail) == 0; }

bool flag(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, value) == 0;
}
long envNumber(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}
void trace(const std::string& line) {
  if (flag("FAKE_CUDA_TRACE", "1")) std::fprintf(stderr, "fake-cuda: %s\n", line.c_str());
}

void execute(const Node& n) {
  const std::string& k = n.f->name;
  trace("run " + k + " grid " + std::to_string(n.grid));
  if (k.rfind("inc", 0) == 0) {
    auto* in = reinterpret_cast<float*>(n.values[0]);
    auto* out = reinterpret_cast<float*>(n.values[1]);
    for (unsigned long long i = 0; i < n.values[2]; i++) out[i] = in[i] + 1;
  } else if (k.rfind("accum", 0) == 0) {
    auto* buf = reinterpret_cast<float*>(n.values[0]);
    for (unsigned long long i = 0; i < n.values[1]; i++) buf[i] += 1;
  } else if (ends(k, "poke")) {
    const auto a = allocations.find(n.values[0]);
    if (a == allocations.end() || n.values[1] * 4 >= a->second) stickyError = CUDA_ERROR_ILLEGAL_ADDRESS;
    else reinterpret_cast<float*>(n.values[0])[n.values[1]] = 1;
  } else if (k.rfind("fault", 0) == 0) {
    stickyError = CUDA_ERROR_ILLEGAL_ADDRESS;
  } else if (k.rfind("hang", 0) == 0) {
    hung = true;
  }
}

}  // namespace

// The addon's declarations (native/cuda/cuda_api.h) against cuda.h's: same
// arity, and each parameter the same size and pointer-ness.
template <bool SameArity, typename A, typename B>
struct ArgsMatch : std::false_type {};
template <typename... A, typename... B>
struct ArgsMatch<true, std::tuple<A...>, std::tuple<B...>>
    : std::bool_constant<((sizeof(A) == sizeof(B) && std::is_pointer_v<A> == std::is_pointer_v<B>) && ... && true)> {};
template <typename Ours, typename Theirs>
struct SameAbi : std::false_type {};
template <typename R1, typename... A1, typename R2, typename... A2>
struct SameAbi<R1 (*)(A1...), R2 (*)(A2...)>
    : std::bool_constant<sizeof(R1) == sizeof(R2) && ArgsMatch<sizeof...(A1) == sizeof...(A2), std::tuple<A1...>, std::tuple<A2...>>::value> {};
#define FUSEDET_SAME_ABI(member, fn) \
  static_assert(SameAbi<decltype(fusedet::cu::Driver::member), decltype(&fn)>::value, #member " differs from cuda.h's " #fn)
FUSEDET_SAME_ABI(cuInit, cuInit);
FUSEDET_SAME_ABI(cuDriverGetVersion, cuDriverGetVersion);
FUSEDET_SAME_ABI(cuDeviceGetCount, cuDeviceGetCount);
FUSEDET_SAME_ABI(cuDeviceGet, cuDeviceGet);
FUSEDET_SAME_ABI(cuDeviceGetAttribute, cuDeviceGetAttribute);
FUSEDET_SAME_ABI(cuDeviceGetName, cuDeviceGetName);
FUSEDET_SAME_ABI(cuDeviceTotalMem, cuDeviceTotalMem);
FUSEDET_SAME_ABI(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain);
FUSEDET_SAME_ABI(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease);
FUSEDET_SAME_ABI(cuDevicePrimaryCtxReset, cuDevicePrimaryCtxReset);
FUSEDET_SAME_ABI(cuCtxSetCurrent, cuCtxSetCurrent);
FUSEDET_SAME_ABI(cuModuleLoadDataEx, cuModuleLoadDataEx);
FUSEDET_SAME_ABI(cuModuleUnload, cuModuleUnload);
FUSEDET_SAME_ABI(cuModuleGetFunction, cuModuleGetFunction);
FUSEDET_SAME_ABI(cuFuncGetAttribute, cuFuncGetAttribute);
FUSEDET_SAME_ABI(cuLaunchKernel, cuLaunchKernel);
FUSEDET_SAME_ABI(cuMemAlloc, cuMemAlloc);
FUSEDET_SAME_ABI(cuMemFree, cuMemFree);
FUSEDET_SAME_ABI(cuMemGetInfo, cuMemGetInfo);
FUSEDET_SAME_ABI(cuMemsetD8Async, cuMemsetD8Async);
FUSEDET_SAME_ABI(cuMemcpyHtoDAsync, cuMemcpyHtoDAsync);
FUSEDET_SAME_ABI(cuMemcpyDtoHAsync, cuMemcpyDtoHAsync);
FUSEDET_SAME_ABI(cuStreamCreate, cuStreamCreate);
FUSEDET_SAME_ABI(cuStreamDestroy, cuStreamDestroy);
FUSEDET_SAME_ABI(cuStreamQuery, cuStreamQuery);
FUSEDET_SAME_ABI(cuEventCreate, cuEventCreate);
FUSEDET_SAME_ABI(cuEventDestroy, cuEventDestroy);
FUSEDET_SAME_ABI(cuEventRecord, cuEventRecord);
FUSEDET_SAME_ABI(cuEventElapsedTime, cuEventElapsedTime);
FUSEDET_SAME_ABI(cuGetErrorString, cuGetErrorString);
FUSEDET_SAME_ABI(cuGetErrorName, cuGetErrorName);
FUSEDET_SAME_ABI(cuStreamBeginCapture, cuStreamBeginCapture);
FUSEDET_SAME_ABI(cuStreamEndCapture, cuStreamEndCapture);
FUSEDET_SAME_ABI(cuGraphInstantiateWithFlags, cuGraphInstantiateWithFlags);
FUSEDET_SAME_ABI(cuGraphLaunch, cuGraphLaunch);
FUSEDET_SAME_ABI(cuGraphExecDestroy, cuGraphExecDestroy);
FUSEDET_SAME_ABI(cuGraphDestroy, cuGraphDestroy);
static_assert(fusedet::cu::STREAM_CAPTURE_MODE_THREAD_LOCAL == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
static_assert(fusedet::cu::ATTR_CC_MAJOR == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR && fusedet::cu::ATTR_CC_MINOR == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(fusedet::cu::ATTR_MULTIPROCESSOR_COUNT == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT && fusedet::cu::FUNC_ATTR_NUM_REGS == CU_FUNC_ATTRIBUTE_NUM_REGS);
static_assert(fusedet::cu::FUNC_ATTR_LOCAL_SIZE_BYTES == CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES && fusedet::cu::FUNC_ATTR_MAX_THREADS_PER_BLOCK == CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
static_assert(fusedet::cu::JIT_ERROR_LOG_BUFFER == CU_JIT_ERROR_LOG_BUFFER && fusedet::cu::JIT_ERROR_LOG_BUFFER_SIZE_BYTES == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
static_assert(fusedet::cu::ERROR_OUT_OF_MEMORY == CUDA_ERROR_OUT_OF_MEMORY && fusedet::cu::ERROR_NOT_READY == CUDA_ERROR_NOT_READY);
static_assert(fusedet::cu::STREAM_NON_BLOCKING == CU_STREAM_NON_BLOCKING);

extern "C" {

// FAKE_CUDA_INIT=fail: a driver without a usable GPU.
CUresult cuInit(unsigned int) {
  if (flag("FAKE_CUDA_INIT", "fail")) return CUDA_ERROR_NO_DEVICE;
  initialised = true;
  return CUDA_SUCCESS;
}
CUresult cuDriverGetVersion(int* v) {
  *v = static_cast<int>(envNumber("FAKE_CUDA_VERSION", 13000));
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetCount(int* n) {
  *n = initialised ? 1 : 0;
  return initialised ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}
CUresult cuDeviceGet(CUdevice* d, int i) {
  *d = i;
  return CUDA_SUCCESS;
}
// FAKE_CUDA_CC=61: a GPU older than the minimum.
CUresult cuDeviceGetAttribute(int* v, CUdevice_attribute a, CUdevice) {
  const long cc = envNumber("FAKE_CUDA_CC", 90);
  *v = a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ? static_cast<int>(cc / 10)
       : a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ? static_cast<int>(cc % 10)
       : a == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT ? 4 : 0;
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char* name, int len, CUdevice) {
  std::snprintf(name, static_cast<size_t>(len), "Fake GPU");
  return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem(size_t* bytes, CUdevice) {
  *bytes = static_cast<size_t>(envNumber("FAKE_CUDA_MEM", 1L << 30));
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice) {
  *c = &theContext;
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease(CUdevice) { return CUDA_SUCCESS; }
CUresult cuDevicePrimaryCtxReset(CUdevice) {
  trace("context reset");
  stickyError = CUDA_SUCCESS;
  hung = false;
  liveBytes = 0;
  return CUDA_SUCCESS;
}
CUresult cuCtxSetCurrent(CUcontext) { return stickyError; }
// An image starting with "BAD" is refused with a JIT log, like a damaged cubin.
CUresult cuModuleLoadDataEx(CUmodule* m, const void* image, unsigned int n, CUjit_option* keys, void** values) {
  if (stickyError) return stickyError;
  if (std::memcmp(image, "BAD", 3) == 0) {
    for (unsigned i = 0; i < n; i++)
      if (keys[i] == CU_JIT_ERROR_LOG_BUFFER) std::snprintf(static_cast<char*>(values[i]), 64, "fake: not a cubin");
    return CUDA_ERROR_INVALID_IMAGE;
  }
  *m = new CUmod_st();
  return CUDA_SUCCESS;
}
CUresult cuModuleUnload(CUmodule m) {
  delete m;
  return CUDA_SUCCESS;
}
CUresult cuModuleGetFunction(CUfunction* f, CUmodule, const char* name) {
  const std::string n = name;
  const int params = n.rfind("inc", 0) == 0 ? 3 : n.rfind("accum", 0) == 0 || ends(n, "poke") ? 2 : n.rfind("fault", 0) == 0 || n.rfind("hang", 0) == 0 ? 1 : -1;
  if (params < 0 && flag("FAKE_CUDA_STRICT", "1")) return CUDA_ERROR_NOT_FOUND;
  *f = new CUfunc_st{n, params};
  return CUDA_SUCCESS;
}
// FAKE_CUDA_MAX_THREADS: the largest block a kernel's registers allow (default 1024).
CUresult cuFuncGetAttribute(int* v, CUfunction_attribute a, CUfunction) {
  *v = a == CU_FUNC_ATTRIBUTE_NUM_REGS ? 40 : a == CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES ? 8
       : a == CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK ? static_cast<int>(envNumber("FAKE_CUDA_MAX_THREADS", 1024)) : 0;
  return CUDA_SUCCESS;
}
// FAKE_CUDA_LAUNCH=701: every launch refused with that code.
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned, unsigned, unsigned bx, unsigned, unsigned, unsigned, CUstream, void** params, void**) {
  if (stickyError) return stickyError;
  if (const long code = envNumber("FAKE_CUDA_LAUNCH", 0)) return static_cast<CUresult>(code);
  if (bx > 1024) return CUDA_ERROR_INVALID_VALUE;
  Node n{f, gx, bx, {}};
  for (int i = 0; i < std::max(f->params, 0); i++) n.values.push_back(*static_cast<unsigned long long*>(params[i]));
  if (capturing) {
    trace("capture " + f->name);
    capturing->nodes.push_back(n);
  } else {
    execute(n);
  }
  return CUDA_SUCCESS;
}
// FAKE_CUDA_MEM (bytes, default 1 GiB) bounds what may be held.
CUresult cuMemAlloc(CUdeviceptr* p, size_t bytes) {
  if (stickyError) return stickyError;
  if (capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (liveBytes + bytes > static_cast<size_t>(envNumber("FAKE_CUDA_MEM", 1L << 30))) return CUDA_ERROR_OUT_OF_MEMORY;
  liveBytes += bytes;
  *p = reinterpret_cast<CUdeviceptr>(std::calloc(bytes, 1));
  allocations[*p] = bytes;
  return CUDA_SUCCESS;
}
CUresult cuMemFree(CUdeviceptr p) {
  allocations.erase(p);
  std::free(reinterpret_cast<void*>(p));
  return CUDA_SUCCESS;
}
CUresult cuMemGetInfo(size_t* freeBytes, size_t* total) {
  *total = static_cast<size_t>(envNumber("FAKE_CUDA_MEM", 1L << 30));
  *freeBytes = *total - liveBytes;
  return CUDA_SUCCESS;
}
CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream) {
  if (stickyError) return stickyError;
  std::memset(reinterpret_cast<void*>(p), v, n);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoDAsync(CUdeviceptr d, const void* h, size_t n, CUstream) {
  if (stickyError) return stickyError;
  std::memcpy(reinterpret_cast<void*>(d), h, n);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoHAsync(void* h, CUdeviceptr d, size_t n, CUstream) {
  if (stickyError) return stickyError;
  std::memcpy(h, reinterpret_cast<void*>(d), n);
  return CUDA_SUCCESS;
}
CUresult cuStreamCreate(CUstream* s, unsigned int) {
  *s = &theStream;
  return CUDA_SUCCESS;
}
CUresult cuStreamDestroy(CUstream) { return CUDA_SUCCESS; }
// FAKE_CUDA_FINISH=1: a hung kernel finishes after all.
CUresult cuStreamQuery(CUstream) {
  if (hung && flag("FAKE_CUDA_FINISH", "1")) hung = false;
  return stickyError ? stickyError : hung ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}
CUresult cuEventCreate(CUevent* e, unsigned int) {
  *e = new CUevent_st();
  return CUDA_SUCCESS;
}
CUresult cuEventDestroy(CUevent e) {
  delete e;
  return CUDA_SUCCESS;
}
CUresult cuEventRecord(CUevent, CUstream) { return stickyError; }
CUresult cuEventElapsedTime(float* ms, CUevent, CUevent) {
  *ms = 0.5f;
  return CUDA_SUCCESS;
}
CUresult cuGetErrorName(CUresult r, const char** s) {
  *s = r == CUDA_ERROR_OUT_OF_MEMORY ? "CUDA_ERROR_OUT_OF_MEMORY" : r == CUDA_ERROR_ILLEGAL_ADDRESS ? "CUDA_ERROR_ILLEGAL_ADDRESS"
       : r == CUDA_ERROR_INVALID_VALUE ? "CUDA_ERROR_INVALID_VALUE" : r == CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES ? "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"
       : r == CUDA_ERROR_INVALID_IMAGE ? "CUDA_ERROR_INVALID_IMAGE" : r == CUDA_ERROR_NO_DEVICE ? "CUDA_ERROR_NO_DEVICE"
       : r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED ? "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED" : r == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED ? "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"
       : r == CUDA_ERROR_NOT_SUPPORTED ? "CUDA_ERROR_NOT_SUPPORTED" : "CUDA_ERROR_UNKNOWN";
  return CUDA_SUCCESS;
}
CUresult cuGetErrorString(CUresult, const char** s) {
  *s = "fake driver";
  return CUDA_SUCCESS;
}
// FAKE_CUDA_CAPTURE=invalidate: the capture ends refused; =unsupported: it cannot begin.
CUresult cuStreamBeginCapture(CUstream, CUstreamCaptureMode mode) {
  if (stickyError) return stickyError;
  if (flag("FAKE_CUDA_CAPTURE", "unsupported")) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (capturing || mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL) return CUDA_ERROR_ILLEGAL_STATE;
  capturing = new CUgraph_st();
  return CUDA_SUCCESS;
}
CUresult cuStreamEndCapture(CUstream, CUgraph* g) {
  if (!capturing) return CUDA_ERROR_ILLEGAL_STATE;
  CUgraph_st* done = capturing;
  capturing = nullptr;
  if (flag("FAKE_CUDA_CAPTURE", "invalidate")) {
    delete done;
    *g = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  trace("captured " + std::to_string(done->nodes.size()) + " launches");
  *g = done;
  return CUDA_SUCCESS;
}
CUresult cuGraphInstantiateWithFlags(CUgraphExec* e, CUgraph g, unsigned long long) {
  *e = new CUgraphExec_st{g->nodes};
  return CUDA_SUCCESS;
}
// FAKE_CUDA_GRAPH_LAUNCH=fail: the replay is refused before anything runs.
CUresult cuGraphLaunch(CUgraphExec e, CUstream) {
  if (stickyError) return stickyError;
  if (flag("FAKE_CUDA_GRAPH_LAUNCH", "fail")) return CUDA_ERROR_NOT_SUPPORTED;
  trace("graph launch of " + std::to_string(e->nodes.size()) + " launches");
  for (const Node& n : e->nodes) execute(n);
  return CUDA_SUCCESS;
}
CUresult cuGraphExecDestroy(CUgraphExec e) {
  trace("graph destroyed");
  delete e;
  return CUDA_SUCCESS;
}
CUresult cuGraphDestroy(CUgraph g) {
  delete g;
  return CUDA_SUCCESS;
}

}  // extern "C"
