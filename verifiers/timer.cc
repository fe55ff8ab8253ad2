#include "verifiers/timer.h"

#include <pthread.h>

#include "absl/time/clock.h"

namespace idv::verifiers {

Timer& Timer::Shared() {
  static Timer* timer = new Timer;  // leaked on purpose: callbacks may be pending at exit
  return *timer;
}

Timer::Timer()
    : thread_([this] {
        pthread_setname_np(pthread_self(), "idv-timer");
        Run();
      }) {
  thread_.detach();
}

void Timer::At(absl::Time when, absl::AnyInvocable<void() &&> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push(Item{when, seq_++, std::move(fn)});
  }
  cv_.notify_one();
}

void Timer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const absl::Time when = queue_.top().when;
    if (absl::Now() < when) {
      cv_.wait_until(lock, absl::ToChronoTime(when));  // an earlier item may wake us first
      continue;
    }
    absl::AnyInvocable<void()&&> fn = std::move(queue_.top().fn);
    queue_.pop();
    lock.unlock();
    std::move(fn)();
    lock.lock();
  }
}

}  // namespace idv::verifiers
