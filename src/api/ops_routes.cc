// The operations routes: health, metrics, alerts, status page, cluster view, snapshot.
#include <memory>
#include <string>

#include <fmt/format.h>

#include "api/answers.h"
#include "api/json_writer.h"
#include "api/route_handlers.h"
#include "ops/build_info.h"

namespace betcore::api {

extern const std::string_view kDashboardHtml;  // dashboard_html.cc (generated)

namespace {

void write_peer(JsonWriter& w, const node::PeerRecord& p) {
  w.begin_object();
  w.field("id", p.id);
  w.field("address", p.address);
  w.field("version", p.version);
  w.field_u64("applied_index", p.applied_index);
  const node::Checkpoint* last = p.checkpoints.empty() ? nullptr : &p.checkpoints.back();
  w.field("state_digest", last ? last->digest : "");
  w.field_u64("checkpoint", last ? last->index : 0);
  w.field_bool("ready", p.ready);
  if (!p.ready) w.field("not_ready_reason", p.not_ready_reason);
  w.field_u64("snapshot_index", p.snapshot_index);
  w.field_u64("needs_from", p.needs_from);
  w.key("checkpoints").begin_array();
  for (const node::Checkpoint& c : p.checkpoints) {
    w.begin_object().field_u64("index", c.index).field("digest", c.digest).end_object();
  }
  w.end_array();
  w.end_object();
}

// "log": the backend, and etcd's members as etcd reports them.
void write_log(JsonWriter& w, const node::ClusterView& view) {
  w.key("log").begin_object().field("backend", view.backend);
  if (!view.members_error.empty()) w.field("error", view.members_error);
  w.key("members").begin_array();
  for (const auto& m : view.members) {
    w.begin_object();
    w.field("id", fmt::format("{:016x}", m.id));
    w.field("name", m.name);
    w.field("endpoint", m.client_urls.empty() ? "" : m.client_urls.front());
    w.field_bool("leader", m.leader);
    w.field_bool("learner", m.learner);
    w.field_bool("healthy", m.healthy);
    if (!m.error.empty()) w.field("error", m.error);
    w.field_u64("db_size", static_cast<uint64_t>(m.db_size));
    w.field_u64("db_size_in_use", static_cast<uint64_t>(m.db_size_in_use));
    w.field_u64("raft_index", m.raft_index);
    w.field_u64("raft_term", m.raft_term);
    w.end_object();
  }
  w.end_array().end_object();
}

// GET /v1/cluster's body. Waits on etcd: off the I/O threads only.
std::string cluster_json(node::Node& node) {
  node::NodeStatus st = node.status();
  node::ClusterView view = node.cluster_view();
  const std::string& node_id = node.options().node_id;
  std::string body;
  JsonWriter w(body);
  w.begin_object();
  w.field("node_id", node_id);
  w.field("version", ops::build_line());
  w.field_u64("applied_index", st.applied_index);
  w.field_u64("log_head", st.log_head);
  w.field("state_digest", st.checkpoint.digest);
  w.field_u64("checkpoint", st.checkpoint.index);
  // What `betcore audit verify --expect POSITION:CHAIN` checks a copy against.
  w.key("audit_chain").begin_object().field_u64("position", st.chain_position).field("chain", st.chain).end_object();
  w.field_bool("ready", st.ready);
  if (!st.ready) w.field("not_ready_reason", st.not_ready_reason);
  w.key("nodes").begin_array();
  if (view.backend == "file") {
    // No peers to report it: this node is the only one.
    w.begin_object();
    w.field("id", node_id);
    w.field("address", node.options().advertise_address);
    w.field("version", ops::build_line());
    w.field_u64("applied_index", st.applied_index);
    w.field("state_digest", st.checkpoint.digest);
    w.field_u64("checkpoint", st.checkpoint.index);
    w.field_bool("ready", st.ready);
    w.end_object();
  }
  for (const node::PeerRecord& p : view.nodes) write_peer(w, p);
  w.end_array();
  write_log(w, view);
  w.end_object();
  return body;
}

}  // namespace

namespace routes {

void health_live(Services&, Call& call) {
  call.answer.send(json_response(200, "{\"status\":\"live\"}"));
}

void health_ready(Services& services, Call& call) {
  node::NodeStatus st = services.node.status();
  // Caught up: nothing committed is waiting to be applied beyond a small lag.
  constexpr uint64_t kReadyLagMax = 1000;
  // In a cluster the node itself judges its lag by time (cluster_member.h).
  if (st.ready && (st.cluster || st.log_head <= st.applied_index + kReadyLagMax)) {
    std::string body;
    JsonWriter w(body);
    w.begin_object().field("status", "ready").field_u64("applied_index", st.applied_index)
        .field_u64("log_head", st.log_head).end_object();
    call.answer.send(json_response(200, std::move(body)));
  } else {
    std::string reason = !st.ready ? st.not_ready_reason
                                   : "applying the log: at " + std::to_string(st.applied_index) +
                                         " of " + std::to_string(st.log_head);
    call.answer.send(with_retry_after(error(503, "unavailable", reason), 1));
  }
}

void metrics(Services& services, Call& call) {
  http::Response r;
  r.status = 200;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  services.metrics.expose_to(r.body);
  call.answer.send(std::move(r));
}

void alerts(Services& services, Call& call) {
  node::NodeStatus st = services.node.status();
  std::string body;
  JsonWriter w(body);
  w.begin_object().key("alerts").begin_array();
  if (!st.ready) {
    w.begin_object().field("name", "node_not_ready").field("severity", "critical")
        .field("summary", st.not_ready_reason)
        .field("action", "none automatic: see docs/runbooks").end_object();
  }
  for (const std::string& a : services.node.alerts()) {
    w.begin_object().field("name", "state_divergence").field("severity", "critical")
        .field("summary", a)
        .field("action", "the node that disagrees with the majority stops taking writes; "
                         "see docs/runbooks/divergence-alert.md").end_object();
  }
  for (const node::ArchiveAlert& a : services.node.archive_alerts()) {
    w.begin_object().field("name", a.name).field("severity", "critical")
        .field("summary", a.summary).field("action", a.action).end_object();
  }
  w.end_array().end_object();
  call.answer.send(json_response(200, std::move(body)));
}

// The guard's incidents, newest first (node/guard.h): {"incidents":[...]}.
void incidents(Services& services, Call& call) {
  std::string body = "{\"incidents\":[";
  bool first = true;
  for (const node::Incident& i : services.node.incidents(100)) {
    if (!first) body += ',';
    first = false;
    body += node::incident_json(i);
  }
  body += "]}";
  call.answer.send(json_response(200, std::move(body)));
}

// The live dashboard (dashboard.html, embedded at build time): it draws
// itself from /metrics and, with an admin token, the JSON routes.
void dashboard(Services&, Call& call) {
  http::Response r;
  r.status = 200;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::string(kDashboardHtml);
  r.headers.emplace_back("Cache-Control", "no-cache");
  // Everything the page uses is inline and from this origin.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                         "img-src 'self' data:; connect-src 'self'");
  call.answer.send(std::move(r));
}

void cluster(Services& services, Call& call) {
  auto shared = std::make_shared<Call>(std::move(call));
  node::Node& node = services.node;
  bool queued = services.cluster_worker.run(
      [&node, shared] { shared->answer.send(json_response(200, cluster_json(node))); });
  if (!queued) {
    shared->answer.send(with_retry_after(
        error(503, "unavailable", "too many /v1/cluster requests are waiting on etcd; retry"), 1));
  }
}

void snapshot(Services& services, Call& call) {
  auto shared = std::make_shared<Call>(std::move(call));
  node::Node& node = services.node;
  bool queued = services.snapshot_worker.run([&node, shared] {
    http::Response r;
    uint64_t index = 0;
    std::string error_text;
    if (!node.newest_snapshot(r.body, index, error_text)) {
      shared->answer.send(with_retry_after(error(503, "unavailable", error_text), 5));
      return;
    }
    r.status = 200;
    r.content_type = "application/octet-stream";
    r.headers.emplace_back("X-Betcore-Snapshot-Index", std::to_string(index));
    shared->answer.send(std::move(r));
  });
  if (!queued) {
    shared->answer.send(with_retry_after(
        error(503, "unavailable", "too many snapshot downloads are waiting; retry"), 5));
  }
}

}  // namespace routes

}  // namespace betcore::api
