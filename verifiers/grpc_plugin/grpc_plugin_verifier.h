// A backend in another process speaking idv.plugin.v1.VerifierPlugin over gRPC.
#ifndef IDV_VERIFIERS_GRPC_PLUGIN_GRPC_PLUGIN_VERIFIER_H_
#define IDV_VERIFIERS_GRPC_PLUGIN_GRPC_PLUGIN_VERIFIER_H_

#include <grpcpp/channel.h>

#include <memory>

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
  const VerifierInfo info_;
  const absl::Duration timeout_;
  std::unique_ptr<idv::plugin::v1::VerifierPlugin::Stub> stub_;
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_GRPC_PLUGIN_GRPC_PLUGIN_VERIFIER_H_
