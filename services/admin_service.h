// idv.v1.AdminService over the gRPC callback API: run-time changes to backends and policies, and
// API clients and tenants. Thin: authenticates the caller (the roles each RPC needs are in
// auth.cc's table), then hands configuration changes to the ConfigManager (which validates,
// stores, audits and swaps) and client and tenant work to the ClientManager, on a small pool of
// its own (it waits for the store).
#ifndef IDV_SERVICES_ADMIN_SERVICE_H_
#define IDV_SERVICES_ADMIN_SERVICE_H_

#include "idv/v1/admin.grpc.pb.h"
#include "services/auth.h"
#include "services/client_manager.h"
#include "services/config_manager.h"
#include "store/thread_pool.h"

namespace idv::services {

class AdminServiceImpl final : public idv::v1::AdminService::CallbackService {
 public:
  AdminServiceImpl(const Authenticator& auth, ConfigManager& config, const ClientManager& clients,
                   const crypto::KeyRing& keys, store::Store& store, std::string backup_dir = "")
      : auth_(auth),
        config_(config),
        clients_(clients),
        keys_(keys),
        store_(store),
        backup_dir_(std::move(backup_dir)),
        pool_(1, "idv-admin") {}
  ~AdminServiceImpl() override { pool_.Shutdown(); }

  grpc::ServerUnaryReactor* ListBackends(grpc::CallbackServerContext* ctx,
                                         const idv::v1::ListBackendsRequest* request,
                                         idv::v1::ListBackendsResponse* response) override;
  grpc::ServerUnaryReactor* PutBackend(grpc::CallbackServerContext* ctx,
                                       const idv::v1::PutBackendRequest* request,
                                       idv::v1::ConfigChange* response) override;
  grpc::ServerUnaryReactor* DeleteBackend(grpc::CallbackServerContext* ctx,
                                          const idv::v1::DeleteBackendRequest* request,
                                          idv::v1::ConfigChange* response) override;
  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* ctx,
                                      const idv::v1::GetPolicyRequest* request,
                                      idv::v1::GetPolicyResponse* response) override;
  grpc::ServerUnaryReactor* PutPolicy(grpc::CallbackServerContext* ctx,
                                      const idv::v1::PutPolicyRequest* request,
                                      idv::v1::ConfigChange* response) override;
  grpc::ServerUnaryReactor* ListConfigVersions(
      grpc::CallbackServerContext* ctx, const idv::v1::ListConfigVersionsRequest* request,
      idv::v1::ListConfigVersionsResponse* response) override;

  grpc::ServerUnaryReactor* CreateClient(grpc::CallbackServerContext* ctx,
                                         const idv::v1::CreateClientRequest* request,
                                         idv::v1::ClientSecret* response) override;
  grpc::ServerUnaryReactor* ListClients(grpc::CallbackServerContext* ctx,
                                        const idv::v1::ListClientsRequest* request,
                                        idv::v1::ListClientsResponse* response) override;
  grpc::ServerUnaryReactor* GetClient(grpc::CallbackServerContext* ctx,
                                      const idv::v1::GetClientRequest* request,
                                      idv::v1::Client* response) override;
  grpc::ServerUnaryReactor* RevokeClient(grpc::CallbackServerContext* ctx,
                                         const idv::v1::RevokeClientRequest* request,
                                         idv::v1::Client* response) override;
  grpc::ServerUnaryReactor* RotateClientSecret(grpc::CallbackServerContext* ctx,
                                               const idv::v1::RotateClientSecretRequest* request,
                                               idv::v1::ClientSecret* response) override;
  grpc::ServerUnaryReactor* CreateTenant(grpc::CallbackServerContext* ctx,
                                         const idv::v1::CreateTenantRequest* request,
                                         idv::v1::Tenant* response) override;
  grpc::ServerUnaryReactor* DeleteAccountData(
      grpc::CallbackServerContext* ctx, const idv::v1::DeleteAccountDataRequest* request,
      idv::v1::DeleteAccountDataResponse* response) override;
  grpc::ServerUnaryReactor* RotateKeys(grpc::CallbackServerContext* ctx,
                                       const idv::v1::RotateKeysRequest* request,
                                       idv::v1::ConfigChange* response) override;
  grpc::ServerUnaryReactor* RetireKeyVersions(grpc::CallbackServerContext* ctx,
                                              const idv::v1::RetireKeyVersionsRequest* request,
                                              idv::v1::ConfigChange* response) override;
  grpc::ServerUnaryReactor* GetKeyStatus(grpc::CallbackServerContext* ctx,
                                         const idv::v1::GetKeyStatusRequest* request,
                                         idv::v1::KeyStatus* response) override;
  grpc::ServerUnaryReactor* CreateBackup(grpc::CallbackServerContext* ctx,
                                         const idv::v1::CreateBackupRequest* request,
                                         idv::v1::BackupInfo* response) override;
  grpc::ServerUnaryReactor* ScrubDeletedData(grpc::CallbackServerContext* ctx,
                                             const idv::v1::ScrubDeletedDataRequest* request,
                                             idv::v1::ScrubDeletedDataResponse* response) override;
  grpc::ServerUnaryReactor* ListTenants(grpc::CallbackServerContext* ctx,
                                        const idv::v1::ListTenantsRequest* request,
                                        idv::v1::ListTenantsResponse* response) override;

 private:
  // Authenticates, then applies `change` and finishes the call with its result.
  grpc::ServerUnaryReactor* ApplyChange(grpc::CallbackServerContext* ctx, absl::string_view method,
                                        ChangeRequest change, idv::v1::ConfigChange* response);

  const Authenticator& auth_;
  ConfigManager& config_;
  const ClientManager& clients_;
  const crypto::KeyRing& keys_;
  store::Store& store_;
  const std::string backup_dir_;
  store::ThreadPool pool_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_ADMIN_SERVICE_H_
