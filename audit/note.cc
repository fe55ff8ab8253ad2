#include "audit/note.h"

#include <sodium.h>

#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace idv::audit {
namespace {

constexpr absl::string_view kDash = "\xE2\x80\x94 ";  // U+2014 and a space
constexpr uint8_t kEd25519 = 0x01;

std::string Base64(const uint8_t* data, size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL
  return out;
}

bool Unbase64(absl::string_view in, std::string* out) {
  out->assign(in.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<uint8_t*>(out->data()), out->size(), in.data(), in.size(),
                        nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return false;
  }
  out->resize(len);
  return true;
}

std::array<uint8_t, 4> KeyId(absl::string_view name, const PublicKey& key) {
  std::string input(name);
  input.push_back('\n');
  input.push_back(static_cast<char>(kEd25519));
  input.append(reinterpret_cast<const char*>(key.data()), key.size());
  uint8_t h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const uint8_t*>(input.data()), input.size());
  return {h[0], h[1], h[2], h[3]};
}

bool ValidName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == '+' || c == ' ' || c == '\n' || c == '\t') return false;
  }
  return true;
}

}  // namespace

std::string CheckpointText(const Checkpoint& c) {
  return absl::StrCat(c.origin, "\n", c.size, "\n", Base64(c.root.data(), c.root.size()), "\n");
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  Checkpoint c;
  std::string root;
  if (lines.size() < 4 || lines[0].empty() || !absl::SimpleAtoi(lines[1], &c.size) ||
      !Unbase64(lines[2], &root) || root.size() != c.root.size()) {
    return absl::InvalidArgumentError("not a checkpoint (origin, size, base64 root hash)");
  }
  c.origin = std::string(lines[0]);
  std::copy(root.begin(), root.end(), c.root.begin());
  return c;
}

absl::StatusOr<std::string> VerifierKey(absl::string_view name, const PublicKey& key) {
  if (!ValidName(name)) return absl::InvalidArgumentError("key name must not contain '+' or space");
  const std::array<uint8_t, 4> id = KeyId(name, key);
  std::string typed(1, static_cast<char>(kEd25519));
  typed.append(reinterpret_cast<const char*>(key.data()), key.size());
  char hex[9];
  sodium_bin2hex(hex, sizeof hex, id.data(), id.size());
  return absl::StrCat(name, "+", hex, "+",
                      Base64(reinterpret_cast<const uint8_t*>(typed.data()), typed.size()));
}

absl::StatusOr<std::string> SignNote(absl::string_view text, absl::string_view name,
                                     const PublicKey& key, const Signer& sign) {
  if (!ValidName(name)) return absl::InvalidArgumentError("key name must not contain '+' or space");
  if (text.empty() || text.back() != '\n') {
    return absl::InvalidArgumentError("note text must end in a newline");
  }
  const std::array<uint8_t, 4> id = KeyId(name, key);
  const std::array<uint8_t, 64> sig = sign(text);
  std::string blob(id.begin(), id.end());
  blob.append(reinterpret_cast<const char*>(sig.data()), sig.size());
  return absl::StrCat(text, "\n", kDash, name, " ",
                      Base64(reinterpret_cast<const uint8_t*>(blob.data()), blob.size()), "\n");
}

absl::StatusOr<std::string> OpenNote(absl::string_view note, absl::string_view verifier_key) {
  // name+id+key, where the base64 key may itself hold '+'.
  std::vector<absl::string_view> parts = absl::StrSplit(verifier_key, absl::MaxSplits('+', 2));
  std::string typed;
  if (parts.size() != 3 || !Unbase64(parts[2], &typed) || typed.size() != 33 ||
      static_cast<uint8_t>(typed[0]) != kEd25519) {
    return absl::InvalidArgumentError("not an Ed25519 note verifier key");
  }
  PublicKey key;
  std::copy(typed.begin() + 1, typed.end(), key.begin());
  const std::array<uint8_t, 4> id = KeyId(parts[0], key);
  const size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos) return absl::InvalidArgumentError("note has no signatures");
  const absl::string_view text = note.substr(0, split + 1);
  const absl::string_view sigs = note.substr(split + 2);
  for (absl::string_view line : absl::StrSplit(sigs, '\n', absl::SkipEmpty())) {
    if (line.substr(0, kDash.size()) != kDash)
      return absl::InvalidArgumentError("bad signature line");
    line.remove_prefix(kDash.size());
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos || line.substr(0, space) != parts[0]) continue;
    std::string blob;
    if (!Unbase64(line.substr(space + 1), &blob) || blob.size() != 68) continue;
    if (std::memcmp(id.data(), blob.data(), id.size()) != 0) continue;
    if (crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(blob.data()) + 4,
                                    reinterpret_cast<const uint8_t*>(text.data()), text.size(),
                                    key.data()) == 0) {
      return std::string(text);
    }
    return absl::DataLossError("the note's signature does not verify");
  }
  return absl::DataLossError("the note carries no signature by this key");
}

}  // namespace idv::audit
