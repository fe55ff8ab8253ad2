// libFuzzer targets for the offline parsers, one binary per parser (IDV_FUZZ_PARSER selects it).
//
// Besides crashes, leaks and undefined behaviour (the build adds ASan and UBSan), each target
// checks properties every accepted input must have, and traps when one fails:
//  - the canonical form is accepted again and is its own canonical form (idempotence);
//  - a masked number is as long as the number and keeps no more than 7 of its characters;
//  - a rejection names a field and carries a reason code and message.
#include <cstddef>
#include <cstdint>
#include <string>

#include "identity/document.h"
#include "identity/mask.h"
#include "identity/name.h"
#include "identity/phone.h"

namespace {

const absl::CivilDay kToday(2026, 11, 22);

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckRejection(const std::optional<idv::identity::Finding>& r) {
  Require(r->code != idv::v1::REASON_CODE_UNSPECIFIED);
  Require(!r->field.empty() && !r->message.empty());
}

void FuzzDocument(idv::v1::DocumentType type, const std::string& input) {
  // For passports the first three bytes are the issuing country.
  std::string country, number = input;
  if (type == idv::v1::PASSPORT) {
    country = input.substr(0, 3);
    number = input.size() > 3 ? input.substr(3) : "";
  }
  idv::identity::DocumentResult r = idv::identity::CheckDocument(type, number, country, kToday);
  if (!r.ok()) return CheckRejection(r.rejection);
  idv::identity::DocumentResult again =
      idv::identity::CheckDocument(type, r.canonical, country, kToday);
  Require(again.ok() && again.canonical == r.canonical);
  const std::string masked = idv::identity::MaskDocumentNumber(r.canonical);
  Require(masked.size() == r.canonical.size());
  size_t kept = 0;
  for (char c : masked) kept += c != '*';
  Require(kept <= 7);
}

void FuzzName(const std::string& input) {
  idv::identity::FieldResult r = idv::identity::CheckName(input);
  if (!r.ok()) return CheckRejection(r.rejection);
  idv::identity::FieldResult again = idv::identity::CheckName(r.canonical);
  Require(again.ok() && again.canonical == r.canonical);
  Require(!idv::identity::MaskName(r.canonical).empty());
}

void FuzzPhone(const std::string& input) {
  idv::identity::FieldResult r = idv::identity::CheckMobileNumber(input);
  if (!r.ok()) return CheckRejection(r.rejection);
  Require(r.canonical.size() > 1 && r.canonical[0] == '+');
  idv::identity::FieldResult again = idv::identity::CheckMobileNumber(r.canonical);
  Require(again.ok() && again.canonical == r.canonical);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 512) return 0;  // far beyond any field's size limit in the API
  const std::string input(reinterpret_cast<const char*>(data), size);
#if IDV_FUZZ_PARSER == 1
  FuzzDocument(idv::v1::CN_RESIDENT_ID, input);
#elif IDV_FUZZ_PARSER == 2
  FuzzDocument(idv::v1::CN_RESIDENCE_PERMIT_HMT, input);
#elif IDV_FUZZ_PARSER == 3
  FuzzDocument(idv::v1::CN_PERMANENT_RESIDENCE, input);
#elif IDV_FUZZ_PARSER == 4
  FuzzDocument(idv::v1::HMT_TRAVEL_PERMIT, input);
#elif IDV_FUZZ_PARSER == 5
  FuzzDocument(idv::v1::PASSPORT, input);
#elif IDV_FUZZ_PARSER == 6
  FuzzName(input);
#elif IDV_FUZZ_PARSER == 7
  FuzzPhone(input);
#else
#error "IDV_FUZZ_PARSER must be 1..7"
#endif
  return 0;
}
