#include "verifiers/registry.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "verifiers/format/format_verifier.h"
#include "verifiers/grpc_plugin/config.h"
#include "verifiers/http_json/http_json_verifier.h"
#include "verifiers/nppa/nppa_verifier.h"

namespace idv::verifiers {

absl::Status VerifierRegistry::Register(std::unique_ptr<VerifierFactory> factory) {
  const std::string type = factory->ConfigType();
  if (!factories_.emplace(type, std::move(factory)).second) {
    return absl::AlreadyExistsError(absl::StrCat("a factory for ", type, " is registered"));
  }
  return absl::OkStatus();
}

std::unique_ptr<VerifierFactory> VerifierRegistry::Replace(
    std::unique_ptr<VerifierFactory> factory) {
  std::unique_ptr<VerifierFactory>& slot = factories_[factory->ConfigType()];
  std::swap(slot, factory);
  return factory;
}

absl::StatusOr<std::unique_ptr<Verifier>> VerifierRegistry::Create(
    const idv::config::v1::BackendConfig& config) const {
  const std::string& url = config.typed_config().type_url();
  const std::string type = url.substr(url.rfind('/') + 1);
  auto it = factories_.find(type);
  if (it == factories_.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backend \"", config.name(), "\": unknown backend config type \"", type, "\""));
  }
  return it->second->Create(config);
}

absl::Status CheckAuthorityUrl(absl::string_view url) {
  absl::string_view host = url;
  if (absl::ConsumePrefix(&host, "http://")) {
    // The host itself, without port or path: a literal 127.x.x.x, [::1] or localhost (a name
    // such as "127.0.0.1.example.com" is not loopback, whatever it starts with).
    absl::string_view name = host.substr(0, host.find_first_of("/?#"));
    if (!absl::StartsWith(name, "[")) name = name.substr(0, name.find(':'));
    const bool ipv4_loopback = absl::StartsWith(name, "127.") &&
                               name.find_first_not_of("0123456789.") == absl::string_view::npos;
    if (!ipv4_loopback && name != "localhost" && name != "[::1]" &&
        !absl::StartsWith(name, "[::1]:")) {
      return absl::InvalidArgumentError("http:// is allowed only for loopback hosts");
    }
  } else if (!absl::ConsumePrefix(&host, "https://")) {
    return absl::InvalidArgumentError(
        "the URL must start with https:// (or http:// for a loopback host)");
  }
  if (host.empty() || host[0] == '/' || host[0] == '?') {
    return absl::InvalidArgumentError("the URL has no host");
  }
  return absl::OkStatus();
}

absl::Status RegisterBuiltinVerifiers(VerifierRegistry& registry) {
  if (absl::Status s = registry.Register(std::make_unique<FormatFactory>()); !s.ok()) return s;
  if (absl::Status s = registry.Register(std::make_unique<GrpcPluginFactory>()); !s.ok()) return s;
  if (absl::Status s = registry.Register(std::make_unique<nppa::NppaFactory>()); !s.ok()) return s;
  return registry.Register(std::make_unique<http_json::HttpJsonFactory>());
}

}  // namespace idv::verifiers
