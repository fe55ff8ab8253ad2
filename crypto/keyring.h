// Keys and keyed hashing.
//
// A 32-byte master key (kept outside the database) is the root of every key idv uses. For each
// purpose and key version, crypto_kdf derives a purpose key from it; for each tenant, a keyed
// BLAKE2b of the tenant name under the purpose key gives the tenant's key. Fingerprints are keyed
// BLAKE2b-256 under the tenant key, so the same person has unrelated fingerprints at two operators,
// and a low-entropy ID number is never hashed without a secret key.
//
// Key versions (AdminService.RotateKeys): every purpose key exists per version, all derived from
// the one master key (crypto_kdf's subkey id is the version). A new version needs no new secret
// to distribute to the nodes, only its number in the shared configuration. Versions
// oldest..current are live: new fingerprints are made with the current one, lookups try every
// live one. The master key stays in guarded memory, inaccessible (PROT_NONE) except while a new
// version is derived.
//
// All key material lives in libsodium guarded memory (sodium_malloc: guard pages, mlock, wiped on
// free) and is read-only once derived. A KeyRing is safe to use from any number of threads;
// SetLiveVersions may run concurrently with every other method.
#ifndef IDV_CRYPTO_KEYRING_H_
#define IDV_CRYPTO_KEYRING_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "identity/claim.h"

namespace idv::crypto {

inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kHashBytes = 32;

// Initializes libsodium. Safe to call more than once.
absl::Status InitSodium();

// A buffer in libsodium guarded memory. Move-only; wiped and freed on destruction.
class SecretBytes {
 public:
  // REQUIRES: InitSodium() succeeded.
  static SecretBytes Allocate(size_t size);
  SecretBytes() = default;
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // Makes the buffer read-only; any later write faults.
  void MakeReadOnly();

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads the master key: a file of exactly 32 bytes, readable by its owner only. When the file does
// not exist and `create_if_missing` is set, writes a fresh random key with mode 0600 first.
// Fails with a message naming the file otherwise.
absl::StatusOr<SecretBytes> LoadMasterKey(const std::string& path, bool create_if_missing);

// A keyed hash together with the key version that made it.
struct Fingerprint {
  uint32_t version = 0;
  std::array<uint8_t, kHashBytes> bytes{};

  // "v<version>:<64 hex digits>".
  std::string ToString() const;
  bool operator==(const Fingerprint& o) const { return version == o.version && bytes == o.bytes; }
  bool operator!=(const Fingerprint& o) const { return !(*this == o); }
};

class KeyRing {
 public:
  static constexpr uint32_t kMaxVersions = 255;

  // Derives the purpose keys of versions 1..current_version from `master` (kept, inaccessible,
  // for later versions). Every version up to current_version is live.
  static absl::StatusOr<std::unique_ptr<KeyRing>> Create(SecretBytes master,
                                                         uint32_t current_version);

  // Makes versions `oldest`..`current` the live ones, deriving any not derived yet. Versions
  // only move forward: InvalidArgument when `current` is below current_version(), `oldest` is
  // 0 or above `current`, or `current` exceeds kMaxVersions.
  absl::Status SetLiveVersions(uint32_t current, uint32_t oldest);

  uint32_t current_version() const { return current_.load(std::memory_order_acquire); }
  uint32_t oldest_version() const { return oldest_.load(std::memory_order_acquire); }
  // Whether stored data made under `version` can be used (1 <= version <= current).
  bool Knows(uint32_t version) const { return version >= 1 && version <= current_version(); }

  // The binding index: keyed over (document type, document number).
  // REQUIRES: 1 <= version <= current_version().
  Fingerprint IdentityFingerprint(absl::string_view tenant, const identity::NormalizedClaim& claim,
                                  uint32_t version) const;
  Fingerprint IdentityFingerprint(absl::string_view tenant,
                                  const identity::NormalizedClaim& claim) const {
    return IdentityFingerprint(tenant, claim, current_version());
  }
  // The identity's fingerprints under every live version: the current one first, then the
  // earlier ones, newest first (one consistent set, even while versions change).
  std::vector<Fingerprint> LiveIdentityFingerprints(absl::string_view tenant,
                                                    const identity::NormalizedClaim& claim) const;
  // The result-cache key: keyed over (document type, number, name, phone, issuing country).
  Fingerprint ClaimFingerprint(absl::string_view tenant,
                               const identity::NormalizedClaim& claim) const;

  // Encrypts `plaintext` with XChaCha20-Poly1305 under the current version's sealing key, bound
  // to `associated` (e.g. the verification id). The result carries the key version and nonce.
  std::string Seal(absl::string_view plaintext, absl::string_view associated) const;
  // Reverses Seal. DataLoss when the box was altered or `associated` differs.
  absl::StatusOr<std::string> Unseal(absl::string_view sealed, absl::string_view associated) const;

  // The Ed25519 key pair that signs audit checkpoints, derived from the master key under its own
  // purpose for `version`: the public key (32 bytes), and a signature of `message` (64 bytes).
  std::array<uint8_t, 32> AuditPublicKey(uint32_t version) const;
  std::array<uint8_t, 64> SignAudit(absl::string_view message, uint32_t version) const;

  // The 32-byte key that encrypts backups made under `version` (crypto/backup_stream.h). Lives in
  // guarded read-only memory as long as the ring. REQUIRES: Knows(version).
  const uint8_t* BackupKey(uint32_t version) const { return PurposeKey(kBackup, version); }

  // Keyed hash of an API client's secret, for storing and for constant-time comparison.
  std::array<uint8_t, kHashBytes> ClientSecretHash(absl::string_view client_id,
                                                   absl::string_view secret,
                                                   uint32_t version) const;

  // Idempotency: the stored form of a client's key, and the digest of the request made with it,
  // both keyed under the tenant's idempotency key of `version`.
  // REQUIRES: Knows(version).
  Fingerprint IdempotencyKeyHash(absl::string_view tenant, absl::string_view client_id,
                                 absl::string_view key, uint32_t version) const;
  Fingerprint RequestDigest(absl::string_view tenant, absl::string_view request_bytes,
                            uint32_t version) const;

 private:
  enum Purpose {
    kIdentity = 0,
    kClaim = 1,
    kClientSecret = 2,
    kSeal = 3,
    kAuditSigning = 4,
    kIdempotency = 5,
    kBackup = 6,
    kPurposeCount = 7
  };

  explicit KeyRing(SecretBytes master) : master_(std::move(master)) {}
  // Derives the keys of versions up to `version` not derived yet. Under derive_mu_.
  void DeriveThrough(uint32_t version);
  const uint8_t* PurposeKey(Purpose purpose, uint32_t version) const;
  // Writes the tenant's key for `purpose` into `out` (kKeyBytes).
  void TenantKey(Purpose purpose, uint32_t version, absl::string_view tenant, uint8_t* out) const;
  // Keyed BLAKE2b-256 of the length-prefixed `fields` under the tenant's key for `purpose`.
  Fingerprint TenantHash(Purpose purpose, uint32_t version, absl::string_view tenant,
                         std::initializer_list<absl::string_view> fields) const;

  std::mutex derive_mu_;
  // The master key, PROT_NONE but inside DeriveThrough.
  SecretBytes master_;
  uint32_t derived_ = 0;  // guarded by derive_mu_
  // keys_[version - 1]: the kPurposeCount purpose keys of `version`, kKeyBytes each. An entry is
  // written once, before current_ (release) makes its version visible, and never again.
  std::array<SecretBytes, kMaxVersions> keys_;
  std::atomic<uint32_t> current_{0};
  std::atomic<uint32_t> oldest_{1};
};

}  // namespace idv::crypto

#endif  // IDV_CRYPTO_KEYRING_H_
