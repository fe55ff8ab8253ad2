// Test helper: a real PostgreSQL server (Debian's postgresql-15) of the test's own, initdb'd into
// a fresh temporary directory, listening on 127.0.0.1 only (no Unix socket), run as the
// unprivileged `postgres` user when the test runs as root, and stopped by its PID.
#ifndef IDV_TESTS_SUPPORT_POSTGRES_SERVER_H_
#define IDV_TESTS_SUPPORT_POSTGRES_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/support/process.h"

namespace idv::testing {

class PostgresServer {
 public:
  // initdb, start, wait until it accepts connections.
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start();
  // Stops the server (fast shutdown) and removes its directory.
  ~PostgresServer();

  // A libpq connection string for database `db`.
  std::string Dsn(const std::string& db = "postgres") const;
  // Creates database `name` and returns its connection string.
  absl::StatusOr<std::string> CreateDatabase(const std::string& name);
  // The first column of the first row of `sql` in database `db`, as text ("" for no row).
  absl::StatusOr<std::string> QueryValue(const std::string& db, const std::string& sql);

  // Fast shutdown (SIGINT to the postmaster's PID) and wait for it to exit.
  absl::Status Stop();
  // Starts the server again on the same directory and port; waits until it accepts connections.
  absl::Status Restart();
  bool running() const { return process_ != nullptr && process_->running(); }
  int port() const { return port_; }
  // The database cluster's directory (owned by the server's user).
  std::string data_dir() const { return dir_ + "/db"; }
  std::string Output() const;

 private:
  PostgresServer() = default;
  absl::Status Launch();

  std::string dir_;  // removed on destruction
  int port_ = 0;
  std::unique_ptr<Process> process_;
  std::string earlier_output_;
};

}  // namespace idv::testing

#endif  // IDV_TESTS_SUPPORT_POSTGRES_SERVER_H_
