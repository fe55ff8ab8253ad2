#include "services/logging.h"

#include <limits.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace idv::services {
namespace {

constexpr size_t kFlushBytes = 64 << 10;

// `s` as a JSON string, quoted and escaped.
std::string Quoted(absl::string_view s) {
  // Identifiers (verification ids, most client ids) need no escaping: quoted as they are.
  if (std::all_of(s.begin(), s.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
               c == '.';
      })) {
    return absl::StrCat("\"", s, "\"");
  }
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Quoted(s), remembered per thread for the last value: tenants and clients repeat call after call.
const std::string& QuotedMemo(absl::string_view s, std::string& last, std::string& quoted) {
  if (s != last || quoted.empty()) {
    last.assign(s.data(), s.size());
    quoted = Quoted(s);
  }
  return quoted;
}

// "%j": the message as a JSON string (quoted and escaped).
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string quoted = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessage>();
  }
};

}  // namespace

void ConfigureLogging(const idv::config::v1::LoggingConfig& config) {
  if (config.format() != idv::config::v1::LoggingConfig::JSON) return;
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JsonMessage>('j').set_pattern(
      R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","log":"idvd","msg":%j})");
  spdlog::set_formatter(std::move(formatter));
}

AccessLog::AccessLog(double sample) : sample_(sample) {
  if (sample_ > 0) flusher_ = std::thread([this] { FlushLoop(); });
}

AccessLog::~AccessLog() {
  if (!flusher_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  flusher_.join();
}

void AccessLog::Append(std::string line) {
  line.push_back('\n');
  bool full;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ += line;
    full = pending_.size() >= kFlushBytes;
  }
  if (full) wake_.notify_one();
}

void AccessLog::FlushLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // A periodic flush: the timer is the point, not a wait for some other event.
    wake_.wait_for(lock, std::chrono::milliseconds(200),
                   [this] { return stop_ || pending_.size() >= kFlushBytes; });
    std::string lines;
    lines.swap(pending_);
    const bool stop = stop_;
    lock.unlock();
    Write(lines);
    if (stop) return;
    lock.lock();
  }
}

// Whole lines, in writes of at most PIPE_BUF bytes to a pipe (journald), where such writes are
// atomic, so never interleaved with another writer's line; to a regular file, where every write
// is, in writes of up to 64 KiB.
void AccessLog::Write(const std::string& lines) {
  static const size_t chunk = [] {
    struct stat st;
    return ::fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) ? kFlushBytes : size_t{PIPE_BUF};
  }();
  size_t at = 0;
  while (at < lines.size()) {
    size_t end = std::min(lines.size(), at + chunk);
    if (end < lines.size()) {
      const size_t last = lines.rfind('\n', end - 1);
      end = last != std::string::npos && last >= at ? last + 1 : end;
    }
    const ssize_t n = ::write(STDOUT_FILENO, lines.data() + at, end - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout closed or full disk: access lines are dropped, not retried
    at += static_cast<size_t>(n);
  }
}

bool AccessLog::Sampled() const {
  if (sample_ >= 1) return true;
  thread_local std::minstd_rand rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0, 1)(rng) < sample_;
}

void AccessLog::Verify(absl::string_view verification_id, absl::string_view tenant,
                       absl::string_view client_id, int code,
                       const idv::v1::VerifyResponse& response, absl::Duration took) {
  if (!flusher_.joinable() || !Sampled()) return;
  // Built with fmt into one string: this runs on the Verify path for every sampled call. The
  // free-form strings are escaped by nlohmann-json; the rest are numbers and enum names.
  const absl::Time now = absl::Now();
  const int64_t second = absl::ToUnixSeconds(now);
  thread_local int64_t formatted_second = -1;
  thread_local std::string second_text;
  thread_local std::string last_tenant, quoted_tenant, last_client, quoted_client;
  if (second != formatted_second) {
    second_text = absl::FormatTime("%Y-%m-%dT%H:%M:%S", now, absl::UTCTimeZone());
    formatted_second = second;
  }
  std::string line;
  line.reserve(320);
  auto out = std::back_inserter(line);
  fmt::format_to(out,
                 R"({{"time":"{}.{:03d}Z","log":"access","method":"Verify","request_id":{},)"
                 R"("tenant":{},"client":{},"code":{},"latency_ms":{:.3f})",
                 second_text, (absl::ToUnixMillis(now) % 1000), Quoted(verification_id),
                 QuotedMemo(tenant, last_tenant, quoted_tenant),
                 QuotedMemo(client_id, last_client, quoted_client), code,
                 absl::ToDoubleMilliseconds(took));
  if (code == 0) {
    fmt::format_to(out,
                   R"(,"outcome":"{}","reason":"{}","binding":"{}","cached":{},"replayed":{},)"
                   R"("backend_checks":{})",
                   idv::v1::Outcome_Name(response.outcome()),
                   idv::v1::ReasonCode_Name(response.reason().code()),
                   idv::v1::BindingStatus_Name(response.binding()), response.cached(),
                   response.replayed(), response.checks_size());
  }
  line.push_back('}');
  Append(std::move(line));
}

}  // namespace idv::services
