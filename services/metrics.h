// idvd's Prometheus metrics (prometheus-cpp) and the HTTP endpoint that serves them with the
// load balancers' health checks (civetweb): GET /metrics, /healthz (the process answers),
// /readyz (200 while idvd accepts calls: store healthy, not draining; 503 otherwise).
//
// Names follow Prometheus conventions (base units, `_total` counters, `_seconds` histograms).
// Labels never hold identity data: methods, gRPC codes, tenants, document types, outcomes,
// reasons and backend names only.
//
// Counters and histograms on the request path are updated through pointers cached per label set
// (a read lock, no allocation once warm), so metrics cost little per call. What other components
// already count (the cache, breakers, queues) is read at scrape time by LiveState.
#ifndef IDV_SERVICES_METRICS_H_
#define IDV_SERVICES_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "idv/v1/verification.pb.h"

class CivetServer;
class CivetHandler;

namespace idv::services {

// Values read at each scrape from the components that keep them.
struct LiveState {
  struct Backend {
    std::string name;
    int breaker = 0;  // 0 closed, 1 half-open, 2 open
    int in_flight = 0;
  };
  uint64_t cache_hits = 0, cache_misses = 0, cache_evictions = 0, cache_inserts = 0;
  bool cache_enabled = false;
  std::vector<Backend> backends;
  int verify_in_flight = 0;
  size_t rechecks_queued = 0;
  bool store_serving = true;
  bool ready = true;
  uint64_t config_version = 0;
  uint32_t key_version = 0;
};

class Metrics {
 public:
  // The counters of one RPC method, made once and kept: recording a call costs two atomic
  // loads and the updates themselves.
  class Method {
   public:
    void Finished(int code, absl::Duration took);

   private:
    friend class Metrics;
    Method(Metrics& metrics, std::string name);
    Metrics& metrics_;
    const std::string name_;
    prometheus::Histogram* seconds_;
    std::mutex mu_;  // creating a code's counter
    std::array<std::atomic<prometheus::Counter*>, 17> by_code_{};
  };

  explicit Metrics(std::string version);

  // The counters of `method` ("/package.Service/Method"): the same object for the same name.
  Method& ForMethod(absl::string_view method);
  // One finished RPC: `method` as "/package.Service/Method", its final code.
  void CallFinished(absl::string_view method, int code, absl::Duration took) {
    ForMethod(method).Finished(code, took);
  }
  // One Verify answered OK (replays excluded: they answer no new verification).
  void Verified(absl::string_view tenant, idv::v1::DocumentType type, idv::v1::Outcome outcome,
                idv::v1::ReasonCode reason);
  // One store commit of a Verify, from call to durable.
  void StoreCommitted(absl::Duration took);

  // Sets how a scrape reads live values. Call before serving.
  void set_live(std::function<LiveState()> live) { live_ = std::move(live); }
  LiveState Live() const { return live_ ? live_() : LiveState(); }

  // The exposition text of every metric (what GET /metrics answers).
  std::string Scrape() const;

 private:
  template <typename Metric>
  struct Cached {
    mutable std::shared_mutex mu;
    absl::flat_hash_map<std::string, Metric*> by_key ABSL_GUARDED_BY(mu);
  };

  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_;
  prometheus::Family<prometheus::Counter>& verifications_;
  prometheus::Histogram& store_commit_;
  mutable std::shared_mutex methods_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_ ABSL_GUARDED_BY(methods_mu_);
  Cached<prometheus::Counter> verifications_by_;
  std::function<LiveState()> live_;
};

// A server interceptor that reports every RPC's method, code and time to `metrics`, except
// Verify's, which the verification service reports itself (cheaper on the hot path).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewMetricsInterceptorFactory(
    Metrics& metrics);

// The HTTP endpoint: /metrics, /healthz, /readyz on `listen` ("host:port"; port 0 picks one).
class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              const Metrics& metrics);
  ~MetricsServer();
  // "host:port" actually listened on.
  const std::string& address() const { return address_; }
  // Serves `uri` (and below it) with `handler`, which must outlive the server (the web console).
  void AddHandler(const std::string& uri, CivetHandler* handler);

 private:
  MetricsServer() = default;
  struct Handlers;
  std::unique_ptr<Handlers> handlers_;
  std::unique_ptr<CivetServer> server_;
  std::string address_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_METRICS_H_
