// idv-load: a gRPC load generator for idvd.
//
//   idv-load --target HOST:PORT --token_file data/admin.key --identities population.csv
//            --scenario warm|cold|bind|invalid|mixed|empty
//            [--concurrency N | --rate R] [--duration S] [--warmup S] [--channels C] [--json]
//
// Closed loop (default): N calls always in flight. Open loop (--rate): calls start on a fixed
// schedule whatever the server does, and latency counts from the *scheduled* start, so a stalled
// server shows in the percentiles instead of hiding behind fewer requests (coordinated omission).
// Scenarios: warm (a fixed working set, all cache hits after warm-up), cold (every claim new: a
// backend call), bind (sign-ups that bind fresh accounts), invalid (offline rejections), mixed
// (70/20/5/5 of those), and empty: the standard health Check, an empty unary RPC, as the
// reference for what gRPC alone does with the same settings.
//
// With --ack_log FILE every answered Verify is logged as "<unix micros> <verification id>
// <account id> <binding>" when its answer arrives (what the server acknowledged, and when).
// --check_acks FILE --acked_before MICROS [--acked_after MICROS] runs no load: it asks the target
// for every logged verification acknowledged in that window (GetVerification) and, for a BOUND one,
// its account's binding (GetBinding), and prints how many are missing (the disaster-recovery
// drill's check).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "idv/v1/verification.grpc.pb.h"
#include "load-tests/histogram.h"

namespace idv::load {
namespace {

// Command-line options (`idv-load --help` lists them with these descriptions).
struct Options {
  std::string target = "127.0.0.1:7443";
  std::string token_file = "data/admin.key";
  std::string identities;
  std::string scenario = "warm";
  int concurrency = 16;
  double rate = 0;
  double duration = 10;
  double warmup = 2;
  int channels = 4;
  int working_set = 1000;
  uint64_t first_identity = 0;
  bool json = false;
  std::string ack_log;
  std::string check_acks;
  int64_t acked_before = INT64_MAX;
  int64_t acked_after = 0;
  bool progress = true;
};

Options opt;

}  // namespace
}  // namespace idv::load

namespace idv::load {
namespace {

struct Identity {
  std::string number;
  std::string name;
};

std::vector<Identity> ReadIdentities(const std::string& path) {
  std::vector<Identity> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    if (f.size() >= 3) out.push_back(Identity{f[1], f[2]});
  }
  return out;
}

enum class Kind { kWarm, kCold, kBind, kInvalid, kEmpty };

class Workload {
 public:
  Workload(std::vector<Identity> people, std::string scenario, int working_set)
      : people_(std::move(people)),
        scenario_(std::move(scenario)),
        working_set_(std::max(1, std::min<int>(working_set, people_.size()))) {}

  Kind Pick(uint64_t i) const {
    if (scenario_ == "warm") return Kind::kWarm;
    if (scenario_ == "cold") return Kind::kCold;
    if (scenario_ == "bind") return Kind::kBind;
    if (scenario_ == "invalid") return Kind::kInvalid;
    if (scenario_ == "empty") return Kind::kEmpty;
    const uint64_t r = (i * 2654435761u) % 100;  // mixed: 70 / 20 / 5 / 5
    return r < 70 ? Kind::kWarm : r < 90 ? Kind::kCold : r < 95 ? Kind::kBind : Kind::kInvalid;
  }

  // Fills the request for call number `i`.
  void Make(Kind kind, uint64_t i, idv::v1::VerifyRequest* req) {
    req->mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
    const Identity* p;
    if (kind == Kind::kWarm) {
      p = &people_[i % working_set_];
    } else {
      // Fresh identities, in order (past the working set), so each is a cache miss.
      const uint64_t n = next_fresh_.fetch_add(1, std::memory_order_relaxed);
      p = &people_[working_set_ + n % (people_.size() - working_set_)];
      if (n >= people_.size() - working_set_) wrapped_ = true;
    }
    // Accounts are new in every run too (bind runs bind fresh accounts, not ones bound earlier).
    req->set_account_id(absl::StrCat("load-", opt.first_identity, "-", i));
    req->mutable_claim()->set_document_number(p->number);
    req->mutable_claim()->set_full_name(p->name);
    if (kind == Kind::kBind) req->set_bind(true);
    if (kind == Kind::kInvalid) {
      std::string bad = p->number;
      bad[17] = bad[17] == '1' ? '2' : '1';  // a wrong check character
      req->mutable_claim()->set_document_number(bad);
    }
  }

  bool wrapped() const { return wrapped_; }
  size_t size() const { return people_.size(); }

 private:
  const std::vector<Identity> people_;
  const std::string scenario_;
  const size_t working_set_;
  std::atomic<uint64_t> next_fresh_{opt.first_identity};
  std::atomic<bool> wrapped_{false};
};

class Load {
 public:
  Load(Workload& work, const std::string& token, int channels)
      : work_(work), authorization_("Bearer " + token) {
    const std::vector<std::string> targets = absl::StrSplit(opt.target, ',', absl::SkipEmpty());
    for (int c = 0; c < channels; ++c) {
      grpc::ChannelArguments args;
      args.SetInt("idv.load.channel", c);  // distinct arguments: a connection per channel
      auto ch = grpc::CreateCustomChannel(targets[c % targets.size()],
                                          grpc::InsecureChannelCredentials(), args);
      stubs_.push_back(idv::v1::VerificationService::NewStub(ch));
      generic_.push_back(std::make_unique<grpc::GenericStub>(ch));
    }
  }

  // Starts call `i`, scheduled for `intended`; `done` runs when it completes.
  void Issue(uint64_t i, absl::Time intended, std::function<void()> done) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    const Kind kind = work_.Pick(i);
    const size_t c = i % stubs_.size();
    if (kind == Kind::kEmpty) {
      auto* call = new EmptyCall;
      grpc::Slice empty("");
      call->request = grpc::ByteBuffer(&empty, 1);  // a valid, zero-length message
      call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      generic_[c]->UnaryCall(&call->ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                             &call->request, &call->response,
                             [this, call, intended, done](grpc::Status s) {
                               Finish(intended, s, idv::v1::OUTCOME_UNSPECIFIED, false);
                               delete call;
                               done();
                             });
      return;
    }
    auto* call = new VerifyCall;
    work_.Make(kind, i, &call->request);
    call->ctx.AddMetadata("authorization", authorization_);
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stubs_[c]->async()->Verify(
        &call->ctx, &call->request, &call->response, [this, call, intended, done](grpc::Status s) {
          Finish(intended, s, call->response.outcome(), call->response.cached());
          if (s.ok() && ack_log_ != nullptr) LogAck(call->request, call->response);
          delete call;
          done();
        });
  }

  // Logs every answered Verify to `out` (see --ack_log).
  void set_ack_log(std::ostream* out) { ack_log_ = out; }

  void StartMeasuring(absl::Time at) { measure_from_ = at; }
  void StopMeasuring(absl::Time at) { measure_until_ = at; }

  // Latency of the calls answered OK, and of those that ended with an error.
  Histogram& histogram() { return histogram_; }
  Histogram& refused() { return refused_; }
  uint64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  // Calls of the measured window (or, with `all`, of the whole run, warm-up and drain included)
  // by result: "ok" (empty RPC), "outcome:<OUTCOME>", "error:<gRPC code>", and "cached".
  std::map<std::string, uint64_t> Counts(bool all = false) const {
    const Tallies& t = all ? all_ : window_;
    std::map<std::string, uint64_t> out;
    for (int o = 0; o < kOutcomes; ++o) {
      const uint64_t n = t.by_outcome[o].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out[o == idv::v1::OUTCOME_UNSPECIFIED
              ? "ok"
              : absl::StrCat("outcome:", idv::v1::Outcome_Name(static_cast<idv::v1::Outcome>(o)))] =
          n;
    }
    for (int c = 0; c < kCodes; ++c) {
      const uint64_t n = t.by_error[c].load(std::memory_order_relaxed);
      if (n != 0) out[absl::StrCat("error:", c)] = n;
    }
    if (const uint64_t n = t.cached.load(std::memory_order_relaxed); n != 0) out["cached"] = n;
    return out;
  }

 private:
  struct EmptyCall {
    grpc::ClientContext ctx;
    grpc::ByteBuffer request;  // an empty HealthCheckRequest
    grpc::ByteBuffer response;
  };
  struct VerifyCall {
    grpc::ClientContext ctx;
    idv::v1::VerifyRequest request;
    idv::v1::VerifyResponse response;
  };

  void Finish(absl::Time intended, const grpc::Status& s, idv::v1::Outcome outcome, bool cached) {
    const absl::Time now = absl::Now();
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    completed_.fetch_add(1, std::memory_order_relaxed);
    // Plain counters: the tool's own bookkeeping takes no lock and builds no string per call.
    // `all_` counts every call of the run (warm-up and drain included, to compare with the
    // server's own counters); `window_` those of the measured window.
    Tally(all_, s, outcome, cached);
    if (now < measure_from_ || now > measure_until_) return;
    // Answered calls and refused ones apart: a server shedding load answers some fast with an
    // error, which must not flatter the latency of those it serves.
    (s.ok() ? histogram_ : refused_)
        .Record(static_cast<uint64_t>(absl::ToInt64Microseconds(now - intended)));
    Tally(window_, s, outcome, cached);
  }

  void LogAck(const idv::v1::VerifyRequest& req, const idv::v1::VerifyResponse& resp) {
    const std::string line =
        absl::StrCat(absl::ToUnixMicros(absl::Now()), " ", resp.verification_id(), " ",
                     req.account_id(), " ", idv::v1::BindingStatus_Name(resp.binding()), "\n");
    absl::MutexLock lock(&ack_mu_);
    *ack_log_ << line;
  }

  static constexpr int kOutcomes = idv::v1::Outcome_ARRAYSIZE;
  static constexpr int kCodes = 17;  // gRPC status codes 0..16

  Workload& work_;
  const std::string authorization_;
  std::vector<std::unique_ptr<idv::v1::VerificationService::Stub>> stubs_;
  std::vector<std::unique_ptr<grpc::GenericStub>> generic_;
  Histogram histogram_, refused_;
  std::atomic<uint64_t> in_flight_{0}, completed_{0};
  std::atomic<absl::Time> measure_from_{absl::InfiniteFuture()};
  std::atomic<absl::Time> measure_until_{absl::InfiniteFuture()};
  struct Tallies {
    std::atomic<uint64_t> by_outcome[kOutcomes] = {};
    std::atomic<uint64_t> by_error[kCodes] = {};
    std::atomic<uint64_t> cached{0};
  };
  static void Tally(Tallies& t, const grpc::Status& s, idv::v1::Outcome outcome, bool cached) {
    if (!s.ok()) {
      t.by_error[std::clamp<int>(s.error_code(), 0, kCodes - 1)].fetch_add(
          1, std::memory_order_relaxed);
      return;
    }
    t.by_outcome[std::clamp<int>(outcome, 0, kOutcomes - 1)].fetch_add(1,
                                                                       std::memory_order_relaxed);
    if (cached) t.cached.fetch_add(1, std::memory_order_relaxed);
  }
  Tallies window_, all_;
  absl::Mutex ack_mu_;
  std::ostream* ack_log_ = nullptr;  // written under ack_mu_
};

std::string ReadToken(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  return std::string(absl::StripAsciiWhitespace(token));
}

// "850us", "12.3ms", "1.23s".
std::string Micros(uint64_t us) {
  if (us < 1000) return absl::StrCat(us, "us");
  if (us < 1000000) return absl::StrFormat("%.3gms", us / 1e3);
  return absl::StrFormat("%.3gs", us / 1e6);
}

// A bar of the report's latency histogram: calls with latency in (previous upper, upper] us.
struct Bin {
  uint64_t upper;
  uint64_t count;
};

// Log-spaced bins (upper edges 1, 2, 5 x 10^k us) from the fastest call to the slowest. A call
// counts in the bin holding its histogram bucket's upper edge (buckets are ~1.5% wide).
std::vector<Bin> Bins(const Histogram& h) {
  static constexpr uint64_t kSteps[] = {1, 2, 5};
  std::map<uint64_t, uint64_t> counts;  // upper edge -> calls
  uint64_t decade = 1;
  int step = 0;
  auto edge = [&] { return decade * kSteps[step]; };
  auto next = [&] {
    if (++step == 3) {
      step = 0;
      decade *= 10;
    }
  };
  h.ForEachBucket([&](uint64_t upper, uint64_t n) {
    while (upper > edge()) next();
    counts[edge()] += n;
  });
  std::vector<Bin> bins;
  if (counts.empty()) return bins;
  decade = 1;
  step = 0;
  while (edge() < counts.begin()->first) next();
  for (; edge() <= counts.rbegin()->first; next()) {
    auto it = counts.find(edge());
    bins.push_back(Bin{edge(), it == counts.end() ? 0 : it->second});
  }
  return bins;
}

void PrintHistogram(const std::vector<Bin>& bins, uint64_t total, std::ostream& out) {
  if (bins.empty() || total == 0) return;
  uint64_t most = 0;
  for (const Bin& b : bins) most = std::max(most, b.count);
  out << "latency histogram:\n";
  for (const Bin& b : bins) {
    const int width = static_cast<int>(40 * b.count / most);
    out << absl::StrFormat("  <= %7s |%-40s %d (%.1f%%)\n", Micros(b.upper),
                           std::string(static_cast<size_t>(width), '#'), b.count,
                           100.0 * static_cast<double>(b.count) / static_cast<double>(total));
  }
}

// Progress while the load runs: on a terminal a bar redrawn in place, otherwise a line a second.
class Progress {
 public:
  Progress(absl::Time start, absl::Time end, bool enabled)
      : start_(start), end_(end), enabled_(enabled), tty_(::isatty(2) != 0) {}

  absl::Duration interval() const {
    return tty_ && enabled_ ? absl::Milliseconds(200) : absl::Seconds(1);
  }

  void Show(Load& load) {
    if (!enabled_) return;
    const absl::Time now = absl::Now();
    const uint64_t done = load.completed();
    const double rate = static_cast<double>(done - last_done_) /
                        std::max(1e-3, absl::ToDoubleSeconds(now - last_at_));
    last_done_ = done;
    last_at_ = now;
    const Histogram& h = load.histogram();
    const std::string stats =
        absl::StrFormat("%6.0f calls/s  in flight %4d  p50 %7s  p99 %7s", rate, load.in_flight(),
                        Micros(h.Percentile(0.5)), Micros(h.Percentile(0.99)));
    const double elapsed = absl::ToDoubleSeconds(now - start_);
    if (!tty_) {
      std::cerr << absl::StrFormat("t=%4.0fs  %s\n", elapsed, stats);
      return;
    }
    const double share =
        std::min(1.0, elapsed / std::max(1e-3, absl::ToDoubleSeconds(end_ - start_)));
    const int filled = static_cast<int>(share * 30);
    std::cerr << absl::StrFormat("\r[%s%s] %3.0f%%  %5.1fs  %s\x1b[K",
                                 std::string(static_cast<size_t>(filled), '='),
                                 std::string(static_cast<size_t>(30 - filled), ' '), share * 100,
                                 elapsed, stats)
              << std::flush;
  }

  void Done() {
    if (enabled_ && tty_) std::cerr << "\r\x1b[K" << std::flush;
  }

 private:
  const absl::Time start_, end_;
  const bool enabled_, tty_;
  absl::Time last_at_ = absl::Now();
  uint64_t last_done_ = 0;
};

// --check_acks: every verification of the log acknowledged before --acked_before is stored on
// the target, and every binding it made too.
int CheckAcks() {
  std::ifstream in(opt.check_acks);
  if (!in) {
    std::cerr << "idv-load: cannot read " << opt.check_acks << "\n";
    return 2;
  }
  auto stub = idv::v1::VerificationService::NewStub(
      grpc::CreateChannel(opt.target, grpc::InsecureChannelCredentials()));
  const std::string authorization = "Bearer " + ReadToken(opt.token_file);
  const int64_t before = opt.acked_before;
  const int64_t after = opt.acked_after;
  uint64_t checked = 0, later = 0, bindings = 0, missing_records = 0, missing_bindings = 0;
  int64_t at = 0;
  std::string id, account, binding;
  while (in >> at >> id >> account >> binding) {
    if (at >= before || at <= after) {
      ++later;
      continue;
    }
    ++checked;
    auto context = [&](grpc::ClientContext& ctx) {
      ctx.AddMetadata("authorization", authorization);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    };
    grpc::ClientContext vctx;
    context(vctx);
    idv::v1::GetVerificationRequest vreq;
    vreq.set_verification_id(id);
    idv::v1::Verification v;
    if (!stub->GetVerification(&vctx, vreq, &v).ok()) {
      if (++missing_records <= 5) std::cerr << "missing record " << id << "\n";
    }
    if (binding != "BOUND") continue;
    ++bindings;
    grpc::ClientContext bctx;
    context(bctx);
    idv::v1::GetBindingRequest breq;
    breq.set_account_id(account);
    idv::v1::Binding b;
    if (!stub->GetBinding(&bctx, breq, &b).ok() || b.verification_id() != id) {
      if (++missing_bindings <= 5) std::cerr << "missing binding of " << account << "\n";
    }
  }
  nlohmann::ordered_json j = {{"checked", checked},
                              {"bindings", bindings},
                              {"missing_records", missing_records},
                              {"missing_bindings", missing_bindings},
                              {"outside_window", later}};
  std::cout << j.dump() << "\n";
  return missing_records == 0 && missing_bindings == 0 && checked > 0 ? 0 : 1;
}

int Main() {
  if (!opt.check_acks.empty()) return CheckAcks();
  const std::string scenario = opt.scenario;
  std::vector<Identity> people;
  if (scenario != "empty") {
    people = ReadIdentities(opt.identities);
    if (people.size() < 2) {
      std::cerr << "idv-load: --identities must name the simulator's population CSV\n";
      return 2;
    }
  } else {
    people.push_back(Identity{});
    people.push_back(Identity{});
  }
  Workload work(std::move(people), scenario, opt.working_set);
  Load load(work, ReadToken(opt.token_file), opt.channels);
  std::ofstream ack_log;
  if (!opt.ack_log.empty()) {
    ack_log.open(opt.ack_log, std::ios::trunc);
    load.set_ack_log(&ack_log);
  }

  const absl::Duration warmup = absl::Seconds(opt.warmup);
  const absl::Duration duration = absl::Seconds(opt.duration);
  const absl::Time start = absl::Now();
  const absl::Time measure_from = start + warmup, end = measure_from + duration;
  load.StartMeasuring(measure_from);
  load.StopMeasuring(end);
  std::atomic<uint64_t> next{0};
  const double rate = opt.rate;

  std::function<void()> closed_loop;
  closed_loop = [&] {
    if (absl::Now() < end) {
      load.Issue(next.fetch_add(1, std::memory_order_relaxed), absl::Now(), closed_loop);
    }
  };
  std::thread pacer;
  if (rate > 0) {
    pacer = std::thread([&] {
      for (uint64_t i = 0;; ++i) {
        const absl::Time intended = start + absl::Seconds(static_cast<double>(i) / rate);
        if (intended >= end) break;
        if (absl::Now() < intended) absl::SleepFor(intended - absl::Now());  // pacing, not sync
        load.Issue(i, intended, [] {});
      }
    });
  } else {
    for (int i = 0; i < opt.concurrency; ++i) closed_loop();
  }
  Progress progress(start, end, opt.progress);
  while (absl::Now() < end) {
    absl::SleepFor(progress.interval());  // reporting interval, not synchronization
    progress.Show(load);
  }
  progress.Done();
  if (pacer.joinable()) pacer.join();
  const absl::Time drain_until = absl::Now() + absl::Seconds(35);
  while (load.in_flight() > 0 && absl::Now() < drain_until) absl::SleepFor(absl::Milliseconds(10));

  Histogram& h = load.histogram();
  Histogram& r = load.refused();
  const double throughput = static_cast<double>(h.Count()) / absl::ToDoubleSeconds(duration);
  std::map<std::string, uint64_t> counts = load.Counts();
  uint64_t errors = 0;
  for (const auto& [k, v] : counts) errors += absl::StartsWith(k, "error:") ? v : 0;
  const std::vector<Bin> bins = Bins(h);
  if (opt.json) {
    nlohmann::ordered_json j;
    j["scenario"] = scenario;
    j["mode"] = rate > 0 ? "open" : "closed";
    j["concurrency"] = opt.concurrency;
    j["rate"] = rate;
    j["duration_s"] = absl::ToDoubleSeconds(duration);
    j["calls"] = h.Count() + r.Count();
    j["throughput"] = std::round(throughput * 10) / 10;
    j["errors"] = errors;
    j["latency_us"] = {{"p50", h.Percentile(0.5)},
                       {"p90", h.Percentile(0.9)},
                       {"p99", h.Percentile(0.99)},
                       {"p999", h.Percentile(0.999)},
                       {"max", h.Max()}};
    j["error_latency_us"] = {
        {"p50", r.Percentile(0.5)}, {"p99", r.Percentile(0.99)}, {"max", r.Max()}};
    j["counts"] = counts;
    j["counts_all"] = load.Counts(/*all=*/true);
    j["identities_wrapped"] = work.wrapped();
    nlohmann::ordered_json histogram = nlohmann::ordered_json::array();
    for (const Bin& b : bins) histogram.push_back({{"le_us", b.upper}, {"count", b.count}});
    j["histogram"] = std::move(histogram);
    std::cout << j.dump() << "\n";
  } else {
    std::cout << absl::StrFormat(
        "scenario %s, %s loop, %.0f s: %d calls, %.1f answered/s, %d errors\n", scenario,
        rate > 0 ? "open" : "closed", absl::ToDoubleSeconds(duration), h.Count() + r.Count(),
        throughput, errors);
    std::cout << absl::StrFormat("latency: p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
                                 Micros(h.Percentile(0.5)), Micros(h.Percentile(0.9)),
                                 Micros(h.Percentile(0.99)), Micros(h.Percentile(0.999)),
                                 Micros(h.Max()));
    if (r.Count() > 0) {
      std::cout << absl::StrFormat("errors' latency: p50 %s  p99 %s  max %s\n",
                                   Micros(r.Percentile(0.5)), Micros(r.Percentile(0.99)),
                                   Micros(r.Max()));
    }
    PrintHistogram(bins, h.Count(), std::cout);
    for (const auto& [k, v] : counts) std::cout << "  " << k << ": " << v << "\n";
    if (work.wrapped()) std::cout << "note: fresh identities ran out and repeated\n";
  }
  return errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace idv::load

int main(int argc, char** argv) {
  using idv::load::opt;
  CLI::App app{"idv-load: a gRPC load generator for idvd (see the top of idv_load.cc).",
               "idv-load"};
  app.add_option("--target", opt.target,
                 "idvd address, or several separated by commas (channels are spread over them)")
      ->capture_default_str();
  app.add_option("--token_file,--token-file", opt.token_file, "API key file")
      ->capture_default_str();
  app.add_option("--identities", opt.identities, "population CSV exported by idv-registry-sim");
  app.add_option("--scenario", opt.scenario, "what each call is")
      ->check(CLI::IsMember({"warm", "cold", "bind", "invalid", "mixed", "empty"}))
      ->capture_default_str();
  app.add_option("--concurrency", opt.concurrency, "closed loop: calls in flight")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rate", opt.rate, "open loop: calls per second (overrides --concurrency)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--duration", opt.duration, "measured seconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--warmup", opt.warmup, "seconds run before measuring")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--channels", opt.channels, "gRPC channels (connections)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--working_set,--working-set", opt.working_set,
                 "warm: identities in the working set")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--first_identity,--first-identity", opt.first_identity,
                 "cold/bind: skip this many fresh identities (repeated runs stay cache misses)");
  app.add_flag("--json", opt.json, "print the report as one JSON object");
  app.add_option("--ack_log,--ack-log", opt.ack_log, "log every answered Verify to this file");
  app.add_option("--check_acks,--check-acks", opt.check_acks,
                 "no load: check that the verifications of this ack log are stored on the target")
      ->check(CLI::ExistingFile);
  app.add_option("--acked_before,--acked-before", opt.acked_before,
                 "check_acks: only those acknowledged before this time (Unix microseconds)");
  app.add_option("--acked_after,--acked-after", opt.acked_after,
                 "check_acks: only those acknowledged after this time");
  app.add_flag("--progress,!--no-progress", opt.progress,
               "progress on stderr: a bar on a terminal, else a line a second (--progress=false "
               "for none)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as idvd does
  return idv::load::Main();
}
