#include "node_lifecycle.h"

#include <spdlog/spdlog.h>

#include "api/answers.h"
#include "api/json_writer.h"

namespace betcore {

void NodeLifecycle::progress(const std::string& what) {
  // One line: a newline would start another field of the notify message.
  std::string line = what;
  for (char& c : line) c = c == '\n' || c == '\r' ? ' ' : c;
  {
    std::lock_guard lock(mu_);
    if (draining_.load()) return;  // a stop began: its status stays
    // Serving: the status stays "serving" (a bootstrap while serving says
    // how it goes in the log).
    if (api_.load() != nullptr) return;
    status_ = line;
  }
  notifier_.send("STATUS=" + line);
}

void NodeLifecycle::serving(api::Api* api) {
  {
    std::lock_guard lock(mu_);
    status_ = "serving";
  }
  api_.store(api, std::memory_order_release);
  notifier_.send("READY=1\nSTATUS=serving");
}

void NodeLifecycle::draining() {
  {
    std::lock_guard lock(mu_);
    status_ = "draining: finishing the requests in flight before stopping";
    draining_.store(true);
  }
  notifier_.send("STOPPING=1\nSTATUS=draining");
}

std::string NodeLifecycle::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

namespace {
// What the operations listener serves: the probes, the metrics, the status
// page and the three reads the page makes (with a token, as on the API).
bool ops_path(std::string_view path) {
  return path == "/metrics" || path == "/health/live" || path == "/health/ready" || path == "/" ||
         path == "/v1/cluster" || path == "/v1/alerts" || path == "/v1/incidents";
}
}  // namespace

http::Handler NodeLifecycle::ops_handler() {
  ops_elsewhere_.store(true);
  return [this](http::Request&& r, http::Responder responder) {
    if (!ops_path(r.path())) {
      responder.send(api::error(404, "not_found",
                                "the operations listener serves /metrics, /health/*, the status page (/) and "
                                "the reads it makes; the API is on --listen"));
      return;
    }
    dispatch(std::move(r), std::move(responder));
  };
}

http::Handler NodeLifecycle::handler() {
  return [this](http::Request&& r, http::Responder responder) {
    const std::string_view path = r.path();
    if (ops_elsewhere_.load() && (path == "/metrics" || path == "/")) {
      responder.send(api::error(404, "not_found", "served on the operations listener (--ops-listen)"));
      return;
    }
    dispatch(std::move(r), std::move(responder));
  };
}

void NodeLifecycle::dispatch(http::Request&& r, http::Responder responder) {
  if (draining_.load() && r.path() == "/health/ready") {
    responder.send(readiness(agent_.load() ? 200 : 503, "draining"));
    return;
  }
  if (api::Api* api = api_.load(std::memory_order_acquire)) {
    api->handle(std::move(r), std::move(responder));
    return;
  }
  answer_while_starting(r, responder);
}

// /health/ready's answer before and after the API's own: {"status", "detail"}.
http::Response NodeLifecycle::readiness(int code, const char* what) const {
  std::string body;
  api::JsonWriter w(body);
  w.begin_object().field("status", what).field("detail", status()).end_object();
  return api::json_response(code, std::move(body));
}

void NodeLifecycle::answer_while_starting(const http::Request& r, const http::Responder& responder) const {
  const std::string_view path = r.path();
  if (path == "/health/live") {
    responder.send(api::json_response(200, "{\"status\":\"live\"}"));
  } else if (path == "/metrics") {
    responder.send(http::metrics_response(metrics_));
  } else if (path == "/health/ready") {  // draining is answered by dispatch()
    responder.send(api::with_retry_after(readiness(503, "starting"), 1));
  } else {
    responder.send(api::with_retry_after(
        api::error(503, "unavailable", "the node is starting (" + status() + "): retry shortly"), 1));
  }
}

}  // namespace betcore
