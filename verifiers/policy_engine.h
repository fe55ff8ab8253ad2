// Decides which backends answer a claim, and how their answers combine into one outcome.
//
// Each document type has a policy: an ordered list of backends and an overall deadline. The
// engine asks the first backend; when it gives no answer (UNAVAILABLE: error or timeout) and time
// remains, it asks the next, and so on (the `first_definitive` strategy). The first definitive
// answer (VERIFIED, MISMATCH, NOT_FOUND, PENDING) is the outcome. Silence is never VERIFIED: if
// no backend answers, the outcome is UNAVAILABLE. A non-authoritative backend's match is not
// definitive.
//
// Immutable after Create; Verify is thread-safe and never blocks.
#ifndef IDV_VERIFIERS_POLICY_ENGINE_H_
#define IDV_VERIFIERS_POLICY_ENGINE_H_

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "idv/config/v1/config.pb.h"
#include "verifiers/registry.h"

namespace idv::verifiers {

struct BackendCheck {
  std::string backend;
  CheckResult result;
};

struct PolicyVerdict {
  idv::v1::Outcome outcome = idv::v1::UNAVAILABLE;
  idv::v1::ReasonCode reason = idv::v1::NO_AUTHORITY_CONFIGURED;
  // Every backend asked, in order.
  std::vector<BackendCheck> checks;
};

class PolicyEngine {
 public:
  // Builds every configured backend and checks that the policies are consistent: backend names
  // unique and well-formed, every backend a policy names exists, no document type in two policies.
  static absl::StatusOr<std::unique_ptr<PolicyEngine>> Create(
      const idv::config::v1::ServerConfig& config, const VerifierRegistry& registry);

  // Asks the backends of the claim's document type. `request_deadline` bounds the policy's own.
  // REQUIRES: `claim` stays valid until `done` has run.
  void Verify(std::string request_id, absl::Time request_deadline,
              const identity::NormalizedClaim& claim,
              absl::AnyInvocable<void(PolicyVerdict) &&> done) const;

 private:
  struct Route {
    std::vector<Verifier*> backends;
    absl::Duration deadline;
  };
  struct Run;

  PolicyEngine() = default;
  static void AskNext(std::unique_ptr<Run> run);

  std::map<std::string, std::unique_ptr<Verifier>> backends_;
  std::map<idv::v1::DocumentType, Route> routes_;
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_POLICY_ENGINE_H_
