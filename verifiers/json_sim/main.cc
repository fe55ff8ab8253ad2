// idv-json-sim: a test double of a commercial two-element API answering JSON over HTTP, in one of
// two styles, from the same synthetic population as idv-registry-sim (same --population and
// --seed):
//
//   --style=alibaba  (Id2MetaVerify-style) POST {"ParamType", "IdentifyNum", "UserName"} ->
//                    {"RequestId", "Code": "200", "Message", "ResultObject": {"BizCode": B}},
//                    B "1" match, "2" no match, "3" no record
//   --style=tencent  (IdCardVerification-style) POST {"IdCard", "Name"} ->
//                    {"Response": {"Result": R, "Description", "RequestId"}},
//                    R "0" match, "-1" no match, "-2" no record (this simulator's choice)
//
// Callers authenticate with a bearer token (--bearer_token_file) or signed headers
// (--hmac_key_id and --hmac_secret_file, verifiers/http/hmac_auth.h: timestamp within 5 minutes,
// nonce never seen before); others get 401. Faults can be changed while it runs:
//
//   POST /sim/faults  {"latency_ms": N, "status": S}  every answer waits N ms (a hung API: a
//                     large N; a later change releases the waiting ones), or is HTTP status S
//   GET  /sim/stats   {"requests", "answered", "in_flight", "max_in_flight", "refused"}
//
// The identities it is sent are kept in memory only and never printed.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "verifiers/http/hmac_auth.h"
#include "verifiers/http_sim/http_sim.h"
#include "verifiers/registry_sim/population.h"

namespace idv::sim::json {
namespace {

using Json = nlohmann::json;

struct Options {
  std::string listen = "127.0.0.1:7620";
  std::string style = "alibaba";
  uint64_t population = 10000;
  uint64_t seed = 1;
  std::string export_csv;
  std::string bearer_token_file;
  std::string hmac_key_id;
  std::string hmac_secret_file;
  uint32_t latency_ms = 0;
  uint32_t threads = 128;
};

Options opt;

class Simulator : public CivetHandler {
 public:
  Simulator(const Population& population, std::string token, std::string secret)
      : population_(population), token_(std::move(token)), secret_(std::move(secret)) {
    latency_ms_ = opt.latency_ms;
  }

  bool handleGet(CivetServer*, mg_connection* c) override {
    if (std::string(mg_get_request_info(c)->local_uri) != "/sim/stats") {
      return ReplyJson(c, 404, R"({"Message":"not found"})");
    }
    return ReplyJson(c, 200,
                     Json{{"requests", requests_.load()},
                          {"answered", answered_.load()},
                          {"in_flight", in_flight_.load()},
                          {"max_in_flight", max_in_flight_.load()},
                          {"refused", refused_.load()}}
                         .dump());
  }

  bool handlePost(CivetServer*, mg_connection* c) override {
    const mg_request_info* ri = mg_get_request_info(c);
    const std::string body = ReadBody(c);
    if (std::string(ri->local_uri) == "/sim/faults") return SetFaults(c, body);
    requests_++;
    const int now = ++in_flight_;
    for (int seen = max_in_flight_.load(); now > seen;) {
      if (max_in_flight_.compare_exchange_weak(seen, now)) break;
    }
    const bool ok = Serve(c, ri, body);
    in_flight_--;
    return ok;
  }

  // Ends every wait for an injected latency, now and from now on.
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      latency_ms_ = 0;
      ++generation_;
    }
    changed_.notify_all();
  }

 private:
  bool SetFaults(mg_connection* c, const std::string& body) {
    const Json f = Json::parse(body, nullptr, false);
    if (!f.is_object()) return ReplyJson(c, 400, R"({"Message":"faults must be a JSON object"})");
    {
      std::lock_guard<std::mutex> lock(mu_);
      latency_ms_ = f.value("latency_ms", 0);
      status_ = f.value("status", 200);
      ++generation_;
    }
    changed_.notify_all();  // releases answers held by the old latency
    return ReplyJson(c, 200, "{}");
  }

  // Waits out the current latency (cut short by a change of faults); returns the status to
  // answer with.
  int AwaitFaults() {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t generation = generation_;
    if (latency_ms_ > 0) {
      changed_.wait_for(lock, std::chrono::milliseconds(latency_ms_),
                        [&] { return generation_ != generation; });
    }
    return status_;
  }

  std::string RequestId() { return absl::StrCat("sim-", opt.style, "-", ++answered_); }

  bool Authenticated(mg_connection* c, const mg_request_info* ri, const std::string& body) {
    if (!token_.empty()) {
      const char* auth = mg_get_header(c, "Authorization");
      return auth != nullptr && std::string(auth) == "Bearer " + token_;
    }
    if (!secret_.empty()) {
      const char* key = mg_get_header(c, "X-Idv-Key-Id");
      const char* ts = mg_get_header(c, "X-Idv-Timestamp");
      const char* nonce = mg_get_header(c, "X-Idv-Nonce");
      const char* sig = mg_get_header(c, "X-Idv-Signature");
      int64_t seconds = 0;
      if (key == nullptr || ts == nullptr || nonce == nullptr || sig == nullptr ||
          opt.hmac_key_id != key || !absl::SimpleAtoi(ts, &seconds) ||
          std::abs(seconds - absl::ToUnixSeconds(absl::Now())) > 300) {
        return false;
      }
      std::string path = ri->local_uri;
      if (ri->query_string != nullptr) absl::StrAppend(&path, "?", ri->query_string);
      if (verifiers::http::HmacSignature(secret_, "POST", path, ts, nonce, body) != sig) {
        return false;
      }
      std::lock_guard<std::mutex> lock(mu_);
      return nonces_.insert(nonce).second;  // a replayed request is refused
    }
    return true;
  }

  bool Serve(mg_connection* c, const mg_request_info* ri, const std::string& body) {
    if (!Authenticated(c, ri, body)) {
      refused_++;
      return ReplyJson(c, 401,
                       opt.style == "alibaba"
                           ? R"({"Code":"InvalidAccessKeyId","Message":"not authenticated"})"
                           : R"({"Response":{"Error":{"Code":"AuthFailure"}}})");
    }
    const int status = AwaitFaults();
    if (status != 200) return ReplyJson(c, status, R"({"Message":"injected fault"})");
    const Json req = Json::parse(body, nullptr, false);
    const bool alibaba = opt.style == "alibaba";
    const char* number_field = alibaba ? "IdentifyNum" : "IdCard";
    const char* name_field = alibaba ? "UserName" : "Name";
    if (!req.is_object() || !req.contains(number_field) || !req.contains(name_field) ||
        !req[number_field].is_string() || !req[name_field].is_string()) {
      return ReplyJson(c, 400, R"({"Message":"missing parameters"})");
    }
    const Person* person = population_.Find(req[number_field].get<std::string>());
    // 0: match, 1: no match, 2: no record.
    const int verdict = person == nullptr                                         ? 2
                        : person->full_name == req[name_field].get<std::string>() ? 0
                                                                                  : 1;
    if (alibaba) {
      static const char* kBizCode[] = {"1", "2", "3"};
      return ReplyJson(c, 200,
                       Json{{"RequestId", RequestId()},
                            {"Code", "200"},
                            {"Message", "success"},
                            {"ResultObject", {{"BizCode", kBizCode[verdict]}}}}
                           .dump());
    }
    static const char* kResult[] = {"0", "-1", "-2"};
    static const char* kDescription[] = {"consistent", "inconsistent", "no record"};
    return ReplyJson(c, 200,
                     Json{{"Response",
                           {{"Result", kResult[verdict]},
                            {"Description", kDescription[verdict]},
                            {"RequestId", RequestId()}}}}
                         .dump());
  }

  const Population& population_;
  const std::string token_;
  const std::string secret_;
  std::mutex mu_;
  std::condition_variable changed_;
  uint32_t latency_ms_ = 0;       // guarded by mu_
  int status_ = 200;              // guarded by mu_
  uint64_t generation_ = 0;       // guarded by mu_
  std::set<std::string> nonces_;  // guarded by mu_
  std::atomic<uint64_t> requests_{0}, answered_{0}, refused_{0};
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
};

absl::StatusOr<std::string> Secret(const std::string& path) {
  if (path.empty()) return std::string();
  absl::StatusOr<std::string> s = ReadFile(path);
  if (!s.ok()) return s.status();
  return std::string(absl::StripTrailingAsciiWhitespace(*s));
}

int Main() {
  if (opt.style != "alibaba" && opt.style != "tencent") {
    spdlog::error("--style is alibaba or tencent");
    return 2;
  }
  absl::StatusOr<std::string> token = Secret(opt.bearer_token_file);
  absl::StatusOr<std::string> secret = Secret(opt.hmac_secret_file);
  for (const absl::Status& s : {token.status(), secret.status()}) {
    if (!s.ok()) {
      spdlog::error("{}", std::string(s.message()));
      return 2;
    }
  }
  if (!secret->empty() && opt.hmac_key_id.empty()) {
    spdlog::error("--hmac_secret_file needs --hmac_key_id");
    return 2;
  }
  Population population = Population::Generate(opt.population, opt.seed);
  if (!opt.export_csv.empty()) {
    if (absl::Status s = population.ExportCsv(opt.export_csv); !s.ok()) {
      spdlog::error("{}", std::string(s.message()));
      return 1;
    }
  }
  Simulator sim(population, *token, *secret);
  return ServeUntilSignalled(
      sim, opt.listen, opt.threads,
      absl::StrCat(opt.style, "-style two-element API, ",
                   !token->empty()    ? "bearer"
                   : !secret->empty() ? "HMAC"
                                      : "no",
                   " auth, population ", population.size(), " (seed ", opt.seed, ")"),
      [&sim] { sim.Release(); });  // answers held by an injected latency go out now
}

}  // namespace
}  // namespace idv::sim::json

int main(int argc, char** argv) {
  using idv::sim::json::opt;
  CLI::App app{
      "idv-json-sim: a test double of a commercial two-element identity API (JSON over HTTP, "
      "Alibaba- or Tencent-style answers), for tests and demos.",
      "idv-json-sim"};
  app.set_version_flag("--version", "idv-json-sim " IDV_VERSION " (build " IDV_BUILD ")");
  app.add_option("--listen", opt.listen, "HOST:PORT to serve on; port 0 picks one")
      ->capture_default_str();
  app.add_option("--style", opt.style, "alibaba or tencent")->capture_default_str();
  app.add_option("--population", opt.population, "number of synthetic people")
      ->capture_default_str();
  app.add_option("--seed", opt.seed, "population seed")->capture_default_str();
  app.add_option("--export_csv,--export-csv", opt.export_csv,
                 "write the population to this CSV file and go on");
  app.add_option("--bearer_token_file,--bearer-token-file", opt.bearer_token_file,
                 "require this bearer token");
  app.add_option("--hmac_key_id,--hmac-key-id", opt.hmac_key_id,
                 "require signed headers with this key id (and --hmac_secret_file)");
  app.add_option("--hmac_secret_file,--hmac-secret-file", opt.hmac_secret_file,
                 "the shared secret of the signed headers");
  app.add_option("--latency_ms,--latency-ms", opt.latency_ms, "delay before every answer")
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
  return idv::sim::json::Main();
}
