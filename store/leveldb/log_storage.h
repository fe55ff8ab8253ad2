// The audit log in the LevelDB engine: records under a/<seq>, the Merkle tree's stored hashes
// under h/<index> (audit/log.h layout), signed checkpoints under k/<size>, the account index under
// x/ and the hourly counters under s/ (keys.h). The database holds one log, the node's.
// Thread-safe reads; LevelDB's own consistency.
#ifndef IDV_STORE_LEVELDB_LOG_STORAGE_H_
#define IDV_STORE_LEVELDB_LOG_STORAGE_H_

#include <leveldb/db.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/log.h"
#include "store/audit_log.h"
#include "store/store.h"

namespace idv::store::ldb {

// Stored hashes read from the database.
class HashReader : public audit::HashReader {
 public:
  explicit HashReader(leveldb::DB* db) : db_(db) {}
  absl::StatusOr<std::vector<audit::Hash>> ReadHashes(
      const std::vector<int64_t>& indexes) const override;

 private:
  leveldb::DB* db_;
};

// The number of records in the log.
absl::StatusOr<uint64_t> LogSize(leveldb::DB* db);

// The log's size and what retention removed from it (LogInfo without the node id).
absl::StatusOr<LogInfo> ReadLogInfo(leveldb::DB* db);

// Removes records purged_through+1..through with their index entries and notes the purge
// (Store::PurgeAuditLog), in one synced write; then compacts the removed range so the bytes
// leave the disk. Returns the number of records removed.
absl::StatusOr<uint64_t> PurgeRecords(leveldb::DB* db, uint64_t through, uint64_t purge_record);

// The log's state after its last record and checkpoint.
absl::StatusOr<LogState> RecoverLog(leveldb::DB* db);

// Schema 1 chained records with BLAKE2b; schema 2 is the Merkle log. Computes the leaf and stored
// hashes of every record written under schema 1, in batches, then marks the schema 2.
absl::Status MigrateToMerkle(leveldb::DB* db);

// Schema 2 had neither the account index nor the hourly counters; schema 3 has both. Builds them
// from every record, then marks the schema 3.
absl::Status MigrateToIndexes(leveldb::DB* db);

// What storing `record` under `seq` adds besides the record: its account index key (appended to
// `index_keys`, when it is a verification or settlement with an account) and its counts.
void IndexRecord(const idv::store::v1::AuditRecord& record, uint64_t seq,
                 std::vector<std::string>& index_keys, std::map<StatsKey, int64_t>& counts);
// The key of one counter, and its stored value.
std::string CounterKey(const StatsKey& key);
std::string CounterValue(int64_t count);
// A stored counter's value; DataLoss when malformed.
absl::StatusOr<int64_t> ParseCounter(absl::string_view value);

absl::StatusOr<std::vector<StoredRecord>> ReadAccountRecordsBackward(leveldb::DB* db,
                                                                     const std::string& tenant,
                                                                     const std::string& account,
                                                                     uint64_t before, size_t limit);
absl::StatusOr<std::vector<StatsCount>> ReadStats(leveldb::DB* db, const std::string& tenant,
                                                  int64_t from_hour, int64_t to_hour);

absl::StatusOr<std::vector<StoredRecord>> ReadRecords(leveldb::DB* db, uint64_t first,
                                                      size_t limit);
absl::StatusOr<std::vector<StoredRecord>> ReadRecordsBackward(leveldb::DB* db, uint64_t before,
                                                              size_t limit);
absl::StatusOr<std::vector<idv::store::v1::Checkpoint>> ReadCheckpoints(leveldb::DB* db,
                                                                        size_t limit);

}  // namespace idv::store::ldb

#endif  // IDV_STORE_LEVELDB_LOG_STORAGE_H_
