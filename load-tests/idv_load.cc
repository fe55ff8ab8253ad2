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

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "idv/v1/verification.grpc.pb.h"
#include "load-tests/histogram.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7443",
          "idvd address, or several separated by commas (the channels are spread over them)");
ABSL_FLAG(std::string, token_file, "data/admin.key", "API key file");
ABSL_FLAG(std::string, identities, "", "population CSV exported by idv-registry-sim");
ABSL_FLAG(std::string, scenario, "warm", "warm, cold, bind, invalid, mixed or empty");
ABSL_FLAG(int, concurrency, 16, "closed loop: calls in flight");
ABSL_FLAG(double, rate, 0, "open loop: calls per second (overrides --concurrency)");
ABSL_FLAG(double, duration, 10, "measured seconds");
ABSL_FLAG(double, warmup, 2, "seconds run before measuring");
ABSL_FLAG(int, channels, 4, "gRPC channels (connections)");
ABSL_FLAG(int, working_set, 1000, "warm: identities in the working set");
ABSL_FLAG(uint64_t, first_identity, 0,
          "cold/bind: skip this many fresh identities (so repeated runs stay cache misses)");
ABSL_FLAG(bool, json, false, "print the result as one JSON object");
ABSL_FLAG(std::string, ack_log, "", "log every answered Verify to this file");
ABSL_FLAG(std::string, check_acks, "",
          "no load: check that the verifications of this ack log are stored on the target");
ABSL_FLAG(int64_t, acked_before, INT64_MAX,
          "check_acks: only those acknowledged before this time (Unix microseconds)");
ABSL_FLAG(int64_t, acked_after, 0, "check_acks: only those acknowledged after this time");
ABSL_FLAG(bool, progress, true, "print a progress line every second (stderr)");

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
    req->set_account_id(absl::StrCat("load-", absl::GetFlag(FLAGS_first_identity), "-", i));
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
  std::atomic<uint64_t> next_fresh_{absl::GetFlag(FLAGS_first_identity)};
  std::atomic<bool> wrapped_{false};
};

class Load {
 public:
  Load(Workload& work, const std::string& token, int channels)
      : work_(work), authorization_("Bearer " + token) {
    const std::vector<std::string> targets =
        absl::StrSplit(absl::GetFlag(FLAGS_target), ',', absl::SkipEmpty());
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

// --check_acks: every verification of the log acknowledged before --acked_before is stored on
// the target, and every binding it made too.
int CheckAcks() {
  std::ifstream in(absl::GetFlag(FLAGS_check_acks));
  if (!in) {
    std::cerr << "idv-load: cannot read " << absl::GetFlag(FLAGS_check_acks) << "\n";
    return 2;
  }
  auto stub = idv::v1::VerificationService::NewStub(
      grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials()));
  const std::string authorization = "Bearer " + ReadToken(absl::GetFlag(FLAGS_token_file));
  const int64_t before = absl::GetFlag(FLAGS_acked_before);
  const int64_t after = absl::GetFlag(FLAGS_acked_after);
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
  std::cout << absl::StrFormat(
      "{\"checked\":%d,\"bindings\":%d,\"missing_records\":%d,\"missing_bindings\":%d,"
      "\"outside_window\":%d}\n",
      checked, bindings, missing_records, missing_bindings, later);
  return missing_records == 0 && missing_bindings == 0 && checked > 0 ? 0 : 1;
}

int Main() {
  if (!absl::GetFlag(FLAGS_check_acks).empty()) return CheckAcks();
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  std::vector<Identity> people;
  if (scenario != "empty") {
    people = ReadIdentities(absl::GetFlag(FLAGS_identities));
    if (people.size() < 2) {
      std::cerr << "idv-load: --identities must name the simulator's population CSV\n";
      return 2;
    }
  } else {
    people.push_back(Identity{});
    people.push_back(Identity{});
  }
  Workload work(std::move(people), scenario, absl::GetFlag(FLAGS_working_set));
  Load load(work, ReadToken(absl::GetFlag(FLAGS_token_file)), absl::GetFlag(FLAGS_channels));
  std::ofstream ack_log;
  if (!absl::GetFlag(FLAGS_ack_log).empty()) {
    ack_log.open(absl::GetFlag(FLAGS_ack_log), std::ios::trunc);
    load.set_ack_log(&ack_log);
  }

  const absl::Duration warmup = absl::Seconds(absl::GetFlag(FLAGS_warmup));
  const absl::Duration duration = absl::Seconds(absl::GetFlag(FLAGS_duration));
  const absl::Time start = absl::Now();
  const absl::Time measure_from = start + warmup, end = measure_from + duration;
  load.StartMeasuring(measure_from);
  load.StopMeasuring(end);
  std::atomic<uint64_t> next{0};
  const double rate = absl::GetFlag(FLAGS_rate);

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
    for (int i = 0; i < absl::GetFlag(FLAGS_concurrency); ++i) closed_loop();
  }
  uint64_t last = 0;
  while (absl::Now() < end) {
    absl::SleepFor(absl::Seconds(1));  // progress reporting interval
    if (absl::GetFlag(FLAGS_progress)) {
      const uint64_t done = load.completed();
      std::cerr << absl::StrFormat("t=%4.0fs  %8d calls/s  in flight %4d  p50 %6dus  p99 %6dus\n",
                                   absl::ToDoubleSeconds(absl::Now() - start), done - last,
                                   load.in_flight(), load.histogram().Percentile(0.5),
                                   load.histogram().Percentile(0.99));
      last = done;
    }
  }
  if (pacer.joinable()) pacer.join();
  const absl::Time drain_until = absl::Now() + absl::Seconds(35);
  while (load.in_flight() > 0 && absl::Now() < drain_until) absl::SleepFor(absl::Milliseconds(10));

  Histogram& h = load.histogram();
  Histogram& r = load.refused();
  const double throughput = static_cast<double>(h.Count()) / absl::ToDoubleSeconds(duration);
  std::map<std::string, uint64_t> counts = load.Counts();
  uint64_t errors = 0;
  for (const auto& [k, v] : counts) errors += absl::StartsWith(k, "error:") ? v : 0;
  if (absl::GetFlag(FLAGS_json)) {
    std::string j = absl::StrFormat(
        "{\"scenario\":\"%s\",\"mode\":\"%s\",\"concurrency\":%d,\"rate\":%g,\"duration_s\":%g,"
        "\"calls\":%d,\"throughput\":%.1f,\"errors\":%d,\"latency_us\":{\"p50\":%d,\"p90\":%d,"
        "\"p99\":%d,\"p999\":%d,\"max\":%d},\"error_latency_us\":{\"p50\":%d,\"p99\":%d,"
        "\"max\":%d},\"counts\":{",
        scenario, rate > 0 ? "open" : "closed", absl::GetFlag(FLAGS_concurrency), rate,
        absl::ToDoubleSeconds(duration), h.Count() + r.Count(), throughput, errors,
        h.Percentile(0.5), h.Percentile(0.9), h.Percentile(0.99), h.Percentile(0.999), h.Max(),
        r.Percentile(0.5), r.Percentile(0.99), r.Max());
    bool first = true;
    for (const auto& [k, v] : counts) {
      absl::StrAppend(&j, first ? "" : ",", "\"", k, "\":", v);
      first = false;
    }
    absl::StrAppend(&j, "},\"counts_all\":{");
    first = true;
    for (const auto& [k, v] : load.Counts(/*all=*/true)) {
      absl::StrAppend(&j, first ? "" : ",", "\"", k, "\":", v);
      first = false;
    }
    std::cout << j << "},"
              << "\"identities_wrapped\":" << (work.wrapped() ? "true" : "false") << "}\n";
  } else {
    std::cout << absl::StrFormat(
        "scenario %s, %s loop, %.0f s: %d calls, %.1f answered/s, %d errors\n", scenario,
        rate > 0 ? "open" : "closed", absl::ToDoubleSeconds(duration), h.Count() + r.Count(),
        throughput, errors);
    std::cout << absl::StrFormat("latency us: p50 %d  p90 %d  p99 %d  p99.9 %d  max %d\n",
                                 h.Percentile(0.5), h.Percentile(0.9), h.Percentile(0.99),
                                 h.Percentile(0.999), h.Max());
    if (r.Count() > 0) {
      std::cout << absl::StrFormat("errors' latency us: p50 %d  p99 %d  max %d\n",
                                   r.Percentile(0.5), r.Percentile(0.99), r.Max());
    }
    for (const auto& [k, v] : counts) std::cout << "  " << k << ": " << v << "\n";
    if (work.wrapped()) std::cout << "note: fresh identities ran out and repeated\n";
  }
  return errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace idv::load

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as idvd does
  return idv::load::Main();
}
