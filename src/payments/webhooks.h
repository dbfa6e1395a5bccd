// Deposit webhooks from the gateway (docs/payment-gateway.md): the signature
// and its time stamp are checked on the I/O thread (a refusal is counted and
// answered at once); a good deposit is credited in betcore by a small pool of
// threads, with the gateway's payment id as the payment_ref, so a duplicate
// or redelivered webhook credits nothing twice. The gateway gets a 2xx only
// once betcore has the deposit (or a person must look: then it is alerted),
// and a 503 when betcore cannot be reached, so it delivers again.
#pragma once
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/http/http_server.h"
#include "tools/http_client.h"

namespace betcore::ops {
class Registry;
}

namespace betcore::payments {

struct WebhookConfig {
  tools::Url betcore;
  std::string token;           // role payments
  std::string webhook_secret;  // HMAC key
  int tolerance_s = 300;       // a time stamp further from our clock is refused
  int threads = 4;
  size_t queue_max = 10000;    // past it: 503, the gateway delivers again later
};

class WebhookReceiver {
 public:
  WebhookReceiver(const WebhookConfig& config, ops::Registry& metrics);
  ~WebhookReceiver();  // stop()

  void start();
  void stop();
  // POST /webhooks/gateway. Never blocks.
  void handle(http::Request&& request, http::Responder responder);

 private:
  struct Deposit {
    std::string event_id;
    std::string payment_id;
    std::string account_id;
    int64_t amount = 0;
    std::string currency;
    http::Responder responder;
  };
  struct Metrics;
  void run();
  void credit(Deposit& d, tools::HttpClient& betcore);

  const WebhookConfig config_;
  std::unique_ptr<Metrics> metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Deposit> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace betcore::payments
