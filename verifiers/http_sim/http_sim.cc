#include "verifiers/http_sim/http_sim.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace idv::sim {

int ServeUntilSignalled(CivetHandler& handler, const std::string& listen, unsigned threads,
                        const std::string& banner, const std::function<void()>& on_stop) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before the server's threads start
  const std::vector<std::string> options = {
      "listening_ports",   listen, "num_threads", std::to_string(threads),
      "enable_keep_alive", "yes",  "tcp_nodelay", "1"};
  std::unique_ptr<CivetServer> server;
  try {
    server = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    spdlog::error("cannot listen on {}: {}", listen, e.what());
    return 1;
  }
  server->addHandler("/", handler);
  const std::vector<int> ports = server->getListeningPorts();
  if (ports.empty()) {
    spdlog::error("cannot listen on {}", listen);
    return 1;
  }
  spdlog::info("{}", banner);
  spdlog::info("listening on {}:{}", listen.substr(0, listen.rfind(':')), ports[0]);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  if (on_stop) on_stop();
  server->close();
  return 0;
}

std::string ReadBody(mg_connection* c) {
  std::string body;
  char buf[4096];
  int n;
  while ((n = mg_read(c, buf, sizeof buf)) > 0 && body.size() < (1 << 16)) {
    body.append(buf, static_cast<size_t>(n));
  }
  return body;
}

bool ReplyJson(mg_connection* c, int status, const std::string& body) {
  const std::string out = absl::StrCat(
      "HTTP/1.1 ", status, " ", mg_get_response_code_text(c, status),
      "\r\nContent-Type: application/json;charset=utf-8\r\nContent-Length: ", body.size(),
      "\r\n\r\n", body);
  mg_write(c, out.data(), out.size());
  return true;
}

}  // namespace idv::sim
