// The LevelDB engine's key layout helpers (see leveldb_store.h for the families). Integers are
// big-endian so keys sort in numeric order.
#ifndef IDV_STORE_LEVELDB_KEYS_H_
#define IDV_STORE_LEVELDB_KEYS_H_

#include <leveldb/db.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace idv::store::ldb {

inline void AppendBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline uint64_t ReadBigEndian(absl::string_view s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

// "<family>/<n, 8 bytes>": audit records (a/), stored Merkle hashes (h/), checkpoints (k/),
// configuration versions (g/).
inline std::string NumberKey(char family, uint64_t n) {
  std::string k = {family, '/'};
  AppendBigEndian(&k, n, 8);
  return k;
}

// "<family>/<length, 2 bytes><s>" for each string in `parts`: a prefix no other tuple of strings
// shares, whatever bytes they hold.
inline std::string TupleKey(char family, std::initializer_list<absl::string_view> parts) {
  std::string k = {family, '/'};
  for (absl::string_view p : parts) {
    AppendBigEndian(&k, p.size(), 2);
    k.append(p.data(), p.size());
  }
  return k;
}

// The account index: "x/<tenant><account id>" (TupleKey) + <sequence, 8 bytes>, empty values.
inline std::string AccountIndexPrefix(absl::string_view tenant, absl::string_view account) {
  return TupleKey('x', {tenant, account});
}

// Hourly counters (store/stats_rollup.h): "s/<tenant>" (TupleKey) + <hour, 8 bytes> +
// "<dimension>\0<key>", the count as 8 bytes.
inline std::string StatsPrefix(absl::string_view tenant) { return TupleKey('s', {tenant}); }

// Positions `it` on the last key that starts with `family` + '/', or leaves it invalid or
// elsewhere when there is none.
inline void SeekToLastWithPrefix(leveldb::Iterator* it, char family) {
  const char past[] = {family, '0', '\0'};  // '0' follows '/': just past every "<family>/" key
  it->Seek(past);
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();  // Prev() of an exhausted iterator is not allowed
  }
}

inline absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(what);
  if (s.IsCorruption()) return absl::DataLossError(absl::StrCat(what, ": ", s.ToString()));
  return absl::UnavailableError(absl::StrCat(what, ": ", s.ToString()));
}

}  // namespace idv::store::ldb

#endif  // IDV_STORE_LEVELDB_KEYS_H_
