#include "verifiers/verifier.h"

namespace idv::verifiers {

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
