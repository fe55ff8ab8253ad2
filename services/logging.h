// idvd's logs: lifecycle and events through spdlog's default logger, as text or as JSON lines
// (logging.format), and a sampled access log of Verify calls, one JSON object per line
// (logging.access_log_sample). No log line holds a plaintext ID number, name or phone number:
// claims are never logged, answers only by outcome and reason.
#ifndef IDV_SERVICES_LOGGING_H_
#define IDV_SERVICES_LOGGING_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "idv/config/v1/config.pb.h"
#include "idv/v1/verification.pb.h"

namespace spdlog {
class logger;
}

namespace idv::services {

// Sets the default logger's format. Call once, before anything logs from other threads.
void ConfigureLogging(const idv::config::v1::LoggingConfig& config);

class AccessLog {
 public:
  // Logs about `sample` (0 to 1) of the calls it is given.
  explicit AccessLog(double sample);
  bool enabled() const { return sample_ > 0; }

  // One Verify call as answered: its verification id (empty when refused before one was made),
  // the caller, the gRPC code and, when OK, the answer.
  void Verify(absl::string_view verification_id, absl::string_view tenant,
              absl::string_view client_id, int code, const idv::v1::VerifyResponse& response,
              absl::Duration took);

 private:
  bool Sampled() const;
  const double sample_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_LOGGING_H_
