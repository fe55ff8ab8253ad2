// idv.v1.VerificationService over the gRPC callback API.
//
// Handlers never block: authentication and offline checks run inline (CPU only), backends are
// asked asynchronously through the policy engine, and records are written by the store's
// group-commit writer, whose completion finishes the RPC. A Verify response is sent only after its
// audit record (and binding) are durable. A claim answered definitively before (same tenant-keyed
// claim fingerprint, within the cache's TTL) is answered from the result cache without asking a
// backend, marked `cached`, and still audited and bound as usual. Each call uses the policy engine
// that was live when it started, even if an administrator swaps in another meanwhile. Concurrent
// calls with the same claim (same tenant-keyed claim fingerprint) share one trip to the backends
// (single-flight); each still gets its own verification id, binding decision and audit record.
// A call with an idempotency key whose answer is kept (Store::GetIdempotency) gets that answer,
// marked `replayed`; one whose key is in use by a call on this node waits for it, then looks
// again; the answer is kept in the same write as the record (VerificationCommit::idempotency), and
// a call that lost a race for the key to another node answers with the winner's answer.
#ifndef IDV_SERVICES_VERIFICATION_SERVICE_H_
#define IDV_SERVICES_VERIFICATION_SERVICE_H_

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "cache/cache.h"
#include "crypto/keyring.h"
#include "idv/v1/verification.grpc.pb.h"
#include "services/auth.h"
#include "services/config_manager.h"
#include "services/logging.h"
#include "services/metrics.h"
#include "store/store.h"
#include "verifiers/policy_engine.h"
#include "verifiers/single_flight.h"

namespace idv::services {

struct VerificationServiceOptions {
  // How many accounts of a tenant one identity may be bound to. Default 5.
  uint32_t max_accounts_per_identity = 5;
  // Upper bound on a Verify call when the client sets no deadline. Default 10 s.
  absl::Duration max_call_time = absl::Seconds(10);
  // Per-account attempts and the per-identity budget (services/limits.h). Null: none.
  Limits* limits = nullptr;
  // How long a Verify answer is kept under its idempotency key. Default 24 h.
  absl::Duration idempotency_window = absl::Hours(24);
  // Verify calls worked on at once; more are refused with RESOURCE_EXHAUSTED. 0: no limit.
  int max_in_flight = 0;
  // Counts answers and store commits. Optional.
  Metrics* metrics = nullptr;
  // Logs (a sample of) the calls. Optional.
  AccessLog* access_log = nullptr;
  // A Verify without a deadline is refused (INVALID_ARGUMENT).
  bool require_deadline = true;
  // The trust_framework of verified_claims renderings (services/verified_claims.h).
  std::string trust_framework = "cn_real_name";
};

class Rechecker;

// Verify is a raw method: idvd parses its request itself, so that bytes that do not parse get
// INVALID_ARGUMENT with a message (gRPC's own answer is UNIMPLEMENTED without one).
class VerificationServiceImpl final
    : public idv::v1::VerificationService::WithRawCallbackMethod_Verify<
          idv::v1::VerificationService::CallbackService> {
 public:
  // Keeps references: every argument must outlive the service.
  // `rechecker` may be null: PENDING verdicts are then answered but not re-asked. `cache` may be
  // null: no result cache.
  VerificationServiceImpl(const Authenticator& auth, const crypto::KeyRing& keys,
                          const ConfigManager& config, store::Store& store, Rechecker* rechecker,
                          cache::Cache* cache, VerificationServiceOptions options);

  // Verify calls being worked on now.
  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* ctx,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetVerification(grpc::CallbackServerContext* ctx,
                                            const idv::v1::GetVerificationRequest* request,
                                            idv::v1::Verification* response) override;
  grpc::ServerUnaryReactor* GetBinding(grpc::CallbackServerContext* ctx,
                                       const idv::v1::GetBindingRequest* request,
                                       idv::v1::Binding* response) override;
  grpc::ServerUnaryReactor* Unbind(grpc::CallbackServerContext* ctx,
                                   const idv::v1::UnbindRequest* request,
                                   idv::v1::UnbindResponse* response) override;

 private:
  class VerifyCall;

  const Authenticator& auth_;
  const crypto::KeyRing& keys_;
  const ConfigManager& config_;
  store::Store& store_;
  Rechecker* const rechecker_;
  cache::Cache* const cache_;
  const VerificationServiceOptions options_;
  verifiers::SingleFlight<verifiers::PolicyVerdict> flights_;
  std::atomic<int> in_flight_{0};  // VerifyCall objects alive
  // Verify's call counters (null without metrics).
  Metrics::Method* verify_metrics_ = nullptr;
  // Idempotency keys (by tenant and key hash) of calls working on this node, each with the calls
  // with the same key that wait for it to finish before they look the key up again.
  std::mutex keys_mu_;
  absl::flat_hash_map<std::string, std::vector<VerifyCall*>>
      keys_in_flight_;  // guarded by keys_mu_
};

// Fills a Verification from its audit record (exposed for tests).
void ToVerification(const idv::store::v1::AuditRecord& record, idv::v1::Verification* out);

}  // namespace idv::services

#endif  // IDV_SERVICES_VERIFICATION_SERVICE_H_
