// A persistent pool of CPU threads that runs a whole launch list per call.
// Workers split each launch's workgroup range into chunks and meet at a
// barrier before the next launch, so a forward pass costs one wake-up, not
// one per kernel.
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
};

class CpuPool {
 public:
  explicit CpuPool(int threads);
  ~CpuPool();
  CpuPool(const CpuPool&) = delete;
  CpuPool& operator=(const CpuPool&) = delete;

  int threads() const { return threads_; }
  // Runs every launch in order; returns when the last one has finished.
  void run(const std::vector<Launch>& launches);

 private:
  void workerLoop(int index);
  void work(int index);
  void barrier();

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
  std::vector<std::atomic<int64_t>> next_;  // next unclaimed workgroup, per launch
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
