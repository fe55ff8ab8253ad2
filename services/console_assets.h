// The web console's files (console/dist), compiled into idvd by cmake/EmbedFiles.cmake.
#ifndef IDV_SERVICES_CONSOLE_ASSETS_H_
#define IDV_SERVICES_CONSOLE_ASSETS_H_

#include <cstddef>

namespace idv::services {

struct ConsoleAsset {
  const char* path;  // "/index.html", "/assets/index-1a2b3c.js", ...
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

extern const ConsoleAsset kConsoleAssets[];
extern const size_t kConsoleAssetCount;

}  // namespace idv::services

#endif  // IDV_SERVICES_CONSOLE_ASSETS_H_
