// The one place audit records are made. Every kind of record the trail holds (verifications,
// settled PENDING verifications, administrative changes, security events, auditors' reads)
// starts here, so the fields each kind carries, and what they must never carry
// (plaintext identity data), are decided once.
//
//   AuditRecord r = RecordBuilder::Verification(id, now)
//                       .By(tenant, client).Account(account)
//                       .Document(type, masked_number, masked_name)
//                       .Identity(fingerprint, version)
//                       .Result(outcome, reason, checks, notes, cached)
//                       .Build();
#ifndef IDV_AUDIT_RECORDS_H_
#define IDV_AUDIT_RECORDS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "idv/store/v1/store.pb.h"

namespace idv::audit {

class RecordBuilder {
 public:
  // A verification decided at `at` (offline, from the cache, or by the authorities).
  static RecordBuilder Verification(std::string verification_id, absl::Time at);
  // The answer that settles an earlier PENDING verification, under the same id.
  static RecordBuilder Settlement(std::string verification_id, absl::Time at);
  // An administrative change: `action` is the RPC (e.g. "PutBackend"), `target` what it changed.
  static RecordBuilder AdminChange(std::string record_id, absl::Time at, std::string action,
                                   std::string target, uint64_t config_version,
                                   std::string summary);

  // An auditor's read of the trail (who looked at what): `action` is the RPC, `what` the query,
  // which names no identity data.
  static RecordBuilder AuditorRead(std::string record_id, absl::Time at, std::string action,
                                   std::string what);

  // A refused call (services/security_events.h): `method` is the RPC, `peer` the caller's
  // address, `what` what was wrong. The caller's claimed client id goes in By().
  static RecordBuilder SecurityEvent(std::string record_id, absl::Time at, std::string method,
                                     std::string peer, std::string what);

  // A retention purge of records 1..through of `node_id`'s log (the newest of them decided at
  // `newest_removed`), written to that log before any is removed. No tenant's: it is the
  // operator's.
  static RecordBuilder RetentionPurge(std::string record_id, absl::Time at, std::string node_id,
                                      uint64_t through, absl::Time newest_removed);

  // Who made it happen: the caller's tenant and client ("config-file" for seeded configuration).
  RecordBuilder& By(std::string tenant, std::string client_id);
  RecordBuilder& Account(std::string account_id);
  // The document, masked for display only.
  RecordBuilder& Document(idv::v1::DocumentType type, std::string masked_number,
                          std::string masked_name);
  // The tenant-keyed identity fingerprint and its key version (omitted when `fingerprint` is
  // empty, as for claims rejected offline).
  RecordBuilder& Identity(absl::string_view fingerprint, uint32_t key_version);
  RecordBuilder& Result(idv::v1::Outcome outcome, const idv::v1::Reason& reason,
                        const google::protobuf::RepeatedPtrField<idv::v1::Check>& checks,
                        const google::protobuf::RepeatedPtrField<idv::v1::Reason>& notes,
                        bool cached);
  // With VERIFIED: the elements confirmed and the backends that decided.
  RecordBuilder& Decision(const google::protobuf::RepeatedField<int>& confirmed_elements,
                          const google::protobuf::RepeatedPtrField<std::string>& decided_by);
  RecordBuilder& Derived(const idv::v1::DerivedAttributes& derived);

  // The record; the builder is left empty.
  idv::store::v1::AuditRecord Build();

 private:
  RecordBuilder() = default;
  idv::store::v1::AuditRecord record_;
};

}  // namespace idv::audit

#endif  // IDV_AUDIT_RECORDS_H_
