#include "store/leveldb/log_storage.h"

#include <leveldb/write_batch.h>

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

absl::Status MigrateToMerkle(leveldb::DB* db) {
  audit::MerkleFrontier frontier;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  leveldb::WriteBatch batch;
  leveldb::WriteOptions wo;
  wo.sync = true;
  for (it->Seek("a/"); it->Valid() && it->key().starts_with("a/"); it->Next()) {
    AuditEntry entry;
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("an audit record is unreadable");
    }
    const audit::Hash leaf = audit::LeafHash(entry.record());
    int64_t index = audit::StoredHashCount(frontier.size());
    for (const audit::Hash& h : frontier.Append(leaf)) {
      batch.Put(NumberKey('h', index++), std::string(h.begin(), h.end()));
    }
    entry.set_hash(leaf.data(), leaf.size());
    batch.Put(it->key(), entry.SerializeAsString());
    if (batch.ApproximateSize() > (4 << 20)) {
      if (absl::Status s = FromLevelDb(db->Write(wo, &batch), "migrate audit log"); !s.ok()) {
        return s;
      }
      batch.Clear();
    }
  }
  if (absl::Status s = FromLevelDb(it->status(), "scan audit log"); !s.ok()) return s;
  batch.Put("m/schema", "2");  // last: an interrupted migration runs again from the start
  return FromLevelDb(db->Write(wo, &batch), "migrate audit log");
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
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
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
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
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
