// A circuit breaker for one backend: after too many failures it stops sending calls for a while,
// then lets a single probe through, and closes again when the probe succeeds.
//
//   CLOSED    calls flow; the last `window` results are kept. When at least `min_calls` are kept
//             and the failure share reaches `failure_rate`, the breaker opens.
//   OPEN      calls are refused at once, for `open_for`. Then HALF_OPEN.
//   HALF_OPEN one call (the probe) is let through; others are refused. Its success closes the
//             breaker (with an empty window), its failure opens it again.
//
// A failure is a call that gave no answer (error or timeout); any answer, even MISMATCH, is a
// success. Thread-safe; the clock is injectable so tests can move time without sleeping.
#ifndef IDV_VERIFIERS_CIRCUIT_BREAKER_H_
#define IDV_VERIFIERS_CIRCUIT_BREAKER_H_

#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace idv::verifiers {

struct CircuitBreakerOptions {
  // Share of failures among the kept results that opens the breaker. Default 0.5. 0 disables.
  double failure_rate = 0.5;
  // Fewest kept results before the breaker may open. Default 10.
  uint32_t min_calls = 10;
  // How many recent results are kept. Default 20.
  uint32_t window = 20;
  // How long the breaker stays open before a probe. Default 5 s.
  absl::Duration open_for = absl::Seconds(5);
  // Where time comes from. Default absl::Now.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Called on every change of state (outside the breaker's lock), with why: "closed", "open",
  // "half_open" and a reason such as "10 of 20 recent calls failed". Default: nothing.
  std::function<void(const char* from, const char* to, const std::string& why)> on_transition;
};

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  // What Allow() granted; hand it back to Record().
  struct Permit {
    bool allowed = false;
    bool probe = false;
  };

  explicit CircuitBreaker(CircuitBreakerOptions options) : options_(std::move(options)) {}

  Permit Allow();
  void Record(Permit permit, bool success);
  State state() const;
  static const char* Name(State s);

 private:
  // Sets the state under mu_; the change is announced by Announce once mu_ is released.
  struct Change {
    State from, to;
    std::string why;
  };
  void Set(State to, std::string why, std::optional<Change>& change);
  void Announce(const std::optional<Change>& change) const;

  const CircuitBreakerOptions options_;
  mutable std::mutex mu_;
  State state_ = State::kClosed;  // guarded by mu_
  std::deque<bool> window_;       // guarded by mu_; true = failure
  size_t failures_ = 0;           // guarded by mu_; failures in window_
  absl::Time opened_at_;          // guarded by mu_
  bool probe_in_flight_ = false;  // guarded by mu_
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_CIRCUIT_BREAKER_H_
