// Encrypted backups of a LevelDB store (`idvctl backup create|verify|restore`).
//
// A backup is every key and value of the store from one LevelDB snapshot (taken while idvd
// serves: commits go on and are simply not in it), written through crypto/backup_stream.h under
// the key ring's backup key: without the master key a backup reveals nothing, and a truncated,
// reordered, altered or foreign file is refused. The master key file is never in a backup.
// PostgreSQL is backed up with its own tools (README "Backups").
#ifndef IDV_STORE_BACKUP_H_
#define IDV_STORE_BACKUP_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/keyring.h"
#include "idv/store/v1/store.pb.h"
#include "store/store.h"

namespace idv::store {

struct BackupSummary {
  idv::store::v1::BackupManifest manifest;
  idv::store::v1::BackupTrailer trailer;
  uint64_t file_bytes = 0;
};

// Writes a backup of `store` to `path`, which must not exist: first to "<path>.partial", synced,
// then renamed. AlreadyExists when `path` exists; nothing is left behind on failure.
absl::StatusOr<BackupSummary> CreateBackup(Store& store, const crypto::KeyRing& keys,
                                           const std::string& node_id, const std::string& path);

// Reads and authenticates the whole backup at `path`, and checks it against its trailer.
// Writes nothing.
absl::StatusOr<BackupSummary> VerifyBackup(const crypto::KeyRing& keys, const std::string& path);

// Restores the backup at `path` as a new LevelDB database at `db_path`, which must not exist
// (or be an empty directory). The pairs go to "<db_path>.restoring", which becomes `db_path`
// only once the whole file authenticated and matched its trailer; on any failure it is removed
// and nothing is left at `db_path`.
absl::StatusOr<BackupSummary> RestoreBackup(const crypto::KeyRing& keys, const std::string& path,
                                            const std::string& db_path);

// The key version the backup at `path` was made under (from its unauthenticated header), so the
// caller can build a key ring that has it.
absl::StatusOr<uint32_t> BackupKeyVersion(const std::string& path);

}  // namespace idv::store

#endif  // IDV_STORE_BACKUP_H_
