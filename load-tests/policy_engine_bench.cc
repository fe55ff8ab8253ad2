// Measures what the policy engine adds to a backend call, as latency percentiles.
//
//   policy_engine_bench --sim HOST:PORT [--calls N]
//
// Three series, sequential calls, one process:
//   engine-only   PolicyEngine::Verify with an in-process backend that answers at once: all of
//                 the time is the engine's own (routing, run state, callbacks, cancellation).
//   direct        a VerifierPlugin.Check RPC straight to the simulator (its own latency as a
//                 client sees it on loopback).
//   via-engine    PolicyEngine::Verify with a grpc_plugin backend to the same simulator.
// "added" is via-engine minus direct at the same percentile.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <future>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "idv/plugin/v1/plugin.grpc.pb.h"
#include "verifiers/policy_engine.h"

ABSL_FLAG(std::string, sim, "", "simulator address (idv-registry-sim)");
ABSL_FLAG(int, calls, 20000, "calls per series");

namespace {

using idv::verifiers::CheckResult;
using idv::verifiers::PolicyEngine;
using idv::verifiers::PolicyVerdict;

class InstantVerifier final : public idv::verifiers::Verifier {
 public:
  const idv::verifiers::VerifierInfo& Info() const override { return info_; }
  void Check(const idv::verifiers::CheckContext&, const idv::identity::NormalizedClaim&,
             absl::AnyInvocable<void(CheckResult) &&> done) override {
    CheckResult r;
    r.outcome = idv::v1::VERIFIED;
    r.reason = idv::v1::ELEMENTS_MATCH;
    std::move(done)(std::move(r));
  }

 private:
  idv::verifiers::VerifierInfo info_{"instant", true};
};

class InstantFactory final : public idv::verifiers::VerifierFactory {
 public:
  std::string ConfigType() const override { return "google.protobuf.Empty"; }
  absl::StatusOr<std::unique_ptr<idv::verifiers::Verifier>> Create(
      const idv::config::v1::BackendConfig&) const override {
    return std::unique_ptr<idv::verifiers::Verifier>(std::make_unique<InstantVerifier>());
  }
};

struct Percentiles {
  double p50, p99;
};

Percentiles Summarize(std::vector<absl::Duration> d) {
  std::sort(d.begin(), d.end());
  auto us = [&](double q) {
    return absl::ToDoubleMicroseconds(d[static_cast<size_t>(q * (d.size() - 1))]);
  };
  return {us(0.50), us(0.99)};
}

std::shared_ptr<PolicyEngine> Engine(const idv::config::v1::BackendConfig& backend,
                                     const idv::verifiers::VerifierRegistry& registry) {
  google::protobuf::RepeatedPtrField<idv::config::v1::BackendConfig> backends;
  *backends.Add() = backend;
  google::protobuf::RepeatedPtrField<idv::config::v1::Policy> policies;
  policies.Add()->add_backends(backend.name());
  policies.Mutable(0)->add_document_types(idv::v1::CN_RESIDENT_ID);
  auto engine = PolicyEngine::Create(backends, policies, registry);
  if (!engine.ok()) {
    std::cerr << engine.status() << "\n";
    std::exit(1);
  }
  return *engine;
}

std::vector<absl::Duration> TimeEngine(const PolicyEngine& engine,
                                       std::shared_ptr<const idv::identity::NormalizedClaim> claim,
                                       int calls) {
  std::vector<absl::Duration> took;
  took.reserve(calls);
  for (int i = 0; i < calls; ++i) {
    std::promise<PolicyVerdict> p;
    const absl::Time start = absl::Now();
    engine.Verify("bench", start + absl::Seconds(5), claim,
                  [&p](PolicyVerdict v) { p.set_value(std::move(v)); });
    PolicyVerdict v = p.get_future().get();
    took.push_back(absl::Now() - start);
    if (v.outcome != idv::v1::VERIFIED) {
      std::cerr << "unexpected outcome " << idv::v1::Outcome_Name(v.outcome) << "\n";
      std::exit(1);
    }
  }
  return took;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int calls = absl::GetFlag(FLAGS_calls);
  const std::string sim = absl::GetFlag(FLAGS_sim);
  if (sim.empty()) {
    std::cerr << "usage: policy_engine_bench --sim HOST:PORT [--calls N]\n";
    return 2;
  }
  // A person the simulator holds: population seed 1 (the simulator's default), person 0.
  auto claim = std::make_shared<idv::identity::NormalizedClaim>();
  claim->document_type = idv::v1::CN_RESIDENT_ID;
  claim->document_number = "120101201401014623";
  claim->full_name = "王浩辉";

  idv::verifiers::VerifierRegistry registry;
  if (!idv::verifiers::RegisterBuiltinVerifiers(registry).ok() ||
      !registry.Register(std::make_unique<InstantFactory>()).ok()) {
    return 1;
  }
  idv::config::v1::BackendConfig instant;
  instant.set_name("instant");
  instant.mutable_typed_config()->set_type_url("type.googleapis.com/google.protobuf.Empty");
  const Percentiles engine_only = Summarize(TimeEngine(*Engine(instant, registry), claim, calls));

  auto channel = grpc::CreateChannel(sim, grpc::InsecureChannelCredentials());
  auto stub = idv::plugin::v1::VerifierPlugin::NewStub(channel);
  idv::plugin::v1::CheckRequest req;
  req.set_document_type(claim->document_type);
  req.set_document_number(claim->document_number);
  req.set_full_name(claim->full_name);
  std::vector<absl::Duration> direct;
  for (int i = 0; i < calls + 200; ++i) {  // the first 200 warm the connection up
    grpc::ClientContext ctx;
    idv::plugin::v1::CheckResponse resp;
    const absl::Time start = absl::Now();
    grpc::Status s = stub->Check(&ctx, req, &resp);
    if (!s.ok() || resp.verdict() != idv::plugin::v1::MATCH) {
      std::cerr << "simulator at " << sim << " did not match: " << s.error_message() << "\n";
      return 1;
    }
    if (i >= 200) direct.push_back(absl::Now() - start);
  }
  const Percentiles direct_p = Summarize(direct);

  idv::config::v1::BackendConfig plugin;
  plugin.set_name("sim");
  idv::config::v1::GrpcPluginConfig pc;
  pc.set_target(sim);
  pc.set_plaintext(true);
  plugin.mutable_typed_config()->PackFrom(pc);
  auto via = Engine(plugin, registry);
  TimeEngine(*via, claim, 200);  // warm-up
  const Percentiles via_p = Summarize(TimeEngine(*via, claim, calls));

  std::cout << absl::StrFormat("%-12s %10s %10s   (%d sequential calls each, microseconds)\n",
                               "series", "p50", "p99", calls);
  std::cout << absl::StrFormat("%-12s %10.1f %10.1f\n", "engine-only", engine_only.p50,
                               engine_only.p99);
  std::cout << absl::StrFormat("%-12s %10.1f %10.1f\n", "direct", direct_p.p50, direct_p.p99);
  std::cout << absl::StrFormat("%-12s %10.1f %10.1f\n", "via-engine", via_p.p50, via_p.p99);
  std::cout << absl::StrFormat("%-12s %10.1f %10.1f\n", "added", via_p.p50 - direct_p.p50,
                               via_p.p99 - direct_p.p99);
  return 0;
}
