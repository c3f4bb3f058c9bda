// A persistent pool of CPU threads that runs a whole launch list per call.
// Each thread owns an equal share of each launch's workgroup range, takes
// its own share in chunks first and then helps with the others'. Workers meet at a
// barrier only before a launch that depends on work not yet finished (the
// caller's schedule says which: runtime-cpu/plan.ts), so a forward pass
// costs one wake-up, not one per kernel, and independent launches flow into
// each other. A serial run (consecutive launches too small to split) is run
// whole, in order, by the one thread that claims it; a list made only of
// serial runs runs on the calling thread without waking the pool.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace fusedet {

using KernelFn = void (*)(void* const* bufs, const int64_t* args, int64_t wg_begin, int64_t wg_end);

struct Launch {
  KernelFn fn;
  void* const* bufs;
  const int64_t* args;
  int64_t grid;
  int64_t chunk;  // workgroups taken per grab
  // The pool waits for every earlier launch before this one (else it may
  // start while earlier independent launches still run).
  bool barrierBefore;
  // > 0: this launch starts a serial run of that many launches (this one
  // and the next run - 1, which have no barrier before them), all run whole
  // and in order by one thread. 0: split over the threads in chunks, or a
  // member of the run that an earlier launch starts.
  int64_t serialRun;
};

class CpuPool {
 public:
  explicit CpuPool(int threads);
  ~CpuPool();
  CpuPool(const CpuPool&) = delete;
  CpuPool& operator=(const CpuPool&) = delete;

  int threads() const { return threads_; }
  // Runs every launch, respecting each one's barrierBefore; returns when all
  // have finished.
  void run(const std::vector<Launch>& launches);

 private:
  void workerLoop(int index);
  void work(int index);
  void barrier();
  // First workgroup of thread t's share of a launch of `grid` workgroups.
  int64_t shareStart(int64_t grid, int t) const;

  const int threads_;
  std::vector<std::thread> workers_;
  // One run at a time: worker_threads may share this process-wide pool.
  std::mutex runMutex_;
  // Workers spin briefly on generation_ before sleeping on wake_, so runs
  // that follow each other closely (a training loop) skip the wake-up cost;
  // both are changed under mutex_ so a sleeper never misses a notify.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<uint64_t> generation_{0};  // bumped once per run()
  std::atomic<int> finished_{0};         // workers done with this run
  std::atomic<bool> stopping_{false};

  const std::vector<Launch>* launches_ = nullptr;
  std::vector<std::atomic<int64_t>> next_;  // next unclaimed workgroup, per (launch, share)
  std::atomic<int> arrived_{0};
  std::atomic<uint64_t> barrierPhase_{0};
  // Threads that stopped spinning at the barrier and sleep on barrierWake_.
  std::atomic<int> sleepers_{0};
  std::mutex barrierMutex_;
  std::condition_variable barrierWake_;
};

// Threads for a new pool: FUSEDET_THREADS if set and positive, else the CPUs
// this process may run on.
int defaultThreadCount();

}  // namespace fusedet
