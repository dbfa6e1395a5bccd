// A node process's life as the load balancer, systemd and a person see it
// (docs/operations.md, "Lifecycle"): the HTTP listener is up from the
// start; /health/live answers 200 throughout; /health/ready answers 503
// "starting" with what the node is doing (waiting for etcd, replaying),
// then the API's own answer, then 503 "draining" once a stop began.
// systemd hears STATUS= with the same words, READY=1 and STOPPING=1.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "api/api.h"
#include "api/http/http_server.h"
#include "ops/metrics.h"
#include "ops/notify.h"

namespace betcore {

class NodeLifecycle {
 public:
  explicit NodeLifecycle(const ops::Registry& metrics) : metrics_(metrics) {}

  // Start-up progress, for /health/ready and systemd (STATUS=). Any thread.
  void progress(const std::string& what);
  // Requests go to `api` from now on (it must outlive the server); READY=1.
  void serving(api::Api* api);
  // A stop began: /health/ready answers 503 draining; STOPPING=1. With an
  // HAProxy agent check (--agent-listen) the drain goes through the agent
  // ("drain": no new requests, those in flight finish) and /health/ready
  // answers 200 {"status":"draining"}: a failed health check would make
  // HAProxy cut the sessions in flight (on-marked-down shutdown-sessions).
  void draining();
  void set_agent(bool agent) { agent_.store(agent); }
  bool is_draining() const { return draining_.load(); }
  std::string status() const;

  // The HTTP server's handler for the whole life of the process.
  http::Handler handler();
  // The operations listener's (--ops-listen): /metrics, /health/live,
  // /health/ready, the status page (/) and the reads it makes (/v1/cluster,
  // /v1/alerts, /v1/incidents, with a token), as handler() answers them;
  // 404 to anything else. Once there is one, handler() answers 404 to /metrics
  // and / (they stay off the API's network).
  http::Handler ops_handler();

 private:
  void dispatch(http::Request&& r, http::Responder responder);
  http::Response readiness(int code, const char* what) const;
  void answer_while_starting(const http::Request& r, const http::Responder& responder) const;

  const ops::Registry& metrics_;
  ops::Notifier notifier_;
  std::atomic<api::Api*> api_{nullptr};
  std::atomic<bool> draining_{false};
  std::atomic<bool> agent_{false};
  std::atomic<bool> ops_elsewhere_{false};
  mutable std::mutex mu_;
  std::string status_ = "starting";  // guarded by mu_
};

}  // namespace betcore
