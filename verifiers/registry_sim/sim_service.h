// The simulator's gRPC services: VerifierPlugin answering from the synthetic population under the
// fault model, and SimulatorControl for statistics and run-time fault changes.
#ifndef IDV_VERIFIERS_REGISTRY_SIM_SIM_SERVICE_H_
#define IDV_VERIFIERS_REGISTRY_SIM_SIM_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_set>

#include "idv/plugin/v1/plugin.grpc.pb.h"
#include "idv/sim/v1/sim.grpc.pb.h"
#include "verifiers/registry_sim/faults.h"
#include "verifiers/registry_sim/population.h"

namespace idv::sim {

// Runs callbacks after a delay on one thread, without a thread per waiting call. On destruction,
// runs what is left at once.
class Delayer {
 public:
  Delayer();
  ~Delayer();
  void After(std::chrono::milliseconds delay, std::function<void()> fn);

 private:
  struct Item {
    std::chrono::steady_clock::time_point when;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Item& o) const { return when != o.when ? when > o.when : seq > o.seq; }
  };
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_;  // guarded by mu_
  uint64_t seq_ = 0;                                                        // guarded by mu_
  bool stop_ = false;                                                       // guarded by mu_
  std::thread thread_;
};

struct Counters {
  std::atomic<uint64_t> checks{0}, matches{0}, mismatches{0}, not_found{0}, errors{0},
      rate_limited{0}, pending{0}, hung{0};
};

enum class Mode {
  kRegistry,  // document number + name, like a population registry
  kCarrier,   // mobile number + name + document number, like a carrier's three-element check
  kAdvisory,  // answers as the registry, but its Describe says it is not authoritative
};

class PluginService final : public idv::plugin::v1::VerifierPlugin::CallbackService {
 public:
  PluginService(const Population& population, Mode mode, FaultModel& faults, Counters& counters,
                Delayer& delayer)
      : population_(population),
        mode_(mode),
        faults_(faults),
        counters_(counters),
        delayer_(delayer) {}

  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* ctx,
                                     const idv::plugin::v1::DescribeRequest*,
                                     idv::plugin::v1::DescribeResponse* resp) override;
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const idv::plugin::v1::CheckRequest* req,
                                  idv::plugin::v1::CheckResponse* resp) override;

 private:
  grpc::Status Answer(const idv::plugin::v1::CheckRequest& req,
                      idv::plugin::v1::CheckResponse* resp);
  // True the first time `number` is seen by the PENDING logic (later asks get an answer).
  bool FirstPendingCandidate(const std::string& number);

  const Population& population_;
  const Mode mode_;
  FaultModel& faults_;
  Counters& counters_;
  Delayer& delayer_;
  std::mutex pending_mu_;
  std::unordered_set<std::string> answered_pending_;  // guarded by pending_mu_
};

class ControlService final : public idv::sim::v1::SimulatorControl::CallbackService {
 public:
  ControlService(const Population& population, FaultModel& faults, const Counters& counters)
      : population_(population), faults_(faults), counters_(counters) {}

  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* ctx,
                                     const idv::sim::v1::GetStatsRequest*,
                                     idv::sim::v1::Stats* stats) override;
  grpc::ServerUnaryReactor* SetFaults(grpc::CallbackServerContext* ctx,
                                      const idv::sim::v1::Faults* faults,
                                      idv::sim::v1::Faults* out) override;

 private:
  const Population& population_;
  FaultModel& faults_;
  const Counters& counters_;
};

}  // namespace idv::sim

#endif  // IDV_VERIFIERS_REGISTRY_SIM_SIM_SERVICE_H_
