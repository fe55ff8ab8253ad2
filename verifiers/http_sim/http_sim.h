// What the HTTP simulators (idv-nppa-sim, idv-json-sim) share: serving a handler on civetweb
// until SIGTERM or SIGINT, reading a request body, and answering in one write.
#ifndef IDV_VERIFIERS_HTTP_SIM_HTTP_SIM_H_
#define IDV_VERIFIERS_HTTP_SIM_HTTP_SIM_H_

#include <CivetServer.h>

#include <functional>
#include <string>

namespace idv::sim {

// Serves `handler` on `listen` (HOST:PORT, port 0 picks one) with `threads` server threads (a
// kept-alive connection holds one), prints "listening on HOST:PORT" after `banner`, and returns
// 0 after SIGTERM or SIGINT (running `on_stop` first), 1 when it cannot listen.
int ServeUntilSignalled(CivetHandler& handler, const std::string& listen, unsigned threads,
                        const std::string& banner, const std::function<void()>& on_stop = {});

// The request's body, at most 64 KiB of it.
std::string ReadBody(mg_connection* c);

// Answers `status` with a JSON body. One write for the head and the body: two would meet Nagle's
// algorithm and the client's delayed ACK, and every answer would wait 40 ms.
bool ReplyJson(mg_connection* c, int status, const std::string& body);

}  // namespace idv::sim

#endif  // IDV_VERIFIERS_HTTP_SIM_HTTP_SIM_H_
