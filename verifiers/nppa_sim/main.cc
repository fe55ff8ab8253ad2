// idv-nppa-sim: a test double of the NPPA real-name interface and of its test system, speaking
// the same HTTP protocol (verifiers/nppa/nppa_crypto.h): it checks the headers, the clock, the
// caller's ids, the signature and the encrypted body, enforces a rate limit, a quota and an IP
// allow-list with the NPPA's error codes, and answers from the same synthetic population as
// idv-registry-sim (same --population and --seed).
//
//   POST /idcard/authentication/check          status 0 (match), 2 (no match), or 1 (in
//                                              progress) for --pending_percent of the numbers,
//                                              settling --settle_after_ms later
//   GET  /idcard/authentication/query?ai=      the state of the check submitted under `ai`
//   POST /test/authentication/check/<code>     the test system's cases 01-03: status 0, 1, 2
//   GET  /test/authentication/query/<code>     cases 04-06: status 0, 1, 2
//   POST /test/collection/loginout/<code>      cases 07-08, and /behavior/collection/loginout:
//                                              answered 501, idv sends no behaviour reports
//   GET  /sim/stats                            what it received, as JSON
//
// The identities it is sent are kept in memory only and never printed.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "verifiers/http_sim/http_sim.h"
#include "verifiers/nppa/nppa_crypto.h"
#include "verifiers/registry_sim/population.h"

namespace idv::sim::nppa {
namespace {

namespace crypto = idv::verifiers::nppa;

struct Options {
  std::string listen = "127.0.0.1:7610";
  uint64_t population = 10000;
  uint64_t seed = 1;
  std::string export_csv;
  std::string app_id = "idv-demo-app";
  std::string biz_id = "1199999999";
  std::string secret_key_file;
  std::string test_codes = "test01,test02,test03,test04,test05,test06,test07,test08";
  uint32_t rate_limit = 0;
  uint32_t quota = 0;
  uint32_t pending_percent = 0;
  uint32_t settle_after_ms = 1000;
  uint32_t latency_ms = 0;
  std::string allow_ip;
  uint32_t max_skew_s = 300;
  uint32_t threads = 128;
};

Options opt;

// The NPPA's error codes (interface document v1.7 era).
enum Errcode : int {
  kOk = 0,
  kSystemError = 1001,
  kNoSuchResource = 1002,
  kWrongMethod = 1003,
  kMissingParameter = 1004,
  kIpNotAllowed = 1005,
  kTooManyRequests = 1006,
  kExpired = 1007,
  kUnknownCaller = 1008,
  kNotEntitled = 1010,
  kBadSignature = 1011,
  kBadBody = 1012,
  kBadIdNumber = 2001,
  kQuotaReached = 2002,
  kNoRecord = 2003,
  kAiTaken = 2004,
};

const char* Message(int errcode) {
  switch (errcode) {
    case kOk:
      return "OK";
    case kSystemError:
      return "SYS ERROR";
    case kNoSuchResource:
      return "SYS REQ RESOURCE NOT EXIST";
    case kWrongMethod:
      return "SYS REQ METHOD ERROR";
    case kMissingParameter:
      return "SYS REQ HEADER MISS ERROR";
    case kIpNotAllowed:
      return "SYS REQ IP ERROR";
    case kTooManyRequests:
      return "SYS REQ BUSY ERROR";
    case kExpired:
      return "SYS REQ EXPIRE ERROR";
    case kUnknownCaller:
      return "SYS REQ PARTNER ERROR";
    case kNotEntitled:
      return "SYS REQ AUTH ERROR";
    case kBadSignature:
      return "SYS REQ PARTNER AUTH ERROR";
    case kBadBody:
      return "SYS REQ PARAM CHECK ERROR";
    case kBadIdNumber:
      return "BUS AUTH IDNUM ILLEGAL";
    case kQuotaReached:
      return "BUS AUTH RESOURCE LIMIT";
    case kNoRecord:
      return "BUS AUTH CODE NO AUTH RECODE";
    case kAiTaken:
      return "BUS AUTH CODE ALREADY IN USE";
  }
  return "";
}

struct Record {
  std::string id_number;
  int status = 2;
  absl::Time settles_at;  // status 1 until then
  std::string pi;
};

class Simulator : public CivetHandler {
 public:
  Simulator(const Population& population, std::string secret_key)
      : population_(population), secret_key_(std::move(secret_key)) {
    int i = 1;
    for (absl::string_view code : absl::StrSplit(opt.test_codes, ',', absl::SkipEmpty())) {
      test_cases_[std::string(code)] = i++;
    }
    for (absl::string_view ip : absl::StrSplit(opt.allow_ip, ',', absl::SkipEmpty())) {
      allowed_ips_.insert(std::string(ip));
    }
  }

  bool handleGet(CivetServer*, mg_connection* c) override { return Handle(c, "GET"); }
  bool handlePost(CivetServer*, mg_connection* c) override { return Handle(c, "POST"); }

 private:
  struct Answer {
    int http = 200;
    int errcode = kOk;
    int status = -1;  // data.result.status when >= 0
    std::string pi;
    std::string errmsg;
  };

  bool Handle(mg_connection* c, const std::string& method) {
    const mg_request_info* ri = mg_get_request_info(c);
    const std::string path = ri->local_uri;
    const std::string body = ReadBody(c);
    if (path == "/sim/stats") {
      nlohmann::json stats = {{"checks", checks_.load()},
                              {"queries", queries_.load()},
                              {"refused", refused_.load()},
                              {"loginout", loginout_.load()}};
      return ReplyJson(c, 200, stats.dump());
    }
    if (opt.latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opt.latency_ms));
    Answer a = Serve(c, method, path, ri->query_string == nullptr ? "" : ri->query_string, body);
    if (a.errcode != kOk && a.errcode != kNoRecord) refused_++;
    nlohmann::json out = {{"errcode", a.errcode},
                          {"errmsg", a.errmsg.empty() ? Message(a.errcode) : a.errmsg}};
    if (a.status >= 0) {
      out["data"]["result"]["status"] = a.status;
      if (!a.pi.empty()) out["data"]["result"]["pi"] = a.pi;
    }
    return ReplyJson(c, a.http, out.dump());
  }

  static Answer Error(int errcode, std::string errmsg = "") {
    Answer a;
    a.errcode = errcode;
    a.errmsg = std::move(errmsg);
    return a;
  }

  Answer Serve(mg_connection* c, const std::string& method, const std::string& path,
               const std::string& query_string, const std::string& body) {
    // Which interface, and for the test system which case.
    enum class Api { kCheck, kQuery, kLoginout, kNone } api = Api::kNone;
    int test_case = 0;
    absl::string_view rest = path;
    if (rest == "/idcard/authentication/check") {
      api = Api::kCheck;
    } else if (rest == "/idcard/authentication/query") {
      api = Api::kQuery;
    } else if (rest == "/behavior/collection/loginout") {
      api = Api::kLoginout;
    } else if (absl::ConsumePrefix(&rest, "/test/")) {
      // /test/<interface>/<code>: the code names the case.
      const size_t slash = rest.rfind('/');
      const absl::string_view interface = rest.substr(0, slash);
      if (interface == "authentication/check") api = Api::kCheck;
      if (interface == "authentication/query") api = Api::kQuery;
      if (interface == "collection/loginout") api = Api::kLoginout;
      auto it = slash == absl::string_view::npos
                    ? test_cases_.end()
                    : test_cases_.find(std::string(rest.substr(slash + 1)));
      test_case = it == test_cases_.end() ? -1 : it->second;
    }
    if (api == Api::kNone || test_case < 0) return Error(kNoSuchResource);
    if (api == Api::kLoginout) {
      loginout_++;
      Answer a = Error(kNoSuchResource, "loginout behaviour reports are not supported by idv");
      a.http = 501;
      return a;
    }
    if ((api == Api::kCheck) != (method == "POST")) return Error(kWrongMethod);

    const char* app_id = mg_get_header(c, "appId");
    const char* biz_id = mg_get_header(c, "bizId");
    const char* timestamps = mg_get_header(c, "timestamps");
    const char* sign = mg_get_header(c, "sign");
    if (app_id == nullptr || biz_id == nullptr || timestamps == nullptr || sign == nullptr) {
      return Error(kMissingParameter);
    }
    if (!allowed_ips_.empty() && allowed_ips_.count(mg_get_request_info(c)->remote_addr) == 0) {
      return Error(kIpNotAllowed);
    }
    if (!WithinRate()) return Error(kTooManyRequests);
    int64_t ms = 0;
    if (!absl::SimpleAtoi(timestamps, &ms) ||
        absl::AbsDuration(absl::FromUnixMillis(ms) - absl::Now()) > absl::Seconds(opt.max_skew_s)) {
      return Error(kExpired);
    }
    if (opt.app_id != app_id) return Error(kUnknownCaller);
    if (opt.biz_id != biz_id) return Error(kNotEntitled);

    std::map<std::string, std::string> params = {
        {"appId", app_id}, {"bizId", biz_id}, {"timestamps", timestamps}};
    std::string ai;
    if (api == Api::kQuery) {
      for (absl::string_view kv : absl::StrSplit(query_string, '&', absl::SkipEmpty())) {
        std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        params[p.first] = p.second;
        if (p.first == "ai") ai = p.second;
      }
    }
    if (!absl::EqualsIgnoreCase(crypto::Sign(secret_key_, params, body), sign)) {
      return Error(kBadSignature);
    }
    if (api == Api::kQuery) {
      queries_++;
      if (ai.size() != 32) return Error(kMissingParameter, "ai must be 32 characters");
      if (test_case > 0) return TestCase(test_case, /*query=*/true);
      return QueryRecord(ai);
    }
    checks_++;
    nlohmann::json outer = nlohmann::json::parse(body, nullptr, false);
    if (!outer.is_object() || !outer.contains("data") || !outer["data"].is_string()) {
      return Error(kBadBody);
    }
    absl::StatusOr<std::string> plain = crypto::Open(secret_key_, outer["data"].get<std::string>());
    if (!plain.ok()) return Error(kBadBody);
    nlohmann::json inner = nlohmann::json::parse(*plain, nullptr, false);
    if (!inner.is_object() || !inner.contains("ai") || !inner.contains("name") ||
        !inner.contains("idNum") || !inner["ai"].is_string() || !inner["name"].is_string() ||
        !inner["idNum"].is_string()) {
      return Error(kBadBody);
    }
    ai = inner["ai"].get<std::string>();
    const std::string name = inner["name"].get<std::string>();
    const std::string number = inner["idNum"].get<std::string>();
    if (ai.size() != 32) return Error(kBadBody, "ai must be 32 characters");
    if (!WellFormed(number)) return Error(kBadIdNumber);
    if (test_case > 0) return TestCase(test_case, /*query=*/false);
    return Submit(ai, number, name);
  }

  static bool WellFormed(const std::string& number) {
    if (number.size() != 18) return false;
    for (size_t i = 0; i < 17; ++i) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(number[i]))) return false;
    }
    return absl::ascii_isdigit(static_cast<unsigned char>(number[17])) || number[17] == 'X';
  }

  // The test system: cases 01-03 (check) and 04-06 (query) answer status 0, 1, 2.
  static Answer TestCase(int test_case, bool query) {
    const int first = query ? 4 : 1;
    if (test_case < first || test_case > first + 2) {
      return Error(kNoSuchResource, "this test case is for another interface");
    }
    Answer a;
    a.status = test_case - first;
    if (a.status == 0) a.pi = "1fffbjzos82bs9cnyj1dna7d6d29zg4esnh99u";
    return a;
  }

  Answer Submit(const std::string& ai, const std::string& number, const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(ai);
    if (it != records_.end()) {
      if (it->second.id_number != number) return Error(kAiTaken);
      return Current(it->second);  // submitted again: the same record
    }
    if (opt.quota > 0 && records_.size() >= opt.quota) return Error(kQuotaReached);
    const Person* person = population_.Find(number);
    Record r;
    r.id_number = number;
    r.status = person != nullptr && person->full_name == name ? 0 : 2;
    if (r.status == 0) r.pi = absl::StrCat("pi", ai.substr(0, 36));
    if (std::hash<std::string>{}(number) % 100 < opt.pending_percent) {
      r.settles_at = absl::Now() + absl::Milliseconds(opt.settle_after_ms);
    }
    return Current(records_.emplace(ai, std::move(r)).first->second);
  }

  Answer QueryRecord(const std::string& ai) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(ai);
    if (it == records_.end()) return Error(kNoRecord);
    return Current(it->second);
  }

  static Answer Current(const Record& r) {
    Answer a;
    a.status = absl::Now() < r.settles_at ? 1 : r.status;
    if (a.status == 0) a.pi = r.pi;
    return a;
  }

  bool WithinRate() {
    if (opt.rate_limit == 0) return true;
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t second = absl::ToUnixSeconds(absl::Now());
    if (second != window_) {
      window_ = second;
      in_window_ = 0;
    }
    return ++in_window_ <= opt.rate_limit;
  }

  const Population& population_;
  const std::string secret_key_;
  std::map<std::string, int> test_cases_;
  std::set<std::string> allowed_ips_;
  std::mutex mu_;
  std::map<std::string, Record> records_;  // by ai; guarded by mu_
  int64_t window_ = 0;                     // guarded by mu_
  uint32_t in_window_ = 0;                 // guarded by mu_
  std::atomic<uint64_t> checks_{0}, queries_{0}, refused_{0}, loginout_{0};
};

int Main() {
  absl::StatusOr<std::string> key = ReadFile(opt.secret_key_file);
  if (!key.ok()) {
    spdlog::error("--secret_key_file: {}", std::string(key.status().message()));
    return 2;
  }
  const std::string secret(absl::StripAsciiWhitespace(*key));
  if (!crypto::Seal(secret, "", crypto::Iv{}).ok()) {
    spdlog::error("--secret_key_file must hold the secret key as 32 hex characters");
    return 2;
  }
  if (opt.pending_percent > 100) {
    spdlog::error("--pending_percent is 0 to 100");
    return 2;
  }
  Population population = Population::Generate(opt.population, opt.seed);
  if (!opt.export_csv.empty()) {
    if (absl::Status s = population.ExportCsv(opt.export_csv); !s.ok()) {
      spdlog::error("{}", std::string(s.message()));
      return 1;
    }
  }
  Simulator sim(population, secret);
  return ServeUntilSignalled(
      sim, opt.listen, opt.threads,
      absl::StrCat("NPPA interface and test system, app ", opt.app_id, ", population ",
                   population.size(), " (seed ", opt.seed, ")"));
}

}  // namespace
}  // namespace idv::sim::nppa

int main(int argc, char** argv) {
  using idv::sim::nppa::opt;
  CLI::App app{
      "idv-nppa-sim: a test double of the NPPA real-name interface and its test system "
      "(signed, encrypted HTTP), for tests and demos.",
      "idv-nppa-sim"};
  app.set_version_flag("--version", "idv-nppa-sim " IDV_VERSION " (build " IDV_BUILD ")");
  app.add_option("--listen", opt.listen, "HOST:PORT to serve on; port 0 picks one")
      ->capture_default_str();
  app.add_option("--population", opt.population, "number of synthetic people")
      ->capture_default_str();
  app.add_option("--seed", opt.seed, "population seed")->capture_default_str();
  app.add_option("--export_csv,--export-csv", opt.export_csv,
                 "write the population to this CSV file and go on");
  app.add_option("--app_id,--app-id", opt.app_id, "the appId callers must send")
      ->capture_default_str();
  app.add_option("--biz_id,--biz-id", opt.biz_id, "the bizId callers must send")
      ->capture_default_str();
  app.add_option("--secret_key_file,--secret-key-file", opt.secret_key_file,
                 "file holding the shared secret key (32 hex characters)")
      ->required();
  app.add_option("--test_codes,--test-codes", opt.test_codes,
                 "the test system's codes of cases 01 to 08, comma-separated")
      ->capture_default_str();
  app.add_option("--rate_limit,--rate-limit", opt.rate_limit,
                 "requests answered per second; more get errcode 1006 (0: no limit)")
      ->capture_default_str();
  app.add_option("--quota", opt.quota,
                 "most accounts (ai) it records; more get errcode 2002 (0: no limit)")
      ->capture_default_str();
  app.add_option("--pending_percent,--pending-percent", opt.pending_percent,
                 "share of document numbers (0-100, by a hash of the number) whose check is "
                 "in progress (status 1) until --settle_after_ms has passed")
      ->capture_default_str();
  app.add_option("--settle_after_ms,--settle-after-ms", opt.settle_after_ms,
                 "how long an in-progress check stays in progress")
      ->capture_default_str();
  app.add_option("--latency_ms,--latency-ms", opt.latency_ms, "delay before every answer")
      ->capture_default_str();
  app.add_option("--allow_ip,--allow-ip", opt.allow_ip,
                 "comma-separated caller addresses; others get errcode 1005 (empty: any)");
  app.add_option("--max_skew_s,--max-skew-s", opt.max_skew_s,
                 "timestamps further than this from now get errcode 1007")
      ->capture_default_str();
  app.add_option("--threads", opt.threads,
                 "server threads: the most connections served at once (each kept-alive "
                 "connection holds one)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return idv::sim::nppa::Main();
}
