#include "services/metrics.h"

#include <CivetServer.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace idv::services {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* b = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *b;
}

// The metric of `family` for `labels`, made once per label set and then found under a reader
// lock by `key`.
template <typename Metric, typename Make>
Metric& Find(std::shared_mutex& mu, absl::flat_hash_map<std::string, Metric*>& by_key,
             const std::string& key, Make make) {
  {
    std::shared_lock<std::shared_mutex> lock(mu);
    auto it = by_key.find(key);
    if (it != by_key.end()) return *it->second;
  }
  std::lock_guard<std::shared_mutex> lock(mu);
  Metric*& m = by_key[key];
  if (m == nullptr) m = &make();
  return *m;
}

prometheus::ClientMetric Value(double v, std::vector<prometheus::ClientMetric::Label> labels = {},
                               bool counter = false) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  (counter ? m.counter.value : m.gauge.value) = v;
  return m;
}

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type,
                                std::vector<prometheus::ClientMetric> metrics) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  f.metric = std::move(metrics);
  return f;
}

}  // namespace

Metrics::Metrics(std::string version)
    : registry_(std::make_shared<prometheus::Registry>()),
      handled_(prometheus::BuildCounter()
                   .Name("idv_grpc_server_handled_total")
                   .Help("RPCs completed, by method and gRPC status code.")
                   .Register(*registry_)),
      handling_(prometheus::BuildHistogram()
                    .Name("idv_grpc_server_handling_seconds")
                    .Help("Time from an RPC's arrival to its status, by method.")
                    .Register(*registry_)),
      verifications_(prometheus::BuildCounter()
                         .Name("idv_verifications_total")
                         .Help("Verify answers (replays excluded), by tenant, document type, "
                               "outcome and reason.")
                         .Register(*registry_)),
      store_commit_(prometheus::BuildHistogram()
                        .Name("idv_store_commit_seconds")
                        .Help("Time from a Verify's commit request to its durable write (group "
                              "commit included).")
                        .Register(*registry_)
                        .Add({}, LatencyBuckets())) {
  prometheus::BuildGauge()
      .Name("idv_build_info")
      .Help("Always 1; the build's version as a label.")
      .Register(*registry_)
      .Add({{"version", std::move(version)}})
      .Set(1);
}

Metrics::Method::Method(Metrics& metrics, std::string name)
    : metrics_(metrics),
      name_(std::move(name)),
      seconds_(&metrics.handling_.Add({{"method", name_}}, LatencyBuckets())) {}

void Metrics::Method::Finished(int code, absl::Duration took) {
  const size_t c = code >= 0 && code < 17 ? static_cast<size_t>(code) : 2;
  prometheus::Counter* counter = by_code_[c].load(std::memory_order_acquire);
  if (counter == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    counter = by_code_[c].load(std::memory_order_relaxed);
    if (counter == nullptr) {
      counter = &metrics_.handled_.Add(
          {{"method", name_},
           {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(c))}});
      by_code_[c].store(counter, std::memory_order_release);
    }
  }
  counter->Increment();
  seconds_->Observe(absl::ToDoubleSeconds(took));
}

Metrics::Method& Metrics::ForMethod(absl::string_view method) {
  {
    std::shared_lock<std::shared_mutex> lock(methods_mu_);
    auto it = methods_.find(method);
    if (it != methods_.end()) return *it->second;
  }
  std::lock_guard<std::shared_mutex> lock(methods_mu_);
  std::unique_ptr<Method>& m = methods_[std::string(method)];
  if (m == nullptr) m.reset(new Method(*this, std::string(method)));
  return *m;
}

void Metrics::Verified(absl::string_view tenant, idv::v1::DocumentType type,
                       idv::v1::Outcome outcome, idv::v1::ReasonCode reason) {
  const std::string key = absl::StrCat(tenant, "\x1f", static_cast<int>(type), "\x1f",
                                       static_cast<int>(outcome), "\x1f", static_cast<int>(reason));
  Find(
      verifications_by_.mu, verifications_by_.by_key, key,
      [&]() -> auto& {
        return verifications_.Add({{"tenant", std::string(tenant)},
                                   {"document_type", idv::v1::DocumentType_Name(type)},
                                   {"outcome", idv::v1::Outcome_Name(outcome)},
                                   {"reason", idv::v1::ReasonCode_Name(reason)}});
      })
      .Increment();
}

void Metrics::StoreCommitted(absl::Duration took) {
  store_commit_.Observe(absl::ToDoubleSeconds(took));
}

std::string Metrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  const LiveState s = Live();
  using prometheus::MetricType;
  if (s.cache_enabled) {
    families.push_back(
        Family("idv_cache_lookups_total", "Result cache lookups, by result.", MetricType::Counter,
               {Value(static_cast<double>(s.cache_hits), {{"result", "hit"}}, true),
                Value(static_cast<double>(s.cache_misses), {{"result", "miss"}}, true)}));
    families.push_back(Family("idv_cache_inserts_total", "Answers put into the result cache.",
                              MetricType::Counter,
                              {Value(static_cast<double>(s.cache_inserts), {}, true)}));
    families.push_back(Family("idv_cache_evictions_total",
                              "Live cache entries pushed out to make room.", MetricType::Counter,
                              {Value(static_cast<double>(s.cache_evictions), {}, true)}));
  }
  std::vector<prometheus::ClientMetric> breakers, in_flight;
  for (const LiveState::Backend& b : s.backends) {
    breakers.push_back(Value(b.breaker, {{"backend", b.name}}));
    in_flight.push_back(Value(b.in_flight, {{"backend", b.name}}));
  }
  families.push_back(Family("idv_backend_breaker_state",
                            "Circuit breaker per backend: 0 closed, 1 half-open, 2 open.",
                            MetricType::Gauge, std::move(breakers)));
  families.push_back(Family("idv_backend_in_flight", "Calls in flight per backend.",
                            MetricType::Gauge, std::move(in_flight)));
  families.push_back(Family("idv_verify_in_flight", "Verify calls being worked on.",
                            MetricType::Gauge, {Value(s.verify_in_flight)}));
  families.push_back(Family("idv_rechecks_queued", "PENDING verifications waiting for a re-check.",
                            MetricType::Gauge, {Value(static_cast<double>(s.rechecks_queued))}));
  families.push_back(Family("idv_store_up", "1 while the store accepts writes.", MetricType::Gauge,
                            {Value(s.store_serving ? 1 : 0)}));
  families.push_back(Family("idv_ready", "1 while idvd accepts calls (what /readyz answers).",
                            MetricType::Gauge, {Value(s.ready ? 1 : 0)}));
  families.push_back(Family("idv_config_version", "The live configuration version.",
                            MetricType::Gauge, {Value(static_cast<double>(s.config_version))}));
  families.push_back(Family("idv_key_version", "The current key version.", MetricType::Gauge,
                            {Value(s.key_version)}));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

namespace {

constexpr absl::string_view kVerifyMethod = "/idv.v1.VerificationService/Verify";

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(Metrics::Method& method) : method_(method), start_(absl::Now()) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      method_.Finished(methods->GetSendStatus().error_code(), absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  Metrics::Method& method_;
  const absl::Time start_;
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(Metrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const absl::string_view method = info->method();
    if (method == kVerifyMethod) return nullptr;  // counted by the service itself
    return new MetricsInterceptor(metrics_.ForMethod(method));
  }

 private:
  Metrics& metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewMetricsInterceptorFactory(
    Metrics& metrics) {
  return std::make_unique<MetricsInterceptorFactory>(metrics);
}

struct MetricsServer::Handlers {
  class Text : public CivetHandler {
   public:
    explicit Text(std::function<std::pair<int, std::string>()> body) : body_(std::move(body)) {}
    bool handleGet(CivetServer*, struct mg_connection* conn) override {
      const auto [status, text] = body_();
      mg_printf(conn,
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                status, status == 200 ? "OK" : "Service Unavailable", text.size());
      mg_write(conn, text.data(), text.size());
      return true;
    }

   private:
    std::function<std::pair<int, std::string>()> body_;
  };
  std::unique_ptr<Text> metrics, healthz, readyz;
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                                    const Metrics& metrics) {
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->handlers_ = std::make_unique<Handlers>();
  s->handlers_->metrics = std::make_unique<Handlers::Text>(
      [&metrics] { return std::make_pair(200, metrics.Scrape()); });
  s->handlers_->healthz =
      std::make_unique<Handlers::Text>([] { return std::make_pair(200, std::string("ok\n")); });
  s->handlers_->readyz = std::make_unique<Handlers::Text>([&metrics] {
    return metrics.Live().ready ? std::make_pair(200, std::string("ready\n"))
                                : std::make_pair(503, std::string("not ready\n"));
  });
  const size_t colon = listen.rfind(':');
  const std::string host = colon == std::string::npos ? "127.0.0.1" : listen.substr(0, colon);
  const std::string port = colon == std::string::npos ? listen : listen.substr(colon + 1);
  try {
    s->server_ = std::make_unique<CivetServer>(std::vector<std::string>{
        "listening_ports", absl::StrCat(host, ":", port),
        // The console's calls (a proof, an export) hold a thread each while they run.
        "num_threads", "8", "request_timeout_ms", "3600000"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  s->server_->addHandler("/metrics", s->handlers_->metrics.get());
  s->server_->addHandler("/healthz", s->handlers_->healthz.get());
  s->server_->addHandler("/readyz", s->handlers_->readyz.get());
  const std::vector<int> ports = s->server_->getListeningPorts();
  if (ports.empty())
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen));
  s->address_ = absl::StrCat(host, ":", ports.front());
  return s;
}

void MetricsServer::AddHandler(const std::string& uri, CivetHandler* handler) {
  server_->addHandler(uri, handler);
}

MetricsServer::~MetricsServer() {
  if (server_ != nullptr) server_->close();
}

}  // namespace idv::services
