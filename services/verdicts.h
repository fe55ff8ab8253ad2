// How a policy verdict is written into responses and audit records, shared by the Verify path
// and the re-checker so both describe outcomes the same way.
#ifndef IDV_SERVICES_VERDICTS_H_
#define IDV_SERVICES_VERDICTS_H_

#include <vector>

#include "crypto/keyring.h"
#include "idv/v1/verification.pb.h"
#include "store/store.h"
#include "verifiers/policy_engine.h"

namespace idv::services {

// A short English sentence for an authority-side reason code ("" for others).
const char* ReasonMessage(idv::v1::ReasonCode code);

// Sets outcome, reason (code and message) and checks from `verdict`.
void FillVerdict(const verifiers::PolicyVerdict& verdict, idv::v1::Outcome* outcome,
                 idv::v1::Reason* reason,
                 google::protobuf::RepeatedPtrField<idv::v1::Check>* checks);

// The elements a VERIFIED verdict confirmed, and the backends that decided, as the API and the
// audit record carry them.
void FillDecision(const verifiers::PolicyVerdict& verdict,
                  google::protobuf::RepeatedField<int>* confirmed_elements,
                  google::protobuf::RepeatedPtrField<std::string>* decided_by);

// Fingerprints as a commit carries them (VerificationCommit::earlier_fingerprints).
std::vector<store::KeyedFingerprint> ToKeyed(const std::vector<crypto::Fingerprint>& fps);

}  // namespace idv::services

#endif  // IDV_SERVICES_VERDICTS_H_
