#include "services/admin_service.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/pooled_call.h"
#include "services/status.h"
#include "store/backup.h"

namespace idv::services {
namespace {

using idv::store::v1::ConfigVersion;

const char* BreakerName(verifiers::CircuitBreaker::State s) {
  switch (s) {
    case verifiers::CircuitBreaker::State::kOpen:
      return "open";
    case verifiers::CircuitBreaker::State::kHalfOpen:
      return "half_open";
    default:
      return "closed";
  }
}

// Policies that name `backend`.
std::vector<std::string> UsersOf(const ConfigVersion& config, const std::string& backend) {
  std::vector<std::string> users;
  for (const idv::config::v1::Policy& p : config.policies()) {
    for (const std::string& b : p.backends()) {
      if (b == backend) users.push_back(p.name());
    }
  }
  return users;
}

template <typename Message>
Message* FindByName(google::protobuf::RepeatedPtrField<Message>* items, const std::string& name) {
  for (Message& m : *items) {
    if (m.name() == name) return &m;
  }
  return nullptr;
}

void FillUsage(const std::vector<store::KeyUsage>& usage, idv::v1::KeyStatus* out) {
  for (const store::KeyUsage& u : usage) {
    idv::v1::KeyVersionUsage* v = out->add_usage();
    v->set_version(u.key_version);
    v->set_bindings(u.bindings);
    v->set_clients(u.clients);
    v->set_rechecks(u.rechecks);
  }
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::ApplyChange(grpc::CallbackServerContext* ctx,
                                                        absl::string_view method,
                                                        ChangeRequest change,
                                                        idv::v1::ConfigChange* response) {
  absl::StatusOr<Principal> who = auth_.Authenticate(*ctx, method);
  if (!who.ok()) return FinishNow(ctx, who.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  config_.Change(*who, std::move(change),
                 [reactor, response](absl::StatusOr<idv::v1::ConfigChange> r) {
                   if (r.ok()) *response = *std::move(r);
                   reactor->Finish(ToGrpcStatus(r.status()));
                 });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListBackends(grpc::CallbackServerContext* ctx,
                                                         const idv::v1::ListBackendsRequest*,
                                                         idv::v1::ListBackendsResponse* response) {
  absl::StatusOr<Principal> who = auth_.Authenticate(*ctx, "ListBackends");
  if (!who.ok()) return FinishNow(ctx, who.status());
  const ConfigVersion config = config_.current();
  std::shared_ptr<const verifiers::PolicyEngine> engine = config_.engine();
  response->set_config_version(config.version());
  for (const idv::config::v1::BackendConfig& b : config.backends()) {
    idv::v1::BackendStatus* status = response->add_backends();
    *status->mutable_config() = b;
    if (const verifiers::GuardedVerifier* v = engine->backend(b.name())) {
      status->set_breaker(BreakerName(v->breaker().state()));
      status->set_in_flight(static_cast<uint32_t>(v->in_flight()));
    }
  }
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminServiceImpl::PutBackend(grpc::CallbackServerContext* ctx,
                                                       const idv::v1::PutBackendRequest* request,
                                                       idv::v1::ConfigChange* response) {
  ChangeRequest change;
  change.action = "PutBackend";
  change.target = request->backend().name();
  change.dry_run = request->dry_run();
  if (request->probe()) change.probe.push_back(request->backend().name());
  change.edit = [backend = request->backend()](ConfigVersion& config) {
    if (!backend.has_typed_config()) {
      return absl::InvalidArgumentError("backend.typed_config is required");
    }
    if (auto* existing = FindByName(config.mutable_backends(), backend.name())) {
      *existing = backend;
    } else {
      *config.add_backends() = backend;
    }
    return absl::OkStatus();
  };
  return ApplyChange(ctx, "PutBackend", std::move(change), response);
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteBackend(
    grpc::CallbackServerContext* ctx, const idv::v1::DeleteBackendRequest* request,
    idv::v1::ConfigChange* response) {
  ChangeRequest change;
  change.action = "DeleteBackend";
  change.target = request->name();
  change.dry_run = request->dry_run();
  change.edit = [name = request->name()](ConfigVersion& config) {
    if (std::vector<std::string> users = UsersOf(config, name); !users.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("backend \"", name, "\" is used by policy ",
                                                        absl::StrJoin(users, ", "),
                                                        "; change those policies first"));
    }
    auto* backends = config.mutable_backends();
    for (int i = 0; i < backends->size(); ++i) {
      if (backends->Get(i).name() == name) {
        backends->DeleteSubrange(i, 1);
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError(absl::StrCat("no backend \"", name, "\""));
  };
  return ApplyChange(ctx, "DeleteBackend", std::move(change), response);
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetPolicy(grpc::CallbackServerContext* ctx,
                                                      const idv::v1::GetPolicyRequest*,
                                                      idv::v1::GetPolicyResponse* response) {
  absl::StatusOr<Principal> who = auth_.Authenticate(*ctx, "GetPolicy");
  if (!who.ok()) return FinishNow(ctx, who.status());
  const ConfigVersion config = config_.current();
  response->set_config_version(config.version());
  *response->mutable_policies() = config.policies();
  return FinishNow(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminServiceImpl::PutPolicy(grpc::CallbackServerContext* ctx,
                                                      const idv::v1::PutPolicyRequest* request,
                                                      idv::v1::ConfigChange* response) {
  ChangeRequest change;
  change.action = "PutPolicy";
  change.target = request->policy().name();
  change.dry_run = request->dry_run();
  change.force = request->force();
  change.edit = [policy = request->policy()](ConfigVersion& config) {
    if (policy.name().empty()) return absl::InvalidArgumentError("policy.name is required");
    if (auto* existing = FindByName(config.mutable_policies(), policy.name())) {
      *existing = policy;
    } else {
      *config.add_policies() = policy;
    }
    return absl::OkStatus();
  };
  return ApplyChange(ctx, "PutPolicy", std::move(change), response);
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListConfigVersions(
    grpc::CallbackServerContext* ctx, const idv::v1::ListConfigVersionsRequest* request,
    idv::v1::ListConfigVersionsResponse* response) {
  absl::StatusOr<Principal> who = auth_.Authenticate(*ctx, "ListConfigVersions");
  if (!who.ok()) return FinishNow(ctx, who.status());
  const size_t limit = request->limit() == 0 ? 20 : std::min<size_t>(request->limit(), 1000);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  config_.History(limit, [reactor, response](absl::StatusOr<std::vector<ConfigVersion>> versions) {
    if (versions.ok()) {
      for (const ConfigVersion& v : *versions) {
        idv::v1::ConfigVersionInfo* info = response->add_versions();
        info->set_version(v.version());
        *info->mutable_created_at() = v.created_at();
        info->set_actor(v.actor());
        info->set_summary(v.summary());
      }
    }
    reactor->Finish(ToGrpcStatus(versions.status()));
  });
  return reactor;
}

}  // namespace idv::services

namespace idv::services {

grpc::ServerUnaryReactor* AdminServiceImpl::RotateKeys(grpc::CallbackServerContext* ctx,
                                                       const idv::v1::RotateKeysRequest* request,
                                                       idv::v1::ConfigChange* response) {
  ChangeRequest change;
  change.action = "RotateKeys";
  change.target = "keys";
  change.dry_run = request->dry_run();
  change.edit = [this](ConfigVersion& config) {
    const uint32_t current = std::max(config.keys().current(), keys_.current_version());
    if (current >= crypto::KeyRing::kMaxVersions) {
      return absl::FailedPreconditionError("no key version is left after this one");
    }
    config.mutable_keys()->set_current(current + 1);
    if (config.keys().oldest() == 0) config.mutable_keys()->set_oldest(keys_.oldest_version());
    return absl::OkStatus();
  };
  return ApplyChange(ctx, "RotateKeys", std::move(change), response);
}

grpc::ServerUnaryReactor* AdminServiceImpl::RetireKeyVersions(
    grpc::CallbackServerContext* ctx, const idv::v1::RetireKeyVersionsRequest* request,
    idv::v1::ConfigChange* response) {
  absl::StatusOr<Principal> who = auth_.Authenticate(*ctx, "RetireKeyVersions");
  if (!who.ok()) return FinishNow(ctx, who.status());
  const uint32_t kept = request->oldest_kept();
  if (kept <= keys_.oldest_version() || kept > keys_.current_version()) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "oldest_kept must be in ", keys_.oldest_version() + 1, "..",
                              keys_.current_version(), " (the live versions after the oldest)")));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_.CountKeyUsage([this, reactor, response, who = *who, kept, dry_run = request->dry_run()](
                           absl::StatusOr<std::vector<store::KeyUsage>> usage) {
    if (!usage.ok()) return reactor->Finish(ToGrpcStatus(usage.status()));
    for (const store::KeyUsage& u : *usage) {
      if (u.key_version >= kept || u.key_version == 0) continue;
      return reactor->Finish(ToGrpcStatus(absl::FailedPreconditionError(
          absl::StrCat("key version ", u.key_version, " is still used by ", u.bindings,
                       " binding(s), ", u.clients, " client(s) and ", u.rechecks,
                       " PENDING verification(s); see GetKeyStatus and README \"Keys\""))));
    }
    ChangeRequest change;
    change.action = "RetireKeyVersions";
    change.target = "keys";
    change.dry_run = dry_run;
    change.edit = [this, kept](ConfigVersion& config) {
      config.mutable_keys()->set_current(
          std::max(config.keys().current(), keys_.current_version()));
      config.mutable_keys()->set_oldest(kept);
      return absl::OkStatus();
    };
    config_.Change(who, std::move(change),
                   [reactor, response](absl::StatusOr<idv::v1::ConfigChange> r) {
                     if (r.ok()) *response = *std::move(r);
                     reactor->Finish(ToGrpcStatus(r.status()));
                   });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetKeyStatus(grpc::CallbackServerContext* ctx,
                                                         const idv::v1::GetKeyStatusRequest*,
                                                         idv::v1::KeyStatus* response) {
  absl::StatusOr<Principal> who = auth_.Authenticate(*ctx, "GetKeyStatus");
  if (!who.ok()) return FinishNow(ctx, who.status());
  response->set_current_version(keys_.current_version());
  response->set_oldest_version(keys_.oldest_version());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_.CountKeyUsage([reactor, response](absl::StatusOr<std::vector<store::KeyUsage>> usage) {
    if (usage.ok()) FillUsage(*usage, response);
    reactor->Finish(ToGrpcStatus(usage.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateBackup(
    grpc::CallbackServerContext* ctx, const idv::v1::CreateBackupRequest* request,
    idv::v1::BackupInfo* response) {
  return RunPooled(
      auth_, pool_, ctx, "CreateBackup", response,
      [this, name = request->name()](const Principal&) -> absl::StatusOr<idv::v1::BackupInfo> {
        if (backup_dir_.empty()) {
          return absl::FailedPreconditionError("no backup directory configured (backup.dir)");
        }
        const bool valid = !name.empty() && name.size() <= 128 && name[0] != '.' &&
                           std::all_of(name.begin(), name.end(), [](char c) {
                             return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                                    c == '.' || c == '_' || c == '-';
                           });
        if (!valid) {
          return absl::InvalidArgumentError(
              "name: 1 to 128 characters of [A-Za-z0-9._-], not starting with '.'");
        }
        std::error_code ec;
        if (std::filesystem::create_directories(backup_dir_, ec)) {
          std::filesystem::permissions(backup_dir_, std::filesystem::perms::owner_all, ec);
        }
        if (ec) {
          return absl::FailedPreconditionError(
              absl::StrCat("cannot create backup.dir ", backup_dir_, ": ", ec.message()));
        }
        const absl::Time start = absl::Now();
        absl::StatusOr<store::BackupSummary> made =
            store::CreateBackup(store_, keys_, store_.node_id(), backup_dir_ + "/" + name);
        if (!made.ok()) return made.status();
        idv::v1::BackupInfo info;
        info.set_path(backup_dir_ + "/" + name);
        info.set_file_bytes(made->file_bytes);
        info.set_pairs(made->trailer.pairs());
        info.set_audit_records(made->trailer.audit_records());
        info.set_key_version(made->manifest.key_version());
        info.set_seconds(absl::ToDoubleSeconds(absl::Now() - start));
        return info;
      });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ScrubDeletedData(
    grpc::CallbackServerContext* ctx, const idv::v1::ScrubDeletedDataRequest*,
    idv::v1::ScrubDeletedDataResponse* response) {
  absl::StatusOr<Principal> who = auth_.Authenticate(*ctx, "ScrubDeletedData");
  if (!who.ok()) return FinishNow(ctx, who.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  store_.ScrubRemovedData([reactor, response](absl::StatusOr<std::vector<std::string>> steps) {
    if (steps.ok()) {
      for (std::string& step : *steps) response->add_steps(std::move(step));
    }
    reactor->Finish(ToGrpcStatus(steps.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateClient(
    grpc::CallbackServerContext* ctx, const idv::v1::CreateClientRequest* request,
    idv::v1::ClientSecret* response) {
  return RunPooled(auth_, pool_, ctx, "CreateClient", response,
                   [this, req = *request](const Principal& p) { return clients_.Create(p, req); });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListClients(grpc::CallbackServerContext* ctx,
                                                        const idv::v1::ListClientsRequest* request,
                                                        idv::v1::ListClientsResponse* response) {
  return RunPooled(auth_, pool_, ctx, "ListClients", response,
                   [this, req = *request](const Principal& p) { return clients_.List(p, req); });
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetClient(grpc::CallbackServerContext* ctx,
                                                      const idv::v1::GetClientRequest* request,
                                                      idv::v1::Client* response) {
  return RunPooled(
      auth_, pool_, ctx, "GetClient", response,
      [this, id = request->client_id()](const Principal& p) { return clients_.Get(p, id); });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RevokeClient(
    grpc::CallbackServerContext* ctx, const idv::v1::RevokeClientRequest* request,
    idv::v1::Client* response) {
  return RunPooled(
      auth_, pool_, ctx, "RevokeClient", response,
      [this, id = request->client_id()](const Principal& p) { return clients_.Revoke(p, id); });
}

grpc::ServerUnaryReactor* AdminServiceImpl::RotateClientSecret(
    grpc::CallbackServerContext* ctx, const idv::v1::RotateClientSecretRequest* request,
    idv::v1::ClientSecret* response) {
  return RunPooled(
      auth_, pool_, ctx, "RotateClientSecret", response,
      [this, id = request->client_id()](const Principal& p) { return clients_.Rotate(p, id); });
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateTenant(
    grpc::CallbackServerContext* ctx, const idv::v1::CreateTenantRequest* request,
    idv::v1::Tenant* response) {
  return RunPooled(
      auth_, pool_, ctx, "CreateTenant", response,
      [this, req = *request](const Principal& p) { return clients_.CreateTenant(p, req); });
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListTenants(grpc::CallbackServerContext* ctx,
                                                        const idv::v1::ListTenantsRequest*,
                                                        idv::v1::ListTenantsResponse* response) {
  return RunPooled(auth_, pool_, ctx, "ListTenants", response,
                   [this](const Principal&) { return clients_.ListTenants(); });
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteAccountData(
    grpc::CallbackServerContext* ctx, const idv::v1::DeleteAccountDataRequest* request,
    idv::v1::DeleteAccountDataResponse* response) {
  return RunPooled(
      auth_, pool_, ctx, "DeleteAccountData", response,
      [this, req = *request](const Principal& p) { return clients_.DeleteAccountData(p, req); });
}

}  // namespace idv::services
