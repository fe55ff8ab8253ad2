#include "store/leveldb/leveldb_store.h"

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>
#include <pthread.h>
#include <sodium.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "store/audit_log.h"
#include "store/binding_rules.h"
#include "store/group_queue.h"
#include "store/leveldb/keys.h"
#include "store/leveldb/log_storage.h"
#include "store/thread_pool.h"

namespace idv::store {
namespace {

using idv::store::v1::AccountBinding;
using idv::store::v1::AuditEntry;
using idv::store::v1::AuditRecord;
using idv::store::v1::ClientRecord;
using idv::store::v1::IdentityBindings;

constexpr char kSchemaKey[] = "m/schema";
// 1: chained records; 2: the Merkle log; 3: with the account index and hourly counters.
constexpr char kSchemaVersion[] = "3";

using ldb::AppendBigEndian;
using ldb::FromLevelDb;
using ldb::NumberKey;
using ldb::ReadBigEndian;
using ldb::SeekToLastWithPrefix;

std::string AuditKey(uint64_t seq) { return NumberKey('a', seq); }

std::string VerificationKey(const std::string& id) { return "v/" + id; }

std::string IdentityKey(const std::string& tenant, uint32_t version, const std::string& fp) {
  std::string k = "b/" + tenant;
  k.push_back('\0');
  AppendBigEndian(&k, version, 4);
  return k + fp;
}

std::string AccountKey(const std::string& tenant, const std::string& account) {
  std::string k = "r/" + tenant;
  k.push_back('\0');
  return k + account;
}

std::string ClientKey(const std::string& id) { return "c/" + id; }

std::string TenantKey(const std::string& name) { return "t/" + name; }

std::string RecheckKey(const std::string& id) { return "q/" + id; }

std::string IdempotencyKey(const std::string& tenant, const std::string& key_hash) {
  std::string k = "d/" + tenant;
  k.push_back('\0');
  return k + key_hash;
}

std::string ConfigKey(uint64_t version) { return NumberKey('g', version); }

// A view of the database with the writes of the batch being built laid over it.
class Overlay {
 public:
  Overlay(leveldb::DB* db, leveldb::WriteBatch* batch) : db_(db), batch_(batch) {}

  // The value of `key`, nullopt when absent; an error when the database cannot be read.
  absl::StatusOr<std::optional<std::string>> Get(const std::string& key) {
    if (auto it = pending_.find(key); it != pending_.end()) return it->second;
    std::string value;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromLevelDb(s, "read");
    return std::optional<std::string>(std::move(value));
  }

  // A write a later decision in this batch may read back (bindings, configuration versions).
  void Put(const std::string& key, std::string value) {
    batch_->Put(key, value);
    pending_[key] = std::move(value);
  }

  // A write nothing in this batch reads back (audit entries, their index, re-check entries):
  // straight into the batch, without a copy in the overlay.
  void Append(const leveldb::Slice& key, const leveldb::Slice& value) { batch_->Put(key, value); }

  void Delete(const std::string& key) {
    batch_->Delete(key);
    pending_[key] = std::nullopt;
  }

 private:
  leveldb::DB* db_;
  leveldb::WriteBatch* batch_;
  std::map<std::string, std::optional<std::string>> pending_;  // nullopt: deleted
};

template <typename Message>
absl::StatusOr<std::optional<Message>> GetMessage(Overlay& overlay, const std::string& key) {
  absl::StatusOr<std::optional<std::string>> raw = overlay.Get(key);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<Message>();
  Message m;
  if (!m.ParseFromString(**raw)) return absl::DataLossError("unparsable record in store");
  return std::optional<Message>(std::move(m));
}

class LevelDbStore final : public Store {
 public:
  LevelDbStore(const LevelDbStoreOptions& options, std::unique_ptr<leveldb::Cache> cache,
               std::unique_ptr<const leveldb::FilterPolicy> filter, std::unique_ptr<leveldb::DB> db,
               LogState log)
      : options_(options),
        cache_(std::move(cache)),
        filter_(std::move(filter)),
        db_(std::move(db)),
        log_(std::move(log)),
        readers_(options.reader_threads, "idv-store-read"),
        writer_([this] { WriterLoop(); }) {}

  ~LevelDbStore() override { Close(); }

  void CommitVerification(VerificationCommit commit, Callback<CommitResult> done) override {
    Pending p{std::move(commit), std::move(done)};
    if (!queue_.Push(p)) std::move(p.done)(absl::UnavailableError("store is closed"));
  }

  void GetVerification(std::string tenant, std::string id, Callback<AuditRecord> done) override {
    ScheduleRead(std::move(done), [this, tenant = std::move(tenant), id = std::move(id)]() {
      return ReadVerification(tenant, id);
    });
  }

  void GetAccountBinding(std::string tenant, std::string account_id,
                         Callback<AccountBinding> done) override {
    ScheduleRead(std::move(done), [this, key = AccountKey(tenant, account_id)]() {
      return ReadMessage<AccountBinding>(key, "no binding for this account");
    });
  }

  const std::string& node_id() const override { return options_.node_id; }

  void ListClients(Callback<std::vector<ClientRecord>> done) override {
    ScheduleRead(std::move(done), [this]() { return ReadClients(); });
  }

  void ClientChangeUnseenBy(std::string, Callback<std::vector<std::string>> done) override {
    ScheduleRead(std::move(done), []() -> absl::StatusOr<std::vector<std::string>> {
      return std::vector<std::string>();
    });
  }

  void CountLiveNodes(Callback<int> done) override {
    ScheduleRead(std::move(done), []() -> absl::StatusOr<int> { return 1; });
  }

  void ListTenants(Callback<std::vector<idv::store::v1::TenantRecord>> done) override {
    ScheduleRead(
        std::move(done), [this]() -> absl::StatusOr<std::vector<idv::store::v1::TenantRecord>> {
          std::vector<idv::store::v1::TenantRecord> out;
          std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
          for (it->Seek("t/"); it->Valid() && it->key().starts_with("t/"); it->Next()) {
            idv::store::v1::TenantRecord t;
            if (!t.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
              return absl::DataLossError("unparsable tenant record in store");
            }
            out.push_back(std::move(t));
          }
          if (absl::Status st = FromLevelDb(it->status(), "list tenants"); !st.ok()) {
            return st;
          }
          return out;
        });
  }
  absl::StatusOr<std::vector<idv::store::v1::ConfigVersion>> ConfigVersions(size_t limit) {
    std::vector<idv::store::v1::ConfigVersion> out;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    for (SeekToLastWithPrefix(it.get(), 'g');
         it->Valid() && it->key().starts_with("g/") && out.size() < limit; it->Prev()) {
      idv::store::v1::ConfigVersion v;
      if (!v.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("unparsable configuration version in store");
      }
      out.push_back(std::move(v));
    }
    if (absl::Status s = FromLevelDb(it->status(), "list configuration versions"); !s.ok()) {
      return s;
    }
    return out;
  }

  // One process owns the database, so every entry is this node's; `lease` has nothing to fence.
  void ClaimRechecks(size_t limit, absl::Duration lease,
                     Callback<std::vector<idv::store::v1::RecheckEntry>> done) override {
    ScheduleRead(std::move(done), [this, limit]() { return ReadRechecks(limit); });
  }

  void ListLogs(Callback<std::vector<LogInfo>> done) override {
    ScheduleRead(std::move(done), [this]() -> absl::StatusOr<std::vector<LogInfo>> {
      absl::StatusOr<LogInfo> info = ldb::ReadLogInfo(db_.get());
      if (!info.ok()) return info.status();
      info->node_id = options_.node_id;
      return std::vector<LogInfo>{*std::move(info)};
    });
  }

  void ReadAuditHashes(std::string node_id, std::vector<int64_t> indexes,
                       Callback<std::vector<audit::Hash>> done) override {
    ScheduleRead(std::move(done),
                 [this, node_id = std::move(node_id),
                  indexes = std::move(indexes)]() -> absl::StatusOr<std::vector<audit::Hash>> {
                   if (node_id != options_.node_id) return absl::NotFoundError("no such log");
                   return ldb::HashReader(db_.get()).ReadHashes(indexes);
                 });
  }

  void ReadAuditRecords(std::string node_id, uint64_t first, size_t limit,
                        Callback<std::vector<StoredRecord>> done) override {
    ScheduleRead(std::move(done),
                 [this, node_id = std::move(node_id), first,
                  limit]() -> absl::StatusOr<std::vector<StoredRecord>> {
                   if (node_id != options_.node_id) return absl::NotFoundError("no such log");
                   return ldb::ReadRecords(db_.get(), first, limit);
                 });
  }

  void ReadAuditRecordsBackward(std::string node_id, uint64_t before, size_t limit,
                                Callback<std::vector<StoredRecord>> done) override {
    ScheduleRead(std::move(done),
                 [this, node_id = std::move(node_id), before,
                  limit]() -> absl::StatusOr<std::vector<StoredRecord>> {
                   if (node_id != options_.node_id) return absl::NotFoundError("no such log");
                   return ldb::ReadRecordsBackward(db_.get(), before, limit);
                 });
  }

  void ReadAccountRecordsBackward(std::string node_id, std::string tenant, std::string account_id,
                                  uint64_t before, size_t limit,
                                  Callback<std::vector<StoredRecord>> done) override {
    ScheduleRead(std::move(done),
                 [this, node_id = std::move(node_id), tenant = std::move(tenant),
                  account_id = std::move(account_id), before,
                  limit]() -> absl::StatusOr<std::vector<StoredRecord>> {
                   if (node_id != options_.node_id) return absl::NotFoundError("no such log");
                   return ldb::ReadAccountRecordsBackward(db_.get(), tenant, account_id, before,
                                                          limit);
                 });
  }

  void ReadStats(std::string tenant, std::string node_id, int64_t from_hour, int64_t to_hour,
                 Callback<std::vector<StatsCount>> done) override {
    ScheduleRead(std::move(done),
                 [this, tenant = std::move(tenant), node_id = std::move(node_id), from_hour,
                  to_hour]() -> absl::StatusOr<std::vector<StatsCount>> {
                   if (!node_id.empty() && node_id != options_.node_id) {
                     return std::vector<StatsCount>();
                   }
                   return ldb::ReadStats(db_.get(), tenant, from_hour, to_hour);
                 });
  }

  void ReadCheckpoints(std::string node_id, size_t limit,
                       Callback<std::vector<idv::store::v1::Checkpoint>> done) override {
    ScheduleRead(std::move(done),
                 [this, node_id = std::move(node_id),
                  limit]() -> absl::StatusOr<std::vector<idv::store::v1::Checkpoint>> {
                   if (node_id != options_.node_id) return absl::NotFoundError("no such log");
                   return ldb::ReadCheckpoints(db_.get(), limit);
                 });
  }

  void PurgeAuditLog(uint64_t through, uint64_t purge_record, Callback<uint64_t> done) override {
    ScheduleRead(std::move(done), [this, through, purge_record]() {
      return ldb::PurgeRecords(db_.get(), through, purge_record);
    });
  }

  void GetIdempotency(std::string tenant, std::vector<std::string> key_hashes,
                      Callback<idv::store::v1::IdempotencyEntry> done) override {
    ScheduleRead(
        std::move(done),
        [this, tenant = std::move(tenant),
         key_hashes = std::move(key_hashes)]() -> absl::StatusOr<idv::store::v1::IdempotencyEntry> {
          constexpr absl::string_view kNotFound = "no such idempotency key";
          for (const std::string& key_hash : key_hashes) {
            absl::StatusOr<idv::store::v1::IdempotencyEntry> e =
                ReadMessage<idv::store::v1::IdempotencyEntry>(IdempotencyKey(tenant, key_hash),
                                                              kNotFound);
            if (e.ok() && !IsLive(*e, absl::Now())) continue;
            if (!absl::IsNotFound(e.status())) return e;
          }
          return absl::NotFoundError(kNotFound);
        });
  }

  absl::Status ExportSnapshot(
      const std::function<absl::Status(absl::string_view, absl::string_view)>& sink) override {
    leveldb::ReadOptions ro;
    ro.fill_cache = false;
    ro.snapshot = db_->GetSnapshot();
    absl::Status s;
    {
      std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
      for (it->SeekToFirst(); it->Valid() && s.ok(); it->Next()) {
        s = sink(absl::string_view(it->key().data(), it->key().size()),
                 absl::string_view(it->value().data(), it->value().size()));
      }
      if (s.ok()) s = FromLevelDb(it->status(), "read the snapshot");
    }
    db_->ReleaseSnapshot(ro.snapshot);
    return s;
  }

  void CountKeyUsage(Callback<std::vector<KeyUsage>> done) override {
    ScheduleRead(std::move(done), [this]() -> absl::StatusOr<std::vector<KeyUsage>> {
      std::map<uint32_t, KeyUsage> usage;
      leveldb::ReadOptions ro;
      ro.fill_cache = false;
      std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
      auto scan = [&](absl::string_view prefix, auto parse_version, uint64_t KeyUsage::*field) {
        for (it->Seek(leveldb::Slice(prefix.data(), prefix.size()));
             it->Valid() && it->key().starts_with(leveldb::Slice(prefix.data(), prefix.size()));
             it->Next()) {
          absl::StatusOr<uint32_t> v = parse_version(it->value());
          if (!v.ok()) return v.status();
          KeyUsage& u = usage[*v];
          u.key_version = *v;
          ++(u.*field);
        }
        return FromLevelDb(it->status(), "count key usage");
      };
      auto version_of = [](auto message) {
        return [message](const leveldb::Slice& value) mutable -> absl::StatusOr<uint32_t> {
          if (!message.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            return absl::DataLossError("unparsable record while counting key usage");
          }
          return message.key_version();
        };
      };
      absl::Status s = scan("r/", version_of(AccountBinding()), &KeyUsage::bindings);
      if (s.ok()) s = scan("c/", version_of(ClientRecord()), &KeyUsage::clients);
      if (s.ok()) {
        s = scan("q/", version_of(idv::store::v1::RecheckEntry()), &KeyUsage::rechecks);
      }
      if (!s.ok()) return s;
      std::vector<KeyUsage> out;
      for (const auto& [v, u] : usage) out.push_back(u);
      return out;
    });
  }

  void PurgeIdempotency(absl::Time now, Callback<uint64_t> done) override {
    ScheduleRead(std::move(done), [this, now]() -> absl::StatusOr<uint64_t> {
      // The writer replaces expired entries too: while this reads and deletes, it waits, so an
      // entry written meanwhile is never deleted.
      std::lock_guard<std::mutex> lock(idempotency_mu_);
      leveldb::WriteBatch batch;
      uint64_t n = 0;
      leveldb::ReadOptions ro;
      ro.fill_cache = false;
      std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
      for (it->Seek("d/"); it->Valid() && it->key().starts_with("d/"); it->Next()) {
        idv::store::v1::IdempotencyEntry e;
        if (e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) &&
            IsLive(e, now)) {
          continue;
        }
        batch.Delete(it->key());
        ++n;
      }
      if (absl::Status s = FromLevelDb(it->status(), "list idempotency keys"); !s.ok()) return s;
      if (n == 0) return n;
      leveldb::WriteOptions wo;
      wo.sync = true;
      if (absl::Status s = FromLevelDb(db_->Write(wo, &batch), "purge idempotency keys"); !s.ok()) {
        return s;
      }
      return n;
    });
  }

  void Subscribe(ChangeListener listener) override {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    listeners_.push_back(std::move(listener));
  }

  absl::StatusOr<std::vector<idv::store::v1::RecheckEntry>> ReadRechecks(size_t limit) {
    std::vector<idv::store::v1::RecheckEntry> out;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    for (it->Seek("q/"); it->Valid() && it->key().starts_with("q/") && out.size() < limit;
         it->Next()) {
      idv::store::v1::RecheckEntry e;
      if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("unparsable re-check entry in store");
      }
      out.push_back(std::move(e));
    }
    if (absl::Status s = FromLevelDb(it->status(), "list re-checks"); !s.ok()) return s;
    return out;
  }

  void ReadConfigVersions(size_t limit,
                          Callback<std::vector<idv::store::v1::ConfigVersion>> done) override {
    ScheduleRead(std::move(done), [this, limit]() { return ConfigVersions(limit); });
  }

  void PutClient(ClientRecord client, bool only_if_none, Callback<bool> done) override {
    ScheduleRead(std::move(done),
                 [this, client = std::move(client), only_if_none]() -> absl::StatusOr<bool> {
                   absl::Status s = WriteClient(client, only_if_none);
                   if (!s.ok()) return s;
                   Notify({Change::kClient, client.client_id()});
                   return true;
                 });
  }

  void Close() override {
    if (!queue_.Close()) return;
    writer_.join();
    readers_.Shutdown();  // runs the reads already queued
  }

 private:
  struct Pending {
    VerificationCommit commit;
    Callback<CommitResult> done;
  };

  absl::StatusOr<std::vector<ClientRecord>> ReadClients() {
    std::vector<ClientRecord> out;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    for (it->Seek("c/"); it->Valid() && it->key().starts_with("c/"); it->Next()) {
      ClientRecord c;
      if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("unparsable client record in store");
      }
      out.push_back(std::move(c));
    }
    if (absl::Status s = FromLevelDb(it->status(), "list clients"); !s.ok()) return s;
    return out;
  }

  // Client writes are rare (start-up, administration); one mutex makes "only if none" atomic.
  absl::Status WriteClient(const ClientRecord& client, bool only_if_none) {
    std::lock_guard<std::mutex> lock(clients_mu_);
    if (only_if_none) {
      std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
      it->Seek("c/");
      if (it->Valid() && it->key().starts_with("c/")) {
        return absl::AlreadyExistsError("a client exists already");
      }
      if (absl::Status s = FromLevelDb(it->status(), "list clients"); !s.ok()) return s;
    }
    leveldb::WriteOptions wo;
    wo.sync = true;
    return FromLevelDb(db_->Put(wo, ClientKey(client.client_id()), client.SerializeAsString()),
                       "put client");
  }

  void Notify(const Change& change) {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    for (const ChangeListener& l : listeners_) l(change);
  }

  template <typename T, typename ReadFn>
  void ScheduleRead(Callback<T> done, ReadFn read) {
    RunOnPool(readers_, std::move(done), std::move(read));
  }

  template <typename Message>
  absl::StatusOr<Message> ReadMessage(const std::string& key, absl::string_view not_found) {
    std::string raw;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, &raw);
    if (!s.ok()) return FromLevelDb(s, not_found);
    Message m;
    if (!m.ParseFromString(raw)) return absl::DataLossError("unparsable record in store");
    return m;
  }

  absl::StatusOr<AuditRecord> ReadVerification(const std::string& tenant, const std::string& id) {
    constexpr absl::string_view kNotFound = "no such verification";
    std::string seq;
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), VerificationKey(id), &seq);
    if (!s.ok()) return FromLevelDb(s, kNotFound);
    if (seq.size() != 8) return absl::DataLossError("bad verification index entry");
    absl::StatusOr<AuditEntry> entry =
        ReadMessage<AuditEntry>(AuditKey(ReadBigEndian(seq, 0, 8)), kNotFound);
    if (!entry.ok()) return entry.status();
    AuditRecord record;
    if (!record.ParseFromString(entry->record())) return absl::DataLossError("bad audit record");
    // Another tenant's record is indistinguishable from a missing one.
    if (record.tenant() != tenant) return absl::NotFoundError(kNotFound);
    return record;
  }

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

  // Decides the binding of one commit and adds its writes to the overlay.
  absl::StatusOr<idv::v1::BindingStatus> ApplyBinding(Overlay& overlay, const VerificationCommit& c,
                                                      bool* moved) {
    const AuditRecord& r = c.record;
    const std::string account_key = AccountKey(r.tenant(), r.account_id());
    const std::string identity_key =
        IdentityKey(r.tenant(), r.key_version(), r.identity_fingerprint());
    absl::StatusOr<std::optional<AccountBinding>> account =
        GetMessage<AccountBinding>(overlay, account_key);
    if (!account.ok()) return account.status();
    absl::StatusOr<std::optional<IdentityBindings>> identity =
        GetMessage<IdentityBindings>(overlay, identity_key);
    if (!identity.ok()) return identity.status();
    IdentityBindings bindings = identity->value_or(IdentityBindings());
    std::vector<std::string> earlier_keys;
    std::vector<IdentityBindings> earlier(c.earlier_fingerprints.size());
    std::vector<IdentityBindings*> earlier_ptrs;
    for (size_t i = 0; i < c.earlier_fingerprints.size(); ++i) {
      const KeyedFingerprint& e = c.earlier_fingerprints[i];
      earlier_keys.push_back(IdentityKey(r.tenant(), e.key_version, e.fingerprint));
      absl::StatusOr<std::optional<IdentityBindings>> b =
          GetMessage<IdentityBindings>(overlay, earlier_keys.back());
      if (!b.ok()) return b.status();
      earlier[i] = b->value_or(IdentityBindings());
      earlier_ptrs.push_back(&earlier[i]);
    }
    int moved_from = -1;
    const idv::v1::BindingStatus status =
        store::ApplyBinding(c, *account, bindings, earlier_ptrs, &moved_from);
    if (status == idv::v1::BOUND || moved_from >= 0) {
      overlay.Put(identity_key, bindings.SerializeAsString());
      overlay.Put(account_key, (*account)->SerializeAsString());
    }
    if (moved_from >= 0) {
      const std::string& key = earlier_keys[static_cast<size_t>(moved_from)];
      const IdentityBindings& left = earlier[static_cast<size_t>(moved_from)];
      if (left.accounts_size() == 0) {
        overlay.Delete(key);
      } else {
        overlay.Put(key, left.SerializeAsString());
      }
      *moved = true;
    }
    return status;
  }

  // Removes the binding of (`tenant`, `account`) and its idempotency entries through the
  // overlay; `keys` gets every key changed, for compaction.
  absl::Status RemoveAccount(Overlay& overlay, const std::string& tenant,
                             const std::string& account, CommitResult& out,
                             std::vector<std::string>& keys) {
    const std::string account_key = AccountKey(tenant, account);
    absl::StatusOr<std::optional<std::string>> stored = overlay.Get(account_key);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) {
      AccountBinding b;
      if (!b.ParseFromString(**stored)) return absl::DataLossError("unparsable account binding");
      const std::string identity_key =
          IdentityKey(tenant, b.key_version(), b.identity_fingerprint());
      absl::StatusOr<std::optional<std::string>> identity = overlay.Get(identity_key);
      if (!identity.ok()) return identity.status();
      IdentityBindings bindings;
      if (identity->has_value() && !bindings.ParseFromString(**identity)) {
        return absl::DataLossError("unparsable identity bindings");
      }
      IdentityBindings kept;
      for (const auto& a : bindings.accounts()) {
        if (a.account_id() != account) *kept.add_accounts() = a;
      }
      if (kept.accounts_size() == 0) {
        overlay.Delete(identity_key);
      } else {
        overlay.Put(identity_key, kept.SerializeAsString());
      }
      overlay.Delete(account_key);
      keys.push_back(account_key);
      keys.push_back(identity_key);
      out.binding_removed = true;
    }
    const std::string prefix = IdempotencyKey(tenant, "");
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      idv::store::v1::IdempotencyEntry e;
      if (e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) &&
          e.account_id() == account) {
        overlay.Delete(it->key().ToString());
        keys.push_back(it->key().ToString());
        ++out.idempotency_removed;
      }
    }
    return FromLevelDb(it->status(), "list idempotency keys");
  }

  // Adds the group's counts to the stored counters, through the overlay (read, add, write).
  absl::Status AddCounts(Overlay& overlay, const std::map<StatsKey, int64_t>& counts) {
    for (const auto& [key, n] : counts) {
      const std::string k = ldb::CounterKey(key);
      absl::StatusOr<std::optional<std::string>> stored = overlay.Get(k);
      if (!stored.ok()) return stored.status();
      int64_t total = n;
      if (stored->has_value()) {
        absl::StatusOr<int64_t> before = ldb::ParseCounter(**stored);
        if (!before.ok()) return before.status();
        total += *before;
      }
      overlay.Put(k, ldb::CounterValue(total));
    }
    return absl::OkStatus();
  }

  // Builds one batch from `group`, writes it synced, then answers every commit in it. Sequence
  // and chain state advance only when the write succeeded.
  void WriteGroup(std::vector<Pending>& group, bool force_checkpoint) {
    leveldb::WriteBatch batch;
    Overlay overlay(db_.get(), &batch);
    LogState log = log_;
    std::vector<absl::StatusOr<CommitResult>> results;
    results.reserve(group.size());
    AuditEntry entry;
    std::string entry_bytes;
    std::vector<std::string> index_keys;
    std::map<StatsKey, int64_t> counts;
    std::unique_lock<std::mutex> idempotency_lock(idempotency_mu_, std::defer_lock);
    const absl::Time now = absl::Now();
    std::map<const Pending*, std::vector<std::string>> compact;  // keys a removal rewrote
    for (Pending& p : group) {
      AuditRecord& record = p.commit.record;
      std::string idempotency_key;
      if (p.commit.idempotency.has_value()) {
        if (!idempotency_lock.owns_lock()) idempotency_lock.lock();
        idempotency_key = IdempotencyKey(record.tenant(), p.commit.idempotency->key_hash());
        absl::StatusOr<std::optional<std::string>> taken = overlay.Get(idempotency_key);
        if (!taken.ok()) {
          results.push_back(taken.status());
          continue;
        }
        idv::store::v1::IdempotencyEntry held;
        if (taken->has_value() && (!held.ParseFromString(**taken) || IsLive(held, now))) {
          results.push_back(absl::AlreadyExistsError("the idempotency key is in use"));
          continue;
        }
      }
      if (p.commit.config.has_value()) {
        const std::string key = ConfigKey(p.commit.config->version());
        absl::StatusOr<std::optional<std::string>> taken = overlay.Get(key);
        if (!taken.ok() || taken->has_value()) {
          results.push_back(
              taken.ok() ? absl::AbortedError("the configuration changed concurrently; retry")
                         : taken.status());
          continue;
        }
        overlay.Put(key, p.commit.config->SerializeAsString());
      }
      if (p.commit.tenant.has_value() || p.commit.client_must_be_new) {
        const std::string key = p.commit.tenant.has_value()
                                    ? TenantKey(p.commit.tenant->name())
                                    : ClientKey(p.commit.client->client_id());
        absl::StatusOr<std::optional<std::string>> taken = overlay.Get(key);
        if (!taken.ok() || taken->has_value()) {
          results.push_back(taken.ok()
                                ? absl::AlreadyExistsError(absl::StrCat(
                                      p.commit.tenant.has_value() ? "tenant \"" : "client \"",
                                      key.substr(2), "\" exists already"))
                                : taken.status());
          continue;
        }
      }
      if (p.commit.tenant.has_value()) {
        overlay.Put(TenantKey(p.commit.tenant->name()), p.commit.tenant->SerializeAsString());
      }
      if (p.commit.client.has_value()) {
        overlay.Put(ClientKey(p.commit.client->client_id()), p.commit.client->SerializeAsString());
      }
      if (p.commit.settles_recheck) {
        absl::StatusOr<std::optional<std::string>> entry =
            overlay.Get(RecheckKey(record.verification_id()));
        if (!entry.ok() || !entry->has_value()) {
          results.push_back(entry.ok() ? absl::FailedPreconditionError(
                                             "the PENDING verification is settled already")
                                       : entry.status());
          continue;
        }
      }
      CommitResult removal;
      if (p.commit.remove_account) {
        if (!idempotency_lock.owns_lock()) idempotency_lock.lock();
        if (absl::Status s =
                RemoveAccount(overlay, record.tenant(), record.account_id(), removal, compact[&p]);
            !s.ok()) {
          results.push_back(s);
          continue;
        }
      }
      idv::v1::BindingStatus binding = idv::v1::NOT_REQUESTED;
      if (p.commit.bind) {
        absl::StatusOr<idv::v1::BindingStatus> b =
            ApplyBinding(overlay, p.commit, &removal.binding_moved);
        if (!b.ok()) {
          results.push_back(b.status());
          continue;
        }
        binding = *b;
      }
      record.set_binding(binding);
      if (p.commit.idempotency.has_value()) {
        SetAnsweredBinding(binding, *p.commit.idempotency);
        overlay.Put(idempotency_key, p.commit.idempotency->SerializeAsString());
      }
      // The entry is the record's exact bytes and their leaf hash, beside the tree's new stored
      // hashes.
      AppendedRecord a = AppendToLog(record, options_.node_id, log);
      const uint64_t seq = a.sequence;
      entry.set_record(std::move(a.bytes));
      entry.set_hash(a.leaf.data(), a.leaf.size());
      entry.SerializeToString(&entry_bytes);
      overlay.Append(AuditKey(seq), entry_bytes);
      for (size_t h = 0; h < a.hashes.size(); ++h) {
        overlay.Append(NumberKey('h', a.first_hash_index + h),
                       leveldb::Slice(reinterpret_cast<const char*>(a.hashes[h].data()), 32));
      }
      if (p.commit.recheck.has_value()) {
        overlay.Put(RecheckKey(record.verification_id()), p.commit.recheck->SerializeAsString());
      }
      if (p.commit.settles_recheck) overlay.Delete(RecheckKey(record.verification_id()));
      std::string seq_value;
      AppendBigEndian(&seq_value, seq, 8);
      overlay.Append(VerificationKey(record.verification_id()), seq_value);
      ldb::IndexRecord(record, seq, index_keys, counts);
      removal.sequence = seq;
      removal.binding = binding;
      results.push_back(removal);
    }
    for (const std::string& k : index_keys) overlay.Append(k, leveldb::Slice());
    const absl::Status counted = AddCounts(overlay, counts);
    if (std::optional<idv::store::v1::Checkpoint> c = DueCheckpoint(
            options_.checkpoints, options_.node_id, log, absl::Now(), force_checkpoint)) {
      overlay.Append(NumberKey('k', c->size()), c->SerializeAsString());
    }
    absl::Status written = failed_;
    if (written.ok()) written = counted;  // a counter unreadable: nothing of the group is written
    if (written.ok()) {
      leveldb::WriteOptions wo;
      wo.sync = true;
      written = FromLevelDb(db_->Write(wo, &batch), "write audit batch");
    }
    if (written.ok()) {
      log_ = std::move(log);
    } else if (failed_.ok()) {
      // Fail-stop: after a failed write neither LevelDB's log writer nor the log's state can be
      // trusted to match the disk. Refuse every later commit; reopening recovers both from disk.
      failed_ = absl::UnavailableError(
          absl::StrCat("store stopped accepting writes after a failed write: ", written.message()));
      if (options_.on_write_failure) options_.on_write_failure(failed_);
    }
    for (size_t i = 0; i < group.size(); ++i) {
      const bool applied = written.ok() && results[i].ok();
      const VerificationCommit& c = group[i].commit;
      std::optional<Change> change;
      if (applied && c.config)
        change = Change{Change::kConfig, std::to_string(c.config->version())};
      if (applied && c.client) change = Change{Change::kClient, c.client->client_id()};
      // Listeners learn of a client change before the caller does, so the caller's next call
      // meets the new table.
      if (change.has_value() && change->kind == Change::kClient) Notify(*change);
      if (applied && c.remove_account) {
        Notify(
            {Change::kBindingRemoved, absl::StrCat(c.record.tenant(), "/", c.record.account_id())});
        // The removed values leave the files before the caller hears it is done: compacting the
        // keys' ranges flushes the memtable (and so the write-ahead log that held them) and
        // rewrites every table that had them. On a reader thread: the writer goes on.
        RunOnPool(readers_, std::move(group[i].done),
                  [this, keys = std::move(compact[&group[i]]),
                   result = std::move(results[i])]() mutable -> absl::StatusOr<CommitResult> {
                    for (const std::string& k : keys) {
                      const leveldb::Slice key(k);
                      db_->CompactRange(&key, &key);
                    }
                    return std::move(result);
                  });
        continue;
      }
      std::move(group[i].done)(written.ok() ? std::move(results[i]) : written);
      if (change.has_value() && change->kind == Change::kConfig) Notify(*change);
    }
  }

  const LevelDbStoreOptions options_;
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;

  // Owned by the writer thread.
  LogState log_;
  absl::Status failed_;  // not OK once a write failed

  std::mutex clients_mu_;
  std::mutex idempotency_mu_;  // the writer's idempotency checks and writes vs. the purge
  std::mutex listeners_mu_;
  std::vector<ChangeListener> listeners_;  // guarded by listeners_mu_

  GroupQueue<Pending> queue_;

  ThreadPool readers_;
  std::thread writer_;  // last: starts once everything it uses exists
};

absl::Status CheckSchema(leveldb::DB* db) {
  std::string version;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), kSchemaKey, &version);
  if (s.IsNotFound()) {
    leveldb::WriteOptions wo;
    wo.sync = true;
    return FromLevelDb(db->Put(wo, kSchemaKey, kSchemaVersion), "write schema version");
  }
  if (!s.ok()) return FromLevelDb(s, "read schema version");
  if (version == "1") {
    if (absl::Status s = ldb::MigrateToMerkle(db); !s.ok()) return s;
    version = "2";
  }
  if (version == "2") {
    if (absl::Status s = ldb::MigrateToIndexes(db); !s.ok()) return s;
    version = "3";
  }
  if (version != kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema version ", version, " is not supported (expected ", kSchemaVersion, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenLevelDbStore(const LevelDbStoreOptions& options) {
  if (options.data_dir.empty() && options.path.empty()) {
    return absl::InvalidArgumentError("store needs a data_dir or a path");
  }
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialize");
  std::unique_ptr<leveldb::Cache> cache(
      leveldb::NewLRUCache(static_cast<size_t>(options.block_cache_mib) << 20));
  std::unique_ptr<const leveldb::FilterPolicy> filter(leveldb::NewBloomFilterPolicy(10));
  leveldb::Options lo;
  lo.create_if_missing = true;
  lo.write_buffer_size = static_cast<size_t>(options.write_buffer_mib) << 20;
  // Not paranoid_checks: a crash mid-write can leave a torn record at the end of the log, which
  // LevelDB then drops on recovery (it was never acknowledged). Paranoid mode would refuse to open.
  lo.block_cache = cache.get();
  lo.filter_policy = filter.get();
  if (options.env != nullptr) lo.env = options.env;
  leveldb::DB* raw = nullptr;
  const std::string path = options.path.empty() ? options.data_dir + "/db" : options.path;
  if (absl::Status s = FromLevelDb(leveldb::DB::Open(lo, path, &raw), "open " + path); !s.ok()) {
    return s;
  }
  std::unique_ptr<leveldb::DB> db(raw);
  if (absl::Status s = CheckSchema(db.get()); !s.ok()) return s;
  absl::StatusOr<LogState> log = ldb::RecoverLog(db.get());
  if (!log.ok()) return log.status();
  return std::unique_ptr<Store>(new LevelDbStore(options, std::move(cache), std::move(filter),
                                                 std::move(db), *std::move(log)));
}

}  // namespace idv::store
