#include "node_command.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "api/api.h"
#include "api/auth.h"
#include "api/event_lines.h"
#include "api/http/http_server.h"
#include "node/haproxy_agent.h"
#include "node/node.h"
#include "tools/http_client.h"
#include "tools/server_process.h"
#include "tools/tokens_file.h"
#include "ops/metrics.h"
#include "ops/process_metrics.h"

namespace betcore {
namespace {

struct NodeFlags {
  std::string data_dir;
  std::string listen = "127.0.0.1:8080";
  std::string agent_listen;  // HAProxy's agent check ("" none)
  std::string tokens_file;
  std::string log_url;
  node::NodeOptions node;
  int http_threads = 1;
  size_t body_bytes_max = 64 * 1024;
};

// How a bootstrapping cluster node fetches a peer's newest snapshot: GET
// /v1/snapshot with the first admin token of the shared tokens file.
node::FetchSnapshot peer_snapshot_fetcher(std::string admin_token) {
  return [token = std::move(admin_token)](const std::string& address, std::string& body,
                                          std::string& err) {
    auto url = tools::parse_url(address);
    if (!url) {
      err = "bad peer address '" + address + "'";
      return false;
    }
    tools::HttpClientOptions ho;
    ho.request_timeout_ms = 300'000;
    ho.response_bytes_max = size_t{4} << 30;
    tools::HttpClient client(*url, ho);
    tools::Request req;
    req.method = "GET";
    req.target = "/v1/snapshot";
    req.bearer_token = token;
    tools::Response r = client.request(req);
    if (r.status != 200) {
      err = r.status == 0 ? r.error : "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
      return false;
    }
    body = std::move(r.body);
    return true;
  };
}

// HAProxy's agent check on `listen` (none when empty); false after saying why.
bool start_agent(const std::string& listen, node::HaproxyAgent& agent) {
  if (listen.empty()) return true;
  std::string host, error;
  uint16_t port = 0;
  if (!tools::split_host_port(listen, host, port)) {
    spdlog::error("--agent-listen {}: expected HOST:PORT, like 127.0.0.1:8081", listen);
    return false;
  }
  if (!agent.start(host, port, error)) {
    spdlog::error("{} (--agent-listen)", error);
    return false;
  }
  return true;
}

int run_node(const NodeFlags& f) {
  api::Tokens tokens;
  std::string error;
  if (!tokens.load(f.tokens_file, error)) {
    spdlog::error("{}", error);
    return 2;
  }
  std::string host;
  uint16_t port = 0;
  if (!tools::split_host_port(f.listen, host, port)) {
    spdlog::error("--listen {}: expected HOST:PORT, like 127.0.0.1:8080", f.listen);
    return 2;
  }
  // Block the stop signals before any thread starts, so only sigwait sees them.
  const sigset_t stop_signals = tools::block_stop_signals();

  ops::Registry metrics;
  const auto process_series = ops::register_process_metrics(metrics);
  node::NodeOptions no = f.node;
  no.data_dir = f.data_dir;
  no.log_url = f.log_url;
  if (no.advertise_address.empty()) no.advertise_address = f.listen;
  no.haproxy_agent = !f.agent_listen.empty();
  if (!no.log_url.empty()) {
    // A bootstrapping node fetches a peer's snapshot with the first admin
    // token of the shared tokens file.
    std::string tokens_error;
    auto file = tools::read_tokens_file(f.tokens_file, &tokens_error);
    std::optional<std::string> admin = file ? file->first("admin") : std::nullopt;
    if (!admin) {
      spdlog::error("--log {}: a cluster node needs an admin token in {} (to fetch a peer's "
                    "snapshot when it bootstraps)", no.log_url, f.tokens_file);
      return 2;
    }
    no.fetch_snapshot = peer_snapshot_fetcher(*admin);
  }
  spdlog::info("betcore node {} starting: data {}, listen {}", no.node_id, no.data_dir, f.listen);
  std::unique_ptr<node::Node> node = node::Node::open(no, metrics, api::render_event_line, error);
  if (!node) {
    spdlog::error("cannot start: {}", error);
    return 1;
  }
  node->start();
  api::Api api(*node, tokens, metrics);
  http::Options ho;
  ho.host = host;
  ho.port = port;
  ho.threads = f.http_threads;
  ho.body_bytes_max = f.body_bytes_max;
  ho.metrics = &metrics;
  ho.response_timeout_ms = 30'000;
  http::Server server(ho, [&api](http::Request&& r, http::Responder resp) { api.handle(std::move(r), std::move(resp)); });
  http::Status st = server.start();
  if (!st.ok()) {
    spdlog::error("cannot listen on {}: {}", f.listen, st.error);
    node->stop();
    return 1;
  }
  node::HaproxyAgent agent([&node] { return node->draining(); });
  if (!start_agent(f.agent_listen, agent)) {
    server.stop();
    node->stop();
    return 1;
  }
  spdlog::info("betcore node {} ready on http://{}:{}{}", no.node_id, host, server.bound_port(),
               no.haproxy_agent ? ", HAProxy agent check on " + f.agent_listen : "");
  int sig = tools::wait_for_stop_signal(stop_signals);
  spdlog::info("signal {}: stopping (answers in flight are finished first)", sig);
  agent.stop();
  server.stop();
  node->stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

void add_node_command(CLI::App& root) {
  auto flags = std::make_shared<NodeFlags>();
  CLI::App* cmd = root.add_subcommand("node", "Run a betcore node serving the HTTP API");
  cmd->add_option("--data", flags->data_dir, "Data directory (log and snapshots)")->required();
  cmd->add_option("--listen", flags->listen, "HOST:PORT to serve the API on")->capture_default_str();
  cmd->add_option("--tokens", flags->tokens_file, "Tokens file: '<role> <token> [<account_id>]' per line")->required();
  cmd->add_option("--log", flags->log_url, "etcd://HOST:PORT,HOST:PORT,.../CLUSTER: join a cluster on this etcd log (default: the embedded file log in --data)");
  cmd->add_option("--node-id", flags->node.node_id, "This node's id")->capture_default_str();
  cmd->add_option("--etcd-defrag-min-free-bytes", flags->node.etcd_defrag_min_free_bytes,
                  "Cluster: after a compaction, defragment (one at a time) the etcd members "
                  "whose file holds this much free space")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--agent-listen", flags->agent_listen,
                  "HOST:PORT for HAProxy's agent check (deploy/haproxy/betcore.cfg.in): it answers "
                  "\"drain\" while the guard has taken this node out of rotation, so requests in "
                  "flight finish");
  cmd->add_option("--advertise", flags->node.advertise_address, "HOST:PORT peers use to reach this node (default: --listen)");
  cmd->add_option("--http-threads", flags->http_threads, "HTTP I/O threads")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--body-bytes-max", flags->body_bytes_max, "Largest request body (413 above)")->capture_default_str();
  cmd->add_option("--queue-commands-max", flags->node.queue_commands_max, "Submit queue bound (429 above)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch-commands-max", flags->node.batch_commands_max, "Commands per batch at most")
      ->capture_default_str()->check(CLI::Range(1, 65536));
  cmd->add_option("--checkpoint-every-commands", flags->node.checkpoint_every_commands,
                  "Digest + snapshot every N commands (0: never)")->capture_default_str();
  cmd->add_option("--archive-hold-ms", flags->node.archive.hold_ms,
                  "Keep the log for the archiver (betcore backup run) this long after its last read (0: never)")
      ->capture_default_str();
  cmd->add_option("--archive-rpo-ms", flags->node.archive.rpo_ms,
                  "Alert when the oldest batch the archiver has not archived is older than this")
      ->capture_default_str();
  cmd->add_option("--archive-remote-lag-ms", flags->node.archive.remote_lag_ms,
                  "Alert when the archive's remote copy is this far behind")
      ->capture_default_str();
  cmd->add_option("--archive-silent-ms", flags->node.archive.silent_ms,
                  "Alert when an archiver that read this node's log has not for this long")
      ->capture_default_str();
  cmd->add_option("--guard-sample-ms", flags->node.guard.sample_ms,
                  "The guard samples its signals this often (anomalies, incidents, remediation; "
                  "docs/monitoring.md); 0: no guard")
      ->capture_default_str()->check(CLI::Range(0, 60'000));
  cmd->add_option("--guard-warmup-samples", flags->node.guard.warmup_samples,
                  "Samples the guard learns from before it judges a signal")
      ->capture_default_str()->check(CLI::Range(5, 100'000));
  cmd->add_option("--guard-raise-after-samples", flags->node.guard.raise_after_samples,
                  "Samples in a row out of band before the guard raises an anomaly")
      ->capture_default_str()->check(CLI::Range(1, 1'000));
  cmd->add_option("--guard-disk-trend-min-s", flags->node.guard.disk_trend_min_s,
                  "Seconds of free-space samples before the guard predicts a full disk (a build or "
                  "a backup writes in bursts)")
      ->capture_default_str()->check(CLI::Range(1, 86'400));
  cmd->add_flag("!--guard-no-drain", flags->node.guard.drain,
                "Never let the guard take a slow cluster node out of the load balancer (it advises)");
  cmd->add_flag("--guard-drain-by-readiness", flags->node.guard.drain_by_readiness,
                "Let the guard drain a slow node without an agent check: /health/ready answers 503 "
                "and HAProxy's configuration then cuts its sessions");
  cmd->add_flag("!--guard-recommend-only", flags->node.guard.remediate,
                "The guard records what it would do but changes nothing (admission, rotation, etcd "
                "members, snapshots)");
  cmd->add_flag("--truncate-corrupt-tail", flags->node.truncate_corrupt_tail,
                "Cut off a corrupt last log record instead of refusing to start (that batch may have been acknowledged)");
  cmd->add_flag("--full-ledger-check", flags->node.full_ledger_check,
                "Verify the whole ledger after every command (slow; for tests)");
  cmd->callback([flags] {
    int rc = run_node(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace betcore
