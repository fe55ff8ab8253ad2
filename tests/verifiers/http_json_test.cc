// The HTTP/JSON backend's pieces: the request body from its template, the answer's mapping, the
// signed headers (against a vector Python's hmac and hashlib computed), TLS with a CA file, and
// the factory's checks.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <future>

#include "absl/strings/str_cat.h"
#include "identity/claim.h"
#include "tests/support/process.h"
#include "verifiers/http/hmac_auth.h"
#include "verifiers/http_json/http_json_verifier.h"

namespace idv::verifiers::http_json {
namespace {

Settings TencentStyle() {
  Settings s;
  s.result_pointer = "/Response/Result";
  s.request_id_pointer = "/Response/RequestId";
  s.results = {{"0", {idv::v1::VERIFIED, idv::v1::ELEMENTS_MATCH}},
               {"-1", {idv::v1::MISMATCH, idv::v1::ELEMENTS_MISMATCH}},
               {"-2", {idv::v1::NOT_FOUND, idv::v1::NO_RECORD}}};
  return s;
}

TEST(HttpJsonAnswers, MapThroughTheTable) {
  const Settings s = TencentStyle();
  CheckResult r = MapJsonAnswer(s, 200, R"({"Response":{"Result":"0","RequestId":"r-1"}})");
  EXPECT_EQ(r.outcome, idv::v1::VERIFIED);
  EXPECT_EQ(r.confirmed, kNumberAndName);
  EXPECT_EQ(r.raw_code, "0");
  EXPECT_EQ(r.authority_request_id, "r-1");
  EXPECT_EQ(MapJsonAnswer(s, 200, R"({"Response":{"Result":"-1"}})").outcome, idv::v1::MISMATCH);
  EXPECT_EQ(MapJsonAnswer(s, 200, R"({"Response":{"Result":"-2"}})").outcome, idv::v1::NOT_FOUND);
  // A number where a string was expected is read as its decimal text.
  EXPECT_EQ(MapJsonAnswer(s, 200, R"({"Response":{"Result":0}})").outcome, idv::v1::VERIFIED);
  // Never an answer from anything else.
  for (const char* body : {R"({"Response":{"Result":"-4"}})", R"({"Response":{}})", "<html>",
                           R"({"Response":{"Result":true}})", R"([1,2])"}) {
    EXPECT_EQ(MapJsonAnswer(s, 200, body).outcome, idv::v1::UNAVAILABLE) << body;
  }
  r = MapJsonAnswer(s, 503, R"({"Response":{"Result":"0"}})");
  EXPECT_EQ(r.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(r.raw_code, "http:503");
  // A three-element API's match confirms the phone too.
  Settings carrier = TencentStyle();
  carrier.requires_phone = true;
  EXPECT_EQ(MapJsonAnswer(carrier, 200, R"({"Response":{"Result":"0"}})").confirmed,
            kNumberAndName | ElementBit(idv::v1::PHONE_NUMBER));
}

TEST(HttpJsonRequests, TheTemplateTakesTheClaimAsJsonStrings) {
  identity::NormalizedClaim c;
  c.document_number = "11010519491231002X";
  c.full_name = "王\"}, \"injected\": \"1";
  const std::string body = RenderBody(
      R"({"a": {"n": "{{document_number}}", "list": ["{{full_name}}"]}, "k": "{{request_id}}",
          "keep": "literal {{full_name}}", "x": 1})",
      c, "v-1");
  EXPECT_EQ(body, R"({"a":{"list":["王\"}, \"injected\": \"1"],"n":"11010519491231002X"},)"
                  R"("k":"v-1","keep":"literal {{full_name}}","x":1})");
}

TEST(HmacAuth, MatchesPython) {
  EXPECT_EQ(
      http::HmacSignature("a shared secret of the demo API", "POST", "/?Action=Id2MetaVerify",
                          "1700000000", "00112233445566778899aabbccddeeff", R"({"IdCard": "x"})"),
      "447b1cc595bdbebb00026d34979754f581d572a53b08a73794945d6da1708336");
  std::vector<std::string> a = http::HmacHeaders("k", "0123456789abcdef", "POST", "/", "{}");
  std::vector<std::string> b = http::HmacHeaders("k", "0123456789abcdef", "POST", "/", "{}");
  ASSERT_EQ(a.size(), 4u);
  EXPECT_NE(a[2], b[2]);  // a fresh nonce each time
  EXPECT_EQ(http::PathAndQuery("https://h:443/a/b?c=d"), "/a/b?c=d");
  EXPECT_EQ(http::PathAndQuery("http://127.0.0.1:1?x=1"), "/?x=1");
  EXPECT_EQ(http::PathAndQuery("http://127.0.0.1:1"), "/");
}

// Over https, against a server whose certificate a CA made at test time issued: answered with
// that CA as ca_file, refused without it (the system's roots do not know it).
TEST(HttpJsonTls, TheApiCertificateIsCheckedAgainstTheCaFile) {
  testing::TempDir dir;
  const std::string d = dir.path();
  const std::string make_certs = absl::StrCat(
      "cd ", d,
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-keyout ca.key -out ca.pem -subj /CN=test-ca 2>/dev/null"
      " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout api.key "
      "-out api.csr -subj /CN=127.0.0.1 2>/dev/null"
      " && printf 'subjectAltName=IP:127.0.0.1' > san.ext"
      " && openssl x509 -req -in api.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
      "-extfile san.ext -out api.pem 2>/dev/null");
  ASSERT_EQ(std::system(make_certs.c_str()), 0);
  auto api = testing::Process::Start({IDV_HTTPS_API, d + "/api.pem", d + "/api.key"});
  ASSERT_TRUE(api.ok()) << api.status();
  absl::StatusOr<std::string> address = (*api)->WaitForListening();
  ASSERT_TRUE(address.ok()) << address.status();
  std::ofstream(d + "/token") << "t0ken\n";
  auto backend = [&](const std::string& ca_file) {
    idv::config::v1::HttpJsonConfig c;
    c.set_url(absl::StrCat("https://", *address, "/"));
    c.set_body_template(R"({"IdCard": "{{document_number}}", "Name": "{{full_name}}"})");
    c.mutable_bearer()->set_token_file(d + "/token");
    c.set_result_pointer("/Response/Result");
    c.set_request_id_pointer("/Response/RequestId");
    auto* r = c.add_results();
    r->set_code("0");
    r->set_outcome(idv::v1::VERIFIED);
    c.set_ca_file(ca_file);
    idv::config::v1::BackendConfig b;
    b.set_name("api");
    b.mutable_typed_config()->PackFrom(c);
    absl::StatusOr<std::unique_ptr<Verifier>> v = HttpJsonFactory().Create(b);
    EXPECT_TRUE(v.ok()) << v.status();
    return *std::move(v);
  };
  auto ask = [](Verifier& v) {
    identity::NormalizedClaim claim;
    claim.document_type = idv::v1::CN_RESIDENT_ID;
    claim.document_number = "11010519491231002X";
    claim.full_name = "王小明";
    CheckContext ctx;
    ctx.deadline = absl::Now() + absl::Seconds(10);
    std::promise<CheckResult> p;
    v.Check(ctx, claim, [&p](CheckResult r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  CheckResult r = ask(*backend(d + "/ca.pem"));
  EXPECT_EQ(r.outcome, idv::v1::VERIFIED) << r.raw_code;
  EXPECT_EQ(r.authority_request_id.rfind("tls-", 0), 0u);
  r = ask(*backend(""));
  EXPECT_EQ(r.outcome, idv::v1::UNAVAILABLE);
  EXPECT_EQ(r.raw_code, "http:unreachable");
}

TEST(HttpJsonConfig, BadSettingsAreRefused) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/token") << "t0ken\n";
  auto create = [&](const std::string& text) {
    idv::config::v1::HttpJsonConfig c;
    c.set_url("http://127.0.0.1:1/");
    c.set_body_template(R"({"n": "{{document_number}}"})");
    c.set_result_pointer("/r");
    auto* r = c.add_results();
    r->set_code("0");
    r->set_outcome(idv::v1::VERIFIED);
    c.mutable_bearer()->set_token_file(dir.path() + "/token");
    if (text == "https") c.set_url("https://api.example.com/verify");
    if (text == "remote http") c.set_url("http://api.example.com/");
    if (text == "lookalike http") c.set_url("http://127.0.0.1.example.com:80/");
    if (text == "localhost") c.set_url("http://localhost/verify");
    if (text == "template") c.set_body_template("[1]");
    if (text == "pointer") c.set_result_pointer("no-slash");
    if (text == "no results") c.clear_results();
    if (text == "pending") c.mutable_results(0)->set_outcome(idv::v1::PENDING);
    if (text == "twice") *c.add_results() = c.results(0);
    if (text == "header") c.add_headers("no colon");
    if (text == "token") c.mutable_bearer()->set_token_file(dir.path() + "/none");
    if (text == "hmac") c.mutable_hmac()->set_secret_file(dir.path() + "/token");  // too short
    if (text == "capped") c.set_max_connections(4);
    if (text == "connections") c.set_max_connections(10001);
    idv::config::v1::BackendConfig b;
    b.set_name("api");
    b.mutable_typed_config()->PackFrom(c);
    absl::StatusOr<std::unique_ptr<Verifier>> v = HttpJsonFactory().Create(b);
    return v.ok() ? std::string("accepted") : std::string(v.status().message());
  };
  EXPECT_EQ(create(""), "accepted");
  EXPECT_EQ(create("https"), "accepted");
  EXPECT_EQ(create("localhost"), "accepted");
  EXPECT_EQ(create("capped"), "accepted");
  for (const char* bad : {"remote http", "lookalike http", "template", "pointer", "no results",
                          "pending", "twice", "header", "token", "hmac", "connections"}) {
    EXPECT_NE(create(bad), "accepted") << bad;
  }
}

}  // namespace
}  // namespace idv::verifiers::http_json
