// idvd: the idv verification server.
//
//   idvd --config config/demo.textproto [--listen HOST:PORT] [--data_dir DIR] [--node_id ID]
//
// Logs "listening on HOST:PORT" once it serves. SIGTERM or SIGINT: stop accepting calls, finish
// the ones in flight, flush and close the store, exit 0.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "absl/synchronization/mutex.h"
#include "services/logging.h"
#include "services/server.h"

namespace {

// Command-line options (`idvd --help` lists them).
struct Options {
  std::string config = "";
  std::string listen = "";
  std::string data_dir = "";
  std::string node_id = "";
  int32_t shutdown_grace_seconds = 10;
};

Options opt;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "idvd: the idv verification server (VerificationService, AdminService, "
      "AuditService over gRPC; metrics and health over HTTP). SIGTERM or SIGINT: stop "
      "accepting calls, finish those in flight, flush and close the store, exit 0.",
      "idvd"};
  app.set_version_flag("--version", "idvd " IDV_VERSION " (build " IDV_BUILD ")");
  app.add_option("--config", opt.config, "text-format idv.config.v1.ServerConfig file")
      ->capture_default_str();
  app.add_option("--listen", opt.listen,
                 "HOST:PORT to serve on (overrides the config); port 0 picks one")
      ->capture_default_str();
  app.add_option("--data_dir,--data-dir", opt.data_dir, "data directory (overrides the config)")
      ->capture_default_str();
  app.add_option("--node_id,--node-id", opt.node_id,
                 "this node's id in the audit trail (overrides store.node_id)")
      ->capture_default_str();
  app.add_option("--shutdown_grace_seconds,--shutdown-grace-seconds", opt.shutdown_grace_seconds,
                 "how long in-flight calls may take at shutdown")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // Debian's Abseil keeps mutex deadlock detection on; it costs a graph update per lock in gRPC's
  // hot paths. idv's own code does not use absl::Mutex.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ idvd: %v");

  // Every thread inherits this mask, so the signals reach only the sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  idv::config::v1::ServerConfig config;
  if (const std::string path = opt.config; !path.empty()) {
    absl::StatusOr<idv::config::v1::ServerConfig> loaded = idv::services::LoadConfig(path);
    if (!loaded.ok()) {
      spdlog::error("config: {}", std::string(loaded.status().message()));
      return 2;
    }
    config = *std::move(loaded);
  }
  idv::services::ConfigureLogging(config.logging());
  if (const std::string v = opt.listen; !v.empty()) config.set_listen(v);
  if (const std::string v = opt.data_dir; !v.empty()) config.set_data_dir(v);
  if (const std::string v = opt.node_id; !v.empty()) {
    config.mutable_store()->set_node_id(v);
  }

  absl::StatusOr<std::unique_ptr<idv::services::Server>> server =
      idv::services::Server::Start(config);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", std::string(server.status().message()));
    return 1;
  }
  if ((*server)->created_admin_key()) {
    spdlog::info("first start: admin API key written to {} (mode 0600)",
                 (*server)->admin_key_path());
  }
  spdlog::info("listening on {}", (*server)->address());

  // Memory freed after a burst (a storm of calls, hundreds of connections gone) stays with
  // glibc's arenas unless given back: every few seconds the free pages go back to the kernel.
  int sig = -1;
  const timespec every{5, 0};
  while (sig < 0) {
    sig = sigtimedwait(&stop_signals, nullptr, &every);
    if (sig < 0) malloc_trim(0);
  }
  spdlog::info("signal {}: draining", sig);
  (*server)->Shutdown(absl::Seconds(opt.shutdown_grace_seconds));
  spdlog::info("stopped");
  return 0;
}
