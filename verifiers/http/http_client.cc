#include "verifiers/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace idv::verifiers::http {

struct Client::Transfer {
  uint64_t id = 0;
  Request request;
  Done done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  absl::Time started;
  char error[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    // The body may hold a claim in the clear (an HTTP/JSON API's request).
    std::fill(request.body.begin(), request.body.end(), '\0');
    if (headers != nullptr) curl_slist_free_all(headers);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

namespace {

size_t Append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// libcurl's global state is set up once, before any thread uses it.
void GlobalInit() {
  static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)done;
}

}  // namespace

Client::Client(size_t max_host_connections) : capped_(max_host_connections > 0) {
  GlobalInit();
  multi_ = curl_multi_init();
  if (capped_) {
    curl_multi_setopt(static_cast<CURLM*>(multi_), CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(max_host_connections));
  }
  // Keep up to this many idle connections. libcurl's default, four per transfer in flight, would
  // close connections whenever the number in flight dips, and open them again when it rises.
  curl_multi_setopt(static_cast<CURLM*>(multi_), CURLMOPT_MAXCONNECTS, long{kIdleHandles});
  thread_ = std::thread([this] { Loop(); });
}

Client::~Client() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  thread_.join();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

uint64_t Client::Start(Request request, Done done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = t->id = next_id_++;
    if (!stopping_) {
      out_.insert(id);
      ++wakeups_;
      to_add_.push_back(std::move(t));
    }
  }
  if (t != nullptr) {  // the client is being destroyed
    std::move(t->done)(absl::CancelledError("the HTTP client is stopping"));
    return id;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  return id;
}

void Client::Cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!out_.contains(id)) return;  // answered already: nothing to end
    ++wakeups_;
    to_cancel_.push_back(id);
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

size_t Client::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return out_.size();
}

uint64_t Client::wakeups() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wakeups_;
}

uint64_t Client::connections_opened() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

void Client::Finish(Transfer* t, absl::StatusOr<Response> result) {
  long connects = 0;
  if (t->easy != nullptr) {
    curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy);
    if (idle_.size() < kIdleHandles) {  // kept for the next transfer: no buffers to allocate
      curl_easy_reset(t->easy);
      idle_.push_back(t->easy);
      t->easy = nullptr;
    }
  }
  Done done = std::move(t->done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    out_.erase(t->id);
    connections_ += static_cast<uint64_t>(std::max(0L, connects));
  }
  active_.erase(t->id);  // frees the transfer
  std::move(done)(std::move(result));
}

void Client::Loop() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  for (;;) {
    std::deque<std::unique_ptr<Transfer>> adds;
    std::deque<uint64_t> cancels;
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      adds.swap(to_add_);
      cancels.swap(to_cancel_);
      stopping = stopping_;
    }
    for (std::unique_ptr<Transfer>& owned : adds) {
      Transfer* t = owned.get();
      active_[t->id] = std::move(owned);
      const absl::Duration left = t->request.deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        Finish(t, absl::DeadlineExceededError("the deadline passed before the request was sent"));
        continue;
      }
      t->started = absl::Now();
      if (idle_.empty()) {
        t->easy = curl_easy_init();
      } else {
        t->easy = idle_.back();
        idle_.pop_back();
      }
      CURL* e = t->easy;
      curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
      curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(e, CURLOPT_PRIVATE, t);
      curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
      curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Append);
      curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->body);
      curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                       static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left))));
      if (t->request.method == "POST") {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(t->request.body.size()));
      }
      for (const std::string& h : t->request.headers) {
        t->headers = curl_slist_append(t->headers, h.c_str());
      }
      if (t->headers != nullptr) curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
      if (!t->request.ca_file.empty()) {
        curl_easy_setopt(e, CURLOPT_CAINFO, t->request.ca_file.c_str());
      }
      if (curl_multi_add_handle(multi, e) != CURLM_OK) {
        Finish(t, absl::InternalError("the transfer could not be started"));
      }
    }
    for (uint64_t id : cancels) {
      auto it = active_.find(id);
      if (it != active_.end()) Finish(it->second.get(), absl::CancelledError("cancelled"));
    }
    if (stopping) {
      while (!active_.empty()) {
        Finish(active_.begin()->second.get(), absl::CancelledError("the HTTP client is stopping"));
      }
      for (CURL* e : idle_) curl_easy_cleanup(e);
      idle_.clear();
      return;
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      const CURLcode code = msg->data.result;
      if (code == CURLE_OK) {
        Response r;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
        r.body = std::move(t->body);
        r.latency = absl::Now() - t->started;
        Finish(t, std::move(r));
      } else if (code == CURLE_OPERATION_TIMEDOUT) {
        Finish(t, absl::DeadlineExceededError(
                      absl::StrCat("no answer by the deadline: ", t->error[0] ? t->error : "")));
      } else {
        Finish(t, absl::UnavailableError(
                      absl::StrCat(curl_easy_strerror(code), t->error[0] ? ": " : "", t->error)));
      }
    }
    absl::Duration wait = absl::Seconds(1);
    if (capped_) wait = std::min(wait, EndExpired());
    curl_multi_poll(multi, nullptr, 0,
                    static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(wait) + 1)),
                    nullptr);
  }
}

absl::Duration Client::EndExpired() {
  const absl::Time now = absl::Now();
  absl::Time next = absl::InfiniteFuture();
  std::vector<Transfer*> expired;
  for (const auto& [id, t] : active_) {
    if (t->request.deadline <= now) {
      expired.push_back(t.get());
    } else {
      next = std::min(next, t->request.deadline);
    }
  }
  for (Transfer* t : expired) {
    Finish(t, absl::DeadlineExceededError("no answer by the deadline"));
  }
  return next - now;
}

}  // namespace idv::verifiers::http
