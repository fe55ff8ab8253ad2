// Formatting of exported audit records: JSON Lines and CSV (RFC 4180 quoting).
#ifndef IDV_SERVICES_EXPORT_H_
#define IDV_SERVICES_EXPORT_H_

#include <string>

#include "idv/v1/audit.pb.h"

namespace idv::services {

// The CSV header line (with its newline).
std::string CsvHeader();
// One record as a line (with its newline) in `format`. The record's raw bytes are left out.
std::string ExportLine(const idv::v1::AuditRecordEntry& entry,
                       idv::v1::ExportRecordsRequest::Format format);

}  // namespace idv::services

#endif  // IDV_SERVICES_EXPORT_H_
