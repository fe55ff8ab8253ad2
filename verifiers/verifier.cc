#include "verifiers/verifier.h"

namespace idv::verifiers {

std::vector<idv::v1::Element> ElementList(Elements set) {
  std::vector<idv::v1::Element> out;
  for (int e = idv::v1::Element_MIN; e <= idv::v1::Element_MAX; ++e) {
    if (e != idv::v1::ELEMENT_UNSPECIFIED && (set & (Elements{1} << e)) != 0) {
      out.push_back(static_cast<idv::v1::Element>(e));
    }
  }
  return out;
}

Elements ElementSet(const google::protobuf::RepeatedField<int>& elements) {
  Elements set = 0;
  for (int e : elements) {
    if (idv::v1::Element_IsValid(e) && e != idv::v1::ELEMENT_UNSPECIFIED) {
      set |= ElementBit(static_cast<idv::v1::Element>(e));
    }
  }
  return set;
}

void Cancellation::Cancel() {
  std::vector<absl::AnyInvocable<void() &&>> hooks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    hooks.swap(hooks_);
  }
  for (auto& hook : hooks) std::move(hook)();  // outside the lock: hooks may call back in
}

bool Cancellation::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

void Cancellation::OnCancel(absl::AnyInvocable<void() &&> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled_) {
      hooks_.push_back(std::move(fn));
      return;
    }
  }
  std::move(fn)();
}

}  // namespace idv::verifiers
