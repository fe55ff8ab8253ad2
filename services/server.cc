#include "services/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "audit/note.h"
#include "common/files.h"
#include "common/proto_time.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "services/admin_service.h"
#include "services/audit_service.h"
#include "services/auth.h"
#include "services/client_manager.h"
#include "services/config_manager.h"
#include "services/console.h"
#include "services/logging.h"
#include "services/metrics.h"
#include "services/rechecker.h"
#include "services/retention.h"
#include "services/verification_service.h"
#include "store/open.h"
#include "verifiers/policy_engine.h"
#include "verifiers/registry.h"

namespace idv::services {
namespace {

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat("line ", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

absl::Status MakeDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("cannot create directory ", path, ": ", std::strerror(errno)));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const idv::config::v1::TlsConfig& tls) {
  if (tls.cert_file().empty() && tls.key_file().empty()) {
    return grpc::InsecureServerCredentials();
  }
  // Read once here so that a missing or unreadable file stops idvd with its name; the provider
  // then re-reads the files every reload_interval (keeping the last good ones on a bad read).
  if (tls.cert_file().empty() || tls.key_file().empty()) {
    return absl::InvalidArgumentError("tls needs both cert_file and key_file");
  }
  for (const std::string& file : {tls.cert_file(), tls.key_file(), tls.client_ca_file()}) {
    if (file.empty()) continue;
    if (absl::StatusOr<std::string> pem = ReadFile(file); !pem.ok()) return pem.status();
  }
  int64_t every = 60;
  if (tls.has_reload_interval()) {
    every = absl::ToInt64Seconds(FromProto(tls.reload_interval()));
    if (every < 1) return absl::InvalidArgumentError("tls.reload_interval must be at least 1s");
  }
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file(), tls.cert_file(), tls.client_ca_file(), static_cast<unsigned int>(every));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.client_ca_file().empty()) {
    options.watch_root_certs();
    // Optional (callers may use an API key instead), but verified when presented.
    options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

// Bounds on what callers can make the gRPC server hold: message size, streams per connection,
// memory, idle connections and keepalive pings; and no SO_REUSEPORT, so that a second idvd on
// the same port fails to start instead of silently sharing it.
void ApplyServingLimits(const idv::config::v1::ServingConfig& c, grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(
      c.max_receive_bytes() > 0 ? static_cast<int>(c.max_receive_bytes()) : 64 * 1024);
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONCURRENT_STREAMS,
      c.max_concurrent_streams() > 0 ? static_cast<int>(c.max_concurrent_streams()) : 100);
  grpc::ResourceQuota quota("idvd");
  quota.Resize(static_cast<size_t>(c.memory_quota_mib() > 0 ? c.memory_quota_mib() : 256) << 20);
  builder.SetResourceQuota(quota);
  const absl::Duration idle =
      c.has_max_connection_idle() ? FromProto(c.max_connection_idle()) : absl::Minutes(5);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(idle)));
  // Pings from a client more often than every 10 s without calls are abuse: the third closes
  // the connection. idvd itself pings a silent client after 2 minutes.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 120000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

// What the health service reports. The store may fail before the gRPC server (and its health
// service) exists, so the failure is remembered and applied when the service is attached.
class Health {
 public:
  void Attach(grpc::HealthCheckServiceInterface* service) {
    std::lock_guard<std::mutex> lock(mu_);
    service_ = service;
    if (service_ == nullptr) return;
    // Each service by name too (they all stand or fall with the store), and "" for the server.
    for (const char* name :
         {"idv.v1.VerificationService", "idv.v1.AdminService", "idv.v1.AuditService"}) {
      service_->SetServingStatus(name, serving_);
    }
    service_->SetServingStatus(serving_);
  }
  bool store_serving() const {
    std::lock_guard<std::mutex> lock(mu_);
    return store_serving_;
  }
  bool serving() const {
    std::lock_guard<std::mutex> lock(mu_);
    return serving_;
  }
  // The store's state: NOT_SERVING while it cannot write, SERVING again when it recovers.
  // Returns the state before.
  bool Store(bool serving) {
    std::lock_guard<std::mutex> lock(mu_);
    const bool before = store_serving_;
    store_serving_ = serving;
    Apply();
    return before;
  }
  // Draining for shutdown: NOT_SERVING for good.
  void NotServing() {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
    Apply();
  }

 private:
  void Apply() {
    serving_ = store_serving_ && !draining_;
    if (service_ != nullptr) service_->SetServingStatus(serving_);
  }

  mutable std::mutex mu_;
  grpc::HealthCheckServiceInterface* service_ = nullptr;  // guarded by mu_
  bool serving_ = true;                                   // guarded by mu_
  bool store_serving_ = true;                             // guarded by mu_
  bool draining_ = false;                                 // guarded by mu_
};

// Checkpoints signed with the key ring's audit key of `version` (the config file's
// keys.current_version: RotateKeys does not change the signing key), named after the log.
store::CheckpointPolicy CheckpointPolicyFor(const idv::config::v1::AuditConfig& a,
                                            const crypto::KeyRing& keys, uint32_t version) {
  store::CheckpointPolicy p;
  if (!a.origin_prefix().empty()) p.origin_prefix = a.origin_prefix();
  if (a.checkpoint_every_records() > 0) p.every_records = a.checkpoint_every_records();
  if (a.has_checkpoint_interval() && FromProto(a.checkpoint_interval()) >= absl::Seconds(1)) {
    p.every = FromProto(a.checkpoint_interval());  // shorter would keep the writer awake
  }
  const audit::PublicKey pk = keys.AuditPublicKey(version);
  p.sign = [&keys, version, pk](const audit::Checkpoint& c) {
    absl::StatusOr<std::string> note = audit::SignNote(
        audit::CheckpointText(c), c.origin, pk,
        [&keys, version](absl::string_view m) { return keys.SignAudit(m, version); });
    return note.value_or("");
  };
  return p;
}

// Whether `listen` ("host:port") names a loopback address.
bool IsLoopback(const std::string& listen) {
  absl::string_view host_port = listen;
  if (!absl::ConsumePrefix(&host_port, "ipv4:")) absl::ConsumePrefix(&host_port, "ipv6:");
  return verifiers::IsLoopbackHostPort(host_port);
}

// The key ring of `c` (creating the data directory, and the master key when the config allows).
absl::StatusOr<std::unique_ptr<crypto::KeyRing>> LoadKeys(const idv::config::v1::ServerConfig& c) {
  if (absl::Status s = crypto::InitSodium(); !s.ok()) return s;
  if (absl::Status s = MakeDirectory(c.data_dir()); !s.ok()) return s;
  // A relative key path is read from the working directory, not from data_dir: started from
  // elsewhere (or with another --data_dir), idvd would make a fresh key beside a store made with
  // another one, and every fingerprint would silently stop matching. A LevelDB store without its
  // key is refused instead, and the key's absolute path is logged.
  const std::string& key_file = c.keys().master_key_file();
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(key_file, ec).string();
  const std::string db =
      c.store().leveldb().path().empty() ? c.data_dir() + "/db" : c.store().leveldb().path();
  if (!key_file.empty() && !std::filesystem::exists(key_file, ec) && !c.store().has_postgres() &&
      std::filesystem::exists(db + "/CURRENT", ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the store at ", std::filesystem::absolute(db, ec).string(),
        " exists but its master key file ", absolute, " does not",
        key_file[0] == '/' ? ""
                           : " (keys.master_key_file is relative: it is read from the working "
                             "directory, not from data_dir)",
        ": restore the key, or fix keys.master_key_file; idvd will not make a new key for an "
        "existing store"));
  }
  spdlog::info(
      "master key: {}{}", absolute,
      key_file.empty() || key_file[0] == '/' ? "" : " (relative to the working directory)");
  absl::StatusOr<crypto::SecretBytes> master =
      crypto::LoadMasterKey(c.keys().master_key_file(), c.keys().create_if_missing());
  if (!master.ok()) return master.status();
  return crypto::KeyRing::Create(*std::move(master), c.keys().current_version());
}

// Makes the key versions of configuration `config` live in `keys`. A configuration from before
// key rotation names none: then `file_version` (keys.current_version) is current.
void ApplyKeyVersions(const idv::store::v1::ConfigVersion& config, uint32_t file_version,
                      crypto::KeyRing& keys) {
  const uint32_t current = std::max(file_version, config.keys().current());
  const uint32_t oldest = std::clamp(config.keys().oldest(), 1u, current);
  if (current == keys.current_version() && oldest == keys.oldest_version()) return;
  if (absl::Status s = keys.SetLiveVersions(current, oldest); !s.ok()) {
    spdlog::error("key versions of configuration {}: {}", config.version(),
                  std::string(s.message()));
    return;
  }
  spdlog::info("key version {} is current; versions {}..{} are live", current, oldest, current);
}

}  // namespace

absl::StatusOr<KeysAndStore> OpenKeysAndStore(idv::config::v1::ServerConfig config) {
  ApplyDefaults(config);
  KeysAndStore out;
  absl::StatusOr<std::unique_ptr<crypto::KeyRing>> keys = LoadKeys(config);
  if (!keys.ok()) return keys.status();
  out.keys = *std::move(keys);
  store::OpenOptions so;
  so.data_dir = config.data_dir();
  so.checkpoints = CheckpointPolicyFor(config.audit(), *out.keys, config.keys().current_version());
  absl::StatusOr<std::unique_ptr<store::Store>> store = store::Open(config.store(), so);
  if (!store.ok()) return store.status();
  out.store = *std::move(store);
  return out;
}

absl::StatusOr<idv::config::v1::ServerConfig> LoadConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  idv::config::v1::ServerConfig config;
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(*text, &config)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", errors.first()));
  }
  return config;
}

void ApplyDefaults(idv::config::v1::ServerConfig& c) {
  if (c.listen().empty()) c.set_listen("127.0.0.1:7443");
  if (c.data_dir().empty()) c.set_data_dir("./data");
  if (c.keys().current_version() == 0) c.mutable_keys()->set_current_version(1);
  if (c.binding().max_accounts_per_identity() == 0) {
    c.mutable_binding()->set_max_accounts_per_identity(5);
  }
  if (c.store().max_group_commit() == 0) c.mutable_store()->set_max_group_commit(1024);
  if (c.store().block_cache_mib() == 0) c.mutable_store()->set_block_cache_mib(64);
}

// Everything the running server owns, declared in construction order (destroyed in reverse).
struct Server::Parts {
  idv::config::v1::ServerConfig config;
  Health health;
  std::unique_ptr<crypto::KeyRing> keys;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<SecurityEvents> security_events;
  std::unique_ptr<Limits> limits;
  std::unique_ptr<RetentionPurger> retention;
  verifiers::VerifierRegistry registry;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<AccessLog> access_log;
  std::unique_ptr<ConfigManager> config_manager;
  std::unique_ptr<Rechecker> rechecker;
  std::unique_ptr<cache::Cache> cache;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<VerificationServiceImpl> verification;
  std::unique_ptr<ClientManager> clients;
  std::unique_ptr<AdminServiceImpl> admin;
  std::unique_ptr<Auditor> auditor;
  std::unique_ptr<AuditServiceImpl> audit;
  std::unique_ptr<grpc::Server> grpc_server;
  // Its handlers serve on metrics_server: destroyed after it.
  std::unique_ptr<Console> console;
  // Last: stopped first, before anything its scrapes (and the console) read.
  std::unique_ptr<MetricsServer> metrics_server;
  std::string address;
  std::string admin_key_path;
  bool created_admin_key = false;
  std::once_flag shutdown_once;
};

// What other nodes change reaches this one through the store: configuration versions are swapped
// in (their key versions made live, and the result cache emptied, as after a local change), the
// client table reloaded, and the live nodes recounted when one starts (limits are shared by
// division); a removed account's rate-limit bucket is dropped.
void Server::Subscribe(Parts& parts) {
  cache::Cache* cache = parts.cache.get();
  crypto::KeyRing* keys = parts.keys.get();
  ConfigManager* manager = parts.config_manager.get();
  parts.config_manager->OnSwap(
      [cache, keys, manager, file_version = parts.config.keys().current_version()] {
        ApplyKeyVersions(manager->current(), file_version, *keys);
        if (cache != nullptr) cache->Clear();
      });
  ConfigManager* config = parts.config_manager.get();
  Authenticator* auth = parts.auth.get();
  store::Store* store = parts.store.get();
  Limits* limits = parts.limits.get();
  parts.store->Subscribe([limits](const store::Change& change) {
    if (change.kind == store::Change::kNodeStarted || change.kind == store::Change::kResync) {
      limits->RefreshNow();
    }
    if (change.kind == store::Change::kBindingRemoved) {
      const size_t slash = change.key.find('/');  // tenant names have none
      if (slash != std::string::npos) {
        limits->ForgetAccount(change.key.substr(0, slash), change.key.substr(slash + 1));
      }
    }
  });
  parts.store->Subscribe([config, auth, store](const store::Change& change) {
    if (change.kind == store::Change::kConfig || change.kind == store::Change::kResync) {
      config->Refresh();
    }
    if (change.kind == store::Change::kClient || change.kind == store::Change::kResync) {
      store->ListClients([auth](absl::StatusOr<std::vector<idv::store::v1::ClientRecord>> c) {
        if (c.ok()) {
          auth->Reload(*c);
        } else {
          spdlog::warn("client table reload: {}", std::string(c.status().message()));
        }
      });
    }
  });
}

// Serves `parts.metrics` with what a scrape reads from the running parts.
absl::Status Server::StartMetrics(Parts& parts) {
  parts.metrics->set_live([p = &parts] {
    LiveState s;
    if (p->cache != nullptr) {
      const cache::CacheStats c = p->cache->Stats();
      s.cache_enabled = true;
      s.cache_hits = c.hits;
      s.cache_misses = c.misses;
      s.cache_inserts = c.inserts;
      s.cache_evictions = c.evictions;
    }
    const idv::store::v1::ConfigVersion config = p->config_manager->current();
    std::shared_ptr<const verifiers::PolicyEngine> engine = p->config_manager->engine();
    for (const idv::config::v1::BackendConfig& b : config.backends()) {
      LiveState::Backend out;
      out.name = b.name();
      if (const verifiers::GuardedVerifier* v = engine->backend(b.name())) {
        const auto state = v->breaker().state();
        out.breaker = state == verifiers::CircuitBreaker::State::kOpen       ? 2
                      : state == verifiers::CircuitBreaker::State::kHalfOpen ? 1
                                                                             : 0;
        out.in_flight = static_cast<int>(v->in_flight());
      }
      s.backends.push_back(std::move(out));
    }
    s.verify_in_flight = p->verification->in_flight();
    s.rechecks_queued = p->rechecker->queued();
    s.store_serving = p->health.store_serving();
    s.ready = p->health.serving();
    s.config_version = config.version();
    s.key_version = p->keys->current_version();
    return s;
  });
  absl::StatusOr<std::unique_ptr<MetricsServer>> m =
      MetricsServer::Start(parts.config.metrics().listen(), *parts.metrics);
  if (!m.ok()) return m.status();
  parts.metrics_server = *std::move(m);
  spdlog::info("metrics on http://{}/metrics (and /healthz, /readyz)",
               parts.metrics_server->address());
  if (parts.config.console().enabled()) {
    ConsoleOptions options;
    if (parts.config.console().has_session_ttl()) {
      options.session_ttl = FromProto(parts.config.console().session_ttl());
    }
    options.secure_cookie = parts.config.console().secure_cookie();
    parts.console = std::make_unique<Console>(
        *parts.metrics_server, parts.grpc_server->InProcessChannel(grpc::ChannelArguments()),
        *parts.keys, *parts.auth, options);
    spdlog::info("console on http://{}/console/", parts.metrics_server->address());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(idv::config::v1::ServerConfig config) {
  ApplyDefaults(config);
  auto parts = std::make_unique<Parts>();
  parts->config = std::move(config);
  const idv::config::v1::ServerConfig& c = parts->config;

  absl::StatusOr<RetentionPolicy> retention = RetentionPolicyFor(c.audit().retention());
  if (!retention.ok()) return retention.status();
  absl::StatusOr<std::unique_ptr<crypto::KeyRing>> keys = LoadKeys(c);
  if (!keys.ok()) return keys.status();
  parts->keys = *std::move(keys);

  store::OpenOptions so;
  so.data_dir = c.data_dir();
  so.on_health = [health = &parts->health, leveldb = !c.store().has_postgres()](
                     bool serving, const absl::Status& s) {
    const bool before = health->Store(serving);
    if (!serving && leveldb) {
      spdlog::error("{}; restart idvd once the disk is healthy", std::string(s.message()));
    } else if (before && !serving) {
      spdlog::error("store: cannot write ({}); not serving until it recovers",
                    std::string(s.message()));
    } else if (!before && serving) {
      spdlog::info("store: writing again; serving");
    }
  };
  so.checkpoints = CheckpointPolicyFor(c.audit(), *parts->keys, c.keys().current_version());
  absl::StatusOr<std::unique_ptr<store::Store>> store = store::Open(c.store(), so);
  if (!store.ok()) return store.status();
  parts->store = *std::move(store);

  if (absl::Status s = verifiers::RegisterBuiltinVerifiers(parts->registry); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<ConfigManager>> config_manager =
      ConfigManager::Open(*parts->store, parts->registry, c);
  if (!config_manager.ok()) return config_manager.status();
  parts->config_manager = *std::move(config_manager);
  ApplyKeyVersions(parts->config_manager->current(), c.keys().current_version(), *parts->keys);

  parts->admin_key_path = c.data_dir() + "/admin.key";
  absl::StatusOr<bool> created =
      BootstrapAdminClient(*parts->store, *parts->keys, parts->admin_key_path);
  if (!created.ok()) return created.status();
  parts->created_admin_key = *created;
  absl::StatusOr<std::vector<idv::store::v1::ClientRecord>> clients =
      store::Await<std::vector<idv::store::v1::ClientRecord>>(
          [&parts](auto done) { parts->store->ListClients(std::move(done)); });
  if (!clients.ok()) return clients.status();
  parts->auth = std::make_unique<Authenticator>(*parts->keys, *clients);
  SecurityEvents::Options eo;
  if (c.audit().security_events_per_second() > 0) {
    eo.per_second = c.audit().security_events_per_second();
  }
  if (c.audit().security_events_burst() > 0) eo.burst = c.audit().security_events_burst();
  parts->security_events = std::make_unique<SecurityEvents>(*parts->store, eo);
  parts->auth->set_security_events(parts->security_events.get());
  parts->limits = std::make_unique<Limits>(c.limits());
  parts->limits->StartRefreshing(*parts->store, absl::Seconds(1));
  parts->auth->set_limits(parts->limits.get());
  parts->auth->set_client_certificates(!c.tls().client_ca_file().empty());
  parts->retention = std::make_unique<RetentionPurger>(*parts->store, *retention);

  VerificationServiceOptions vo;
  vo.max_accounts_per_identity = c.binding().max_accounts_per_identity();
  if (!c.verified_claims().trust_framework().empty()) {
    vo.trust_framework = c.verified_claims().trust_framework();
  }
  vo.limits = parts->limits.get();
  const idv::config::v1::ServingConfig& serving = c.serving();
  vo.max_in_flight =
      serving.max_in_flight_verify() > 0 ? static_cast<int>(serving.max_in_flight_verify()) : 512;
  if (serving.has_max_call_time()) {
    vo.max_call_time = FromProto(serving.max_call_time());
    if (vo.max_call_time < absl::Milliseconds(100) || vo.max_call_time > absl::Minutes(5)) {
      return absl::InvalidArgumentError("serving.max_call_time must be from 100ms to 5 minutes");
    }
  }
  if (c.idempotency().has_window()) {
    vo.idempotency_window = FromProto(c.idempotency().window());
    if (vo.idempotency_window < absl::Minutes(1) || vo.idempotency_window > absl::Hours(24 * 7)) {
      return absl::InvalidArgumentError("idempotency.window must be from 1 minute to 7 days");
    }
  }
  RecheckerOptions ro;
  if (c.store().postgres().has_recheck_lease()) {
    ro.lease = FromProto(c.store().postgres().recheck_lease());
  }
  parts->rechecker =
      std::make_unique<Rechecker>(*parts->keys, *parts->config_manager, *parts->store, ro);
  if (absl::Status s = parts->rechecker->Start(); !s.ok()) return s;
  if (!c.cache().disabled()) {
    cache::CacheOptions co;
    if (c.cache().capacity() > 0) co.capacity = c.cache().capacity();
    if (c.cache().has_positive_ttl()) co.positive_ttl = FromProto(c.cache().positive_ttl());
    if (c.cache().has_negative_ttl()) co.negative_ttl = FromProto(c.cache().negative_ttl());
    absl::StatusOr<std::unique_ptr<cache::Cache>> made = cache::NewLockFreeCache(co);
    if (!made.ok()) return made.status();
    parts->cache = *std::move(made);
  }
  const double sample = c.logging().access_log_sample();
  if (!(sample >= 0 && sample <= 1)) {
    return absl::InvalidArgumentError("logging.access_log_sample must be from 0 to 1");
  }
  if (sample > 0) {
    parts->access_log = std::make_unique<AccessLog>(sample);
    vo.access_log = parts->access_log.get();
  }
  // Without a metrics address nothing is counted (no interceptor, no counters).
  if (c.console().enabled() && c.metrics().listen().empty()) {
    return absl::InvalidArgumentError(
        "console.enabled needs metrics.listen: the console is served on that HTTP port");
  }
  if (c.console().has_session_ttl() && FromProto(c.console().session_ttl()) < absl::Minutes(1)) {
    return absl::InvalidArgumentError("console.session_ttl must be at least 1 minute");
  }
  if (!c.metrics().listen().empty()) {
    parts->metrics = std::make_unique<Metrics>(IDV_VERSION);
    vo.metrics = parts->metrics.get();
  }
  Subscribe(*parts);
  parts->verification = std::make_unique<VerificationServiceImpl>(
      *parts->auth, *parts->keys, *parts->config_manager, *parts->store, parts->rechecker.get(),
      parts->cache.get(), vo);
  parts->clients = std::make_unique<ClientManager>(*parts->store, *parts->keys, *parts->auth);
  if (absl::Status s = parts->clients->GrantSuperAdminIfNone(); !s.ok()) return s;
  parts->admin =
      std::make_unique<AdminServiceImpl>(*parts->auth, *parts->config_manager, *parts->clients,
                                         *parts->keys, *parts->store, c.backup().dir());
  parts->auditor =
      std::make_unique<Auditor>(*parts->store, so.checkpoints.origin_prefix,
                                parts->keys->AuditPublicKey(c.keys().current_version()));
  parts->audit =
      std::make_unique<AuditServiceImpl>(*parts->auth, *parts->auditor, vo.trust_framework);

  if (c.tls().cert_file().empty() && !IsLoopback(c.listen())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to serve plaintext on ", c.listen(),
        ": API keys and identity claims would cross the network in the clear. Configure tls "
        "{ cert_file key_file }, or listen on a loopback address (127.0.0.1, [::1], localhost)"));
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = ServerCredentials(c.tls());
  if (!creds.ok()) return creds.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  ApplyServingLimits(c.serving(), builder);
  int port = 0;
  builder.AddListeningPort(c.listen(), *creds, &port);
  if (parts->metrics != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counted;
    counted.push_back(NewMetricsInterceptorFactory(*parts->metrics));
    builder.experimental().SetInterceptorCreators(std::move(counted));
  }
  builder.RegisterService(parts->verification.get());
  builder.RegisterService(parts->admin.get());
  builder.RegisterService(parts->audit.get());
  parts->grpc_server = builder.BuildAndStart();
  if (parts->grpc_server == nullptr || port == 0) {
    parts->rechecker->Stop();
    parts->store->Close();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", c.listen()));
  }
  parts->health.Attach(parts->grpc_server->GetHealthCheckService());
  if (parts->metrics != nullptr) {
    if (absl::Status m = StartMetrics(*parts); !m.ok()) {
      parts->grpc_server->Shutdown();
      parts->rechecker->Stop();
      parts->store->Close();
      return m;
    }
  }
  parts->retention->Start();
  parts->address = absl::StrCat(c.listen().substr(0, c.listen().rfind(':')), ":", port);
  return std::unique_ptr<Server>(new Server(std::move(parts)));
}

Server::Server(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Server::~Server() { Shutdown(absl::Seconds(5)); }

const std::string& Server::address() const { return parts_->address; }
const std::string& Server::admin_key_path() const { return parts_->admin_key_path; }
bool Server::created_admin_key() const { return parts_->created_admin_key; }

void Server::Shutdown(absl::Duration grace) {
  std::call_once(parts_->shutdown_once, [&] {
    parts_->health.NotServing();  // load balancers stop sending new calls
    // Stops accepting calls and waits for the ones in flight (cancelling them after `grace`);
    // every Verify completes only after its store write, so the store is idle afterwards.
    parts_->grpc_server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    parts_->grpc_server->Wait();
    parts_->rechecker->Stop();  // its pending writes land before the store closes
    parts_->retention->Stop();
    parts_->limits->StopRefreshing();
    parts_->store->Close();
  });
}

}  // namespace idv::services
