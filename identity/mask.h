// Display forms of identity data for audit records, logs and responses. Thread-safe; no state.
//
// Rules (stable: auditors match on them):
//  - document numbers keep their first 3 and last 4 characters, every other character becomes
//    "*" ("110105199001010023" -> "110***********0023"); numbers of 7 characters or fewer become
//    all "*";
//  - names keep their first character followed by a single "*" whatever their length ("张三丰" ->
//    "张*"), so the mask does not reveal the length.
#ifndef IDV_IDENTITY_MASK_H_
#define IDV_IDENTITY_MASK_H_

#include <string>

#include "absl/strings/string_view.h"

namespace idv::identity {

std::string MaskDocumentNumber(absl::string_view number);
// REQUIRES: `name` is valid UTF-8.
std::string MaskName(absl::string_view name);

}  // namespace idv::identity

#endif  // IDV_IDENTITY_MASK_H_
