#include "tests/support/postgres_server.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace idv::testing {
namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";

// argv prefixed to run as the `postgres` user when we are root (initdb and postgres refuse root).
// setpriv execs in place, so the PID started is the server's own.
std::vector<std::string> AsServerUser(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                                  "--clear-groups", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

absl::Status RunToEnd(const std::vector<std::string>& argv) {
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start(argv);
  if (!p.ok()) return p.status();
  const int status = (*p)->Wait();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " failed: ", (*p)->Output()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  char tmpl[] = "/tmp/idv-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  s->dir_ = tmpl;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr)
      return absl::FailedPreconditionError("no postgres user (apt install postgresql)");
    if (::chown(tmpl, pw->pw_uid, pw->pw_gid) != 0) return absl::InternalError("chown failed");
  }
  if (absl::Status st =
          RunToEnd(AsServerUser({absl::StrCat(kBin, "initdb"), "-D", s->dir_ + "/db", "-U", "idv",
                                 "--auth=trust", "--locale=C", "-E", "UTF8", "--no-instructions"}));
      !st.ok()) {
    return st;
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    s->port_ = FreePort();
    if (s->Launch().ok()) return s;
  }
  return absl::UnavailableError(absl::StrCat("PostgreSQL did not start: ", s->Output()));
}

absl::Status PostgresServer::Launch() {
  if (process_ != nullptr) earlier_output_ += process_->Output();
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start(AsServerUser(
      {absl::StrCat(kBin, "postgres"), "-D", dir_ + "/db", "-c", "listen_addresses=127.0.0.1", "-p",
       std::to_string(port_), "-c", "unix_socket_directories=", "-c", "max_connections=200", "-c",
       "shared_buffers=64MB",
       // As README "Deleting data on PostgreSQL" asks: a WAL segment no longer needed is removed,
       // not renamed for reuse with its old contents.
       "-c", "wal_recycle=off"}));
  if (!p.ok()) return p.status();
  process_ = *std::move(p);
  // Ready when it answers a ping; give up when it exits (a port taken) or after 30 s.
  const std::string dsn = Dsn();
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (absl::Now() < give_up && process_->running()) {
    if (PQping(dsn.c_str()) == PQPING_OK) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling for readiness
  }
  return absl::UnavailableError(absl::StrCat("PostgreSQL did not become ready: ", Output()));
}

PostgresServer::~PostgresServer() {
  (void)Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PostgresServer::Dsn(const std::string& db) const {
  return absl::StrCat("host=127.0.0.1 port=", port_, " user=idv dbname=", db);
}

std::string PostgresServer::Output() const {
  return earlier_output_ + (process_ != nullptr ? process_->Output() : "");
}

absl::StatusOr<std::string> PostgresServer::CreateDatabase(const std::string& name) {
  absl::StatusOr<std::string> r = QueryValue("postgres", "CREATE DATABASE " + name);
  if (!r.ok()) return r.status();
  return Dsn(name);
}

absl::StatusOr<std::string> PostgresServer::QueryValue(const std::string& db,
                                                       const std::string& sql) {
  PGconn* c = PQconnectdb(Dsn(db).c_str());
  absl::StatusOr<std::string> out = std::string();
  if (PQstatus(c) != CONNECTION_OK) {
    out = absl::UnavailableError(PQerrorMessage(c));
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      out = absl::InternalError(PQresultErrorMessage(r));
    } else if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = std::string(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
  }
  PQfinish(c);
  return out;
}

absl::Status PostgresServer::Stop() {
  if (!running()) return absl::OkStatus();
  process_->Signal(SIGINT);  // fast shutdown: roll back open transactions, disconnect, checkpoint
  process_->Wait();
  return absl::OkStatus();
}

absl::Status PostgresServer::Restart() {
  if (absl::Status s = Stop(); !s.ok()) return s;
  return Launch();
}

}  // namespace idv::testing
