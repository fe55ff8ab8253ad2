#include "store/postgres/postgres_store.h"

#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "store/group_queue.h"
#include "store/postgres/connections.h"
#include "store/postgres/group_commit.h"
#include "store/postgres/pg.h"
#include "store/postgres/schema.h"
#include "store/thread_pool.h"

namespace idv::store {
namespace {

using idv::store::v1::AccountBinding;
using idv::store::v1::AuditRecord;
using idv::store::v1::ClientRecord;
using idv::store::v1::ConfigVersion;
using idv::store::v1::RecheckEntry;
using pg::AcquireNodeLease;
using pg::Conn;
using pg::ConnectListening;
using pg::ConnPool;
using pg::Params;
using pg::Result;

constexpr absl::Duration kReconnectEvery = absl::Milliseconds(250);

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(2 * bytes + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const uint8_t*>(raw.data()), bytes);
  hex.pop_back();
  return hex;
}

template <typename Message>
absl::StatusOr<std::vector<Message>> ParseAll(const Result& r, absl::string_view what) {
  std::vector<Message> out(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    if (!out[i].ParseFromString(r.Bytes(i, 0))) {
      return absl::DataLossError(absl::StrCat("unparsable ", what, " in the database"));
    }
  }
  return out;
}

class PostgresStore final : public Store {
 public:
  // `listen_conn` is LISTENing already, so no change made after Open returns is missed.
  PostgresStore(const PostgresStoreOptions& options, std::string owner,
                std::unique_ptr<Conn> writer_conn, std::unique_ptr<Conn> listen_conn, LogState log)
      : options_(options),
        ctx_{options.node_id, std::move(owner), options.node_lease, options.recheck_lease,
             options.checkpoints},
        pool_(options.dsn),
        writer_conn_(std::move(writer_conn)),
        log_(std::move(log)),
        readers_(options.pool_size, "idv-pg-read"),
        listener_([this, c = std::move(listen_conn)]() mutable { ListenLoop(std::move(c)); }),
        writer_([this] { WriterLoop(); }) {}

  ~PostgresStore() override { Close(); }

  const std::string& node_id() const override { return options_.node_id; }

  void CommitVerification(VerificationCommit commit, Callback<CommitResult> done) override {
    Pending p{std::move(commit), std::move(done)};
    if (!queue_.Push(p)) std::move(p.done)(absl::UnavailableError("store is closed"));
  }

  void GetVerification(std::string tenant, std::string id, Callback<AuditRecord> done) override {
    Read<AuditRecord>(
        std::move(done),
        [tenant = std::move(tenant), id = std::move(id)](Conn& c) -> absl::StatusOr<AuditRecord> {
          // A settled PENDING verification has two records; the settling one is the later.
          absl::StatusOr<Result> r = c.Prepared(
              "SELECT record FROM idv_audit WHERE verification_id = $1 AND tenant = $2 "
              "ORDER BY decided_at DESC, seq DESC LIMIT 1",
              Params().Text(id).Text(tenant));
          if (!r.ok()) return r.status();
          if (r->rows() == 0) return absl::NotFoundError("no such verification");
          AuditRecord record;
          if (!record.ParseFromString(r->Bytes(0, 0)))
            return absl::DataLossError("bad audit record");
          return record;
        });
  }

  void GetAccountBinding(std::string tenant, std::string account_id,
                         Callback<AccountBinding> done) override {
    Read<AccountBinding>(
        std::move(done),
        [tenant = std::move(tenant),
         account = std::move(account_id)](Conn& c) -> absl::StatusOr<AccountBinding> {
          absl::StatusOr<Result> r =
              c.Prepared("SELECT binding FROM idv_accounts WHERE tenant = $1 AND account_id = $2",
                         Params().Text(tenant).Text(account));
          if (!r.ok()) return r.status();
          if (r->rows() == 0) return absl::NotFoundError("no binding for this account");
          AccountBinding b;
          if (!b.ParseFromString(r->Bytes(0, 0))) return absl::DataLossError("bad account binding");
          return b;
        });
  }

  void ReadConfigVersions(size_t limit, Callback<std::vector<ConfigVersion>> done) override {
    Read<std::vector<ConfigVersion>>(
        std::move(done), [limit](Conn& c) -> absl::StatusOr<std::vector<ConfigVersion>> {
          absl::StatusOr<Result> r = c.Prepared(
              "SELECT record FROM idv_config_versions ORDER BY version DESC LIMIT $1::bigint",
              Params().Int(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))));
          if (!r.ok()) return r.status();
          return ParseAll<ConfigVersion>(*r, "configuration version");
        });
  }

  void ListClients(Callback<std::vector<ClientRecord>> done) override {
    Read<std::vector<ClientRecord>>(
        std::move(done), [this](Conn& c) -> absl::StatusOr<std::vector<ClientRecord>> {
          // One statement, one snapshot: the snapshot kept is the one the clients were read with.
          absl::StatusOr<Result> r = c.Prepared(
              "WITH seen AS (UPDATE idv_nodes SET clients_snapshot = pg_current_snapshot() "
              "WHERE node_id = $1 AND owner = $2) "
              "SELECT record FROM idv_clients ORDER BY client_id",
              Params().Text(ctx_.node_id).Text(ctx_.owner));
          if (!r.ok()) return r.status();
          return ParseAll<ClientRecord>(*r, "client record");
        });
  }

  void ClientChangeUnseenBy(std::string client_id,
                            Callback<std::vector<std::string>> done) override {
    Read<std::vector<std::string>>(
        std::move(done),
        [client_id = std::move(client_id)](Conn& c) -> absl::StatusOr<std::vector<std::string>> {
          absl::StatusOr<Result> r = c.Prepared(
              "SELECT n.node_id FROM idv_nodes AS n, idv_clients AS c "
              "WHERE c.client_id = $1 AND c.change_xid IS NOT NULL AND n.lease_until > now() "
              "AND (n.clients_snapshot IS NULL "
              "OR NOT pg_visible_in_snapshot(c.change_xid, n.clients_snapshot)) "
              "ORDER BY n.node_id",
              Params().Text(client_id));
          if (!r.ok()) return r.status();
          std::vector<std::string> nodes;
          for (int i = 0; i < r->rows(); ++i) nodes.push_back(r->Bytes(i, 0));
          return nodes;
        });
  }

  void CountLiveNodes(Callback<int> done) override {
    Read<int>(std::move(done), [](Conn& c) -> absl::StatusOr<int> {
      absl::StatusOr<Result> r =
          c.Prepared("SELECT count(*) FROM idv_nodes WHERE lease_until > now()");
      if (!r.ok()) return r.status();
      return static_cast<int>(r->Int64(0, 0));
    });
  }

  void ListTenants(Callback<std::vector<idv::store::v1::TenantRecord>> done) override {
    Read<std::vector<idv::store::v1::TenantRecord>>(
        std::move(done), [](Conn& c) -> absl::StatusOr<std::vector<idv::store::v1::TenantRecord>> {
          absl::StatusOr<Result> r = c.Prepared("SELECT record FROM idv_tenants ORDER BY name");
          if (!r.ok()) return r.status();
          return ParseAll<idv::store::v1::TenantRecord>(*r, "tenant record");
        });
  }

  void PutClient(ClientRecord client, bool only_if_none, Callback<bool> done) override {
    Read<bool>(std::move(done),
               [client = std::move(client), only_if_none](Conn& c) -> absl::StatusOr<bool> {
                 absl::Status s = pg::InTransaction(c, [&]() -> absl::Status {
                   if (only_if_none) {
                     // Nodes starting together all find no client; the table lock lets one create
                     // it.
                     if (auto r = c.Exec("LOCK TABLE idv_clients IN EXCLUSIVE MODE"); !r.ok()) {
                       return r.status();
                     }
                     absl::StatusOr<Result> any = c.Exec("SELECT 1 FROM idv_clients LIMIT 1");
                     if (!any.ok()) return any.status();
                     if (any->rows() > 0)
                       return absl::AlreadyExistsError("a client exists already");
                   }
                   absl::StatusOr<Result> r = c.Exec(
                       "INSERT INTO idv_clients (client_id, tenant, record, updated_at) "
                       "VALUES ($1, $2, $3::bytea, now()) ON CONFLICT (client_id) DO UPDATE "
                       "SET tenant = EXCLUDED.tenant, record = EXCLUDED.record, updated_at = now()",
                       Params()
                           .Text(client.client_id())
                           .Text(client.tenant())
                           .Bytes(client.SerializeAsString()));
                   if (!r.ok()) return r.status();
                   return c
                       .Exec("SELECT pg_notify('idv_changes', 'client ' || $1)",
                             Params().Text(client.client_id()))
                       .status();
                 });
                 if (!s.ok()) return s;
                 return true;
               });
  }

  void ClaimRechecks(size_t limit, absl::Duration lease,
                     Callback<std::vector<RecheckEntry>> done) override {
    Read<std::vector<RecheckEntry>>(
        std::move(done),
        [this, limit, lease](Conn& c) -> absl::StatusOr<std::vector<RecheckEntry>> {
          // SKIP LOCKED: entries another node is claiming right now are left to it.
          absl::StatusOr<Result> r = c.Prepared(
              "UPDATE idv_rechecks SET lease_owner = $1, lease_until = now() + $2::interval "
              "WHERE verification_id IN (SELECT verification_id FROM idv_rechecks "
              "WHERE lease_owner = $1 OR lease_until < now() ORDER BY verification_id "
              "LIMIT $3::bigint FOR UPDATE SKIP LOCKED) RETURNING entry",
              Params()
                  .Text(options_.node_id)
                  .Text(pg::Interval(lease))
                  .Int(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))));
          if (!r.ok()) return r.status();
          return ParseAll<RecheckEntry>(*r, "re-check entry");
        });
  }

  void ListLogs(Callback<std::vector<LogInfo>> done) override {
    Read<std::vector<LogInfo>>(
        std::move(done), [](Conn& c) -> absl::StatusOr<std::vector<LogInfo>> {
          absl::StatusOr<Result> r = c.Prepared(
              "SELECT n.node_id, coalesce((SELECT max(seq) FROM idv_audit a "
              "WHERE a.node_id = n.node_id), 0), coalesce(p.purged_through, 0), "
              "coalesce(p.purge_record, 0) "
              "FROM idv_nodes n LEFT JOIN idv_audit_purges p ON p.node_id = n.node_id "
              "ORDER BY n.node_id");
          if (!r.ok()) return r.status();
          std::vector<LogInfo> out;
          for (int i = 0; i < r->rows(); ++i) {
            out.push_back(LogInfo{r->Bytes(i, 0), static_cast<uint64_t>(r->Int64(i, 1)),
                                  static_cast<uint64_t>(r->Int64(i, 2)),
                                  static_cast<uint64_t>(r->Int64(i, 3))});
          }
          return out;
        });
  }

  void ReadAuditHashes(std::string node_id, std::vector<int64_t> indexes,
                       Callback<std::vector<audit::Hash>> done) override {
    Read<std::vector<audit::Hash>>(std::move(done),
                                   [node_id = std::move(node_id), indexes = std::move(indexes)](
                                       Conn& c) -> absl::StatusOr<std::vector<audit::Hash>> {
                                     return pg::HashReader(c, node_id).ReadHashes(indexes);
                                   });
  }

  void ReadAuditRecords(std::string node_id, uint64_t first, size_t limit,
                        Callback<std::vector<StoredRecord>> done) override {
    ReadRecords(std::move(done),
                "SELECT seq, record, hash FROM idv_audit WHERE node_id = $1 AND seq >= $2::bigint "
                "ORDER BY seq LIMIT $3::bigint",
                std::move(node_id), first, limit);
  }

  void ReadAuditRecordsBackward(std::string node_id, uint64_t before, size_t limit,
                                Callback<std::vector<StoredRecord>> done) override {
    ReadRecords(std::move(done),
                "SELECT seq, record, hash FROM idv_audit WHERE node_id = $1 AND seq < $2::bigint "
                "ORDER BY seq DESC LIMIT $3::bigint",
                std::move(node_id), before, limit);
  }

  void ReadAccountRecordsBackward(std::string node_id, std::string tenant, std::string account_id,
                                  uint64_t before, size_t limit,
                                  Callback<std::vector<StoredRecord>> done) override {
    Read<std::vector<StoredRecord>>(
        std::move(done),
        [node_id = std::move(node_id), tenant = std::move(tenant),
         account_id = std::move(account_id), before,
         limit](Conn& c) -> absl::StatusOr<std::vector<StoredRecord>> {
          if (account_id.empty()) return std::vector<StoredRecord>();  // '' is not indexed
          absl::StatusOr<Result> r = c.Prepared(
              "SELECT seq, record, hash FROM idv_audit WHERE tenant = $1 AND account_id = $2 "
              "AND node_id = $3 AND seq < $4::bigint ORDER BY seq DESC LIMIT $5::bigint",
              Params()
                  .Text(tenant)
                  .Text(account_id)
                  .Text(node_id)
                  .Int(static_cast<int64_t>(std::min<uint64_t>(before, INT64_MAX)))
                  .Int(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))));
          if (!r.ok()) return r.status();
          return ToStoredRecords(*r);
        });
  }

  void ReadStats(std::string tenant, std::string node_id, int64_t from_hour, int64_t to_hour,
                 Callback<std::vector<StatsCount>> done) override {
    Read<std::vector<StatsCount>>(
        std::move(done),
        [tenant = std::move(tenant), node_id = std::move(node_id), from_hour,
         to_hour](Conn& c) -> absl::StatusOr<std::vector<StatsCount>> {
          absl::StatusOr<Result> r = c.Prepared(
              "SELECT extract(epoch FROM hour)::bigint, dimension, key, sum(n)::bigint "
              "FROM idv_audit_stats WHERE tenant = $1 "
              "AND hour >= 'epoch'::timestamptz + $2::bigint * interval '1 second' "
              "AND hour < 'epoch'::timestamptz + $3::bigint * interval '1 second' "
              "AND ($4 = '' OR node_id = $4) GROUP BY 1, 2, 3",
              Params().Text(tenant).Int(from_hour).Int(to_hour).Text(node_id));
          if (!r.ok()) return r.status();
          std::vector<StatsCount> out;
          out.reserve(r->rows());
          for (int i = 0; i < r->rows(); ++i) {
            out.push_back(
                StatsCount{r->Int64(i, 0), r->Bytes(i, 1), r->Bytes(i, 2), r->Int64(i, 3)});
          }
          return out;
        });
  }

  void ReadCheckpoints(std::string node_id, size_t limit,
                       Callback<std::vector<idv::store::v1::Checkpoint>> done) override {
    Read<std::vector<idv::store::v1::Checkpoint>>(
        std::move(done),
        [node_id = std::move(node_id),
         limit](Conn& c) -> absl::StatusOr<std::vector<idv::store::v1::Checkpoint>> {
          absl::StatusOr<Result> r = c.Prepared(
              "SELECT size, root, note, extract(epoch FROM created_at)::bigint "
              "FROM idv_checkpoints WHERE node_id = $1 ORDER BY size DESC LIMIT $2::bigint",
              Params().Text(node_id).Int(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))));
          if (!r.ok()) return r.status();
          std::vector<idv::store::v1::Checkpoint> out;
          for (int i = 0; i < r->rows(); ++i) {
            idv::store::v1::Checkpoint cp;
            cp.set_node_id(node_id);
            cp.set_size(static_cast<uint64_t>(r->Int64(i, 0)));
            cp.set_root(r->Bytes(i, 1));
            cp.set_note(r->Bytes(i, 2));
            cp.mutable_created_at()->set_seconds(r->Int64(i, 3));
            out.push_back(std::move(cp));
          }
          return out;
        });
  }

  void GetIdempotency(std::string tenant, std::vector<std::string> key_hashes,
                      Callback<idv::store::v1::IdempotencyEntry> done) override {
    Read<idv::store::v1::IdempotencyEntry>(
        std::move(done),
        [tenant = std::move(tenant), key_hashes = std::move(key_hashes)](
            Conn& c) -> absl::StatusOr<idv::store::v1::IdempotencyEntry> {
          pg::Array keys(pg::Array::kBytea);
          for (const std::string& k : key_hashes) keys.Add(k);
          // The first key in the given order (the current key version's) wins.
          absl::StatusOr<Result> r = c.Prepared(
              "SELECT i.entry FROM unnest($2::bytea[]) WITH ORDINALITY AS v(k, n) "
              "JOIN idv_idempotency AS i ON i.tenant = $1 AND i.key_hash = v.k "
              "WHERE i.expires_at > now() ORDER BY v.n LIMIT 1",
              Params().Text(tenant).Arr(keys));
          if (!r.ok()) return r.status();
          if (r->rows() == 0) return absl::NotFoundError("no such idempotency key");
          idv::store::v1::IdempotencyEntry e;
          if (!e.ParseFromString(r->Bytes(0, 0))) {
            return absl::DataLossError("unparsable idempotency entry in store");
          }
          return e;
        });
  }

  void CountKeyUsage(Callback<std::vector<KeyUsage>> done) override {
    Read<std::vector<KeyUsage>>(
        std::move(done), [](Conn& c) -> absl::StatusOr<std::vector<KeyUsage>> {
          std::map<uint32_t, KeyUsage> usage;
          auto at = [&usage](uint32_t v) -> KeyUsage& {
            KeyUsage& u = usage[v];
            u.key_version = v;
            return u;
          };
          absl::StatusOr<Result> r =
              c.Exec("SELECT key_version, count(*) FROM idv_accounts GROUP BY key_version");
          if (!r.ok()) return r.status();
          for (int i = 0; i < r->rows(); ++i) {
            at(static_cast<uint32_t>(r->Int32(i, 0))).bindings =
                static_cast<uint64_t>(r->Int64(i, 1));
          }
          // Clients and re-check entries are few: their versions are inside the stored messages.
          r = c.Exec("SELECT record FROM idv_clients");
          if (!r.ok()) return r.status();
          absl::StatusOr<std::vector<ClientRecord>> clients =
              ParseAll<ClientRecord>(*r, "client record");
          if (!clients.ok()) return clients.status();
          for (const ClientRecord& client : *clients) ++at(client.key_version()).clients;
          r = c.Exec("SELECT entry FROM idv_rechecks");
          if (!r.ok()) return r.status();
          absl::StatusOr<std::vector<idv::store::v1::RecheckEntry>> rechecks =
              ParseAll<idv::store::v1::RecheckEntry>(*r, "re-check entry");
          if (!rechecks.ok()) return rechecks.status();
          for (const auto& e : *rechecks) ++at(e.key_version()).rechecks;
          std::vector<KeyUsage> out;
          for (const auto& [v, u] : usage) out.push_back(u);
          return out;
        });
  }

  void ScrubRemovedData(Callback<std::vector<std::string>> done) override {
    Read<std::vector<std::string>>(
        std::move(done), [](Conn& c) -> absl::StatusOr<std::vector<std::string>> {
          std::vector<std::string> steps;
          for (const char* table : {"idv_accounts", "idv_identities", "idv_idempotency"}) {
            const absl::Time start = absl::Now();
            absl::StatusOr<Result> r = c.Exec(absl::StrCat("VACUUM (FULL) ", table));
            if (!r.ok()) return r.status();
            steps.push_back(absl::StrCat("VACUUM (FULL) ", table, ": ",
                                         absl::FormatDuration(absl::Now() - start)));
          }
          // Two rounds: the first makes the rewritten tables durable and starts a new WAL
          // segment; the second lets the segments before it (holding the old rows) go.
          for (int round = 0; round < 2; ++round) {
            absl::StatusOr<Result> r = c.Exec("CHECKPOINT");
            if (!r.ok()) {
              steps.push_back(absl::StrCat(
                  "CHECKPOINT refused (grant the pg_checkpoint role to idv's database user); the "
                  "old rows stay in WAL segments until the server's own checkpoints recycle them: ",
                  r.status().message()));
              return steps;
            }
            r = c.Exec("SELECT pg_switch_wal()");
            if (!r.ok()) return r.status();
          }
          steps.push_back("CHECKPOINT and WAL switch, twice");
          absl::StatusOr<Result> recycle = c.Exec("SHOW wal_recycle");
          if (recycle.ok() && recycle->rows() == 1 && recycle->Bytes(0, 0) != "off") {
            steps.push_back(
                "warning: wal_recycle is on: old WAL segments are renamed for reuse, keeping their "
                "contents until overwritten; set wal_recycle = off");
          }
          return steps;
        });
  }

  void PurgeIdempotency(absl::Time now, Callback<uint64_t> done) override {
    Read<uint64_t>(std::move(done), [now](Conn& c) -> absl::StatusOr<uint64_t> {
      absl::StatusOr<Result> r = c.Exec(
          "DELETE FROM idv_idempotency WHERE expires_at <= $1::timestamptz", Params().Time(now));
      if (!r.ok()) return r.status();
      return static_cast<uint64_t>(r->affected());
    });
  }

  void PurgeAuditLog(uint64_t through, uint64_t purge_record, Callback<uint64_t> done) override {
    Read<uint64_t>(
        std::move(done), [this, through, purge_record](Conn& c) -> absl::StatusOr<uint64_t> {
          uint64_t removed = 0;
          absl::Status s = pg::InTransaction(c, [&]() -> absl::Status {
            // Only the process holding this node id purges its log; the mark row is the lock.
            absl::StatusOr<Result> r = c.Exec(
                "SELECT (SELECT count(*) FROM idv_nodes WHERE node_id = $1 AND owner = $2), "
                "coalesce((SELECT purged_through FROM idv_audit_purges WHERE node_id = $1 "
                "FOR UPDATE), 0), "
                "coalesce((SELECT max(seq) FROM idv_audit WHERE node_id = $1), 0)",
                Params().Text(ctx_.node_id).Text(ctx_.owner));
            if (!r.ok()) return r.status();
            if (r->Int64(0, 0) != 1) {
              return absl::FailedPreconditionError("this node id is held by another process");
            }
            const uint64_t purged = static_cast<uint64_t>(r->Int64(0, 1));
            const uint64_t size = static_cast<uint64_t>(r->Int64(0, 2));
            if (through <= purged || through > size || purge_record <= through ||
                purge_record > size) {
              return absl::InvalidArgumentError(
                  absl::StrCat("cannot purge through record ", through, " (purged through ", purged,
                               ", log size ", size, ", purge record ", purge_record, ")"));
            }
            r = c.Exec(
                "DELETE FROM idv_audit WHERE node_id = $1 AND seq > $2::bigint AND seq <= "
                "$3::bigint",
                Params()
                    .Text(ctx_.node_id)
                    .Int(static_cast<int64_t>(purged))
                    .Int(static_cast<int64_t>(through)));
            if (!r.ok()) return r.status();
            removed = static_cast<uint64_t>(r->affected());
            r = c.Exec(
                "INSERT INTO idv_audit_purges (node_id, purged_through, purge_record) "
                "VALUES ($1, $2::bigint, $3::bigint) ON CONFLICT (node_id) DO UPDATE "
                "SET purged_through = excluded.purged_through, purge_record = "
                "excluded.purge_record",
                Params()
                    .Text(ctx_.node_id)
                    .Int(static_cast<int64_t>(through))
                    .Int(static_cast<int64_t>(purge_record)));
            return r.status();
          });
          if (!s.ok()) return s;
          return removed;
        });
  }

  void Subscribe(ChangeListener listener) override {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    listeners_.push_back(std::move(listener));
  }

  void Close() override {
    if (!queue_.Close()) return;
    writer_.join();
    stopping_.store(true, std::memory_order_relaxed);
    listener_.join();
    readers_.Shutdown();
    // Give the node id up at once, so a replacement need not wait for the lease to run out.
    if (writer_conn_ != nullptr && writer_conn_->ok()) {
      (void)writer_conn_->Exec(
          "UPDATE idv_nodes SET lease_until = '-infinity' WHERE node_id = $1 AND owner = $2",
          Params().Text(ctx_.node_id).Text(ctx_.owner));
    }
  }

 private:
  struct Pending {
    VerificationCommit commit;
    Callback<CommitResult> done;
  };

  // Rows of (seq, record, hash).
  static std::vector<StoredRecord> ToStoredRecords(const Result& r) {
    std::vector<StoredRecord> out;
    out.reserve(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(
          StoredRecord{static_cast<uint64_t>(r.Int64(i, 0)), r.Bytes(i, 1), r.Bytes(i, 2)});
    }
    return out;
  }

  // Records of one log: `sql` takes the node id, a sequence bound and a limit.
  void ReadRecords(Callback<std::vector<StoredRecord>> done, const char* sql, std::string node_id,
                   uint64_t bound, size_t limit) {
    Read<std::vector<StoredRecord>>(
        std::move(done),
        [sql, node_id = std::move(node_id), bound,
         limit](Conn& c) -> absl::StatusOr<std::vector<StoredRecord>> {
          absl::StatusOr<Result> r =
              c.Prepared(sql, Params()
                                  .Text(node_id)
                                  .Int(static_cast<int64_t>(std::min<uint64_t>(bound, INT64_MAX)))
                                  .Int(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))));
          if (!r.ok()) return r.status();
          return ToStoredRecords(*r);
        });
  }

  template <typename T>
  void Read(Callback<T> done, std::function<absl::StatusOr<T>(Conn&)> fn) {
    // A broken reader connection is only dropped (ConnPool): health is the writer's and the
    // listener's to judge, so one lost idle connection cannot take a node out of service.
    RunOnPool(readers_, std::move(done),
              [this, fn = std::move(fn)]() { return pool_.With<T>(fn); });
  }

  void ReportHealth(bool serving, const absl::Status& why) {
    std::lock_guard<std::mutex> lock(health_mu_);
    if (!fatal_.ok()) serving = false;
    if (serving == serving_) return;
    serving_ = serving;
    if (serving) {
      spdlog::info("PostgreSQL store serving again");
    } else {
      spdlog::error("PostgreSQL store not serving: {}", std::string(why.message()));
    }
    if (options_.on_health) options_.on_health(serving, why);
  }

  void Notify(const Change& change) {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    for (const ChangeListener& l : listeners_) l(change);
  }

  // ---- writer thread ----

  void WriterLoop() {
    pthread_setname_np(pthread_self(), "idv-store-write");
    const auto wait = IdleWake(options_.checkpoints);
    for (;;) {
      bool closed = false;
      std::vector<Pending> group = queue_.PopGroup(options_.max_group_commit, wait, &closed);
      // Idle: a checkpoint that came due meanwhile; closing: the last one.
      if (!group.empty() || CheckpointDue(options_.checkpoints, log_, absl::Now(), closed)) {
        WriteGroup(group, /*force_checkpoint=*/closed);
      }
      if (closed) return;
    }
  }

  // A connection with a known log head, or why there is none.
  absl::Status EnsureWriter() {
    if (writer_conn_ == nullptr || !writer_conn_->ok()) {
      log_known_ = false;
      absl::StatusOr<std::unique_ptr<Conn>> c = Conn::Connect(options_.dsn);
      if (!c.ok()) return c.status();
      writer_conn_ = *std::move(c);
    }
    if (!log_known_) {
      absl::StatusOr<LogState> log = pg::ReadLogState(*writer_conn_, options_.node_id);
      if (!log.ok()) return log.status();
      log_ = *std::move(log);
      log_known_ = true;
    }
    return absl::OkStatus();
  }

  // COMMIT was sent and the connection lost before its answer: reconnect and look for the group's
  // first record. True when the group is stored.
  absl::StatusOr<bool> ResolveInDoubt(uint64_t first_sequence) {
    const absl::Time give_up = absl::Now() + options_.resolve_timeout;
    absl::Status last = absl::UnavailableError("no attempt");
    while (absl::Now() < give_up) {
      writer_conn_.reset();
      absl::Status s = EnsureWriter();
      if (s.ok()) {
        if (first_sequence == 0) return false;
        absl::StatusOr<bool> stored =
            pg::HasRecord(*writer_conn_, options_.node_id, first_sequence);
        if (stored.ok()) return stored;
        s = stored.status();
      }
      last = s;
      // Commits queued meanwhile were never sent: refuse them now rather than hold their callers
      // for as long as the database stays away.
      RefuseQueued(s);
      absl::SleepFor(kReconnectEvery);
    }
    return last;
  }

  void RefuseQueued(const absl::Status& why) {
    std::vector<Pending> queued = queue_.TakeAll();
    if (queued.empty()) return;
    const absl::Status answer =
        absl::UnavailableError(absl::StrCat("could not write to PostgreSQL: ", why.message()));
    for (Pending& p : queued) std::move(p.done)(answer);
  }

  void WriteGroup(std::vector<Pending>& group, bool force_checkpoint) {
    std::vector<VerificationCommit*> commits;
    commits.reserve(group.size());
    for (Pending& p : group) commits.push_back(&p.commit);
    absl::Status failure;
    pg::GroupResult out;
    for (int attempt = 1;; ++attempt) {
      failure = fatal_status();
      if (failure.ok()) failure = EnsureWriter();
      if (!failure.ok()) break;
      bool commit_sent = false;
      failure =
          pg::RunGroup(*writer_conn_, ctx_, log_, commits, force_checkpoint, &out, &commit_sent);
      if (!failure.ok() && commit_sent && !writer_conn_->ok()) {
        ReportHealth(false, failure);
        absl::StatusOr<bool> stored = ResolveInDoubt(out.first_sequence);
        if (stored.ok() && *stored) failure = absl::OkStatus();
        if (!stored.ok()) {
          spdlog::error("group of {} commits from sequence {}: outcome unknown ({})", group.size(),
                        out.first_sequence, std::string(stored.status().message()));
          failure = absl::UnknownError(
              "the database became unreachable during COMMIT and did not come back in time");
        }
      }
      if (failure.ok()) break;
      if (absl::IsFailedPrecondition(failure)) {
        SetFatal(failure);
        break;
      }
      if (!pg::IsRetryable(failure) || attempt >= options_.max_attempts) break;
      // A concurrent node's transaction won; back off a little at random and decide again.
      absl::SleepFor(absl::Microseconds(randombytes_uniform(200 * attempt)));
    }
    if (failure.ok()) {
      log_ = out.log;
      ReportHealth(true, absl::OkStatus());
      for (size_t i = 0; i < group.size(); ++i) std::move(group[i].done)(std::move(out.results[i]));
      return;
    }
    log_known_ = false;  // re-read before the next group: the database is the truth
    if (writer_conn_ != nullptr && !writer_conn_->ok()) ReportHealth(false, failure);
    const absl::Status answer = absl::IsUnavailable(failure) || absl::IsUnknown(failure)
                                    ? failure
                                    : absl::UnavailableError(absl::StrCat(
                                          "could not write to PostgreSQL: ", failure.message()));
    for (Pending& p : group) std::move(p.done)(answer);
  }

  absl::Status fatal_status() {
    std::lock_guard<std::mutex> lock(health_mu_);
    return fatal_;
  }

  void SetFatal(const absl::Status& why) {
    {
      std::lock_guard<std::mutex> lock(health_mu_);
      if (!fatal_.ok()) return;
      fatal_ = absl::UnavailableError(why.message());
    }
    spdlog::error("{}", std::string(why.message()));
    ReportHealth(false, why);
  }

  // ---- listener thread: notifications, the node lease, partitions ----

  void ListenLoop(std::unique_ptr<Conn> conn) {
    pthread_setname_np(pthread_self(), "idv-pg-listen");
    bool missed = false;  // notifications may have been lost since the last connection
    absl::Time renew_at = absl::Now() + options_.node_lease / 3;
    absl::Time partitions_at = absl::Now() + absl::Hours(6);
    while (!stopping_.load(std::memory_order_relaxed)) {
      if (conn == nullptr || !conn->ok()) {
        absl::Status s = Connect(conn);
        if (!s.ok()) {
          if (!missed) ReportHealth(false, s);
          missed = true;
          conn.reset();
          absl::SleepFor(kReconnectEvery);
          continue;
        }
        ReportHealth(true, absl::OkStatus());
        if (missed) Notify({Change::kResync, ""});
        missed = false;
      }
      const absl::Time now = absl::Now();
      if (now >= renew_at) {
        // A renewed lease also shows the database answers: health turns SERVING again after
        // the writer's failure even when no commit comes to prove it.
        if (RenewLease(*conn)) ReportHealth(true, absl::OkStatus());
        renew_at = now + options_.node_lease / 3;
      }
      if (now >= partitions_at) {
        if (absl::Status s = pg::EnsureAuditPartitions(*conn, now); !s.ok()) {
          spdlog::warn("audit partitions: {}", std::string(s.message()));
        }
        partitions_at = now + absl::Hours(6);
      }
      pollfd fd{conn->socket(), POLLIN, 0};
      ::poll(&fd, 1, 100);
      if (absl::Status s = conn->ConsumeInput(); !s.ok()) {
        conn.reset();
        continue;
      }
      while (auto n = conn->NextNotification()) Dispatch(n->second);
    }
  }

  absl::Status Connect(std::unique_ptr<Conn>& conn) {
    absl::StatusOr<std::unique_ptr<Conn>> c = ConnectListening(options_.dsn);
    if (!c.ok()) return c.status();
    conn = *std::move(c);
    return absl::OkStatus();
  }

  // True when the lease was renewed.
  bool RenewLease(Conn& conn) {
    absl::StatusOr<Result> r = conn.Exec(
        "UPDATE idv_nodes SET lease_until = now() + $3::interval WHERE node_id = $1 AND owner = $2",
        Params().Text(ctx_.node_id).Text(ctx_.owner).Text(pg::Interval(options_.node_lease)));
    if (r.ok() && r->affected() == 0) {
      SetFatal(absl::FailedPreconditionError(
          absl::StrCat("node id \"", ctx_.node_id,
                       "\" was taken over by another idvd process; this one stops writing")));
    }
    return r.ok() && r->affected() == 1;
  }

  void Dispatch(const std::string& payload) {
    if (absl::StartsWith(payload, "config ")) {
      Notify({Change::kConfig, payload.substr(7)});
    } else if (absl::StartsWith(payload, "client ")) {
      Notify({Change::kClient, payload.substr(7)});
    } else if (absl::StartsWith(payload, "unbind ")) {
      Notify({Change::kBindingRemoved, payload.substr(7)});
    } else if (absl::StartsWith(payload, "node ")) {
      Notify({Change::kNodeStarted, payload.substr(5)});
    }
  }

  const PostgresStoreOptions options_;
  const pg::GroupContext ctx_;
  ConnPool pool_;

  // Writer thread only.
  std::unique_ptr<Conn> writer_conn_;
  LogState log_;
  bool log_known_ = true;

  std::mutex health_mu_;
  bool serving_ = true;  // guarded by health_mu_
  absl::Status fatal_;   // guarded by health_mu_; not OK once another process took the node id

  std::mutex listeners_mu_;
  std::vector<ChangeListener> listeners_;  // guarded by listeners_mu_

  std::atomic<bool> stopping_{false};  // relaxed: only ends the listener's loop
  GroupQueue<Pending> queue_;
  ThreadPool readers_;
  std::thread listener_;
  std::thread writer_;  // last: starts once everything it uses exists
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresStoreOptions& options) {
  if (options.dsn.empty()) return absl::InvalidArgumentError("store.postgres.dsn is required");
  if (options.node_id.empty()) return absl::InvalidArgumentError("a node id is required");
  if (options.max_group_commit == 0 || options.max_group_commit > 4096) {
    return absl::InvalidArgumentError("store.max_group_commit must be 1 to 4096 with PostgreSQL");
  }
  if (options.pool_size < 1 || options.max_attempts < 1 || options.node_lease < absl::Seconds(1) ||
      options.recheck_lease <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "postgres: pool_size and max_attempts must be positive, node_lease at least 1 s");
  }
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialize");
  absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Connect(options.dsn);
  if (!conn.ok()) return conn.status();
  if (absl::Status s = pg::Migrate(**conn); !s.ok()) return s;
  if (absl::Status s = pg::EnsureAuditPartitions(**conn, absl::Now()); !s.ok()) return s;
  std::string owner = RandomHex(16);
  if (absl::Status s = AcquireNodeLease(**conn, options, owner); !s.ok()) return s;
  absl::StatusOr<LogState> log = pg::ReadLogState(**conn, options.node_id);
  if (!log.ok()) return log.status();
  absl::StatusOr<std::unique_ptr<Conn>> listening = ConnectListening(options.dsn);
  if (!listening.ok()) return listening.status();
  return std::unique_ptr<Store>(new PostgresStore(options, std::move(owner), *std::move(conn),
                                                  *std::move(listening), *std::move(log)));
}

}  // namespace idv::store
