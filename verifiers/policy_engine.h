// Decides which backends answer a claim, and how their answers combine into one outcome.
//
// Each document type has a policy (idv.config.v1.Policy): backends in order of preference, an
// overall deadline, and a strategy:
//   FIRST_DEFINITIVE  ask one backend at a time; on no answer ask the next. With `hedge_after`,
//                     also ask the next when the current one is slow; the first definitive answer
//                     wins and the other call is cancelled.
//   ALL_AGREE         ask all at once; VERIFIED only if all say so; a MISMATCH or NOT_FOUND wins
//                     at once.
//   QUORUM            ask all at once; the first outcome `quorum` backends agree on wins.
// A definitive answer is VERIFIED (from an authoritative backend), MISMATCH, NOT_FOUND or PENDING.
// Silence is never VERIFIED: with no definitive answer the outcome is UNAVAILABLE. A policy may
// require elements (the phone, for a telecom sign-up): a VERIFIED that did not confirm them
// decides nothing (FIRST_DEFINITIVE asks the next backend; ALL_AGREE and QUORUM need the
// agreeing backends to have confirmed them together), and when nothing else decides the answer
// is UNAVAILABLE with ELEMENTS_NOT_CONFIRMED, never a weaker VERIFIED.
//
// Every backend is wrapped in a GuardedVerifier (bulkhead + circuit breaker). An engine is
// immutable after Create and must be owned by a shared_ptr: a Verify in flight keeps it (and its
// backends) alive, so a replaced engine finishes its calls while new ones use the new engine.
// Verify is thread-safe and never blocks.
#ifndef IDV_VERIFIERS_POLICY_ENGINE_H_
#define IDV_VERIFIERS_POLICY_ENGINE_H_

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "idv/config/v1/config.pb.h"
#include "verifiers/guarded_verifier.h"
#include "verifiers/registry.h"

namespace idv::verifiers {

struct BackendCheck {
  std::string backend;
  CheckResult result;
};

struct PolicyVerdict {
  idv::v1::Outcome outcome = idv::v1::UNAVAILABLE;
  idv::v1::ReasonCode reason = idv::v1::NO_AUTHORITY_CONFIGURED;
  // Every backend that answered before the decision, in the order they answered.
  std::vector<BackendCheck> checks;
  // Non-zero when the outcome is PENDING and the claim should be re-asked for this long (the
  // policy's recheck_for): an authority answered PENDING, or none answered and the policy says
  // ANSWER_PENDING (then the reason is QUEUED_FOR_RECHECK).
  absl::Duration recheck_for;
  // With VERIFIED: the elements confirmed (together, by the deciding backends), and those
  // backends. With another definitive outcome, decided_by names the backend(s) that decided.
  Elements confirmed = 0;
  std::vector<std::string> decided_by;
};

class PolicyEngine : public std::enable_shared_from_this<PolicyEngine> {
 public:
  // Builds the backends and routes of `backends` and `policies`, after checking them: backend
  // names unique and well-formed, known config types, every backend a policy names defined, no
  // document type in two policies, a quorum within the number of backends. A backend whose
  // config is byte-for-byte the one `previous` has under the same name is shared with it (its
  // connection and breaker state carry over). InvalidArgument names what is wrong.
  static absl::StatusOr<std::shared_ptr<PolicyEngine>> Create(
      const google::protobuf::RepeatedPtrField<idv::config::v1::BackendConfig>& backends,
      const google::protobuf::RepeatedPtrField<idv::config::v1::Policy>& policies,
      const VerifierRegistry& registry, const PolicyEngine* previous = nullptr);

  // Asks the backends of the claim's document type. `request_deadline` bounds the policy's own.
  // The engine holds `claim` for as long as any backend call may still read it (a hedge timer can
  // fire after the decision), so the plaintext is wiped only when the last holder lets go.
  void Verify(std::string request_id, absl::Time request_deadline,
              std::shared_ptr<const identity::NormalizedClaim> claim,
              absl::AnyInvocable<void(PolicyVerdict) &&> done) const {
    CheckContext ctx;
    ctx.request_id = std::move(request_id);
    Verify(std::move(ctx), request_deadline, std::move(claim), std::move(done));
  }
  // The same, passing on the account and whether this is a re-check (`ctx.deadline` is set
  // here, from `request_deadline` and the policy's).
  void Verify(CheckContext ctx, absl::Time request_deadline,
              std::shared_ptr<const identity::NormalizedClaim> claim,
              absl::AnyInvocable<void(PolicyVerdict) &&> done) const;

  // The backend called `name`, or null.
  const GuardedVerifier* backend(const std::string& name) const;

  // Whether the policy for `type` has a backend that must see every account (VerifierInfo's
  // per_account): the caller then keys its cache and its single-flight by account too.
  bool PerAccount(idv::v1::DocumentType type) const;

 private:
  struct Backend {
    std::string config;  // serialized BackendConfig, to recognize an unchanged backend
    std::shared_ptr<GuardedVerifier> verifier;
  };
  struct Route {
    std::vector<std::shared_ptr<GuardedVerifier>> backends;
    absl::Duration deadline;
    idv::config::v1::Policy::Strategy strategy;
    uint32_t quorum = 1;
    absl::Duration hedge_after;  // zero: none
    bool pending_on_no_answer = false;
    absl::Duration recheck_for;
    // Elements a VERIFIED answer must have confirmed (the policy's required_elements).
    Elements required = 0;
    // A backend of the policy must see every account.
    bool per_account = false;
  };
  class Run;

  PolicyEngine() = default;

  std::map<std::string, Backend> backends_;
  std::map<idv::v1::DocumentType, Route> routes_;
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_POLICY_ENGINE_H_
