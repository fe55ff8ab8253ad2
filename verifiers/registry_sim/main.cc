// idv-registry-sim: a VerifierPlugin server that plays a population registry.
//
// It holds a deterministic synthetic population (see population.h) and answers MATCH, MISMATCH
// (name differs) or NOT_FOUND for resident ID claims. Knobs make it slow (--latency_ms) or flaky
// (--error_rate); SimulatorControl.GetStats counts what it received so tests can assert on it.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <queue>
#include <random>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "idv/plugin/v1/plugin.grpc.pb.h"
#include "idv/sim/v1/sim.grpc.pb.h"
#include "verifiers/registry_sim/population.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7600", "HOST:PORT to serve on; port 0 picks one");
ABSL_FLAG(uint64_t, population, 10000, "number of synthetic people");
ABSL_FLAG(uint64_t, seed, 1, "population seed");
ABSL_FLAG(std::string, export_csv, "", "write the population to this CSV file and go on");
ABSL_FLAG(uint32_t, latency_ms, 0, "delay before every answer, in milliseconds");
ABSL_FLAG(double, error_rate, 0.0, "fraction of checks failed with UNAVAILABLE (0 to 1)");

namespace idv::sim {
namespace {

using idv::plugin::v1::CheckRequest;
using idv::plugin::v1::CheckResponse;

// Finishes reactors after a delay without holding a thread per call.
class Delayer {
 public:
  Delayer() : thread_([this] { Run(); }) {}
  ~Delayer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void After(std::chrono::milliseconds delay, std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push(Item{std::chrono::steady_clock::now() + delay, seq_++, std::move(fn)});
    }
    cv_.notify_one();
  }

 private:
  struct Item {
    std::chrono::steady_clock::time_point when;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Item& o) const { return when != o.when ? when > o.when : seq > o.seq; }
  };
  // Runs each item once its time has come; on stop, runs what is left at once.
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (queue_.empty()) {
        if (stop_) return;
        cv_.wait(lock);
        continue;
      }
      const auto when = queue_.top().when;
      if (!stop_ && std::chrono::steady_clock::now() < when) {
        cv_.wait_until(lock, when);  // an earlier item or stop may wake us first
        continue;
      }
      Item item = queue_.top();
      queue_.pop();
      lock.unlock();
      item.fn();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_;
  uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

struct Counters {
  std::atomic<uint64_t> checks{0}, matches{0}, mismatches{0}, not_found{0}, errors{0};
};

class PluginService final : public idv::plugin::v1::VerifierPlugin::CallbackService {
 public:
  PluginService(const Population& population, Counters& counters, Delayer& delayer,
                uint32_t latency_ms, double error_rate)
      : population_(population),
        counters_(counters),
        delayer_(delayer),
        latency_(latency_ms),
        error_rate_(error_rate) {}

  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* ctx,
                                     const idv::plugin::v1::DescribeRequest*,
                                     idv::plugin::v1::DescribeResponse* resp) override {
    resp->set_name("idv-registry-sim");
    resp->set_version("1");
    resp->add_document_types(idv::v1::CN_RESIDENT_ID);
    resp->add_elements(idv::plugin::v1::DOCUMENT_NUMBER);
    resp->add_elements(idv::plugin::v1::FULL_NAME);
    resp->set_authoritative(true);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx, const CheckRequest* req,
                                  CheckResponse* resp) override {
    counters_.checks.fetch_add(1, std::memory_order_relaxed);
    grpc::Status status = Answer(*req, resp);
    auto* reactor = ctx->DefaultReactor();
    if (latency_.count() == 0) {
      reactor->Finish(status);
    } else {
      delayer_.After(latency_, [reactor, status] { reactor->Finish(status); });
    }
    return reactor;
  }

 private:
  bool InjectError() {
    if (error_rate_ <= 0) return false;
    thread_local std::mt19937_64 rng(std::random_device{}());
    return static_cast<double>(rng() % 1000000) / 1e6 < error_rate_;
  }

  grpc::Status Answer(const CheckRequest& req, CheckResponse* resp) {
    if (InjectError()) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "injected error");
    }
    if (req.document_type() != idv::v1::CN_RESIDENT_ID) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "only CN_RESIDENT_ID is held");
    }
    const Person* p = population_.Find(req.document_number());
    if (p == nullptr) {
      counters_.not_found.fetch_add(1, std::memory_order_relaxed);
      resp->set_verdict(idv::plugin::v1::NOT_FOUND);
      resp->set_raw_code("SIM-404");
    } else if (p->full_name != req.full_name()) {
      counters_.mismatches.fetch_add(1, std::memory_order_relaxed);
      resp->set_verdict(idv::plugin::v1::MISMATCH);
      resp->add_mismatched(idv::plugin::v1::FULL_NAME);
      resp->set_raw_code("SIM-409");
    } else {
      counters_.matches.fetch_add(1, std::memory_order_relaxed);
      resp->set_verdict(idv::plugin::v1::MATCH);
      resp->set_raw_code("SIM-200");
    }
    return grpc::Status::OK;
  }

  const Population& population_;
  Counters& counters_;
  Delayer& delayer_;
  const std::chrono::milliseconds latency_;
  const double error_rate_;
};

class ControlService final : public idv::sim::v1::SimulatorControl::CallbackService {
 public:
  ControlService(const Population& population, const Counters& counters)
      : population_(population), counters_(counters) {}

  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* ctx,
                                     const idv::sim::v1::GetStatsRequest*,
                                     idv::sim::v1::Stats* stats) override {
    stats->set_checks_received(counters_.checks.load(std::memory_order_relaxed));
    stats->set_matches(counters_.matches.load(std::memory_order_relaxed));
    stats->set_mismatches(counters_.mismatches.load(std::memory_order_relaxed));
    stats->set_not_found(counters_.not_found.load(std::memory_order_relaxed));
    stats->set_injected_errors(counters_.errors.load(std::memory_order_relaxed));
    stats->set_population(population_.size());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const Population& population_;
  const Counters& counters_;
};

int Main() {
  const double error_rate = absl::GetFlag(FLAGS_error_rate);
  if (error_rate < 0 || error_rate > 1) {
    spdlog::error("--error_rate must be between 0 and 1");
    return 2;
  }
  Population population =
      Population::Generate(absl::GetFlag(FLAGS_population), absl::GetFlag(FLAGS_seed));
  if (const std::string csv = absl::GetFlag(FLAGS_export_csv); !csv.empty()) {
    if (absl::Status s = population.ExportCsv(csv); !s.ok()) {
      spdlog::error("{}", s.ToString());
      return 1;
    }
  }
  Counters counters;
  Delayer delayer;
  PluginService plugin(population, counters, delayer, absl::GetFlag(FLAGS_latency_ms), error_rate);
  ControlService control(population, counters);

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
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&plugin);
  builder.RegisterService(&control);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::error("cannot listen on {}", listen);
    return 1;
  }
  spdlog::info("population {} (seed {}), latency {} ms, error rate {}", population.size(),
               absl::GetFlag(FLAGS_seed), absl::GetFlag(FLAGS_latency_ms), error_rate);
  spdlog::info("listening on {}:{}", listen.substr(0, listen.rfind(':')), port);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}

}  // namespace
}  // namespace idv::sim

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return idv::sim::Main();
}
