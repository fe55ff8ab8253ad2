// The `format` backend (config idv.config.v1.FormatConfig): answers from the offline checks
// alone. Every claim reaching a backend already passed them, so it answers VERIFIED with raw code
// "FORMAT-OK" — but it is never authoritative, so the policy engine never turns its answer into
// a VERIFIED outcome. Useful to exercise a pipeline without an authority.
#ifndef IDV_VERIFIERS_FORMAT_FORMAT_VERIFIER_H_
#define IDV_VERIFIERS_FORMAT_FORMAT_VERIFIER_H_

#include "verifiers/registry.h"

namespace idv::verifiers {

class FormatFactory final : public VerifierFactory {
 public:
  std::string ConfigType() const override;
  absl::StatusOr<std::unique_ptr<Verifier>> Create(
      const idv::config::v1::BackendConfig& config) const override;
};

}  // namespace idv::verifiers

#endif  // IDV_VERIFIERS_FORMAT_FORMAT_VERIFIER_H_
