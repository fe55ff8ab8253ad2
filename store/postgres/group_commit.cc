#include "store/postgres/group_commit.h"

#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "store/binding_rules.h"

namespace idv::store::pg {
namespace {

using idv::store::v1::AccountBinding;
using idv::store::v1::IdentityBindings;

// (tenant, key version, fingerprint): one row of idv_identities, the lock of one identity.
using IdentityKey = std::tuple<std::string, uint32_t, std::string>;
// (tenant, account id): one row of idv_accounts.
using AccountKey = std::pair<std::string, std::string>;

IdentityKey IdentityOf(const idv::store::v1::AuditRecord& r) {
  return {r.tenant(), r.key_version(), r.identity_fingerprint()};
}

// `rows` rows of placeholders typed by `casts`, numbered from $1: "($1,$2::bytea),($3,$4::bytea)".
std::string ValuesRows(size_t rows, const std::vector<absl::string_view>& casts) {
  std::string out;
  for (size_t i = 0; i < rows; ++i) {
    if (i > 0) out += ',';
    out += ValuesRow(static_cast<int>(1 + i * casts.size()), casts);
  }
  return out;
}

// Everything the decisions of one group read, locked or fetched up front (a fixed number of round
// trips), then updated in memory as the group's commits are decided in order.
struct GroupState {
  std::map<IdentityKey, IdentityBindings> identities;
  std::set<IdentityKey> identities_changed;
  std::map<AccountKey, std::optional<AccountBinding>> accounts;
  std::vector<AccountKey> accounts_added;
  std::set<uint64_t> config_taken;
  std::set<std::string> settleable;  // re-check entries deleted under this node's lease
};

// Locks (creating when missing) the idv_identities row of every identity the group binds, in key
// order, and reads its bindings. A concurrent transaction holding one makes this wait until it
// ends, then see its result.
absl::Status LockIdentities(Conn& conn, GroupState& st) {
  if (st.identities.empty()) return absl::OkStatus();
  Params p;
  for (const auto& [key, unused] : st.identities) {
    p.Text(std::get<0>(key)).Int(std::get<1>(key)).Bytes(std::get<2>(key));
  }
  absl::StatusOr<Result> r = conn.Exec(
      absl::StrCat("INSERT INTO idv_identities (tenant, key_version, fingerprint, bindings) "
                   "SELECT t, k, f, ''::bytea FROM (VALUES ",
                   ValuesRows(st.identities.size(), {"text", "integer", "bytea"}),
                   ") AS v(t, k, f) ON CONFLICT (tenant, key_version, fingerprint) DO UPDATE "
                   "SET bindings = idv_identities.bindings "
                   "RETURNING tenant, key_version, fingerprint, bindings"),
      p);
  if (!r.ok()) return r.status();
  for (int i = 0; i < r->rows(); ++i) {
    IdentityKey key{r->Bytes(i, 0), static_cast<uint32_t>(r->Int32(i, 1)), r->Bytes(i, 2)};
    auto it = st.identities.find(key);
    if (it == st.identities.end()) continue;
    if (!it->second.ParseFromString(r->Bytes(i, 3))) {
      return absl::DataLossError("unparsable identity bindings in the database");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadAccounts(Conn& conn, GroupState& st) {
  if (st.accounts.empty()) return absl::OkStatus();
  Params p;
  for (const auto& [key, unused] : st.accounts) p.Text(key.first).Text(key.second);
  absl::StatusOr<Result> r = conn.Exec(
      absl::StrCat("SELECT tenant, account_id, binding FROM idv_accounts "
                   "WHERE (tenant, account_id) IN (VALUES ",
                   ValuesRows(st.accounts.size(), {"text", "text"}), ")"),
      p);
  if (!r.ok()) return r.status();
  for (int i = 0; i < r->rows(); ++i) {
    AccountBinding b;
    if (!b.ParseFromString(r->Bytes(i, 2))) {
      return absl::DataLossError("unparsable account binding in the database");
    }
    st.accounts[{r->Bytes(i, 0), r->Bytes(i, 1)}] = std::move(b);
  }
  return absl::OkStatus();
}

absl::Status ReadTakenConfigs(Conn& conn, const std::vector<uint64_t>& versions, GroupState& st) {
  if (versions.empty()) return absl::OkStatus();
  Params p;
  for (uint64_t v : versions) p.Int(static_cast<int64_t>(v));
  absl::StatusOr<Result> r =
      conn.Exec(absl::StrCat("SELECT version FROM idv_config_versions WHERE version IN (VALUES ",
                             ValuesRows(versions.size(), {"bigint"}), ")"),
                p);
  if (!r.ok()) return r.status();
  for (int i = 0; i < r->rows(); ++i) st.config_taken.insert(r->Int64(i, 0));
  return absl::OkStatus();
}

// Deletes the re-check entries the group settles, where this node holds them.
absl::Status TakeSettled(Conn& conn, const GroupContext& ctx, const std::vector<std::string>& ids,
                         GroupState& st) {
  if (ids.empty()) return absl::OkStatus();
  Params p;
  p.Text(ctx.node_id);
  for (const std::string& id : ids) p.Text(id);
  std::string in;
  for (size_t i = 0; i < ids.size(); ++i) absl::StrAppend(&in, i ? "," : "", "$", i + 2);
  absl::StatusOr<Result> r = conn.Exec(
      absl::StrCat("DELETE FROM idv_rechecks WHERE lease_owner = $1 AND verification_id IN (", in,
                   ") RETURNING verification_id"),
      p);
  if (!r.ok()) return r.status();
  for (int i = 0; i < r->rows(); ++i) st.settleable.insert(r->Bytes(i, 0));
  return absl::OkStatus();
}

// The rows one group writes, gathered while its commits are decided.
struct Writes {
  Params audit;
  size_t audit_rows = 0;
  Params rechecks;
  size_t recheck_rows = 0;
  Params configs;
  std::vector<uint64_t> config_versions;
};

// Decides one commit against the group's state and adds its rows to `w`.
absl::StatusOr<CommitResult> Decide(const GroupContext& ctx, VerificationCommit& c, GroupState& st,
                                    LogHead& head, Writes& w) {
  idv::store::v1::AuditRecord& record = c.record;
  if (c.settles_recheck && st.settleable.erase(record.verification_id()) == 0) {
    return absl::FailedPreconditionError(
        "the PENDING verification is settled already or re-asked by another node");
  }
  if (c.config.has_value()) {
    if (!st.config_taken.insert(c.config->version()).second) {
      return absl::AbortedError("the configuration changed concurrently; retry");
    }
    w.configs.Int(static_cast<int64_t>(c.config->version())).Bytes(c.config->SerializeAsString());
    w.config_versions.push_back(c.config->version());
  }
  idv::v1::BindingStatus binding = idv::v1::NOT_REQUESTED;
  if (c.bind) {
    const IdentityKey ik = IdentityOf(record);
    const AccountKey ak{record.tenant(), record.account_id()};
    binding = ApplyBinding(c, st.accounts[ak], st.identities[ik]);
    if (binding == idv::v1::BOUND) {
      st.identities_changed.insert(ik);
      st.accounts_added.push_back(ak);
    }
  }
  record.set_binding(binding);
  const uint64_t seq = head.next_sequence;
  std::string bytes, hash;
  AppendToChain(record, ctx.node_id, head, &bytes, &hash);
  w.audit.Text(ctx.node_id)
      .Int(static_cast<int64_t>(seq))
      .Time(FromProto(record.decided_at()))
      .Text(record.tenant())
      .Text(record.verification_id())
      .Bytes(std::move(bytes))
      .Bytes(std::move(hash));
  ++w.audit_rows;
  if (c.recheck.has_value()) {
    w.rechecks.Text(record.verification_id())
        .Text(record.tenant())
        .Bytes(c.recheck->SerializeAsString())
        .Text(ctx.node_id)
        .Text(Interval(ctx.recheck_lease));
    ++w.recheck_rows;
  }
  return CommitResult{seq, binding};
}

absl::Status WriteBindings(Conn& conn, const GroupState& st) {
  if (!st.identities_changed.empty()) {
    Params p;
    for (const IdentityKey& k : st.identities_changed) {
      p.Text(std::get<0>(k)).Int(std::get<1>(k)).Bytes(std::get<2>(k));
      p.Bytes(st.identities.at(k).SerializeAsString());
    }
    absl::StatusOr<Result> r = conn.Exec(
        absl::StrCat("UPDATE idv_identities AS i SET bindings = v.b FROM (VALUES ",
                     ValuesRows(st.identities_changed.size(), {"text", "integer", "bytea", "bytea"}),
                     ") AS v(t, k, f, b) "
                     "WHERE i.tenant = v.t AND i.key_version = v.k AND i.fingerprint = v.f"),
        p);
    if (!r.ok()) return r.status();
  }
  if (!st.accounts_added.empty()) {
    Params p;
    for (const AccountKey& k : st.accounts_added) {
      const AccountBinding& b = *st.accounts.at(k);
      p.Text(k.first).Text(k.second).Int(b.key_version()).Bytes(b.identity_fingerprint());
      p.Bytes(b.SerializeAsString());
    }
    // A unique violation here means another node bound one of these accounts since we read it:
    // the caller runs the whole group again, and the decision sees that binding.
    absl::StatusOr<Result> r = conn.Exec(
        absl::StrCat("INSERT INTO idv_accounts (tenant, account_id, key_version, fingerprint, "
                     "binding) VALUES ",
                     ValuesRows(st.accounts_added.size(),
                                {"text", "text", "integer", "bytea", "bytea"})),
        p);
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::Status WriteRows(Conn& conn, const Writes& w) {
  if (w.audit_rows > 0) {
    absl::StatusOr<Result> r = conn.Exec(
        absl::StrCat("INSERT INTO idv_audit (node_id, seq, decided_at, tenant, verification_id, "
                     "record, hash) VALUES ",
                     ValuesRows(w.audit_rows, {"text", "bigint", "timestamptz", "text", "text",
                                               "bytea", "bytea"})),
        w.audit);
    if (!r.ok()) return r.status();
  }
  if (w.recheck_rows > 0) {
    absl::StatusOr<Result> r = conn.Exec(
        absl::StrCat("INSERT INTO idv_rechecks (verification_id, tenant, entry, lease_owner, "
                     "lease_until) SELECT id, t, e, o, now() + l FROM (VALUES ",
                     ValuesRows(w.recheck_rows, {"text", "text", "bytea", "text", "interval"}),
                     ") AS v(id, t, e, o, l)"),
        w.rechecks);
    if (!r.ok()) return r.status();
  }
  if (!w.config_versions.empty()) {
    absl::StatusOr<Result> r = conn.Exec(
        absl::StrCat("INSERT INTO idv_config_versions (version, record) VALUES ",
                     ValuesRows(w.config_versions.size(), {"bigint", "bytea"})),
        w.configs);
    if (!r.ok()) return r.status();
    for (uint64_t v : w.config_versions) {
      // Delivered to every listening node when (and only if) this transaction commits.
      r = conn.Exec("SELECT pg_notify('idv_changes', 'config ' || $1)",
                    Params().Int(static_cast<int64_t>(v)));
      if (!r.ok()) return r.status();
    }
  }
  return absl::OkStatus();
}

absl::Status Fence(Conn& conn, const GroupContext& ctx) {
  absl::StatusOr<Result> r = conn.Exec(
      "UPDATE idv_nodes SET lease_until = now() + $3::interval "
      "WHERE node_id = $1 AND owner = $2",
      Params().Text(ctx.node_id).Text(ctx.owner).Text(Interval(ctx.node_lease)));
  if (!r.ok()) return r.status();
  if (r->affected() != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node id \"", ctx.node_id, "\" is now held by another idvd process; this one stops writing"));
  }
  return absl::OkStatus();
}

// Everything before the writes: the fence and what the decisions read.
absl::Status Prepare(Conn& conn, const GroupContext& ctx,
                     const std::vector<VerificationCommit*>& commits, GroupState& st) {
  std::vector<uint64_t> versions;
  std::vector<std::string> settles;
  for (const VerificationCommit* c : commits) {
    if (c->bind) {
      st.identities[IdentityOf(c->record)];
      st.accounts[{c->record.tenant(), c->record.account_id()}];
    }
    if (c->config.has_value()) versions.push_back(c->config->version());
    if (c->settles_recheck) settles.push_back(c->record.verification_id());
  }
  absl::Status s = Fence(conn, ctx);
  if (s.ok()) s = LockIdentities(conn, st);
  if (s.ok()) s = ReadAccounts(conn, st);
  if (s.ok()) s = ReadTakenConfigs(conn, versions, st);
  if (s.ok()) s = TakeSettled(conn, ctx, settles, st);
  return s;
}

}  // namespace

absl::Status RunGroup(Conn& conn, const GroupContext& ctx, const LogHead& head,
                      const std::vector<VerificationCommit*>& commits, GroupResult* result,
                      bool* commit_sent) {
  *commit_sent = false;
  GroupResult& out = *result;
  out = GroupResult();
  out.head = head;
  if (absl::StatusOr<Result> r = conn.Exec("BEGIN"); !r.ok()) return r.status();
  GroupState st;
  absl::Status s = Prepare(conn, ctx, commits, st);
  Writes w;
  if (s.ok()) {
    out.results.reserve(commits.size());
    for (VerificationCommit* c : commits) {
      const uint64_t before = out.head.next_sequence;
      out.results.push_back(Decide(ctx, *c, st, out.head, w));
      if (out.first_sequence == 0 && out.head.next_sequence != before) {
        out.first_sequence = before;
      }
    }
    s = WriteBindings(conn, st);
  }
  if (s.ok()) s = WriteRows(conn, w);
  if (s.ok()) {
    *commit_sent = true;
    if (absl::StatusOr<Result> r = conn.Exec("COMMIT"); !r.ok()) s = r.status();
  }
  if (!s.ok() && conn.ok() && !*commit_sent) (void)conn.Exec("ROLLBACK");
  return s;
}

absl::StatusOr<LogHead> ReadLogHead(Conn& conn, const std::string& node_id) {
  absl::StatusOr<Result> r = conn.Exec(
      "SELECT seq, hash FROM idv_audit WHERE node_id = $1 ORDER BY seq DESC LIMIT 1",
      Params().Text(node_id));
  if (!r.ok()) return r.status();
  LogHead head;
  if (r->rows() == 1) {
    head.next_sequence = static_cast<uint64_t>(r->Int64(0, 0)) + 1;
    head.last_hash = r->Bytes(0, 1);
  }
  return head;
}

absl::StatusOr<bool> HasRecord(Conn& conn, const std::string& node_id, uint64_t sequence) {
  absl::StatusOr<Result> r =
      conn.Exec("SELECT 1 FROM idv_audit WHERE node_id = $1 AND seq = $2::bigint",
                Params().Text(node_id).Int(static_cast<int64_t>(sequence)));
  if (!r.ok()) return r.status();
  return r->rows() > 0;
}

}  // namespace idv::store::pg
