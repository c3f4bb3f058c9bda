#!/usr/bin/env bash
# `npm run gpu:test` / `npm run gpu:bench`, ON the NVIDIA machine (no npm
# there: call it as `bash tools/gpu/run.sh test|bench|all`). Needs what
# tools/gpu/pack.mjs made: .gpu/ and build/Release/*.node carried along.
#   test   the CUDA suite (bundle of test/runtime-cuda/gpu.test.ts)
#   bench  ResNet-50-FPN 800x1216: fusedet's CUDA runtime, then PyTorch
#          eager and torch.compile on the same GPU (tools/gpu/bench_torch.py)
#   all    both, in that order
# Results go to bench/results/ and, when $OUT is set (the run tool), are
# copied there with the logs.
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-all}
if [ ! -f .gpu/env.sh ] || [ ! -f .gpu/fusedet/gpu.test.mjs ]; then
  echo "tools/gpu/run.sh: .gpu/ is missing or incomplete: run 'node tools/gpu/pack.mjs' on the build machine and carry .gpu along" >&2
  exit 2
fi
# shellcheck disable=SC1091
source .gpu/env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available" >&2
logs=${OUT:-bench/results}/gpu-logs
mkdir -p "$logs" bench/results
rc=0
if [ "$mode" = test ] || [ "$mode" = all ]; then
  echo "== CUDA test suite" >&2
  FUSEDET_REQUIRE_CUDA=1 node .gpu/fusedet/gpu.test.mjs > "$logs/gpu-test.log" 2>&1; r=$?
  grep -E "^(SKIP|  Total|  Passed|  Skipped)|FAIL" "$logs/gpu-test.log" | head -60
  [ $r -ne 0 ] && { echo "gpu:test failed (exit $r); full log: $logs/gpu-test.log" >&2; tail -80 "$logs/gpu-test.log" >&2; rc=$r; }
fi
if [ "$mode" = bench ] || [ "$mode" = all ]; then
  echo "== bench: fusedet CUDA runtime" >&2
  node .gpu/fusedet/gpu-bench.mjs 2> "$logs/gpu-bench.stderr.log"; r=$?
  [ $r -ne 0 ] && { echo "fusedet bench failed (exit $r)" >&2; tail -40 "$logs/gpu-bench.stderr.log" >&2; rc=$r; }
  echo "== bench: PyTorch (eager, torch.compile)" >&2
  python3 tools/gpu/bench_torch.py --out bench/results 2> "$logs/torch-bench.log"; r=$?
  tail -5 "$logs/torch-bench.log" >&2
  [ $r -ne 0 ] && rc=$r
  python3 tools/gpu/summary.py bench/results || true
fi
if [ -n "${OUT:-}" ]; then cp bench/results/*.json bench/results/*.md "$OUT/" 2>/dev/null || true; fi
exit $rc
