// Run-time backends and policies, faults and resilience, with real idvd and simulator processes.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "google/protobuf/text_format.h"
#include "tests/integration/cluster.h"
#include "verifiers/http/http_client.h"

namespace idv {
namespace {

using idv::testing::Cluster;
using idv::testing::Person;

idv::config::v1::BackendConfig PluginBackend(const std::string& name, const std::string& target,
                                             const std::string& extra = "") {
  idv::config::v1::BackendConfig b;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      absl::StrCat("name: \"", name,
                   "\" typed_config { "
                   "[type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: \"",
                   target, "\" plaintext: true } } ", extra),
      &b));
  return b;
}

idv::config::v1::Policy ResidentIdPolicy(const std::vector<std::string>& backends,
                                         const std::string& extra = "") {
  idv::config::v1::Policy p;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      absl::StrCat("name: \"resident\" document_types: CN_RESIDENT_ID ", extra), &p));
  for (const std::string& b : backends) p.add_backends(b);
  return p;
}

grpc::Status PutBackend(Cluster& c, const idv::config::v1::BackendConfig& b, bool probe = false) {
  idv::v1::PutBackendRequest req;
  *req.mutable_backend() = b;
  req.set_probe(probe);
  grpc::ClientContext ctx;
  c.Authorize(ctx);
  idv::v1::ConfigChange change;
  return c.admin().PutBackend(&ctx, req, &change);
}

// A policy change through the first node; with `live_everywhere`, returns once every node has
// the new version (other nodes take it at the store's notification).
grpc::Status PutPolicy(Cluster& c, const idv::config::v1::Policy& p, bool force = false,
                       bool live_everywhere = false) {
  idv::v1::PutPolicyRequest req;
  *req.mutable_policy() = p;
  req.set_force(force);
  grpc::ClientContext ctx;
  c.Authorize(ctx);
  idv::v1::ConfigChange change;
  grpc::Status status = c.admin().PutPolicy(&ctx, req, &change);
  for (size_t node = 0; status.ok() && live_everywhere && node < c.node_count(); ++node) {
    EXPECT_TRUE(c.AwaitConfigVersion(node, change.version(), absl::Seconds(10)));
  }
  return status;
}

grpc::Status DeleteBackend(Cluster& c, const std::string& name) {
  idv::v1::DeleteBackendRequest req;
  req.set_name(name);
  grpc::ClientContext ctx;
  c.Authorize(ctx);
  idv::v1::ConfigChange change;
  return c.admin().DeleteBackend(&ctx, req, &change);
}

std::string BreakerState(Cluster& c, const std::string& backend) {
  grpc::ClientContext ctx;
  c.Authorize(ctx);
  idv::v1::ListBackendsResponse resp;
  EXPECT_TRUE(c.admin().ListBackends(&ctx, {}, &resp).ok());
  for (const auto& b : resp.backends()) {
    if (b.config().name() == backend) return b.breaker();
  }
  return "";
}

idv::sim::v1::Faults Outage(idv::sim::v1::Faults::Outage kind) {
  idv::sim::v1::Faults f;
  f.set_outage(kind);
  return f;
}

// A cluster whose file configuration has no backend at all.
Cluster::Options Bare() {
  Cluster::Options o;
  o.backends_and_policies = "";
  return o;
}

TEST(BackendsTest, BackendAddedThroughAdminServesTheNextRequest) {
  Cluster c(Bare());
  c.Start();
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Person& p = c.people()[0];
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.Verify("a1", p.number, p.name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
  EXPECT_EQ(resp.reason().code(), idv::v1::NO_AUTHORITY_CONFIGURED);

  ASSERT_TRUE(PutBackend(c, PluginBackend("registry", c.sim_address()), /*probe=*/true).ok());
  ASSERT_TRUE(PutPolicy(c, ResidentIdPolicy({"registry"})).ok());
  ASSERT_TRUE(c.Verify("a1", p.number, p.name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(c.SimChecks(), 1u);
  EXPECT_TRUE(c.idvd().running());  // same process: nothing restarted

  // A probe of an unreachable backend refuses the change.
  EXPECT_EQ(PutBackend(c, PluginBackend("ghost", "127.0.0.1:1"), /*probe=*/true).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // A policy naming an unknown backend is refused.
  EXPECT_EQ(PutPolicy(c, ResidentIdPolicy({"nope"})).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A policy change that would leave a document type with no route (every Verify of it answering
// UNAVAILABLE) is refused, stores nothing, and is accepted only when forced.
TEST(BackendsTest, APolicyChangeLeavingADocumentTypeWithoutARouteIsRefused) {
  Cluster c(Cluster::Options{});
  c.Start();
  ASSERT_FALSE(::testing::Test::HasFailure());
  idv::config::v1::Policy passports = ResidentIdPolicy({"sim"});
  passports.set_name("policy-1");  // the file's policy, which routes CN_RESIDENT_ID
  passports.clear_document_types();
  passports.add_document_types(idv::v1::PASSPORT);
  grpc::Status refused = PutPolicy(c, passports);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("CN_RESIDENT_ID"), std::string::npos)
      << refused.error_message();
  const Person& p = c.people()[1];
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.Verify("route-1", p.number, p.name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);  // nothing changed
  ASSERT_TRUE(PutPolicy(c, passports, /*force=*/true, /*live_everywhere=*/true).ok());
  ASSERT_TRUE(c.Verify("route-2", p.number, p.name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
  EXPECT_EQ(resp.reason().code(), idv::v1::NO_AUTHORITY_CONFIGURED);
}

TEST(BackendsTest, DeletingABackendInUseIsRefused) {
  Cluster c(Cluster::Options{});
  c.Start();
  ASSERT_FALSE(::testing::Test::HasFailure());
  grpc::Status refused = DeleteBackend(c, "sim");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("policy-1"), std::string::npos);
  // A second policy for the same document type is refused; the file's policy is "policy-1".
  EXPECT_EQ(PutPolicy(c, ResidentIdPolicy({})).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  idv::config::v1::Policy empty = ResidentIdPolicy({});
  empty.set_name("policy-1");
  empty.clear_document_types();
  ASSERT_TRUE(PutPolicy(c, empty, /*force=*/true).ok());
  EXPECT_TRUE(DeleteBackend(c, "sim").ok());
  EXPECT_EQ(DeleteBackend(c, "sim").error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext ctx;
  c.Authorize(ctx);
  idv::v1::ListConfigVersionsResponse history;
  ASSERT_TRUE(c.admin().ListConfigVersions(&ctx, {}, &history).ok());
  ASSERT_EQ(history.versions_size(), 3);  // seed, policy change, deletion; refusals store nothing
  EXPECT_EQ(history.versions(0).version(), 3u);
  EXPECT_EQ(history.versions(2).actor(), "config-file");

  // Admin calls need the admin role: no key, no change.
  grpc::ClientContext anon;
  idv::v1::ListBackendsResponse list;
  EXPECT_EQ(c.admin().ListBackends(&anon, {}, &list).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(BackendsTest, PolicySwitchUnderLoadFailsNoRequest) {
  Cluster::Options o;
  o.extra_config = "cache { disabled: true }";  // every call must reach a backend
  o.population = 200;
  o.backends_and_policies = R"(
    backends { name: "a" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim0}" plaintext: true } } }
    backends { name: "b" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim1}" plaintext: true } } }
    policies { name: "resident" document_types: CN_RESIDENT_ID backends: "a" }
  )";
  Cluster c(o);
  c.Start({{}, {}});
  ASSERT_FALSE(::testing::Test::HasFailure());

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        const Person& p = c.people()[(t * 50 + i) % c.people().size()];
        idv::v1::VerifyResponse resp;
        grpc::Status s = c.Verify(absl::StrCat("load-", t, "-", i), p.number, p.name, false, &resp);
        (s.ok() && resp.outcome() == idv::v1::VERIFIED ? ok : bad).fetch_add(1);
      }
    });
  }
  auto wait_for = [&](int n) {
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (ok.load() + bad.load() < n && absl::Now() < until) std::this_thread::yield();
  };
  wait_for(200);
  ASSERT_TRUE(PutPolicy(c, ResidentIdPolicy({"b"})).ok());
  const int after_switch = ok.load() + bad.load();
  const uint64_t a_at_switch = c.SimChecks(0);
  wait_for(after_switch + 200);
  const uint64_t a_later = c.SimChecks(0);
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(ok.load(), 400);
  EXPECT_GT(c.SimChecks(1), 150u);  // b took over
  // Requests that started on the old pipeline may still have reached a: at most one per client.
  EXPECT_LE(a_later - a_at_switch, 4u);
}

TEST(BackendsTest, FallbackAbsorbsThirtyPercentErrors) {
  Cluster::Options o;
  o.extra_config = "cache { disabled: true }";  // every call must reach a backend
  o.backends_and_policies = R"(
    backends { name: "flaky" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim0}" plaintext: true } } breaker { disabled: true } }
    backends { name: "steady" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim1}" plaintext: true } } }
    policies { name: "resident" document_types: CN_RESIDENT_ID backends: "flaky" backends: "steady" }
  )";
  Cluster c(o);
  c.Start({{"--error_rate=0.3"}, {}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  int verified = 0;
  for (int i = 0; i < 200; ++i) {
    const Person& p = c.people()[i % c.people().size()];
    idv::v1::VerifyResponse resp;
    ASSERT_TRUE(c.Verify(absl::StrCat("f", i), p.number, p.name, false, &resp).ok());
    verified += resp.outcome() == idv::v1::VERIFIED;
  }
  EXPECT_EQ(verified, 200);
  const idv::sim::v1::Stats flaky = c.SimStats(0);
  EXPECT_GT(flaky.injected_errors(), 30u);             // about 60 of 200
  EXPECT_EQ(c.SimChecks(1), flaky.injected_errors());  // exactly the failed ones fell back
}

TEST(BackendsTest, HungBackendOpensTheBreakerWhichClosesOnRecovery) {
  Cluster::Options o;
  o.backends_and_policies = R"(
    backends {
      name: "r" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim0}" plaintext: true } }
      breaker { min_calls: 4 window: 4 failure_rate: 0.5 open_for { seconds: 1 } }
    }
    policies { name: "resident" document_types: CN_RESIDENT_ID backends: "r" deadline { nanos: 300000000 } }
  )";
  Cluster c(o);
  c.Start();
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Person& p = c.people()[0];
  c.SetFaults(0, Outage(idv::sim::v1::Faults::HANG));
  idv::v1::VerifyResponse resp;
  for (int i = 0; i < 4; ++i) {
    const absl::Time start = absl::Now();
    ASSERT_TRUE(c.Verify("h", p.number, p.name, false, &resp).ok());
    EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
    EXPECT_EQ(resp.reason().code(), idv::v1::AUTHORITY_TIMEOUT);
    EXPECT_LT(absl::Now() - start, absl::Seconds(2));  // the 300 ms deadline, not the hang
  }
  EXPECT_EQ(BreakerState(c, "r"), "open");
  const uint64_t reached = c.SimChecks();
  ASSERT_TRUE(c.Verify("h", p.number, p.name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
  ASSERT_EQ(resp.checks_size(), 1);
  EXPECT_EQ(resp.checks(0).raw_code(), "idv:breaker_open");
  EXPECT_EQ(c.SimChecks(), reached);  // refused without reaching the backend

  c.SetFaults(0, idv::sim::v1::Faults());  // recovered
  const absl::Time recovered = absl::Now();
  bool verified = false;
  while (!verified && absl::Now() - recovered < absl::Seconds(10)) {
    ASSERT_TRUE(c.Verify("h", p.number, p.name, false, &resp).ok());
    verified = resp.outcome() == idv::v1::VERIFIED;
  }
  EXPECT_TRUE(verified);
  EXPECT_EQ(BreakerState(c, "r"), "closed");
}

// A policy `policy` for CN_RESIDENT_ID asking backend `first` (simulator 0; a carrier check when
// `carrier`) and then `second` (simulator 1); with `require_phone`, requiring the phone.
Cluster::Options TwoBackends(const std::string& first, const std::string& second,
                             const std::string& policy, bool carrier, bool require_phone = false) {
  const char* kPlugin =
      "typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: ";
  Cluster::Options o;
  o.backends_and_policies = absl::StrCat(
      "backends { name: \"", first, "\" ", kPlugin, "\"{sim0}\" plaintext: true",
      carrier ? " requires_phone: true" : "", " } } }\n", "backends { name: \"", second, "\" ",
      kPlugin, "\"{sim1}\" plaintext: true } } }\n", "policies { name: \"", policy,
      "\" document_types: CN_RESIDENT_ID backends: \"", first, "\" backends: \"", second, "\"",
      require_phone ? " required_elements: PHONE_NUMBER" : "", " }\n");
  return o;
}

TEST(BackendsTest, FullOutageIsUnavailableNeverVerified) {
  Cluster c(TwoBackends("a", "b", "resident", /*carrier=*/false));
  c.Start({{}, {}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  c.SetFaults(0, Outage(idv::sim::v1::Faults::ERROR));
  c.SetFaults(1, Outage(idv::sim::v1::Faults::ERROR));
  for (int i = 0; i < 20; ++i) {
    const Person& p = c.people()[i];
    idv::v1::VerifyResponse resp;
    ASSERT_TRUE(c.Verify(absl::StrCat("o", i), p.number, p.name, true, &resp).ok());
    EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
    EXPECT_EQ(resp.binding(), idv::v1::NOT_REQUESTED);
  }
}

TEST(BackendsTest, CarrierThreeElementChecks) {
  Cluster c(TwoBackends("carrier", "registry", "resident", /*carrier=*/true));
  c.Start({{"--mode=carrier"}, {}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Person& p = c.people()[0];
  const Person& q = c.people()[1];
  auto verify = [&](const std::string& number, const std::string& name, const std::string& phone) {
    idv::v1::VerifyRequest req;
    req.set_account_id("carrier");
    req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
    req.mutable_claim()->set_document_number(number);
    req.mutable_claim()->set_full_name(name);
    req.mutable_claim()->set_phone_number(phone);
    idv::v1::VerifyResponse resp;
    EXPECT_TRUE(c.VerifyRequest(req, &resp).ok());
    return resp;
  };
  idv::v1::VerifyResponse r = verify(p.number, p.name, p.phone);
  EXPECT_EQ(r.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(r.checks(0).backend(), "carrier");
  EXPECT_THAT(
      r.confirmed_elements(),
      ::testing::ElementsAre(idv::v1::DOCUMENT_NUMBER, idv::v1::FULL_NAME, idv::v1::PHONE_NUMBER));
  EXPECT_THAT(r.decided_by(), ::testing::ElementsAre("carrier"));
  r = verify(p.number, q.name, p.phone);
  EXPECT_EQ(r.reason().code(), idv::v1::NAME_MISMATCH);
  EXPECT_EQ(r.checks(0).raw_code(), "CARRIER-ID-MATCHES-NAME-DIFFERS");
  r = verify(q.number, p.name, p.phone);
  EXPECT_EQ(r.reason().code(), idv::v1::ELEMENTS_MISMATCH);
  EXPECT_EQ(r.checks(0).raw_code(), "CARRIER-NAME-MATCHES-ID-DIFFERS");
  r = verify(q.number, q.name, p.phone);
  EXPECT_EQ(r.checks(0).raw_code(), "CARRIER-PHONE-MATCHES-NEITHER");
  // Without a phone number the carrier is skipped and the registry answers, saying that it
  // confirmed the number and the name only.
  r = verify(p.number, p.name, "");
  EXPECT_EQ(r.outcome(), idv::v1::VERIFIED);
  ASSERT_EQ(r.checks_size(), 1);
  EXPECT_EQ(r.checks(0).backend(), "registry");
  EXPECT_THAT(r.confirmed_elements(),
              ::testing::ElementsAre(idv::v1::DOCUMENT_NUMBER, idv::v1::FULL_NAME));
  EXPECT_THAT(r.decided_by(), ::testing::ElementsAre("registry"));
}

// A telecom sign-up's policy requires the phone: the two-element registry behind the carrier
// can say no, but never yes on its own.
TEST(BackendsTest, ARequiredPhoneIsNeverVerifiedWithoutTheCarrier) {
  Cluster c(
      TwoBackends("carrier", "registry", "telecom", /*carrier=*/true, /*require_phone=*/true));
  c.Start({{"--mode=carrier"}, {}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto verify = [&](const Person& p, const std::string& account, bool with_phone) {
    idv::v1::VerifyRequest req;
    req.set_account_id(account);
    req.mutable_claim()->set_document_type(idv::v1::CN_RESIDENT_ID);
    req.mutable_claim()->set_document_number(p.number);
    req.mutable_claim()->set_full_name(p.name);
    if (with_phone) req.mutable_claim()->set_phone_number(p.phone);
    idv::v1::VerifyResponse resp;
    EXPECT_TRUE(c.VerifyRequest(req, &resp).ok());
    return resp;
  };
  idv::v1::VerifyResponse r = verify(c.people()[0], "t-0", true);
  EXPECT_EQ(r.outcome(), idv::v1::VERIFIED);
  EXPECT_THAT(r.confirmed_elements(), ::testing::Contains(idv::v1::PHONE_NUMBER));
  r = verify(c.people()[1], "t-1", false);
  EXPECT_EQ(r.outcome(), idv::v1::INVALID);
  EXPECT_EQ(r.reason().code(), idv::v1::FIELD_MISSING);

  c.SetFaults(0, Outage(idv::sim::v1::Faults::ERROR));  // the carrier is down
  r = verify(c.people()[2], "t-2", true);
  EXPECT_EQ(r.outcome(), idv::v1::UNAVAILABLE);
  EXPECT_EQ(r.reason().code(), idv::v1::ELEMENTS_NOT_CONFIRMED);
  ASSERT_EQ(r.checks_size(), 2);
  EXPECT_EQ(r.checks(1).backend(), "registry");
  EXPECT_EQ(r.checks(1).outcome(), idv::v1::VERIFIED);  // heard, and set aside
  EXPECT_TRUE(r.confirmed_elements().empty());
  // The record says the same.
  idv::v1::Verification stored;
  ASSERT_TRUE(c.GetVerification(r.verification_id(), &stored).ok());
  EXPECT_EQ(stored.outcome(), idv::v1::UNAVAILABLE);
  // The first claim again, while the carrier is down: answered from the cache, with what the
  // carrier confirmed, in the answer and in the audit trail.
  r = verify(c.people()[0], "t-0b", true);
  EXPECT_EQ(r.outcome(), idv::v1::VERIFIED);
  EXPECT_TRUE(r.cached());
  EXPECT_THAT(r.confirmed_elements(), ::testing::Contains(idv::v1::PHONE_NUMBER));
  ASSERT_TRUE(c.GetVerification(r.verification_id(), &stored).ok());
  EXPECT_THAT(stored.confirmed_elements(), ::testing::Contains(idv::v1::PHONE_NUMBER));
}

// A plugin whose Describe says it is not authoritative: its match is heard, never decisive.
TEST(BackendsTest, APluginThatIsNotAuthoritativeCannotVerify) {
  Cluster c(TwoBackends("advisory", "registry", "resident", /*carrier=*/false));
  c.Start({{"--mode=advisory"}, {}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Person& p = c.people()[0];
  idv::v1::VerifyResponse r;
  ASSERT_TRUE(c.Verify("adv-1", p.number, p.name, false, &r).ok());
  EXPECT_EQ(r.outcome(), idv::v1::VERIFIED);
  ASSERT_EQ(r.checks_size(), 2);
  EXPECT_EQ(r.checks(0).backend(), "advisory");
  EXPECT_EQ(r.checks(0).outcome(), idv::v1::VERIFIED);              // heard...
  EXPECT_THAT(r.decided_by(), ::testing::ElementsAre("registry"));  // ...but the registry decided
  // With the registry down, the advisory match alone is no answer.
  c.SetFaults(1, Outage(idv::sim::v1::Faults::ERROR));
  ASSERT_TRUE(c.Verify("adv-2", c.people()[1].number, c.people()[1].name, false, &r).ok());
  EXPECT_EQ(r.outcome(), idv::v1::UNAVAILABLE);
  EXPECT_TRUE(r.decided_by().empty());
  // A negative answer from it still decides: the claim is wrong whatever its authority.
  ASSERT_TRUE(c.Verify("adv-3", p.number, c.people()[1].name, false, &r).ok());
  EXPECT_EQ(r.outcome(), idv::v1::MISMATCH);
  EXPECT_THAT(r.decided_by(), ::testing::ElementsAre("advisory"));
}

TEST(BackendsTest, ConcurrentIdenticalClaimsShareOneBackendCall) {
  Cluster c(Cluster::Options{});
  c.Start({{"--latency_ms=500"}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Person& p = c.people()[0];
  constexpr int kCalls = 100;
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::atomic<int> verified{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return go; });
      }
      idv::v1::VerifyResponse resp;
      if (c.Verify(absl::StrCat("sf-", i), p.number, p.name, false, &resp).ok() &&
          resp.outcome() == idv::v1::VERIFIED) {
        verified.fetch_add(1);
      }
    });
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    go = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  EXPECT_EQ(verified.load(), kCalls);
  EXPECT_EQ(c.SimChecks(), 1u);
}

// Hedging cuts the tail: both backends have a log-normal latency (median 2 ms, sigma 1.5, so a
// p99 near 65 ms); asking the second after 10 ms caps most slow calls. Reports both p99s.
TEST(BackendsTest, HedgingCutsTheP99) {
  Cluster::Options o;
  o.extra_config = "cache { disabled: true }";  // every call must reach a backend
  o.backends_and_policies = R"(
    backends { name: "a" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim0}" plaintext: true } } breaker { disabled: true } }
    backends { name: "b" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim1}" plaintext: true } } breaker { disabled: true } }
    policies { name: "resident" document_types: CN_RESIDENT_ID backends: "a" backends: "b" }
  )";
  Cluster c(o);
  c.Start({{"--latency=lognormal:2:1.5"}, {"--latency=lognormal:2:1.5"}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  auto p99 = [&](const std::string& label) {
    std::vector<absl::Duration> took;
    for (int i = 0; i < 400; ++i) {
      const Person& p = c.people()[i % c.people().size()];
      idv::v1::VerifyResponse resp;
      const absl::Time start = absl::Now();
      EXPECT_TRUE(c.Verify(absl::StrCat(label, i), p.number, p.name, false, &resp).ok());
      took.push_back(absl::Now() - start);
    }
    std::sort(took.begin(), took.end());
    return took[took.size() * 99 / 100];
  };
  const absl::Duration plain = p99("plain");
  ASSERT_TRUE(PutPolicy(c, ResidentIdPolicy({"a", "b"}, "hedge_after { nanos: 10000000 }")).ok());
  const absl::Duration hedged = p99("hedged");
  std::cout << "p99 without hedging: " << plain << ", with hedging after 10ms: " << hedged << "\n";
  EXPECT_LT(hedged, plain);
}

}  // namespace
}  // namespace idv

namespace idv {
namespace {

constexpr char kPendingPolicy[] = R"(
  backends { name: "r" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim0}" plaintext: true } } breaker { disabled: true } }
  policies { name: "resident" document_types: CN_RESIDENT_ID backends: "r"
             deadline { nanos: 300000000 } on_no_answer: ANSWER_PENDING }
)";

// Polls GetVerification until the verification leaves PENDING (bounded), and returns it.
idv::v1::Verification AwaitSettled(Cluster& c, const std::string& id) {
  idv::v1::Verification v;
  const absl::Time until = absl::Now() + absl::Seconds(30);
  do {
    v.Clear();
    EXPECT_TRUE(c.GetVerification(id, &v).ok());
  } while (v.outcome() == idv::v1::PENDING && absl::Now() < until);
  return v;
}

// A cluster whose policy answers PENDING when no authority answers.
class PendingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Cluster::Options o;
    o.backends_and_policies = kPendingPolicy;
    cluster_ = std::make_unique<Cluster>(o);
    cluster_->Start();
  }

  // Verifies person `i` for `account` while the simulator has `outage`; the answer is PENDING.
  idv::v1::VerifyResponse VerifyDuringOutage(int i, idv::sim::v1::Faults::Outage outage,
                                             const std::string& account, bool bind) {
    const Person& p = cluster_->people()[i];
    cluster_->SetFaults(0, Outage(outage));
    idv::v1::VerifyResponse resp;
    EXPECT_TRUE(cluster_->Verify(account, p.number, p.name, bind, &resp).ok());
    EXPECT_EQ(resp.outcome(), idv::v1::PENDING);
    EXPECT_EQ(resp.reason().code(), idv::v1::QUEUED_FOR_RECHECK);
    return resp;
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_F(PendingTest, NoAnswerIsPendingThenSettledWithTheBinding) {
  ASSERT_FALSE(::testing::Test::HasFailure());
  Cluster& c = *cluster_;
  idv::v1::VerifyResponse resp =
      VerifyDuringOutage(0, idv::sim::v1::Faults::HANG, "pending-1", /*bind=*/true);
  EXPECT_EQ(resp.binding(), idv::v1::NOT_REQUESTED);
  idv::v1::Binding binding;
  EXPECT_EQ(c.GetBinding("pending-1", &binding).error_code(), grpc::StatusCode::NOT_FOUND);

  c.SetFaults(0, idv::sim::v1::Faults());
  idv::v1::Verification settled = AwaitSettled(c, resp.verification_id());
  EXPECT_EQ(settled.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(settled.binding(), idv::v1::BOUND);
  EXPECT_TRUE(settled.has_derived());
  ASSERT_TRUE(c.GetBinding("pending-1", &binding).ok());
  EXPECT_EQ(binding.verification_id(), resp.verification_id());
}

TEST_F(PendingTest, TheQueueSurvivesARestartAndHoldsNoPlaintext) {
  ASSERT_FALSE(::testing::Test::HasFailure());
  Cluster& c = *cluster_;
  idv::v1::VerifyResponse resp =
      VerifyDuringOutage(1, idv::sim::v1::Faults::ERROR, "pending-2", /*bind=*/false);
  ASSERT_EQ(resp.outcome(), idv::v1::PENDING);
  c.idvd().Signal(SIGKILL);
  c.idvd().Wait();
  c.ExpectNoPlaintext();  // the queued claim is sealed

  c.SetFaults(0, idv::sim::v1::Faults());
  c.StartIdvd();
  ASSERT_FALSE(::testing::Test::HasFailure());
  EXPECT_EQ(AwaitSettled(c, resp.verification_id()).outcome(), idv::v1::VERIFIED);
}

TEST(AuthorityPendingTest, AnAuthoritysOwnPendingIsAskedAgain) {
  Cluster::Options o;
  o.backends_and_policies = R"(
    backends { name: "r" typed_config { [type.googleapis.com/idv.config.v1.GrpcPluginConfig] { target: "{sim0}" plaintext: true } } }
    policies { name: "resident" document_types: CN_RESIDENT_ID backends: "r" }
  )";
  Cluster c(o);
  c.Start({{"--pending_rate=1"}});
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Person& p = c.people()[2];
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.Verify("pending-3", p.number, p.name + "国", false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::PENDING);
  EXPECT_EQ(resp.reason().code(), idv::v1::AUTHORITY_PENDING);
  idv::v1::Verification settled = AwaitSettled(c, resp.verification_id());
  EXPECT_EQ(settled.outcome(), idv::v1::MISMATCH);
  EXPECT_EQ(c.SimStats().pending(), 1u);
}

// The NPPA backend in idvd, against idv-nppa-sim: answers, and a PENDING answer settled by
// the re-checker through the NPPA's query interface (the claim is not submitted twice).
// An HTTP request to simulator `sim` (idv-nppa-sim's or idv-json-sim's own endpoints); the
// answer's body.
std::string SimHttp(Cluster& c, size_t sim, const std::string& path, const std::string& post = "") {
  verifiers::http::Client client;
  verifiers::http::Request req;
  req.url = absl::StrCat("http://", c.sim_address(sim), path);
  if (!post.empty()) {
    req.method = "POST";
    req.body = post;
  }
  req.deadline = absl::Now() + absl::Seconds(5);
  std::promise<std::string> body;
  client.Start(req, [&](absl::StatusOr<verifiers::http::Response> r) {
    EXPECT_TRUE(r.ok()) << r.status();
    body.set_value(r.ok() ? r->body : "");
  });
  return body.get_future().get();
}

TEST(NppaE2eTest, AnswersAndPendingSettledThroughTheQuery) {
  Cluster c(Cluster::Options{});
  c.StartNppaSim({"--pending_percent=50", "--settle_after_ms=1500"});
  ASSERT_FALSE(::testing::Test::HasFailure());
  c.set_backends_and_policies(
      c.NppaBackend("nppa", 0) +
      "policies { name: \"resident\" document_types: CN_RESIDENT_ID backends: \"nppa\" "
      "recheck_for { seconds: 60 } }\n");
  c.StartIdvd();
  ASSERT_FALSE(::testing::Test::HasFailure());
  // People whose numbers the simulator settles at once, and one it holds in progress (it picks
  // them by std::hash of the number, as here).
  const Person* pending = nullptr;
  std::vector<const Person*> direct;
  for (const Person& p : c.people()) {
    if (std::hash<std::string>{}(p.number) % 100 < 50) {
      if (pending == nullptr) pending = &p;
    } else if (direct.size() < 2) {
      direct.push_back(&p);
    }
  }
  ASSERT_NE(pending, nullptr);
  ASSERT_EQ(direct.size(), 2u);
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.Verify("nppa-1", direct[0]->number, direct[0]->name, true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(resp.checks(0).raw_code(), "status:0");
  EXPECT_THAT(resp.decided_by(), ::testing::ElementsAre("nppa"));
  EXPECT_THAT(resp.confirmed_elements(),
              ::testing::ElementsAre(idv::v1::DOCUMENT_NUMBER, idv::v1::FULL_NAME));
  ASSERT_TRUE(c.Verify("nppa-2", direct[1]->number, direct[0]->name, true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::MISMATCH);
  EXPECT_EQ(resp.checks(0).raw_code(), "status:2");

  ASSERT_TRUE(c.Verify("nppa-3", pending->number, pending->name, true, &resp).ok());
  ASSERT_EQ(resp.outcome(), idv::v1::PENDING);
  EXPECT_EQ(resp.reason().code(), idv::v1::AUTHORITY_PENDING);
  EXPECT_EQ(resp.checks(0).raw_code(), "status:1");
  idv::v1::Verification settled = AwaitSettled(c, resp.verification_id());
  EXPECT_EQ(settled.outcome(), idv::v1::VERIFIED);
  idv::v1::Binding binding;
  EXPECT_TRUE(c.GetBinding("nppa-3", &binding).ok());
  // Three submissions (one per account); the re-checks only queried.
  const std::string stats = SimHttp(c, 0, "/sim/stats");
  EXPECT_NE(stats.find("\"checks\":3"), std::string::npos) << stats;
  EXPECT_EQ(stats.find("\"queries\":0"), std::string::npos) << stats;
}

// The NPPA keeps a record per game account (its `ai`), so each account that verifies must reach
// it: also when another account verified the same person a moment ago (idv's cache would have
// the answer) or verifies them at the same moment (idv would otherwise share one call). An
// account repeating its own request is answered from the cache.
TEST(NppaE2eTest, EveryAccountReachesTheNppa) {
  Cluster::Options options;
  // Off, because eight checks of one person at once are, to the anti-enumeration budget, eight
  // answers that may yet be failures (and on three nodes each node has a third of it).
  options.extra_config = "limits { defaults { identity_budget_disabled: true } }\n";
  Cluster c(options);
  c.StartNppaSim({"--latency_ms=300"});  // long enough for the calls below to overlap
  ASSERT_FALSE(::testing::Test::HasFailure());
  c.set_backends_and_policies(
      c.NppaBackend("nppa", 0) +
      "policies { name: \"resident\" document_types: CN_RESIDENT_ID backends: \"nppa\" }\n");
  c.StartIdvd();
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Person& p = c.people().at(0);
  auto checks = [&c] {
    const nlohmann::json stats = nlohmann::json::parse(SimHttp(c, 0, "/sim/stats"));
    return stats.at("checks").get<uint64_t>();
  };
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.Verify("player-a", p.number, p.name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  EXPECT_FALSE(resp.cached());
  ASSERT_TRUE(c.Verify("player-a", p.number, p.name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  EXPECT_TRUE(resp.cached());
  EXPECT_EQ(checks(), 1u);
  ASSERT_TRUE(c.Verify("player-b", p.number, p.name, false, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  EXPECT_FALSE(resp.cached());
  EXPECT_EQ(checks(), 2u);

  // Someone nobody has verified yet, by eight accounts at once: no cached answer, one flight each.
  const Person& q = c.people().at(1);
  constexpr int kAtOnce = 8;
  std::vector<std::thread> threads;
  std::vector<idv::v1::VerifyResponse> answers(kAtOnce);
  for (int i = 0; i < kAtOnce; ++i) {
    threads.emplace_back([&, i] {
      EXPECT_TRUE(c.Verify(absl::StrCat("player-c", i), q.number, q.name, false, &answers[i]).ok());
    });
  }
  for (std::thread& t : threads) t.join();
  for (const idv::v1::VerifyResponse& a : answers) {
    EXPECT_EQ(a.outcome(), idv::v1::VERIFIED);
    EXPECT_FALSE(a.cached());
  }
  EXPECT_EQ(checks(), 2u + kAtOnce);
}

// The HTTP/JSON backend as shipped in examples/: the example file with its simulator's address
// and secret files put in, asked by a policy of its own.
std::string ExampleBackend(Cluster& c, const std::string& file, const std::string& port) {
  std::string text = testing::ReadFileOrDie(absl::StrCat(IDV_SOURCE_DIR, "/examples/", file));
  text = absl::StrReplaceAll(text, {{"127.0.0.1:" + port, "{sim0}"},
                                    {"demo/json-api.secret", c.dir() + "/json-api.secret"},
                                    {"demo/json-api.token", c.dir() + "/json-api.token"}});
  return absl::StrCat("backends {\n", text, "\n}\n");
}

// Starts idv-json-sim in `style` with both kinds of credentials on file (it requires the one its
// flags name), and idvd with the example backend `file` (which listens on `port` as shipped)
// behind `policy_extra`.
void StartJsonCluster(Cluster& c, const std::string& style, const std::string& file,
                      const std::string& port, const std::vector<std::string>& sim_flags,
                      const std::string& policy_extra = "") {
  std::ofstream(c.dir() + "/json-api.secret") << "a shared secret of the demo API\n";
  std::ofstream(c.dir() + "/json-api.token") << "demo-token-0123456789\n";
  std::vector<std::string> flags = {"--style=" + style};
  flags.insert(flags.end(), sim_flags.begin(), sim_flags.end());
  c.StartJsonSim(flags);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string name = style == "alibaba" ? "id2meta" : "idcard";
  c.set_backends_and_policies(
      absl::StrCat(ExampleBackend(c, file, port),
                   "policies { name: \"resident\" document_types: CN_RESIDENT_ID ", "backends: \"",
                   name, "\" ", policy_extra, " }\n"));
  c.StartIdvd();
}

// Changes the cluster's only backend through AdminService.PutBackend.
void EditOnlyBackend(Cluster& c, absl::FunctionRef<void(idv::config::v1::BackendConfig&)> edit) {
  grpc::ClientContext ctx;
  c.Authorize(ctx);
  idv::v1::ListBackendsResponse listed;
  ASSERT_TRUE(c.admin().ListBackends(&ctx, {}, &listed).ok());
  ASSERT_EQ(listed.backends_size(), 1);
  idv::v1::PutBackendRequest put;
  *put.mutable_backend() = listed.backends(0).config();
  edit(*put.mutable_backend());
  grpc::ClientContext put_ctx;
  c.Authorize(put_ctx);
  idv::v1::ConfigChange change;
  ASSERT_TRUE(c.admin().PutBackend(&put_ctx, put, &change).ok());
}

// GetVerification rendering `id` as verified_claims stating "adult".
grpc::Status VerifiedClaims(Cluster& c, const std::string& id, idv::v1::Verification* out) {
  grpc::ClientContext ctx;
  c.Authorize(ctx);
  idv::v1::GetVerificationRequest req;
  req.set_verification_id(id);
  req.add_verified_claims("adult");
  return c.stub(0).GetVerification(&ctx, req, out);
}

struct JsonExample {
  std::string style, file, port;
  // The simulator's flags requiring the credentials in `file`.
  std::vector<std::string> AuthFlags(const std::string& file) const {
    if (style == "alibaba") return {"--hmac_key_id=idv-demo", "--hmac_secret_file=" + file};
    return {"--bearer_token_file=" + file};
  }
  const char* credentials() const {
    return style == "alibaba" ? "json-api.secret" : "json-api.token";
  }
};

class HttpJsonE2eTest : public ::testing::TestWithParam<JsonExample> {};

TEST_P(HttpJsonE2eTest, TheExampleConfigAnswersEndToEnd) {
  const JsonExample& e = GetParam();
  Cluster c(Cluster::Options{});
  StartJsonCluster(c, e.style, e.file, e.port, e.AuthFlags(c.dir() + "/" + e.credentials()));
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Person& p = c.people()[0];
  const Person& q = c.people()[1];
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.Verify("json-1", p.number, p.name, true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::VERIFIED);
  EXPECT_EQ(resp.binding(), idv::v1::BOUND);
  ASSERT_EQ(resp.checks_size(), 1);
  EXPECT_EQ(resp.checks(0).raw_code(), e.style == "alibaba" ? "1" : "0");
  EXPECT_NE(resp.checks(0).authority_request_id(), "");
  EXPECT_GT(resp.checks(0).latency_us(), 0u);
  // The authority's request id is kept with the audit record.
  idv::v1::Verification v;
  ASSERT_TRUE(c.GetVerification(resp.verification_id(), &v).ok());
  ASSERT_GT(v.checks_size(), 0);
  EXPECT_EQ(v.checks(0).authority_request_id(), resp.checks(0).authority_request_id());
  // Rendered as OpenID Connect for Identity Assurance verified_claims: the API's request id is
  // the check's txn.
  idv::v1::Verification rendered;
  ASSERT_TRUE(VerifiedClaims(c, resp.verification_id(), &rendered).ok());
  EXPECT_NE(rendered.verified_claims_json().find(
                absl::StrCat(R"("txn":")", resp.checks(0).authority_request_id(), R"(")")),
            std::string::npos)
      << rendered.verified_claims_json();

  ASSERT_TRUE(c.Verify("json-2", q.number, p.name, true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::MISMATCH);
  // Not VERIFIED: nothing to state.
  grpc::Status refused = VerifiedClaims(c, resp.verification_id(), &rendered);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("MISMATCH"), std::string::npos);
  EXPECT_EQ(resp.checks(0).raw_code(), e.style == "alibaba" ? "2" : "-1");
  ASSERT_TRUE(c.Verify("json-3", UnknownValidNumber(c.people()), p.name, true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::NOT_FOUND);
  EXPECT_EQ(resp.checks(0).raw_code(), e.style == "alibaba" ? "3" : "-2");
}

// Credentials the API does not accept: UNAVAILABLE with the HTTP status, never an answer.
TEST_P(HttpJsonE2eTest, WrongCredentialsAreUnavailable) {
  const JsonExample& e = GetParam();
  Cluster c(Cluster::Options{});
  std::ofstream(c.dir() + "/other") << "another secret, not the demo's\n";
  StartJsonCluster(c, e.style, e.file, e.port, e.AuthFlags(c.dir() + "/other"));
  ASSERT_FALSE(::testing::Test::HasFailure());
  idv::v1::VerifyResponse resp;
  ASSERT_TRUE(c.Verify("json-1", c.people()[0].number, c.people()[0].name, true, &resp).ok());
  EXPECT_EQ(resp.outcome(), idv::v1::UNAVAILABLE);
  EXPECT_EQ(resp.checks(0).raw_code(), "http:401");
}

INSTANTIATE_TEST_SUITE_P(
    Examples, HttpJsonE2eTest,
    ::testing::Values(JsonExample{"alibaba", "alibaba-id2meta.textproto", "7620"},
                      JsonExample{"tencent", "tencent-idcard.textproto", "7621"}),
    [](const auto& info) { return info.param.style; });

// A hung API: 200 sign-ups at once, each on its own claim, every one answered UNAVAILABLE at the
// policy's 500 ms deadline. All 200 requests were at the API together: no gRPC thread (there are
// far fewer than 200) waited on one of them.
TEST(HttpJsonBackendTest, AHungApiIsCancelledAtTheDeadlineWithoutHoldingThreads) {
  Cluster::Options o;
  o.population = 300;
  Cluster c(o);
  StartJsonCluster(c, "tencent", "tencent-idcard.textproto", "7621",
                   {"--bearer_token_file=" + c.dir() + "/json-api.token", "--latency_ms=600000",
                    "--threads=400"},
                   "deadline { nanos: 500000000 }");
  ASSERT_FALSE(::testing::Test::HasFailure());
  // No breaker in the way: every call must reach the API.
  EditOnlyBackend(
      c, [](idv::config::v1::BackendConfig& b) { b.mutable_breaker()->set_disabled(true); });

  constexpr int kCalls = 200;
  std::vector<idv::v1::VerifyResponse> answers(kCalls);
  std::vector<std::thread> callers;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      const Person& p = c.people()[i];
      EXPECT_TRUE(c.Verify(absl::StrCat("hung-", i), p.number, p.name, false, &answers[i]).ok());
    });
  }
  for (std::thread& t : callers) t.join();
  const absl::Duration took = absl::Now() - start;
  for (const idv::v1::VerifyResponse& r : answers) {
    EXPECT_EQ(r.outcome(), idv::v1::UNAVAILABLE);
    EXPECT_EQ(r.reason().code(), idv::v1::AUTHORITY_TIMEOUT);
  }
  const std::string stats = SimHttp(c, 0, "/sim/stats");
  EXPECT_NE(stats.find(absl::StrCat("\"max_in_flight\":", kCalls)), std::string::npos) << stats;
  EXPECT_LT(took, absl::Seconds(20)) << "200 calls at a 500 ms deadline";
}

// max_connections holds at the API: 64 sign-ups at once against a slow API reach it over at most
// 8 connections from each idvd, the others waiting for one, and every one is answered.
TEST(HttpJsonBackendTest, AConnectionCapHoldsAtTheApi) {
  Cluster c(Cluster::Options{});
  StartJsonCluster(c, "tencent", "tencent-idcard.textproto", "7621",
                   {"--bearer_token_file=" + c.dir() + "/json-api.token", "--latency_ms=100"},
                   "deadline { seconds: 10 }");
  ASSERT_FALSE(::testing::Test::HasFailure());
  EditOnlyBackend(c, [](idv::config::v1::BackendConfig& b) {
    idv::config::v1::HttpJsonConfig api;
    ASSERT_TRUE(b.typed_config().UnpackTo(&api));
    api.set_max_connections(8);
    b.mutable_typed_config()->PackFrom(api);
  });

  constexpr int kCalls = 64;
  std::vector<idv::v1::VerifyResponse> answers(kCalls);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      const Person& p = c.people()[i];
      EXPECT_TRUE(c.Verify(absl::StrCat("capped-", i), p.number, p.name, false, &answers[i]).ok());
    });
  }
  for (std::thread& t : callers) t.join();
  for (const idv::v1::VerifyResponse& r : answers) EXPECT_EQ(r.outcome(), idv::v1::VERIFIED);
  const std::string stats = SimHttp(c, 0, "/sim/stats");
  const size_t at = stats.find("\"max_in_flight\":");
  ASSERT_NE(at, std::string::npos) << stats;
  const int most = std::atoi(stats.c_str() + at + std::strlen("\"max_in_flight\":"));
  EXPECT_LE(most, 8 * static_cast<int>(c.node_count())) << stats;
  EXPECT_GT(most, 1) << stats;  // the calls did go out together, up to the cap
}

// The breaker opens on an API that stops answering and closes when it answers again, as with
// plugin backends.
TEST(HttpJsonBackendTest, TheBreakerOpensAndCloses) {
  Cluster c(Cluster::Options{});
  StartJsonCluster(c, "tencent", "tencent-idcard.textproto", "7621",
                   {"--bearer_token_file=" + c.dir() + "/json-api.token"},
                   "deadline { nanos: 300000000 }");
  ASSERT_FALSE(::testing::Test::HasFailure());
  EditOnlyBackend(c, [](idv::config::v1::BackendConfig& b) {
    auto* breaker = b.mutable_breaker();
    breaker->set_min_calls(4);
    breaker->set_window(4);
    breaker->set_failure_rate(0.5);
    breaker->mutable_open_for()->set_seconds(1);
  });

  const Person& p = c.people()[0];
  SimHttp(c, 0, "/sim/faults", R"({"latency_ms": 600000})");  // hung
  idv::v1::VerifyResponse resp;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(c.Verify("h", p.number, p.name, false, &resp).ok());
    EXPECT_EQ(resp.reason().code(), idv::v1::AUTHORITY_TIMEOUT);
  }
  EXPECT_EQ(BreakerState(c, "idcard"), "open");
  const std::string before = SimHttp(c, 0, "/sim/stats");
  ASSERT_TRUE(c.Verify("h", p.number, p.name, false, &resp).ok());
  ASSERT_EQ(resp.checks_size(), 1);
  EXPECT_EQ(resp.checks(0).raw_code(), "idv:breaker_open");
  EXPECT_EQ(SimHttp(c, 0, "/sim/stats"), before);  // refused without reaching the API

  SimHttp(c, 0, "/sim/faults", "{}");  // answering again
  const absl::Time recovered = absl::Now();
  bool verified = false;
  while (!verified && absl::Now() - recovered < absl::Seconds(10)) {
    ASSERT_TRUE(c.Verify("h", p.number, p.name, false, &resp).ok());
    verified = resp.outcome() == idv::v1::VERIFIED;
  }
  EXPECT_TRUE(verified);
  EXPECT_EQ(BreakerState(c, "idcard"), "closed");
}

}  // namespace
}  // namespace idv
