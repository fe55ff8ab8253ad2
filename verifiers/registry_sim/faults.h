// The simulator's fault model: latency, errors, outages, rate limit and PENDING answers, read and
// replaced at run time. Thread-safe.
#ifndef IDV_VERIFIERS_REGISTRY_SIM_FAULTS_H_
#define IDV_VERIFIERS_REGISTRY_SIM_FAULTS_H_

#include <chrono>
#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "idv/sim/v1/sim.pb.h"

namespace idv::sim {

// What to do with one call.
struct Decision {
  enum Kind { kAnswer, kError, kRateLimited, kHang, kPending } kind = kAnswer;
  std::chrono::milliseconds delay{0};
};

class FaultModel {
 public:
  // REQUIRES: Validate(faults) is OK.
  explicit FaultModel(idv::sim::v1::Faults faults) : faults_(std::move(faults)) {}

  // InvalidArgument for out-of-range fields.
  static absl::Status Validate(const idv::sim::v1::Faults& faults);
  // Replaces the settings, if valid.
  absl::Status Set(idv::sim::v1::Faults faults);
  idv::sim::v1::Faults Get() const;

  // Decides the fate of one call. `first_time` is whether this number was never answered PENDING.
  Decision Decide(bool first_time);

 private:
  std::chrono::milliseconds SampleLatency(const idv::sim::v1::Latency& l);

  mutable std::mutex mu_;
  idv::sim::v1::Faults faults_;  // guarded by mu_
  int64_t window_second_ = 0;    // guarded by mu_
  uint32_t window_count_ = 0;    // guarded by mu_
};

// Parses a latency flag: "5" or "fixed:5", "uniform:2:10", "lognormal:5:0.8" (median, sigma).
absl::StatusOr<idv::sim::v1::Latency> ParseLatency(const std::string& spec);

}  // namespace idv::sim

#endif  // IDV_VERIFIERS_REGISTRY_SIM_FAULTS_H_
