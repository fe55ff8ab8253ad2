// Who is calling: API-key authentication of every RPC.
//
// Clients send `authorization: Bearer <client_id>.<secret>`. The store keeps only a keyed hash of
// each secret (crypto::KeyRing::ClientSecretHash); Authenticate recomputes it and compares in
// constant time. The client table is loaded at start-up and replaced whole by Reload (when the
// store announces a client change, made through this node or another); Authenticate reads it
// through an atomic shared_ptr, so it is thread-safe and touches no disk.
#ifndef IDV_SERVICES_AUTH_H_
#define IDV_SERVICES_AUTH_H_

#include <grpcpp/server_context.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/keyring.h"
#include "idv/store/v1/store.pb.h"
#include "services/limits.h"
#include "services/security_events.h"
#include "store/store.h"

namespace idv::services {

enum Role : uint32_t { kRoleVerify = 1, kRoleAudit = 2, kRoleAdmin = 4, kRoleSuperAdmin = 8 };

// The roles that may call each RPC (any of them), by its method name ("Verify", "PutBackend", ...):
// the one table of authorization. 0 for an unknown name (nobody may call it).
uint32_t RolesFor(absl::string_view method);

// "verify", "audit", "admin", "super-admin" to a Role; 0 for anything else.
uint32_t RoleNamed(absl::string_view name);

// The authenticated caller. Only Authenticator makes one.
class Principal {
 public:
  const std::string& tenant() const { return tenant_; }
  const std::string& client_id() const { return client_id_; }
  bool Has(Role role) const { return (roles_ & role) != 0; }
  uint32_t roles() const { return roles_; }

 private:
  friend class Authenticator;
  Principal(std::string tenant, std::string client_id, uint32_t roles)
      : tenant_(std::move(tenant)), client_id_(std::move(client_id)), roles_(roles) {}
  std::string tenant_;
  std::string client_id_;
  uint32_t roles_;
};

class Authenticator {
 public:
  Authenticator(const crypto::KeyRing& keys,
                const std::vector<idv::store::v1::ClientRecord>& clients);

  // The caller is a client with a valid key in `authorization: Bearer <client_id>.<secret>`, or,
  // with client certificates on and no such metadata, the client named by the Common Name of the
  // certificate the TLS layer verified.
  // Unauthenticated for a missing, malformed, unknown, revoked, expired or wrong key (or a
  // certificate naming no live client);
  // PermissionDenied when the client has none of the roles RolesFor(method) allows. A refusal is
  // a security event (see set_security_events).
  // Then, with limits set, ResourceExhausted when the client is over its call rate (with a
  // `retry-after-ms` trailer).
  absl::StatusOr<Principal> Authenticate(grpc::ServerContextBase& ctx,
                                         absl::string_view method) const;

  // Signing in to the web console: the client `key` ("<client_id>.<secret>") names, when the key
  // is valid now. Roles are not checked (each later call is authenticated on its own); a refusal
  // is a security event of method "ConsoleSignIn" from `peer`.
  absl::StatusOr<Principal> Identify(absl::string_view key, absl::string_view peer) const;

  // Where refusals are recorded; none when unset. Set before serving.
  void set_security_events(SecurityEvents* events) { events_ = events; }
  // The per-client call rate to enforce; none when unset. Set before serving.
  void set_limits(Limits* limits) { limits_ = limits; }
  // Accept verified client certificates (tls.client_ca_file) in place of a key. Set before
  // serving.
  void set_client_certificates(bool on) { client_certificates_ = on; }

  // Replaces the client table. Calls already authenticated keep their principal.
  void Reload(const std::vector<idv::store::v1::ClientRecord>& clients);

 private:
  struct Client {
    std::string tenant;
    uint32_t roles = 0;
    uint32_t key_version = 0;
    std::string secret_hash;
    absl::Time expires = absl::InfiniteFuture();
  };
  using Table = std::map<std::string, Client, std::less<>>;
  absl::StatusOr<Principal> AuthenticateByCertificate(grpc::ServerContextBase& ctx,
                                                      absl::string_view method,
                                                      uint32_t any_of) const;
  // The checks after the credential: expiry, roles, call rate. `invalid` is what the caller hears
  // for an expired client.
  absl::StatusOr<Principal> Admit(grpc::ServerContextBase& ctx, absl::string_view method,
                                  uint32_t any_of, absl::string_view id, const Client& client,
                                  absl::string_view invalid) const;
  // Records the refusal (with `detail`, which the caller is not told) and returns `why`.
  absl::Status Refuse(const grpc::ServerContextBase& ctx, absl::string_view method,
                      absl::string_view tenant, absl::string_view client_id, absl::Status why,
                      absl::string_view detail = "") const {
    return RefusePeer(ctx.peer(), method, tenant, client_id, std::move(why), detail);
  }
  absl::Status RefusePeer(absl::string_view peer, absl::string_view method,
                          absl::string_view tenant, absl::string_view client_id, absl::Status why,
                          absl::string_view detail = "") const;
  // The live client `key` ("<client_id>.<secret>") names, with its id, or the refusal (recorded).
  absl::StatusOr<std::pair<std::string, Client>> ClientForKey(absl::string_view key,
                                                              absl::string_view peer,
                                                              absl::string_view method) const;

  const crypto::KeyRing& keys_;
  SecurityEvents* events_ = nullptr;
  Limits* limits_ = nullptr;
  bool client_certificates_ = false;
  // Read with std::atomic_load, replaced with std::atomic_store.
  std::shared_ptr<const Table> table_;
};

// `bytes` random bytes as URL-safe base64 without padding: client secrets and generated ids.
std::string RandomToken(size_t bytes);

// On first start (no client in the store), creates an admin client of tenant "default" with every
// role (super-admin included) and writes "<client_id>.<secret>" to `key_path` with mode 0600. The
// key file is written before the client is stored, so a crash in between leaves no unusable client
// behind. Of nodes sharing one database and starting together, one creates it; the others remove
// their key file. Returns true when it created one.
absl::StatusOr<bool> BootstrapAdminClient(store::Store& store, const crypto::KeyRing& keys,
                                          const std::string& key_path);

}  // namespace idv::services

#endif  // IDV_SERVICES_AUTH_H_
