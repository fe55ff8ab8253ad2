// Opens the Store engine a StoreConfig names: LevelDB (the embedded default) or PostgreSQL.
#ifndef IDV_STORE_OPEN_H_
#define IDV_STORE_OPEN_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "idv/config/v1/config.pb.h"
#include "store/audit_log.h"
#include "store/store.h"

namespace idv::store {

struct OpenOptions {
  // The server's data directory: LevelDB's database is "<data_dir>/db" unless the config names
  // another path.
  std::string data_dir;
  // Called when the store stops or resumes serving writes (serving=false with the reason).
  // LevelDB stops for good after a failed write; PostgreSQL stops while the database is
  // unreachable and resumes by itself. Runs on a store thread; must not block. Optional.
  std::function<void(bool serving, const absl::Status& why)> on_health;
  // When and how the node's audit log is checkpointed (signed by the caller's key).
  CheckpointPolicy checkpoints;
};

// The node id to use when the config names none: the host name.
std::string DefaultNodeId();

// Checks `config` (one engine, well-formed node id, required fields) and opens the engine.
// Blocks until it is ready (start-up only): PostgreSQL connects, migrates the schema and takes
// this node's lease.
absl::StatusOr<std::unique_ptr<Store>> Open(const idv::config::v1::StoreConfig& config,
                                            const OpenOptions& options);

}  // namespace idv::store

#endif  // IDV_STORE_OPEN_H_
