// The PostgreSQL schema: migrations kept in store/postgres/migrations/ (compiled in), applied in
// order under an advisory lock, and the audit trail's monthly partitions.
#ifndef IDV_STORE_POSTGRES_SCHEMA_H_
#define IDV_STORE_POSTGRES_SCHEMA_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "store/postgres/pg.h"

namespace idv::store::pg {

// The schema version this build creates and understands.
int LatestSchemaVersion();

// Brings the database to LatestSchemaVersion(): creates idv_schema when missing and applies every
// migration the database lacks, all in one transaction under an advisory lock (nodes starting
// together migrate once; a failed migration leaves the database as it was). FailedPrecondition
// when the database is newer than this build.
absl::Status Migrate(Conn& conn);

// Creates the audit partitions for the month of `now` and the next one, when missing.
absl::Status EnsureAuditPartitions(Conn& conn, absl::Time now);

}  // namespace idv::store::pg

#endif  // IDV_STORE_POSTGRES_SCHEMA_H_
