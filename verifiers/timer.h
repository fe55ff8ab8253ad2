// Runs callbacks at given times on one shared thread (hedging timers). Thread-safe. Callbacks
// must be short and must not block: they run one after another.
#ifndef IDV_VERIFIERS_TIMER_H_
#define IDV_VERIFIERS_TIMER_H_

#include <condition_variable>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace idv::verifiers {

class Timer {
 public:
  // The process-wide timer; never destroyed.
  static Timer& Shared();

  void At(absl::Time when, absl::AnyInvocable<void() &&> fn);

 private:
  Timer();
  void Run();

  struct Item {
    absl::Time when;
    uint64_t seq;
    mutable absl::AnyInvocable<void() &&> fn;
    bool operator>(const Item& o) const { return when != o.when ? when > o.when : seq > o.seq; }
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_;  // guarded by mu_
  uint64_t seq_ = 0;                                                        // guarded by mu_
  std::thread thread_;
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_TIMER_H_
