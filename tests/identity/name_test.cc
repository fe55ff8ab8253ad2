#include "identity/name.h"

#include <gtest/gtest.h>

namespace idv::identity {
namespace {

using idv::v1::ReasonCode;

std::string Canonical(const std::string& raw) {
  FieldResult r = CheckName(raw);
  EXPECT_TRUE(r.ok()) << raw << ": " << (r.ok() ? "" : r.rejection->message);
  return r.canonical;
}

ReasonCode Code(const std::string& raw) {
  FieldResult r = CheckName(raw);
  return r.ok() ? idv::v1::REASON_CODE_UNSPECIFIED : r.rejection->code;
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(NameTest, ChineseNamesIncludingRareCharacters) {
  EXPECT_EQ(Canonical("张三"), "张三");
  EXPECT_EQ(Canonical(" 张 三 "), "张三");
  EXPECT_EQ(Canonical("欧阳娜娜"), "欧阳娜娜");
  EXPECT_EQ(Canonical("王\U00020000"), "王\U00020000");  // CJK extension B
  EXPECT_EQ(Canonical("陈\U0002A700"), "陈\U0002A700");  // extension C
  EXPECT_EQ(Canonical("李\u3400"), "李\u3400");          // extension A
  EXPECT_EQ(Canonical("林\uF900"), "林\u8C48");          // compatibility ideograph, NFKC'd
  EXPECT_EQ(Canonical(Repeat("张", 40)), Repeat("张", 40));
}

TEST(NameTest, EveryMiddleDotLookAlikeBecomesOne) {
  const std::string canonical = "阿依古丽\u00b7买买提";
  for (const char* dot : {"\u00b7", "\u2022", "\u30fb", "\uff0e", "\u2027", "\u2219", "\u22c5",
                          "\u2e31", "\uff65", "\u0387", "."}) {
    EXPECT_EQ(Canonical(std::string("阿依古丽") + dot + "买买提"), canonical) << dot;
  }
  EXPECT_EQ(Canonical("阿依古丽 · 买买提"), canonical);
}

TEST(NameTest, LatinNamesAreUpperCasedAndSpacedOnce) {
  EXPECT_EQ(Canonical("  John   Smith "), "JOHN SMITH");
  EXPECT_EQ(Canonical("ＪＯＨＮ　ｓｍｉｔｈ"), "JOHN SMITH");  // full width
  EXPECT_EQ(Canonical("Anne-Marie O\u2019Neil"), "ANNE-MARIE O'NEIL");
  EXPECT_EQ(Canonical("Smith - Jones"), "SMITH-JONES");
  EXPECT_EQ(Canonical("José Müller"), "JOSÉ MÜLLER");
  EXPECT_EQ(Canonical("Jose\u0301"), "JOSÉ");  // combining accent composed by NFKC
  EXPECT_EQ(Canonical("Martin Luther King Jr."), "MARTIN LUTHER KING JR.");
  // Upper-casing can make a pair NFKC composes: dotless ı + U+0308 is I + U+0308, which is Ï. The
  // canonical form is composed, so that it is its own canonical form (found by fuzz_name).
  EXPECT_EQ(Canonical("\u0131\u0308"), "\u00CF");
  EXPECT_EQ(Canonical("\u00CF"), "\u00CF");
}

TEST(NameTest, EachRejectionHasItsOwnReason) {
  EXPECT_EQ(Code(""), idv::v1::FIELD_MISSING);
  EXPECT_EQ(Code(" \u3000 "), idv::v1::FIELD_MISSING);
  EXPECT_EQ(Code("\xc3\x28"), idv::v1::INVALID_NAME);
  EXPECT_EQ(Code("张3"), idv::v1::NAME_HAS_DIGIT);
  EXPECT_EQ(Code("张３"), idv::v1::NAME_HAS_DIGIT);                      // full-width digit
  EXPECT_EQ(Code("张\u2460"), idv::v1::NAME_HAS_DIGIT);                  // circled one
  EXPECT_EQ(Code("张\u4e09"), idv::v1::REASON_CODE_UNSPECIFIED);         // 三 is a character
  EXPECT_EQ(Code("张\u200b三"), idv::v1::NAME_HAS_INVISIBLE_CHARACTER);  // zero-width space
  EXPECT_EQ(Code("张\u200d三"), idv::v1::NAME_HAS_INVISIBLE_CHARACTER);  // zero-width joiner
  EXPECT_EQ(Code("张\x01三"), idv::v1::NAME_HAS_INVISIBLE_CHARACTER);
  EXPECT_EQ(Code("张\u202e三"), idv::v1::NAME_HAS_INVISIBLE_CHARACTER);  // right-to-left override
  EXPECT_EQ(Code("张3\u200b"), idv::v1::NAME_HAS_INVISIBLE_CHARACTER);   // the worse problem wins
  EXPECT_EQ(Code("张三\U0001F600"), idv::v1::NAME_HAS_SYMBOL);           // emoji
  EXPECT_EQ(Code("张$三"), idv::v1::NAME_HAS_SYMBOL);
  EXPECT_EQ(Code("张-三"), idv::v1::NAME_HAS_SYMBOL);
  EXPECT_EQ(Code("John\u00b7Smith"), idv::v1::NAME_HAS_SYMBOL);
  EXPECT_EQ(Code("张John"), idv::v1::NAME_MIXED_SCRIPTS);
  EXPECT_EQ(Code("Иван Петров"), idv::v1::NAME_UNSUPPORTED_SCRIPT);
  EXPECT_EQ(Code("김민준"), idv::v1::NAME_UNSUPPORTED_SCRIPT);
  EXPECT_EQ(Code("\u00b7阿依古丽"), idv::v1::NAME_MISPLACED_SEPARATOR);
  EXPECT_EQ(Code("阿依古丽\u00b7"), idv::v1::NAME_MISPLACED_SEPARATOR);
  EXPECT_EQ(Code("阿依古丽\u00b7\u00b7买买提"), idv::v1::NAME_MISPLACED_SEPARATOR);
  EXPECT_EQ(Code("-John"), idv::v1::NAME_MISPLACED_SEPARATOR);
  EXPECT_EQ(Code("John-"), idv::v1::NAME_MISPLACED_SEPARATOR);
  EXPECT_EQ(Code("John--Smith"), idv::v1::NAME_MISPLACED_SEPARATOR);
  EXPECT_EQ(Code("\u00b7"), idv::v1::NAME_MISPLACED_SEPARATOR);
  EXPECT_EQ(Code(Repeat("张", 41)), idv::v1::NAME_TOO_LONG);
  EXPECT_EQ(Code(std::string(101, 'a')), idv::v1::NAME_TOO_LONG);
  EXPECT_EQ(Code(std::string(100, 'a')), idv::v1::REASON_CODE_UNSPECIFIED);
}

TEST(NameTest, RejectionsNameTheField) {
  EXPECT_EQ(CheckName("张3").rejection->field, "claim.full_name");
}

}  // namespace
}  // namespace idv::identity
