#include "store/open.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "store/leveldb/leveldb_store.h"
#include "store/postgres/postgres_store.h"

namespace idv::store {
namespace {

bool IsValidNodeId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Store>> OpenLevelDb(const idv::config::v1::StoreConfig& c,
                                                   const std::string& node_id,
                                                   const OpenOptions& options) {
  LevelDbStoreOptions o;
  o.data_dir = options.data_dir;
  o.path = c.leveldb().path();
  o.node_id = node_id;
  if (c.max_group_commit() > 0) o.max_group_commit = c.max_group_commit();
  if (c.leveldb().block_cache_mib() > 0) {
    o.block_cache_mib = c.leveldb().block_cache_mib();
  } else if (c.block_cache_mib() > 0) {
    o.block_cache_mib = c.block_cache_mib();
  }
  if (c.leveldb().write_buffer_mib() > 0) o.write_buffer_mib = c.leveldb().write_buffer_mib();
  o.checkpoints = options.checkpoints;
  if (options.on_health) {
    o.on_write_failure = [f = options.on_health](const absl::Status& s) { f(false, s); };
  }
  return OpenLevelDbStore(o);
}

absl::StatusOr<std::unique_ptr<Store>> OpenPostgres(const idv::config::v1::StoreConfig& c,
                                                    const std::string& node_id,
                                                    const OpenOptions& options) {
  const idv::config::v1::PostgresStoreConfig& pc = c.postgres();
  PostgresStoreOptions o;
  o.dsn = pc.dsn();
  o.node_id = node_id;
  if (c.max_group_commit() > 0) o.max_group_commit = c.max_group_commit();
  if (pc.pool_size() > 0) o.pool_size = static_cast<int>(pc.pool_size());
  if (pc.has_node_lease()) o.node_lease = FromProto(pc.node_lease());
  if (pc.has_recheck_lease()) o.recheck_lease = FromProto(pc.recheck_lease());
  if (pc.max_attempts() > 0) o.max_attempts = static_cast<int>(pc.max_attempts());
  o.on_health = options.on_health;
  o.checkpoints = options.checkpoints;
  return OpenPostgresStore(o);
}

}  // namespace

std::string DefaultNodeId() {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "local";
  std::string id(host);
  for (char& c : id) {
    if (!IsValidNodeId(std::string(1, c))) c = '-';
  }
  return id.substr(0, 64);
}

absl::StatusOr<std::unique_ptr<Store>> Open(const idv::config::v1::StoreConfig& config,
                                            const OpenOptions& options) {
  const std::string node_id = config.node_id().empty() ? DefaultNodeId() : config.node_id();
  if (!IsValidNodeId(node_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("store.node_id \"", node_id, "\" must be 1 to 64 of [A-Za-z0-9_.-]"));
  }
  switch (config.engine_case()) {
    case idv::config::v1::StoreConfig::kPostgres:
      return OpenPostgres(config, node_id, options);
    case idv::config::v1::StoreConfig::kLeveldb:
    case idv::config::v1::StoreConfig::ENGINE_NOT_SET:
      return OpenLevelDb(config, node_id, options);
  }
  return absl::InvalidArgumentError("unknown store engine");
}

}  // namespace idv::store
