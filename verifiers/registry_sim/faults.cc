#include "verifiers/registry_sim/faults.h"

#include <cmath>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace idv::sim {
namespace {

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

double Uniform01() { return std::uniform_real_distribution<double>(0, 1)(Rng()); }

}  // namespace

absl::Status FaultModel::Validate(const idv::sim::v1::Faults& f) {
  if (f.error_rate() < 0 || f.error_rate() > 1 || f.pending_rate() < 0 || f.pending_rate() > 1) {
    return absl::InvalidArgumentError("rates are fractions between 0 and 1");
  }
  const auto& l = f.latency();
  if (l.median_ms() < 0 || l.min_ms() < 0 || l.max_ms() < l.min_ms() || l.sigma() < 0) {
    return absl::InvalidArgumentError("latency: negative times or max below min");
  }
  return absl::OkStatus();
}

absl::Status FaultModel::Set(idv::sim::v1::Faults f) {
  if (absl::Status s = Validate(f); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  faults_ = std::move(f);
  return absl::OkStatus();
}

idv::sim::v1::Faults FaultModel::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return faults_;
}

std::chrono::milliseconds FaultModel::SampleLatency(const idv::sim::v1::Latency& l) {
  double ms = l.median_ms();
  switch (l.shape()) {
    case idv::sim::v1::Latency::UNIFORM:
      ms = l.min_ms() + (l.max_ms() - l.min_ms()) * Uniform01();
      break;
    case idv::sim::v1::Latency::LOGNORMAL:
      if (l.median_ms() > 0) {
        ms = std::exp(std::log(l.median_ms()) +
                      l.sigma() * std::normal_distribution<double>(0, 1)(Rng()));
      }
      break;
    default:
      break;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
}

Decision FaultModel::Decide(bool first_time) {
  std::lock_guard<std::mutex> lock(mu_);
  Decision d;
  if (faults_.outage() == idv::sim::v1::Faults::HANG) {
    d.kind = Decision::kHang;
    return d;
  }
  if (faults_.outage() == idv::sim::v1::Faults::ERROR) {
    d.kind = Decision::kError;
    return d;
  }
  if (faults_.rate_limit_per_s() > 0) {
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    if (now != window_second_) {
      window_second_ = now;
      window_count_ = 0;
    }
    if (++window_count_ > faults_.rate_limit_per_s()) {
      d.kind = Decision::kRateLimited;
      return d;
    }
  }
  d.delay = SampleLatency(faults_.latency());
  if (Uniform01() < faults_.error_rate()) {
    d.kind = Decision::kError;
  } else if (first_time && Uniform01() < faults_.pending_rate()) {
    d.kind = Decision::kPending;
  }
  return d;
}

absl::StatusOr<idv::sim::v1::Latency> ParseLatency(const std::string& spec) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  idv::sim::v1::Latency l;
  std::vector<double> v;
  for (size_t i = (parts.size() > 1 ? 1 : 0); i < parts.size(); ++i) {
    double x;
    if (!absl::SimpleAtod(parts[i], &x)) return absl::InvalidArgumentError("bad latency: " + spec);
    v.push_back(x);
  }
  const std::string shape = parts.size() > 1 ? parts[0] : "fixed";
  if (shape == "fixed" && v.size() == 1) {
    l.set_median_ms(v[0]);
  } else if (shape == "uniform" && v.size() == 2) {
    l.set_shape(idv::sim::v1::Latency::UNIFORM);
    l.set_min_ms(v[0]);
    l.set_max_ms(v[1]);
  } else if (shape == "lognormal" && v.size() == 2) {
    l.set_shape(idv::sim::v1::Latency::LOGNORMAL);
    l.set_median_ms(v[0]);
    l.set_sigma(v[1]);
  } else {
    return absl::InvalidArgumentError(
        "latency is MS, fixed:MS, uniform:MIN:MAX or lognormal:MEDIAN:SIGMA, not " + spec);
  }
  return l;
}

}  // namespace idv::sim
