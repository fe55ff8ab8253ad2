#include "identity/name.h"

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <vector>

#include "identity/normalize.h"

namespace idv::identity {
namespace {

using idv::v1::ReasonCode;

constexpr size_t kMaxHan = 40;
constexpr size_t kMaxLatin = 100;

enum class Kind { kHan, kLatin, kMark, kDot, kSpace, kHyphen, kApostrophe, kPeriod };

// Kind of one code point of an NFKC-normalized name, or the reason it cannot be in a name.
std::optional<ReasonCode> Classify(UChar32 c, Kind* kind) {
  switch (c) {
    case 0x00B7:
    case 0x2022:
    case 0x2027:
    case 0x2219:
    case 0x22C5:
    case 0x2E31:
    case 0x30FB:
      *kind = Kind::kDot;
      return std::nullopt;
    case '.':
      *kind = Kind::kPeriod;  // a dot in a Chinese name, an abbreviation in a Latin one
      return std::nullopt;
    case ' ':
      *kind = Kind::kSpace;
      return std::nullopt;
    case '-':
    case 0x2010:
    case 0x2011:
      *kind = Kind::kHyphen;
      return std::nullopt;
    case '\'':
    case 0x2019:
    case 0x02BC:
      *kind = Kind::kApostrophe;
      return std::nullopt;
    default:
      break;
  }
  const int8_t type = u_charType(c);
  switch (type) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_UNASSIGNED:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
      return idv::v1::NAME_HAS_INVISIBLE_CHARACTER;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return idv::v1::NAME_HAS_DIGIT;
    case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
    case U_ENCLOSING_MARK:
      *kind = Kind::kMark;  // a diacritic left uncomposed by NFKC
      return std::nullopt;
    default:
      break;
  }
  if (!u_isalpha(c)) return idv::v1::NAME_HAS_SYMBOL;
  UErrorCode err = U_ZERO_ERROR;
  const UScriptCode script = uscript_getScript(c, &err);
  if (script == USCRIPT_HAN) {
    *kind = Kind::kHan;
  } else if (script == USCRIPT_LATIN) {
    *kind = Kind::kLatin;
  } else {
    return idv::v1::NAME_UNSUPPORTED_SCRIPT;
  }
  return std::nullopt;
}

const char* Message(ReasonCode code) {
  switch (code) {
    case idv::v1::NAME_HAS_INVISIBLE_CHARACTER:
      return "The name contains an invisible character.";
    case idv::v1::NAME_HAS_DIGIT:
      return "The name contains a digit.";
    case idv::v1::NAME_HAS_SYMBOL:
      return "The name contains a symbol or emoji.";
    case idv::v1::NAME_UNSUPPORTED_SCRIPT:
      return "The name must be written in Chinese characters or Latin letters.";
    case idv::v1::NAME_MIXED_SCRIPTS:
      return "The name mixes Chinese characters and Latin letters.";
    case idv::v1::NAME_MISPLACED_SEPARATOR:
      return "A dot, hyphen or apostrophe is at the start or end of the name, or doubled.";
    case idv::v1::NAME_TOO_LONG:
      return "The name is longer than any document holds.";
    default:
      return "The name is not valid.";
  }
}

FieldResult Reject(ReasonCode code) { return Rejected(code, kNameField, Message(code)); }

struct Glyph {
  UChar32 c;
  Kind kind;
};

void AppendUtf8(std::string& out, UChar32 c) {
  char buf[U8_MAX_LENGTH];
  int32_t len = 0;
  U8_APPEND_UNSAFE(reinterpret_cast<uint8_t*>(buf), len, c);  // buf holds any code point
  out.append(buf, static_cast<size_t>(len));
}

bool IsSeparator(Kind k) {
  return k == Kind::kDot || k == Kind::kHyphen || k == Kind::kApostrophe || k == Kind::kPeriod;
}

FieldResult ChineseName(const std::vector<Glyph>& glyphs) {
  FieldResult r;
  size_t count = 0;
  Kind previous = Kind::kDot;  // so that a leading dot counts as misplaced
  for (const Glyph& g : glyphs) {
    if (g.kind == Kind::kSpace) continue;  // "张 三" is 张三
    if (g.kind == Kind::kHyphen || g.kind == Kind::kApostrophe || g.kind == Kind::kMark) {
      return Reject(idv::v1::NAME_HAS_SYMBOL);
    }
    const bool dot = g.kind == Kind::kDot || g.kind == Kind::kPeriod;
    if (dot && previous == Kind::kDot) return Reject(idv::v1::NAME_MISPLACED_SEPARATOR);
    previous = dot ? Kind::kDot : Kind::kHan;
    AppendUtf8(r.canonical, dot ? 0x00B7 : g.c);
    ++count;
  }
  if (previous == Kind::kDot) return Reject(idv::v1::NAME_MISPLACED_SEPARATOR);
  if (count > kMaxHan) return Reject(idv::v1::NAME_TOO_LONG);
  return r;
}

FieldResult LatinName(const std::vector<Glyph>& glyphs) {
  FieldResult r;
  size_t count = 0;
  Kind previous = Kind::kSpace;
  for (size_t i = 0; i < glyphs.size(); ++i) {
    const Glyph& g = glyphs[i];
    if (g.kind == Kind::kDot) return Reject(idv::v1::NAME_HAS_SYMBOL);
    if (g.kind == Kind::kSpace) {
      // Spaces around a hyphen or apostrophe are dropped: "Smith - Jones" is SMITH-JONES.
      const bool next_sep = i + 1 < glyphs.size() && (glyphs[i + 1].kind == Kind::kHyphen ||
                                                      glyphs[i + 1].kind == Kind::kApostrophe);
      if (next_sep || previous == Kind::kHyphen || previous == Kind::kApostrophe) continue;
      previous = Kind::kSpace;
      r.canonical.push_back(' ');
      ++count;
      continue;
    }
    if (IsSeparator(g.kind)) {
      const bool after_letter = previous == Kind::kLatin || previous == Kind::kMark;
      if (!after_letter) return Reject(idv::v1::NAME_MISPLACED_SEPARATOR);
      if (g.kind != Kind::kPeriod && i + 1 == glyphs.size()) {
        return Reject(idv::v1::NAME_MISPLACED_SEPARATOR);
      }
      r.canonical.push_back(g.kind == Kind::kHyphen       ? '-'
                            : g.kind == Kind::kApostrophe ? '\''
                                                          : '.');
      previous = g.kind;
      ++count;
      continue;
    }
    if (g.kind == Kind::kMark && previous != Kind::kLatin && previous != Kind::kMark) {
      return Reject(idv::v1::NAME_HAS_SYMBOL);
    }
    AppendUtf8(r.canonical, g.kind == Kind::kLatin ? u_toupper(g.c) : g.c);
    previous = g.kind;
    ++count;
  }
  if (count > kMaxLatin) return Reject(idv::v1::NAME_TOO_LONG);
  return r;
}

}  // namespace

FieldResult CheckName(absl::string_view raw) {
  std::optional<std::string> name = NormalizeName(raw);
  if (!name) return Rejected(idv::v1::INVALID_NAME, kNameField, "The name is not valid UTF-8.");
  if (name->empty()) return Rejected(idv::v1::FIELD_MISSING, kNameField, "The name is empty.");

  std::vector<Glyph> glyphs;
  glyphs.reserve(name->size());
  bool han = false, latin = false;
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(name->size());
  const auto* p = reinterpret_cast<const uint8_t*>(name->data());
  std::optional<ReasonCode> first_problem;
  while (i < n) {
    UChar32 c;
    U8_NEXT(p, i, n, c);
    Kind kind = Kind::kSpace;
    std::optional<ReasonCode> problem = Classify(c, &kind);
    // Report the most telling problem: invisible characters first, then digits, then the rest.
    if (problem && (!first_problem || *problem == idv::v1::NAME_HAS_INVISIBLE_CHARACTER ||
                    (*problem == idv::v1::NAME_HAS_DIGIT &&
                     *first_problem != idv::v1::NAME_HAS_INVISIBLE_CHARACTER))) {
      first_problem = problem;
    }
    han = han || kind == Kind::kHan;
    latin = latin || kind == Kind::kLatin;
    glyphs.push_back(Glyph{c, kind});
  }
  if (first_problem) return Reject(*first_problem);
  if (han && latin) return Reject(idv::v1::NAME_MIXED_SCRIPTS);
  if (han) return ChineseName(glyphs);
  if (latin) {
    FieldResult r = LatinName(glyphs);
    // Upper-casing can leave a letter and a mark that NFKC composes (dotless ı with a diaeresis
    // becomes I with one, which is Ï): normalized again, the canonical form is its own.
    if (r.ok()) r.canonical = *NormalizeName(r.canonical);
    return r;
  }
  return Reject(idv::v1::NAME_MISPLACED_SEPARATOR);  // separators and nothing else
}

}  // namespace idv::identity
