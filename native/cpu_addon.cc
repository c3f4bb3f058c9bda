#include "cpu_addon.h"

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cpu_pool.h"

namespace fusedet {
namespace {

struct Library {
  void* handle = nullptr;
  std::string path;
  std::vector<KernelFn> kernels;
  ~Library() {
    if (handle) dlclose(handle);
  }
};

// Process-wide (worker_threads share it); a run holds its own reference, so
// setThreads never destroys a pool that is running.
std::mutex poolMutex;
std::shared_ptr<CpuPool> pool;

std::shared_ptr<CpuPool> thePool() {
  std::lock_guard<std::mutex> lock(poolMutex);
  if (!pool) pool = std::make_shared<CpuPool>(defaultThreadCount());
  return pool;
}

// loadLibrary(path, symbols) -> opaque handle whose kernel i is symbols[i].
Napi::Value LoadLibrary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray())
    throw Napi::TypeError::New(env, "loadLibrary(path: string, symbols: string[])");
  auto lib = std::make_unique<Library>();
  lib->path = info[0].As<Napi::String>().Utf8Value();
  lib->handle = dlopen(lib->path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle) {
    const char* err = dlerror();
    throw Napi::Error::New(env, std::string("cannot load kernel library: ") + (err ? err : lib->path));
  }
  Napi::Array symbols = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < symbols.Length(); i++) {
    std::string name = symbols.Get(i).As<Napi::String>().Utf8Value();
    dlerror();
    void* sym = dlsym(lib->handle, name.c_str());
    if (!sym) throw Napi::Error::New(env, "kernel '" + name + "' is missing from " + lib->path);
    lib->kernels.push_back(reinterpret_cast<KernelFn>(sym));
  }
  return Napi::External<Library>::New(env, lib.release(), [](Napi::Env, Library* l) { delete l; });
}

// Empty arrays may have no backing store; kernels never read them, but the
// pointer must not look like a missing buffer.
alignas(64) uint8_t emptyBuffer[64];

void* bufferData(Napi::Env env, const Napi::Value& v, size_t* bytes) {
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    *bytes = ab.ByteLength();
    return ab.Data() ? ab.Data() : emptyBuffer;
  }
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    *bytes = ta.ByteLength();
    void* base = ta.ArrayBuffer().Data();
    return base ? static_cast<uint8_t*>(base) + ta.ByteOffset() : emptyBuffer;
  }
  if (v.IsNull() || v.IsUndefined()) {
    *bytes = 0;
    return nullptr;
  }
  throw Napi::TypeError::New(env, "runLaunches: every buffer must be an ArrayBuffer, a TypedArray or null");
}

// runLaunches(lib, plan: BigInt64Array, buffers: (ArrayBuffer|TypedArray|null)[], schedule?: Int32Array)
// plan = [count, then per launch: kernel, grid, nbufs, nargs, buf ids..., args...].
// schedule (one entry per launch, runtime-cpu/plan.ts): bit 0 = wait for
// every earlier launch first; the rest (entry >> 1) = the length of the
// serial run this launch starts (0: split over the threads). Without it,
// every launch waits for the one before and is split.
// The buffers are used in place (no copies); args point into the plan itself.
Napi::Value RunLaunches(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsExternal() || !info[1].IsTypedArray() || !info[2].IsArray())
    throw Napi::TypeError::New(env, "runLaunches(lib, plan: BigInt64Array, buffers: ArrayBuffer[], schedule?: Int32Array)");
  Library* lib = info[0].As<Napi::External<Library>>().Data();
  auto planArr = info[1].As<Napi::TypedArray>();
  if (planArr.TypedArrayType() != napi_bigint64_array)
    throw Napi::TypeError::New(env, "runLaunches: plan must be a BigInt64Array");
  const int64_t* plan = reinterpret_cast<const int64_t*>(
      static_cast<uint8_t*>(planArr.ArrayBuffer().Data()) + planArr.ByteOffset());
  const size_t planLen = planArr.ElementLength();

  Napi::Array bufArr = info[2].As<Napi::Array>();
  std::vector<void*> buffers(bufArr.Length());
  for (uint32_t i = 0; i < bufArr.Length(); i++) {
    size_t bytes = 0;
    buffers[i] = bufferData(env, bufArr.Get(i), &bytes);
  }

  std::shared_ptr<CpuPool> held = thePool();
  CpuPool& p = *held;
  auto bad = [&](const std::string& what) { return Napi::RangeError::New(env, "runLaunches: malformed plan: " + what); };
  if (planLen < 1 || plan[0] < 0) throw bad("no launch count");
  const int64_t count = plan[0];
  std::vector<Launch> launches;
  launches.reserve(count);
  // Pointer tables are filled first and addressed after, since growing the
  // vector would move them.
  std::vector<size_t> bufOffsets;
  std::vector<void*> ptrs;
  size_t at = 1;
  for (int64_t l = 0; l < count; l++) {
    if (at + 4 > planLen) throw bad("launch " + std::to_string(l) + " is truncated");
    const int64_t kernel = plan[at], grid = plan[at + 1], nbufs = plan[at + 2], nargs = plan[at + 3];
    at += 4;
    if (kernel < 0 || kernel >= static_cast<int64_t>(lib->kernels.size()))
      throw bad("launch " + std::to_string(l) + " names kernel " + std::to_string(kernel));
    if (grid < 0 || nbufs < 0 || nargs < 0 || at + nbufs + nargs > planLen)
      throw bad("launch " + std::to_string(l) + " is truncated");
    bufOffsets.push_back(ptrs.size());
    for (int64_t b = 0; b < nbufs; b++) {
      const int64_t id = plan[at + b];
      if (id < 0 || id >= static_cast<int64_t>(buffers.size()))
        throw bad("launch " + std::to_string(l) + " uses buffer " + std::to_string(id));
      // A kernel would dereference it: refuse here rather than crash the process.
      if (!buffers[id])
        throw Napi::TypeError::New(env, "runLaunches: launch " + std::to_string(l) + " uses buffer " + std::to_string(id) + ", which is null");
      ptrs.push_back(buffers[id]);
    }
    at += nbufs;
    // Several chunks per thread balance uneven workgroups without paying
    // an atomic per workgroup.
    const int64_t pieces = static_cast<int64_t>(p.threads()) * 4;
    const int64_t chunk = grid <= pieces ? 1 : (grid + pieces - 1) / pieces;
    launches.push_back(Launch{lib->kernels[kernel], nullptr, plan + at, grid, chunk, true, 0});
    at += nargs;
  }
  for (size_t l = 0; l < launches.size(); l++) launches[l].bufs = ptrs.data() + bufOffsets[l];
  if (info.Length() >= 4 && !info[3].IsUndefined()) {
    if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(env, "runLaunches: schedule must be an Int32Array");
    auto sched = info[3].As<Napi::Int32Array>();
    if (sched.ElementLength() != launches.size())
      throw bad("the schedule has " + std::to_string(sched.ElementLength()) + " entries for " + std::to_string(launches.size()) + " launches");
    // Inside a serial run no launch may wait or start another run: the run is one thread's.
    size_t runEnd = 0;
    for (size_t l = 0; l < launches.size(); l++) {
      const int32_t e = sched[l];
      const int64_t run = e >> 1;
      if (e < 0 || static_cast<size_t>(run) > launches.size() - l)
        throw bad("schedule entry " + std::to_string(l) + " (" + std::to_string(e) + ") is negative or runs past the last launch");
      if (l < runEnd && e != 0) throw bad("launch " + std::to_string(l) + " is inside a serial run but has schedule entry " + std::to_string(e));
      launches[l].barrierBefore = (e & 1) != 0;
      launches[l].serialRun = run;
      if (run > 0) runEnd = l + static_cast<size_t>(run);
    }
  }
  p.run(launches);
  return env.Undefined();
}

// Fresh memory is faulted in page by page on first touch, and on a virtual
// machine that costs ~15 us per 4 KiB page (measured here: a 1.6 MB output
// 4-6 ms, against 0.05 ms to copy it into memory already touched; every run
// hands its outputs to the caller in fresh ArrayBuffers). Two remedies:
//  - the caller's copies of kHugeBytes and more are mapped 2 MiB-aligned and advised as
//    transparent huge pages: one fault per 2 MiB instead of 512 (fresh memory still
//    costs its clearing: ~2.5 ms per MB here when nothing is recycled);
//  - a buffer the garbage collector frees goes to a free list of its exact
//    size (outputs of one program repeat their sizes run after run), up to
//    a cap; past the cap, or below 64 KiB where malloc keeps its own free
//    lists, it is released.
constexpr size_t kRecycleMinBytes = 64 << 10;
constexpr size_t kHugeBytes = 512 << 10;
constexpr size_t kHugePage = 2 << 20;

// Only the caller's copies (alloc's zero = false) take huge pages: program
// buffers are touched once, at load, and blocks that all start on a 2 MiB
// boundary alias in the caches (R50-FPN's forward ran 1.7x slower with every
// buffer mapped so).
size_t blockSize(size_t bytes, bool mapped) {
  const size_t size = bytes == 0 ? 64 : bytes;
  return mapped ? (size + kHugePage - 1) / kHugePage * kHugePage : size;
}

void* mapBlock(size_t size, bool mapped) {
  if (!mapped) {
    void* p = nullptr;
    return posix_memalign(&p, 64, size) == 0 ? p : nullptr;
  }
  // Over-map by a huge page and trim, so the block starts on a 2 MiB boundary.
  void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t)(kHugePage - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const size_t tail = start + kHugePage - aligned;  // what the over-mapping leaves past the block
  if (tail) munmap(reinterpret_cast<void*>(aligned + size), tail);
#ifdef MADV_HUGEPAGE  // Linux only; elsewhere the aligned block is still one mapping
  madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);  // advice only: harmless where THP is off
#endif
  return reinterpret_cast<void*>(aligned);
}

void unmapBlock(void* p, size_t size, bool mapped) {
  if (!mapped) std::free(p);
  else munmap(p, size);
}

struct Recycler {
  std::mutex m;
  std::multimap<std::pair<size_t, bool>, void*> blocks;  // (size, mapped)
  size_t cached = 0;
  size_t cap = 256u << 20;
  double reused = 0;
};
Recycler& recycler() {
  static Recycler* r = [] {
    auto* fresh = new Recycler();  // never destroyed: finalizers may run during exit
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && pageSize > 0) fresh->cap = std::min(fresh->cap, static_cast<size_t>(pages) * static_cast<size_t>(pageSize) / 16);
    return fresh;
  }();
  return *r;
}

void* takeBlock(size_t size, bool mapped) {
  if (size >= kRecycleMinBytes) {
    Recycler& r = recycler();
    std::lock_guard<std::mutex> lock(r.m);
    auto it = r.blocks.find({size, mapped});
    if (it != r.blocks.end()) {
      void* p = it->second;
      r.blocks.erase(it);
      r.cached -= size;
      r.reused += 1;
      return p;
    }
  }
  return mapBlock(size, mapped);
}

void giveBack(void* p, size_t size, bool mapped) {
  if (size >= kRecycleMinBytes) {
    Recycler& r = recycler();
    std::lock_guard<std::mutex> lock(r.m);
    if (r.cached + size <= r.cap) {
      r.blocks.emplace(std::make_pair(size, mapped), p);
      r.cached += size;
      return;
    }
  }
  unmapBlock(p, size, mapped);
}

// alloc(bytes, zero = true) -> ArrayBuffer aligned to 64 bytes (a cache line,
// and enough for any vector load), zeroed unless the caller overwrites all of
// it; its memory is recycled (above) when the ArrayBuffer is collected.
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "alloc(bytes: number, zero?: boolean)");
  const double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 0) || requested > 9007199254740991.0)
    throw Napi::RangeError::New(env, "alloc: bad size " + std::to_string(requested));
  const bool zero = info.Length() < 2 || !info[1].IsBoolean() || info[1].As<Napi::Boolean>().Value();
  const size_t bytes = static_cast<size_t>(requested);
  const bool mapped = !zero && bytes >= kHugeBytes;
  const size_t size = blockSize(bytes, mapped);
  void* data = takeBlock(size, mapped);
  if (!data)
    throw Napi::Error::New(env, "cannot allocate " + std::to_string(bytes) + " bytes");
  if (zero) std::memset(data, 0, bytes);
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
  return Napi::ArrayBuffer::New(env, data, bytes, [bytes, size, mapped](Napi::Env e, void* d) {
    giveBack(d, size, mapped);
    Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(bytes));
  });
}

// recycled() -> { blocks, bytes, reused, cap }: the free lists of alloc, for tests and FUSEDET_DEBUG.
Napi::Value Recycled(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Recycler& r = recycler();
  std::lock_guard<std::mutex> lock(r.m);
  Napi::Object o = Napi::Object::New(env);
  o.Set("blocks", Napi::Number::New(env, static_cast<double>(r.blocks.size())));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(r.cached)));
  o.Set("reused", Napi::Number::New(env, r.reused));
  o.Set("cap", Napi::Number::New(env, static_cast<double>(r.cap)));
  return o;
}

Napi::Value Threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), thePool()->threads());
}

// setThreads(n): replaces the pool (tests sweep thread counts; FUSEDET_THREADS
// is the user's way).
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setThreads(n: number)");
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1 || n > 1024) throw Napi::RangeError::New(env, "setThreads: n must be in 1..1024");
  auto fresh = std::make_shared<CpuPool>(n);
  std::lock_guard<std::mutex> lock(poolMutex);
  pool = fresh;
  return env.Undefined();
}

}  // namespace

void InitCpu(Napi::Env env, Napi::Object exports) {
  exports.Set("loadLibrary", Napi::Function::New(env, LoadLibrary));
  exports.Set("runLaunches", Napi::Function::New(env, RunLaunches));
  exports.Set("alloc", Napi::Function::New(env, Alloc));
  exports.Set("recycled", Napi::Function::New(env, Recycled));
  exports.Set("threads", Napi::Function::New(env, Threads));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
}

}  // namespace fusedet
