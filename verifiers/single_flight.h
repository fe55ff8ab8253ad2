// Collapses concurrent identical work: while a call for a key is in flight, later callers for the
// same key wait for its result instead of starting their own. Used so that concurrent misses for
// one claim fingerprint cost one backend call. Thread-safe.
#ifndef IDV_VERIFIERS_SINGLE_FLIGHT_H_
#define IDV_VERIFIERS_SINGLE_FLIGHT_H_

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/functional/any_invocable.h"

namespace idv::verifiers {

template <typename Result>
class SingleFlight {
 public:
  using Waiter = absl::AnyInvocable<void(const Result&) &&>;
  using Start = absl::AnyInvocable<void(absl::AnyInvocable<void(Result) &&>) &&>;

  // When no call for `key` is in flight, runs `start` (the leader) and hands its result to
  // `waiter` and to every waiter that joined meanwhile; otherwise just joins. Returns whether this
  // caller led.
  bool Do(const std::string& key, Start start, Waiter waiter) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto [it, leader] = calls_.try_emplace(key);
      it->second.push_back(std::move(waiter));
      if (!leader) return false;
    }
    std::move(start)([this, key](Result result) {
      std::vector<Waiter> waiters;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = calls_.find(key);
        waiters.swap(it->second);
        calls_.erase(it);
      }
      for (Waiter& w : waiters) std::move(w)(result);
    });
    return true;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<Waiter>> calls_;  // guarded by mu_
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_SINGLE_FLIGHT_H_
