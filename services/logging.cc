#include "services/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <random>

#include "absl/time/clock.h"

namespace idv::services {
namespace {

// "%j": the message as a JSON string (quoted and escaped).
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string quoted =
        nlohmann::json(std::string(msg.payload.data(), msg.payload.size())).dump();
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
  if (sample_ <= 0) return;
  // To standard output like the default logger, through a sink of its own (a sink owns its
  // format): its lines are JSON objects already.
  logger_ =
      std::make_shared<spdlog::logger>("access", std::make_shared<spdlog::sinks::stdout_sink_mt>());
  logger_->set_pattern("%v");
}

bool AccessLog::Sampled() const {
  if (sample_ >= 1) return true;
  thread_local std::minstd_rand rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0, 1)(rng) < sample_;
}

void AccessLog::Verify(absl::string_view verification_id, absl::string_view tenant,
                       absl::string_view client_id, int code,
                       const idv::v1::VerifyResponse& response, absl::Duration took) {
  if (logger_ == nullptr || !Sampled()) return;
  nlohmann::json line = {
      {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3S%Ez", absl::Now(), absl::LocalTimeZone())},
      {"log", "access"},
      {"method", "Verify"},
      {"request_id", std::string(verification_id)},
      {"tenant", std::string(tenant)},
      {"client", std::string(client_id)},
      {"code", code},
      {"latency_ms", absl::ToDoubleMilliseconds(took)},
  };
  if (code == 0) {
    line["outcome"] = idv::v1::Outcome_Name(response.outcome());
    line["reason"] = idv::v1::ReasonCode_Name(response.reason().code());
    line["binding"] = idv::v1::BindingStatus_Name(response.binding());
    line["cached"] = response.cached();
    line["replayed"] = response.replayed();
    line["backend_checks"] = response.checks_size();
  }
  logger_->info(line.dump());
}

}  // namespace idv::services
