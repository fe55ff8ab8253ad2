// The queue in front of an engine's single writer thread: producers add commits without waiting,
// the writer takes everything queued since its last write as one group (group commit).
// Thread-safe.
#ifndef IDV_STORE_GROUP_QUEUE_H_
#define IDV_STORE_GROUP_QUEUE_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <vector>

namespace idv::store {

template <typename Item>
class GroupQueue {
 public:
  // Queues `item` and takes it; false (leaving `item` with the caller) once Close() has begun.
  bool Push(Item& item) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return false;
    queue_.push_back(std::move(item));
    // Wake the writer only when it is waiting: while it writes, new items simply queue up for its
    // next group, without a futex call per item.
    if (writer_idle_) cv_.notify_one();
    return true;
  }

  // Waits for items and returns up to `max` of them, oldest first; empty when `wait` passed
  // without any, or once closed and drained (then `*closed` is set). For the writer thread only.
  std::vector<Item> PopGroup(size_t max, std::chrono::nanoseconds wait, bool* closed) {
    std::vector<Item> group;
    std::unique_lock<std::mutex> lock(mu_);
    writer_idle_ = true;
    cv_.wait_for(lock, wait, [this] { return closing_ || !queue_.empty(); });
    writer_idle_ = false;
    *closed = closing_ && queue_.empty();
    const size_t n = std::min(queue_.size(), max);
    group.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return group;
  }

  // Returns every queued item without waiting, oldest first. For the writer thread only.
  std::vector<Item> TakeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Item> all(std::make_move_iterator(queue_.begin()),
                          std::make_move_iterator(queue_.end()));
    queue_.clear();
    return all;
  }

  // Refuses later items; PopGroup drains what is queued, then returns empty. Idempotent; returns
  // false when it was closed already.
  bool Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return false;
      closing_ = true;
    }
    cv_.notify_one();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;    // guarded by mu_
  bool closing_ = false;      // guarded by mu_
  bool writer_idle_ = false;  // guarded by mu_; the writer waits on cv_
};

}  // namespace idv::store

#endif  // IDV_STORE_GROUP_QUEUE_H_
