#include "verifiers/http/http_client.h"

#include <CivetServer.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"

namespace idv::verifiers::http {
namespace {

// A local HTTP server: /echo answers "METHOD:body:X-Test header", /hang answers only when the
// test releases it, /teapot answers 418. It notes each request's client port, and counts the
// requests it has received.
class TestServer : public CivetHandler {
 public:
  TestServer() {
    const char* options[] = {"listening_ports",   "127.0.0.1:0", "num_threads", "64",
                             "enable_keep_alive", "yes",         nullptr};
    server_ = std::make_unique<CivetServer>(options);
    server_->addHandler("/", this);
    port_ = server_->getListeningPorts().at(0);
  }
  ~TestServer() override {
    Release();
    server_->close();
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  size_t DistinctClientPorts() {
    std::lock_guard<std::mutex> lock(mu_);
    return ports_.size();
  }
  size_t Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // Returns once `n` requests have arrived.
  void AwaitRequests(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return requests_ >= n; });
  }

  bool handleGet(CivetServer*, mg_connection* c) override { return Handle(c, "GET"); }
  bool handlePost(CivetServer*, mg_connection* c) override { return Handle(c, "POST"); }

 private:
  bool Handle(mg_connection* c, const std::string& method) {
    const mg_request_info* ri = mg_get_request_info(c);
    const std::string path = ri->local_uri;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ports_.insert(ri->remote_port);
      ++requests_;
      cv_.notify_all();
    }
    std::string body;
    char buf[1024];
    int n;
    while ((n = mg_read(c, buf, sizeof buf)) > 0) body.append(buf, static_cast<size_t>(n));
    if (path == "/hang") {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return released_; });
    }
    const int status = path == "/teapot" ? 418 : 200;
    const char* header = mg_get_header(c, "X-Test");
    const std::string reply = absl::StrCat(method, ":", body, ":", header ? header : "");
    mg_printf(c, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n\r\n%s",
              status, reply.size(), reply.c_str());
    return true;
  }

  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;  // guarded by mu_
  std::set<int> ports_;    // guarded by mu_
  size_t requests_ = 0;    // guarded by mu_
};

absl::StatusOr<Response> Fetch(Client& client, Request request) {
  std::promise<absl::StatusOr<Response>> p;
  client.Start(std::move(request), [&p](absl::StatusOr<Response> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

Request Get(const std::string& url) {
  Request r;
  r.url = url;
  r.deadline = absl::Now() + absl::Seconds(10);
  return r;
}

TEST(HttpClientTest, RoundTripsGetAndPostWithHeaders) {
  TestServer server;
  Client client;
  absl::StatusOr<Response> r = Fetch(client, Get(server.Url("/echo")));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET::");
  Request post = Get(server.Url("/echo"));
  post.method = "POST";
  post.body = "{\"a\":1}";
  post.headers = {"X-Test: yes", "Content-Type: application/json"};
  r = Fetch(client, post);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "POST:{\"a\":1}:yes");
  r = Fetch(client, Get(server.Url("/teapot")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 418);  // an HTTP error status is an answer, for the caller to map
}

TEST(HttpClientTest, AHungServerIsLeftAtTheDeadline) {
  TestServer server;
  Client client;
  Request hang = Get(server.Url("/hang"));
  hang.deadline = absl::Now() + absl::Milliseconds(200);
  absl::StatusOr<Response> r = Fetch(client, hang);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_EQ(client.in_flight(), 0u);
  Request late = Get(server.Url("/echo"));
  late.deadline = absl::Now() - absl::Seconds(1);
  EXPECT_EQ(Fetch(client, late).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(HttpClientTest, ACancelledTransferEndsAtOnce) {
  TestServer server;
  Client client;
  std::promise<absl::StatusOr<Response>> p;
  const uint64_t id = client.Start(Get(server.Url("/hang")),
                                   [&p](absl::StatusOr<Response> r) { p.set_value(std::move(r)); });
  client.Cancel(id);
  EXPECT_EQ(p.get_future().get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(client.in_flight(), 0u);
}

// A policy cancels every check it started once it has its verdict, the answered ones too: that
// must not cost the client's thread a wake-up (and a turn over every connection) per call.
TEST(HttpClientTest, CancellingAnAnsweredTransferWakesNothing) {
  TestServer server;
  Client client;
  std::promise<absl::StatusOr<Response>> p;
  const uint64_t id = client.Start(Get(server.Url("/echo")),
                                   [&p](absl::StatusOr<Response> r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(p.get_future().get().ok());
  const uint64_t woken = client.wakeups();
  client.Cancel(id);
  client.Cancel(id + 1000);  // never started
  EXPECT_EQ(client.wakeups(), woken);
  // Cancelled from the answer's own callback, as the policy does.
  std::promise<uint64_t> q;
  std::promise<uint64_t> id_of;
  std::shared_future<uint64_t> own = id_of.get_future().share();
  id_of.set_value(client.Start(Get(server.Url("/echo")), [&](absl::StatusOr<Response> r) {
    EXPECT_TRUE(r.ok());
    const uint64_t before = client.wakeups();
    client.Cancel(own.get());
    q.set_value(client.wakeups() - before);
  }));
  EXPECT_EQ(q.get_future().get(), 0u);
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST(HttpClientTest, ManyTransfersAreDrivenByTheClientsOneThread) {
  TestServer server;
  Client client;
  constexpr int kTransfers = 50;
  std::mutex mu;
  std::set<std::thread::id> threads;
  int ok = 0, answered = 0;
  std::promise<void> all;
  for (int i = 0; i < kTransfers; ++i) {
    Request r = Get(server.Url("/echo"));
    r.method = "POST";
    r.body = std::to_string(i);
    client.Start(std::move(r), [&, i](absl::StatusOr<Response> resp) {
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
      if (resp.ok() && resp->body == absl::StrCat("POST:", i, ":")) ++ok;
      if (++answered == kTransfers) all.set_value();
    });
  }
  all.get_future().get();
  EXPECT_EQ(ok, kTransfers);
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST(HttpClientTest, ConnectionsAreReused) {
  TestServer server;
  Client client;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Fetch(client, Get(server.Url("/echo"))).ok());
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(server.DistinctClientPorts(), 1u);
}

// Capped at one connection: a transfer that finds it busy waits for it (it is not sent on a
// second connection) and ends at its own deadline when none frees up; once the connection is
// free, twenty transfers at once all go over it.
TEST(HttpClientTest, ACappedClientWaitsForAConnectionWithinTheDeadline) {
  TestServer server;
  Client client(1);
  std::promise<absl::StatusOr<Response>> hung;
  client.Start(Get(server.Url("/hang")),
               [&hung](absl::StatusOr<Response> r) { hung.set_value(std::move(r)); });
  server.AwaitRequests(1);  // the hung transfer holds the one connection
  Request waiting = Get(server.Url("/echo"));
  waiting.deadline = absl::Now() + absl::Milliseconds(300);
  std::promise<absl::StatusOr<Response>> p;
  client.Start(waiting, [&p](absl::StatusOr<Response> r) { p.set_value(std::move(r)); });
  std::future<absl::StatusOr<Response>> f = p.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "a transfer waiting for a connection outlived its deadline";
  EXPECT_EQ(f.get().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(server.Requests(), 1u) << "sent on a second connection";
  server.Release();
  ASSERT_TRUE(hung.get_future().get().ok());

  constexpr int kTransfers = 20;
  std::mutex mu;
  int ok = 0, answered = 0;
  std::promise<void> all;
  for (int i = 0; i < kTransfers; ++i) {
    client.Start(Get(server.Url("/echo")), [&](absl::StatusOr<Response> r) {
      std::lock_guard<std::mutex> lock(mu);
      if (r.ok() && r->status == 200) ++ok;
      if (++answered == kTransfers) all.set_value();
    });
  }
  all.get_future().get();
  EXPECT_EQ(ok, kTransfers);
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(server.DistinctClientPorts(), 1u);
}

TEST(HttpClientTest, AnUnreachableServerIsUnavailable) {
  Client client;
  absl::StatusOr<Response> r = Fetch(client, Get("http://127.0.0.1:1/"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

}  // namespace
}  // namespace idv::verifiers::http
