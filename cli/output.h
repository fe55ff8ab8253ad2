// How idvctl prints answers: a human table, or JSON, JSON Lines or YAML for scripts. The machine
// formats are protobuf's JSON mapping (field names as in the .proto files), written by protobuf and
// re-emitted by nlohmann-json or yaml-cpp; never assembled by hand.
#ifndef IDV_CLI_OUTPUT_H_
#define IDV_CLI_OUTPUT_H_

#include <optional>
#include <ostream>
#include <string>

#include "google/protobuf/message.h"

namespace idv::cli {

// Exit codes, documented in `idvctl --help` and the README.
inline constexpr int kExitOk = 0;
// The call succeeded but the answer is negative: a Verify outcome other than VERIFIED, a proof,
// integrity or backup check that failed, an input `check` found invalid.
inline constexpr int kExitNegative = 1;
// Bad flags, arguments or input files; nothing was sent.
inline constexpr int kExitUsage = 2;
// The call failed: idvd unreachable, the API key unreadable or refused, a gRPC error.
inline constexpr int kExitCallFailed = 3;

enum class Format { kTable, kJson, kJsonl, kYaml };

// "table", "json", "jsonl", "yaml"; nullopt for anything else.
std::optional<Format> ParseFormat(const std::string& name);

// Prints `m` in `format`.
//  - table: a message with one repeated message field (a list) prints its other fields as
//    "field  value" rows, then the list as a table whose columns are the items' fields, nested
//    messages flattened into dotted columns (`health.state`); a single message prints one row per
//    set field, flattened the same way. Timestamps as RFC 3339, durations as `12.3ms`, bytes as
//    base64, enums by name.
//  - json: one pretty-printed object; jsonl: one compact line per list item (or the object);
//    yaml: the same object as YAML.
void PrintMessage(const google::protobuf::Message& m, Format format, std::ostream& out);

// A duration for people: 850ns, 12.3µs, 12.3ms, 1.23s, 2m3s.
std::string HumanDuration(int64_t seconds, int32_t nanos);

}  // namespace idv::cli

#endif  // IDV_CLI_OUTPUT_H_
