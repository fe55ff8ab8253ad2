// The per-node audit chain every engine keeps: each record carries its node, its position and the
// hash of the record before it; the stored hash is BLAKE2b-256 over the record's exact bytes.
#ifndef IDV_STORE_CHAIN_H_
#define IDV_STORE_CHAIN_H_

#include <cstdint>
#include <string>

#include "idv/store/v1/store.pb.h"

namespace idv::store {

inline constexpr size_t kChainHashBytes = 32;

// The head of one node's log: the next sequence number and the last record's hash.
struct LogHead {
  uint64_t next_sequence = 1;
  std::string last_hash = std::string(kChainHashBytes, '\0');
};

// Stamps `record` as the next entry of the log at `head`, serializes it into `*bytes`, hashes
// those bytes into `*hash` and advances `head`.
void AppendToChain(idv::store::v1::AuditRecord& record, const std::string& node_id, LogHead& head,
                   std::string* bytes, std::string* hash);

}  // namespace idv::store

#endif  // IDV_STORE_CHAIN_H_
