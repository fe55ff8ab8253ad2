#include "identity/normalize.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include "absl/strings/ascii.h"

namespace idv::identity {
namespace {

bool IsAscii(absl::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// NFKC of well-formed UTF-8. ICU is only consulted for non-ASCII input: ASCII is already in NFKC,
// and most document numbers arrive as ASCII.
std::string Nfkc(absl::string_view s) {
  if (IsAscii(s)) return std::string(s);
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc = icu::Normalizer2::getNFKCInstance(err);
  icu::UnicodeString in =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  icu::UnicodeString out = nfkc->normalize(in, err);
  std::string result;
  if (U_FAILURE(err)) return result;
  out.toUTF8String(result);
  return result;
}

// Calls `fn(code_point, begin, end)` for each code point of well-formed UTF-8 `s`.
template <typename Fn>
void ForEachCodePoint(absl::string_view s, Fn fn) {
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  while (i < n) {
    int32_t start = i;
    UChar32 c;
    U8_NEXT(p, i, n, c);
    fn(c, start, i);
  }
}

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  bool ok = true;
  ForEachCodePoint(s, [&](UChar32 c, int32_t, int32_t) { ok = ok && c >= 0; });
  return ok;
}

std::optional<std::string> NormalizeDocumentNumber(absl::string_view raw) {
  if (!IsValidUtf8(raw)) return std::nullopt;
  std::string nfkc = Nfkc(raw);
  std::string out;
  out.reserve(nfkc.size());
  ForEachCodePoint(nfkc, [&](UChar32 c, int32_t b, int32_t e) {
    if (u_isUWhiteSpace(c) || c == '-' || u_charType(c) == U_DASH_PUNCTUATION) return;
    if (c < 0x80) {
      out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
    } else {
      out.append(nfkc, b, e - b);
    }
  });
  return out;
}

std::optional<std::string> NormalizeName(absl::string_view raw) {
  if (!IsValidUtf8(raw)) return std::nullopt;
  std::string nfkc = Nfkc(raw);
  std::string out;
  out.reserve(nfkc.size());
  bool pending_space = false;
  ForEachCodePoint(nfkc, [&](UChar32 c, int32_t b, int32_t e) {
    if (u_isUWhiteSpace(c)) {
      pending_space = !out.empty();
      return;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.append(nfkc, b, e - b);
  });
  return out;
}

}  // namespace idv::identity
