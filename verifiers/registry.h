// Maps backend config types to the factories that build them.
//
// Registration is explicit (RegisterBuiltinVerifiers), never by static initializers, which a
// static link would silently drop. A registry is filled at start-up and read-only afterwards:
// Register/Replace are not thread-safe, Create is.
#ifndef IDV_VERIFIERS_REGISTRY_H_
#define IDV_VERIFIERS_REGISTRY_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "idv/config/v1/config.pb.h"
#include "verifiers/verifier.h"

namespace idv::verifiers {

class VerifierFactory {
 public:
  virtual ~VerifierFactory() = default;
  // Full name of the config message this factory accepts, e.g. "idv.config.v1.GrpcPluginConfig".
  virtual std::string ConfigType() const = 0;
  // Builds a backend. InvalidArgument when the config is not acceptable.
  virtual absl::StatusOr<std::unique_ptr<Verifier>> Create(
      const idv::config::v1::BackendConfig& config) const = 0;
};

class VerifierRegistry {
 public:
  // AlreadyExists when a factory for the same config type is registered.
  absl::Status Register(std::unique_ptr<VerifierFactory> factory);
  // Installs `factory` in place of the one for its config type and returns that one (or null).
  // For tests.
  std::unique_ptr<VerifierFactory> Replace(std::unique_ptr<VerifierFactory> factory);
  // Builds the backend `config` describes. InvalidArgument for an unknown config type.
  absl::StatusOr<std::unique_ptr<Verifier>> Create(
      const idv::config::v1::BackendConfig& config) const;

 private:
  std::map<std::string, std::unique_ptr<VerifierFactory>> factories_;
};

// Whether "host:port", "[v6]:port" or a bare host names the loopback interface literally:
// 127.x.x.x, [::1] or localhost. A name that merely starts like one ("127.0.0.1.example.com",
// "localhost.example") is not loopback.
bool IsLoopbackHostPort(absl::string_view host_port);

// For factories of HTTP backends: OK for an https:// URL with a host, or an http:// one whose
// host is loopback (a simulator); InvalidArgument saying why not otherwise.
absl::Status CheckAuthorityUrl(absl::string_view url);

// Registers every backend kind idv ships with.
absl::Status RegisterBuiltinVerifiers(VerifierRegistry& registry);

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_REGISTRY_H_
