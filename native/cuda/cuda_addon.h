// What the parts of fusedet_cuda.node share: the process's one device state
// (driver, NVRTC, primary context, stream), modules, and the checked-call
// helpers that turn driver errors into JavaScript errors. cuda_addon.cc
// opens the device and manages memory; cuda_nvrtc.cc compiles; cuda_launch.cc
// runs launch lists, plainly or as a CUDA graph.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "cuda_api.h"

namespace fusedet {

struct State {
  cu::Driver* driver = nullptr;
  cu::Nvrtc* nvrtc = nullptr;
  cu::CUdevice device = 0;
  cu::CUcontext ctx = nullptr;
  cu::CUstream stream = nullptr;
  bool open = false;
  // Bumped when the context is reset after a fatal error, so handles from
  // before (modules, pointers, graphs) are refused instead of used.
  int generation = 0;
  std::vector<cu::CUevent> events;
  // Set when a wait timed out with work still on the stream: nothing more is
  // queued behind it, and finalizers leak rather than risk blocking on it.
  bool busy = false;
  std::string busyWith;
};

State& state();

struct Module {
  cu::CUmodule module = nullptr;
  int generation = 0;
  std::vector<cu::CUfunction> functions;
  std::vector<std::string> names;
};

/** The module behind a loadModule() handle; throws when it died with a reset context. */
Module& moduleArg(const Napi::Env& env, const Napi::Value& v);

/** Errors after which the context is unusable (the driver's "sticky" errors). */
bool sticky(cu::CUresult r);

/** Throws `what: CUDA_ERROR_...`; a sticky error resets the context first and says so. */
[[noreturn]] void fail(const Napi::Env& env, const std::string& what, cu::CUresult r);
void check(const Napi::Env& env, cu::CUresult r, const std::string& what);

/**
 * Throws unless the device is open and not still busy with a run that timed
 * out; makes its context current.
 */
void requireOpen(const Napi::Env& env);

/** Waits for the stream, failing after `timeoutMs` instead of hanging (the device is then `busy`). */
void syncStream(const Napi::Env& env, double timeoutMs, const std::string& what);

uint64_t ptrArg(const Napi::Env& env, const Napi::Value& v);
uint8_t* viewData(const Napi::Env& env, const Napi::Value& v, size_t* bytes);

/**
 * Queues [ptr, TypedArray] copies on the stream; `label` names them in errors
 * ("input", "output"). A fatal error surfacing at a download after launches
 * is the kernels' doing: `afterKernels` then names them instead.
 */
void queueUploads(const Napi::Env& env, const Napi::Value& list, const std::string& label);
void queueDownloads(const Napi::Env& env, const Napi::Value& list, const std::string& label, const std::string& afterKernels = "");

/** The strings of a JavaScript array (anything else: none). */
std::vector<std::string> strings(const Napi::Value& v);

/** nvrtc, nvrtcCompile (cuda_nvrtc.cc). */
void registerNvrtcFunctions(Napi::Env env, Napi::Object exports);
/** run, captureGraph, runGraph, destroyGraph (cuda_launch.cc). */
void registerLaunchFunctions(Napi::Env env, Napi::Object exports);

}  // namespace fusedet
