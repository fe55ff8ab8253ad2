#include "identity/document.h"

#include <array>

#include "absl/strings/ascii.h"
#include "identity/countries.h"
#include "identity/normalize.h"
#include "identity/regions.h"

namespace idv::identity {
namespace {

using idv::v1::ReasonCode;

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool AllAlnum(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && !(c >= 'A' && c <= 'Z')) {
      return false;
    }
  }
  return true;
}

int Digits(absl::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// `layout` characters: '#' a digit, '@' a letter A-Z, anything else itself.
bool Matches(absl::string_view s, absl::string_view layout) {
  if (s.size() != layout.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i], l = layout[i];
    const bool ok = l == '#'   ? absl::ascii_isdigit(static_cast<unsigned char>(c))
                    : l == '@' ? (c >= 'A' && c <= 'Z')
                               : c == l;
    if (!ok) return false;
  }
  return true;
}

bool MatchesAny(absl::string_view s, std::initializer_list<absl::string_view> layouts) {
  for (absl::string_view l : layouts) {
    if (Matches(s, l)) return true;
  }
  return false;
}

void Reject(DocumentResult& r, ReasonCode code, const char* message,
            const char* field = kNumberField) {
  r.rejection = Finding{code, field, message};
}

bool IsRealDate(int year, int month, int day, absl::CivilDay* out) {
  const absl::CivilDay d(year, month, day);
  // CivilDay normalizes out-of-range fields (Feb 30 -> Mar 2); a real date survives unchanged.
  if (d.year() != year || d.month() != month || d.day() != day) return false;
  *out = d;
  return true;
}

// The common 18-character layout of GB 11643: 17 digits, a check character, the birth date at
// positions 7-14. Sets the birth date on success.
void CheckGb11643Layout(DocumentResult& r, absl::string_view n, absl::CivilDay today) {
  if (n.size() != 18) return Reject(r, idv::v1::INVALID_LENGTH, "The number has 18 characters.");
  if (!AllDigits(n.substr(0, 17))) {
    return Reject(r, idv::v1::INVALID_CHARACTER, "The first 17 characters are digits.");
  }
  if (!absl::ascii_isdigit(static_cast<unsigned char>(n[17])) && n[17] != 'X') {
    return Reject(r, idv::v1::INVALID_CHARACTER, "The last character is a digit or X.");
  }
  absl::CivilDay birth;
  if (!IsRealDate(Digits(n.substr(6, 4)), Digits(n.substr(10, 2)), Digits(n.substr(12, 2)),
                  &birth)) {
    return Reject(r, idv::v1::INVALID_DATE, "The birth date in the number does not exist.");
  }
  if (birth.year() < 1900 || birth > today) {
    return Reject(r, idv::v1::INVALID_DATE,
                  "The birth date in the number is before 1900 or in the future.");
  }
  if (ResidentIdCheckCharacter(n) != n[17]) {
    return Reject(r, idv::v1::INVALID_CHECK_CHARACTER,
                  "The check character does not match; the number is mistyped.");
  }
  r.birth_date = birth;
}

void CheckResidentId(DocumentResult& r, absl::string_view n, absl::CivilDay today) {
  if (n.size() == 15 && AllDigits(n)) {
    return Reject(r, idv::v1::LEGACY_FORMAT,
                  "15-digit ID numbers were replaced by the 18-character form; use the number "
                  "on the current card.");
  }
  if (n.size() == 18 && AllDigits(n.substr(0, 6))) {
    const int address = Digits(n.substr(0, 6));
    if (address == 810000 || address == 820000 || address == 830000) {
      return Reject(r, idv::v1::INVALID_REGION,
                    "This is a residence permit number for Hong Kong, Macau or Taiwan residents; "
                    "use document type CN_RESIDENCE_PERMIT_HMT.");
    }
    if (!IsProvinceCode(address / 10000)) {
      return Reject(r, idv::v1::INVALID_REGION, "The address code names no province.");
    }
  }
  CheckGb11643Layout(r, n, today);
  if (r.ok() && !IsListedAddressCode(Digits(n.substr(0, 6)))) {
    r.notes.push_back(Finding{idv::v1::ADDRESS_CODE_UNLISTED, kNumberField,
                              "The address code is not in idv's GB/T 2260 table; it may be new."});
  }
}

void CheckResidencePermit(DocumentResult& r, absl::string_view n, absl::CivilDay today) {
  if (n.size() == 18 && AllDigits(n.substr(0, 6))) {
    const int address = Digits(n.substr(0, 6));
    if (address != 810000 && address != 820000 && address != 830000) {
      return Reject(r, idv::v1::INVALID_REGION,
                    "A residence permit number starts with 810000, 820000 or 830000.");
    }
  }
  CheckGb11643Layout(r, n, today);
}

void CheckPermanentResidence(DocumentResult& r, absl::string_view n, absl::CivilDay today) {
  if (n.size() == 15) {  // 2004/2017 card: AAA PP YYMMDD NNNN
    if (!Matches(n, "@@@############")) {
      return Reject(r, idv::v1::INVALID_CHARACTER,
                    "A 15-character card number is 3 letters followed by 12 digits.");
    }
    if (!IsIsoAlpha3(n.substr(0, 3))) {
      return Reject(r, idv::v1::INVALID_COUNTRY,
                    "The first 3 letters are no ISO 3166-1 country code.");
    }
    if (!IsProvinceCode(Digits(n.substr(3, 2)))) {
      return Reject(r, idv::v1::INVALID_REGION, "The province code of issue names no province.");
    }
    const int yy = Digits(n.substr(5, 2)), mm = Digits(n.substr(7, 2)), dd = Digits(n.substr(9, 2));
    absl::CivilDay d;
    // The century is not in the number: the date must exist in 19YY or 20YY.
    if (!IsRealDate(1900 + yy, mm, dd, &d) && !IsRealDate(2000 + yy, mm, dd, &d)) {
      return Reject(r, idv::v1::INVALID_DATE, "The birth date in the number does not exist.");
    }
    return;
  }
  if (n.size() != 18) {
    return Reject(r, idv::v1::INVALID_LENGTH,
                  "A permanent residence card number has 15 or 18 characters.");
  }
  if (n[0] != '9') {
    return Reject(r, idv::v1::INVALID_FORMAT,
                  "An 18-digit permanent residence card number starts with 9.");
  }
  CheckGb11643Layout(r, n, today);
  if (!r.ok()) return;
  if (!IsProvinceCode(Digits(n.substr(1, 2)))) {
    return Reject(r, idv::v1::INVALID_REGION, "The province code of issue names no province.");
  }
  const int nationality = Digits(n.substr(3, 3));
  if (!IsIsoNumericCountry(nationality) || nationality == 156) {
    return Reject(r, idv::v1::INVALID_COUNTRY,
                  "Digits 4-6 are no ISO 3166-1 numeric code of a foreign country.");
  }
}

void CheckTravelPermit(DocumentResult& r, std::string& n) {
  // Earlier Taiwan booklets print a trailing check letter in parentheses: 1234567890(B).
  if (n.size() == 13 && n[10] == '(' && n[12] == ')') n = n.substr(0, 10) + n[11];
  if (!AllAlnum(n)) {
    return Reject(r, idv::v1::INVALID_CHARACTER, "A travel permit number is letters and digits.");
  }
  if (!MatchesAny(n, {"H########", "M########", "H##########", "M##########", "########",
                      "##########", "##########@"})) {
    return Reject(r, idv::v1::INVALID_FORMAT,
                  "Not a travel permit number: H or M followed by 8 or 10 digits (Hong Kong, "
                  "Macau), or 8 or 10 digits (Taiwan).");
  }
}

void CheckPassport(DocumentResult& r, absl::string_view n, absl::string_view country) {
  if (country.empty()) {
    return Reject(r, idv::v1::FIELD_MISSING, "A passport claim needs its issuing country.",
                  kCountryField);
  }
  if (!IsTravelDocumentCountry(country)) {
    return Reject(r, idv::v1::INVALID_COUNTRY,
                  "The issuing country is no ISO 3166-1 alpha-3 or ICAO code.", kCountryField);
  }
  if (!AllAlnum(n)) {
    return Reject(r, idv::v1::INVALID_CHARACTER, "A passport number is letters and digits.");
  }
  if (country == "CHN") {
    if (!MatchesAny(n, {"E########", "E@#######", "G########", "DE#######", "SE#######",
                        "PE#######", "D#######", "S#######", "P#######", "14#######", "15#######",
                        "K########", "H########", "M#######", "M@#######"})) {
      return Reject(r, idv::v1::INVALID_FORMAT,
                    "Not a Chinese passport number (for example E12345678 or EA1234567).");
    }
    return;
  }
  if (n.size() < 5 || n.size() > 17) {
    return Reject(r, idv::v1::INVALID_LENGTH, "A passport number has 5 to 17 characters.");
  }
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

DocumentResult CheckDocument(idv::v1::DocumentType type, absl::string_view raw,
                             absl::string_view issuing_country, absl::CivilDay today) {
  DocumentResult r;
  std::optional<std::string> number = NormalizeDocumentNumber(raw);
  if (!number) {
    Reject(r, idv::v1::INVALID_CHARACTER, "The document number is not valid UTF-8.");
    return r;
  }
  r.canonical = std::move(*number);
  if (r.canonical.empty()) {
    Reject(r, idv::v1::FIELD_MISSING, "The document number is empty.");
    return r;
  }
  const std::string country = absl::AsciiStrToUpper(issuing_country);
  switch (type) {
    case idv::v1::CN_RESIDENT_ID:
      CheckResidentId(r, r.canonical, today);
      break;
    case idv::v1::CN_RESIDENCE_PERMIT_HMT:
      CheckResidencePermit(r, r.canonical, today);
      break;
    case idv::v1::CN_PERMANENT_RESIDENCE:
      CheckPermanentResidence(r, r.canonical, today);
      break;
    case idv::v1::HMT_TRAVEL_PERMIT:
      CheckTravelPermit(r, r.canonical);
      break;
    case idv::v1::PASSPORT:
      CheckPassport(r, r.canonical, country);
      break;
    default:
      Reject(r, idv::v1::FIELD_MISSING, "The document type is not set.", kTypeField);
      break;
  }
  return r;
}

}  // namespace idv::identity
