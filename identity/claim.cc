#include "identity/claim.h"

#include <sodium.h>

#include "absl/strings/ascii.h"
#include "identity/document.h"
#include "identity/name.h"
#include "identity/phone.h"

namespace idv::identity {

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
  if (in.document_type() == idv::v1::DOCUMENT_TYPE_UNSPECIFIED ||
      !idv::v1::DocumentType_IsValid(in.document_type())) {
    result.rejection = Finding{idv::v1::FIELD_MISSING, kTypeField, "The document type is not set."};
    return result;
  }
  DocumentResult document =
      CheckDocument(in.document_type(), in.document_number(), in.issuing_country(), today);
  claim.document_number = std::move(document.canonical);
  if (!document.ok()) {
    result.rejection = std::move(document.rejection);
    return result;
  }
  claim.birth_date = document.birth_date;
  result.notes = std::move(document.notes);
  if (in.document_type() == idv::v1::PASSPORT) {
    claim.issuing_country = absl::AsciiStrToUpper(in.issuing_country());
  }

  FieldResult name = CheckName(in.full_name());
  claim.full_name = std::move(name.canonical);
  if (!name.ok()) {
    result.rejection = std::move(name.rejection);
    return result;
  }
  if (!in.phone_number().empty()) {
    FieldResult phone = CheckMobileNumber(in.phone_number());
    claim.phone_number = std::move(phone.canonical);
    if (!phone.ok()) result.rejection = std::move(phone.rejection);
  }
  return result;
}

}  // namespace idv::identity
