#include "crypto/backup_stream.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace idv::crypto {
namespace {

constexpr char kMagic[] = "IDVBAK01";
constexpr size_t kMagicBytes = 8;
constexpr size_t kPrefixBytes = kMagicBytes + 4;  // magic and key version
constexpr size_t kHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr size_t kABytes = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr size_t kMessageBytes = 1 << 20;
// A message longer than this is not one of ours (a damaged length): refused before allocating.
constexpr uint32_t kMaxCiphertext = 64 << 20;

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

std::string Prefix(uint32_t version) {
  std::string p(kMagic, kMagicBytes);
  PutU32(&p, version);
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BackupWriter>> BackupWriter::Start(const KeyRing& keys,
                                                                  absl::string_view manifest,
                                                                  Sink sink) {
  std::unique_ptr<BackupWriter> w(new BackupWriter(std::move(sink)));
  const uint32_t version = keys.current_version();
  std::string head = Prefix(version);
  uint8_t header[kHeaderBytes];
  crypto_secretstream_xchacha20poly1305_init_push(&w->state_, header, keys.BackupKey(version));
  head.append(reinterpret_cast<const char*>(header), sizeof header);
  if (absl::Status s = w->sink_(head); !s.ok()) return s;
  // The manifest is bound to the prefix: a changed version or magic fails its authentication.
  std::string ciphertext(manifest.size() + kABytes, '\0');
  unsigned long long written = 0;
  const std::string prefix = Prefix(version);
  crypto_secretstream_xchacha20poly1305_push(
      &w->state_, reinterpret_cast<uint8_t*>(ciphertext.data()), &written,
      reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size(),
      reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size(),
      crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  std::string framed;
  PutU32(&framed, static_cast<uint32_t>(written));
  framed.append(ciphertext.data(), written);
  if (absl::Status s = w->sink_(framed); !s.ok()) return s;
  return w;
}

BackupWriter::~BackupWriter() {
  sodium_memzero(&state_, sizeof state_);
  sodium_memzero(buffer_.data(), buffer_.size());
}

absl::Status BackupWriter::Push(absl::string_view plaintext, uint8_t tag) {
  std::string framed(4 + plaintext.size() + kABytes, '\0');
  unsigned long long written = 0;
  crypto_secretstream_xchacha20poly1305_push(
      &state_, reinterpret_cast<uint8_t*>(framed.data() + 4), &written,
      reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size(), nullptr, 0, tag);
  std::string length;
  PutU32(&length, static_cast<uint32_t>(written));
  std::memcpy(framed.data(), length.data(), 4);
  framed.resize(4 + written);
  return sink_(framed);
}

absl::Status BackupWriter::Add(absl::string_view key, absl::string_view value) {
  if (finished_) return absl::FailedPreconditionError("the backup is finished");
  PutU32(&buffer_, static_cast<uint32_t>(key.size()));
  buffer_.append(key.data(), key.size());
  PutU32(&buffer_, static_cast<uint32_t>(value.size()));
  buffer_.append(value.data(), value.size());
  pair_bytes_ += 8 + key.size() + value.size();
  if (buffer_.size() < kMessageBytes) return absl::OkStatus();
  absl::Status s = Push(buffer_, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  sodium_memzero(buffer_.data(), buffer_.size());
  buffer_.clear();
  return s;
}

absl::Status BackupWriter::Finish(absl::string_view trailer) {
  if (finished_) return absl::FailedPreconditionError("the backup is finished");
  finished_ = true;
  if (!buffer_.empty()) {
    absl::Status s = Push(buffer_, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    sodium_memzero(buffer_.data(), buffer_.size());
    buffer_.clear();
    if (!s.ok()) return s;
  }
  return Push(trailer, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
}

absl::StatusOr<uint32_t> BackupReader::PeekVersion(std::istream& in) {
  char prefix[kPrefixBytes];
  const std::streampos at = in.tellg();
  in.read(prefix, sizeof prefix);
  const bool whole = in.gcount() == static_cast<std::streamsize>(sizeof prefix);
  in.clear();
  in.seekg(at);
  if (!whole || std::memcmp(prefix, kMagic, kMagicBytes) != 0) {
    return absl::InvalidArgumentError("not an idv backup file");
  }
  return GetU32(prefix + kMagicBytes);
}

absl::StatusOr<std::unique_ptr<BackupReader>> BackupReader::Open(const KeyRing& keys,
                                                                 std::istream& in) {
  std::unique_ptr<BackupReader> r(new BackupReader(in));
  char head[kPrefixBytes + kHeaderBytes];
  in.read(head, sizeof head);
  if (in.gcount() < static_cast<std::streamsize>(kPrefixBytes) ||
      std::memcmp(head, kMagic, kMagicBytes) != 0) {
    return absl::InvalidArgumentError("not an idv backup file");
  }
  if (in.gcount() != static_cast<std::streamsize>(sizeof head)) {
    return absl::DataLossError("the backup is truncated (in its header)");
  }
  r->version_ = GetU32(head + kMagicBytes);
  if (!keys.Knows(r->version_)) {
    return absl::PermissionDeniedError(absl::StrCat("the backup was made under key version ",
                                                    r->version_, ", which this key ring lacks"));
  }
  if (crypto_secretstream_xchacha20poly1305_init_pull(
          &r->state_, reinterpret_cast<const uint8_t*>(head + kPrefixBytes),
          keys.BackupKey(r->version_)) != 0) {
    return absl::InvalidArgumentError("the backup header is invalid");
  }
  uint8_t tag = 0;
  absl::Status s = r->Pull(&r->manifest_, &tag, absl::string_view(head, kPrefixBytes));
  if (absl::IsDataLoss(s) && s.message().find("authenticate") != absl::string_view::npos) {
    return absl::PermissionDeniedError(
        "the backup does not open with this master key (made under another key, or damaged)");
  }
  if (!s.ok()) return s;
  if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
    return absl::DataLossError("the backup's first message is not its manifest");
  }
  return r;
}

BackupReader::~BackupReader() {
  sodium_memzero(&state_, sizeof state_);
  sodium_memzero(message_.data(), message_.size());
}

absl::Status BackupReader::Pull(std::string* out, uint8_t* tag, absl::string_view associated) {
  char length[4];
  in_.read(length, sizeof length);
  if (in_.gcount() != static_cast<std::streamsize>(sizeof length)) {
    return absl::DataLossError("the backup is truncated (it ends before its final message)");
  }
  const uint32_t n = GetU32(length);
  if (n < kABytes || n > kMaxCiphertext) {
    return absl::DataLossError("the backup is damaged (a message length is impossible)");
  }
  std::string ciphertext(n, '\0');
  in_.read(ciphertext.data(), n);
  if (in_.gcount() != static_cast<std::streamsize>(n)) {
    return absl::DataLossError("the backup is truncated (inside a message)");
  }
  out->assign(n - kABytes, '\0');
  unsigned long long plain = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(
          &state_, reinterpret_cast<uint8_t*>(out->data()), &plain, tag,
          reinterpret_cast<const uint8_t*>(ciphertext.data()), n,
          reinterpret_cast<const uint8_t*>(associated.data()), associated.size()) != 0) {
    return absl::DataLossError(
        "the backup does not authenticate: altered, reordered or damaged bytes");
  }
  out->resize(plain);
  return absl::OkStatus();
}

absl::StatusOr<bool> BackupReader::Next(std::string* key, std::string* value) {
  if (done_) return false;
  while (pos_ == message_.size()) {
    sodium_memzero(message_.data(), message_.size());
    uint8_t tag = 0;
    if (absl::Status s = Pull(&message_, &tag); !s.ok()) return s;
    pos_ = 0;
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      trailer_ = std::move(message_);
      message_.clear();
      done_ = true;
      if (in_.peek() != std::char_traits<char>::eof()) {
        return absl::DataLossError("the backup has bytes after its final message");
      }
      return false;
    }
    if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
      return absl::DataLossError("the backup has a message of an unknown kind");
    }
  }
  auto take = [&](std::string* out) {
    if (message_.size() - pos_ < 4) return false;
    const uint32_t n = GetU32(message_.data() + pos_);
    pos_ += 4;
    if (message_.size() - pos_ < n) return false;
    out->assign(message_, pos_, n);
    pos_ += n;
    return true;
  };
  if (!take(key) || !take(value)) {
    return absl::DataLossError("the backup holds a malformed pair");
  }
  return true;
}

}  // namespace idv::crypto
