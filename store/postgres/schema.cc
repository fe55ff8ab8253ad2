#include "store/postgres/schema.h"

#include <spdlog/spdlog.h>

#include <functional>
#include <iterator>
#include <map>

#include "absl/strings/str_cat.h"
#include "store/postgres/group_commit.h"
#include "store/stats_rollup.h"

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

// Version 2 added the account index and the hourly counters: fills both for the records stored
// before it, a page at a time, in the migration's transaction.
absl::Status BackfillIndexes(Conn& conn) {
  std::string node;
  int64_t seq = -1;
  std::map<std::string, std::map<StatsKey, int64_t>> counts;  // by node
  for (;;) {
    absl::StatusOr<Result> r = conn.Exec(
        "SELECT node_id, seq, record FROM idv_audit WHERE (node_id, seq) > ($1, $2::bigint) "
        "ORDER BY node_id, seq LIMIT 5000",
        Params().Text(node).Int(seq));
    if (!r.ok()) return r.status();
    if (r->rows() == 0) break;
    Array nodes(Array::kText), seqs(Array::kInt8), accounts(Array::kText);
    for (int i = 0; i < r->rows(); ++i) {
      node = r->Bytes(i, 0);
      seq = r->Int64(i, 1);
      idv::store::v1::AuditRecord record;
      if (!record.ParseFromString(r->Bytes(i, 2))) {
        return absl::DataLossError(
            absl::StrCat("record ", seq, " of node ", node, " is unreadable"));
      }
      AddToRollup(record, counts[node]);
      if (!IsVerificationRecord(record) || record.account_id().empty()) continue;
      nodes.Add(node);
      seqs.AddInt64(seq);
      accounts.Add(record.account_id());
    }
    if (nodes.size() == 0) continue;
    if (auto u = conn.Exec("UPDATE idv_audit a SET account_id = u.acc "
                           "FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(n, s, acc) "
                           "WHERE a.node_id = u.n AND a.seq = u.s",
                           Params().Arr(nodes).Arr(seqs).Arr(accounts));
        !u.ok()) {
      return u.status();
    }
  }
  Batch batch;
  for (const auto& [n, c] : counts) AddCounts(batch, n, c);
  return batch.Run(conn);
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
      if (v == 2) {
        if (absl::Status s = BackfillIndexes(conn); !s.ok()) {
          return absl::Status(s.code(), absl::StrCat("migration 2: ", s.message()));
        }
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
