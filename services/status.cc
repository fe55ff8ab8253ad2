#include "services/status.h"

#include <google/protobuf/util/time_util.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace idv::services {
namespace {

constexpr char kRetryAfterPayload[] = "type.idv.dev/retry-after-ms";

// The request field a message starts with: "account_id", "claim.full_name"... or empty.
std::string LeadingField(absl::string_view message) {
  const size_t end = message.find(' ');
  if (end == absl::string_view::npos || end == 0) return "";
  const absl::string_view word = message.substr(0, end);
  for (char c : word) {
    if (!absl::ascii_islower(c) && c != '_' && c != '.') return "";
  }
  // Field names have an underscore or a dot ("account_id", "claim.full_name"); "claim" is the one
  // message field without; other words ("the request ...") are prose.
  if (word != "claim" && word.find_first_of("_.") == absl::string_view::npos) return "";
  return std::string(word);
}

}  // namespace

absl::Status WithRetryAfter(absl::Status s, absl::Duration delay) {
  s.SetPayload(kRetryAfterPayload, absl::Cord(absl::StrCat(absl::ToInt64Milliseconds(delay))));
  return s;
}

grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(s.code()));
  rich.set_message(std::string(s.message()));
  google::rpc::ErrorInfo info;
  info.set_domain("idv.v1");
  info.set_reason(absl::AsciiStrToUpper(absl::StatusCodeToString(s.code())));
  rich.add_details()->PackFrom(info);
  if (absl::IsInvalidArgument(s)) {
    if (std::string field = LeadingField(s.message()); !field.empty()) {
      google::rpc::BadRequest bad;
      google::rpc::BadRequest::FieldViolation* v = bad.add_field_violations();
      v->set_field(std::move(field));
      v->set_description(std::string(s.message()));
      rich.add_details()->PackFrom(bad);
    }
  }
  if (absl::optional<absl::Cord> ms = s.GetPayload(kRetryAfterPayload)) {
    int64_t millis = 0;
    if (absl::SimpleAtoi(std::string(*ms), &millis)) {
      google::rpc::RetryInfo retry;
      *retry.mutable_retry_delay() =
          google::protobuf::util::TimeUtil::MillisecondsToDuration(millis);
      rich.add_details()->PackFrom(retry);
    }
  }
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()),
                      rich.SerializeAsString());
}

}  // namespace idv::services
