// idv.v1.AuditService: thin gRPC glue over Auditor. Every call needs the `audit` role; the work
// runs on the service's own small pool (it waits for the store), never on gRPC's threads.
#ifndef IDV_SERVICES_AUDIT_SERVICE_H_
#define IDV_SERVICES_AUDIT_SERVICE_H_

#include <string>
#include <utility>

#include "idv/v1/audit.grpc.pb.h"
#include "services/auditor.h"
#include "services/auth.h"
#include "store/thread_pool.h"

namespace idv::services {

class AuditServiceImpl final : public idv::v1::AuditService::CallbackService {
 public:
  // `trust_framework`: the label of verified_claims in exports (services/verified_claims.h).
  AuditServiceImpl(const Authenticator& auth, const Auditor& auditor, std::string trust_framework)
      : auth_(auth),
        auditor_(auditor),
        trust_framework_(std::move(trust_framework)),
        pool_(2, "idv-audit") {}
  ~AuditServiceImpl() override { pool_.Shutdown(); }

  grpc::ServerUnaryReactor* ListRecords(grpc::CallbackServerContext* ctx,
                                        const idv::v1::ListRecordsRequest* request,
                                        idv::v1::ListRecordsResponse* response) override;
  grpc::ServerWriteReactor<idv::v1::ExportChunk>* ExportRecords(
      grpc::CallbackServerContext* ctx, const idv::v1::ExportRecordsRequest* request) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* ctx,
                                     const idv::v1::GetStatsRequest* request,
                                     idv::v1::GetStatsResponse* response) override;
  grpc::ServerUnaryReactor* GetCheckpoint(grpc::CallbackServerContext* ctx,
                                          const idv::v1::GetCheckpointRequest* request,
                                          idv::v1::GetCheckpointResponse* response) override;
  grpc::ServerUnaryReactor* GetRecord(grpc::CallbackServerContext* ctx,
                                      const idv::v1::GetRecordRequest* request,
                                      idv::v1::AuditRecordEntry* response) override;
  grpc::ServerUnaryReactor* GetInclusionProof(grpc::CallbackServerContext* ctx,
                                              const idv::v1::GetInclusionProofRequest* request,
                                              idv::v1::InclusionProof* response) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(grpc::CallbackServerContext* ctx,
                                                const idv::v1::GetConsistencyProofRequest* request,
                                                idv::v1::ConsistencyProof* response) override;
  grpc::ServerUnaryReactor* VerifyIntegrity(grpc::CallbackServerContext* ctx,
                                            const idv::v1::VerifyIntegrityRequest* request,
                                            idv::v1::IntegrityReport* response) override;

 private:
  class Export;

  const Authenticator& auth_;
  const Auditor& auditor_;
  const std::string trust_framework_;
  store::ThreadPool pool_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_AUDIT_SERVICE_H_
