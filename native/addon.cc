// Entry point of fusedet's native addon. Each part (CPU now, CUDA later) adds
// its functions to the exports from its own source files.
#include <napi.h>

#include "cpu_addon.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fusedet::InitCpu(env, exports);
  return exports;
}

NODE_API_MODULE(fusedet_native, Init)
