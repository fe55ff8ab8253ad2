#include "store/postgres/connections.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"

namespace idv::store::pg {

namespace {

constexpr char kChannel[] = "idv_changes";
constexpr absl::Duration kLeasePoll = absl::Milliseconds(250);

}  // namespace

bool ClosedWhileIdle(Conn& conn) {
  if (!conn.ok()) return true;
  pollfd p{conn.socket(), POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // input, end of stream, an error; or poll itself failed
}

absl::StatusOr<std::unique_ptr<Conn>> ConnectListening(const std::string& dsn) {
  absl::StatusOr<std::unique_ptr<Conn>> c = Conn::Connect(dsn);
  if (!c.ok()) return c.status();
  if (auto r = (*c)->Exec(absl::StrCat("LISTEN ", kChannel)); !r.ok()) return r.status();
  return c;
}

absl::Status AcquireNodeLease(Conn& conn, const PostgresStoreOptions& o, const std::string& owner) {
  const absl::Duration wait =
      o.lease_wait == absl::InfiniteDuration() ? o.node_lease + absl::Seconds(5) : o.lease_wait;
  const absl::Time give_up = absl::Now() + wait;
  bool logged = false;
  for (;;) {
    absl::StatusOr<Result> r = conn.Exec(
        "INSERT INTO idv_nodes (node_id, owner, lease_until, started_at) "
        "VALUES ($1, $2, now() + $3::interval, now()) ON CONFLICT (node_id) DO UPDATE "
        "SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, started_at = now() "
        "WHERE idv_nodes.lease_until < now() RETURNING node_id",
        Params().Text(o.node_id).Text(owner).Text(pg::Interval(o.node_lease)));
    if (!r.ok()) return r.status();
    if (r->rows() == 1) {
      // Nodes sharing limits recount the live nodes (a node that stops lets its lease run out,
      // which their periodic recount sees).
      (void)conn.Exec("SELECT pg_notify('idv_changes', 'node ' || $1)", Params().Text(o.node_id));
      return absl::OkStatus();
    }
    if (absl::Now() >= give_up) {
      return absl::FailedPreconditionError(
          absl::StrCat("node id \"", o.node_id,
                       "\" is held by another live idvd; give each node its own "
                       "store.node_id"));
    }
    if (!logged) {
      spdlog::warn("node id \"{}\" is leased to another process; waiting up to {} for it to expire",
                   o.node_id, absl::FormatDuration(wait));
      logged = true;
    }
    absl::SleepFor(kLeasePoll);
  }
}

}  // namespace idv::store::pg
