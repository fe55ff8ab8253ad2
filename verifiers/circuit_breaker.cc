#include "verifiers/circuit_breaker.h"

#include "absl/strings/str_cat.h"

namespace idv::verifiers {

const char* CircuitBreaker::Name(State s) {
  switch (s) {
    case State::kClosed:
      return "closed";
    case State::kOpen:
      return "open";
    case State::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

void CircuitBreaker::Set(State to, std::string why, std::optional<Change>& change) {
  if (state_ != to) change = Change{state_, to, std::move(why)};
  state_ = to;
}

void CircuitBreaker::Announce(const std::optional<Change>& change) const {
  if (change && options_.on_transition) {
    options_.on_transition(Name(change->from), Name(change->to), change->why);
  }
}

CircuitBreaker::Permit CircuitBreaker::Allow() {
  std::optional<Change> change;
  Permit permit;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kOpen && options_.clock() - opened_at_ >= options_.open_for) {
      Set(State::kHalfOpen, "open time over: one probe call", change);
      probe_in_flight_ = false;
    }
    switch (state_) {
      case State::kClosed:
        permit = Permit{true, false};
        break;
      case State::kHalfOpen:
        if (!probe_in_flight_) {
          probe_in_flight_ = true;
          permit = Permit{true, true};
        }
        break;
      case State::kOpen:
        break;
    }
  }
  Announce(change);
  return permit;
}

void CircuitBreaker::Record(Permit permit, bool success) {
  if (!permit.allowed) return;
  std::optional<Change> change;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (permit.probe) {
      probe_in_flight_ = false;
      if (success) {
        Set(State::kClosed, "the probe call succeeded", change);
        window_.clear();
        failures_ = 0;
      } else {
        Set(State::kOpen, "the probe call failed", change);
        opened_at_ = options_.clock();
      }
    } else if (state_ == State::kClosed) {  // else a call from before the breaker opened
      window_.push_back(!success);
      failures_ += success ? 0 : 1;
      if (window_.size() > options_.window) {
        failures_ -= window_.front() ? 1 : 0;
        window_.pop_front();
      }
      if (options_.failure_rate > 0 && window_.size() >= options_.min_calls &&
          static_cast<double>(failures_) >= options_.failure_rate * window_.size()) {
        Set(State::kOpen, absl::StrCat(failures_, " of ", window_.size(), " recent calls failed"),
            change);
        opened_at_ = options_.clock();
        window_.clear();
        failures_ = 0;
      }
    }
  }
  Announce(change);
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

}  // namespace idv::verifiers
