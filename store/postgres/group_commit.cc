#include "store/postgres/group_commit.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "store/binding_rules.h"

namespace idv::store::pg {
namespace {

using idv::store::v1::AccountBinding;
using idv::store::v1::IdentityBindings;
using pg::Array;

// (tenant, key version, fingerprint): one row of idv_identities, the lock of one identity.
using IdentityKey = std::tuple<std::string, uint32_t, std::string>;
// (tenant, account id): one row of idv_accounts.
using AccountKey = std::pair<std::string, std::string>;

IdentityKey IdentityOf(const idv::store::v1::AuditRecord& r) {
  return {r.tenant(), r.key_version(), r.identity_fingerprint()};
}

// Everything the decisions of one group read, locked or fetched up front (a fixed number of round
// trips), then updated in memory as the group's commits are decided in order.
struct GroupState {
  std::map<IdentityKey, IdentityBindings> identities;
  // Rows that exist, locked by this transaction, by their ctid (which only this transaction can
  // change until it ends, so the UPDATE finds them without an index).
  std::map<IdentityKey, std::string> identities_stored;
  std::set<IdentityKey> identities_changed;
  std::map<AccountKey, std::optional<AccountBinding>> accounts;
  std::vector<AccountKey> accounts_added;
  // Accounts whose binding moved to the current key version (their row is updated).
  std::vector<AccountKey> accounts_moved;
  std::set<uint64_t> config_taken;
  std::set<std::string> clients_taken;  // of the ids the group creates
  std::set<std::string> tenants_taken;
  std::set<std::string> settleable;  // re-check entries deleted under this node's lease
  // (tenant, key hash) of live idempotency entries, stored or added by this group.
  std::set<std::pair<std::string, std::string>> idempotency_taken;
  // Accounts whose binding the group removes, and the idempotency entries deleted per account.
  std::vector<AccountKey> accounts_removed;
  std::map<AccountKey, int64_t> idempotency_removed;
};

// Locks the idv_identities row of every identity the group binds that has one, in key order, and
// reads its bindings. A concurrent transaction holding one makes this wait until it ends, then
// see its result. An identity without a row gets one inserted with the group's writes; a
// concurrent node inserting the same one makes either insert fail on the primary key, and that
// group is run again, now finding (and locking) the row.
void LockIdentities(Batch& batch, GroupState& st) {
  if (st.identities.empty()) return;
  Array tenants(Array::kText), versions(Array::kInt4), fingerprints(Array::kBytea);
  for (const auto& [key, unused] : st.identities) {
    tenants.Add(std::get<0>(key));
    versions.AddInt32(static_cast<int32_t>(std::get<1>(key)));
    fingerprints.Add(std::get<2>(key));
  }
  // Written so that any plan, the generic one included, is a nested loop over the array in its
  // order with one primary-key lookup per element: the locks are taken in key order, and no
  // plan ever scans the table.
  batch.Add(
      "SELECT i.tenant, i.key_version, i.fingerprint, i.bindings, i.ctid "
      "FROM unnest($1::text[], $2::integer[], $3::bytea[]) AS v(t, k, f) "
      "CROSS JOIN LATERAL (SELECT ctid, tenant, key_version, fingerprint, bindings "
      "FROM idv_identities WHERE tenant = v.t AND key_version = v.k AND fingerprint = v.f "
      "LIMIT 1 FOR UPDATE) AS i",
      Params().Arr(tenants).Arr(versions).Arr(fingerprints), [&st](const Result& r) {
        for (int i = 0; i < r.rows(); ++i) {
          IdentityKey key{r.Bytes(i, 0), static_cast<uint32_t>(r.Int32(i, 1)), r.Bytes(i, 2)};
          auto it = st.identities.find(key);
          if (it == st.identities.end()) continue;
          if (!it->second.ParseFromString(r.Bytes(i, 3))) {
            return absl::DataLossError("unparsable identity bindings in the database");
          }
          st.identities_stored[key] = r.Bytes(i, 4);
        }
        return absl::OkStatus();
      });
}

void ReadAccounts(Batch& batch, GroupState& st) {
  if (st.accounts.empty()) return;
  Array tenants(Array::kText), accounts(Array::kText);
  for (const auto& [key, unused] : st.accounts) {
    tenants.Add(key.first);
    accounts.Add(key.second);
  }
  batch.Add(
      "SELECT a.tenant, a.account_id, a.binding FROM unnest($1::text[], $2::text[]) AS v(t, id) "
      "CROSS JOIN LATERAL (SELECT tenant, account_id, binding FROM idv_accounts "
      "WHERE tenant = v.t AND account_id = v.id LIMIT 1) AS a",
      Params().Arr(tenants).Arr(accounts), [&st](const Result& r) {
        for (int i = 0; i < r.rows(); ++i) {
          AccountBinding b;
          if (!b.ParseFromString(r.Bytes(i, 2))) {
            return absl::DataLossError("unparsable account binding in the database");
          }
          st.accounts[{r.Bytes(i, 0), r.Bytes(i, 1)}] = std::move(b);
        }
        return absl::OkStatus();
      });
}

void ReadTakenConfigs(Batch& batch, const Array& versions, GroupState& st) {
  if (versions.size() == 0) return;
  batch.Add("SELECT version FROM idv_config_versions WHERE version = ANY($1::bigint[])",
            Params().Arr(versions), [&st](const Result& r) {
              for (int i = 0; i < r.rows(); ++i) st.config_taken.insert(r.Int64(i, 0));
              return absl::OkStatus();
            });
}

// Which of the client ids and tenant names the group creates exist already.
void ReadTakenNames(Batch& batch, const Array& clients, const Array& tenants, GroupState& st) {
  if (clients.size() > 0) {
    batch.Add("SELECT client_id FROM idv_clients WHERE client_id = ANY($1::text[])",
              Params().Arr(clients), [&st](const Result& r) {
                for (int i = 0; i < r.rows(); ++i) st.clients_taken.insert(r.Bytes(i, 0));
                return absl::OkStatus();
              });
  }
  if (tenants.size() > 0) {
    batch.Add("SELECT name FROM idv_tenants WHERE name = ANY($1::text[])", Params().Arr(tenants),
              [&st](const Result& r) {
                for (int i = 0; i < r.rows(); ++i) st.tenants_taken.insert(r.Bytes(i, 0));
                return absl::OkStatus();
              });
  }
}

// Drops the expired entries of the idempotency keys the group uses and reads which are live. A
// concurrent node adding the same key makes either INSERT fail on the primary key; the rerun
// finds it taken.
void ReadTakenIdempotency(Batch& batch, const Array& tenants, const Array& keys, GroupState& st) {
  if (tenants.size() == 0) return;
  batch.Add(
      "DELETE FROM idv_idempotency AS i USING unnest($1::text[], $2::bytea[]) AS v(t, k) "
      "WHERE i.tenant = v.t AND i.key_hash = v.k AND i.expires_at <= now()",
      Params().Arr(tenants).Arr(keys));
  batch.Add(
      "SELECT i.tenant, i.key_hash FROM idv_idempotency AS i "
      "JOIN unnest($1::text[], $2::bytea[]) AS v(t, k) ON i.tenant = v.t AND i.key_hash = v.k",
      Params().Arr(tenants).Arr(keys), [&st](const Result& r) {
        for (int i = 0; i < r.rows(); ++i) {
          st.idempotency_taken.insert({r.Bytes(i, 0), r.Bytes(i, 1)});
        }
        return absl::OkStatus();
      });
}

// Deletes the idempotency entries of the accounts the group removes, counting them per account.
void DeleteIdempotencyOf(Batch& batch, const Array& tenants, const Array& accounts,
                         GroupState& st) {
  if (tenants.size() == 0) return;
  batch.Add(
      "DELETE FROM idv_idempotency AS i USING unnest($1::text[], $2::text[]) AS v(t, a) "
      "WHERE i.tenant = v.t AND i.account_id = v.a RETURNING i.tenant, i.account_id",
      Params().Arr(tenants).Arr(accounts), [&st](const Result& r) {
        for (int i = 0; i < r.rows(); ++i) ++st.idempotency_removed[{r.Bytes(i, 0), r.Bytes(i, 1)}];
        return absl::OkStatus();
      });
}

// Deletes the re-check entries the group settles, where this node holds them.
void TakeSettled(Batch& batch, const GroupContext& ctx, const Array& ids, GroupState& st) {
  if (ids.size() == 0) return;
  batch.Add(
      "DELETE FROM idv_rechecks WHERE lease_owner = $1 AND verification_id = ANY($2::text[]) "
      "RETURNING verification_id",
      Params().Text(ctx.node_id).Arr(ids), [&st](const Result& r) {
        for (int i = 0; i < r.rows(); ++i) st.settleable.insert(r.Bytes(i, 0));
        return absl::OkStatus();
      });
}

// The rows one group writes, gathered while its commits are decided: one array per column.
struct Writes {
  Array audit_seq{Array::kInt8}, audit_time{Array::kInt8}, audit_tenant{Array::kText},
      audit_id{Array::kText}, audit_record{Array::kBytea}, audit_hash{Array::kBytea},
      audit_account{Array::kText};
  std::map<StatsKey, int64_t> counts;
  Array tree_index{Array::kInt8}, tree_hash{Array::kBytea};
  std::optional<idv::store::v1::Checkpoint> checkpoint;
  Array recheck_id{Array::kText}, recheck_tenant{Array::kText}, recheck_entry{Array::kBytea};
  Array config_version{Array::kInt8}, config_record{Array::kBytea};
  Array client_id{Array::kText}, client_tenant{Array::kText}, client_record{Array::kBytea};
  Array tenant_name{Array::kText}, tenant_record{Array::kBytea};
  Array idem_tenant{Array::kText}, idem_key{Array::kBytea}, idem_account{Array::kText},
      idem_expires{Array::kInt8}, idem_entry{Array::kBytea};
};

// Decides one commit against the group's state and adds its rows to `w`.
absl::StatusOr<CommitResult> Decide(const GroupContext& ctx, VerificationCommit& c, GroupState& st,
                                    LogState& log, Writes& w) {
  idv::store::v1::AuditRecord& record = c.record;
  if (c.idempotency.has_value() &&
      !st.idempotency_taken.insert({record.tenant(), c.idempotency->key_hash()}).second) {
    return absl::AlreadyExistsError("the idempotency key is in use");
  }
  if (c.settles_recheck && st.settleable.erase(record.verification_id()) == 0) {
    return absl::FailedPreconditionError(
        "the PENDING verification is settled already or re-asked by another node");
  }
  if (c.config.has_value()) {
    if (!st.config_taken.insert(c.config->version()).second) {
      return absl::AbortedError("the configuration changed concurrently; retry");
    }
    w.config_version.AddInt64(static_cast<int64_t>(c.config->version()));
    w.config_record.Add(c.config->SerializeAsString());
  }
  if (c.tenant.has_value()) {
    // A concurrent node creating the same name fails on the primary key; the rerun sees it.
    if (!st.tenants_taken.insert(c.tenant->name()).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("tenant \"", c.tenant->name(), "\" exists already"));
    }
    w.tenant_name.Add(c.tenant->name());
    w.tenant_record.Add(c.tenant->SerializeAsString());
  }
  if (c.client.has_value()) {
    if (c.client_must_be_new && !st.clients_taken.insert(c.client->client_id()).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("client \"", c.client->client_id(), "\" exists already"));
    }
    w.client_id.Add(c.client->client_id());
    w.client_tenant.Add(c.client->tenant());
    w.client_record.Add(c.client->SerializeAsString());
  }
  idv::v1::BindingStatus binding = idv::v1::NOT_REQUESTED;
  CommitResult result;
  if (c.remove_account) {
    const AccountKey ak{record.tenant(), record.account_id()};
    std::optional<AccountBinding>& account = st.accounts[ak];
    if (account.has_value()) {
      const IdentityKey ik{ak.first, account->key_version(), account->identity_fingerprint()};
      IdentityBindings& identity = st.identities[ik];
      IdentityBindings kept;
      for (const auto& a : identity.accounts()) {
        if (a.account_id() != ak.second) *kept.add_accounts() = a;
      }
      identity = std::move(kept);
      st.identities_changed.insert(ik);
      st.accounts_removed.push_back(ak);
      // A binding added earlier in this group is not inserted at all.
      st.accounts_added.erase(std::remove(st.accounts_added.begin(), st.accounts_added.end(), ak),
                              st.accounts_added.end());
      account.reset();
      result.binding_removed = true;
    }
    result.idempotency_removed = static_cast<uint64_t>(st.idempotency_removed[ak]);
    st.idempotency_removed[ak] = 0;
  }
  if (c.bind) {
    const IdentityKey ik = IdentityOf(record);
    const AccountKey ak{record.tenant(), record.account_id()};
    std::vector<IdentityKey> earlier_keys;
    std::vector<IdentityBindings*> earlier;
    for (const KeyedFingerprint& e : c.earlier_fingerprints) {
      earlier_keys.emplace_back(record.tenant(), e.key_version, e.fingerprint);
      earlier.push_back(&st.identities[earlier_keys.back()]);
    }
    int moved_from = -1;
    binding = ApplyBinding(c, st.accounts[ak], st.identities[ik], earlier, &moved_from);
    if (binding == idv::v1::BOUND) {
      st.identities_changed.insert(ik);
      st.accounts_added.push_back(ak);
    }
    if (moved_from >= 0) {
      st.identities_changed.insert(ik);
      st.identities_changed.insert(earlier_keys[static_cast<size_t>(moved_from)]);
      // Added by this group: its INSERT carries the new version already.
      if (std::find(st.accounts_added.begin(), st.accounts_added.end(), ak) ==
          st.accounts_added.end()) {
        st.accounts_moved.push_back(ak);
      }
      result.binding_moved = true;
    }
  }
  record.set_binding(binding);
  if (c.idempotency.has_value()) {
    SetAnsweredBinding(binding, *c.idempotency);
    w.idem_tenant.Add(record.tenant());
    w.idem_key.Add(c.idempotency->key_hash());
    w.idem_account.Add(c.idempotency->account_id());
    w.idem_expires.AddInt64(absl::ToUnixMicros(FromProto(c.idempotency->expires_at())));
    w.idem_entry.Add(c.idempotency->SerializeAsString());
  }
  AppendedRecord a = AppendToLog(record, ctx.node_id, log);
  const uint64_t seq = a.sequence;
  for (size_t i = 0; i < a.hashes.size(); ++i) {
    w.tree_index.AddInt64(a.first_hash_index + static_cast<int64_t>(i));
    w.tree_hash.Add(absl::string_view(reinterpret_cast<const char*>(a.hashes[i].data()), 32));
  }
  w.audit_seq.AddInt64(static_cast<int64_t>(seq));
  w.audit_time.AddInt64(absl::ToUnixMicros(FromProto(record.decided_at())));
  w.audit_tenant.Add(record.tenant());
  w.audit_id.Add(record.verification_id());
  w.audit_record.Add(a.bytes);
  w.audit_hash.Add(absl::string_view(reinterpret_cast<const char*>(a.leaf.data()), 32));
  w.audit_account.Add(IsVerificationRecord(record) ? record.account_id() : "");
  AddToRollup(record, w.counts);
  if (c.recheck.has_value()) {
    w.recheck_id.Add(record.verification_id());
    w.recheck_tenant.Add(record.tenant());
    w.recheck_entry.Add(c.recheck->SerializeAsString());
  }
  result.sequence = seq;
  result.binding = binding;
  return result;
}

// Writes the changed bindings of identities: an UPDATE of the locked rows (by ctid), an INSERT of
// the new ones.
void WriteIdentities(Batch& batch, const GroupState& st) {
  Array ctids(Array::kTid), stored_bindings(Array::kBytea), emptied(Array::kTid);
  Array tenants(Array::kText), versions(Array::kInt4), fingerprints(Array::kBytea),
      bindings(Array::kBytea);
  for (const IdentityKey& k : st.identities_changed) {
    const IdentityBindings& b = st.identities.at(k);
    const auto stored = st.identities_stored.find(k);
    // An identity left with no account (its last binding removed) keeps no row.
    if (b.accounts_size() == 0) {
      if (stored != st.identities_stored.end()) emptied.Add(stored->second);
      continue;
    }
    const std::string serialized = b.SerializeAsString();
    if (stored != st.identities_stored.end()) {
      ctids.Add(stored->second);
      stored_bindings.Add(serialized);
      continue;
    }
    tenants.Add(std::get<0>(k));
    versions.AddInt32(static_cast<int32_t>(std::get<1>(k)));
    fingerprints.Add(std::get<2>(k));
    bindings.Add(serialized);
  }
  if (ctids.size() > 0) {
    batch.Add(
        "UPDATE idv_identities AS i SET bindings = v.b "
        "FROM unnest($1::tid[], $2::bytea[]) AS v(id, b) WHERE i.ctid = v.id",
        Params().Arr(ctids).Arr(stored_bindings));
  }
  if (emptied.size() > 0) {
    batch.Add("DELETE FROM idv_identities WHERE ctid = ANY($1::tid[])", Params().Arr(emptied));
  }
  if (tenants.size() > 0) {
    batch.Add(
        "INSERT INTO idv_identities (tenant, key_version, fingerprint, bindings) "
        "SELECT * FROM unnest($1::text[], $2::integer[], $3::bytea[], $4::bytea[])",
        Params().Arr(tenants).Arr(versions).Arr(fingerprints).Arr(bindings));
  }
}

void WriteBindings(Batch& batch, const GroupState& st) {
  WriteIdentities(batch, st);
  if (!st.accounts_removed.empty()) {
    Array tenants(Array::kText), accounts(Array::kText);
    for (const AccountKey& k : st.accounts_removed) {
      tenants.Add(k.first);
      accounts.Add(k.second);
    }
    batch.Add(
        "DELETE FROM idv_accounts AS a USING unnest($1::text[], $2::text[]) AS v(t, id) "
        "WHERE a.tenant = v.t AND a.account_id = v.id",
        Params().Arr(tenants).Arr(accounts));
    batch.Add(
        "SELECT pg_notify('idv_changes', 'unbind ' || t || '/' || a) "
        "FROM unnest($1::text[], $2::text[]) AS v(t, a)",
        Params().Arr(tenants).Arr(accounts));
  }
  if (!st.accounts_moved.empty()) {
    Array tenants(Array::kText), accounts(Array::kText), versions(Array::kInt4),
        fingerprints(Array::kBytea), bindings(Array::kBytea);
    for (const AccountKey& k : st.accounts_moved) {
      const std::optional<AccountBinding>& b = st.accounts.at(k);
      if (!b.has_value()) continue;  // removed later in the group
      tenants.Add(k.first);
      accounts.Add(k.second);
      versions.AddInt32(static_cast<int32_t>(b->key_version()));
      fingerprints.Add(b->identity_fingerprint());
      bindings.Add(b->SerializeAsString());
    }
    batch.Add(
        "UPDATE idv_accounts AS a SET key_version = v.k, fingerprint = v.f, binding = v.b "
        "FROM unnest($1::text[], $2::text[], $3::integer[], $4::bytea[], $5::bytea[]) "
        "AS v(t, id, k, f, b) WHERE a.tenant = v.t AND a.account_id = v.id",
        Params().Arr(tenants).Arr(accounts).Arr(versions).Arr(fingerprints).Arr(bindings));
  }
  if (!st.accounts_added.empty()) {
    Array tenants(Array::kText), accounts(Array::kText), versions(Array::kInt4),
        fingerprints(Array::kBytea), bindings(Array::kBytea);
    for (const AccountKey& k : st.accounts_added) {
      const AccountBinding& b = *st.accounts.at(k);
      tenants.Add(k.first);
      accounts.Add(k.second);
      versions.AddInt32(static_cast<int32_t>(b.key_version()));
      fingerprints.Add(b.identity_fingerprint());
      bindings.Add(b.SerializeAsString());
    }
    // A unique violation here means another node bound one of these accounts since we read it:
    // the caller runs the whole group again, and the decision sees that binding.
    batch.Add(
        "INSERT INTO idv_accounts (tenant, account_id, key_version, fingerprint, binding) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::bytea[], $5::bytea[])",
        Params().Arr(tenants).Arr(accounts).Arr(versions).Arr(fingerprints).Arr(bindings));
  }
}

}  // namespace

void AddCounts(Batch& batch, const std::string& node_id,
               const std::map<StatsKey, int64_t>& counts) {
  if (counts.empty()) return;
  Array tenants(Array::kText), hours(Array::kInt8), dimensions(Array::kText), keys(Array::kText),
      ns(Array::kInt8);
  for (const auto& [k, n] : counts) {
    tenants.Add(std::get<0>(k));
    hours.AddInt64(std::get<1>(k));
    dimensions.Add(std::get<2>(k));
    keys.Add(std::get<3>(k));
    ns.AddInt64(n);
  }
  // Only this node's writer touches rows of its node id: no other transaction waits on them.
  batch.Add(
      "INSERT INTO idv_audit_stats (tenant, hour, dimension, key, node_id, n) "
      "SELECT t, 'epoch'::timestamptz + h * interval '1 second', d, k, $1, n "
      "FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[]) "
      "AS u(t, h, d, k, n) "
      "ON CONFLICT (tenant, hour, dimension, key, node_id) "
      "DO UPDATE SET n = idv_audit_stats.n + excluded.n",
      Params().Text(node_id).Arr(tenants).Arr(hours).Arr(dimensions).Arr(keys).Arr(ns));
}

namespace {

void WriteRows(Batch& batch, const GroupContext& ctx, const Writes& w) {
  if (w.audit_seq.size() > 0) {
    batch.Add(
        "INSERT INTO idv_audit (node_id, seq, decided_at, tenant, verification_id, record, hash, "
        "account_id) "
        "SELECT $1, s, 'epoch'::timestamptz + d * interval '1 microsecond', t, v, r, h, a "
        "FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], "
        "$7::bytea[], $8::text[]) AS u(s, d, t, v, r, h, a)",
        Params()
            .Text(ctx.node_id)
            .Arr(w.audit_seq)
            .Arr(w.audit_time)
            .Arr(w.audit_tenant)
            .Arr(w.audit_id)
            .Arr(w.audit_record)
            .Arr(w.audit_hash)
            .Arr(w.audit_account));
  }
  AddCounts(batch, ctx.node_id, w.counts);
  if (w.tree_index.size() > 0) {
    batch.Add(
        "INSERT INTO idv_audit_hashes (node_id, idx, hash) "
        "SELECT $1, i, h FROM unnest($2::bigint[], $3::bytea[]) AS u(i, h)",
        Params().Text(ctx.node_id).Arr(w.tree_index).Arr(w.tree_hash));
  }
  if (w.checkpoint.has_value()) {
    const idv::store::v1::Checkpoint& c = *w.checkpoint;
    batch.Add(
        "INSERT INTO idv_checkpoints (node_id, size, root, note, created_at) "
        "VALUES ($1, $2::bigint, $3::bytea, $4, $5::timestamptz)",
        Params()
            .Text(c.node_id())
            .Int(static_cast<int64_t>(c.size()))
            .Bytes(c.root())
            .Text(c.note())
            .Time(FromProto(c.created_at())));
  }
  if (w.recheck_id.size() > 0) {
    batch.Add(
        "INSERT INTO idv_rechecks (verification_id, tenant, entry, lease_owner, lease_until) "
        "SELECT id, t, e, $4, now() + $5::interval "
        "FROM unnest($1::text[], $2::text[], $3::bytea[]) AS u(id, t, e)",
        Params()
            .Arr(w.recheck_id)
            .Arr(w.recheck_tenant)
            .Arr(w.recheck_entry)
            .Text(ctx.node_id)
            .Text(Interval(ctx.recheck_lease)));
  }
  if (w.idem_tenant.size() > 0) {
    batch.Add(
        "INSERT INTO idv_idempotency (tenant, key_hash, account_id, expires_at, entry) "
        "SELECT t, k, a, 'epoch'::timestamptz + e * interval '1 microsecond', r "
        "FROM unnest($1::text[], $2::bytea[], $3::text[], $4::bigint[], $5::bytea[]) "
        "AS u(t, k, a, e, r)",
        Params()
            .Arr(w.idem_tenant)
            .Arr(w.idem_key)
            .Arr(w.idem_account)
            .Arr(w.idem_expires)
            .Arr(w.idem_entry));
  }
  if (w.tenant_name.size() > 0) {
    batch.Add(
        "INSERT INTO idv_tenants (name, record) SELECT * FROM unnest($1::text[], $2::bytea[])",
        Params().Arr(w.tenant_name).Arr(w.tenant_record));
  }
  if (w.client_id.size() > 0) {
    // A client changed twice in one group: the later change is the one kept.
    batch.Add(
        "INSERT INTO idv_clients (client_id, tenant, record, updated_at, change_xid) "
        "SELECT DISTINCT ON (id) id, t, r, now(), pg_current_xact_id() "
        "FROM unnest($1::text[], $2::text[], $3::bytea[]) "
        "WITH ORDINALITY AS u(id, t, r, n) ORDER BY id, n DESC "
        "ON CONFLICT (client_id) DO UPDATE SET tenant = excluded.tenant, record = excluded.record, "
        "updated_at = now(), change_xid = excluded.change_xid",
        Params().Arr(w.client_id).Arr(w.client_tenant).Arr(w.client_record));
    batch.Add("SELECT pg_notify('idv_changes', 'client ' || id) FROM unnest($1::text[]) id",
              Params().Arr(w.client_id));
  }
  if (w.config_version.size() > 0) {
    batch.Add(
        "INSERT INTO idv_config_versions (version, record) "
        "SELECT * FROM unnest($1::bigint[], $2::bytea[])",
        Params().Arr(w.config_version).Arr(w.config_record));
    // Delivered to every listening node when (and only if) this transaction commits.
    batch.Add("SELECT pg_notify('idv_changes', 'config ' || v) FROM unnest($1::bigint[]) v",
              Params().Arr(w.config_version));
  }
}

void Fence(Batch& batch, const GroupContext& ctx) {
  batch.Add(
      "UPDATE idv_nodes SET lease_until = now() + $3::interval "
      "WHERE node_id = $1 AND owner = $2",
      Params().Text(ctx.node_id).Text(ctx.owner).Text(Interval(ctx.node_lease)),
      [&ctx](const Result& r) {
        if (r.affected() == 1) return absl::OkStatus();
        return absl::FailedPreconditionError(
            absl::StrCat("node id \"", ctx.node_id,
                         "\" is now held by another idvd process; this one stops writing"));
      });
}

// Everything before the writes, in one round trip: BEGIN, the fence and what the decisions read.
absl::Status Prepare(Conn& conn, const GroupContext& ctx,
                     const std::vector<VerificationCommit*>& commits, GroupState& st) {
  Array versions(Array::kInt8), settles(Array::kText), new_clients(Array::kText),
      new_tenants(Array::kText), idem_tenants(Array::kText), idem_keys(Array::kBytea),
      removed_tenants(Array::kText), removed_accounts(Array::kText);
  std::vector<AccountKey> removed;
  for (const VerificationCommit* c : commits) {
    if (c->idempotency.has_value()) {
      idem_tenants.Add(c->record.tenant());
      idem_keys.Add(c->idempotency->key_hash());
    }
    if (c->client.has_value() && c->client_must_be_new) new_clients.Add(c->client->client_id());
    if (c->tenant.has_value()) new_tenants.Add(c->tenant->name());
    if (c->bind) {
      st.identities[IdentityOf(c->record)];
      for (const KeyedFingerprint& e : c->earlier_fingerprints) {
        st.identities[{c->record.tenant(), e.key_version, e.fingerprint}];
      }
      st.accounts[{c->record.tenant(), c->record.account_id()}];
    }
    if (c->remove_account) {
      st.accounts[{c->record.tenant(), c->record.account_id()}];
      removed.emplace_back(c->record.tenant(), c->record.account_id());
      removed_tenants.Add(c->record.tenant());
      removed_accounts.Add(c->record.account_id());
    }
    if (c->config.has_value()) versions.AddInt64(static_cast<int64_t>(c->config->version()));
    if (c->settles_recheck) settles.Add(c->record.verification_id());
  }
  Batch batch;
  batch.Add("BEGIN", Params());
  Fence(batch, ctx);
  LockIdentities(batch, st);
  ReadAccounts(batch, st);
  ReadTakenConfigs(batch, versions, st);
  ReadTakenNames(batch, new_clients, new_tenants, st);
  TakeSettled(batch, ctx, settles, st);
  ReadTakenIdempotency(batch, idem_tenants, idem_keys, st);
  DeleteIdempotencyOf(batch, removed_tenants, removed_accounts, st);
  if (absl::Status s = batch.Run(conn); !s.ok()) return s;
  if (removed_tenants.size() == 0) return absl::OkStatus();
  // The identities of the bindings removed are known only now: lock and read those not locked
  // yet (another round trip, for removals only; a deadlock with another node's group is detected
  // by PostgreSQL and that group is run again).
  GroupState more;
  for (const AccountKey& key : removed) {
    const std::optional<AccountBinding>& account = st.accounts[key];
    if (!account.has_value()) continue;
    const IdentityKey ik{key.first, account->key_version(), account->identity_fingerprint()};
    if (st.identities.count(ik) == 0) more.identities[ik];
  }
  if (more.identities.empty()) return absl::OkStatus();
  Batch second;
  LockIdentities(second, more);
  if (absl::Status s = second.Run(conn); !s.ok()) return s;
  st.identities.merge(more.identities);
  st.identities_stored.merge(more.identities_stored);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunGroup(Conn& conn, const GroupContext& ctx, const LogState& log,
                      const std::vector<VerificationCommit*>& commits, bool force_checkpoint,
                      GroupResult* result, bool* commit_sent) {
  *commit_sent = false;
  GroupResult& out = *result;
  out = GroupResult();
  out.log = log;
  GroupState st;
  absl::Status s = Prepare(conn, ctx, commits, st);
  if (s.ok()) {
    Writes w;
    out.results.reserve(commits.size());
    for (VerificationCommit* c : commits) {
      const uint64_t before = out.log.next_sequence();
      out.results.push_back(Decide(ctx, *c, st, out.log, w));
      if (out.first_sequence == 0 && out.log.next_sequence() != before) {
        out.first_sequence = before;
      }
    }
    w.checkpoint =
        DueCheckpoint(ctx.checkpoints, ctx.node_id, out.log, absl::Now(), force_checkpoint);
    // The writes and COMMIT in a second round trip. A failed write keeps COMMIT from running.
    Batch batch;
    WriteBindings(batch, st);
    WriteRows(batch, ctx, w);
    batch.Add("COMMIT", Params());
    *commit_sent = true;
    s = batch.Run(conn);
  }
  // In a failed transaction (or one whose COMMIT never ran) only ROLLBACK is accepted.
  if (!s.ok() && conn.ok()) (void)conn.Exec("ROLLBACK");
  return s;
}

absl::StatusOr<std::vector<audit::Hash>> HashReader::ReadHashes(
    const std::vector<int64_t>& indexes) const {
  Array wanted(Array::kInt8);
  for (int64_t i : indexes) wanted.AddInt64(i);
  absl::StatusOr<Result> r = conn_.Prepared(
      "SELECT h.hash FROM unnest($2::bigint[]) WITH ORDINALITY AS v(i, n) "
      "CROSS JOIN LATERAL (SELECT hash FROM idv_audit_hashes WHERE node_id = $1 AND idx = v.i) "
      "AS h ORDER BY v.n",
      Params().Text(node_id_).Arr(wanted));
  if (!r.ok()) return r.status();
  if (r->rows() != static_cast<int>(indexes.size())) {
    return absl::NotFoundError("stored Merkle hashes are missing");
  }
  std::vector<audit::Hash> out(indexes.size());
  for (int i = 0; i < r->rows(); ++i) {
    const std::string h = r->Bytes(i, 0);
    if (h.size() != 32) return absl::DataLossError("a stored Merkle hash is not 32 bytes");
    std::copy(h.begin(), h.end(), out[i].begin());
  }
  return out;
}

absl::StatusOr<LogState> ReadLogState(Conn& conn, const std::string& node_id) {
  absl::StatusOr<Result> r = conn.Prepared(
      "SELECT coalesce((SELECT max(seq) FROM idv_audit WHERE node_id = $1), 0), "
      "coalesce((SELECT max(size) FROM idv_checkpoints WHERE node_id = $1), 0)",
      Params().Text(node_id));
  if (!r.ok()) return r.status();
  LogState state;
  state.checkpoint_size = static_cast<uint64_t>(r->Int64(0, 1));
  absl::StatusOr<audit::MerkleFrontier> frontier =
      audit::MerkleFrontier::Load(r->Int64(0, 0), HashReader(conn, node_id));
  if (!frontier.ok()) return frontier.status();
  state.frontier = *std::move(frontier);
  if (static_cast<uint64_t>(state.frontier.size()) > state.checkpoint_size) {
    state.unsigned_since = absl::Now();
  }
  return state;
}

absl::StatusOr<bool> HasRecord(Conn& conn, const std::string& node_id, uint64_t sequence) {
  absl::StatusOr<Result> r =
      conn.Exec("SELECT 1 FROM idv_audit WHERE node_id = $1 AND seq = $2::bigint",
                Params().Text(node_id).Int(static_cast<int64_t>(sequence)));
  if (!r.ok()) return r.status();
  return r->rows() > 0;
}

}  // namespace idv::store::pg
