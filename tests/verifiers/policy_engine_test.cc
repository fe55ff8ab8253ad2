#include "verifiers/policy_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <set>

#include "absl/strings/str_cat.h"
#include "verifiers/circuit_breaker.h"
#include "verifiers/grpc_plugin/config.h"
#include "verifiers/grpc_plugin/grpc_plugin_verifier.h"
#include "verifiers/single_flight.h"

namespace idv::verifiers {
namespace {

using idv::config::v1::BackendConfig;
using idv::config::v1::Policy;

// A backend scripted by its name's first part: "verified", "mismatch", "notfound", "down",
// "weak" (a non-authoritative match), "carrier" (a match confirming the phone too), or "held"
// (answers only when the test releases it, or UNAVAILABLE when cancelled). A name that contains
// "carrier" makes a backend that needs the phone and can confirm it.
class FakeVerifier final : public Verifier {
 public:
  struct Shared {
    std::atomic<int> calls{0};
    std::atomic<int> cancelled{0};
    std::mutex mu;
    std::vector<absl::AnyInvocable<void(CheckResult) &&>> held;  // guarded by mu
  };

  FakeVerifier(std::string name, Shared* shared)
      : info_{name, name.rfind("weak", 0) != 0, name.find("carrier") != std::string::npos,
              name.find("carrier") != std::string::npos
                  ? kNumberAndName | ElementBit(idv::v1::PHONE_NUMBER)
                  : Elements{0}},
        behaviour_(name.substr(0, name.find('-'))),
        shared_(shared) {}
  const VerifierInfo& Info() const override { return info_; }

  void Check(const CheckContext& ctx, const identity::NormalizedClaim&,
             absl::AnyInvocable<void(CheckResult) &&> done) override {
    shared_->calls.fetch_add(1);
    EXPECT_LT(ctx.deadline, absl::InfiniteFuture());  // the engine always sets one
    if (behaviour_ == "held") {
      auto slot = std::make_shared<std::atomic<bool>>(false);
      auto answer = std::make_shared<absl::AnyInvocable<void(CheckResult) &&>>(std::move(done));
      auto once = [slot, answer](CheckResult r) {
        if (!slot->exchange(true)) std::move (*answer)(std::move(r));
      };
      if (ctx.cancellation) {
        ctx.cancellation->OnCancel([once, shared = shared_]() mutable {
          shared->cancelled.fetch_add(1);
          once(CheckResult{});  // UNAVAILABLE
        });
      }
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->held.push_back(once);
      return;
    }
    CheckResult r;
    if (behaviour_ == "verified" || behaviour_ == "weak") {
      r.outcome = idv::v1::VERIFIED;
      r.reason = idv::v1::ELEMENTS_MATCH;
    } else if (behaviour_ == "carrier") {
      r.outcome = idv::v1::VERIFIED;
      r.reason = idv::v1::ELEMENTS_MATCH;
      r.confirmed = kNumberAndName | ElementBit(idv::v1::PHONE_NUMBER);
    } else if (behaviour_ == "mismatch") {
      r.outcome = idv::v1::MISMATCH;
      r.reason = idv::v1::NAME_MISMATCH;
    } else if (behaviour_ == "notfound") {
      r.outcome = idv::v1::NOT_FOUND;
      r.reason = idv::v1::NO_RECORD;
    }
    r.raw_code = behaviour_;
    std::move(done)(r);
  }

 private:
  VerifierInfo info_;
  std::string behaviour_;
  Shared* shared_;
};

class FakeFactory final : public VerifierFactory {
 public:
  explicit FakeFactory(FakeVerifier::Shared* shared) : shared_(shared) {}
  std::string ConfigType() const override { return "google.protobuf.Empty"; }
  absl::StatusOr<std::unique_ptr<Verifier>> Create(const BackendConfig& c) const override {
    created.fetch_add(1);
    return std::unique_ptr<Verifier>(std::make_unique<FakeVerifier>(c.name(), shared_));
  }
  mutable std::atomic<int> created{0};

 private:
  FakeVerifier::Shared* shared_;
};

class PolicyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto factory = std::make_unique<FakeFactory>(&shared_);
    factory_ = factory.get();
    ASSERT_TRUE(registry_.Register(std::move(factory)).ok());
  }

  static BackendConfig Backend(const std::string& name) {
    BackendConfig b;
    b.set_name(name);
    b.mutable_typed_config()->set_type_url("type.googleapis.com/google.protobuf.Empty");
    return b;
  }

  absl::StatusOr<std::shared_ptr<PolicyEngine>> Engine(
      const std::vector<std::string>& order, Policy::Strategy strategy = Policy::FIRST_DEFINITIVE,
      uint32_t quorum = 0, absl::Duration hedge = absl::ZeroDuration(),
      const PolicyEngine* previous = nullptr) {
    google::protobuf::RepeatedPtrField<BackendConfig> backends;
    std::set<std::string> seen;
    for (const std::string& b : order) {
      if (seen.insert(b).second) *backends.Add() = Backend(b);
    }
    google::protobuf::RepeatedPtrField<Policy> policies;
    Policy* p = policies.Add();
    p->set_name("p");
    p->add_document_types(idv::v1::CN_RESIDENT_ID);
    for (const std::string& b : order) p->add_backends(b);
    p->set_strategy(strategy);
    p->set_quorum(quorum);
    for (idv::v1::Element e : required_) p->add_required_elements(e);
    if (hedge > absl::ZeroDuration()) {
      p->mutable_hedge_after()->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(hedge)));
    }
    return PolicyEngine::Create(backends, policies, registry_, previous);
  }

  static std::shared_ptr<const identity::NormalizedClaim> Claim(std::string phone = "") {
    auto c = std::make_shared<identity::NormalizedClaim>();
    c->document_type = idv::v1::CN_RESIDENT_ID;
    c->phone_number = std::move(phone);
    return c;
  }

  PolicyVerdict Run(const PolicyEngine& engine, std::string phone = "") {
    std::promise<PolicyVerdict> p;
    engine.Verify("id", absl::Now() + absl::Seconds(10), Claim(std::move(phone)),
                  [&p](PolicyVerdict v) { p.set_value(std::move(v)); });
    return p.get_future().get();
  }

  // Releases every held call with `outcome`.
  void ReleaseHeld(idv::v1::Outcome outcome) {
    std::vector<absl::AnyInvocable<void(CheckResult) &&>> held;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      held.swap(shared_.held);
    }
    for (auto& h : held) {
      CheckResult r;
      r.outcome = outcome;
      r.reason = idv::v1::ELEMENTS_MATCH;
      std::move(h)(r);
    }
  }

  // The policy's required_elements.
  std::vector<idv::v1::Element> required_;
  VerifierRegistry registry_;
  FakeVerifier::Shared shared_;
  FakeFactory* factory_ = nullptr;
};

TEST_F(PolicyEngineTest, FirstDefinitiveAnswerWins) {
  auto engine = Engine({"mismatch", "verified"});
  ASSERT_TRUE(engine.ok()) << engine.status();
  PolicyVerdict v = Run(**engine);
  EXPECT_EQ(v.outcome, idv::v1::MISMATCH);
  ASSERT_EQ(v.checks.size(), 1u);
  EXPECT_EQ(shared_.calls, 1);
}

TEST_F(PolicyEngineTest, FallsBackWhenABackendGivesNoAnswer) {
  auto engine = Engine({"down", "verified"});
  ASSERT_TRUE(engine.ok());
  PolicyVerdict v = Run(**engine);
  EXPECT_EQ(v.outcome, idv::v1::VERIFIED);
  ASSERT_EQ(v.checks.size(), 2u);
  EXPECT_EQ(v.checks[0].backend, "down");
  EXPECT_EQ(v.checks[0].result.outcome, idv::v1::UNAVAILABLE);
}

TEST_F(PolicyEngineTest, SilenceIsNeverVerified) {
  auto engine = Engine({"down", "down-2", "weak"});
  ASSERT_TRUE(engine.ok());
  PolicyVerdict v = Run(**engine);
  EXPECT_EQ(v.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(v.reason, idv::v1::AUTHORITY_ERROR);
  EXPECT_EQ(v.checks.size(), 3u);  // a non-authoritative match is not an answer
}

TEST_F(PolicyEngineTest, AllAgree) {
  auto yes = Engine({"verified", "verified-2"}, Policy::ALL_AGREE);
  ASSERT_TRUE(yes.ok());
  EXPECT_EQ(Run(**yes).outcome, idv::v1::VERIFIED);
  auto no = Engine({"verified", "notfound"}, Policy::ALL_AGREE);
  EXPECT_EQ(Run(**no).outcome, idv::v1::NOT_FOUND);
  auto partial = Engine({"verified", "down"}, Policy::ALL_AGREE);
  EXPECT_EQ(Run(**partial).outcome, idv::v1::UNAVAILABLE);  // cannot confirm all agree
}

TEST_F(PolicyEngineTest, Quorum) {
  auto two_of_three = Engine({"verified", "down", "verified-2"}, Policy::QUORUM, 2);
  ASSERT_TRUE(two_of_three.ok());
  EXPECT_EQ(Run(**two_of_three).outcome, idv::v1::VERIFIED);
  auto no_quorum = Engine({"verified", "mismatch", "down"}, Policy::QUORUM, 2);
  EXPECT_EQ(Run(**no_quorum).outcome, idv::v1::MISMATCH);  // the negative answer, not VERIFIED
  auto silent = Engine({"verified", "down", "down-2"}, Policy::QUORUM, 2);
  EXPECT_EQ(Run(**silent).outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(Engine({"verified"}, Policy::QUORUM, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PolicyEngineTest, HedgingAsksTheNextBackendAndCancelsTheLoser) {
  auto engine = Engine({"held", "verified"}, Policy::FIRST_DEFINITIVE, 0, absl::Milliseconds(20));
  ASSERT_TRUE(engine.ok());
  PolicyVerdict v = Run(**engine);  // "held" never answers by itself: only the hedge can win
  EXPECT_EQ(v.outcome, idv::v1::VERIFIED);
  EXPECT_EQ(v.checks.back().backend, "verified");
  EXPECT_EQ(shared_.calls, 2);
  EXPECT_EQ(shared_.cancelled, 1);  // the held call was cancelled once the decision was made
}

TEST_F(PolicyEngineTest, WithoutHedgingASlowBackendIsWaitedFor) {
  auto engine = Engine({"held", "verified"});
  ASSERT_TRUE(engine.ok());
  std::promise<PolicyVerdict> p;
  (*engine)->Verify("id", absl::Now() + absl::Seconds(10), Claim(),
                    [&p](PolicyVerdict v) { p.set_value(std::move(v)); });
  EXPECT_EQ(shared_.calls, 1);
  ReleaseHeld(idv::v1::MISMATCH);
  EXPECT_EQ(p.get_future().get().outcome, idv::v1::MISMATCH);
  EXPECT_EQ(shared_.calls, 1);
}

TEST_F(PolicyEngineTest, NoPolicyMeansNoAuthority) {
  auto engine = Engine({});
  ASSERT_TRUE(engine.ok());
  PolicyVerdict v = Run(**engine);
  EXPECT_EQ(v.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(v.reason, idv::v1::NO_AUTHORITY_CONFIGURED);
  EXPECT_EQ(shared_.calls, 0);
}

TEST_F(PolicyEngineTest, BackendsThatNeedAPhoneAreSkippedForClaimsWithout) {
  VerifierRegistry registry;
  ASSERT_TRUE(RegisterBuiltinVerifiers(registry).ok());
  google::protobuf::RepeatedPtrField<BackendConfig> backends;
  BackendConfig* b = backends.Add();
  b->set_name("carrier");
  idv::config::v1::GrpcPluginConfig plugin;
  plugin.set_target("127.0.0.1:1");  // never reached
  plugin.set_plaintext(true);
  plugin.set_requires_phone(true);
  b->mutable_typed_config()->PackFrom(plugin);
  for (Policy::Strategy s : {Policy::FIRST_DEFINITIVE, Policy::ALL_AGREE}) {
    google::protobuf::RepeatedPtrField<Policy> policies;
    policies.Add()->add_backends("carrier");
    policies.Mutable(0)->add_document_types(idv::v1::CN_RESIDENT_ID);
    policies.Mutable(0)->set_strategy(s);
    auto engine = PolicyEngine::Create(backends, policies, registry);
    ASSERT_TRUE(engine.ok());
    PolicyVerdict v = Run(**engine);  // the claim has no phone number
    EXPECT_EQ(v.outcome, idv::v1::UNAVAILABLE);
    EXPECT_EQ(v.reason, idv::v1::NO_AUTHORITY_CONFIGURED);
    EXPECT_TRUE(v.checks.empty());
  }
}

TEST_F(PolicyEngineTest, UnchangedBackendsAreSharedWithThePreviousEngine) {
  auto first = Engine({"verified", "mismatch"});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(factory_->created, 2);
  auto second = Engine({"verified", "notfound"}, Policy::FIRST_DEFINITIVE, 0, absl::ZeroDuration(),
                       first->get());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(factory_->created, 3);  // only "notfound" is new
  EXPECT_EQ((*first)->backend("verified"), (*second)->backend("verified"));
}

TEST_F(PolicyEngineTest, RejectsInconsistentConfig) {
  google::protobuf::RepeatedPtrField<BackendConfig> backends;
  *backends.Add() = Backend("verified");
  google::protobuf::RepeatedPtrField<Policy> policies;
  policies.Add()->add_backends("missing");
  EXPECT_EQ(PolicyEngine::Create(backends, policies, registry_).status().code(),
            absl::StatusCode::kInvalidArgument);
  *backends.Add() = Backend("verified");
  EXPECT_EQ(PolicyEngine::Create(backends, {}, registry_).status().code(),
            absl::StatusCode::kInvalidArgument);
  backends.Clear();
  *backends.Add() = Backend("Bad Name");
  EXPECT_EQ(PolicyEngine::Create(backends, {}, registry_).status().code(),
            absl::StatusCode::kInvalidArgument);
  backends.Clear();
  BackendConfig unknown = Backend("x");
  unknown.mutable_typed_config()->set_type_url("type.googleapis.com/no.such.Config");
  *backends.Add() = unknown;
  EXPECT_EQ(PolicyEngine::Create(backends, {}, registry_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CircuitBreakerTest, OpensHalfOpensAndCloses) {
  absl::Time now = absl::FromUnixSeconds(1000);
  CircuitBreakerOptions o;
  o.min_calls = 4;
  o.window = 4;
  o.failure_rate = 0.5;
  o.open_for = absl::Seconds(5);
  o.clock = [&now] { return now; };
  std::vector<std::string> transitions;  // what idvd logs
  o.on_transition = [&transitions](const char* from, const char* to, const std::string& why) {
    transitions.push_back(absl::StrCat(from, " -> ", to, " (", why, ")"));
  };
  CircuitBreaker breaker(o);
  for (bool ok : {true, false, true, false}) breaker.Record(breaker.Allow(), ok);
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kOpen);  // 2 of 4 failed
  EXPECT_FALSE(breaker.Allow().allowed);
  now += absl::Seconds(5);
  CircuitBreaker::Permit probe = breaker.Allow();
  EXPECT_TRUE(probe.allowed && probe.probe);
  EXPECT_FALSE(breaker.Allow().allowed);  // one probe at a time
  breaker.Record(probe, false);
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kOpen);  // failed probe: open again
  now += absl::Seconds(5);
  probe = breaker.Allow();
  breaker.Record(probe, true);
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kClosed);
  EXPECT_TRUE(breaker.Allow().allowed);
  EXPECT_THAT(transitions,
              testing::ElementsAre("closed -> open (2 of 4 recent calls failed)",
                                   "open -> half_open (open time over: one probe call)",
                                   "half_open -> open (the probe call failed)",
                                   "open -> half_open (open time over: one probe call)",
                                   "half_open -> closed (the probe call succeeded)"));
}

TEST(CircuitBreakerTest, StaysClosedBelowTheRateOrTheMinimum) {
  CircuitBreakerOptions o;
  o.min_calls = 10;
  CircuitBreaker few(o);
  for (int i = 0; i < 9; ++i) few.Record(few.Allow(), false);
  EXPECT_EQ(few.state(), CircuitBreaker::State::kClosed);  // fewer than min_calls
  few.Record(few.Allow(), false);
  EXPECT_EQ(few.state(), CircuitBreaker::State::kOpen);  // the tenth failure
  CircuitBreaker some(o);
  for (int i = 0; i < 60; ++i) some.Record(some.Allow(), i % 3 != 0);
  EXPECT_EQ(some.state(), CircuitBreaker::State::kClosed);  // a third failed, below one half
}

// A backend that answers UNAVAILABLE, as a refusal it answered (`answered`) or as a failure.
class Refusing final : public Verifier {
 public:
  explicit Refusing(bool answered) : answered_(answered) {}
  const VerifierInfo& Info() const override { return info_; }
  void Check(const CheckContext&, const identity::NormalizedClaim&,
             absl::AnyInvocable<void(CheckResult) &&> done) override {
    CheckResult r;  // UNAVAILABLE
    r.answered = answered_;
    std::move(done)(std::move(r));
  }

 private:
  const bool answered_;
  const VerifierInfo info_{"refusing", true, false, kNumberAndName};
};

TEST(GuardedVerifierTest, RefusalsTheBackendAnsweredDoNotOpenTheBreaker) {
  for (bool answered : {true, false}) {
    CircuitBreakerOptions o;
    o.min_calls = 4;
    o.window = 4;
    GuardedVerifier guarded(std::make_unique<Refusing>(answered), 0, o);
    identity::NormalizedClaim claim;
    for (int i = 0; i < 6; ++i) guarded.Check(CheckContext{}, claim, [](CheckResult) {});
    EXPECT_EQ(guarded.breaker().state(),
              answered ? CircuitBreaker::State::kClosed : CircuitBreaker::State::kOpen);
  }
}

TEST_F(PolicyEngineTest, BulkheadRefusesCallsBeyondTheCap) {
  GuardedVerifier guarded(std::make_unique<FakeVerifier>("held", &shared_), 1,
                          CircuitBreakerOptions{});
  identity::NormalizedClaim claim;
  CheckContext ctx;
  ctx.deadline = absl::Now() + absl::Seconds(1);
  std::vector<CheckResult> results;
  guarded.Check(ctx, claim, [&results](CheckResult r) { results.push_back(r); });
  guarded.Check(ctx, claim, [&results](CheckResult r) { results.push_back(r); });
  ASSERT_EQ(results.size(), 1u);  // the second was refused at once
  EXPECT_EQ(results[0].raw_code, "idv:bulkhead_full");
  EXPECT_EQ(guarded.in_flight(), 1);
  ReleaseHeld(idv::v1::VERIFIED);
  EXPECT_EQ(guarded.in_flight(), 0);
  EXPECT_EQ(shared_.calls, 1);
}

TEST(SingleFlightTest, ConcurrentCallersShareOneCall) {
  SingleFlight<int> flights;
  absl::AnyInvocable<void(int) &&> finish;
  int starts = 0;
  std::vector<int> got;
  for (int i = 0; i < 5; ++i) {
    flights.Do(
        "k",
        [&](absl::AnyInvocable<void(int) &&> done) {
          ++starts;
          finish = std::move(done);
        },
        [&got](const int& v) { got.push_back(v); });
  }
  EXPECT_EQ(starts, 1);
  std::move(finish)(42);
  EXPECT_EQ(got, std::vector<int>(5, 42));
  // A later call starts afresh.
  flights.Do(
      "k",
      [&](auto done) {
        ++starts;
        std::move(done)(7);
      },
      [&got](const int& v) { got.push_back(v); });
  EXPECT_EQ(starts, 2);
  EXPECT_EQ(got.back(), 7);
}

TEST(RegistryTest, RegisteringTwiceIsAnErrorAndReplaceSwaps) {
  VerifierRegistry registry;
  ASSERT_TRUE(RegisterBuiltinVerifiers(registry).ok());
  EXPECT_EQ(RegisterBuiltinVerifiers(registry).code(), absl::StatusCode::kAlreadyExists);
  std::unique_ptr<VerifierFactory> old = registry.Replace(std::make_unique<GrpcPluginFactory>());
  EXPECT_NE(old, nullptr);
}

TEST(FormatBackendTest, NeverMakesAClaimVerified) {
  VerifierRegistry registry;
  ASSERT_TRUE(RegisterBuiltinVerifiers(registry).ok());
  google::protobuf::RepeatedPtrField<BackendConfig> backends;
  BackendConfig* b = backends.Add();
  b->set_name("format");
  b->mutable_typed_config()->PackFrom(idv::config::v1::FormatConfig());
  google::protobuf::RepeatedPtrField<Policy> policies;
  policies.Add()->add_backends("format");
  policies.Mutable(0)->add_document_types(idv::v1::CN_RESIDENT_ID);
  auto engine = PolicyEngine::Create(backends, policies, registry);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto claim = std::make_shared<identity::NormalizedClaim>();
  claim->document_type = idv::v1::CN_RESIDENT_ID;
  std::promise<PolicyVerdict> p;
  (*engine)->Verify("id", absl::Now() + absl::Seconds(1), claim,
                    [&p](PolicyVerdict v) { p.set_value(std::move(v)); });
  PolicyVerdict v = p.get_future().get();
  EXPECT_EQ(v.outcome, idv::v1::UNAVAILABLE);
  ASSERT_EQ(v.checks.size(), 1u);
  EXPECT_EQ(v.checks[0].result.raw_code, "FORMAT-OK");
}

TEST(GrpcPluginTest, PlaintextOnlyToLoopback) {
  EXPECT_TRUE(IsLoopbackTarget("127.0.0.1:7600"));
  EXPECT_TRUE(IsLoopbackTarget("localhost:7600"));
  EXPECT_TRUE(IsLoopbackTarget("ipv6:[::1]:7600"));
  EXPECT_TRUE(IsLoopbackTarget("dns:///localhost:7600"));
  EXPECT_FALSE(IsLoopbackTarget("10.0.0.1:7600"));
  EXPECT_FALSE(IsLoopbackTarget("localhost.evil.example:7600"));
  EXPECT_TRUE(IsLoopbackTarget("ipv4:127.0.0.2:7600"));
  EXPECT_FALSE(IsLoopbackTarget("127.0.0.1.example.com:443"));
  EXPECT_FALSE(IsLoopbackTarget("dns:///127.evil.example:443"));
  EXPECT_FALSE(IsLoopbackTarget("[::1]x:7600"));
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
  r.set_verdict(idv::plugin::v1::MATCH);
  EXPECT_EQ(MapPluginAnswer(grpc::Status(grpc::StatusCode::UNAVAILABLE, ""), r).outcome,
            idv::v1::UNAVAILABLE);
}

constexpr Elements kWithPhone = kNumberAndName | ElementBit(idv::v1::PHONE_NUMBER);

TEST_F(PolicyEngineTest, AVerifiedAnswerSaysWhatWasConfirmedAndWhoDecided) {
  auto engine = Engine({"down-carrier", "verified"});
  ASSERT_TRUE(engine.ok()) << engine.status();
  PolicyVerdict v = Run(**engine, "+8613800138000");
  EXPECT_EQ(v.outcome, idv::v1::VERIFIED);
  EXPECT_EQ(v.confirmed, kNumberAndName);  // the fallback did not check the phone, and says so
  EXPECT_EQ(v.decided_by, std::vector<std::string>{"verified"});
  engine = Engine({"carrier", "verified"});
  ASSERT_TRUE(engine.ok());
  v = Run(**engine, "+8613800138000");
  EXPECT_EQ(v.confirmed, kWithPhone);
  EXPECT_EQ(v.decided_by, std::vector<std::string>{"carrier"});
  ASSERT_EQ(v.checks.size(), 1u);
  EXPECT_EQ(v.checks[0].result.confirmed, kWithPhone);
}

TEST_F(PolicyEngineTest, ARequiredPhoneIsNeverVerifiedByAFallbackThatCannotCheckIt) {
  required_ = {idv::v1::PHONE_NUMBER};
  auto engine = Engine({"down-carrier", "verified"});
  ASSERT_TRUE(engine.ok()) << engine.status();
  PolicyVerdict v = Run(**engine, "+8613800138000");
  EXPECT_EQ(v.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(v.reason, idv::v1::ELEMENTS_NOT_CONFIRMED);
  EXPECT_EQ(v.confirmed, 0u);
  ASSERT_EQ(v.checks.size(), 2u);  // both were asked; the registry's match decided nothing
  EXPECT_EQ(v.checks[1].result.outcome, idv::v1::VERIFIED);
  EXPECT_TRUE(v.decided_by.empty());
  // A carrier that answers decides.
  engine = Engine({"carrier", "verified"});
  ASSERT_TRUE(engine.ok());
  v = Run(**engine, "+8613800138000");
  EXPECT_EQ(v.outcome, idv::v1::VERIFIED);
  EXPECT_EQ(v.confirmed, kWithPhone);
  // A registry's match, then the carrier's, in order: the carrier decides.
  engine = Engine({"verified", "carrier"});
  ASSERT_TRUE(engine.ok());
  v = Run(**engine, "+8613800138000");
  EXPECT_EQ(v.outcome, idv::v1::VERIFIED);
  EXPECT_EQ(v.decided_by, std::vector<std::string>{"carrier"});
  // A negative answer from the registry still decides: the claim is wrong whatever the phone.
  engine = Engine({"down-carrier", "mismatch"});
  ASSERT_TRUE(engine.ok());
  v = Run(**engine, "+8613800138000");
  EXPECT_EQ(v.outcome, idv::v1::MISMATCH);
  EXPECT_EQ(v.decided_by, std::vector<std::string>{"mismatch"});
}

TEST_F(PolicyEngineTest, ARequiredPhoneMissingFromTheClaimIsInvalid) {
  required_ = {idv::v1::PHONE_NUMBER};
  auto engine = Engine({"carrier", "verified"});
  ASSERT_TRUE(engine.ok());
  PolicyVerdict v = Run(**engine);
  EXPECT_EQ(v.outcome, idv::v1::INVALID);
  EXPECT_EQ(v.reason, idv::v1::FIELD_MISSING);
  EXPECT_EQ(shared_.calls, 0);  // no authority was asked
}

TEST_F(PolicyEngineTest, APolicyRequiringWhatNoBackendConfirmsIsRefused) {
  required_ = {idv::v1::PHONE_NUMBER};
  auto engine =
      Engine({"verified", "weak-carrier"});  // a non-authoritative carrier confirms nothing
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(engine.status().message()),
              ::testing::HasSubstr("requires PHONE_NUMBER, which none of its backends confirms"));
}

TEST_F(PolicyEngineTest, AgreeingBackendsConfirmRequiredElementsTogether) {
  required_ = {idv::v1::PHONE_NUMBER};
  auto engine = Engine({"carrier", "verified"}, Policy::ALL_AGREE);
  ASSERT_TRUE(engine.ok());
  PolicyVerdict v = Run(**engine, "+8613800138000");
  EXPECT_EQ(v.outcome, idv::v1::VERIFIED);
  EXPECT_EQ(v.confirmed, kWithPhone);
  EXPECT_EQ(v.decided_by.size(), 2u);
  // A quorum of two registries cannot confirm the phone the policy requires.
  engine = Engine({"verified", "verified-2", "down-carrier"}, Policy::QUORUM, 2);
  ASSERT_TRUE(engine.ok());
  v = Run(**engine, "+8613800138000");
  EXPECT_EQ(v.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(v.reason, idv::v1::ELEMENTS_NOT_CONFIRMED);
}

}  // namespace
}  // namespace idv::verifiers
