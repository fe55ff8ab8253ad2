// idvd's logs: lifecycle and events through spdlog's default logger, as text or as JSON lines
// (logging.format), and a sampled access log of Verify calls, one JSON object per line
// (logging.access_log_sample). No log line holds a plaintext ID number, name or phone number:
// claims are never logged, answers only by outcome and reason.
#ifndef IDV_SERVICES_LOGGING_H_
#define IDV_SERVICES_LOGGING_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "idv/config/v1/config.pb.h"
#include "idv/v1/verification.pb.h"

namespace idv::services {

// Sets the default logger's format. Call once, before anything logs from other threads.
void ConfigureLogging(const idv::config::v1::LoggingConfig& config);

// Lines are buffered and written to standard output by a thread of the log's own every 200 ms
// (or at 64 KiB), in writes of whole lines no longer than PIPE_BUF, so they never interleave with
// the default logger's lines; a crash loses at most the last 200 ms of access lines.
class AccessLog {
 public:
  // Logs about `sample` (0 to 1) of the calls it is given.
  explicit AccessLog(double sample);
  // Writes what is buffered.
  ~AccessLog();
  bool enabled() const { return sample_ > 0; }

  // One Verify call as answered: its verification id (empty when refused before one was made),
  // the caller, the gRPC code and, when OK, the answer.
  void Verify(absl::string_view verification_id, absl::string_view tenant,
              absl::string_view client_id, int code, const idv::v1::VerifyResponse& response,
              absl::Duration took);

 private:
  bool Sampled() const;
  void Append(std::string line);
  void FlushLoop();
  static void Write(const std::string& lines);

  const double sample_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::string pending_;  // guarded by mu_: whole lines
  bool stop_ = false;    // guarded by mu_
  std::thread flusher_;
};

}  // namespace idv::services

#endif  // IDV_SERVICES_LOGGING_H_
