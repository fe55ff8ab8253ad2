// Writes a log of N records, two checkpoints signed as C2SP notes with the key ring's audit key,
// and inclusion and consistency proofs, in a line format tests/audit/tlog_check reads with Go's
// golang.org/x/mod/sumdb/{note,tlog}: an implementation nobody here wrote. Also the hashes the log
// stores (tlog layout), which Go recomputes record by record.
//
//   audit_vectors N OLD_SIZE > vectors.txt
#include <sodium.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "audit/log.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "crypto/keyring.h"

namespace {

using idv::audit::Hash;

std::string B64(const void* data, size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), static_cast<const uint8_t*>(data), size,
                    sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();
  return out;
}

std::string Proof(const std::vector<Hash>& p) {
  std::string out;
  for (const Hash& h : p) out += (out.empty() ? "" : ",") + B64(h.data(), h.size());
  return out.empty() ? "-" : out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || sodium_init() < 0) {
    std::cerr << "usage: audit_vectors N OLD_SIZE\n";
    return 2;
  }
  const uint64_t n = std::stoull(argv[1]), m = std::stoull(argv[2]);
  idv::crypto::SecretBytes master = idv::crypto::SecretBytes::Allocate(32);
  for (size_t i = 0; i < 32; ++i) master.data()[i] = static_cast<uint8_t>(i * 7 + 1);
  auto keys = idv::crypto::KeyRing::Create(std::move(master), 1);
  if (!keys.ok()) return 1;
  const std::array<uint8_t, 32> pk = (*keys)->AuditPublicKey(1);
  const std::string name = "idv.test/audit/node-1";
  auto sign = [&](absl::string_view msg) { return (*keys)->SignAudit(msg, 1); };

  // The log as a writer keeps it: a frontier in memory, the stored hashes (tlog layout) appended.
  struct Stored : idv::audit::HashReader {
    absl::StatusOr<std::vector<Hash>> ReadHashes(const std::vector<int64_t>& idx) const override {
      std::vector<Hash> out;
      for (int64_t i : idx) out.push_back(hashes.at(i));
      return out;
    }
    std::vector<Hash> hashes;
  } stored;
  idv::audit::MerkleFrontier frontier;
  std::vector<std::string> records;
  std::vector<Hash> roots = {idv::audit::RootHash(0, nullptr)};
  for (uint64_t i = 0; i < n; ++i) {
    records.push_back("audit record " + std::to_string(i));
    std::vector<Hash> added = frontier.Append(idv::audit::LeafHash(records.back()));
    stored.hashes.insert(stored.hashes.end(), added.begin(), added.end());
    roots.push_back(frontier.Root());
  }
  const idv::audit::SubtreeHashes tree = idv::audit::StoredTree(stored);
  std::cout << "verifier " << *idv::audit::VerifierKey(name, pk) << "\n";
  for (size_t i = 0; i < stored.hashes.size(); ++i) {
    std::cout << "stored " << i << " " << B64(stored.hashes[i].data(), 32) << "\n";
  }
  for (uint64_t size : {m, n}) {
    idv::audit::Checkpoint c{name, size, roots[size]};
    const absl::StatusOr<std::string> note =
        idv::audit::SignNote(idv::audit::CheckpointText(c), name, pk, sign);
    if (!note.ok()) return 1;
    std::cout << "note " << B64(note->data(), note->size()) << "\n";
  }
  for (uint64_t i = 0; i < n; ++i) {
    std::cout << "record " << i << " " << B64(records[i].data(), records[i].size()) << "\n";
    std::cout << "inclusion " << i << " " << n << " "
              << Proof(*idv::audit::InclusionProof(i, n, tree)) << "\n";
  }
  std::cout << "consistency " << m << " " << n << " "
            << Proof(*idv::audit::ConsistencyProof(m, n, tree)) << "\n";
  return 0;
}
