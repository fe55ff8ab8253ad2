// API clients and tenants, administered at run time (idv.v1.AdminService's client and tenant
// RPCs, and deletion requests, without gRPC). An `admin` works on its own tenant's clients; a
// `super-admin` on any tenant's, and creates tenants. Each change is stored with its audit record
// in one atomic write (Store::CommitVerification), and the client table of this node is reloaded
// before the call returns; other nodes reload on the store's notification. Secrets are generated
// here, returned once, and stored only as keyed hashes. Methods block on the store: call them from
// a pool.
#ifndef IDV_SERVICES_CLIENT_MANAGER_H_
#define IDV_SERVICES_CLIENT_MANAGER_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/keyring.h"
#include "idv/v1/admin.pb.h"
#include "services/auth.h"
#include "store/store.h"

namespace idv::services {

class ClientManager {
 public:
  ClientManager(store::Store& store, const crypto::KeyRing& keys, Authenticator& auth)
      : store_(store), keys_(keys), auth_(auth) {}

  absl::StatusOr<idv::v1::ClientSecret> Create(const Principal& who,
                                               const idv::v1::CreateClientRequest& request) const;
  absl::StatusOr<idv::v1::ListClientsResponse> List(
      const Principal& who, const idv::v1::ListClientsRequest& request) const;
  // NotFound for another tenant's client, unless `who` is a super-admin.
  absl::StatusOr<idv::v1::Client> Get(const Principal& who, const std::string& client_id) const;
  // Revoke and Rotate return once every live node has read the change (or, after 2 s, naming in
  // the log the nodes that have not): the next call with the old key is refused on every node.
  absl::StatusOr<idv::v1::Client> Revoke(const Principal& who, const std::string& client_id) const;
  absl::StatusOr<idv::v1::ClientSecret> Rotate(const Principal& who,
                                               const std::string& client_id) const;
  absl::StatusOr<idv::v1::Tenant> CreateTenant(const Principal& who,
                                               const idv::v1::CreateTenantRequest& request) const;
  absl::StatusOr<idv::v1::ListTenantsResponse> ListTenants() const;
  // A deletion request (see AdminService.DeleteAccountData) in `who`'s tenant, or any tenant for
  // a super-admin.
  absl::StatusOr<idv::v1::DeleteAccountDataResponse> DeleteAccountData(
      const Principal& who, const idv::v1::DeleteAccountDataRequest& request) const;

  // Stores from before the super-admin role: when no client has ever had it, every admin client
  // of the tenant "default" (the first-start administrator) gets it, with an audit record, so that
  // who managed backends and policies before still can. Runs at every start; acts once.
  absl::Status GrantSuperAdminIfNone() const;

 private:
  // The stored client `client_id` as `who` may see it.
  absl::StatusOr<idv::store::v1::ClientRecord> Find(const Principal& who,
                                                    const std::string& client_id) const;
  // Stores `client` (and `tenant`) with an administrative record of `action`, then reloads this
  // node's client table.
  absl::Status Store(const Principal& who, const std::string& action, const std::string& summary,
                     std::optional<idv::store::v1::ClientRecord> client, bool must_be_new,
                     std::optional<idv::store::v1::TenantRecord> tenant) const;
  // A fresh secret for `client` (its hash and key version set); returns the API key.
  std::string NewSecret(idv::store::v1::ClientRecord& client) const;
  absl::Status ReloadClients() const;
  // Waits (at most `timeout`) until every live node has read the latest change of `client_id`.
  void AwaitEveryNode(const std::string& client_id, absl::Duration timeout) const;

  store::Store& store_;
  const crypto::KeyRing& keys_;
  Authenticator& auth_;
};

// The API view of a stored client (no secret hash).
idv::v1::Client ToClient(const idv::store::v1::ClientRecord& r);

}  // namespace idv::services

#endif  // IDV_SERVICES_CLIENT_MANAGER_H_
