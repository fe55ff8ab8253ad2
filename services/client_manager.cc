#include "services/client_manager.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/records.h"
#include "google/protobuf/util/time_util.h"
#include "services/account_removal.h"
#include "services/verification_id.h"

namespace idv::services {
namespace {

using idv::store::v1::ClientRecord;
using idv::store::v1::TenantRecord;
using store::Await;

constexpr char kDefaultTenant[] = "default";
constexpr size_t kMaxDescription = 256;

bool ValidName(absl::string_view s, size_t min, size_t max, bool lower_only) {
  return s.size() >= min && s.size() <= max && std::all_of(s.begin(), s.end(), [&](char c) {
           const unsigned char u = static_cast<unsigned char>(c);
           return (lower_only ? (absl::ascii_islower(u) || absl::ascii_isdigit(u))
                              : absl::ascii_isalnum(u)) ||
                  c == '_' || c == '-';
         });
}

google::protobuf::Timestamp Now() { return google::protobuf::util::TimeUtil::GetCurrentTime(); }

bool SuperAdmin(const Principal& who) { return who.Has(kRoleSuperAdmin); }

}  // namespace

idv::v1::Client ToClient(const ClientRecord& r) {
  idv::v1::Client c;
  c.set_client_id(r.client_id());
  c.set_tenant(r.tenant());
  *c.mutable_roles() = r.roles();
  *c.mutable_created_at() = r.created_at();
  c.set_created_by(r.created_by());
  if (r.has_expires_at()) *c.mutable_expires_at() = r.expires_at();
  c.set_revoked(r.revoked());
  if (r.has_revoked_at()) *c.mutable_revoked_at() = r.revoked_at();
  c.set_rotations(r.rotations());
  c.set_description(r.description());
  return c;
}

std::string ClientManager::NewSecret(ClientRecord& client) const {
  std::string secret = RandomToken(32);
  client.set_key_version(keys_.current_version());
  const auto hash = keys_.ClientSecretHash(client.client_id(), secret, client.key_version());
  client.set_secret_hash(hash.data(), hash.size());
  std::string key = absl::StrCat(client.client_id(), ".", secret);
  sodium_memzero(secret.data(), secret.size());
  return key;
}

absl::Status ClientManager::ReloadClients() const {
  absl::StatusOr<std::vector<ClientRecord>> clients =
      Await<std::vector<ClientRecord>>([&](auto done) { store_.ListClients(std::move(done)); });
  if (!clients.ok()) return clients.status();
  auth_.Reload(*clients);
  return absl::OkStatus();
}

void ClientManager::AwaitEveryNode(const std::string& client_id, absl::Duration timeout) const {
  const absl::Time give_up = absl::Now() + timeout;
  absl::StatusOr<std::vector<std::string>> unseen;
  for (;;) {
    unseen = Await<std::vector<std::string>>(
        [&](auto done) { store_.ClientChangeUnseenBy(client_id, std::move(done)); });
    if ((unseen.ok() && unseen->empty()) || absl::Now() >= give_up) break;
    // Each node reads the change when the store's notification reaches it: milliseconds.
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (!unseen.ok()) {
    spdlog::warn("client {}: cannot tell which nodes have its change: {}", client_id,
                 std::string(unseen.status().message()));
  } else if (!unseen->empty()) {
    spdlog::warn("client {}: nodes {} have not read its change after {}", client_id,
                 absl::StrJoin(*unseen, ", "), absl::FormatDuration(timeout));
  }
}

absl::Status ClientManager::Store(const Principal& who, const std::string& action,
                                  const std::string& summary, std::optional<ClientRecord> client,
                                  bool must_be_new, std::optional<TenantRecord> tenant) const {
  const absl::Time now = absl::Now();
  const std::string target = client ? client->client_id() : tenant->name();
  // The record belongs to the tenant whose client (or which tenant) changed: its auditors see it.
  const std::string owner = client ? client->tenant() : tenant->name();
  store::VerificationCommit commit;
  commit.record =
      audit::RecordBuilder::AdminChange(NewVerificationId(now), now, action, target, 0, summary)
          .By(owner, who.client_id())
          .Build();
  commit.client = std::move(client);
  commit.client_must_be_new = must_be_new;
  commit.tenant = std::move(tenant);
  absl::StatusOr<store::CommitResult> r = Await<store::CommitResult>(
      [&](auto done) { store_.CommitVerification(std::move(commit), std::move(done)); });
  if (!r.ok()) return r.status();
  return ReloadClients();
}

absl::StatusOr<idv::v1::ClientSecret> ClientManager::Create(
    const Principal& who, const idv::v1::CreateClientRequest& req) const {
  const std::string tenant = req.tenant().empty() ? who.tenant() : req.tenant();
  if (tenant != who.tenant() && !SuperAdmin(who)) {
    return absl::PermissionDeniedError("only a super-admin creates clients of another tenant");
  }
  if (tenant != kDefaultTenant) {
    absl::StatusOr<idv::v1::ListTenantsResponse> tenants = ListTenants();
    if (!tenants.ok()) return tenants.status();
    if (std::none_of(tenants->tenants().begin(), tenants->tenants().end(),
                     [&](const idv::v1::Tenant& t) { return t.name() == tenant; })) {
      return absl::NotFoundError(absl::StrCat("no tenant \"", tenant, "\""));
    }
  }
  ClientRecord client;
  client.set_client_id(req.client_id().empty() ? "cl" + RandomToken(12) : req.client_id());
  if (!ValidName(client.client_id(), 3, 64, false)) {
    return absl::InvalidArgumentError("client_id: 3 to 64 characters of [A-Za-z0-9_-]");
  }
  if (req.roles().empty()) return absl::InvalidArgumentError("roles: at least one is required");
  for (const std::string& role : req.roles()) {
    const uint32_t r = RoleNamed(role);
    if (r == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "roles: \"", role.substr(0, 32), "\" is none of verify, audit, admin, super-admin"));
    }
    if (r == kRoleSuperAdmin && !SuperAdmin(who)) {
      return absl::PermissionDeniedError("only a super-admin grants super-admin");
    }
    if (std::find(client.roles().begin(), client.roles().end(), role) == client.roles().end()) {
      client.add_roles(role);
    }
  }
  if (req.has_expires_at() && google::protobuf::util::TimeUtil::TimestampToNanoseconds(
                                  req.expires_at()) <= absl::ToUnixNanos(absl::Now())) {
    return absl::InvalidArgumentError("expires_at: must be in the future");
  }
  if (req.description().size() > kMaxDescription) {
    return absl::InvalidArgumentError("description: at most 256 bytes");
  }
  client.set_tenant(tenant);
  *client.mutable_created_at() = Now();
  client.set_created_by(who.client_id());
  if (req.has_expires_at()) *client.mutable_expires_at() = req.expires_at();
  client.set_description(req.description());
  idv::v1::ClientSecret out;
  out.set_api_key(NewSecret(client));
  *out.mutable_client() = ToClient(client);
  absl::Status s = Store(who, "CreateClient",
                         absl::StrCat("roles ", absl::StrJoin(client.roles(), ","),
                                      req.has_expires_at() ? ", expiring" : ""),
                         client, /*must_be_new=*/true, std::nullopt);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ClientRecord> ClientManager::Find(const Principal& who,
                                                 const std::string& client_id) const {
  absl::StatusOr<std::vector<ClientRecord>> clients =
      Await<std::vector<ClientRecord>>([&](auto done) { store_.ListClients(std::move(done)); });
  if (!clients.ok()) return clients.status();
  for (ClientRecord& c : *clients) {
    // Another tenant's client is indistinguishable from a missing one.
    if (c.client_id() == client_id && (c.tenant() == who.tenant() || SuperAdmin(who))) {
      return std::move(c);
    }
  }
  return absl::NotFoundError(absl::StrCat("no client \"", client_id.substr(0, 64), "\""));
}

absl::StatusOr<idv::v1::ListClientsResponse> ClientManager::List(
    const Principal& who, const idv::v1::ListClientsRequest& req) const {
  const std::string tenant = req.tenant().empty() ? who.tenant() : req.tenant();
  if (tenant != who.tenant() && !SuperAdmin(who)) {
    return absl::PermissionDeniedError("only a super-admin lists another tenant's clients");
  }
  absl::StatusOr<std::vector<ClientRecord>> clients =
      Await<std::vector<ClientRecord>>([&](auto done) { store_.ListClients(std::move(done)); });
  if (!clients.ok()) return clients.status();
  idv::v1::ListClientsResponse out;
  for (const ClientRecord& c : *clients) {
    if (tenant == "*" || c.tenant() == tenant) *out.add_clients() = ToClient(c);
  }
  return out;
}

absl::StatusOr<idv::v1::Client> ClientManager::Get(const Principal& who,
                                                   const std::string& client_id) const {
  absl::StatusOr<ClientRecord> c = Find(who, client_id);
  if (!c.ok()) return c.status();
  return ToClient(*c);
}

absl::StatusOr<idv::v1::Client> ClientManager::Revoke(const Principal& who,
                                                      const std::string& client_id) const {
  absl::StatusOr<ClientRecord> c = Find(who, client_id);
  if (!c.ok()) return c.status();
  if (c->revoked()) return ToClient(*c);  // idempotent
  c->set_revoked(true);
  *c->mutable_revoked_at() = Now();
  if (absl::Status s = Store(who, "RevokeClient", "revoked", *c, false, std::nullopt); !s.ok()) {
    return s;
  }
  AwaitEveryNode(client_id, absl::Seconds(2));
  return ToClient(*c);
}

absl::StatusOr<idv::v1::ClientSecret> ClientManager::Rotate(const Principal& who,
                                                            const std::string& client_id) const {
  absl::StatusOr<ClientRecord> c = Find(who, client_id);
  if (!c.ok()) return c.status();
  if (c->revoked()) return absl::FailedPreconditionError("the client is revoked");
  idv::v1::ClientSecret out;
  out.set_api_key(NewSecret(*c));
  c->set_rotations(c->rotations() + 1);
  if (absl::Status s = Store(who, "RotateClientSecret", "new secret; the old one is refused", *c,
                             false, std::nullopt);
      !s.ok()) {
    return s;
  }
  AwaitEveryNode(client_id, absl::Seconds(2));
  *out.mutable_client() = ToClient(*c);
  return out;
}

absl::StatusOr<idv::v1::Tenant> ClientManager::CreateTenant(
    const Principal& who, const idv::v1::CreateTenantRequest& req) const {
  if (!ValidName(req.name(), 1, 64, true) || req.name() == kDefaultTenant) {
    return absl::InvalidArgumentError(
        "name: 1 to 64 characters of [a-z0-9_-], not \"default\" (which always exists)");
  }
  if (req.description().size() > kMaxDescription) {
    return absl::InvalidArgumentError("description: at most 256 bytes");
  }
  TenantRecord t;
  t.set_name(req.name());
  *t.mutable_created_at() = Now();
  t.set_created_by(who.client_id());
  t.set_description(req.description());
  if (absl::Status s = Store(who, "CreateTenant", "created", std::nullopt, false, t); !s.ok()) {
    return s;
  }
  idv::v1::Tenant out;
  out.set_name(t.name());
  *out.mutable_created_at() = t.created_at();
  out.set_created_by(t.created_by());
  out.set_description(t.description());
  return out;
}

absl::StatusOr<idv::v1::DeleteAccountDataResponse> ClientManager::DeleteAccountData(
    const Principal& who, const idv::v1::DeleteAccountDataRequest& req) const {
  const std::string tenant = req.tenant().empty() ? who.tenant() : req.tenant();
  if (tenant != who.tenant() && !SuperAdmin(who)) {
    return absl::PermissionDeniedError("only a super-admin deletes another tenant's data");
  }
  if (absl::Status s = CheckAccountId(req.account_id()); !s.ok()) return s;
  if (req.reason().size() > kMaxDescription || HasControlCharacter(req.reason())) {
    return absl::InvalidArgumentError("reason: at most 256 bytes, no control characters");
  }
  store::VerificationCommit commit = AccountRemovalCommit(
      tenant, who.client_id(), req.account_id(), "DeleteAccountData",
      req.reason().empty() ? "deletion request" : absl::StrCat("deletion request: ", req.reason()),
      absl::Now());
  idv::v1::DeleteAccountDataResponse out;
  out.set_record_id(commit.record.verification_id());
  absl::StatusOr<store::CommitResult> r = Await<store::CommitResult>(
      [&](auto done) { store_.CommitVerification(std::move(commit), std::move(done)); });
  if (!r.ok()) return r.status();
  out.set_binding_removed(r->binding_removed);
  out.set_idempotency_entries_removed(r->idempotency_removed);
  return out;
}

absl::StatusOr<idv::v1::ListTenantsResponse> ClientManager::ListTenants() const {
  absl::StatusOr<std::vector<TenantRecord>> tenants =
      Await<std::vector<TenantRecord>>([&](auto done) { store_.ListTenants(std::move(done)); });
  if (!tenants.ok()) return tenants.status();
  idv::v1::ListTenantsResponse out;
  idv::v1::Tenant* d = out.add_tenants();
  d->set_name(kDefaultTenant);
  d->set_description("the first-start administrator's tenant");
  for (const TenantRecord& t : *tenants) {
    idv::v1::Tenant* o = out.add_tenants();
    o->set_name(t.name());
    *o->mutable_created_at() = t.created_at();
    o->set_created_by(t.created_by());
    o->set_description(t.description());
  }
  return out;
}

absl::Status ClientManager::GrantSuperAdminIfNone() const {
  absl::StatusOr<std::vector<ClientRecord>> clients =
      Await<std::vector<ClientRecord>>([&](auto done) { store_.ListClients(std::move(done)); });
  if (!clients.ok()) return clients.status();
  // Once any client has held super-admin (revoked ones included), the store is past the upgrade:
  // revoking every super-admin must not bring the role back at the next start.
  for (const ClientRecord& c : *clients) {
    if (std::count(c.roles().begin(), c.roles().end(), "super-admin") > 0) {
      return absl::OkStatus();
    }
  }
  for (ClientRecord c : *clients) {
    if (c.revoked() || c.tenant() != kDefaultTenant ||
        std::count(c.roles().begin(), c.roles().end(), "admin") == 0) {
      continue;
    }
    c.add_roles("super-admin");
    const absl::Time now = absl::Now();
    store::VerificationCommit commit;
    commit.record =
        audit::RecordBuilder::AdminChange(
            NewVerificationId(now), now, "GrantSuperAdmin", c.client_id(), 0,
            "upgrade: backends and policies now need super-admin, which the default tenant's "
            "administrators held as admin before")
            .By(c.tenant(), "upgrade")
            .Build();
    commit.client = c;
    absl::StatusOr<store::CommitResult> r = Await<store::CommitResult>(
        [&](auto done) { store_.CommitVerification(std::move(commit), std::move(done)); });
    if (!r.ok()) return r.status();
  }
  return ReloadClients();
}

}  // namespace idv::services
