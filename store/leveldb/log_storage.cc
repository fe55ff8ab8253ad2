#include "store/leveldb/log_storage.h"

#include <leveldb/write_batch.h>

#include <algorithm>
#include <functional>

#include "store/leveldb/keys.h"

namespace idv::store::ldb {

using idv::store::v1::AuditEntry;

absl::StatusOr<std::vector<audit::Hash>> HashReader::ReadHashes(
    const std::vector<int64_t>& indexes) const {
  std::vector<audit::Hash> out;
  out.reserve(indexes.size());
  std::string value;
  for (int64_t i : indexes) {
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), NumberKey('h', i), &value);
    if (!s.ok()) return FromLevelDb(s, absl::StrCat("stored Merkle hash ", i));
    if (value.size() != 32) return absl::DataLossError("a stored Merkle hash is not 32 bytes");
    audit::Hash h;
    std::copy(value.begin(), value.end(), h.begin());
    out.push_back(h);
  }
  return out;
}

absl::StatusOr<uint64_t> LogSize(leveldb::DB* db) {
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  uint64_t size = 0;
  SeekToLastWithPrefix(it.get(), 'a');
  if (it->Valid() && it->key().starts_with("a/")) size = ReadBigEndian(it->key().ToString(), 2, 8);
  if (absl::Status s = FromLevelDb(it->status(), "scan audit log"); !s.ok()) return s;
  return size;
}

namespace {

// Where retention left the log: "p/purge" holds <purged_through, 8 bytes><purge_record, 8 bytes>.
constexpr char kPurgeKey[] = "p/purge";

// Reads that walk the log (listing, exports, integrity checks) leave LevelDB's block cache to the
// lookups of the request path: a scan of the whole log would otherwise evict all of it.
leveldb::ReadOptions ScanOptions() {
  leveldb::ReadOptions o;
  o.fill_cache = false;
  return o;
}

}  // namespace

absl::StatusOr<LogInfo> ReadLogInfo(leveldb::DB* db) {
  LogInfo info;
  absl::StatusOr<uint64_t> size = LogSize(db);
  if (!size.ok()) return size.status();
  info.size = *size;
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), kPurgeKey, &value);
  if (s.IsNotFound()) return info;
  if (!s.ok()) return FromLevelDb(s, "read the purge mark");
  if (value.size() != 16) return absl::DataLossError("a malformed purge mark");
  info.purged_through = ReadBigEndian(value, 0, 8);
  info.purge_record = ReadBigEndian(value, 8, 8);
  return info;
}

absl::StatusOr<uint64_t> PurgeRecords(leveldb::DB* db, uint64_t through, uint64_t purge_record) {
  absl::StatusOr<LogInfo> info = ReadLogInfo(db);
  if (!info.ok()) return info.status();
  if (through <= info->purged_through || through > info->size || purge_record <= through ||
      purge_record > info->size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot purge through record ", through, " (purged through ", info->purged_through,
        ", log size ", info->size, ", purge record ", purge_record, ")"));
  }
  leveldb::WriteBatch batch;
  uint64_t removed = 0;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(ScanOptions()));
  std::string v;
  for (it->Seek(NumberKey('a', info->purged_through + 1));
       it->Valid() && it->key().starts_with("a/"); it->Next()) {
    const uint64_t seq = ReadBigEndian(it->key().ToString(), 2, 8);
    if (seq > through) break;
    AuditEntry entry;
    idv::store::v1::AuditRecord record;
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        !record.ParseFromString(entry.record())) {
      return absl::DataLossError(absl::StrCat("audit record ", seq, " is unreadable"));
    }
    std::vector<std::string> index_keys;
    std::map<StatsKey, int64_t> unused;
    IndexRecord(record, seq, index_keys, unused);
    for (const std::string& k : index_keys) batch.Delete(k);
    // The verification's newest record, when that is this one.
    const std::string vkey = "v/" + record.verification_id();
    leveldb::Status s = db->Get(leveldb::ReadOptions(), vkey, &v);
    if (s.ok() && v.size() == 8 && ReadBigEndian(v, 0, 8) == seq) batch.Delete(vkey);
    batch.Delete(it->key());
    ++removed;
  }
  if (absl::Status s = FromLevelDb(it->status(), "scan audit log"); !s.ok()) return s;
  it.reset();
  std::string mark;
  AppendBigEndian(&mark, through, 8);
  AppendBigEndian(&mark, purge_record, 8);
  batch.Put(kPurgeKey, mark);
  leveldb::WriteOptions wo;
  wo.sync = true;
  if (absl::Status s = FromLevelDb(db->Write(wo, &batch), "purge audit log"); !s.ok()) return s;
  const std::string from = NumberKey('a', 0), to = NumberKey('a', through + 1);
  const leveldb::Slice begin(from), end(to);
  db->CompactRange(&begin, &end);
  return removed;
}

absl::StatusOr<LogState> RecoverLog(leveldb::DB* db) {
  LogState state;
  absl::StatusOr<uint64_t> log_size = LogSize(db);
  if (!log_size.ok()) return log_size.status();
  const uint64_t size = *log_size;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  SeekToLastWithPrefix(it.get(), 'k');
  if (it->Valid() && it->key().starts_with("k/")) {
    idv::store::v1::Checkpoint c;
    if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("newest checkpoint is unreadable");
    }
    state.checkpoint_size = c.size();
  }
  if (absl::Status s = FromLevelDb(it->status(), "scan audit log"); !s.ok()) return s;
  absl::StatusOr<audit::MerkleFrontier> frontier =
      audit::MerkleFrontier::Load(static_cast<int64_t>(size), HashReader(db));
  if (!frontier.ok()) return frontier.status();
  state.frontier = *std::move(frontier);
  if (size > state.checkpoint_size) state.unsigned_since = absl::Now();
  return state;
}

namespace {

// Passes every stored audit entry, in order, with its sequence, to `visit`, which adds to `batch`;
// writes `batch` (synced) whenever it grows past 4 MiB. Then `finish` adds the last writes
// (marking the new schema, so that an interrupted migration runs again from the start) and the
// rest is written.
absl::Status MigrateLog(
    leveldb::DB* db,
    const std::function<absl::Status(uint64_t, AuditEntry&, leveldb::WriteBatch&)>& visit,
    const std::function<void(leveldb::WriteBatch&)>& finish) {
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  leveldb::WriteBatch batch;
  leveldb::WriteOptions wo;
  wo.sync = true;
  for (it->Seek("a/"); it->Valid() && it->key().starts_with("a/"); it->Next()) {
    AuditEntry entry;
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("an audit record is unreadable");
    }
    if (absl::Status s = visit(ReadBigEndian(it->key().ToString(), 2, 8), entry, batch); !s.ok()) {
      return s;
    }
    if (batch.ApproximateSize() > (4 << 20)) {
      if (absl::Status s = FromLevelDb(db->Write(wo, &batch), "migrate audit log"); !s.ok()) {
        return s;
      }
      batch.Clear();
    }
  }
  if (absl::Status s = FromLevelDb(it->status(), "scan audit log"); !s.ok()) return s;
  finish(batch);
  return FromLevelDb(db->Write(wo, &batch), "migrate audit log");
}

}  // namespace

absl::Status MigrateToMerkle(leveldb::DB* db) {
  audit::MerkleFrontier frontier;
  return MigrateLog(
      db,
      [&frontier](uint64_t seq, AuditEntry& entry, leveldb::WriteBatch& batch) {
        const audit::Hash leaf = audit::LeafHash(entry.record());
        int64_t index = audit::StoredHashCount(frontier.size());
        for (const audit::Hash& h : frontier.Append(leaf)) {
          batch.Put(NumberKey('h', index++), std::string(h.begin(), h.end()));
        }
        entry.set_hash(leaf.data(), leaf.size());
        batch.Put(NumberKey('a', seq), entry.SerializeAsString());
        return absl::OkStatus();
      },
      [](leveldb::WriteBatch& batch) { batch.Put("m/schema", "2"); });
}

void IndexRecord(const idv::store::v1::AuditRecord& record, uint64_t seq,
                 std::vector<std::string>& index_keys, std::map<StatsKey, int64_t>& counts) {
  if (IsVerificationRecord(record) && !record.account_id().empty()) {
    std::string key = AccountIndexPrefix(record.tenant(), record.account_id());
    AppendBigEndian(&key, seq, 8);
    index_keys.push_back(std::move(key));
  }
  AddToRollup(record, counts);
}

std::string CounterKey(const StatsKey& k) {
  std::string key = StatsPrefix(std::get<0>(k));
  AppendBigEndian(&key, static_cast<uint64_t>(std::get<1>(k)), 8);
  absl::StrAppend(&key, std::get<2>(k));
  key.push_back('\0');
  absl::StrAppend(&key, std::get<3>(k));
  return key;
}

std::string CounterValue(int64_t count) {
  std::string v;
  AppendBigEndian(&v, static_cast<uint64_t>(count), 8);
  return v;
}

absl::StatusOr<int64_t> ParseCounter(absl::string_view value) {
  if (value.size() != 8) return absl::DataLossError("a stored counter is not 8 bytes");
  return static_cast<int64_t>(ReadBigEndian(value, 0, 8));
}

absl::Status MigrateToIndexes(leveldb::DB* db) {
  std::map<StatsKey, int64_t> counts;
  std::vector<std::string> index_keys;
  return MigrateLog(
      db,
      [&](uint64_t seq, AuditEntry& entry, leveldb::WriteBatch& batch) {
        idv::store::v1::AuditRecord record;
        if (!record.ParseFromString(entry.record())) {
          return absl::DataLossError("an audit record is unreadable");
        }
        index_keys.clear();
        IndexRecord(record, seq, index_keys, counts);
        for (const std::string& k : index_keys) batch.Put(k, "");
        return absl::OkStatus();
      },
      [&counts](leveldb::WriteBatch& batch) {
        // The counters replace any an interrupted run wrote: they are complete only now.
        for (const auto& [key, n] : counts) batch.Put(CounterKey(key), CounterValue(n));
        batch.Put("m/schema", "3");
      });
}

namespace {

// The record an iterator is on (an a/<seq> key).
absl::StatusOr<StoredRecord> ToStored(const leveldb::Iterator& it) {
  AuditEntry entry;
  if (!entry.ParseFromArray(it.value().data(), static_cast<int>(it.value().size()))) {
    return absl::DataLossError("an audit record is unreadable");
  }
  return StoredRecord{ReadBigEndian(it.key().ToString(), 2, 8), std::move(*entry.mutable_record()),
                      std::move(*entry.mutable_hash())};
}

}  // namespace

absl::StatusOr<std::vector<StoredRecord>> ReadRecords(leveldb::DB* db, uint64_t first,
                                                      size_t limit) {
  std::vector<StoredRecord> out;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(ScanOptions()));
  for (it->Seek(NumberKey('a', first));
       it->Valid() && it->key().starts_with("a/") && out.size() < limit; it->Next()) {
    absl::StatusOr<StoredRecord> r = ToStored(*it);
    if (!r.ok()) return r.status();
    out.push_back(*std::move(r));
  }
  if (absl::Status s = FromLevelDb(it->status(), "read audit log"); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<StoredRecord>> ReadRecordsBackward(leveldb::DB* db, uint64_t before,
                                                              size_t limit) {
  std::vector<StoredRecord> out;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(ScanOptions()));
  it->Seek(NumberKey('a', before));
  if (it->Valid()) {
    it->Prev();
  } else {
    SeekToLastWithPrefix(it.get(), 'a');
  }
  for (; it->Valid() && it->key().starts_with("a/") && out.size() < limit; it->Prev()) {
    absl::StatusOr<StoredRecord> r = ToStored(*it);
    if (!r.ok()) return r.status();
    out.push_back(*std::move(r));
  }
  if (absl::Status s = FromLevelDb(it->status(), "read audit log"); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<StoredRecord>> ReadAccountRecordsBackward(leveldb::DB* db,
                                                                     const std::string& tenant,
                                                                     const std::string& account,
                                                                     uint64_t before,
                                                                     size_t limit) {
  const std::string prefix = AccountIndexPrefix(tenant, account);
  std::string start = prefix;
  AppendBigEndian(&start, before, 8);
  std::vector<StoredRecord> out;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  it->Seek(start);
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();
  }
  std::string value;
  for (; it->Valid() && it->key().starts_with(prefix) && out.size() < limit; it->Prev()) {
    if (it->key().size() != prefix.size() + 8) return absl::DataLossError("a malformed index key");
    const uint64_t seq = ReadBigEndian(it->key().ToString(), prefix.size(), 8);
    leveldb::Status s = db->Get(leveldb::ReadOptions(), NumberKey('a', seq), &value);
    if (s.IsNotFound()) continue;  // removed by retention
    if (!s.ok()) return FromLevelDb(s, "read audit log");
    AuditEntry entry;
    if (!entry.ParseFromString(value)) return absl::DataLossError("an audit record is unreadable");
    out.push_back(
        StoredRecord{seq, std::move(*entry.mutable_record()), std::move(*entry.mutable_hash())});
  }
  if (absl::Status s = FromLevelDb(it->status(), "read account index"); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<StatsCount>> ReadStats(leveldb::DB* db, const std::string& tenant,
                                                  int64_t from_hour, int64_t to_hour) {
  const std::string prefix = StatsPrefix(tenant);
  std::string start = prefix;
  AppendBigEndian(&start, static_cast<uint64_t>(std::max<int64_t>(from_hour, 0)), 8);
  std::vector<StatsCount> out;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (key.size() < prefix.size() + 8) return absl::DataLossError("a malformed counter key");
    const int64_t hour = static_cast<int64_t>(ReadBigEndian(key, prefix.size(), 8));
    if (hour >= to_hour) break;
    const absl::string_view rest = key.substr(prefix.size() + 8);
    const size_t nul = rest.find('\0');
    if (nul == absl::string_view::npos) return absl::DataLossError("a malformed counter key");
    absl::StatusOr<int64_t> n =
        ParseCounter(absl::string_view(it->value().data(), it->value().size()));
    if (!n.ok()) return n.status();
    out.push_back(
        StatsCount{hour, std::string(rest.substr(0, nul)), std::string(rest.substr(nul + 1)), *n});
  }
  if (absl::Status s = FromLevelDb(it->status(), "read counters"); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<idv::store::v1::Checkpoint>> ReadCheckpoints(leveldb::DB* db,
                                                                        size_t limit) {
  std::vector<idv::store::v1::Checkpoint> out;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (SeekToLastWithPrefix(it.get(), 'k');
       it->Valid() && it->key().starts_with("k/") && out.size() < limit; it->Prev()) {
    idv::store::v1::Checkpoint c;
    if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("a checkpoint is unreadable");
    }
    out.push_back(std::move(c));
  }
  if (absl::Status s = FromLevelDb(it->status(), "read checkpoints"); !s.ok()) return s;
  return out;
}

}  // namespace idv::store::ldb
