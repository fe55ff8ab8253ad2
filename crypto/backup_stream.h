// Encrypted backup files.
//
// A backup is a sequence of (key, value) pairs, written as one libsodium crypto_secretstream
// (XChaCha20-Poly1305) under the key ring's backup key of the current version:
//
//   "IDVBAK01" | key version (u32 LE) | secretstream header (24 bytes)
//   then messages, each: ciphertext length (u32 LE) | ciphertext
//     message 1: the manifest (caller's bytes), authenticated together with the 12 bytes before
//                the header, so the version cannot be swapped;
//     messages 2..n-1: pairs, each key length (u32 LE) | key | value length (u32 LE) | value;
//     message n (TAG_FINAL): the trailer (caller's bytes).
//
// The stream's own chaining makes a reordered, dropped or repeated message fail authentication;
// a file without its final message is truncated; one changed byte fails authentication; a file
// made under another master key fails at its first message. Nothing of a file is trusted before
// its final message authenticates: readers give pairs as they go, so a restore writes them
// somewhere it can throw away (see idvctl backup restore).
#ifndef IDV_CRYPTO_BACKUP_STREAM_H_
#define IDV_CRYPTO_BACKUP_STREAM_H_

#include <sodium.h>

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/keyring.h"

namespace idv::crypto {

class BackupWriter {
 public:
  using Sink = std::function<absl::Status(absl::string_view bytes)>;

  // Writes the file header and `manifest` to `sink`.
  static absl::StatusOr<std::unique_ptr<BackupWriter>> Start(const KeyRing& keys,
                                                             absl::string_view manifest, Sink sink);
  ~BackupWriter();

  // Adds one pair (buffered; written in messages of about 1 MiB).
  absl::Status Add(absl::string_view key, absl::string_view value);
  // Writes what is buffered and the final message carrying `trailer`. No Add after it.
  absl::Status Finish(absl::string_view trailer);

  // Plaintext bytes of pairs added so far.
  uint64_t pair_bytes() const { return pair_bytes_; }

 private:
  explicit BackupWriter(Sink sink) : sink_(std::move(sink)) {}
  absl::Status Push(absl::string_view plaintext, uint8_t tag);

  Sink sink_;
  crypto_secretstream_xchacha20poly1305_state state_;
  std::string buffer_;
  uint64_t pair_bytes_ = 0;
  bool finished_ = false;
};

class BackupReader {
 public:
  // The key version a backup file was made under, from its header (not yet authenticated).
  static absl::StatusOr<uint32_t> PeekVersion(std::istream& in);

  // Reads the header and authenticates the manifest. InvalidArgument for a file that is not a
  // backup; PermissionDenied when the version is unknown to `keys` or the first message does not
  // authenticate (another master key, or damage); DataLoss for a truncated file.
  static absl::StatusOr<std::unique_ptr<BackupReader>> Open(const KeyRing& keys, std::istream& in);
  ~BackupReader();

  const std::string& manifest() const { return manifest_; }
  uint32_t key_version() const { return version_; }

  // The next pair: true and fills `key` and `value`, or false once the final message was read
  // (then trailer() is set and the file is checked to end there). DataLoss for truncation,
  // alteration, reordering or bytes after the end.
  absl::StatusOr<bool> Next(std::string* key, std::string* value);
  const std::string& trailer() const { return trailer_; }

 private:
  explicit BackupReader(std::istream& in) : in_(in) {}
  // Reads and decrypts one message into `out`, with its tag.
  absl::Status Pull(std::string* out, uint8_t* tag, absl::string_view associated = {});

  std::istream& in_;
  uint32_t version_ = 0;
  crypto_secretstream_xchacha20poly1305_state state_;
  std::string manifest_;
  std::string trailer_;
  std::string message_;  // the pairs message being read
  size_t pos_ = 0;
  bool done_ = false;
};

}  // namespace idv::crypto

#endif  // IDV_CRYPTO_BACKUP_STREAM_H_
