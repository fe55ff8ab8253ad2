// Formatting of exported audit records: JSON Lines and CSV (RFC 4180 quoting).
#ifndef IDV_SERVICES_EXPORT_H_
#define IDV_SERVICES_EXPORT_H_

#include <string>

#include "absl/status/status.h"
#include "idv/v1/audit.pb.h"

namespace idv::services {

// The CSV header line (with its newline).
std::string CsvHeader();
// InvalidArgument for an export that cannot be made: verified_claims asked of a CSV export, or a
// claim idv cannot state.
absl::Status CheckExportRequest(const idv::v1::ExportRecordsRequest& request);

// One record as a line (with its newline) in the request's format. The record's raw bytes are
// left out. A VERIFIED verification or settlement in a JSON Lines export that asks for
// verified_claims carries them, rendered under `trust_framework` (services/verified_claims.h).
std::string ExportLine(const idv::v1::AuditRecordEntry& entry,
                       const idv::v1::ExportRecordsRequest& request,
                       const std::string& trust_framework);

}  // namespace idv::services

#endif  // IDV_SERVICES_EXPORT_H_
