// The audit log in the LevelDB engine: records under a/<seq>, the Merkle tree's stored hashes
// under h/<index> (audit/log.h layout), signed checkpoints under k/<size>. The database holds one
// log, the node's. Thread-safe reads; LevelDB's own consistency.
#ifndef IDV_STORE_LEVELDB_LOG_STORAGE_H_
#define IDV_STORE_LEVELDB_LOG_STORAGE_H_

#include <leveldb/db.h>

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

// The log's state after its last record and checkpoint.
absl::StatusOr<LogState> RecoverLog(leveldb::DB* db);

// Schema 1 chained records with BLAKE2b; schema 2 is the Merkle log. Computes the leaf and stored
// hashes of every record written under schema 1, in batches, then marks the schema 2.
absl::Status MigrateToMerkle(leveldb::DB* db);

absl::StatusOr<std::vector<StoredRecord>> ReadRecords(leveldb::DB* db, uint64_t first,
                                                      size_t limit);
absl::StatusOr<std::vector<StoredRecord>> ReadRecordsBackward(leveldb::DB* db, uint64_t before,
                                                              size_t limit);
absl::StatusOr<std::vector<idv::store::v1::Checkpoint>> ReadCheckpoints(leveldb::DB* db,
                                                                        size_t limit);

}  // namespace idv::store::ldb

#endif  // IDV_STORE_LEVELDB_LOG_STORAGE_H_
