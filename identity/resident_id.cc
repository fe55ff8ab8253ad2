#include "identity/resident_id.h"

#include <array>

#include "absl/strings/ascii.h"

namespace idv::identity {
namespace {

constexpr char kField[] = "claim.document_number";

// Province-level codes of GB/T 2260 (the first two digits of every address code), including
// Taiwan (71), Hong Kong (81) and Macau (82), which the standard lists as regions.
bool IsProvince(int code) {
  static constexpr std::array<int, 34> kProvinces = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34,
                                                     35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
                                                     53, 54, 61, 62, 63, 64, 65, 71, 81, 82};
  for (int p : kProvinces) {
    if (p == code) return true;
  }
  return false;
}

int Digits(absl::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

OfflineRejection Reject(idv::v1::ReasonCode code, const char* message) {
  return OfflineRejection{code, kField, message};
}

}  // namespace

char ResidentIdCheckCharacter(absl::string_view digits17) {
  static constexpr std::array<int, 17> kWeights = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                                                   3, 7, 9,  10, 5, 8, 4, 2};
  static constexpr char kCheck[] = "10X98765432";
  int sum = 0;
  for (size_t i = 0; i < kWeights.size(); ++i) sum += (digits17[i] - '0') * kWeights[i];
  return kCheck[sum % 11];
}

std::optional<OfflineRejection> CheckResidentId(absl::string_view number, absl::CivilDay today,
                                                absl::CivilDay* birth_date) {
  if (number.empty()) {
    return Reject(idv::v1::FIELD_MISSING, "The document number is empty.");
  }
  bool all_digits = true;
  for (char c : number)
    all_digits = all_digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (number.size() == 15 && all_digits) {
    return Reject(idv::v1::LEGACY_FORMAT,
                  "15-digit ID numbers were replaced by the 18-character form; use the number "
                  "on the current card.");
  }
  if (number.size() != 18) {
    return Reject(idv::v1::INVALID_LENGTH, "A resident ID number has 18 characters.");
  }
  for (size_t i = 0; i < 17; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(number[i]))) {
      return Reject(idv::v1::INVALID_CHARACTER,
                    "The first 17 characters of a resident ID number are digits.");
    }
  }
  if (!absl::ascii_isdigit(static_cast<unsigned char>(number[17])) && number[17] != 'X') {
    return Reject(idv::v1::INVALID_CHARACTER,
                  "The last character of a resident ID number is a digit or X.");
  }
  if (!IsProvince(Digits(number.substr(0, 2)))) {
    return Reject(idv::v1::INVALID_REGION, "The address code names no province.");
  }
  const int year = Digits(number.substr(6, 4));
  const int month = Digits(number.substr(10, 2));
  const int day = Digits(number.substr(12, 2));
  const absl::CivilDay date(year, month, day);
  // CivilDay normalizes out-of-range fields (Feb 30 -> Mar 2); a real date survives unchanged.
  if (date.year() != year || date.month() != month || date.day() != day) {
    return Reject(idv::v1::INVALID_DATE, "The birth date in the number does not exist.");
  }
  if (year < 1900 || date > today) {
    return Reject(idv::v1::INVALID_DATE,
                  "The birth date in the number is before 1900 or in the future.");
  }
  if (ResidentIdCheckCharacter(number) != number[17]) {
    return Reject(idv::v1::INVALID_CHECK_CHARACTER,
                  "The check character does not match; the number is mistyped.");
  }
  *birth_date = date;
  return std::nullopt;
}

}  // namespace idv::identity
