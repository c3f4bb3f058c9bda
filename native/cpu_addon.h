// The CPU half of the addon: dlopen of compiled kernels, aligned buffers and
// the thread pool. The CUDA half registers itself beside it in addon.cc.
#pragma once
#include <napi.h>

namespace fusedet {
void InitCpu(Napi::Env env, Napi::Object exports);
}
