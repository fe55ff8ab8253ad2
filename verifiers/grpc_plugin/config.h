// Factory of the grpc_plugin backend (config: idv.config.v1.GrpcPluginConfig).
#ifndef IDV_VERIFIERS_GRPC_PLUGIN_CONFIG_H_
#define IDV_VERIFIERS_GRPC_PLUGIN_CONFIG_H_

#include "verifiers/registry.h"

namespace idv::verifiers {

class GrpcPluginFactory final : public VerifierFactory {
 public:
  std::string ConfigType() const override;
  absl::StatusOr<std::unique_ptr<Verifier>> Create(
      const idv::config::v1::BackendConfig& config) const override;
};

// True for targets that name the loopback interface ("127.0.0.1:7600", "localhost:7600",
// "[::1]:7600", with or without an "ipv4:"/"ipv6:"/"dns:///" scheme); not a name that merely
// starts like one ("127.0.0.1.example.com:443").
bool IsLoopbackTarget(absl::string_view target);

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_GRPC_PLUGIN_CONFIG_H_
