// `idvctl audit ...`: AuditService from the command line, with proofs checked locally against
// the signed checkpoint (so an auditor need not trust the server's word).
#ifndef IDV_CLI_AUDIT_H_
#define IDV_CLI_AUDIT_H_

#include <string>
#include <vector>

#include "cli/admin.h"

namespace idv::cli {

// args: everything after "audit"; `trusted`: files holding signed checkpoints kept outside idv.
// Returns the exit code: 0 success (and, for prove/consistency/verify, a check that passed),
// 1 a failed call or check, 2 a usage error.
// `account` filters list, export and stats; `verified_claims`: the claims a JSON Lines export
// states for each VERIFIED verification.
int RunAudit(const AdminContext& ctx, const std::vector<std::string>& args,
             const std::vector<std::string>& trusted, const std::string& account,
             const std::vector<std::string>& verified_claims = {});

}  // namespace idv::cli

#endif  // IDV_CLI_AUDIT_H_
