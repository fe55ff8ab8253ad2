// The embedded Store: one LevelDB database in a local directory, for one node.
//
// Writes go through a single writer thread that gathers every commit queued while the previous
// write was syncing into one WriteBatch, writes it with sync=true, and only then runs the commits'
// callbacks (group commit): many concurrent verifications cost one fsync. Binding decisions are
// made on that thread, against the database plus the batch being built, so they are serialized
// without any lock held by request threads. Reads run on a small pool of reader threads.
//
// Key layout (all integers big-endian so keys sort in numeric order):
//   m/schema                     schema version ("2"; "1" is migrated on open)
//   a/<seq u64>                  AuditEntry (the record's bytes and Merkle leaf hash)
//   h/<index u64>                a stored Merkle hash (audit/log.h layout)
//   k/<size u64>                 Checkpoint
//   v/<verification id>          <seq u64>
//   b/<tenant>\0<ver u32><fp>    IdentityBindings
//   r/<tenant>\0<account id>     AccountBinding
//   c/<client id>                ClientRecord
//   g/<version u64>              ConfigVersion
//   q/<verification id>          RecheckEntry
//
// One process owns the directory (LevelDB's lock), so change notifications are delivered in
// process, after the write, and every re-check entry is this node's.
#ifndef IDV_STORE_LEVELDB_LEVELDB_STORE_H_
#define IDV_STORE_LEVELDB_LEVELDB_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "store/audit_log.h"
#include "store/store.h"

namespace leveldb {
class Env;
}

namespace idv::store {

struct LevelDbStoreOptions {
  // The database lives in "<data_dir>/db" unless `path` is set; created when missing. One of
  // the two is required.
  std::string data_dir;
  std::string path;
  // Written into every audit record (AuditRecord.node_id). Default "local".
  std::string node_id = "local";
  // When and how the writer signs checkpoints of the log. Default: none.
  CheckpointPolicy checkpoints;
  // Most commits gathered into one synced write. Default 1024.
  uint32_t max_group_commit = 1024;
  // LevelDB block cache, in MiB. Default 64.
  uint32_t block_cache_mib = 64;
  // LevelDB memtable, in MiB (LevelDB's own default is 4). Default 32.
  uint32_t write_buffer_mib = 32;
  // Threads serving reads. Default 2.
  int reader_threads = 2;
  // File system access; nullptr for the real one. Tests inject faults through it. Not owned.
  leveldb::Env* env = nullptr;
  // Called once, on the writer thread, when a failed write makes the store stop accepting
  // commits (see Store::CommitVerification). Must not block. Optional.
  std::function<void(const absl::Status&)> on_write_failure;
};

absl::StatusOr<std::unique_ptr<Store>> OpenLevelDbStore(const LevelDbStoreOptions& options);

}  // namespace idv::store

#endif  // IDV_STORE_LEVELDB_LEVELDB_STORE_H_
