#include "services/console.h"

#include <CivetServer.h>
#include <grpcpp/generic/generic_stub.h>
#include <sodium.h>

#include <future>
#include <mutex>
#include <nlohmann/json.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "idv/v1/admin.grpc.pb.h"
#include "idv/v1/audit.grpc.pb.h"
#include "services/console_assets.h"

namespace idv::services {
namespace {

using google::protobuf::Message;

constexpr char kCookie[] = "idv_session";
constexpr char kSealedFor[] = "idv.console.session.v1";
constexpr size_t kMaxBody = 1 << 20;
// The page loads only its own script and style; nothing inline, nothing from elsewhere, never
// framed.
constexpr char kSecurityHeaders[] =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Cross-Origin-Resource-Policy: same-origin\r\n";

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 503:
      return "Service Unavailable";
    default:
      return "Bad Gateway";
  }
}

void Respond(mg_connection* c, int status, absl::string_view type, absl::string_view body,
             absl::string_view cache = "no-store", absl::string_view extra = "") {
  const std::string head =
      absl::StrCat("HTTP/1.1 ", status, " ", Reason(status), "\r\nContent-Type: ", type,
                   "\r\nContent-Length: ", body.size(), "\r\nCache-Control: ", cache, "\r\n",
                   kSecurityHeaders, extra, "Connection: close\r\n\r\n");
  mg_write(c, head.data(), head.size());
  mg_write(c, body.data(), body.size());
}

void Json(mg_connection* c, int status, const nlohmann::json& body, absl::string_view extra = "") {
  Respond(c, status, "application/json; charset=utf-8",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "no-store", extra);
}

void Error(mg_connection* c, int status, absl::string_view code, absl::string_view message) {
  Json(c, status, {{"code", std::string(code)}, {"message", std::string(message)}});
}

int HttpStatusOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    default:
      return 502;
  }
}

void GrpcError(mg_connection* c, const grpc::Status& s) {
  Error(c, HttpStatusOf(s.error_code()),
        absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())), s.error_message());
}

std::string Base64Url(absl::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const uint8_t*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool FromBase64Url(absl::string_view text, std::string* out) {
  out->assign(text.size(), '\0');
  size_t n = 0;
  if (sodium_base642bin(reinterpret_cast<uint8_t*>(out->data()), out->size(), text.data(),
                        text.size(), nullptr, &n, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return false;
  }
  out->resize(n);
  return true;
}

std::vector<std::string> RoleNames(uint32_t roles) {
  std::vector<std::string> out;
  if (roles & kRoleVerify) out.push_back("verify");
  if (roles & kRoleAudit) out.push_back("audit");
  if (roles & kRoleAdmin) out.push_back("admin");
  if (roles & kRoleSuperAdmin) out.push_back("super-admin");
  return out;
}

struct Session {
  std::string api_key, client_id, tenant, csrf;
  uint32_t roles = 0;
  int64_t expires = 0;  // Unix seconds
};

nlohmann::json Describe(const Session& s) {
  return {{"client_id", s.client_id},
          {"tenant", s.tenant},
          {"roles", RoleNames(s.roles)},
          {"expires_at", google::protobuf::util::TimeUtil::ToString(
                             google::protobuf::util::TimeUtil::SecondsToTimestamp(s.expires))},
          {"csrf_token", s.csrf}};
}

std::string Peer(mg_connection* c) {
  const mg_request_info* ri = mg_get_request_info(c);
  return absl::StrCat("http:", ri->remote_addr, ":", ri->remote_port);
}

// A request from another origin (a page elsewhere posting to the console) is refused: browsers
// send Sec-Fetch-Site and Origin with fetches, and this page's own are same-origin.
bool SameOrigin(mg_connection* c) {
  if (const char* site = mg_get_header(c, "Sec-Fetch-Site");
      site != nullptr && std::string(site) != "same-origin" && std::string(site) != "none") {
    return false;
  }
  const char* origin = mg_get_header(c, "Origin");
  const char* host = mg_get_header(c, "Host");
  if (origin == nullptr) return true;
  if (host == nullptr) return false;
  absl::string_view o(origin);
  return (absl::ConsumePrefix(&o, "http://") || absl::ConsumePrefix(&o, "https://")) && o == host;
}

std::string ReadBody(mg_connection* c, bool* too_big) {
  std::string body;
  char buf[8192];
  int n;
  while ((n = mg_read(c, buf, sizeof buf)) > 0) {
    body.append(buf, static_cast<size_t>(n));
    if (body.size() > kMaxBody) {
      *too_big = true;
      return "";
    }
  }
  *too_big = false;
  return body;
}

}  // namespace

struct Console::Handlers : public CivetHandler {
  Handlers(std::shared_ptr<grpc::Channel> channel, const crypto::KeyRing& keys,
           const Authenticator& auth, ConsoleOptions options)
      : channel(std::move(channel)),
        generic(this->channel),
        keys(keys),
        auth(auth),
        options(options) {}

  std::shared_ptr<grpc::Channel> channel;
  grpc::GenericStub generic;
  const crypto::KeyRing& keys;
  const Authenticator& auth;
  const ConsoleOptions options;
  // Sessions signed out on this node (by CSRF token, which is unique to a session) until they
  // would have expired, so a copy of the cookie stops working here at once. Other nodes accept
  // such a copy until it expires (README "The web console").
  mutable std::mutex signed_out_mu;
  mutable absl::flat_hash_map<std::string, int64_t> signed_out ABSL_GUARDED_BY(signed_out_mu);

  bool handleGet(CivetServer*, mg_connection* c) override {
    const std::string path = mg_get_request_info(c)->local_uri;
    if (path == "/console") {
      Respond(c, 301, "text/plain", "", "no-store", "Location: /console/\r\n");
      return true;
    }
    if (path == "/console/api/session") {
      absl::StatusOr<Session> s = Open(c);
      if (!s.ok()) {
        Error(c, 401, "UNAUTHENTICATED", s.status().message());
        return true;
      }
      Json(c, 200, Describe(*s));
      return true;
    }
    absl::string_view file = path;
    if (!absl::ConsumePrefix(&file, "/console")) return false;
    if (file == "/") file = "/index.html";
    for (size_t i = 0; i < kConsoleAssetCount; ++i) {
      const ConsoleAsset& a = kConsoleAssets[i];
      if (file != a.path) continue;
      // Assets carry a content hash in their names: cached for good. The page itself: always
      // revalidated, so a new build is picked up.
      Respond(
          c, 200, a.content_type, absl::string_view(reinterpret_cast<const char*>(a.data), a.size),
          absl::StartsWith(file, "/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
      return true;
    }
    Error(c, 404, "NOT_FOUND", "no such page");
    return true;
  }

  bool handlePost(CivetServer*, mg_connection* c) override {
    const std::string path = mg_get_request_info(c)->local_uri;
    if (!SameOrigin(c)) {
      Error(c, 403, "PERMISSION_DENIED", "cross-origin requests are refused");
      return true;
    }
    bool too_big = false;
    const std::string body = ReadBody(c, &too_big);
    if (too_big) {
      Error(c, 413, "INVALID_ARGUMENT", "request body over 1 MiB");
      return true;
    }
    if (path == "/console/api/session") {
      SignIn(c, body);
      return true;
    }
    absl::StatusOr<Session> s = Authorized(c);
    if (!s.ok()) return true;  // answered
    absl::string_view method = path;
    if (absl::ConsumePrefix(&method, "/console/api/rpc/")) {
      Call(c, *s, method, body);
      return true;
    }
    if (path == "/console/api/export") {
      Export(c, *s, body);
      return true;
    }
    Error(c, 404, "NOT_FOUND", "no such API");
    return true;
  }

  bool handleDelete(CivetServer*, mg_connection* c) override {
    if (std::string(mg_get_request_info(c)->local_uri) != "/console/api/session") return false;
    if (!SameOrigin(c)) {
      Error(c, 403, "PERMISSION_DENIED", "cross-origin requests are refused");
      return true;
    }
    absl::StatusOr<Session> s = Authorized(c);
    if (!s.ok()) return true;  // answered
    {
      std::lock_guard<std::mutex> lock(signed_out_mu);
      const int64_t now = absl::ToUnixSeconds(absl::Now());
      absl::erase_if(signed_out, [now](const auto& entry) { return entry.second <= now; });
      signed_out.emplace(s->csrf, s->expires);
    }
    Json(c, 200, {{"signed_out", true}}, ClearCookie());
    return true;
  }

  std::string CookieAttributes() const {
    return absl::StrCat("Path=/console; HttpOnly; SameSite=Strict",
                        options.secure_cookie ? "; Secure" : "");
  }

  std::string ClearCookie() const {
    return absl::StrCat("Set-Cookie: ", kCookie, "=; Max-Age=0; ", CookieAttributes(), "\r\n");
  }

  void SignIn(mg_connection* c, const std::string& body) {
    const nlohmann::json request = nlohmann::json::parse(body, nullptr, false);
    if (!request.is_object() || !request.contains("api_key") || !request["api_key"].is_string()) {
      Error(c, 400, "INVALID_ARGUMENT", "send {\"api_key\": \"<client_id>.<secret>\"}");
      return;
    }
    const std::string key(absl::StripAsciiWhitespace(request["api_key"].get<std::string>()));
    absl::StatusOr<Principal> who = auth.Identify(key, Peer(c));
    if (!who.ok()) {
      Error(c, 401, "UNAUTHENTICATED", who.status().message());
      return;
    }
    if ((who->roles() & (kRoleAudit | kRoleAdmin | kRoleSuperAdmin)) == 0) {
      Error(c, 403, "PERMISSION_DENIED", "the console is for audit and admin clients");
      return;
    }
    Session s;
    s.api_key = key;
    s.client_id = who->client_id();
    s.tenant = who->tenant();
    s.roles = who->roles();
    s.expires = absl::ToUnixSeconds(absl::Now() + options.session_ttl);
    s.csrf = RandomToken(24);
    const nlohmann::json sealed = {{"k", s.api_key}, {"c", s.client_id}, {"t", s.tenant},
                                   {"r", s.roles},   {"e", s.expires},   {"x", s.csrf}};
    const std::string cookie = Base64Url(keys.Seal(sealed.dump(), kSealedFor));
    Json(c, 200, Describe(s),
         absl::StrCat("Set-Cookie: ", kCookie, "=", cookie, "; Max-Age=",
                      absl::ToInt64Seconds(options.session_ttl), "; ", CookieAttributes(), "\r\n"));
  }

  absl::StatusOr<Session> Open(mg_connection* c) const {
    const char* header = mg_get_header(c, "Cookie");
    if (header == nullptr) return absl::UnauthenticatedError("not signed in");
    char value[4096];
    if (mg_get_cookie(header, kCookie, value, sizeof value) <= 0) {
      return absl::UnauthenticatedError("not signed in");
    }
    std::string sealed;
    if (!FromBase64Url(value, &sealed)) return absl::UnauthenticatedError("bad session");
    absl::StatusOr<std::string> text = keys.Unseal(sealed, kSealedFor);
    if (!text.ok()) return absl::UnauthenticatedError("bad session");
    const nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object()) return absl::UnauthenticatedError("bad session");
    Session s;
    s.api_key = j.value("k", "");
    s.client_id = j.value("c", "");
    s.tenant = j.value("t", "");
    s.roles = j.value("r", 0u);
    s.expires = j.value("e", int64_t{0});
    s.csrf = j.value("x", "");
    if (absl::ToUnixSeconds(absl::Now()) >= s.expires) {
      return absl::UnauthenticatedError("the session has ended: sign in again");
    }
    std::lock_guard<std::mutex> lock(signed_out_mu);
    if (signed_out.contains(s.csrf)) return absl::UnauthenticatedError("signed out");
    return s;
  }

  // The session of a state-changing request, with its CSRF token checked; answers the request
  // itself when there is none.
  absl::StatusOr<Session> Authorized(mg_connection* c) const {
    absl::StatusOr<Session> s = Open(c);
    if (!s.ok()) {
      Error(c, 401, "UNAUTHENTICATED", s.status().message());
      return s.status();
    }
    const char* token = mg_get_header(c, "X-CSRF-Token");
    if (token == nullptr || std::strlen(token) != s->csrf.size() ||
        sodium_memcmp(token, s->csrf.data(), s->csrf.size()) != 0) {
      Error(c, 403, "PERMISSION_DENIED", "missing or wrong CSRF token");
      return absl::PermissionDeniedError("csrf");
    }
    return s;
  }

  void Prepare(grpc::ClientContext& ctx, const Session& s, absl::Duration timeout) const {
    ctx.AddMetadata("authorization", "Bearer " + s.api_key);
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }

  // One unary AuditService or AdminService call: JSON in, JSON out (proto field names).
  void Call(mg_connection* c, const Session& s, absl::string_view full, const std::string& body) {
    const size_t slash = full.find('/');
    const std::string service(full.substr(0, slash));
    if (slash == absl::string_view::npos ||
        (service != "idv.v1.AuditService" && service != "idv.v1.AdminService")) {
      Error(c, 404, "NOT_FOUND", "the console calls AuditService and AdminService only");
      return;
    }
    const google::protobuf::MethodDescriptor* m =
        google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
            absl::StrCat(service, ".", full.substr(slash + 1)));
    if (m == nullptr || m->client_streaming() || m->server_streaming()) {
      Error(c, 404, "NOT_FOUND", "no such unary method");
      return;
    }
    google::protobuf::MessageFactory* factory =
        google::protobuf::MessageFactory::generated_factory();
    std::unique_ptr<Message> request(factory->GetPrototype(m->input_type())->New());
    if (auto st =
            google::protobuf::util::JsonStringToMessage(body.empty() ? "{}" : body, request.get());
        !st.ok()) {
      Error(c, 400, "INVALID_ARGUMENT", st.ToString());
      return;
    }
    std::string bytes;
    request->SerializeToString(&bytes);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer in(&slice, 1), out;
    grpc::ClientContext ctx;
    Prepare(ctx, s, absl::Minutes(10));
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, absl::StrCat("/", service, "/", m->name()), grpc::StubOptions(), &in,
                      &out, [&done](grpc::Status st) { done.set_value(std::move(st)); });
    const grpc::Status status = done.get_future().get();
    if (!status.ok()) {
      GrpcError(c, status);
      return;
    }
    std::vector<grpc::Slice> slices;
    (void)out.Dump(&slices);
    std::string reply;
    for (const grpc::Slice& sl : slices) {
      reply.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    }
    std::unique_ptr<Message> response(factory->GetPrototype(m->output_type())->New());
    if (!response->ParseFromString(reply)) {
      Error(c, 502, "INTERNAL", "unreadable answer");
      return;
    }
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    opts.always_print_primitive_fields = true;
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(*response, &json, opts);
    Respond(c, 200, "application/json; charset=utf-8", json);
  }

  // ExportRecords streamed to the browser as it comes (chunked), JSON Lines or CSV.
  void Export(mg_connection* c, const Session& s, const std::string& body) {
    idv::v1::ExportRecordsRequest request;
    if (auto st = google::protobuf::util::JsonStringToMessage(body.empty() ? "{}" : body, &request);
        !st.ok()) {
      Error(c, 400, "INVALID_ARGUMENT", st.ToString());
      return;
    }
    grpc::ClientContext ctx;
    Prepare(ctx, s, absl::Hours(1));
    auto stub = idv::v1::AuditService::NewStub(channel);
    std::unique_ptr<grpc::ClientReader<idv::v1::ExportChunk>> reader =
        stub->ExportRecords(&ctx, request);
    idv::v1::ExportChunk chunk;
    bool started = false;
    while (reader->Read(&chunk)) {
      if (!started) {
        const std::string head = absl::StrCat(
            "HTTP/1.1 200 OK\r\nContent-Type: ",
            request.format() == idv::v1::ExportRecordsRequest::CSV ? "text/csv"
                                                                   : "application/x-ndjson",
            "; charset=utf-8\r\nTransfer-Encoding: chunked\r\nCache-Control: no-store\r\n",
            kSecurityHeaders, "Connection: close\r\n\r\n");
        mg_write(c, head.data(), head.size());
        started = true;
      }
      if (!chunk.data().empty() &&
          mg_send_chunk(c, chunk.data().data(), static_cast<unsigned>(chunk.data().size())) < 0) {
        ctx.TryCancel();  // the browser went away
      }
    }
    const grpc::Status status = reader->Finish();
    if (!started) {
      if (!status.ok()) {
        GrpcError(c, status);
        return;
      }
      Respond(c, 200, "application/x-ndjson; charset=utf-8", "");
      return;
    }
    // A failure after the first chunk: the stream ends without its last chunk, which the
    // browser reports as an error instead of a short file.
    if (status.ok()) mg_send_chunk(c, "", 0);
  }
};

Console::Console(MetricsServer& http, std::shared_ptr<grpc::Channel> channel,
                 const crypto::KeyRing& keys, const Authenticator& auth, ConsoleOptions options)
    : handlers_(std::make_unique<Handlers>(std::move(channel), keys, auth, options)) {
  http.AddHandler("/console", handlers_.get());
}

Console::~Console() = default;

}  // namespace idv::services
