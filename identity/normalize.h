// Unicode normalization of claim fields. Thread-safe; no state.
#ifndef IDV_IDENTITY_NORMALIZE_H_
#define IDV_IDENTITY_NORMALIZE_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace idv::identity {

// True when `s` is well-formed UTF-8.
bool IsValidUtf8(absl::string_view s);

// Canonical form of a document number: NFKC (full-width digits and letters become ASCII), white
// space and hyphens removed, letters upper-cased. nullopt when `raw` is not valid UTF-8. The result
// may still hold non-ASCII characters; the document's own rules reject them.
std::optional<std::string> NormalizeDocumentNumber(absl::string_view raw);

// Canonical form of a name: NFKC, leading and trailing white space removed, inner runs of white
// space folded to one ASCII space. nullopt when `raw` is not valid UTF-8.
std::optional<std::string> NormalizeName(absl::string_view raw);

}  // namespace idv::identity

#endif  // IDV_IDENTITY_NORMALIZE_H_
