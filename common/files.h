// Small file helpers shared by components that read configuration-named files. Thread-safe.
#ifndef IDV_COMMON_FILES_H_
#define IDV_COMMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace idv {

// The whole content of the file at `path`. NotFound (naming the path) when it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace idv

#endif  // IDV_COMMON_FILES_H_
