// idvd: the idv verification server.
//
//   idvd --config config/demo.textproto [--listen HOST:PORT] [--data_dir DIR] [--node_id ID]
//
// Logs "listening on HOST:PORT" once it serves. SIGTERM or SIGINT: stop accepting calls, finish
// the ones in flight, flush and close the store, exit 0.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "services/logging.h"
#include "services/server.h"

ABSL_FLAG(std::string, config, "", "text-format idv.config.v1.ServerConfig file");
ABSL_FLAG(std::string, listen, "",
          "HOST:PORT to serve on (overrides the config); port 0 picks one");
ABSL_FLAG(std::string, data_dir, "", "data directory (overrides the config)");
ABSL_FLAG(std::string, node_id, "", "this node's id in the audit trail (overrides store.node_id)");
ABSL_FLAG(int32_t, shutdown_grace_seconds, 10, "how long in-flight calls may take at shutdown");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("idv verification server");
  absl::ParseCommandLine(argc, argv);
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
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    absl::StatusOr<idv::config::v1::ServerConfig> loaded = idv::services::LoadConfig(path);
    if (!loaded.ok()) {
      spdlog::error("config: {}", std::string(loaded.status().message()));
      return 2;
    }
    config = *std::move(loaded);
  }
  idv::services::ConfigureLogging(config.logging());
  if (const std::string v = absl::GetFlag(FLAGS_listen); !v.empty()) config.set_listen(v);
  if (const std::string v = absl::GetFlag(FLAGS_data_dir); !v.empty()) config.set_data_dir(v);
  if (const std::string v = absl::GetFlag(FLAGS_node_id); !v.empty()) {
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
  (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  spdlog::info("stopped");
  return 0;
}
