// NVRTC through the addon: loading it (after its builtins) and compiling one
// translation unit to a cubin, or to PTX for a GPU newer than NVRTC. Needs
// no driver or GPU, so the compile path is testable anywhere NVRTC is.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "cuda_addon.h"

namespace fusedet {
namespace {

using namespace cu;

std::string strArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::String>().Utf8Value(); }

// nvrtc(paths) -> { path, version: major*1000 + minor*10, archs: number[] (sm_XX it can build; empty if unknown) }
Napi::Value LoadNvrtcFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State& s = state();
  if (!s.nvrtc) {
    std::string why;
    s.nvrtc = loadNvrtc(strings(info[0]), &why);
    if (!s.nvrtc) throw Napi::Error::New(env, why);
  }
  int major = 0, minor = 0;
  s.nvrtc->nvrtcVersion(&major, &minor);
  Napi::Object out = Napi::Object::New(env);
  out.Set("path", s.nvrtc->path);
  std::vector<int> archs;
  int count = 0;
  if (s.nvrtc->nvrtcGetNumSupportedArchs && s.nvrtc->nvrtcGetSupportedArchs && s.nvrtc->nvrtcGetNumSupportedArchs(&count) == 0 && count > 0) {
    archs.resize(static_cast<size_t>(count));
    if (s.nvrtc->nvrtcGetSupportedArchs(archs.data()) != 0) archs.clear();
  }
  Napi::Array list = Napi::Array::New(env, archs.size());
  for (size_t i = 0; i < archs.size(); i++) list.Set(static_cast<uint32_t>(i), archs[i]);
  out.Set("archs", list);
  out.Set("version", major * 1000 + minor * 10);
  return out;
}

// nvrtcCompile(source, fileName, options, ptx?) -> { image: Buffer (cubin, or NUL-terminated PTX when ptx), log }
Napi::Value NvrtcCompile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Nvrtc* n = state().nvrtc;
  if (!n) throw Napi::Error::New(env, "NVRTC is not loaded (call nvrtc() first)");
  const std::string src = strArg(info, 0), file = strArg(info, 1);
  const std::vector<std::string> opts = strings(info[2]);
  std::vector<const char*> argv;
  for (const auto& o : opts) argv.push_back(o.c_str());
  nvrtcProgram prog = nullptr;
  nvrtcResult r = n->nvrtcCreateProgram(&prog, src.c_str(), file.c_str(), 0, nullptr, nullptr);
  if (r != 0) throw Napi::Error::New(env, std::string("nvrtcCreateProgram: ") + n->nvrtcGetErrorString(r));
  std::unique_ptr<_nvrtcProgram, void (*)(nvrtcProgram)> guard(prog, [](nvrtcProgram p) { state().nvrtc->nvrtcDestroyProgram(&p); });
  r = n->nvrtcCompileProgram(prog, static_cast<int>(argv.size()), argv.data());
  size_t logSize = 0;
  n->nvrtcGetProgramLogSize(prog, &logSize);
  std::string log(logSize, '\0');
  if (logSize) n->nvrtcGetProgramLog(prog, &log[0]);
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  if (r != 0) throw Napi::Error::New(env, std::string("NVRTC could not compile ") + file + " (" + n->nvrtcGetErrorString(r) + "):\n" + log);
  size_t size = 0;
  if (info.Length() > 3 && info[3].ToBoolean()) {
    r = n->nvrtcGetPTXSize(prog, &size);
    if (r != 0 || size == 0) throw Napi::Error::New(env, "NVRTC produced no PTX for " + file);
    auto ptx = Napi::Buffer<char>::New(env, size);
    r = n->nvrtcGetPTX(prog, ptx.Data());
    if (r != 0) throw Napi::Error::New(env, std::string("nvrtcGetPTX: ") + n->nvrtcGetErrorString(r));
    Napi::Object out = Napi::Object::New(env);
    out.Set("image", ptx);
    out.Set("log", log);
    return out;
  }
  r = n->nvrtcGetCUBINSize(prog, &size);
  if (r != 0 || size == 0) throw Napi::Error::New(env, "NVRTC produced no cubin for " + file + " (pass a real --gpu-architecture=sm_XX)");
  auto image = Napi::Buffer<char>::New(env, size);
  r = n->nvrtcGetCUBIN(prog, image.Data());
  if (r != 0) throw Napi::Error::New(env, std::string("nvrtcGetCUBIN: ") + n->nvrtcGetErrorString(r));
  Napi::Object out = Napi::Object::New(env);
  out.Set("image", image);
  out.Set("log", log);
  return out;
}

}  // namespace

void registerNvrtcFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("nvrtc", Napi::Function::New(env, LoadNvrtcFn));
  exports.Set("nvrtcCompile", Napi::Function::New(env, NvrtcCompile));
}

}  // namespace fusedet
