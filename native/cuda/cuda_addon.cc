// fusedet_cuda.node: the CUDA half of the native addon, a module of its own
// (binding.gyp target fusedet_cuda) so the CPU half never depends on it.
// Everything runs on Node's main thread against the device's primary
// context and one stream. Device pointers cross into JavaScript as BigInts.
#include <napi.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cuda_addon.h"

namespace fusedet {

using namespace cu;

State& state() {
  static State s;
  return s;
}

// 701 (LAUNCH_OUT_OF_RESOURCES: too many registers for the block) is a
// refused launch, not a broken context, so it is not among these.
bool sticky(CUresult r) { return r == 700 || r == 702 || r == 714 || r == 715 || r == 716 || r == 717 || r == 718 || r == 719 || r == 214; }

namespace {

void resetAfter(CUresult r) {
  State& s = state();
  if (!sticky(r) || !s.open) return;
  // The context cannot be repaired; a fresh primary context makes the device
  // usable again for a later load in this process.
  s.events.clear();
  s.stream = nullptr;
  s.busy = false;
  s.driver->cuDevicePrimaryCtxReset(s.device);
  s.open = false;
  s.generation++;
}

}  // namespace

void fail(const Napi::Env& env, const std::string& what, CUresult r) {
  std::string msg = what + ": " + errorText(*state().driver, r);
  if (sticky(r) && state().open) {
    resetAfter(r);
    msg += "; the CUDA context was reset, so the program must be loaded again";
  }
  throw Napi::Error::New(env, msg);
}

void check(const Napi::Env& env, CUresult r, const std::string& what) {
  if (r != SUCCESS) fail(env, what, r);
}

void requireOpen(const Napi::Env& env) {
  State& s = state();
  if (!s.open) throw Napi::Error::New(env, "the CUDA device is not open (call open() first, or it was reset after an error)");
  check(env, s.driver->cuCtxSetCurrent(s.ctx), "cuCtxSetCurrent");
  if (s.busy) {
    const CUresult r = s.driver->cuStreamQuery(s.stream);
    if (r == ERROR_NOT_READY)
      throw Napi::Error::New(env, "the GPU is still running " + s.busyWith + ", which did not finish in time: wait for it, or restart the process");
    s.busy = false;
    if (r != SUCCESS) fail(env, s.busyWith + " (after the time limit)", r);
  }
}

// Waits for the stream with a deadline, so a hung kernel becomes an error
// instead of a hung process.
void syncStream(const Napi::Env& env, double timeoutMs, const std::string& what) {
  State& s = state();
  const auto start = std::chrono::steady_clock::now();
  int spins = 0;
  for (;;) {
    const CUresult r = s.driver->cuStreamQuery(s.stream);
    if (r == SUCCESS) return;
    if (r != ERROR_NOT_READY) fail(env, what, r);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (ms > timeoutMs) {
      char limit[32];
      std::snprintf(limit, sizeof limit, "%g", timeoutMs / 1000);
      s.busy = true;
      s.busyWith = what;
      throw Napi::Error::New(env, what + ": the GPU did not finish within " + limit + " s (FUSEDET_CUDA_TIMEOUT sets the limit in seconds)");
    }
    if (++spins > 200) std::this_thread::sleep_for(std::chrono::microseconds(spins > 2000 ? 1000 : 50));
  }
}

uint64_t ptrArg(const Napi::Env& env, const Napi::Value& v) {
  if (!v.IsBigInt()) throw Napi::TypeError::New(env, "a device pointer must be a bigint");
  bool lossless = true;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}

uint8_t* viewData(const Napi::Env& env, const Napi::Value& v, size_t* bytes) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "host data must be a TypedArray");
  auto ta = v.As<Napi::TypedArray>();
  *bytes = ta.ByteLength();
  return static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
}

namespace {

// [ptr, TypedArray] pairs of a copy list, checked before anything is queued.
std::vector<std::pair<uint64_t, std::pair<uint8_t*, size_t>>> pairs(const Napi::Env& env, const Napi::Value& list) {
  if (!list.IsArray()) throw Napi::TypeError::New(env, "copies must be an array of [bigint, TypedArray] pairs");
  auto a = list.As<Napi::Array>();
  std::vector<std::pair<uint64_t, std::pair<uint8_t*, size_t>>> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value item = a.Get(i);
    if (!item.IsArray()) throw Napi::TypeError::New(env, "copies must be an array of [bigint, TypedArray] pairs");
    auto pair = item.As<Napi::Array>();
    size_t bytes = 0;
    uint8_t* data = viewData(env, pair.Get(1u), &bytes);
    out.push_back({ptrArg(env, pair.Get(0u)), {data, bytes}});
  }
  return out;
}

}  // namespace

void queueUploads(const Napi::Env& env, const Napi::Value& list, const std::string& label) {
  State& s = state();
  const auto ups = pairs(env, list);
  for (size_t i = 0; i < ups.size(); i++) {
    const size_t bytes = ups[i].second.second;
    check(env, s.driver->cuMemcpyHtoDAsync(ups[i].first, ups[i].second.first, bytes, s.stream),
          "upload of " + label + " " + std::to_string(i) + " (" + std::to_string(bytes) + " bytes)");
  }
}

void queueDownloads(const Napi::Env& env, const Napi::Value& list, const std::string& label, const std::string& afterKernels) {
  State& s = state();
  const auto downs = pairs(env, list);
  for (size_t i = 0; i < downs.size(); i++) {
    const size_t bytes = downs[i].second.second;
    const CUresult r = s.driver->cuMemcpyDtoHAsync(downs[i].second.first, downs[i].first, bytes, s.stream);
    if (r == SUCCESS) continue;
    if (sticky(r) && !afterKernels.empty()) fail(env, afterKernels, r);
    fail(env, "download of " + label + " " + std::to_string(i) + " (" + std::to_string(bytes) + " bytes)", r);
  }
}

std::vector<std::string> strings(const Napi::Value& v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

namespace {

// open(driverPaths, deviceIndex, minCC) -> { name, cc, driverVersion, multiprocessors, totalBytes, libcuda }
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = state();
  const int index = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
  const int minCC = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 70;
  if (!s.driver) {
    std::string why;
    s.driver = loadDriver(strings(info[0]), &why);
    if (!s.driver) throw Napi::Error::New(env, why);
  }
  Driver& d = *s.driver;
  CUresult r = d.cuInit(0);
  if (r != SUCCESS) {
    int version = 0;
    d.cuDriverGetVersion(&version);
    throw Napi::Error::New(env, "cuInit failed: " + errorText(d, r) + " (driver " + d.path + ", CUDA " + std::to_string(version / 1000) + "." +
                                    std::to_string(version % 1000 / 10) + "): no usable NVIDIA GPU, or the driver and kernel module do not match");
  }
  int count = 0;
  check(env, d.cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (count == 0) throw Napi::Error::New(env, "the NVIDIA driver is installed but sees no GPU (cuDeviceGetCount = 0; check CUDA_VISIBLE_DEVICES)");
  if (index < 0 || index >= count)
    throw Napi::Error::New(env, "FUSEDET_CUDA_DEVICE=" + std::to_string(index) + " but there are " + std::to_string(count) + " GPU(s)");
  check(env, d.cuDeviceGet(&s.device, index), "cuDeviceGet");
  int major = 0, minor = 0, sms = 0, version = 0;
  char name[256] = {0};
  size_t total = 0;
  check(env, d.cuDeviceGetAttribute(&major, ATTR_CC_MAJOR, s.device), "cuDeviceGetAttribute(major)");
  check(env, d.cuDeviceGetAttribute(&minor, ATTR_CC_MINOR, s.device), "cuDeviceGetAttribute(minor)");
  check(env, d.cuDeviceGetAttribute(&sms, ATTR_MULTIPROCESSOR_COUNT, s.device), "cuDeviceGetAttribute(SMs)");
  check(env, d.cuDeviceGetName(name, sizeof name - 1, s.device), "cuDeviceGetName");
  check(env, d.cuDeviceTotalMem(&total, s.device), "cuDeviceTotalMem");
  check(env, d.cuDriverGetVersion(&version), "cuDriverGetVersion");
  if (major * 10 + minor < minCC) {
    throw Napi::Error::New(env, std::string(name) + " has compute capability " + std::to_string(major) + "." + std::to_string(minor) +
                                    "; fusedet's CUDA runtime needs " + std::to_string(minCC / 10) + "." + std::to_string(minCC % 10) + " or newer");
  }
  if (!s.open) {
    check(env, d.cuDevicePrimaryCtxRetain(&s.ctx, s.device), "cuDevicePrimaryCtxRetain");
    check(env, d.cuCtxSetCurrent(s.ctx), "cuCtxSetCurrent");
    check(env, d.cuStreamCreate(&s.stream, STREAM_NON_BLOCKING), "cuStreamCreate");
    s.open = true;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", name);
  out.Set("cc", major * 10 + minor);
  out.Set("driverVersion", version);
  out.Set("multiprocessors", sms);
  out.Set("totalBytes", static_cast<double>(total));
  out.Set("libcuda", d.path);
  out.Set("generation", s.generation);
  return out;
}

}  // namespace

Module& moduleArg(const Napi::Env& env, const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(env, "expected a module from loadModule()");
  Module* m = v.As<Napi::External<Module>>().Data();
  if (!m->module || m->generation != state().generation)
    throw Napi::Error::New(env, "this CUDA module is no longer valid (unloaded, or the context was reset after an error)");
  return *m;
}

namespace {

// loadModule(image: Uint8Array (cubin or NUL-terminated PTX), names) -> module
Napi::Value LoadModule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  Driver& d = *state().driver;
  auto image = info[0].As<Napi::Uint8Array>();
  const std::vector<std::string> names = strings(info[1]);
  auto m = std::make_unique<Module>();
  m->generation = state().generation;
  m->names = names;
  char log[8192] = {0};
  int keys[] = {JIT_ERROR_LOG_BUFFER, JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* values[] = {log, reinterpret_cast<void*>(static_cast<uintptr_t>(sizeof log))};
  CUresult r = d.cuModuleLoadDataEx(&m->module, image.Data(), 2, keys, values);
  if (r != SUCCESS) fail(env, std::string("cuModuleLoadData refused the compiled kernels") + (log[0] ? std::string(" (") + log + ")" : ""), r);
  for (const auto& name : names) {
    CUfunction f = nullptr;
    r = d.cuModuleGetFunction(&f, m->module, name.c_str());
    if (r != SUCCESS) {
      d.cuModuleUnload(m->module);
      fail(env, "kernel '" + name + "' is missing from the compiled module", r);
    }
    m->functions.push_back(f);
  }
  return Napi::External<Module>::New(env, m.release(), [](Napi::Env, Module* m) {
    State& s = state();
    if (m->module && s.open && !s.busy && m->generation == s.generation) s.driver->cuModuleUnload(m->module);
    delete m;
  });
}

// kernelInfo(module) -> per kernel { registers, localBytes (spills and local
// arrays, per thread), maxThreads (the largest block its registers allow) }
Napi::Value KernelInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  Module& m = moduleArg(env, info[0]);
  Napi::Array out = Napi::Array::New(env, m.functions.size());
  for (size_t i = 0; i < m.functions.size(); i++) {
    int regs = 0, local = 0, maxThreads = 0;
    check(env, state().driver->cuFuncGetAttribute(&regs, FUNC_ATTR_NUM_REGS, m.functions[i]), "cuFuncGetAttribute(NUM_REGS)");
    check(env, state().driver->cuFuncGetAttribute(&local, FUNC_ATTR_LOCAL_SIZE_BYTES, m.functions[i]), "cuFuncGetAttribute(LOCAL_SIZE_BYTES)");
    check(env, state().driver->cuFuncGetAttribute(&maxThreads, FUNC_ATTR_MAX_THREADS_PER_BLOCK, m.functions[i]), "cuFuncGetAttribute(MAX_THREADS_PER_BLOCK)");
    Napi::Object k = Napi::Object::New(env);
    k.Set("registers", regs);
    k.Set("localBytes", local);
    k.Set("maxThreads", maxThreads);
    out.Set(static_cast<uint32_t>(i), k);
  }
  return out;
}

// 1.5 GiB, 640.0 KiB, 512 B: readable at every size an allocation can have.
std::string human(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    u++;
  }
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return text;
}

// alloc(bytes) -> bigint device pointer (zeroed)
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  Driver& d = *state().driver;
  const double bytes = info[0].As<Napi::Number>().DoubleValue();
  CUdeviceptr p = 0;
  CUresult r = d.cuMemAlloc(&p, bytes < 1 ? 1 : static_cast<size_t>(bytes));
  if (r == ERROR_OUT_OF_MEMORY) {
    size_t freeB = 0, totalB = 0;
    d.cuMemGetInfo(&freeB, &totalB);
    throw Napi::Error::New(env, "out of GPU memory allocating " + std::to_string(static_cast<long long>(bytes)) + " bytes (" + human(bytes) + "); " +
                                    human(static_cast<double>(freeB)) + " free of " + human(static_cast<double>(totalB)));
  }
  check(env, r, "cuMemAlloc(" + std::to_string(static_cast<long long>(bytes)) + " bytes)");
  check(env, d.cuMemsetD8Async(p, 0, static_cast<size_t>(bytes), state().stream), "cuMemsetD8Async");
  return Napi::BigInt::New(env, static_cast<uint64_t>(p));
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t p = ptrArg(env, info[0]);
  const int generation = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : state().generation;
  // Pointers from before a reset died with their context.
  if (state().open && generation == state().generation) {
    requireOpen(env);
    check(env, state().driver->cuMemFree(p), "cuMemFree");
  }
  return env.Undefined();
}

// zero(ptr, bytes): stream-ordered, so a reused block reads as zeros to the next launch.
Napi::Value Zero(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  const uint64_t p = ptrArg(env, info[0]);
  const double bytes = info[1].As<Napi::Number>().DoubleValue();
  check(env, state().driver->cuMemsetD8Async(p, 0, static_cast<size_t>(bytes), state().stream), "cuMemsetD8Async");
  return env.Undefined();
}

Napi::Value MemInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  size_t freeB = 0, totalB = 0;
  check(env, state().driver->cuMemGetInfo(&freeB, &totalB), "cuMemGetInfo");
  Napi::Object out = Napi::Object::New(env);
  out.Set("free", static_cast<double>(freeB));
  out.Set("total", static_cast<double>(totalB));
  return out;
}

// copy(uploads: [ptr, TypedArray][], downloads: [ptr, Uint8Array][], timeoutMs)
// queues every copy on the stream, then waits once.
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  const double timeoutMs = info[2].As<Napi::Number>().DoubleValue();
  queueUploads(env, info[0], "copy");
  queueDownloads(env, info[1], "copy");
  syncStream(env, timeoutMs, "copy");
  return env.Undefined();
}

Napi::Value Generation(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), state().generation); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("loadModule", Napi::Function::New(env, LoadModule));
  exports.Set("kernelInfo", Napi::Function::New(env, KernelInfo));
  exports.Set("alloc", Napi::Function::New(env, Alloc));
  exports.Set("free", Napi::Function::New(env, Free));
  exports.Set("zero", Napi::Function::New(env, Zero));
  exports.Set("memInfo", Napi::Function::New(env, MemInfo));
  exports.Set("copy", Napi::Function::New(env, Copy));
  exports.Set("generation", Napi::Function::New(env, Generation));
  registerNvrtcFunctions(env, exports);
  registerLaunchFunctions(env, exports);
  return exports;
}

}  // namespace
}  // namespace fusedet

static Napi::Object InitCuda(Napi::Env env, Napi::Object exports) { return fusedet::Init(env, exports); }

NODE_API_MODULE(fusedet_cuda, InitCuda)
