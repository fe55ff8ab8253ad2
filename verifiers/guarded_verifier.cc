#include "verifiers/guarded_verifier.h"

namespace idv::verifiers {
namespace {

CheckResult Refused(const char* raw_code) {
  CheckResult r;
  r.outcome = idv::v1::UNAVAILABLE;
  r.reason = idv::v1::AUTHORITY_ERROR;
  r.raw_code = raw_code;
  return r;
}

}  // namespace

GuardedVerifier::GuardedVerifier(std::unique_ptr<Verifier> inner, uint32_t max_in_flight,
                                 CircuitBreakerOptions breaker)
    : inner_(std::move(inner)), max_in_flight_(max_in_flight), breaker_(std::move(breaker)) {}

void GuardedVerifier::Check(const CheckContext& ctx, const identity::NormalizedClaim& claim,
                            absl::AnyInvocable<void(CheckResult) &&> done) {
  const int now_in_flight = in_flight_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (max_in_flight_ > 0 && now_in_flight > static_cast<int>(max_in_flight_)) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    std::move(done)(Refused("idv:bulkhead_full"));
    return;
  }
  const CircuitBreaker::Permit permit = breaker_.Allow();
  if (!permit.allowed) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    std::move(done)(Refused("idv:breaker_open"));
    return;
  }
  inner_->Check(ctx, claim, [this, permit, done = std::move(done)](CheckResult r) mutable {
    breaker_.Record(permit, r.outcome != idv::v1::UNAVAILABLE || r.answered);
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    std::move(done)(std::move(r));
  });
}

}  // namespace idv::verifiers
