// Assembles idvd: configuration, keys, store, backends, services and the gRPC server.
//
// Start() brings every component up in dependency order and fails with a clear status when any
// of them cannot start (no master key, unreadable database, bad backend config, port taken).
// Shutdown() stops accepting calls, lets in-flight calls finish (up to a grace period), then
// flushes and closes the store. Not copyable; Shutdown is thread-safe and idempotent.
#ifndef IDV_SERVICES_SERVER_H_
#define IDV_SERVICES_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/keyring.h"
#include "idv/config/v1/config.pb.h"
#include "store/store.h"

namespace idv::services {

// Reads a text-format ServerConfig. InvalidArgument names the line of a syntax error.
absl::StatusOr<idv::config::v1::ServerConfig> LoadConfig(const std::string& path);

// Fills unset fields with their documented defaults.
void ApplyDefaults(idv::config::v1::ServerConfig& config);

// The key ring and the store a configuration names, opened as idvd opens them (same keys, same
// checkpoint signing), for tools that work on a data directory while idvd is not running on it.
// The store is declared last: it is closed before the keys that sign its checkpoints go.
struct KeysAndStore {
  std::unique_ptr<crypto::KeyRing> keys;
  std::unique_ptr<store::Store> store;
};
absl::StatusOr<KeysAndStore> OpenKeysAndStore(idv::config::v1::ServerConfig config);

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(idv::config::v1::ServerConfig config);
  ~Server();

  // "HOST:PORT" actually bound (the real port when the config said 0).
  const std::string& address() const;
  // Path of the bootstrap admin key file, and whether this start created it.
  const std::string& admin_key_path() const;
  bool created_admin_key() const;

  void Shutdown(absl::Duration grace);

 private:
  struct Parts;
  explicit Server(std::unique_ptr<Parts> parts);
  static void Subscribe(Parts& parts);
  static absl::Status StartMetrics(Parts& parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_SERVER_H_
