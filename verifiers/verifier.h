// Verifier backends: the authorities idv asks whether a claim is genuine.
//
// A Verifier wraps one backend (a registry, a carrier check, a commercial API, or an offline
// rule set). Implementations must be thread-safe, and Check must never block the calling thread:
// it starts the work and returns, and `done` runs later (possibly on another thread, possibly
// before Check returns). `done` runs exactly once.
//
// Backends are built by a VerifierFactory chosen by the full name of the message inside
// BackendConfig.typed_config (see verifiers/registry.h).
#ifndef IDV_VERIFIERS_VERIFIER_H_
#define IDV_VERIFIERS_VERIFIER_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "identity/claim.h"
#include "idv/v1/verification.pb.h"

namespace idv::verifiers {

// A set of idv::v1::Element, one bit each (1 << element).
using Elements = uint32_t;
constexpr Elements ElementBit(idv::v1::Element e) { return Elements{1} << static_cast<int>(e); }
// What every authoritative backend confirms with a match: the document number and the name.
constexpr Elements kNumberAndName =
    ElementBit(idv::v1::DOCUMENT_NUMBER) | ElementBit(idv::v1::FULL_NAME);
// The elements of a set, in order.
std::vector<idv::v1::Element> ElementList(Elements set);
// The set of a repeated Element field (the API's or the plugin protocol's, which share the
// numbers); unknown and unspecified values are left out.
Elements ElementSet(const google::protobuf::RepeatedField<int>& elements);

struct VerifierInfo {
  // The configured backend name.
  std::string name;
  // Whether a match from this backend is authoritative (may yield VERIFIED).
  bool authoritative = false;
  // The backend needs the claim's phone number; claims without one are not sent to it.
  bool requires_phone = false;
  // The elements a match from this backend confirms (when its answer does not say).
  Elements elements = 0;
  // The authority keeps a record per operator account (the NPPA registers each account's `ai`
  // with the identity it checked), so every account must reach it: idv answers an account from
  // the cache only with what this account was answered, and never shares one call between two
  // accounts checking the same identity at once.
  bool per_account = false;
};

// Lets a caller abandon checks it no longer needs (the loser of a hedged pair, the rest of a
// quorum). Thread-safe.
class Cancellation {
 public:
  // Runs every registered callback once. Later calls do nothing.
  void Cancel();
  bool cancelled() const;
  // Runs `fn` on Cancel(), or at once if already cancelled.
  void OnCancel(absl::AnyInvocable<void() &&> fn);

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;                            // guarded by mu_
  std::vector<absl::AnyInvocable<void() &&>> hooks_;  // guarded by mu_
};

struct CheckContext {
  // idv's verification id, passed on for log correlation.
  std::string request_id;
  // The operator's account the verification is for ("" when unknown). A backend may send an
  // account reference derived from it (the NPPA `ai`), never the identity.
  std::string account_id;
  // True when idv's re-checker asks again about a verification an authority answered PENDING: a
  // backend with a separate status query (NPPA) asks that instead of submitting again.
  bool recheck = false;
  // The backend must answer (or give up) by then.
  absl::Time deadline = absl::InfiniteFuture();
  // Set when the caller may abandon the check; a backend should then stop work and answer
  // UNAVAILABLE soon. May be null.
  std::shared_ptr<Cancellation> cancellation;
};

struct CheckResult {
  // VERIFIED, MISMATCH, NOT_FOUND or PENDING for an answer; UNAVAILABLE when there was none.
  idv::v1::Outcome outcome = idv::v1::UNAVAILABLE;
  idv::v1::ReasonCode reason = idv::v1::AUTHORITY_ERROR;
  // The backend's own result code, verbatim.
  std::string raw_code;
  // The authority's own id for the request, when its answer gives one.
  std::string authority_request_id;
  absl::Duration latency;
  // With VERIFIED: the elements the backend confirmed. None from an authoritative backend means
  // kNumberAndName.
  Elements confirmed = 0;
  // False when the backend itself says its matches are not authoritative (a plugin's Describe):
  // then its VERIFIED decides nothing, whatever VerifierInfo assumed.
  bool authoritative = true;
  // With UNAVAILABLE: the backend did answer, refusing this one request for a reason of the
  // request's own (the NPPA's "ai already in use" for an account): no verdict on the claim, but
  // no sign the backend is failing, so the circuit breaker counts it as a success.
  bool answered = false;
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  virtual const VerifierInfo& Info() const = 0;
  // Checks that the backend is reachable and willing (e.g. the plugin's Describe), before a
  // configuration that uses it is applied. `done` gets OK or why not. Default: OK at once.
  virtual void Probe(absl::Time deadline, absl::AnyInvocable<void(absl::Status) &&> done) const {
    std::move(done)(absl::OkStatus());
  }
  // REQUIRES: `claim` stays valid until `done` has run.
  virtual void Check(const CheckContext& ctx, const identity::NormalizedClaim& claim,
                     absl::AnyInvocable<void(CheckResult) &&> done) = 0;
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_VERIFIER_H_
