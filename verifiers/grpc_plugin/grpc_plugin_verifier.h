// A backend in another process speaking idv.plugin.v1.VerifierPlugin over gRPC.
#ifndef IDV_VERIFIERS_GRPC_PLUGIN_GRPC_PLUGIN_VERIFIER_H_
#define IDV_VERIFIERS_GRPC_PLUGIN_GRPC_PLUGIN_VERIFIER_H_

#include <grpcpp/channel.h>

#include <memory>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "idv/plugin/v1/plugin.grpc.pb.h"
#include "verifiers/verifier.h"

namespace idv::verifiers {

// How the plugin protocol's answers map onto idv's outcomes: the one place that decides it.
//   OK + MATCH      -> VERIFIED  / ELEMENTS_MATCH
//   OK + MISMATCH   -> MISMATCH  / NAME_MISMATCH (only the name differs) or ELEMENTS_MISMATCH
//   OK + NOT_FOUND  -> NOT_FOUND / NO_RECORD
//   OK + PENDING    -> PENDING   / AUTHORITY_PENDING
//   DEADLINE_EXCEEDED        -> UNAVAILABLE / AUTHORITY_TIMEOUT
//   any other error, or OK with no verdict -> UNAVAILABLE / AUTHORITY_ERROR
// `raw_code` is the plugin's raw_code, or "grpc:<CODE>" for an error.
CheckResult MapPluginAnswer(const grpc::Status& status,
                            const idv::plugin::v1::CheckResponse& response);

// Before its first check, and again when its answer is five minutes old, the verifier asks the
// plugin's Describe (the check waits for it): a plugin that says it is not authoritative cannot
// make a claim VERIFIED, one that lists document types is not asked about others, and the
// elements it lists are what its matches confirm when its CheckResponse does not say. A check
// whose Describe fails answers UNAVAILABLE (the next check asks again).
class GrpcPluginVerifier final : public Verifier {
 public:
  GrpcPluginVerifier(std::string name, std::shared_ptr<grpc::Channel> channel,
                     absl::Duration timeout, bool requires_phone);

  const VerifierInfo& Info() const override { return info_; }
  // Calls Describe.
  void Probe(absl::Time deadline, absl::AnyInvocable<void(absl::Status) &&> done) const override;
  void Check(const CheckContext& ctx, const identity::NormalizedClaim& claim,
             absl::AnyInvocable<void(CheckResult) &&> done) override;

 private:
  // What the plugin's Describe said.
  struct Described {
    absl::Time at = absl::InfinitePast();
    bool authoritative = true;
    Elements elements = 0;
    std::vector<int> document_types;  // empty: any
  };
  // Runs `then` with the plugin's Describe answer (asking for it first when there is none or it
  // is stale), or with an error.
  void WithDescribe(absl::Time deadline,
                    absl::AnyInvocable<void(absl::StatusOr<Described>) &&> then);
  void Ask(const CheckContext& ctx, const identity::NormalizedClaim& claim, const Described& d,
           absl::AnyInvocable<void(CheckResult) &&> done);

  const VerifierInfo info_;
  const absl::Duration timeout_;
  std::unique_ptr<idv::plugin::v1::VerifierPlugin::Stub> stub_;
  std::mutex mu_;
  Described described_ ABSL_GUARDED_BY(mu_);
  bool describing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<absl::AnyInvocable<void(absl::StatusOr<Described>) &&>> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_GRPC_PLUGIN_GRPC_PLUGIN_VERIFIER_H_
