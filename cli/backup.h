// `idvctl backup create NAME | verify FILE | restore FILE --data_dir DIR`: encrypted backups of a
// LevelDB store (store/backup.h). `create` asks idvd (AdminService.CreateBackup) for a snapshot
// while it serves; `verify` and `restore` work offline with the master key file.
#ifndef IDV_CLI_BACKUP_H_
#define IDV_CLI_BACKUP_H_

#include <string>
#include <vector>

#include "cli/admin.h"

namespace idv::cli {

struct BackupOptions {
  // verify, restore: the master key file the backup was made under.
  std::string master_key_file;
  // restore: the data directory to restore into (its "db" must not exist or be empty).
  std::string data_dir;
};

int RunBackup(const AdminContext& ctx, const BackupOptions& options,
              const std::vector<std::string>& args);

}  // namespace idv::cli

#endif  // IDV_CLI_BACKUP_H_
