#include "store/postgres/schema.h"

#include <spdlog/spdlog.h>

#include <functional>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace idv::store::pg {
namespace {

// store/postgres/migrations/NNNN_*.sql in order; migration i (from 0) makes schema version i+1.
const char* const kMigrations[] = {
#include "store/postgres/migrations.inc"
};

// pg_advisory_xact_lock key for schema changes ("idv" + 1).
constexpr int64_t kSchemaLock = 0x69647601;

std::string MonthStart(absl::CivilMonth m) {
  return absl::StrCat(absl::FormatCivilTime(absl::CivilDay(m)), " 00:00:00+00");
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

absl::Status Migrate(Conn& conn) {
  return InTransaction(conn, [&conn]() -> absl::Status {
    if (auto r = conn.Exec("SELECT pg_advisory_xact_lock($1::bigint)", Params().Int(kSchemaLock));
        !r.ok()) {
      return r.status();
    }
    if (auto r = conn.Exec("CREATE TABLE IF NOT EXISTS idv_schema (version integer PRIMARY KEY, "
                           "applied_at timestamptz NOT NULL DEFAULT now())");
        !r.ok()) {
      return r.status();
    }
    absl::StatusOr<Result> current = conn.Exec("SELECT coalesce(max(version), 0) FROM idv_schema");
    if (!current.ok()) return current.status();
    const int have = current->Int32(0, 0);
    if (have > LatestSchemaVersion()) {
      return absl::FailedPreconditionError(absl::StrCat("the database has schema version ", have,
                                                        "; this idvd knows up to ",
                                                        LatestSchemaVersion(), ": upgrade idvd"));
    }
    for (int v = have + 1; v <= LatestSchemaVersion(); ++v) {
      if (absl::Status s = conn.Script(kMigrations[v - 1]); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("migration ", v, ": ", s.message()));
      }
      if (auto r =
              conn.Exec("INSERT INTO idv_schema (version) VALUES ($1::integer)", Params().Int(v));
          !r.ok()) {
        return r.status();
      }
      spdlog::info("PostgreSQL schema migrated to version {}", v);
    }
    return absl::OkStatus();
  });
}

absl::Status EnsureAuditPartitions(Conn& conn, absl::Time now) {
  const absl::CivilMonth month = absl::ToCivilMonth(now, absl::UTCTimeZone());
  return InTransaction(conn, [&]() -> absl::Status {
    if (auto r = conn.Exec("SELECT pg_advisory_xact_lock($1::bigint)", Params().Int(kSchemaLock));
        !r.ok()) {
      return r.status();
    }
    for (absl::CivilMonth m : {month, month + 1}) {
      const std::string name = absl::StrCat("idv_audit_", absl::FormatCivilTime(m));
      std::string table = name;
      for (char& c : table) {
        if (c == '-') c = '_';
      }
      const std::string sql = absl::StrCat("CREATE TABLE IF NOT EXISTS ", table,
                                           " PARTITION OF idv_audit FOR VALUES FROM ('",
                                           MonthStart(m), "') TO ('", MonthStart(m + 1), "')");
      if (auto r = conn.Exec(sql); !r.ok()) return r.status();
    }
    return absl::OkStatus();
  });
}

}  // namespace idv::store::pg
