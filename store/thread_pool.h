// A fixed set of threads running queued tasks in FIFO order. Thread-safe.
#ifndef IDV_STORE_THREAD_POOL_H_
#define IDV_STORE_THREAD_POOL_H_

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

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

// Runs `fn()` on `pool` and passes its result to `done`; when the pool is shutting down, runs
// `done` at once with Unavailable instead.
template <typename T, typename Fn>
void RunOnPool(ThreadPool& pool, absl::AnyInvocable<void(absl::StatusOr<T>) &&> done, Fn fn) {
  // `closed` is true only when the pool refused the task because Shutdown() has begun.
  auto closed = std::make_shared<bool>(false);
  absl::AnyInvocable<void()&&> task = [fn = std::move(fn), done = std::move(done),
                                       closed]() mutable {
    if (*closed) {
      std::move(done)(absl::UnavailableError("store is closed"));
    } else {
      std::move(done)(fn());
    }
  };
  if (!pool.Schedule(task)) {
    *closed = true;
    std::move(task)();
  }
}

}  // namespace idv::store

#endif  // IDV_STORE_THREAD_POOL_H_
