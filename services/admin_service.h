// idv.v1.AdminService over the gRPC callback API: run-time changes to backends and policies.
// Thin: checks the caller has the admin role, turns each RPC into a ConfigEdit and hands it to
// the ConfigManager, which validates, stores, audits and swaps.
#ifndef IDV_SERVICES_ADMIN_SERVICE_H_
#define IDV_SERVICES_ADMIN_SERVICE_H_

#include "idv/v1/admin.grpc.pb.h"
#include "services/auth.h"
#include "services/config_manager.h"

namespace idv::services {

class AdminServiceImpl final : public idv::v1::AdminService::CallbackService {
 public:
  AdminServiceImpl(const Authenticator& auth, ConfigManager& config)
      : auth_(auth), config_(config) {}

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

 private:
  // Authenticates, then applies `change` and finishes the call with its result.
  grpc::ServerUnaryReactor* ApplyChange(grpc::CallbackServerContext* ctx, absl::string_view method,
                                        ChangeRequest change, idv::v1::ConfigChange* response);

  const Authenticator& auth_;
  ConfigManager& config_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_ADMIN_SERVICE_H_
