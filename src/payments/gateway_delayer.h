// Answers later: the gateway's latency and timeout holds, without blocking
// the HTTP server's I/O thread (http_server.h: handlers must not block). One
// timer thread sends each held Response through its Responder when due.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "api/http/http_server.h"

namespace betcore::payments::gateway {

// Answers held at most; past it an answer goes at once (and is counted), so
// a client flooding a slow gateway cannot grow memory without bound.
inline constexpr size_t kHeldAnswersMax = 10'000;

// Thread-safe: hold() may be called from any thread.
class Delayer {
 public:
  Delayer();
  ~Delayer();  // stop()
  Delayer(const Delayer&) = delete;
  Delayer& operator=(const Delayer&) = delete;

  // Sends `response` through `responder` `delay_ms` from now (at once when
  // delay_ms <= 0). False when it had to answer at once because too many
  // answers are held.
  bool hold(http::Responder responder, http::Response response, int delay_ms);
  // Drops what is held (each Responder then answers 500, or nothing if the
  // server is gone) and joins the thread. Idempotent.
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct Held {
    Clock::time_point due;
    uint64_t order = 0;  // ties keep arrival order
    http::Responder responder;
    http::Response response;
  };
  struct Later {
    bool operator()(const Held& a, const Held& b) const {
      return a.due != b.due ? a.due > b.due : a.order > b.order;
    }
  };
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::priority_queue<Held, std::vector<Held>, Later> held_;  // guarded by mu_
  uint64_t next_order_ = 0;                                   // guarded by mu_
  bool stopping_ = false;                                     // guarded by mu_
  std::thread thread_;
};

}  // namespace betcore::payments::gateway
