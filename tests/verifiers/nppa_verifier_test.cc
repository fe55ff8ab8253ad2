// The NPPA backend against idv-nppa-sim as a separate process: the test system's eight cases,
// the population answers (match, no match, PENDING settling through the query), and how each
// family of the NPPA's error codes comes out.
#include "verifiers/nppa/nppa_verifier.h"

#include <gtest/gtest.h>

#include <fstream>
#include <future>

#include "absl/strings/str_cat.h"
#include "identity/claim.h"
#include "tests/support/process.h"
#include "verifiers/nppa/nppa_crypto.h"
#include "verifiers/registry_sim/population.h"

namespace idv::verifiers::nppa {
namespace {

using idv::testing::Process;
using idv::testing::TempDir;

constexpr char kSecret[] = "2836e95fcd10e04b0069bb1ee659955b";
constexpr char kAiKey[] = "an account key of thirty-two b!!";
constexpr int kPopulation = 200;

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// One idv-nppa-sim (population kPopulation, seed 11) and backends configured for it.
class Sim {
 public:
  explicit Sim(std::vector<std::string> flags = {}) {
    WriteFile(dir_.path() + "/secret", std::string(kSecret) + "\n");
    WriteFile(dir_.path() + "/ai", kAiKey);
    std::vector<std::string> argv = {IDV_NPPA_SIM_PATH, "--listen=127.0.0.1:0",
                                     absl::StrCat("--population=", kPopulation), "--seed=11",
                                     "--secret_key_file=" + dir_.path() + "/secret"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto p = Process::Start(argv);
    EXPECT_TRUE(p.ok()) << p.status();
    process_ = *std::move(p);
    auto address = process_->WaitForListening();
    EXPECT_TRUE(address.ok()) << address.status();
    url_ = absl::StrCat("http://", address.value_or(""));
  }

  const std::string& url() const { return url_; }
  const std::string& dir() const { return dir_.path(); }

  idv::config::v1::BackendConfig Config(const std::string& test_code = "",
                                        const std::string& secret = kSecret,
                                        const std::string& app_id = "idv-demo-app") const {
    const std::string secret_file = absl::StrCat(dir_.path(), "/secret-", secret.size(), secret);
    WriteFile(secret_file, secret);
    idv::config::v1::NppaConfig c;
    c.set_base_url(url_);
    c.set_app_id(app_id);
    c.set_biz_id("1199999999");
    c.set_secret_key_file(secret_file);
    c.set_ai_key_file(dir_.path() + "/ai");
    c.set_test_code(test_code);
    idv::config::v1::BackendConfig b;
    b.set_name("nppa");
    b.mutable_typed_config()->PackFrom(c);
    return b;
  }

  std::unique_ptr<Verifier> Backend(const std::string& test_code = "",
                                    const std::string& secret = kSecret,
                                    const std::string& app_id = "idv-demo-app") const {
    auto v = NppaFactory().Create(Config(test_code, secret, app_id));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::string url_;
};

const sim::Population& People() {
  static const sim::Population* p = new sim::Population(sim::Population::Generate(kPopulation, 11));
  return *p;
}

identity::NormalizedClaim Claim(const std::string& number, const std::string& name) {
  identity::NormalizedClaim c;
  c.document_type = idv::v1::CN_RESIDENT_ID;
  c.document_number = number;
  c.full_name = name;
  return c;
}

CheckResult Ask(Verifier& v, const identity::NormalizedClaim& claim, const std::string& account,
                bool recheck = false) {
  CheckContext ctx;
  ctx.request_id = "v-" + account;
  ctx.account_id = account;
  ctx.recheck = recheck;
  ctx.deadline = absl::Now() + absl::Seconds(5);
  std::promise<CheckResult> p;
  v.Check(ctx, claim, [&p](CheckResult r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

// Three consecutive test cases, asked as a first check or as a re-check (which queries): the
// first answers authenticated, the second in progress, the third failed.
void ExpectCases(const Sim& sim, int first, bool recheck) {
  const sim::Person& p = People().at(0);
  const idv::v1::Outcome outcomes[] = {idv::v1::VERIFIED, idv::v1::PENDING, idv::v1::MISMATCH};
  for (int i = 0; i < 3; ++i) {
    const std::string code = absl::StrCat("test0", first + i);
    SCOPED_TRACE(code);
    std::unique_ptr<Verifier> v = sim.Backend(code);
    ASSERT_NE(v, nullptr);
    CheckResult r = Ask(*v, Claim(p.document_number, p.full_name), "player-1", recheck);
    EXPECT_EQ(r.outcome, outcomes[i]);
    EXPECT_EQ(r.raw_code, absl::StrCat("status:", i));
    if (i == 0) {
      EXPECT_EQ(r.confirmed, kNumberAndName);
    }
  }
}

// Cases 01-03: the check interface.
TEST(NppaTestSystem, CheckCasesOneToThree) {
  Sim sim;
  ExpectCases(sim, 1, /*recheck=*/false);
}

// Cases 04-06: a re-check queries by ai.
TEST(NppaTestSystem, QueryCasesFourToSix) {
  Sim sim;
  ExpectCases(sim, 4, /*recheck=*/true);
  const sim::Person& p = People().at(0);
  // A check case's code does not serve the query interface, nor the reverse.
  EXPECT_EQ(Ask(*sim.Backend("test01"), Claim(p.document_number, p.full_name), "x", true).raw_code,
            "errcode:1002");
  EXPECT_EQ(Ask(*sim.Backend("test04"), Claim(p.document_number, p.full_name), "x").raw_code,
            "errcode:1002");
}

// Cases 07-08 are the behaviour (loginout) reports, which idv does not send: the simulator says
// so, and the backend has no such request.
TEST(NppaTestSystem, LoginoutCasesSevenAndEightAreNotSupported) {
  Sim sim;
  http::Client client;
  for (const char* code : {"test07", "test08"}) {
    http::Request req;
    req.method = "POST";
    req.url = absl::StrCat(sim.url(), "/test/collection/loginout/", code);
    req.body = "{}";
    req.deadline = absl::Now() + absl::Seconds(5);
    std::promise<absl::StatusOr<http::Response>> p;
    client.Start(req, [&p](absl::StatusOr<http::Response> r) { p.set_value(std::move(r)); });
    absl::StatusOr<http::Response> r = p.get_future().get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 501);
    EXPECT_NE(r->body.find("not supported by idv"), std::string::npos) << r->body;
  }
}

TEST(NppaBackend, AnswersFromThePopulation) {
  Sim sim;
  std::unique_ptr<Verifier> v = sim.Backend();
  const sim::Person& p = People().at(3);
  const sim::Person& q = People().at(4);
  CheckResult r = Ask(*v, Claim(p.document_number, p.full_name), "a1");
  EXPECT_EQ(r.outcome, idv::v1::VERIFIED);
  EXPECT_EQ(r.raw_code, "status:0");
  EXPECT_GT(r.latency, absl::ZeroDuration());
  r = Ask(*v, Claim(q.document_number, p.full_name), "a2");
  EXPECT_EQ(r.outcome, idv::v1::MISMATCH);
  EXPECT_EQ(r.reason, idv::v1::ELEMENTS_MISMATCH);
  // The same account submitting the same identity again gets the same record.
  EXPECT_EQ(Ask(*v, Claim(p.document_number, p.full_name), "a1").outcome, idv::v1::VERIFIED);
  // 2004: the account's ai is taken by another identity.
  r = Ask(*v, Claim(q.document_number, q.full_name), "a1");
  EXPECT_EQ(r.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(r.raw_code, "errcode:2004");
  // 2001: a number the NPPA holds invalid (idv's offline check would not let this one through).
  r = Ask(*v, Claim("11010519491231002", p.full_name), "a3");
  EXPECT_EQ(r.outcome, idv::v1::NOT_FOUND);
  EXPECT_EQ(r.raw_code, "errcode:2001");
}

TEST(NppaBackend, PendingSettlesThroughTheQuery) {
  Sim sim({"--pending_percent=100", "--settle_after_ms=300"});
  std::unique_ptr<Verifier> v = sim.Backend();
  const sim::Person& p = People().at(5);
  const identity::NormalizedClaim claim = Claim(p.document_number, p.full_name);
  EXPECT_EQ(Ask(*v, claim, "late").outcome, idv::v1::PENDING);
  // Re-checks query: in progress until the NPPA settles, then its answer.
  CheckResult r;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {
    r = Ask(*v, claim, "late", /*recheck=*/true);
    ASSERT_NE(r.outcome, idv::v1::UNAVAILABLE) << r.raw_code;
  } while (r.outcome == idv::v1::PENDING && absl::Now() < give_up);
  EXPECT_EQ(r.outcome, idv::v1::VERIFIED);
  // A re-check of an account the NPPA never heard of (the first submission was lost) submits.
  r = Ask(*v, Claim(People().at(6).document_number, People().at(6).full_name), "lost", true);
  EXPECT_EQ(r.outcome, idv::v1::PENDING);
  EXPECT_EQ(r.raw_code, "status:1");
}

TEST(NppaBackend, RefusalsAreUnavailableWithTheirCode) {
  const sim::Person& p = People().at(7);
  const identity::NormalizedClaim claim = Claim(p.document_number, p.full_name);
  {
    Sim sim;
    // A wrong secret key: the signature does not verify (1011).
    EXPECT_EQ(Ask(*sim.Backend("", "00112233445566778899aabbccddeeff"), claim, "k").raw_code,
              "errcode:1011");
    // An application id the NPPA does not know (1008).
    EXPECT_EQ(Ask(*sim.Backend("", kSecret, "someone-else"), claim, "k").raw_code, "errcode:1008");
  }
  {
    Sim sim({"--allow_ip=192.0.2.1"});  // 1005: not on the allow-list
    CheckResult r = Ask(*sim.Backend(), claim, "k");
    EXPECT_EQ(r.outcome, idv::v1::UNAVAILABLE);
    EXPECT_EQ(r.raw_code, "errcode:1005");
  }
  {
    Sim sim({"--rate_limit=1"});  // 1006: over the rate
    std::unique_ptr<Verifier> v = sim.Backend();
    std::vector<std::string> codes;
    for (int i = 0; i < 4; ++i) codes.push_back(Ask(*v, claim, "r").raw_code);
    EXPECT_EQ(codes[0], "status:0");
    EXPECT_NE(std::find(codes.begin(), codes.end(), "errcode:1006"), codes.end());
  }
  {
    Sim sim({"--quota=1"});  // 2002: a second account is over the quota
    std::unique_ptr<Verifier> v = sim.Backend();
    EXPECT_EQ(Ask(*v, claim, "q1").raw_code, "status:0");
    EXPECT_EQ(Ask(*v, claim, "q2").raw_code, "errcode:2002");
  }
}

// Requests built by hand: a body sealed under another key (1012), a stale clock (1007), missing
// headers (1004), the wrong method (1003), an unknown path (1002).
TEST(NppaBackend, TheSimulatorEnforcesTheProtocol) {
  Sim sim;
  http::Client client;
  auto send = [&](const std::string& method, const std::string& path, std::string body,
                  const std::string& key_for_body, int64_t ms, bool headers = true) {
    if (!key_for_body.empty()) {
      absl::StatusOr<std::string> sealed = Seal(key_for_body, body, Iv{1, 2, 3});
      EXPECT_TRUE(sealed.ok());
      body = absl::StrCat(R"({"data":")", *sealed, R"("})");
    }
    std::map<std::string, std::string> params = {
        {"appId", "idv-demo-app"}, {"bizId", "1199999999"}, {"timestamps", absl::StrCat(ms)}};
    http::Request req;
    req.method = method;
    req.url = sim.url() + path;
    req.body = body;
    if (headers) {
      req.headers = {"appId: idv-demo-app", "bizId: 1199999999", absl::StrCat("timestamps: ", ms),
                     "sign: " + Sign(kSecret, params, body)};
    }
    req.deadline = absl::Now() + absl::Seconds(5);
    std::promise<absl::StatusOr<http::Response>> p;
    client.Start(req, [&p](absl::StatusOr<http::Response> r) { p.set_value(std::move(r)); });
    absl::StatusOr<http::Response> r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? ErrcodeOf(r->body) : -2;
  };
  const std::string inner =
      absl::StrCat(R"({"ai":"0123456789abcdef0123456789abcdef","name":")", People().at(0).full_name,
                   R"(","idNum":")", People().at(0).document_number, R"("})");
  const int64_t now = absl::ToUnixMillis(absl::Now());
  const char* check = "/idcard/authentication/check";
  EXPECT_EQ(send("POST", check, inner, kSecret, now), 0);
  EXPECT_EQ(send("POST", check, inner, "ffeeddccbbaa99887766554433221100", now), 1012);
  EXPECT_EQ(send("POST", check, inner, kSecret, now - 3600 * 1000), 1007);
  EXPECT_EQ(send("POST", check, inner, kSecret, now, /*headers=*/false), 1004);
  EXPECT_EQ(send("GET", check, "", "", now), 1003);
  EXPECT_EQ(send("POST", "/idcard/nothing", inner, kSecret, now), 1002);
}

TEST(NppaAnswers, MapOntoOutcomes) {
  auto map = [](long http, const std::string& body) { return MapNppaAnswer(http, body); };
  EXPECT_EQ(map(200, R"({"errcode":0,"data":{"result":{"status":0,"pi":"x"}}})").outcome,
            idv::v1::VERIFIED);
  EXPECT_EQ(map(200, R"({"errcode":0,"data":{"result":{"status":1}}})").outcome, idv::v1::PENDING);
  EXPECT_EQ(map(200, R"({"errcode":0,"data":{"result":{"status":2}}})").outcome, idv::v1::MISMATCH);
  for (int code :
       {1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 2002, 2004, 4001}) {
    CheckResult r = map(200, absl::StrCat(R"({"errcode":)", code, R"(,"errmsg":"x"})"));
    EXPECT_EQ(r.outcome, idv::v1::UNAVAILABLE) << code;
    EXPECT_EQ(r.raw_code, absl::StrCat("errcode:", code));
    EXPECT_EQ(r.answered, code == 2004) << code;  // only "ai taken" spares the breaker
  }
  for (int code : {2001, 2003}) {
    EXPECT_EQ(map(200, absl::StrCat(R"({"errcode":)", code, "}")).outcome, idv::v1::NOT_FOUND);
  }
  // Never VERIFIED from something that is not a well-formed success.
  EXPECT_EQ(map(500, R"({"errcode":0,"data":{"result":{"status":0}}})").raw_code, "http:500");
  EXPECT_EQ(map(200, R"({"errcode":0})").outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(map(200, R"({"errcode":0,"data":{"result":{"status":"0"}}})").outcome,
            idv::v1::UNAVAILABLE);
  EXPECT_EQ(map(200, "<html>").raw_code, "nppa:unreadable-answer");
  EXPECT_EQ(map(200, R"({"errcode":0,"data":{"result":{"status":7}}})").outcome,
            idv::v1::UNAVAILABLE);
}

TEST(NppaConfig, BadSettingsAreRefused) {
  Sim sim;
  auto refused = [&](auto edit) {
    idv::config::v1::BackendConfig b = sim.Config();
    idv::config::v1::NppaConfig c;
    b.typed_config().UnpackTo(&c);
    edit(c);
    b.mutable_typed_config()->PackFrom(c);
    absl::StatusOr<std::unique_ptr<Verifier>> v = NppaFactory().Create(b);
    return v.ok() ? std::string("accepted") : std::string(v.status().message());
  };
  EXPECT_NE(refused([](auto& c) { c.set_base_url("http://nppa.example:80"); }).find("loopback"),
            std::string::npos);
  EXPECT_NE(refused([](auto& c) { c.set_base_url("https://h/path"); }).find("no path"),
            std::string::npos);
  EXPECT_NE(refused([](auto& c) { c.set_app_id(""); }).find("app_id"), std::string::npos);
  EXPECT_NE(refused([](auto& c) { c.set_test_code("../x"); }).find("test_code"), std::string::npos);
  EXPECT_NE(refused([](auto& c) { c.set_secret_key_file("/nonexistent"); }).find("secret_key_file"),
            std::string::npos);
  const std::string short_key = sim.dir() + "/short";
  WriteFile(short_key, "abcd");
  EXPECT_NE(refused([&](auto& c) { c.set_secret_key_file(short_key); }).find("32 hex"),
            std::string::npos);
  EXPECT_NE(refused([&](auto& c) { c.set_ai_key_file(short_key); }).find("16 to 64"),
            std::string::npos);
  EXPECT_EQ(refused([](auto& c) { c.set_base_url("https://api.wlc.nppa.gov.cn/"); }), "accepted");
}

// The ai is the keyed hash of the account: the same for the same account, never the identity.
TEST(NppaBackend, TheAiComesFromTheAccount) {
  absl::StatusOr<std::string> a = AccountAi(kAiKey, "player-1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(*a, *AccountAi(kAiKey, "player-1"));
  EXPECT_NE(*a, *AccountAi(kAiKey, "player-2"));
}

// 64 checks in flight at all times, 2,000 in all: every one answered (connections kept and
// reused, none left waiting).
TEST(NppaBackend, ManyChecksInFlight) {
  Sim sim;
  std::unique_ptr<Verifier> v = sim.Backend();
  constexpr int kTotal = 2000, kInFlight = 64;
  std::vector<identity::NormalizedClaim> claims;
  for (int i = 0; i < kTotal; ++i) {
    const sim::Person& p = People().at(i % kPopulation);
    claims.push_back(Claim(p.document_number, p.full_name));
  }
  std::mutex mu;
  std::map<std::string, int> codes;
  std::atomic<int> left{kTotal};
  std::promise<void> all;
  std::function<void(int)> ask = [&](int i) {
    CheckContext ctx;
    ctx.account_id = absl::StrCat("account-", i);
    ctx.deadline = absl::Now() + absl::Seconds(10);
    v->Check(ctx, claims[i], [&, i](CheckResult r) {
      {
        std::lock_guard<std::mutex> lock(mu);
        codes[r.raw_code]++;
      }
      if (i + kInFlight < kTotal) ask(i + kInFlight);
      if (--left == 0) all.set_value();
    });
  };
  for (int i = 0; i < kInFlight; ++i) ask(i);
  all.get_future().wait();
  EXPECT_EQ(codes, (std::map<std::string, int>{{"status:0", kTotal}}));
}

}  // namespace
}  // namespace idv::verifiers::nppa
