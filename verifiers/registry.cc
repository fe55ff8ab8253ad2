#include "verifiers/registry.h"

#include <arpa/inet.h>

#include <string>

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

bool IsLoopbackHostPort(absl::string_view host_port) {
  absl::string_view host;
  if (absl::StartsWith(host_port, "[")) {
    const size_t close = host_port.find(']');
    if (close == absl::string_view::npos) return false;
    host = host_port.substr(0, close + 1);
    if (close + 1 < host_port.size() && host_port[close + 1] != ':') return false;
  } else {
    host = host_port.substr(0, host_port.find(':'));
  }
  if (host == "localhost" || host == "[::1]") return true;
  in_addr v4{};
  return inet_pton(AF_INET, std::string(host).c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

absl::Status CheckAuthorityUrl(absl::string_view url) {
  absl::string_view host = url;
  if (absl::ConsumePrefix(&host, "http://")) {
    if (!IsLoopbackHostPort(host.substr(0, host.find_first_of("/?#")))) {
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
