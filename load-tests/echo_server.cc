// idv-echo: the gRPC floor for Verify-shaped traffic, a reference point for idv-load.
//
//   idv-echo --listen 127.0.0.1:0
//
// Serves idv.v1.VerificationService/Verify with the same generated code, message types and
// callback API as idvd, but does nothing a verification needs: it parses the request (gRPC does),
// answers at once with a response the size and shape of a cache hit, and finishes inline. It also
// serves the standard health Check. idv-load pointed at it with --scenario warm therefore measures
// what gRPC alone costs for Verify's messages and metadata on this machine, so idvd's own work can
// be told apart from the RPC stack's: warm Verify on idvd / warm Verify on idv-echo.
//
// With --finish_on_thread it finishes each call instead from a thread of its own that takes the
// calls queued meanwhile as a group, as idvd's store writer answers a group once it is durable:
// the cost of answering asynchronously, with nothing else done.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "idv/v1/verification.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "address to listen on (port 0: any free port)");
ABSL_FLAG(bool, finish_on_thread, false,
          "finish calls in groups from a thread of its own instead of inline");

namespace idv::load {
namespace {

class EchoVerification final : public idv::v1::VerificationService::CallbackService {
 public:
  explicit EchoVerification(bool finish_on_thread) {
    if (finish_on_thread) finisher_ = std::thread([this] { FinishLoop(); });
    // A cache hit's answer: what idvd sends for warm traffic.
    hit_.set_verification_id("01JD5V2Q9W3X4Y5Z6A7B8C9D0E");
    hit_.set_outcome(idv::v1::VERIFIED);
    hit_.mutable_reason()->set_message("the authority confirmed the claim");
    hit_.set_binding(idv::v1::NOT_REQUESTED);
    hit_.set_cached(true);
    hit_.mutable_derived()->set_adult(true);
    hit_.mutable_derived()->set_age_band(idv::v1::AGE_18_AND_OVER);
    hit_.mutable_decided_at()->set_seconds(1795000000);
    hit_.mutable_decided_at()->set_nanos(123456789);
  }

  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* ctx,
                                   const idv::v1::VerifyRequest* /*request*/,
                                   idv::v1::VerifyResponse* response) override {
    *response = hit_;
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    if (!finisher_.joinable()) {
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
    std::lock_guard<std::mutex> lock(mu_);
    queued_.push_back(reactor);
    if (queued_.size() == 1) wake_.notify_one();
    return reactor;
  }

  ~EchoVerification() override {
    if (!finisher_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_one();
    finisher_.join();
  }

 private:
  void FinishLoop() {
    std::deque<grpc::ServerUnaryReactor*> group;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [this] { return stop_ || !queued_.empty(); });
        if (stop_ && queued_.empty()) return;
        group.swap(queued_);
      }
      for (grpc::ServerUnaryReactor* r : group) r->Finish(grpc::Status::OK);
      group.clear();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<grpc::ServerUnaryReactor*> queued_;
  bool stop_ = false;
  std::thread finisher_;
  idv::v1::VerifyResponse hit_;
};

int Main() {
  // SIGTERM and SIGINT are taken by sigwait below; blocked before gRPC starts its threads, which
  // inherit the mask.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  EchoVerification service(absl::GetFlag(FLAGS_finish_on_thread));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "idv-echo: cannot listen on " << listen << "\n";
    return 1;
  }
  std::cout << "listening on " << listen.substr(0, listen.rfind(':')) << ":" << port << std::endl;
  int received = 0;
  sigwait(&stop, &received);
  server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace idv::load

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as idvd does
  return idv::load::Main();
}
