// Connections of the PostgreSQL engine beyond the writer's: the readers' pool, the listener's
// connection, and taking the node lease at start-up.
#ifndef IDV_STORE_POSTGRES_CONNECTIONS_H_
#define IDV_STORE_POSTGRES_CONNECTIONS_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/postgres/pg.h"
#include "store/postgres/postgres_store.h"

namespace idv::store::pg {

// A connection that LISTENs on idv_changes.
absl::StatusOr<std::unique_ptr<Conn>> ConnectListening(const std::string& dsn);

// Whether the server has sent anything to an idle connection, or closed it: a connection in
// use between statements has nothing to read, so input there means the server is gone (it sends
// its last error and closes the socket when it shuts down).
bool ClosedWhileIdle(Conn& conn);

// Reader connections: taken by one read at a time, made on demand, dropped when broken.
class ConnPool {
 public:
  explicit ConnPool(std::string dsn) : dsn_(std::move(dsn)) {}

  // Runs `fn` on an idle connection, or a new one. An idle connection the server has closed
  // meanwhile (a restart) is dropped unused: libpq would find out only by failing `fn`, so every
  // idle connection would fail one caller after the database is back.
  template <typename T>
  absl::StatusOr<T> With(const std::function<absl::StatusOr<T>(Conn&)>& fn) {
    std::unique_ptr<Conn> conn;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (free_.empty()) break;
        conn = std::move(free_.back());
        free_.pop_back();
      }
      if (!ClosedWhileIdle(*conn)) break;
      conn.reset();
    }
    if (conn == nullptr) {
      absl::StatusOr<std::unique_ptr<Conn>> made = Conn::Connect(dsn_);
      if (!made.ok()) return made.status();
      conn = *std::move(made);
    }
    absl::StatusOr<T> result = fn(*conn);
    if (conn->ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      free_.push_back(std::move(conn));
    }
    return result;
  }

 private:
  const std::string dsn_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> free_;  // guarded by mu_
};

// Takes `o.node_id`'s lease for `owner`: free, expired, or already `owner`'s. Waits up to
// `o.lease_wait` (default node_lease + 5 s) for a live one to expire; FailedPrecondition then.
absl::Status AcquireNodeLease(Conn& conn, const PostgresStoreOptions& o, const std::string& owner);

}  // namespace idv::store::pg

#endif  // IDV_STORE_POSTGRES_CONNECTIONS_H_
