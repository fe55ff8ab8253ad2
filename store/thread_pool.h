// A fixed set of threads running queued tasks in FIFO order. Thread-safe.
#ifndef IDV_STORE_THREAD_POOL_H_
#define IDV_STORE_THREAD_POOL_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"

namespace idv::store {

class ThreadPool {
 public:
  // `name` (at most 15 characters) names the threads for ps, top and profilers.
  ThreadPool(int threads, const char* name);
  ~ThreadPool() { Shutdown(); }

  // Queues `task` and takes it. Once Shutdown() has begun, returns false and leaves `task` with
  // the caller.
  bool Schedule(absl::AnyInvocable<void() &&>& task);

  // Runs every task already queued, then joins the threads. Idempotent.
  void Shutdown();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_;  // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace idv::store

#endif  // IDV_STORE_THREAD_POOL_H_
