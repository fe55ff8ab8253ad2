#include "verifiers/circuit_breaker.h"

namespace idv::verifiers {

CircuitBreaker::Permit CircuitBreaker::Allow() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == State::kOpen && options_.clock() - opened_at_ >= options_.open_for) {
    state_ = State::kHalfOpen;
    probe_in_flight_ = false;
  }
  switch (state_) {
    case State::kClosed:
      return Permit{true, false};
    case State::kHalfOpen:
      if (probe_in_flight_) return Permit{false, false};
      probe_in_flight_ = true;
      return Permit{true, true};
    case State::kOpen:
      break;
  }
  return Permit{false, false};
}

void CircuitBreaker::Record(Permit permit, bool success) {
  if (!permit.allowed) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (permit.probe) {
    probe_in_flight_ = false;
    if (success) {
      state_ = State::kClosed;
      window_.clear();
      failures_ = 0;
    } else {
      state_ = State::kOpen;
      opened_at_ = options_.clock();
    }
    return;
  }
  if (state_ != State::kClosed) return;  // a call from before the breaker opened
  window_.push_back(!success);
  failures_ += success ? 0 : 1;
  if (window_.size() > options_.window) {
    failures_ -= window_.front() ? 1 : 0;
    window_.pop_front();
  }
  if (options_.failure_rate > 0 && window_.size() >= options_.min_calls &&
      static_cast<double>(failures_) >= options_.failure_rate * window_.size()) {
    state_ = State::kOpen;
    opened_at_ = options_.clock();
    window_.clear();
    failures_ = 0;
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

}  // namespace idv::verifiers
