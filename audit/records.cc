#include "audit/records.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace idv::audit {
namespace {

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

}  // namespace

RecordBuilder RecordBuilder::Verification(std::string verification_id, absl::Time at) {
  RecordBuilder b;
  b.record_.set_kind(idv::store::v1::VERIFICATION);
  b.record_.set_verification_id(std::move(verification_id));
  *b.record_.mutable_decided_at() = ToTimestamp(at);
  return b;
}

RecordBuilder RecordBuilder::Settlement(std::string verification_id, absl::Time at) {
  RecordBuilder b = Verification(std::move(verification_id), at);
  b.record_.set_kind(idv::store::v1::SETTLEMENT);
  b.record_.set_resolves_pending(true);
  return b;
}

RecordBuilder RecordBuilder::AdminChange(std::string record_id, absl::Time at, std::string action,
                                         std::string target, uint64_t config_version,
                                         std::string summary) {
  RecordBuilder b;
  b.record_.set_kind(idv::store::v1::ADMIN_CHANGE);
  b.record_.set_verification_id(std::move(record_id));
  *b.record_.mutable_decided_at() = ToTimestamp(at);
  idv::store::v1::AdminAction* a = b.record_.mutable_admin_action();
  a->set_action(std::move(action));
  a->set_target(std::move(target));
  a->set_config_version(config_version);
  a->set_summary(std::move(summary));
  return b;
}

RecordBuilder RecordBuilder::AuditorRead(std::string record_id, absl::Time at, std::string action,
                                         std::string what) {
  RecordBuilder b;
  b.record_.set_kind(idv::store::v1::AUDITOR_READ);
  b.record_.set_verification_id(std::move(record_id));
  *b.record_.mutable_decided_at() = ToTimestamp(at);
  idv::store::v1::AdminAction* a = b.record_.mutable_admin_action();
  a->set_action(std::move(action));
  a->set_summary(std::move(what));
  return b;
}

RecordBuilder RecordBuilder::SecurityEvent(std::string record_id, absl::Time at, std::string method,
                                           std::string peer, std::string what) {
  RecordBuilder b = AuditorRead(std::move(record_id), at, std::move(method), std::move(what));
  b.record_.set_kind(idv::store::v1::SECURITY_EVENT);
  b.record_.mutable_admin_action()->set_target(std::move(peer));
  return b;
}

RecordBuilder RecordBuilder::RetentionPurge(std::string record_id, absl::Time at,
                                            std::string node_id, uint64_t through,
                                            absl::Time newest_removed) {
  RecordBuilder b;
  b.record_.set_kind(idv::store::v1::ADMIN_CHANGE);
  b.record_.set_verification_id(std::move(record_id));
  *b.record_.mutable_decided_at() = ToTimestamp(at);
  b.record_.set_client_id("retention");
  idv::store::v1::AdminAction* a = b.record_.mutable_admin_action();
  a->set_action("RetentionPurge");
  a->set_target(node_id);
  a->set_summary(
      absl::StrCat("records 1..", through, " of this log removed (the newest decided ",
                   absl::FormatTime(absl::RFC3339_sec, newest_removed, absl::UTCTimeZone()),
                   "); their hashes are kept"));
  idv::store::v1::RetentionPurge* p = b.record_.mutable_purge();
  p->set_node_id(std::move(node_id));
  p->set_through_sequence(through);
  *p->mutable_newest_removed() = ToTimestamp(newest_removed);
  return b;
}

RecordBuilder& RecordBuilder::By(std::string tenant, std::string client_id) {
  record_.set_tenant(std::move(tenant));
  record_.set_client_id(std::move(client_id));
  return *this;
}

RecordBuilder& RecordBuilder::Account(std::string account_id) {
  record_.set_account_id(std::move(account_id));
  return *this;
}

RecordBuilder& RecordBuilder::Document(idv::v1::DocumentType type, std::string masked_number,
                                       std::string masked_name) {
  record_.set_document_type(type);
  record_.set_masked_document_number(std::move(masked_number));
  record_.set_masked_name(std::move(masked_name));
  return *this;
}

RecordBuilder& RecordBuilder::Identity(absl::string_view fingerprint, uint32_t key_version) {
  if (!fingerprint.empty()) {
    record_.set_identity_fingerprint(std::string(fingerprint));
    record_.set_key_version(key_version);
  }
  return *this;
}

RecordBuilder& RecordBuilder::Result(
    idv::v1::Outcome outcome, const idv::v1::Reason& reason,
    const google::protobuf::RepeatedPtrField<idv::v1::Check>& checks,
    const google::protobuf::RepeatedPtrField<idv::v1::Reason>& notes, bool cached) {
  record_.set_outcome(outcome);
  *record_.mutable_reason() = reason;
  *record_.mutable_checks() = checks;
  *record_.mutable_notes() = notes;
  record_.set_cached(cached);
  return *this;
}

RecordBuilder& RecordBuilder::Decision(
    const google::protobuf::RepeatedField<int>& confirmed_elements,
    const google::protobuf::RepeatedPtrField<std::string>& decided_by) {
  *record_.mutable_confirmed_elements() = confirmed_elements;
  *record_.mutable_decided_by() = decided_by;
  return *this;
}

RecordBuilder& RecordBuilder::Derived(const idv::v1::DerivedAttributes& derived) {
  *record_.mutable_derived() = derived;
  return *this;
}

idv::store::v1::AuditRecord RecordBuilder::Build() { return std::move(record_); }

}  // namespace idv::audit
