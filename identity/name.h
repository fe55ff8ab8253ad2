// Names as printed on identity documents. Thread-safe; no state.
//
// Two kinds of names are accepted:
//  - Chinese names: Han characters (every CJK block, extensions included), optionally in parts
//    joined by the minority-name middle dot. Every look-alike of that dot (U+00B7, U+2022, U+2027,
//    U+2219, U+22C5, U+2E31, U+30FB, U+FF65, U+FF0E, ".") becomes U+00B7; spaces are removed.
//    At most 40 characters.
//  - Latin names (foreigners): letters of the Latin script, with single spaces, hyphens,
//    apostrophes (U+2019 and U+02BC become ') and a period after a letter ("JR."); upper-cased
//    (as in the machine-readable zone). At most 100 characters.
// Anything else is rejected with its own reason: digits, invisible characters, symbols and emoji,
// Han mixed with Latin, other scripts, separators at the ends or doubled.
#ifndef IDV_IDENTITY_NAME_H_
#define IDV_IDENTITY_NAME_H_

#include "absl/strings/string_view.h"
#include "identity/finding.h"

namespace idv::identity {

FieldResult CheckName(absl::string_view raw);

}  // namespace idv::identity

#endif  // IDV_IDENTITY_NAME_H_
