#include "services/audit_service.h"

#include "services/status.h"

namespace idv::services {

template <typename Response, typename Work>
grpc::ServerUnaryReactor* AuditServiceImpl::Run(grpc::CallbackServerContext* ctx,
                                                Response* response, Work work) {
  absl::StatusOr<Principal> principal = auth_.Authenticate(*ctx, kRoleAudit);
  if (!principal.ok()) return FinishNow(ctx, principal.status());
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::AnyInvocable<void() &&> task = [reactor, response, work = std::move(work),
                                        p = *std::move(principal)]() mutable {
    absl::StatusOr<Response> r = work(p);
    if (r.ok()) *response = *std::move(r);
    reactor->Finish(ToGrpcStatus(r.status()));
  };
  if (!pool_.Schedule(task)) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is stopping"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListRecords(grpc::CallbackServerContext* ctx,
                                                        const idv::v1::ListRecordsRequest* request,
                                                        idv::v1::ListRecordsResponse* response) {
  return Run(ctx, response, [this, req = *request](const Principal& p) {
    return auditor_.List(p.tenant(), req);
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetCheckpoint(
    grpc::CallbackServerContext* ctx, const idv::v1::GetCheckpointRequest* request,
    idv::v1::GetCheckpointResponse* response) {
  return Run(ctx, response, [this, node = request->node_id()](const Principal&) {
    return auditor_.Checkpoints(node);
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetRecord(grpc::CallbackServerContext* ctx,
                                                      const idv::v1::GetRecordRequest* request,
                                                      idv::v1::AuditRecordEntry* response) {
  return Run(ctx, response, [this, req = *request](const Principal& p) {
    return auditor_.Record(p.tenant(), req.node_id(), req.index());
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetInclusionProof(
    grpc::CallbackServerContext* ctx, const idv::v1::GetInclusionProofRequest* request,
    idv::v1::InclusionProof* response) {
  return Run(ctx, response, [this, req = *request](const Principal&) {
    return auditor_.ProveInclusion(req.node_id(), req.index(), req.tree_size());
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetConsistencyProof(
    grpc::CallbackServerContext* ctx, const idv::v1::GetConsistencyProofRequest* request,
    idv::v1::ConsistencyProof* response) {
  return Run(ctx, response, [this, req = *request](const Principal&) {
    return auditor_.ProveConsistency(req.node_id(), req.old_size(), req.new_size());
  });
}

grpc::ServerUnaryReactor* AuditServiceImpl::VerifyIntegrity(
    grpc::CallbackServerContext* ctx, const idv::v1::VerifyIntegrityRequest* request,
    idv::v1::IntegrityReport* response) {
  return Run(ctx, response, [this, req = *request](const Principal&) {
    return auditor_.VerifyIntegrity(
        req.node_id(), {req.trusted_checkpoints().begin(), req.trusted_checkpoints().end()});
  });
}

}  // namespace idv::services
