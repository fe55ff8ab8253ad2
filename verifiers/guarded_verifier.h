// Wraps any backend with a bulkhead (a cap on calls in flight) and a circuit breaker. A call the
// bulkhead or the open breaker refuses is answered UNAVAILABLE at once without reaching the
// backend, with raw code "idv:bulkhead_full" or "idv:breaker_open". Thread-safe.
#ifndef IDV_VERIFIERS_GUARDED_VERIFIER_H_
#define IDV_VERIFIERS_GUARDED_VERIFIER_H_

#include <atomic>
#include <memory>

#include "verifiers/circuit_breaker.h"
#include "verifiers/verifier.h"

namespace idv::verifiers {

class GuardedVerifier final : public Verifier {
 public:
  // `max_in_flight` 0: no cap.
  GuardedVerifier(std::unique_ptr<Verifier> inner, uint32_t max_in_flight,
                  CircuitBreakerOptions breaker);

  const VerifierInfo& Info() const override { return inner_->Info(); }
  void Probe(absl::Time deadline, absl::AnyInvocable<void(absl::Status) &&> done) const override {
    inner_->Probe(deadline, std::move(done));
  }
  void Check(const CheckContext& ctx, const identity::NormalizedClaim& claim,
             absl::AnyInvocable<void(CheckResult) &&> done) override;

  const CircuitBreaker& breaker() const { return breaker_; }
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  const std::unique_ptr<Verifier> inner_;
  const uint32_t max_in_flight_;
  CircuitBreaker breaker_;
  // Calls started and not yet answered. Relaxed: it is a counter compared against a cap, and
  // orders no other memory.
  std::atomic<int> in_flight_{0};
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_GUARDED_VERIFIER_H_
