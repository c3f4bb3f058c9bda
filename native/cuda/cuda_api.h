// The slice of the CUDA driver API and of NVRTC that fusedet uses, declared
// here so the addon builds without CUDA headers and links nothing: both
// libraries are dlopen'ed at run time (cuda_load.cc) and every entry point is
// a function pointer. Types and values are those of the public CUDA ABI.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace fusedet {
namespace cu {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUstream = struct CUstream_st*;
using CUevent = struct CUevent_st*;
using CUgraph = struct CUgraph_st*;
using CUgraphExec = struct CUgraphExec_st*;

constexpr CUresult SUCCESS = 0;
constexpr CUresult ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult ERROR_NOT_READY = 600;
constexpr CUresult ERROR_NOT_SUPPORTED = 801;
constexpr int ATTR_MULTIPROCESSOR_COUNT = 16;
constexpr int ATTR_CC_MAJOR = 75;
constexpr int ATTR_CC_MINOR = 76;
constexpr int FUNC_ATTR_MAX_THREADS_PER_BLOCK = 0;
constexpr int FUNC_ATTR_LOCAL_SIZE_BYTES = 3;
constexpr int FUNC_ATTR_NUM_REGS = 4;
constexpr int JIT_ERROR_LOG_BUFFER = 5;
constexpr int JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr unsigned STREAM_NON_BLOCKING = 1;
// CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: only this thread's unsafe calls (none
// are made while capturing) would invalidate the capture.
constexpr int STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;

struct Driver {
  void* handle = nullptr;
  std::string path;
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int*);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice);
  CUresult (*cuDeviceGetName)(char*, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuDevicePrimaryCtxReset)(CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuModuleLoadDataEx)(CUmodule*, const void*, unsigned, int*, void**);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*cuFuncGetAttribute)(int*, int, CUfunction);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void**, void**);
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemGetInfo)(size_t*, size_t*);
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream*, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamQuery)(CUstream);
  CUresult (*cuEventCreate)(CUevent*, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventElapsedTime)(float*, CUevent, CUevent);
  CUresult (*cuGetErrorString)(CUresult, const char**);
  CUresult (*cuGetErrorName)(CUresult, const char**);
  // CUDA graphs (optional: a driver without them still runs plain launches;
  // `graphsMissing` names what it lacks). cuda.h maps cuStreamBeginCapture to
  // _v2 (with a capture mode) and cuGraphInstantiate to ...WithFlags (11.4+).
  CUresult (*cuStreamBeginCapture)(CUstream, int) = nullptr;
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph*) = nullptr;
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec*, CUgraph, unsigned long long) = nullptr;
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream) = nullptr;
  CUresult (*cuGraphExecDestroy)(CUgraphExec) = nullptr;
  CUresult (*cuGraphDestroy)(CUgraph) = nullptr;
  std::string graphsMissing;
};

using nvrtcResult = int;
using nvrtcProgram = struct _nvrtcProgram*;

struct Nvrtc {
  void* handle = nullptr;
  void* builtins = nullptr;
  std::string path;
  nvrtcResult (*nvrtcVersion)(int*, int*);
  const char* (*nvrtcGetErrorString)(nvrtcResult);
  nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*);
  nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram*);
  nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char* const*);
  nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcGetPTXSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetPTX)(nvrtcProgram, char*);
  // NVRTC 11.2+; without them the architectures it knows are not listed.
  nvrtcResult (*nvrtcGetNumSupportedArchs)(int*) = nullptr;
  nvrtcResult (*nvrtcGetSupportedArchs)(int*) = nullptr;
};

/**
 * dlopen's libcuda.so.1: first by name (the loader path), then each of
 * `paths`. Returns nullptr with `why` set to a sentence naming what was
 * searched or which symbol is missing (a driver too old).
 */
Driver* loadDriver(const std::vector<std::string>& paths, std::string* why);

/** dlopen's NVRTC from the first path that loads, after its builtins library beside it. */
Nvrtc* loadNvrtc(const std::vector<std::string>& paths, std::string* why);

/** `CUDA_ERROR_OUT_OF_MEMORY (out of memory)` for a result code. */
std::string errorText(const Driver& d, CUresult r);

}  // namespace cu
}  // namespace fusedet
