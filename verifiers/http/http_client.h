// An HTTP client for the backends that speak HTTP (the NPPA interface, commercial JSON APIs):
// libcurl's multi interface driven by one thread of the client's own, so a transfer in flight
// holds no other thread, whatever the number of transfers. Connections are kept and reused
// across transfers (libcurl's connection cache), up to a cap per host when one is set; each
// transfer ends by its deadline, also while it waits for a connection; a transfer can be
// cancelled. Thread-safe.
#ifndef IDV_VERIFIERS_HTTP_HTTP_CLIENT_H_
#define IDV_VERIFIERS_HTTP_HTTP_CLIENT_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace idv::verifiers::http {

struct Request {
  std::string method = "GET";  // GET or POST
  std::string url;
  // "Name: value" lines.
  std::vector<std::string> headers;
  std::string body;
  // The transfer ends by then (DeadlineExceeded).
  absl::Time deadline = absl::InfiniteFuture();
  // PEM CA bundle for https; the system's when empty.
  std::string ca_file;
};

struct Response {
  long status = 0;
  std::string body;
  absl::Duration latency;
};

class Client {
 public:
  // `max_host_connections`: at most this many connections to one host at once (0: no limit);
  // transfers beyond it wait for a connection, within their deadline.
  explicit Client(size_t max_host_connections = 0);
  // Ends every transfer still out (Cancelled) and stops the thread.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  using Done = absl::AnyInvocable<void(absl::StatusOr<Response>) &&>;
  // Starts a transfer. `done` runs exactly once, on the client's thread (keep it short): the
  // response (any HTTP status), or DeadlineExceeded, Cancelled, or Unavailable with libcurl's
  // reason. Returns an id for Cancel.
  uint64_t Start(Request request, Done done);
  // Ends the transfer now with Cancelled, if it is still out. Cancelling a transfer that has
  // ended costs no wake-up of the client's thread (a policy cancels every check it started once it
  // has its verdict, the answered ones included).
  void Cancel(uint64_t id);

  // Transfers started and not yet answered; connections libcurl opened so far; times Start or
  // Cancel woke the client's thread (for tests).
  size_t in_flight() const;
  uint64_t connections_opened() const;
  uint64_t wakeups() const;

 private:
  struct Transfer;
  void Loop();
  void Finish(Transfer* t, absl::StatusOr<Response> result);
  // Ends the transfers whose deadline has passed (libcurl times out the ones it is running, but
  // not those waiting for a connection under the cap); the time until the next deadline.
  absl::Duration EndExpired();

  void* multi_;  // CURLM*
  const bool capped_;
  std::thread thread_;
  mutable std::mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<std::unique_ptr<Transfer>> to_add_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> to_cancel_ ABSL_GUARDED_BY(mu_);
  // The ids of the transfers started and not yet answered.
  absl::flat_hash_set<uint64_t> out_ ABSL_GUARDED_BY(mu_);
  uint64_t connections_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t wakeups_ ABSL_GUARDED_BY(mu_) = 0;
  // Owned by the loop thread: the transfers out, and easy handles kept for reuse (CURL*).
  static constexpr size_t kIdleHandles = 256;
  std::map<uint64_t, std::unique_ptr<Transfer>> active_;
  std::vector<void*> idle_;
};

}  // namespace idv::verifiers::http

#endif  // IDV_VERIFIERS_HTTP_HTTP_CLIENT_H_
