#include "verifiers/policy_engine.h"

#include <gtest/gtest.h>

#include <future>

#include "verifiers/grpc_plugin/config.h"
#include "verifiers/grpc_plugin/grpc_plugin_verifier.h"

namespace idv::verifiers {
namespace {

using idv::config::v1::BackendConfig;
using idv::config::v1::ServerConfig;

// A backend whose answers the test scripts by name: "verified", "mismatch", "down", "silent"
// (never answers until the deadline), "weak" (a non-authoritative match).
class FakeVerifier final : public Verifier {
 public:
  FakeVerifier(std::string name, std::string behaviour, std::atomic<int>* calls)
      : info_{std::move(name), behaviour != "weak"},
        behaviour_(std::move(behaviour)),
        calls_(calls) {}
  const VerifierInfo& Info() const override { return info_; }
  void Check(const CheckContext& ctx, const identity::NormalizedClaim&,
             absl::AnyInvocable<void(CheckResult) &&> done) override {
    calls_->fetch_add(1);
    CheckResult r;
    if (behaviour_ == "verified" || behaviour_ == "weak") {
      r.outcome = idv::v1::VERIFIED;
      r.reason = idv::v1::ELEMENTS_MATCH;
    } else if (behaviour_ == "mismatch") {
      r.outcome = idv::v1::MISMATCH;
      r.reason = idv::v1::NAME_MISMATCH;
    } else if (behaviour_ == "silent") {
      r.reason = idv::v1::AUTHORITY_TIMEOUT;
      EXPECT_LT(ctx.deadline, absl::InfiniteFuture());  // the engine always sets one
    }
    r.raw_code = behaviour_;
    std::move(done)(r);
  }

 private:
  VerifierInfo info_;
  std::string behaviour_;
  std::atomic<int>* calls_;
};

// Config type "fake": BackendConfig.name is "<behaviour>" or "<behaviour>-<n>".
class FakeFactory final : public VerifierFactory {
 public:
  explicit FakeFactory(std::atomic<int>* calls) : calls_(calls) {}
  std::string ConfigType() const override { return "google.protobuf.Empty"; }
  absl::StatusOr<std::unique_ptr<Verifier>> Create(const BackendConfig& c) const override {
    return std::unique_ptr<Verifier>(
        std::make_unique<FakeVerifier>(c.name(), c.name().substr(0, c.name().find('-')), calls_));
  }

 private:
  std::atomic<int>* calls_;
};

class PolicyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.Register(std::make_unique<FakeFactory>(&calls_)).ok());
  }

  absl::StatusOr<std::unique_ptr<PolicyEngine>> Engine(const std::vector<std::string>& backends,
                                                       const std::vector<std::string>& order) {
    ServerConfig config;
    for (const std::string& b : backends) {
      BackendConfig* bc = config.add_backends();
      bc->set_name(b);
      bc->mutable_typed_config()->set_type_url("type.googleapis.com/google.protobuf.Empty");
    }
    auto* p = config.add_policies();
    p->add_document_types(idv::v1::CN_RESIDENT_ID);
    for (const std::string& b : order) p->add_backends(b);
    return PolicyEngine::Create(config, registry_);
  }

  PolicyVerdict Run(const PolicyEngine& engine) {
    identity::NormalizedClaim claim;
    claim.document_type = idv::v1::CN_RESIDENT_ID;
    std::promise<PolicyVerdict> p;
    engine.Verify("id", absl::InfiniteFuture(), claim,
                  [&p](PolicyVerdict v) { p.set_value(std::move(v)); });
    return p.get_future().get();
  }

  VerifierRegistry registry_;
  std::atomic<int> calls_{0};
};

TEST_F(PolicyEngineTest, FirstDefinitiveAnswerWins) {
  auto engine = Engine({"mismatch", "verified"}, {"mismatch", "verified"});
  ASSERT_TRUE(engine.ok()) << engine.status();
  PolicyVerdict v = Run(**engine);
  EXPECT_EQ(v.outcome, idv::v1::MISMATCH);
  ASSERT_EQ(v.checks.size(), 1u);
  EXPECT_EQ(calls_, 1);
}

TEST_F(PolicyEngineTest, FallsBackWhenABackendGivesNoAnswer) {
  auto engine = Engine({"down", "verified"}, {"down", "verified"});
  ASSERT_TRUE(engine.ok());
  PolicyVerdict v = Run(**engine);
  EXPECT_EQ(v.outcome, idv::v1::VERIFIED);
  ASSERT_EQ(v.checks.size(), 2u);
  EXPECT_EQ(v.checks[0].backend, "down");
  EXPECT_EQ(v.checks[0].result.outcome, idv::v1::UNAVAILABLE);
}

TEST_F(PolicyEngineTest, SilenceIsNeverVerified) {
  auto engine = Engine({"down", "silent", "weak"}, {"down", "silent", "weak"});
  ASSERT_TRUE(engine.ok());
  PolicyVerdict v = Run(**engine);
  EXPECT_EQ(v.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(v.checks.size(), 3u);  // a non-authoritative match is not an answer
}

TEST_F(PolicyEngineTest, NoPolicyMeansNoAuthority) {
  auto engine = Engine({"verified"}, {});
  ASSERT_TRUE(engine.ok());
  PolicyVerdict v = Run(**engine);
  EXPECT_EQ(v.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(v.reason, idv::v1::NO_AUTHORITY_CONFIGURED);
  EXPECT_EQ(calls_, 0);
}

TEST_F(PolicyEngineTest, RejectsInconsistentConfig) {
  EXPECT_EQ(Engine({"verified"}, {"missing"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Engine({"verified", "verified"}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Engine({"Bad Name"}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  ServerConfig unknown;
  auto* b = unknown.add_backends();
  b->set_name("x");
  b->mutable_typed_config()->set_type_url("type.googleapis.com/no.such.Config");
  EXPECT_EQ(PolicyEngine::Create(unknown, registry_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, RegisteringTwiceIsAnErrorAndReplaceSwaps) {
  VerifierRegistry registry;
  ASSERT_TRUE(RegisterBuiltinVerifiers(registry).ok());
  EXPECT_EQ(RegisterBuiltinVerifiers(registry).code(), absl::StatusCode::kAlreadyExists);
  std::unique_ptr<VerifierFactory> old = registry.Replace(std::make_unique<GrpcPluginFactory>());
  EXPECT_NE(old, nullptr);
}

TEST(GrpcPluginTest, PlaintextOnlyToLoopback) {
  EXPECT_TRUE(IsLoopbackTarget("127.0.0.1:7600"));
  EXPECT_TRUE(IsLoopbackTarget("localhost:7600"));
  EXPECT_TRUE(IsLoopbackTarget("ipv6:[::1]:7600"));
  EXPECT_TRUE(IsLoopbackTarget("dns:///localhost:7600"));
  EXPECT_FALSE(IsLoopbackTarget("10.0.0.1:7600"));
  EXPECT_FALSE(IsLoopbackTarget("localhost.evil.example:7600"));
  EXPECT_FALSE(IsLoopbackTarget("registry.example:443"));

  BackendConfig c;
  c.set_name("r");
  idv::config::v1::GrpcPluginConfig plugin;
  plugin.set_target("registry.example:443");
  plugin.set_plaintext(true);
  c.mutable_typed_config()->PackFrom(plugin);
  EXPECT_EQ(GrpcPluginFactory().Create(c).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GrpcPluginTest, MapsEveryPluginAnswer) {
  using idv::plugin::v1::CheckResponse;
  CheckResponse r;
  r.set_verdict(idv::plugin::v1::MATCH);
  r.set_raw_code("0");
  CheckResult m = MapPluginAnswer(grpc::Status::OK, r);
  EXPECT_EQ(m.outcome, idv::v1::VERIFIED);
  EXPECT_EQ(m.raw_code, "0");

  r.set_verdict(idv::plugin::v1::MISMATCH);
  r.add_mismatched(idv::plugin::v1::FULL_NAME);
  EXPECT_EQ(MapPluginAnswer(grpc::Status::OK, r).reason, idv::v1::NAME_MISMATCH);
  r.add_mismatched(idv::plugin::v1::PHONE_NUMBER);
  EXPECT_EQ(MapPluginAnswer(grpc::Status::OK, r).reason, idv::v1::ELEMENTS_MISMATCH);

  r.Clear();
  r.set_verdict(idv::plugin::v1::NOT_FOUND);
  EXPECT_EQ(MapPluginAnswer(grpc::Status::OK, r).outcome, idv::v1::NOT_FOUND);
  EXPECT_EQ(MapPluginAnswer(grpc::Status::OK, r).raw_code, "NOT_FOUND");
  r.set_verdict(idv::plugin::v1::PENDING);
  EXPECT_EQ(MapPluginAnswer(grpc::Status::OK, r).outcome, idv::v1::PENDING);
  r.set_verdict(idv::plugin::v1::VERDICT_UNSPECIFIED);
  EXPECT_EQ(MapPluginAnswer(grpc::Status::OK, r).outcome, idv::v1::UNAVAILABLE);

  CheckResult timeout =
      MapPluginAnswer(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, ""), CheckResponse());
  EXPECT_EQ(timeout.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(timeout.reason, idv::v1::AUTHORITY_TIMEOUT);
  EXPECT_EQ(timeout.raw_code, "grpc:DEADLINE_EXCEEDED");
  // An error status with a MATCH body is still no answer.
  r.set_verdict(idv::plugin::v1::MATCH);
  EXPECT_EQ(MapPluginAnswer(grpc::Status(grpc::StatusCode::UNAVAILABLE, ""), r).outcome,
            idv::v1::UNAVAILABLE);
}

}  // namespace
}  // namespace idv::verifiers
