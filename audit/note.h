// Checkpoints of the audit log in the C2SP formats, so standard tools check them:
//  - tlog-checkpoint: "<origin>\n<tree size>\n<base64 root hash>\n";
//  - signed-note: the text, a blank line, and one line per signature,
//    "\u2014 <key name> <base64(4-byte key id || Ed25519 signature)>\n", where the key id is the
//    first 4 bytes of SHA-256(<key name> || "\n" || 0x01 || <public key>);
//  - the verifier key, published for auditors: "<key name>+<key id, 8 hex>+<base64(0x01 || key)>".
// Pure functions; thread-safe.
#ifndef IDV_AUDIT_NOTE_H_
#define IDV_AUDIT_NOTE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/merkle.h"

namespace idv::audit {

struct Checkpoint {
  // The log's unique name, e.g. "idv.example/audit/node-1". No newline.
  std::string origin;
  uint64_t size = 0;
  Hash root{};
};

using PublicKey = std::array<uint8_t, 32>;
// Signs a message with the key whose public half is given alongside (Ed25519, 64 bytes).
using Signer = std::function<std::array<uint8_t, 64>(absl::string_view message)>;

std::string CheckpointText(const Checkpoint& c);
// InvalidArgument when `text` is not a checkpoint (extension lines after the root are allowed).
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text);

// The verifier key string of (`name`, `key`). InvalidArgument for a name with space or '+'.
absl::StatusOr<std::string> VerifierKey(absl::string_view name, const PublicKey& key);

// `text` (ending in a newline) signed by `name`.
absl::StatusOr<std::string> SignNote(absl::string_view text, absl::string_view name,
                                     const PublicKey& key, const Signer& sign);

// The text of `note` when `verifier_key` signed it; DataLoss (or InvalidArgument for a malformed
// note or key) otherwise. Signatures by other keys are ignored.
absl::StatusOr<std::string> OpenNote(absl::string_view note, absl::string_view verifier_key);

}  // namespace idv::audit

#endif  // IDV_AUDIT_NOTE_H_
