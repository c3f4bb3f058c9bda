#include "cpu_pool.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpuRelax() { _mm_pause(); }
#else
static inline void cpuRelax() {}
#endif

namespace fusedet {

// About 100 µs of pause instructions: long enough to bridge back-to-back
// runs, short enough not to steal a shared core from other processes.
static constexpr int kSpins = 2000;

int defaultThreadCount() {
  if (const char* env = std::getenv("FUSEDET_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0 && n <= 1024) return static_cast<int>(n);
  }
  // hardware_concurrency() counts the host's CPUs; the affinity mask counts
  // the ones a container or taskset actually gives us.
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

CpuPool::CpuPool(int threads) : threads_(std::max(1, threads)) {
  // The calling thread is worker 0; only the others are spawned.
  for (int i = 1; i < threads_; i++) workers_.emplace_back([this, i] { workerLoop(i); });
}

CpuPool::~CpuPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

// Whole launches in order on the calling thread.
static void runSerially(const std::vector<Launch>& launches) {
  for (const Launch& L : launches)
    if (L.grid > 0) L.fn(L.bufs, L.args, 0, L.grid);
}

void CpuPool::run(const std::vector<Launch>& launches) {
  if (launches.empty()) return;
  // Nothing to split: waking the workers would only add their round trip.
  bool allSerial = true;
  for (size_t l = 0; l < launches.size() && allSerial;) {
    if (launches[l].serialRun <= 0) allSerial = false;
    else l += static_cast<size_t>(launches[l].serialRun);
  }
  if (threads_ == 1 || allSerial) {
    runSerially(launches);
    return;
  }
  std::lock_guard<std::mutex> serial(runMutex_);
  // One counter per (launch, thread): thread t owns the t-th share of each
  // launch's workgroups and takes its own share first (see work()).
  std::vector<std::atomic<int64_t>> next(launches.size() * threads_);
  for (size_t l = 0; l < launches.size(); l++)
    for (int t = 0; t < threads_; t++) next[l * threads_ + t].store(shareStart(launches[l].grid, t), std::memory_order_relaxed);
  next_.swap(next);
  launches_ = &launches;
  arrived_.store(0, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  work(0);
  for (int spins = 0; spins < kSpins && finished_.load(std::memory_order_acquire) != threads_ - 1; spins++) cpuRelax();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return finished_.load(std::memory_order_acquire) == threads_ - 1; });
  }
  launches_ = nullptr;
}

void CpuPool::workerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    for (int spins = 0; spins < kSpins && generation_.load(std::memory_order_acquire) == seen && !stopping_.load(); spins++) cpuRelax();
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_.load() || generation_.load(std::memory_order_acquire) != seen; });
    }
    if (stopping_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    work(index);
    finished_.fetch_add(1, std::memory_order_acq_rel);
    {
      // Taken so the notify cannot fall between run()'s check and its wait.
      std::lock_guard<std::mutex> lock(mutex_);
    }
    done_.notify_one();
  }
}

int64_t CpuPool::shareStart(int64_t grid, int t) const { return grid * t / threads_; }

void CpuPool::work(int index) {
  const auto& launches = *launches_;
  for (size_t l = 0; l < launches.size();) {
    const Launch& L = launches[l];
    if (l > 0 && L.barrierBefore) barrier();
    if (L.serialRun > 0) {
      // The first thread here runs the whole run; the others go on to what follows.
      const size_t end = l + static_cast<size_t>(L.serialRun);
      if (next_[l * threads_].fetch_add(1, std::memory_order_relaxed) == 0)
        for (size_t j = l; j < end; j++)
          if (launches[j].grid > 0) launches[j].fn(launches[j].bufs, launches[j].args, 0, launches[j].grid);
      l = end;
      continue;
    }
    // Its own share first, then what the others have not yet taken of
    // theirs. Consecutive launches split alike, so a thread mostly reads
    // what it wrote itself one launch before, from its own core's cache,
    // instead of lines the other core holds (dynamic grabs mixed them).
    for (int k = 0; k < threads_; k++) {
      const int owner = (index + k) % threads_;
      const int64_t end = shareStart(L.grid, owner + 1);
      std::atomic<int64_t>& counter = next_[l * threads_ + owner];
      for (;;) {
        int64_t begin = counter.fetch_add(L.chunk, std::memory_order_relaxed);
        if (begin >= end) break;
        L.fn(L.bufs, L.args, begin, std::min(begin + L.chunk, end));
      }
    }
    l++;
  }
}

// Barrier between launches: spin briefly (launches are short), then sleep,
// so on an oversubscribed machine a waiting thread gives its core to the one
// it waits for. sleepers_ and barrierPhase_ use sequentially consistent
// operations: the last arriver's store of the phase and its load of
// sleepers_, against a sleeper's increment and its load of the phase, must
// not both miss each other.
void CpuPool::barrier() {
  if (threads_ == 1) return;
  const uint64_t phase = barrierPhase_.load();
  if (arrived_.fetch_add(1) + 1 == threads_) {
    arrived_.store(0);
    barrierPhase_.store(phase + 1);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(barrierMutex_);
      barrierWake_.notify_all();
    }
    return;
  }
  for (int spins = 0; spins < kSpins; spins++) {
    if (barrierPhase_.load(std::memory_order_acquire) != phase) return;
    cpuRelax();
  }
  std::unique_lock<std::mutex> lock(barrierMutex_);
  sleepers_.fetch_add(1);
  barrierWake_.wait(lock, [&] { return barrierPhase_.load() != phase; });
  sleepers_.fetch_sub(1);
}

}  // namespace fusedet
