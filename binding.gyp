{
  "targets": [
    {
      "target_name": "fusedet_native",
      "sources": ["native/addon.cc", "native/cpu_addon.cc", "native/cpu_pool.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2"],
      "libraries": ["-ldl", "-lpthread"]
    },
    {
      "target_name": "fusedet_cuda",
      "sources": ["native/cuda/cuda_addon.cc", "native/cuda/cuda_launch.cc", "native/cuda/cuda_load.cc", "native/cuda/cuda_nvrtc.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall"],
      "libraries": ["-ldl"]
    }
  ]
}
