// idv-registry-sim: a VerifierPlugin server that plays an authority.
//
// It holds a deterministic synthetic population (population.h) and answers MATCH, MISMATCH or
// NOT_FOUND for resident ID claims: as a population registry (number + name), or with
// --mode=carrier as a carrier's three-element check (mobile number + name + number, saying which
// elements differ). Faults (latency distributions, errors, outages, a rate limit, PENDING answers)
// come from flags and can be changed while it runs through SimulatorControl.SetFaults;
// SimulatorControl.GetStats counts what it received.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/files.h"
#include "verifiers/registry_sim/sim_service.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7600", "HOST:PORT to serve on; port 0 picks one");
ABSL_FLAG(std::string, mode, "registry", "registry, or carrier (three-element checks)");
ABSL_FLAG(uint64_t, population, 10000, "number of synthetic people");
ABSL_FLAG(uint64_t, seed, 1, "population seed");
ABSL_FLAG(std::string, export_csv, "", "write the population to this CSV file and go on");
ABSL_FLAG(uint32_t, latency_ms, 0, "fixed delay before every answer, in milliseconds");
ABSL_FLAG(std::string, latency, "",
          "latency distribution: fixed:MS, uniform:MIN:MAX or lognormal:MEDIAN:SIGMA "
          "(overrides --latency_ms)");
ABSL_FLAG(double, error_rate, 0.0, "fraction of checks failed with UNAVAILABLE (0 to 1)");
ABSL_FLAG(uint32_t, rate_limit, 0, "checks answered per second; more get RESOURCE_EXHAUSTED");
ABSL_FLAG(double, pending_rate, 0.0, "fraction of first checks of a number answered PENDING");
ABSL_FLAG(std::string, tls_cert, "", "serve TLS with this PEM certificate chain (and --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, client_ca, "",
          "with TLS: require a client certificate issued by this PEM CA (mutual TLS)");

namespace idv::sim {
namespace {

absl::StatusOr<idv::sim::v1::Faults> FaultsFromFlags() {
  idv::sim::v1::Faults f;
  f.mutable_latency()->set_median_ms(absl::GetFlag(FLAGS_latency_ms));
  if (const std::string spec = absl::GetFlag(FLAGS_latency); !spec.empty()) {
    absl::StatusOr<idv::sim::v1::Latency> l = ParseLatency(spec);
    if (!l.ok()) return l.status();
    *f.mutable_latency() = *l;
  }
  f.set_error_rate(absl::GetFlag(FLAGS_error_rate));
  f.set_rate_limit_per_s(absl::GetFlag(FLAGS_rate_limit));
  f.set_pending_rate(absl::GetFlag(FLAGS_pending_rate));
  if (absl::Status s = FaultModel::Validate(f); !s.ok()) return s;
  return f;
}

int Main() {
  absl::StatusOr<idv::sim::v1::Faults> faults = FaultsFromFlags();
  if (!faults.ok()) {
    spdlog::error("{}", std::string(faults.status().message()));
    return 2;
  }
  const std::string mode_flag = absl::GetFlag(FLAGS_mode);
  if (mode_flag != "registry" && mode_flag != "carrier") {
    spdlog::error("--mode is registry or carrier");
    return 2;
  }
  const Mode mode = mode_flag == "carrier" ? Mode::kCarrier : Mode::kRegistry;
  Population population =
      Population::Generate(absl::GetFlag(FLAGS_population), absl::GetFlag(FLAGS_seed));
  if (const std::string csv = absl::GetFlag(FLAGS_export_csv); !csv.empty()) {
    if (absl::Status s = population.ExportCsv(csv); !s.ok()) {
      spdlog::error("{}", std::string(s.message()));
      return 1;
    }
  }
  FaultModel fault_model(*faults);
  Counters counters;
  Delayer delayer;
  PluginService plugin(population, mode, fault_model, counters, delayer);
  ControlService control(population, fault_model, counters);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any gRPC thread starts

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!absl::GetFlag(FLAGS_tls_cert).empty()) {
    absl::StatusOr<std::string> cert = ReadFile(absl::GetFlag(FLAGS_tls_cert));
    absl::StatusOr<std::string> key = ReadFile(absl::GetFlag(FLAGS_tls_key));
    absl::StatusOr<std::string> ca = absl::GetFlag(FLAGS_client_ca).empty()
                                         ? absl::StatusOr<std::string>("")
                                         : ReadFile(absl::GetFlag(FLAGS_client_ca));
    for (const absl::Status& s : {cert.status(), key.status(), ca.status()}) {
      if (!s.ok()) {
        spdlog::error("{}", std::string(s.message()));
        return 2;
      }
    }
    grpc::SslServerCredentialsOptions ssl(
        ca->empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                    : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    ssl.pem_root_certs = *ca;
    creds = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(listen, creds, &port);
  builder.RegisterService(&plugin);
  builder.RegisterService(&control);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::error("cannot listen on {}", listen);
    return 1;
  }
  spdlog::info("{} mode, population {} (seed {}), faults: {}", mode_flag, population.size(),
               absl::GetFlag(FLAGS_seed), faults->ShortDebugString());
  spdlog::info("listening on {}:{}", listen.substr(0, listen.rfind(':')), port);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace
}  // namespace idv::sim

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return idv::sim::Main();
}
