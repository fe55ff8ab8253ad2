#include "services/auth.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "services/status.h"

namespace idv::services {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

uint32_t RolesOf(const idv::store::v1::ClientRecord& c) {
  uint32_t roles = 0;
  for (const std::string& r : c.roles()) roles |= RoleNamed(r);
  return roles;
}

struct MethodRoles {
  const char* method;
  uint32_t roles;
};

constexpr uint32_t kAdmins = kRoleAdmin | kRoleSuperAdmin;

// Every RPC idvd serves, and who may call it.
constexpr MethodRoles kMethodRoles[] = {
    // idv.v1.VerificationService
    {"Verify", kRoleVerify},
    {"GetVerification", kRoleVerify | kRoleAudit},
    {"GetBinding", kRoleVerify | kRoleAudit},
    {"Unbind", kRoleVerify},
    // idv.v1.AdminService: the configuration (shared by every tenant)
    {"ListBackends", kAdmins},
    {"GetPolicy", kAdmins},
    {"ListConfigVersions", kAdmins},
    {"PutBackend", kRoleSuperAdmin},
    {"DeleteBackend", kRoleSuperAdmin},
    {"PutPolicy", kRoleSuperAdmin},
    // idv.v1.AdminService: clients (an admin's own tenant; a super-admin's any) and tenants
    {"CreateClient", kAdmins},
    {"ListClients", kAdmins},
    {"GetClient", kAdmins},
    {"RevokeClient", kAdmins},
    {"RotateClientSecret", kAdmins},
    {"CreateTenant", kRoleSuperAdmin},
    {"ListTenants", kRoleSuperAdmin},
    {"DeleteAccountData", kAdmins},
    // idv.v1.AdminService: key versions
    {"GetKeyStatus", kAdmins},
    {"RotateKeys", kRoleSuperAdmin},
    {"RetireKeyVersions", kRoleSuperAdmin},
    {"CreateBackup", kRoleSuperAdmin},
    {"ScrubDeletedData", kRoleSuperAdmin},
    // idv.v1.AuditService (the caller's tenant's records)
    {"ListRecords", kRoleAudit},
    {"ExportRecords", kRoleAudit},
    {"GetStats", kRoleAudit},
    {"GetCheckpoint", kRoleAudit},
    {"GetRecord", kRoleAudit},
    {"GetInclusionProof", kRoleAudit},
    {"GetConsistencyProof", kRoleAudit},
    {"VerifyIntegrity", kRoleAudit},
};

}  // namespace

std::string RandomToken(size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  randombytes_buf(raw.data(), raw.size());
  std::string out(sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), raw.data(), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  sodium_memzero(raw.data(), raw.size());
  return out;
}

namespace {

absl::Status WriteKeyFile(const std::string& path, const std::string& token) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return absl::UnavailableError(absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t RolesFor(absl::string_view method) {
  for (const MethodRoles& m : kMethodRoles) {
    if (method == m.method) return m.roles;
  }
  return 0;
}

uint32_t RoleNamed(absl::string_view name) {
  if (name == "verify") return kRoleVerify;
  if (name == "audit") return kRoleAudit;
  if (name == "admin") return kRoleAdmin;
  if (name == "super-admin") return kRoleSuperAdmin;
  return 0;
}

Authenticator::Authenticator(const crypto::KeyRing& keys,
                             const std::vector<idv::store::v1::ClientRecord>& clients)
    : keys_(keys) {
  Reload(clients);
}

void Authenticator::Reload(const std::vector<idv::store::v1::ClientRecord>& clients) {
  auto table = std::make_shared<Table>();
  for (const idv::store::v1::ClientRecord& c : clients) {
    if (c.revoked()) continue;
    Client client{c.tenant(), RolesOf(c), c.key_version(), c.secret_hash()};
    if (c.has_expires_at()) {
      client.expires = absl::FromUnixSeconds(c.expires_at().seconds()) +
                       absl::Nanoseconds(c.expires_at().nanos());
    }
    (*table)[c.client_id()] = std::move(client);
  }
  std::atomic_store(&table_, std::shared_ptr<const Table>(std::move(table)));
}

absl::Status Authenticator::RefusePeer(absl::string_view peer, absl::string_view method,
                                       absl::string_view tenant, absl::string_view client_id,
                                       absl::Status why, absl::string_view detail) const {
  if (events_ != nullptr) {
    events_->Refused(
        tenant, client_id, std::string(peer), method,
        detail.empty() ? why
                       : absl::Status(why.code(), absl::StrCat(why.message(), " (", detail, ")")));
  }
  return why;
}

absl::StatusOr<Principal> Authenticator::Authenticate(grpc::ServerContextBase& ctx,
                                                      absl::string_view method) const {
  const uint32_t any_of = RolesFor(method);
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end() && client_certificates_) {
    return AuthenticateByCertificate(ctx, method, any_of);
  }
  if (it == md.end()) {
    return Refuse(ctx, method, "", "",
                  absl::UnauthenticatedError("missing authorization: Bearer <key> metadata"));
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, kBearer)) {
    return Refuse(ctx, method, "", "",
                  absl::UnauthenticatedError("authorization must be \"Bearer <key>\""));
  }
  absl::StatusOr<std::pair<std::string, Client>> client = ClientForKey(value, ctx.peer(), method);
  if (!client.ok()) return client.status();
  return Admit(ctx, method, any_of, client->first, client->second, "invalid API key");
}

absl::StatusOr<std::pair<std::string, Authenticator::Client>> Authenticator::ClientForKey(
    absl::string_view key, absl::string_view peer, absl::string_view method) const {
  const size_t dot = key.find('.');
  if (dot == absl::string_view::npos) {
    return RefusePeer(peer, method, "", "", absl::UnauthenticatedError("malformed API key"));
  }
  const absl::string_view id = key.substr(0, dot);
  const absl::string_view secret = key.substr(dot + 1);
  const std::shared_ptr<const Table> table = std::atomic_load(&table_);
  auto client = table->find(id);
  // The caller is told only "invalid API key"; the trail says which part was wrong.
  if (client == table->end()) {
    return RefusePeer(peer, method, "", id, absl::UnauthenticatedError("invalid API key"),
                      "no such client, or revoked");
  }
  const std::array<uint8_t, crypto::kHashBytes> hash =
      keys_.ClientSecretHash(id, secret, client->second.key_version);
  if (client->second.secret_hash.size() != hash.size() ||
      sodium_memcmp(hash.data(), client->second.secret_hash.data(), hash.size()) != 0) {
    return RefusePeer(peer, method, client->second.tenant, id,
                      absl::UnauthenticatedError("invalid API key"), "wrong secret");
  }
  return std::make_pair(std::string(id), client->second);
}

absl::StatusOr<Principal> Authenticator::Identify(absl::string_view key,
                                                  absl::string_view peer) const {
  absl::StatusOr<std::pair<std::string, Client>> client = ClientForKey(key, peer, "ConsoleSignIn");
  if (!client.ok()) return client.status();
  if (absl::Now() >= client->second.expires) {
    return RefusePeer(peer, "ConsoleSignIn", client->second.tenant, client->first,
                      absl::UnauthenticatedError("invalid API key"), "expired");
  }
  return Principal(client->second.tenant, client->first, client->second.roles);
}

absl::StatusOr<Principal> Authenticator::AuthenticateByCertificate(grpc::ServerContextBase& ctx,
                                                                   absl::string_view method,
                                                                   uint32_t any_of) const {
  // The TLS layer verified the chain against tls.client_ca_file before the call existed; the
  // certificate's Common Name names the client.
  const std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  std::vector<grpc::string_ref> names;
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    names = auth->FindPropertyValues("x509_common_name");
  }
  if (names.size() != 1) {
    return Refuse(ctx, method, "", "",
                  absl::UnauthenticatedError(
                      "missing authorization: Bearer <key> metadata or a client certificate"));
  }
  const absl::string_view id(names[0].data(), names[0].size());
  const std::shared_ptr<const Table> table = std::atomic_load(&table_);
  auto client = table->find(id);
  if (client == table->end()) {
    return Refuse(ctx, method, "", id, absl::UnauthenticatedError("invalid client certificate"),
                  "certificate names no client, or a revoked one");
  }
  return Admit(ctx, method, any_of, id, client->second, "invalid client certificate");
}

absl::StatusOr<Principal> Authenticator::Admit(grpc::ServerContextBase& ctx,
                                               absl::string_view method, uint32_t any_of,
                                               absl::string_view id, const Client& client,
                                               absl::string_view invalid) const {
  if (absl::Now() >= client.expires) {
    return Refuse(ctx, method, client.tenant, id, absl::UnauthenticatedError(invalid), "expired");
  }
  if ((client.roles & any_of) == 0) {
    return Refuse(ctx, method, client.tenant, id,
                  absl::PermissionDeniedError("this client's roles do not allow this call"));
  }
  absl::Duration retry_after;
  if (limits_ != nullptr && !limits_->AllowCall(client.tenant, id, absl::Now(), &retry_after)) {
    const int64_t ms = std::max<int64_t>(
        1, absl::ToInt64Milliseconds(absl::Ceil(retry_after, absl::Milliseconds(1))));
    ctx.AddTrailingMetadata("retry-after-ms", std::to_string(ms));
    return Refuse(ctx, method, client.tenant, id,
                  WithRetryAfter(absl::ResourceExhaustedError(absl::StrCat(
                                     "this client is over its call rate; retry after ", ms, " ms")),
                                 absl::Milliseconds(ms)));
  }
  return Principal(client.tenant, std::string(id), client.roles);
}

absl::StatusOr<bool> BootstrapAdminClient(store::Store& store, const crypto::KeyRing& keys,
                                          const std::string& key_path) {
  absl::StatusOr<std::vector<idv::store::v1::ClientRecord>> clients =
      store::Await<std::vector<idv::store::v1::ClientRecord>>(
          [&store](auto done) { store.ListClients(std::move(done)); });
  if (!clients.ok()) return clients.status();
  if (!clients->empty()) return false;

  idv::store::v1::ClientRecord admin;
  admin.set_client_id("adm" + RandomToken(9));
  admin.set_tenant("default");
  for (const char* role : {"verify", "audit", "admin", "super-admin"}) admin.add_roles(role);
  admin.set_created_by("bootstrap");
  std::string secret = RandomToken(32);
  admin.set_key_version(keys.current_version());
  const auto hash = keys.ClientSecretHash(admin.client_id(), secret, admin.key_version());
  admin.set_secret_hash(hash.data(), hash.size());
  *admin.mutable_created_at() = google::protobuf::util::TimeUtil::GetCurrentTime();

  absl::Status written = WriteKeyFile(key_path, absl::StrCat(admin.client_id(), ".", secret));
  sodium_memzero(secret.data(), secret.size());
  if (!written.ok()) return written;
  absl::StatusOr<bool> stored = store::Await<bool>([&store, &admin](auto done) {
    store.PutClient(admin, /*only_if_none=*/true, std::move(done));
  });
  if (stored.ok()) return true;
  // Another node sharing the database created the first client meanwhile: this key is unused.
  ::unlink(key_path.c_str());
  if (absl::IsAlreadyExists(stored.status())) return false;
  return stored.status();
}

}  // namespace idv::services
