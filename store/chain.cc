#include "store/chain.h"

#include <sodium.h>

namespace idv::store {

void AppendToChain(idv::store::v1::AuditRecord& record, const std::string& node_id, LogHead& head,
                   std::string* bytes, std::string* hash) {
  record.set_sequence(head.next_sequence);
  record.set_node_id(node_id);
  record.set_prev_hash(head.last_hash);
  record.SerializeToString(bytes);
  uint8_t h[kChainHashBytes];
  crypto_generichash(h, sizeof h, reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size(),
                     nullptr, 0);
  hash->assign(reinterpret_cast<const char*>(h), sizeof h);
  head.last_hash = *hash;
  ++head.next_sequence;
}

}  // namespace idv::store
