#include "crypto/keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace idv::crypto {
namespace {

// crypto_kdf contexts: exactly crypto_kdf_CONTEXTBYTES (8) characters each, one per purpose.
constexpr const char* kContexts[] = {"idv-iden", "idv-clam", "idv-clnt", "idv-seal",
                                     "idv-asig", "idv-idem", "idv-bkup"};
static_assert(sizeof("idv-iden") - 1 == crypto_kdf_CONTEXTBYTES);

// Feeds one length-prefixed field to a BLAKE2b state, so that field boundaries are unambiguous
// ("ab"+"c" and "a"+"bc" hash differently).
void Absorb(crypto_generichash_state* st, absl::string_view field) {
  uint8_t len[4];
  const uint32_t n = static_cast<uint32_t>(field.size());
  for (int i = 0; i < 4; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  crypto_generichash_update(st, len, sizeof len);
  crypto_generichash_update(st, reinterpret_cast<const uint8_t*>(field.data()), field.size());
}

absl::Status ErrnoStatus(const std::string& what, const std::string& path) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, " master key file ", path, ": ", std::strerror(errno)));
}

absl::Status CreateKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("cannot create", path);
  uint8_t key[kKeyBytes];
  randombytes_buf(key, sizeof key);
  const bool ok =
      ::write(fd, key, sizeof key) == static_cast<ssize_t>(sizeof key) && ::fsync(fd) == 0;
  sodium_memzero(key, sizeof key);
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return ErrnoStatus("cannot write", path);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InitSodium() {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialize");
  return absl::OkStatus();
}

SecretBytes SecretBytes::Allocate(size_t size) {
  SecretBytes s;
  s.data_ = static_cast<uint8_t*>(sodium_malloc(size));
  if (s.data_ == nullptr) std::abort();  // out of lockable memory: nothing safe to do
  s.size_ = size;
  return s;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before freeing
}

void SecretBytes::MakeReadOnly() { sodium_mprotect_readonly(data_); }

absl::StatusOr<SecretBytes> LoadMasterKey(const std::string& path, bool create_if_missing) {
  if (path.empty()) {
    return absl::FailedPreconditionError("no master key file configured (keys.master_key_file)");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoStatus("cannot read", path);
    if (!create_if_missing) {
      return absl::FailedPreconditionError(absl::StrCat(
          "master key file ", path,
          " does not exist; restore it, or set keys.create_if_missing for a new deployment"));
    }
    if (absl::Status s = CreateKeyFile(path); !s.ok()) return s;
    if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("cannot read", path);
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("master key file ", path, " is readable by group or others; chmod 600 it"));
  }
  if (st.st_size != static_cast<off_t>(kKeyBytes)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "master key file ", path, " must hold exactly 32 bytes, it holds ", st.st_size));
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path);
  SecretBytes key = SecretBytes::Allocate(kKeyBytes);
  const ssize_t n = ::read(fd, key.data(), kKeyBytes);
  ::close(fd);
  if (n != static_cast<ssize_t>(kKeyBytes)) return ErrnoStatus("cannot read", path);
  key.MakeReadOnly();
  return key;
}

std::string Fingerprint::ToString() const {
  char hex[kHashBytes * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, bytes.data(), bytes.size());
  return absl::StrCat("v", version, ":", hex);
}

absl::StatusOr<std::unique_ptr<KeyRing>> KeyRing::Create(SecretBytes master,
                                                         uint32_t current_version) {
  if (master.size() != kKeyBytes) return absl::InvalidArgumentError("master key must be 32 bytes");
  if (current_version == 0) return absl::InvalidArgumentError("key version starts at 1");
  if (current_version > kMaxVersions) {
    return absl::InvalidArgumentError(absl::StrCat("key version above ", kMaxVersions));
  }
  sodium_mprotect_noaccess(master.data());
  std::unique_ptr<KeyRing> ring(new KeyRing(std::move(master)));
  if (absl::Status s = ring->SetLiveVersions(current_version, 1); !s.ok()) return s;
  return ring;
}

void KeyRing::DeriveThrough(uint32_t version) {
  if (version <= derived_) return;
  sodium_mprotect_readonly(master_.data());
  for (uint32_t v = derived_ + 1; v <= version; ++v) {
    SecretBytes k = SecretBytes::Allocate(kKeyBytes * kPurposeCount);
    for (int p = 0; p < kPurposeCount; ++p) {
      crypto_kdf_derive_from_key(k.data() + p * kKeyBytes, kKeyBytes, v, kContexts[p],
                                 master_.data());
    }
    k.MakeReadOnly();
    keys_[v - 1] = std::move(k);
  }
  sodium_mprotect_noaccess(master_.data());
  derived_ = version;
}

absl::Status KeyRing::SetLiveVersions(uint32_t current, uint32_t oldest) {
  if (current > kMaxVersions) {
    return absl::InvalidArgumentError(absl::StrCat("key version above ", kMaxVersions));
  }
  if (oldest == 0 || oldest > current) {
    return absl::InvalidArgumentError(
        absl::StrCat("oldest live key version ", oldest, " is not in 1..", current));
  }
  std::lock_guard<std::mutex> lock(derive_mu_);
  if (current < current_.load(std::memory_order_relaxed)) {
    return absl::InvalidArgumentError(absl::StrCat("key version ", current, " is older than ",
                                                   current_.load(std::memory_order_relaxed)));
  }
  DeriveThrough(current);
  oldest_.store(oldest, std::memory_order_release);
  current_.store(current, std::memory_order_release);
  return absl::OkStatus();
}

std::vector<Fingerprint> KeyRing::LiveIdentityFingerprints(
    absl::string_view tenant, const identity::NormalizedClaim& claim) const {
  const uint32_t oldest = oldest_version();
  const uint32_t current = std::max(current_version(), oldest);
  std::vector<Fingerprint> out;
  for (uint32_t v = current; v >= oldest && v >= 1; --v) {
    out.push_back(IdentityFingerprint(tenant, claim, v));
  }
  return out;
}

const uint8_t* KeyRing::PurposeKey(Purpose purpose, uint32_t version) const {
  return keys_[version - 1].data() + purpose * kKeyBytes;
}

void KeyRing::TenantKey(Purpose purpose, uint32_t version, absl::string_view tenant,
                        uint8_t* out) const {
  crypto_generichash_state st;
  crypto_generichash_init(&st, PurposeKey(purpose, version), kKeyBytes, kKeyBytes);
  Absorb(&st, "tenant");
  Absorb(&st, tenant);
  crypto_generichash_final(&st, out, kKeyBytes);
  sodium_memzero(&st, sizeof st);
}

Fingerprint KeyRing::TenantHash(Purpose purpose, uint32_t version, absl::string_view tenant,
                                std::initializer_list<absl::string_view> fields) const {
  uint8_t key[kKeyBytes];
  TenantKey(purpose, version, tenant, key);
  crypto_generichash_state st;
  crypto_generichash_init(&st, key, kKeyBytes, kHashBytes);
  for (absl::string_view field : fields) Absorb(&st, field);
  Fingerprint fp;
  fp.version = version;
  crypto_generichash_final(&st, fp.bytes.data(), kHashBytes);
  sodium_memzero(&st, sizeof st);
  sodium_memzero(key, sizeof key);
  return fp;
}

Fingerprint KeyRing::IdentityFingerprint(absl::string_view tenant,
                                         const identity::NormalizedClaim& claim,
                                         uint32_t version) const {
  const std::string type = absl::StrCat(static_cast<int>(claim.document_type));
  return TenantHash(kIdentity, version, tenant,
                    {type, claim.issuing_country, claim.document_number});
}

Fingerprint KeyRing::ClaimFingerprint(absl::string_view tenant,
                                      const identity::NormalizedClaim& claim) const {
  const std::string type = absl::StrCat(static_cast<int>(claim.document_type));
  return TenantHash(
      kClaim, current_version(), tenant,
      {type, claim.issuing_country, claim.document_number, claim.full_name, claim.phone_number});
}

Fingerprint KeyRing::IdempotencyKeyHash(absl::string_view tenant, absl::string_view client_id,
                                        absl::string_view key, uint32_t version) const {
  return TenantHash(kIdempotency, version, tenant, {"key", client_id, key});
}

Fingerprint KeyRing::RequestDigest(absl::string_view tenant, absl::string_view request_bytes,
                                   uint32_t version) const {
  return TenantHash(kIdempotency, version, tenant, {"request", request_bytes});
}

std::string KeyRing::Seal(absl::string_view plaintext, absl::string_view associated) const {
  constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  std::string out(4 + kNonce + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  const uint32_t version = current_version();
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(version >> (8 * i));
  randombytes_buf(p + 4, kNonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      p + 4 + kNonce, &written, reinterpret_cast<const uint8_t*>(plaintext.data()),
      plaintext.size(), reinterpret_cast<const uint8_t*>(associated.data()), associated.size(),
      nullptr, p + 4, PurposeKey(kSeal, version));
  out.resize(4 + kNonce + written);
  return out;
}

absl::StatusOr<std::string> KeyRing::Unseal(absl::string_view sealed,
                                            absl::string_view associated) const {
  constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  constexpr size_t kOverhead = 4 + kNonce + crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (sealed.size() < kOverhead) return absl::DataLossError("sealed box too short");
  const auto* p = reinterpret_cast<const uint8_t*>(sealed.data());
  uint32_t version = 0;
  for (int i = 0; i < 4; ++i) version |= static_cast<uint32_t>(p[i]) << (8 * i);
  if (!Knows(version)) {
    return absl::DataLossError("sealed with an unknown key version");
  }
  std::string out(sealed.size() - kOverhead, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<uint8_t*>(out.data()), &written, nullptr, p + 4 + kNonce,
          sealed.size() - 4 - kNonce, reinterpret_cast<const uint8_t*>(associated.data()),
          associated.size(), p + 4, PurposeKey(kSeal, version)) != 0) {
    return absl::DataLossError("sealed box failed authentication");
  }
  out.resize(written);
  return out;
}

std::array<uint8_t, kHashBytes> KeyRing::ClientSecretHash(absl::string_view client_id,
                                                          absl::string_view secret,
                                                          uint32_t version) const {
  crypto_generichash_state st;
  crypto_generichash_init(&st, PurposeKey(kClientSecret, version), kKeyBytes, kHashBytes);
  Absorb(&st, client_id);
  Absorb(&st, secret);
  std::array<uint8_t, kHashBytes> out;
  crypto_generichash_final(&st, out.data(), kHashBytes);
  sodium_memzero(&st, sizeof st);
  return out;
}

// The purpose key is the Ed25519 seed; the secret half of the pair lives only for one call.
std::array<uint8_t, 32> KeyRing::AuditPublicKey(uint32_t version) const {
  std::array<uint8_t, 32> pk;
  SecretBytes sk = SecretBytes::Allocate(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(pk.data(), sk.data(), PurposeKey(kAuditSigning, version));
  return pk;
}

std::array<uint8_t, 64> KeyRing::SignAudit(absl::string_view message, uint32_t version) const {
  std::array<uint8_t, 32> pk;
  std::array<uint8_t, 64> sig;
  SecretBytes sk = SecretBytes::Allocate(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(pk.data(), sk.data(), PurposeKey(kAuditSigning, version));
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(message.data()),
                       message.size(), sk.data());
  return sig;
}

}  // namespace idv::crypto
