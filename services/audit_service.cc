#include "services/audit_service.h"

#include "absl/strings/str_cat.h"
#include "services/export.h"
#include "services/pooled_call.h"
#include "services/status.h"

namespace idv::services {
namespace {

// What a query asked for, for the record of an auditor's read (account ids are the operator's,
// not identity data).
std::string Describe(const idv::v1::RecordFilter& f, const std::string& page_token) {
  std::string out = f.ShortDebugString();
  if (!page_token.empty()) absl::StrAppend(&out, out.empty() ? "" : " ", "page ", page_token);
  return out.empty() ? "all" : out;
}

}  // namespace

// One export in flight: reads a page of records on the pool, writes it as one chunk, and reads
// the next page only when gRPC has sent that chunk, so memory holds one page whatever the range.
// Deletes itself in OnDone.
class AuditServiceImpl::Export final : public grpc::ServerWriteReactor<idv::v1::ExportChunk> {
 public:
  Export(AuditServiceImpl& service, std::string tenant, std::string client,
         idv::v1::ExportRecordsRequest request)
      : service_(service), tenant_(std::move(tenant)), client_(std::move(client)) {
    page_.set_page_size(1000);
    *page_.mutable_filter() = request.filter();
    request_ = std::move(request);
    ReadNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    if (last_) return Finish(grpc::Status::OK);
    ReadNext();
  }
  void OnDone() override { delete this; }

 private:
  void ReadNext() {
    absl::AnyInvocable<void()&&> task = [this]() {
      if (first_) {
        absl::Status recorded = service_.auditor_.RecordRead(tenant_, client_, "ExportRecords",
                                                             Describe(page_.filter(), ""));
        if (!recorded.ok()) return Finish(ToGrpcStatus(recorded));
      }
      absl::StatusOr<idv::v1::ListRecordsResponse> page = service_.auditor_.List(tenant_, page_);
      if (!page.ok()) return Finish(ToGrpcStatus(page.status()));
      std::string data =
          first_ && request_.format() == idv::v1::ExportRecordsRequest::CSV ? CsvHeader() : "";
      first_ = false;
      for (const idv::v1::AuditRecordEntry& e : page->records()) {
        data += ExportLine(e, request_, service_.trust_framework_);
      }
      total_ += page->records_size();
      chunk_.set_data(std::move(data));
      chunk_.set_records(page->records_size());
      chunk_.set_records_total(total_);
      page_.set_page_token(page->next_page_token());
      last_ = page->next_page_token().empty();
      StartWrite(&chunk_);
    };
    if (!service_.pool_.Schedule(task)) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is stopping"));
    }
  }

  AuditServiceImpl& service_;
  const std::string tenant_;
  const std::string client_;
  idv::v1::ListRecordsRequest page_;
  idv::v1::ExportRecordsRequest request_;
  idv::v1::ExportChunk chunk_;
  uint64_t total_ = 0;
  bool first_ = true;
  bool last_ = false;
};

grpc::ServerWriteReactor<idv::v1::ExportChunk>* AuditServiceImpl::ExportRecords(
    grpc::CallbackServerContext* ctx, const idv::v1::ExportRecordsRequest* request) {
  struct Refused : grpc::ServerWriteReactor<idv::v1::ExportChunk> {
    explicit Refused(const absl::Status& s) { Finish(ToGrpcStatus(s)); }
    void OnDone() override { delete this; }
  };
  absl::StatusOr<Principal> principal = auth_.Authenticate(*ctx, "ExportRecords");
  if (!principal.ok()) return new Refused(principal.status());
  if (absl::Status s = CheckExportRequest(*request); !s.ok()) return new Refused(s);
  return new Export(*this, principal->tenant(), principal->client_id(), *request);
}

grpc::ServerUnaryReactor* AuditServiceImpl::ListRecords(grpc::CallbackServerContext* ctx,
                                                        const idv::v1::ListRecordsRequest* request,
                                                        idv::v1::ListRecordsResponse* response) {
  return RunPooled(
      auth_, pool_, ctx, "ListRecords", response,
      [this, req = *request](const Principal& p) -> absl::StatusOr<idv::v1::ListRecordsResponse> {
        absl::Status recorded = auditor_.RecordRead(p.tenant(), p.client_id(), "ListRecords",
                                                    Describe(req.filter(), req.page_token()));
        if (!recorded.ok()) return recorded;
        return auditor_.List(p.tenant(), req);
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetStats(grpc::CallbackServerContext* ctx,
                                                     const idv::v1::GetStatsRequest* request,
                                                     idv::v1::GetStatsResponse* response) {
  return RunPooled(
      auth_, pool_, ctx, "GetStats", response,
      [this, req = *request](const Principal& p) -> absl::StatusOr<idv::v1::GetStatsResponse> {
        absl::Status recorded =
            auditor_.RecordRead(p.tenant(), p.client_id(), "GetStats", Describe(req.filter(), ""));
        if (!recorded.ok()) return recorded;
        return auditor_.Stats(p.tenant(), req);
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetCheckpoint(
    grpc::CallbackServerContext* ctx, const idv::v1::GetCheckpointRequest* request,
    idv::v1::GetCheckpointResponse* response) {
  return RunPooled(
      auth_, pool_, ctx, "GetCheckpoint", response,
      [this, node = request->node_id()](const Principal&) { return auditor_.Checkpoints(node); });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetRecord(grpc::CallbackServerContext* ctx,
                                                      const idv::v1::GetRecordRequest* request,
                                                      idv::v1::AuditRecordEntry* response) {
  return RunPooled(
      auth_, pool_, ctx, "GetRecord", response,
      [this, req = *request](const Principal& p) -> absl::StatusOr<idv::v1::AuditRecordEntry> {
        absl::Status recorded = auditor_.RecordRead(p.tenant(), p.client_id(), "GetRecord",
                                                    absl::StrCat(req.node_id(), " #", req.index()));
        if (!recorded.ok()) return recorded;
        return auditor_.Record(p.tenant(), req.node_id(), req.index());
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetInclusionProof(
    grpc::CallbackServerContext* ctx, const idv::v1::GetInclusionProofRequest* request,
    idv::v1::InclusionProof* response) {
  return RunPooled(auth_, pool_, ctx, "GetInclusionProof", response,
                   [this, req = *request](const Principal&) {
                     return auditor_.ProveInclusion(req.node_id(), req.index(), req.tree_size());
                   });
}

grpc::ServerUnaryReactor* AuditServiceImpl::GetConsistencyProof(
    grpc::CallbackServerContext* ctx, const idv::v1::GetConsistencyProofRequest* request,
    idv::v1::ConsistencyProof* response) {
  return RunPooled(
      auth_, pool_, ctx, "GetConsistencyProof", response, [this, req = *request](const Principal&) {
        return auditor_.ProveConsistency(req.node_id(), req.old_size(), req.new_size());
      });
}

grpc::ServerUnaryReactor* AuditServiceImpl::VerifyIntegrity(
    grpc::CallbackServerContext* ctx, const idv::v1::VerifyIntegrityRequest* request,
    idv::v1::IntegrityReport* response) {
  return RunPooled(
      auth_, pool_, ctx, "VerifyIntegrity", response,
      [this, req = *request](const Principal& p) -> absl::StatusOr<idv::v1::IntegrityReport> {
        absl::Status recorded = auditor_.RecordRead(
            p.tenant(), p.client_id(), "VerifyIntegrity",
            absl::StrCat(req.node_id(), ", ", req.trusted_checkpoints_size(),
                         " checkpoints kept outside",
                         req.first() > 0 || req.last() > 0
                             ? absl::StrCat(", records ", req.first(), "..", req.last())
                             : ""));
        if (!recorded.ok()) return recorded;
        return auditor_.VerifyIntegrity(
            req.node_id(), {req.trusted_checkpoints().begin(), req.trusted_checkpoints().end()},
            req.first(), req.last());
      });
}

}  // namespace idv::services
