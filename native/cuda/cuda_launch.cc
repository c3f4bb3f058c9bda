// Running a program's launch list on the one stream: plainly (every
// cuLaunchKernel from here, optionally timed with events between launches),
// or captured once into a CUDA graph and replayed with one cuGraphLaunch.
// Kernel parameters are captured by value, so a graph stays valid exactly as
// long as the plan and the slots' device pointers it was captured from; the
// caller (runtime-cuda/graphs.ts) decides when that is.
#include <napi.h>

#include <string>
#include <vector>

#include "cuda_addon.h"

namespace fusedet {
namespace {

using namespace cu;

// One launch of the plan with its parameters resolved. Every parameter is 8
// bytes (a device pointer or a `long long` argument).
struct Launch {
  int64_t index = 0, kernel = 0, grid = 0, block = 0;
  std::vector<uint64_t> values;
  std::vector<void*> params;
};

std::string launchName(const Module& m, const Launch& l) {
  return "launch " + std::to_string(l.index) + " of kernel " + m.names[l.kernel] + " (grid " + std::to_string(l.grid) + " x block " +
         std::to_string(l.block) + ")";
}

const int64_t* bigints(const Napi::Env& env, const Napi::Value& v, size_t* length, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array)
    throw Napi::TypeError::New(env, std::string("run: ") + what + " must be a BigInt64Array");
  auto a = v.As<Napi::TypedArray>();
  *length = a.ElementLength();
  return reinterpret_cast<const int64_t*>(static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}

// plan = [count, per launch: kernel, grid, block, nbufs, nargs, slot ids..., args...],
// checked whole before anything is queued (a capture must not start on a bad plan).
std::vector<Launch> parsePlan(const Napi::Env& env, const Module& m, const Napi::Value& planValue, const Napi::Value& slotValue) {
  size_t planLen = 0, slotCount = 0;
  const int64_t* plan = bigints(env, planValue, &planLen, "the plan");
  const int64_t* slots = bigints(env, slotValue, &slotCount, "the slots");
  auto bad = [&](const std::string& what) { return Napi::RangeError::New(env, "run: malformed plan: " + what); };
  if (planLen < 1 || plan[0] < 0) throw bad("no launch count");
  const int64_t count = plan[0];
  std::vector<Launch> launches(static_cast<size_t>(count));
  size_t at = 1;
  for (int64_t l = 0; l < count; l++) {
    if (at + 5 > planLen) throw bad("launch " + std::to_string(l) + " is truncated");
    Launch& x = launches[l];
    x.index = l;
    x.kernel = plan[at];
    x.grid = plan[at + 1];
    x.block = plan[at + 2];
    const int64_t nbufs = plan[at + 3], nargs = plan[at + 4];
    at += 5;
    if (x.kernel < 0 || x.kernel >= static_cast<int64_t>(m.functions.size())) throw bad("launch " + std::to_string(l) + " names kernel " + std::to_string(x.kernel));
    if (x.grid < 0 || nbufs < 0 || nargs < 0 || at + nbufs + nargs > planLen) throw bad("launch " + std::to_string(l) + " is truncated");
    if (x.grid > 2147483647LL || x.block < 1 || x.block > 1024)
      throw Napi::RangeError::New(env, launchName(m, x) + ": outside CUDA's limits (grid < 2^31, block 1..1024)");
    for (int64_t b = 0; b < nbufs; b++) {
      const int64_t id = plan[at + b];
      if (id < 0 || id >= static_cast<int64_t>(slotCount)) throw bad("launch " + std::to_string(l) + " uses slot " + std::to_string(id));
      x.values.push_back(static_cast<uint64_t>(slots[id]));
    }
    at += nbufs;
    for (int64_t a = 0; a < nargs; a++) x.values.push_back(static_cast<uint64_t>(plan[at + a]));
    at += nargs;
    for (auto& v : x.values) x.params.push_back(&v);
  }
  return launches;
}

CUresult launch(const Module& m, Launch& l) {
  State& s = state();
  return s.driver->cuLaunchKernel(m.functions[l.kernel], static_cast<unsigned>(l.grid), 1, 1, static_cast<unsigned>(l.block), 1, 1, 0, s.stream,
                                  l.params.data(), nullptr);
}

double timeoutArg(const Napi::Env& env, const Napi::Value& options) {
  if (!options.IsObject()) throw Napi::TypeError::New(env, "run: options must be an object");
  return options.As<Napi::Object>().Get("timeoutMs").ToNumber().DoubleValue();
}

std::string waitWhat(size_t count) {
  return "a kernel of this run (" + std::to_string(count) + " launches; FUSEDET_CUDA_SYNC=1 synchronises after each to name the failing one)";
}

// run(module, plan, slots, uploads, downloads, options: { timeoutMs, timing, syncEach })
//   -> Float64Array of ms per launch when timing, else undefined.
Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  State& s = state();
  Driver& d = *s.driver;
  Module& m = moduleArg(env, info[0]);
  std::vector<Launch> launches = parsePlan(env, m, info[1], info[2]);
  const double timeoutMs = timeoutArg(env, info[5]);
  auto opts = info[5].As<Napi::Object>();
  const bool timing = opts.Get("timing").ToBoolean();
  const bool syncEach = opts.Get("syncEach").ToBoolean();
  const size_t count = launches.size();
  if (timing) {
    while (s.events.size() < count + 1) {
      CUevent e = nullptr;
      check(env, d.cuEventCreate(&e, 0), "cuEventCreate");
      s.events.push_back(e);
    }
  }
  queueUploads(env, info[3], "input");
  if (timing) check(env, d.cuEventRecord(s.events[0], s.stream), "cuEventRecord");
  for (Launch& l : launches) {
    if (l.grid > 0) {
      const CUresult r = launch(m, l);
      // A fatal error returned by a launch may be an earlier kernel's fault.
      if (r != SUCCESS) fail(env, launchName(m, l) + (sticky(r) ? " (or a kernel queued before it)" : "") + " failed", r);
    }
    if (timing) check(env, d.cuEventRecord(s.events[l.index + 1], s.stream), "cuEventRecord");
    if (syncEach) syncStream(env, timeoutMs, launchName(m, l));
  }
  queueDownloads(env, info[4], "output", waitWhat(count));
  syncStream(env, timeoutMs, waitWhat(count));
  if (!timing) return env.Undefined();
  auto times = Napi::Float64Array::New(env, count);
  for (size_t l = 0; l < count; l++) {
    float ms = 0;
    check(env, d.cuEventElapsedTime(&ms, s.events[l], s.events[l + 1]), "cuEventElapsedTime");
    times.Data()[l] = static_cast<double>(ms);
  }
  return times;
}

struct Graph {
  CUgraphExec exec = nullptr;
  int generation = 0;
  size_t launches = 0;
  // Its nodes call the module's functions: the module must outlive it.
  Napi::Reference<Napi::Value> module;
};

void destroy(Graph* g) {
  State& s = state();
  if (g->exec && s.open && !s.busy && g->generation == s.generation) s.driver->cuGraphExecDestroy(g->exec);
  g->exec = nullptr;
}

Graph& graphArg(const Napi::Env& env, const Napi::Value& v) {
  if (!v.IsExternal()) throw Napi::TypeError::New(env, "expected a graph from captureGraph()");
  Graph* g = v.As<Napi::External<Graph>>().Data();
  if (!g->exec || g->generation != state().generation)
    throw Napi::Error::New(env, "this CUDA graph is no longer valid (destroyed, or the context was reset after an error)");
  return *g;
}

// Ends a capture that went wrong and drops whatever it recorded, so the
// stream is usable for plain launches afterwards.
void abandonCapture() {
  State& s = state();
  CUgraph partial = nullptr;
  s.driver->cuStreamEndCapture(s.stream, &partial);
  if (partial) s.driver->cuGraphDestroy(partial);
}

// captureGraph(module, plan, slots) -> graph: the launch list recorded (not
// run) into an instantiated CUDA graph. Throws naming the step that failed.
Napi::Value CaptureGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  State& s = state();
  Driver& d = *s.driver;
  if (!d.graphsMissing.empty())
    throw Napi::Error::New(env, "this NVIDIA driver has no CUDA graphs (it lacks " + d.graphsMissing + "); plain launches are used");
  Module& m = moduleArg(env, info[0]);
  std::vector<Launch> launches = parsePlan(env, m, info[1], info[2]);
  check(env, d.cuStreamBeginCapture(s.stream, STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
  size_t recorded = 0;
  for (Launch& l : launches) {
    if (l.grid == 0) continue;
    const CUresult r = launch(m, l);
    if (r != SUCCESS) {
      abandonCapture();
      fail(env, "capturing " + launchName(m, l), r);
    }
    recorded++;
  }
  CUgraph graph = nullptr;
  CUresult r = d.cuStreamEndCapture(s.stream, &graph);
  if (r != SUCCESS) {
    if (graph) d.cuGraphDestroy(graph);
    fail(env, "cuStreamEndCapture (" + std::to_string(recorded) + " launches)", r);
  }
  auto g = std::make_unique<Graph>();
  g->generation = s.generation;
  g->launches = recorded;
  g->module = Napi::Persistent(info[0]);
  r = d.cuGraphInstantiateWithFlags(&g->exec, graph, 0);
  // The executable graph is independent of the graph it came from.
  d.cuGraphDestroy(graph);
  if (r != SUCCESS) fail(env, "cuGraphInstantiateWithFlags (" + std::to_string(recorded) + " launches)", r);
  return Napi::External<Graph>::New(env, g.release(), [](Napi::Env, Graph* g) {
    destroy(g);
    delete g;
  });
}

// runGraph(graph, uploads, downloads, options: { timeoutMs }): uploads, one
// cuGraphLaunch, downloads, one wait. An error thrown before the graph was
// queued carries `notLaunched: true` (nothing ran; plain launches may retry).
Napi::Value RunGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  requireOpen(env);
  State& s = state();
  Graph& g = graphArg(env, info[0]);
  const double timeoutMs = timeoutArg(env, info[3]);
  queueUploads(env, info[1], "input");
  const CUresult r = s.driver->cuGraphLaunch(g.exec, s.stream);
  if (r != SUCCESS) {
    if (sticky(r)) fail(env, "cuGraphLaunch (" + std::to_string(g.launches) + " launches)", r);
    Napi::Error e = Napi::Error::New(env, "cuGraphLaunch (" + std::to_string(g.launches) + " launches): " + errorText(*s.driver, r));
    e.Set("notLaunched", Napi::Boolean::New(env, true));
    throw e;
  }
  const std::string what = waitWhat(g.launches) + " (replayed as a CUDA graph; FUSEDET_CUDA_GRAPHS=0 turns graphs off)";
  queueDownloads(env, info[2], "output", what);
  syncStream(env, timeoutMs, what);
  return env.Undefined();
}

// destroyGraph(graph): frees it now rather than at garbage collection; idempotent.
Napi::Value DestroyGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsExternal()) throw Napi::TypeError::New(env, "expected a graph from captureGraph()");
  destroy(info[0].As<Napi::External<Graph>>().Data());
  return env.Undefined();
}

}  // namespace

void registerLaunchFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("run", Napi::Function::New(env, Run));
  exports.Set("captureGraph", Napi::Function::New(env, CaptureGraph));
  exports.Set("runGraph", Napi::Function::New(env, RunGraph));
  exports.Set("destroyGraph", Napi::Function::New(env, DestroyGraph));
}

}  // namespace fusedet
