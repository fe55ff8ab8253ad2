#include "services/export.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "services/verified_claims.h"

namespace idv::services {
namespace {

std::string CsvField(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  return absl::StrCat("\"", absl::StrReplaceAll(v, {{"\"", "\"\""}}), "\"");
}

}  // namespace

absl::Status CheckExportRequest(const idv::v1::ExportRecordsRequest& request) {
  if (request.verified_claims().empty()) return absl::OkStatus();
  if (request.format() != idv::v1::ExportRecordsRequest::JSON_LINES) {
    return absl::InvalidArgumentError("verified_claims: only a JSON_LINES export carries them");
  }
  return CheckClaimNames(request.verified_claims());
}

std::string CsvHeader() {
  return "node_id,index,decided_at,verification_id,kind,client_id,account_id,document_type,"
         "masked_document_number,masked_name,outcome,reason,binding,cached,backends,"
         "admin_action\n";
}

std::string ExportLine(const idv::v1::AuditRecordEntry& entry,
                       const idv::v1::ExportRecordsRequest& request,
                       const std::string& trust_framework) {
  if (request.format() == idv::v1::ExportRecordsRequest::CSV) {
    const idv::v1::Verification& v = entry.verification();
    std::vector<std::string> backends;
    for (const idv::v1::Check& c : v.checks()) {
      backends.push_back(absl::StrCat(c.backend(), ":", idv::v1::Outcome_Name(c.outcome())));
    }
    std::vector<std::string> cells = {
        entry.node_id(),
        absl::StrCat(entry.index()),
        google::protobuf::util::TimeUtil::ToString(v.decided_at()),
        v.verification_id(),
        entry.kind(),
        v.client_id(),
        v.account_id(),
        idv::v1::DocumentType_Name(v.document_type()),
        v.masked_document_number(),
        v.masked_name(),
        idv::v1::Outcome_Name(v.outcome()),
        idv::v1::ReasonCode_Name(v.reason().code()),
        idv::v1::BindingStatus_Name(v.binding()),
        v.cached() ? "true" : "false",
        absl::StrJoin(backends, " "),
        entry.admin_action(),
    };
    for (std::string& c : cells) c = CsvField(c);
    return absl::StrCat(absl::StrJoin(cells, ","), "\n");
  }
  idv::v1::AuditRecordEntry copy = entry;
  copy.clear_record();
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(copy, &out, opts);
  const bool states = entry.verification().outcome() == idv::v1::VERIFIED &&
                      (entry.kind() == "verification" || entry.kind() == "settlement");
  if (!request.verified_claims().empty() && states && out.size() > 2 && out.back() == '}') {
    absl::StatusOr<std::string> rendered =
        RenderVerifiedClaims(entry.verification(), request.verified_claims(), trust_framework);
    if (rendered.ok() && rendered->size() > 2 && rendered->front() == '{') {
      // {"verified_claims": {...}} joins the entry's own object as one more member.
      out.back() = ',';
      out.append(*rendered, 1);
    }
  }
  return out + "\n";
}

}  // namespace idv::services
