#include "verifiers/grpc_plugin/config.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/proto_time.h"
#include "verifiers/grpc_plugin/grpc_plugin_verifier.h"
#include "verifiers/registry.h"

namespace idv::verifiers {
namespace {

constexpr absl::Duration kDefaultTimeout = absl::Seconds(2);

}  // namespace

bool IsLoopbackTarget(absl::string_view target) {
  for (absl::string_view scheme : {"dns:///", "ipv4:", "ipv6:"}) {
    if (absl::ConsumePrefix(&target, scheme)) break;
  }
  return IsLoopbackHostPort(target);
}

std::string GrpcPluginFactory::ConfigType() const {
  return idv::config::v1::GrpcPluginConfig::descriptor()->full_name();
}

absl::StatusOr<std::unique_ptr<Verifier>> GrpcPluginFactory::Create(
    const idv::config::v1::BackendConfig& config) const {
  idv::config::v1::GrpcPluginConfig plugin;
  if (!config.typed_config().UnpackTo(&plugin)) {
    return absl::InvalidArgumentError(
        absl::StrCat("backend \"", config.name(), "\": typed_config is not a GrpcPluginConfig"));
  }
  if (plugin.target().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("backend \"", config.name(), "\": no target"));
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (plugin.plaintext()) {
    if (!IsLoopbackTarget(plugin.target())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "backend \"", config.name(), "\": plaintext is allowed only for loopback targets"));
    }
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!plugin.ca_file().empty()) {
      absl::StatusOr<std::string> ca = ReadFile(plugin.ca_file());
      if (!ca.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("backend \"", config.name(), "\": ", ca.status().message()));
      }
      ssl.pem_root_certs = *std::move(ca);
    }
    if (plugin.client_cert_file().empty() != plugin.client_key_file().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "backend \"", config.name(), "\": client_cert_file and client_key_file go together"));
    }
    if (!plugin.client_cert_file().empty()) {  // mutual TLS: idvd shows its own certificate
      absl::StatusOr<std::string> cert = ReadFile(plugin.client_cert_file());
      absl::StatusOr<std::string> key =
          cert.ok() ? ReadFile(plugin.client_key_file()) : cert.status();
      if (!key.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("backend \"", config.name(), "\": ", key.status().message()));
      }
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    creds = grpc::SslCredentials(ssl);
  }
  absl::Duration timeout = kDefaultTimeout;
  if (config.has_timeout()) timeout = FromProto(config.timeout());
  return std::unique_ptr<Verifier>(std::make_unique<GrpcPluginVerifier>(
      config.name(), grpc::CreateChannel(plugin.target(), creds), timeout,
      plugin.requires_phone()));
}

}  // namespace idv::verifiers
