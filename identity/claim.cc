#include "identity/claim.h"

#include <sodium.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "identity/normalize.h"
#include "identity/resident_id.h"

namespace idv::identity {
namespace {

constexpr size_t kMaxNameCodePoints = 64;

OfflineRejection Reject(idv::v1::ReasonCode code, const char* field, const char* message) {
  return OfflineRejection{code, field, message};
}

// Offline rules every name must pass whatever the document. Finer per-script rules belong here.
std::optional<OfflineRejection> CheckName(absl::string_view name) {
  constexpr char kField[] = "claim.full_name";
  if (name.empty()) return Reject(idv::v1::FIELD_MISSING, kField, "The name is empty.");
  size_t count = 0;
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(name.size());
  const auto* p = reinterpret_cast<const uint8_t*>(name.data());
  while (i < n) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    ++count;
    const int8_t type = u_charType(c);
    if (type == U_CONTROL_CHAR || type == U_FORMAT_CHAR || type == U_UNASSIGNED ||
        type == U_PRIVATE_USE_CHAR || type == U_SURROGATE) {
      return Reject(idv::v1::INVALID_NAME, kField, "The name contains an invisible character.");
    }
    if (type == U_DECIMAL_DIGIT_NUMBER) {
      return Reject(idv::v1::INVALID_NAME, kField, "The name contains a digit.");
    }
  }
  if (count > kMaxNameCodePoints) {
    return Reject(idv::v1::INVALID_NAME, kField, "The name is longer than 64 characters.");
  }
  return std::nullopt;
}

}  // namespace

NormalizedClaim::~NormalizedClaim() {
  Wipe(document_number);
  Wipe(full_name);
  Wipe(phone_number);
}

void Wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

absl::CivilDay TodayInChina(absl::Time now) {
  static const absl::TimeZone kChina = absl::FixedTimeZone(8 * 60 * 60);
  return absl::ToCivilDay(now, kChina);
}

OfflineResult CheckClaim(const idv::v1::IdentityClaim& in, absl::CivilDay today) {
  OfflineResult result;
  NormalizedClaim& claim = result.claim;
  claim.document_type = in.document_type();

  std::optional<std::string> number = NormalizeDocumentNumber(in.document_number());
  std::optional<std::string> name = NormalizeName(in.full_name());
  if (!number) {
    result.rejection = Reject(idv::v1::INVALID_CHARACTER, "claim.document_number",
                              "The document number is not valid UTF-8.");
    return result;
  }
  claim.document_number = std::move(*number);
  if (!name) {
    result.rejection =
        Reject(idv::v1::INVALID_NAME, "claim.full_name", "The name is not valid UTF-8.");
    return result;
  }
  claim.full_name = std::move(*name);

  switch (in.document_type()) {
    case idv::v1::CN_RESIDENT_ID: {
      absl::CivilDay birth;
      result.rejection = CheckResidentId(claim.document_number, today, &birth);
      if (!result.ok()) return result;
      claim.birth_date = birth;
      break;
    }
    case idv::v1::DOCUMENT_TYPE_UNSPECIFIED:
      result.rejection =
          Reject(idv::v1::FIELD_MISSING, "claim.document_type", "The document type is not set.");
      return result;
    default:
      result.rejection = Reject(idv::v1::DOCUMENT_TYPE_NOT_SUPPORTED, "claim.document_type",
                                "This document type cannot be checked yet.");
      return result;
  }
  result.rejection = CheckName(claim.full_name);
  return result;
}

}  // namespace idv::identity
