// idv-registry-sim: a VerifierPlugin server that plays an authority.
//
// It holds a deterministic synthetic population (population.h) and answers MATCH, MISMATCH or
// NOT_FOUND for resident ID claims: as a population registry (number + name), or with
// --mode=carrier as a carrier's three-element check (mobile number + name + number, saying which
// elements differ), or with --mode=advisory as a registry whose Describe says its matches are
// not authoritative (a commercial lookup, say). Faults (latency distributions, errors, outages, a
// rate limit, PENDING answers) come from flags and can be changed while it runs through
// SimulatorControl.SetFaults; SimulatorControl.GetStats counts what it received.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "common/files.h"
#include "verifiers/registry_sim/sim_service.h"

namespace idv::sim {
namespace {

// Command-line options (`idv-registry-sim --help` lists them).
struct Options {
  std::string listen = "127.0.0.1:7600";
  std::string mode = "registry";
  uint64_t population = 10000;
  uint64_t seed = 1;
  std::string export_csv = "";
  uint32_t latency_ms = 0;
  std::string latency = "";
  double error_rate = 0.0;
  uint32_t rate_limit = 0;
  double pending_rate = 0.0;
  std::string tls_cert = "";
  std::string tls_key = "";
  std::string client_ca = "";
};

Options opt;

absl::StatusOr<idv::sim::v1::Faults> FaultsFromFlags() {
  idv::sim::v1::Faults f;
  f.mutable_latency()->set_median_ms(opt.latency_ms);
  if (const std::string spec = opt.latency; !spec.empty()) {
    absl::StatusOr<idv::sim::v1::Latency> l = ParseLatency(spec);
    if (!l.ok()) return l.status();
    *f.mutable_latency() = *l;
  }
  f.set_error_rate(opt.error_rate);
  f.set_rate_limit_per_s(opt.rate_limit);
  f.set_pending_rate(opt.pending_rate);
  if (absl::Status s = FaultModel::Validate(f); !s.ok()) return s;
  return f;
}

int Main() {
  absl::StatusOr<idv::sim::v1::Faults> faults = FaultsFromFlags();
  if (!faults.ok()) {
    spdlog::error("{}", std::string(faults.status().message()));
    return 2;
  }
  const std::string mode_flag = opt.mode;
  if (mode_flag != "registry" && mode_flag != "carrier" && mode_flag != "advisory") {
    spdlog::error("--mode is registry, carrier or advisory");
    return 2;
  }
  const Mode mode = mode_flag == "carrier"    ? Mode::kCarrier
                    : mode_flag == "advisory" ? Mode::kAdvisory
                                              : Mode::kRegistry;
  Population population = Population::Generate(opt.population, opt.seed);
  if (const std::string csv = opt.export_csv; !csv.empty()) {
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
  const std::string listen = opt.listen;
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (!opt.tls_cert.empty()) {
    absl::StatusOr<std::string> cert = ReadFile(opt.tls_cert);
    absl::StatusOr<std::string> key = ReadFile(opt.tls_key);
    absl::StatusOr<std::string> ca =
        opt.client_ca.empty() ? absl::StatusOr<std::string>("") : ReadFile(opt.client_ca);
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
               opt.seed, faults->ShortDebugString());
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
  using idv::sim::opt;
  CLI::App app{
      "idv-registry-sim: a VerifierPlugin server that plays an authority (a population "
      "registry, or a carrier's three-element check), with faults for tests.",
      "idv-registry-sim"};
  app.set_version_flag("--version", "idv-registry-sim " IDV_VERSION " (build " IDV_BUILD ")");
  app.add_option("--listen", opt.listen, "HOST:PORT to serve on; port 0 picks one")
      ->capture_default_str();
  app.add_option("--mode", opt.mode,
                 "registry, carrier (three-element checks), or advisory (a registry whose "
                 "Describe says it is not authoritative)")
      ->capture_default_str();
  app.add_option("--population", opt.population, "number of synthetic people")
      ->capture_default_str();
  app.add_option("--seed", opt.seed, "population seed")->capture_default_str();
  app.add_option("--export_csv,--export-csv", opt.export_csv,
                 "write the population to this CSV file and go on")
      ->capture_default_str();
  app.add_option("--latency_ms,--latency-ms", opt.latency_ms,
                 "fixed delay before every answer, in milliseconds")
      ->capture_default_str();
  app.add_option("--latency", opt.latency,
                 "latency distribution: fixed:MS, uniform:MIN:MAX or lognormal:MEDIAN:SIGMA "
                 "(overrides --latency_ms)")
      ->capture_default_str();
  app.add_option("--error_rate,--error-rate", opt.error_rate,
                 "fraction of checks failed with UNAVAILABLE (0 to 1)")
      ->capture_default_str();
  app.add_option("--rate_limit,--rate-limit", opt.rate_limit,
                 "checks answered per second; more get RESOURCE_EXHAUSTED")
      ->capture_default_str();
  app.add_option("--pending_rate,--pending-rate", opt.pending_rate,
                 "fraction of first checks of a number answered PENDING")
      ->capture_default_str();
  app.add_option("--tls_cert,--tls-cert", opt.tls_cert,
                 "serve TLS with this PEM certificate chain (and --tls_key)")
      ->capture_default_str();
  app.add_option("--tls_key,--tls-key", opt.tls_key, "PEM private key of --tls_cert")
      ->capture_default_str();
  app.add_option("--client_ca,--client-ca", opt.client_ca,
                 "with TLS: require a client certificate issued by this PEM CA (mutual TLS)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return idv::sim::Main();
}
