// The web console for auditors and administrators, served by idvd on its HTTP port (the metrics
// server) under /console/.
//
//   GET  /console/, /console/assets/...   the page (console/dist, embedded at build time), under a
//                                         strict Content-Security-Policy
//   POST /console/api/session             sign in: {"api_key"} -> a session cookie and a CSRF token
//   GET  /console/api/session             the session's client, tenant, roles, expiry, CSRF token
//   DELETE /console/api/session           sign out
//   POST /console/api/rpc/idv.v1.S/M      an AuditService or AdminService call as JSON
//   POST /console/api/export              ExportRecords, streamed
//
// A session is a cookie sealed by the key ring (XChaCha20-Poly1305 under a key derived from the
// master key, so every node sharing it can open it; nothing is stored): the API key, its client,
// the expiry and a CSRF token. HttpOnly, SameSite=Strict, Path=/console, Secure when the console
// is told it is behind TLS. Every API request but sign-in must carry the CSRF token in
// X-CSRF-Token and come from the same origin. RPCs are made on idvd's own gRPC server through an
// in-process channel with the session's API key, so the console sees exactly what that client's
// roles and tenant allow, and a revoked key stops working at once.
#ifndef IDV_SERVICES_CONSOLE_H_
#define IDV_SERVICES_CONSOLE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "crypto/keyring.h"
#include "services/auth.h"
#include "services/metrics.h"

namespace idv::services {

struct ConsoleOptions {
  // How long a session lasts after sign-in.
  absl::Duration session_ttl = absl::Minutes(30);
  // Mark the cookie Secure (the console is reached over TLS, e.g. through a proxy).
  bool secure_cookie = false;
};

class Console {
 public:
  // Serves the console on `http` until destroyed (destroy it after `http` stops). `channel`: an
  // in-process channel to idvd's gRPC server.
  Console(MetricsServer& http, std::shared_ptr<grpc::Channel> channel, const crypto::KeyRing& keys,
          const Authenticator& auth, ConsoleOptions options);
  ~Console();

 private:
  struct Handlers;
  std::unique_ptr<Handlers> handlers_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_CONSOLE_H_
