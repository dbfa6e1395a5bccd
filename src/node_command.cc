#include "node_command.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "api/api.h"
#include "api/auth.h"
#include "api/event_lines.h"
#include "api/http/http_server.h"
#include "codec/batch.h"
#include "node/haproxy_agent.h"
#include "node/node.h"
#include "node_lifecycle.h"
#include "ops/build_info.h"
#include "tools/http_client.h"
#include "tools/server_process.h"
#include "tools/tokens_file.h"
#include "tls/tls.h"
#include "ops/logging.h"
#include "ops/metrics.h"
#include "ops/open_files.h"
#include "ops/process_metrics.h"

namespace betcore {
namespace {

struct NodeFlags {
  std::string data_dir;
  std::string listen = "127.0.0.1:8080";
  std::string agent_listen;  // HAProxy's agent check ("" none)
  std::string ops_listen;    // /metrics, /health/*, / apart from the API ("" none)
  std::string tokens_file;
  std::string credentials_file;  // a cluster node's own admin token (peer snapshots)
  std::string log_url;
  node::NodeOptions node;
  int http_threads = 1;
  size_t body_bytes_max = 64 * 1024;
  // TLS (docs/security.md): on unless --plain-http says otherwise.
  tls::ServerFiles api_tls;  // the API's certificate; with etcds://, also etcd's client cert
  std::string tls_ca;        // what signed the peers' and etcd members' certificates
  bool plain_http = false;
  api::RateLimits limits;
  size_t connections_max = 10'000;
  size_t connections_per_address_max = 1'024;
  // Timeouts (docs/operations.md, "Lifecycle").
  int response_timeout_ms = 30'000;
  int request_timeout_ms = 10'000;
  int idle_timeout_ms = 60'000;
  int shutdown_delay_ms = 2'000;
  int drain_timeout_ms = 5'000;
  // A cluster bootstrap's fetch of a peer's snapshot (written to disk as it arrives).
  int snapshot_fetch_stall_ms = 30'000;
  uint64_t snapshot_fetch_bytes_max = uint64_t{4} << 30;
  int startup_stop_ms = 700;  // after a stop signal during start-up, then exit at once
};

// The certificate's expiry for the alert (deploy/prometheus), and each
// reload's outcome. Set at start and after every SIGHUP.
struct TlsSeries {
  explicit TlsSeries(ops::Registry& r)
      : not_after(r.gauge("betcore_tls_certificate_expiry_timestamp_seconds",
                          "When the API's TLS certificate expires (Unix seconds); 0 without TLS.")),
        reloads_ok(r.counter("betcore_tls_reloads_total",
                             "Certificate reloads (SIGHUP).", {{"result", "ok"}})),
        reloads_failed(r.counter("betcore_tls_reloads_total", "Certificate reloads (SIGHUP).",
                                 {{"result", "failed"}})) {}
  void read_expiry(const std::string& cert_file) {
    std::string error;
    if (auto t = tls::cert_not_after(cert_file, &error)) not_after.set(static_cast<double>(*t));
  }
  ops::Gauge& not_after;
  ops::Counter& reloads_ok;
  ops::Counter& reloads_failed;
};

// "" when the TLS flags make sense together, else what to change.
std::string check_tls_flags(const NodeFlags& f) {
  const bool cert = !f.api_tls.cert_file.empty(), key = !f.api_tls.key_file.empty();
  if (f.plain_http && (cert || key)) return "--plain-http and --tls-cert/--tls-key exclude each other";
  if (!f.plain_http && !(cert && key)) {
    return "TLS is on by default: give --tls-cert FILE and --tls-key FILE (scripts/start.sh and "
           "`betcore certs` make them), or --plain-http to serve plain HTTP on a trusted network";
  }
  if (f.log_url.rfind("etcds://", 0) == 0 && (!cert || f.tls_ca.empty())) {
    return "--log etcds:// (mutual TLS to etcd) needs --tls-cert/--tls-key (this node's client "
           "certificate) and --tls-ca (the CA of the etcd members' certificates)";
  }
  return "";
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

// SIGHUP: reloads the tokens file and the TLS certificate (new connections
// get it, open ones keep theirs) and says so; never stops the node.
void reload(const NodeFlags& f, http::Server& server, api::Tokens& tokens, TlsSeries& tls_series) {
  // Tokens: a file that does not parse leaves the tokens in use as they were.
  std::string error;
  if (tokens.load(f.tokens_file, error)) {
    spdlog::info("SIGHUP: reloaded {} tokens from {}", tokens.size(), f.tokens_file);
  } else {
    spdlog::error("SIGHUP: the tokens were not reloaded, the old ones stay in use: {}", error);
  }
  if (f.plain_http) return;
  tools::forget_tls_contexts();  // the node's own HTTPS clients (peers)
  const http::Status st = server.reload_tls();
  if (st.ok()) {
    tls_series.reloads_ok.inc();
    tls_series.read_expiry(f.api_tls.cert_file);
    spdlog::info("SIGHUP: reloaded the TLS certificate {} (new connections use it)", f.api_tls.cert_file);
  } else {
    tls_series.reloads_failed.inc();
    spdlog::error("SIGHUP: the TLS certificate was not reloaded, the old one stays in use: {}", st.error);
  }
}

// The signals the node handles itself, blocked before any thread starts so
// that only next_stop_signal sees them: SIGINT and SIGTERM stop it, SIGHUP
// reloads, SIGUSR1 and SIGUSR2 are logged and ignored (their default would
// kill the node).
sigset_t node_signals() {
  sigset_t set = tools::block_stop_signals();
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Handles signals for up to `timeout_ms` (-1: until one stops the node);
// returns SIGINT or SIGTERM, or 0 when the time is up or `done()` holds.
int next_stop_signal(const sigset_t& signals, int timeout_ms, const std::function<bool()>& done,
                     const std::function<void()>& on_hup) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (done && done()) return 0;
    const auto left = deadline - std::chrono::steady_clock::now();
    if (timeout_ms >= 0 && left <= std::chrono::nanoseconds(0)) return 0;
    // Short waits while something else may finish (done), else longer ones.
    const auto wait = std::chrono::milliseconds(done ? 50 : 1000);
    const auto slice = timeout_ms >= 0 ? std::min<std::chrono::nanoseconds>(left, wait) : wait;
    timespec ts{static_cast<time_t>(slice.count() / 1'000'000'000), static_cast<long>(slice.count() % 1'000'000'000)};
    const int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) return sig;
    if (sig == SIGHUP) {
      on_hup();
    } else if (sig == SIGUSR1 || sig == SIGUSR2) {
      spdlog::info("signal {} ignored (SIGHUP reloads tokens and certificates, SIGTERM stops)", sig);
    }
  }
}

// The node's options from the flags; false after saying why.
bool node_options(const NodeFlags& f, node::NodeOptions& no) {
  no = f.node;
  no.data_dir = f.data_dir;
  no.log_url = f.log_url;
  no.etcd_tls = {f.tls_ca, f.api_tls.cert_file, f.api_tls.key_file};
  if (no.advertise_address.empty()) no.advertise_address = f.listen;
  no.haproxy_agent = !f.agent_listen.empty();
  if (!no.log_url.empty()) {
    // A bootstrapping node fetches a peer's snapshot with the first admin
    // token of its credentials file (the tokens file holds only hashes).
    std::string tokens_error;
    auto file = f.credentials_file.empty()
                    ? std::nullopt
                    : tools::read_tokens_file(f.credentials_file, &tokens_error);
    std::optional<std::string> admin = file ? file->first("admin") : std::nullopt;
    if (!admin) {
      spdlog::error("--log {}: a cluster node needs --credentials FILE with an 'admin <token>' "
                    "line (it fetches a peer's snapshot when it bootstraps){}", no.log_url,
                    tokens_error.empty() ? "" : ": " + tokens_error);
      return false;
    }
    no.fetch_snapshot = node::http_snapshot_fetcher(*admin, !f.plain_http, f.snapshot_fetch_stall_ms,
                                                    f.snapshot_fetch_bytes_max);
  }
  return true;
}

http::Options server_options(const NodeFlags& f, const std::string& host, uint16_t port,
                             ops::Registry& metrics) {
  http::Options ho;
  ho.host = host;
  ho.port = port;
  ho.threads = f.http_threads;
  ho.body_bytes_max = f.body_bytes_max;
  ho.metrics = &metrics;
  ho.response_timeout_ms = f.response_timeout_ms;
  ho.request_timeout_ms = f.request_timeout_ms;
  ho.idle_timeout_ms = f.idle_timeout_ms;
  ho.stop_timeout_ms = f.drain_timeout_ms;
  if (!f.plain_http) ho.tls = f.api_tls;
  ho.capture_headers = {"x-forwarded-for", "x-request-id"};
  ho.connections_max = f.connections_max;
  ho.connections_per_address_max = f.connections_per_address_max;  // the client's address behind a trusted proxy
  return ho;
}

// Long: one sequence an operator reads top to bottom (docs/operations.md, "Lifecycle").
int run_node(const NodeFlags& f) {
  // Before anything is logged: every line says which process and node wrote it.
  ops::set_log_context("process", "node");
  ops::set_log_context("node", f.node.node_id);
  if (const std::string bad = check_tls_flags(f); !bad.empty()) {
    spdlog::error("{}", bad);
    return 2;
  }
  if (!f.plain_http) {
    // Peers' snapshots and etcd's /metrics are fetched over TLS with these.
    tls::set_default_client({f.tls_ca, f.api_tls.cert_file, f.api_tls.key_file});
  }
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
  std::string ops_host;
  uint16_t ops_port = 0;
  if (!f.ops_listen.empty() && !tools::split_host_port(f.ops_listen, ops_host, ops_port)) {
    spdlog::error("--ops-listen {}: expected HOST:PORT, like 127.0.0.1:9100", f.ops_listen);
    return 2;
  }
  // Every connection is a descriptor: without room, accept() fails (EMFILE)
  // long before --connections-max.
  const uint64_t open_files_max = ops::raise_open_files_limit();
  if (const std::string w = ops::open_files_warning(open_files_max, f.connections_max); !w.empty()) {
    spdlog::warn("{}", w);
  }
  const sigset_t signals = node_signals();
  ops::Registry metrics;
  const auto process_series = ops::register_process_metrics(metrics);
  node::NodeOptions no;
  if (!node_options(f, no)) return 2;
  ops::log(spdlog::level::info,
           fmt::format("betcore {} node {} starting: data {}, listen {}", ops::build_line(), no.node_id,
                       no.data_dir, f.listen),
           {{"version", ops::build_version()}, {"data", no.data_dir}, {"listen", f.listen},
            {"log", no.log_url.empty() ? "file" : no.log_url}});

  // The listener first: /health/live and /health/ready answer while the
  // node waits for etcd or replays (node_lifecycle.h).
  NodeLifecycle life(metrics);
  std::unique_ptr<node::Node> node;
  std::unique_ptr<api::Api> api;
  TlsSeries tls_series(metrics);
  if (!f.plain_http) tls_series.read_expiry(f.api_tls.cert_file);
  http::Server server(server_options(f, host, port, metrics), life.handler());
  if (http::Status st = server.start(); !st.ok()) {
    spdlog::error("cannot listen on {}: {}", f.listen, st.error);
    return 1;
  }
  std::unique_ptr<http::Server> ops_server;
  if (!f.ops_listen.empty()) {
    http::Options oo = server_options(f, ops_host, ops_port, metrics);
    ops_server = std::make_unique<http::Server>(oo, life.ops_handler());
    if (http::Status st = ops_server->start(); !st.ok()) {
      spdlog::error("cannot listen on {} (--ops-listen): {}", f.ops_listen, st.error);
      server.stop();
      return 1;
    }
  }
  auto stop_listeners = [&] {
    server.stop();
    if (ops_server) ops_server->stop();
  };
  auto on_hup = [&] {
    reload(f, server, tokens, tls_series);
    if (ops_server && !f.plain_http) (void)ops_server->reload_tls();  // the same files; reload() said how it went
  };

  std::atomic<bool> stop_requested{false}, opened{false};
  no.progress = [&life](const std::string& what) { life.progress(what); };
  no.stop_requested = &stop_requested;
  std::thread opener([&] {
    node = node::Node::open(no, metrics, api::render_event_line, error);
    opened.store(true);
  });
  int sig = next_stop_signal(signals, -1, [&] { return opened.load(); }, on_hup);
  if (sig != 0) {
    // Nothing is acknowledged before the node serves: stopping here loses nothing.
    stop_requested.store(true);
    const std::string doing = life.status();
    life.draining();
    spdlog::info("signal {}: stopping during start-up ({})", sig, doing);
    next_stop_signal(signals, f.startup_stop_ms, [&] { return opened.load(); }, on_hup);
    if (!opened.load()) {
      spdlog::info("stopped during start-up ({}); nothing was acknowledged yet", doing);
      spdlog::default_logger()->flush();  // not shutdown(): other threads may still log
      std::_Exit(0);  // the opener may be inside a blocking call; the log is crash-safe
    }
    opener.join();
    stop_listeners();
    if (node) node->stop();
    // A start-up that failed on its own meanwhile is a failure, not a stop.
    if (!node && error.rfind("stopped while", 0) != 0) {
      spdlog::error("cannot start: {}", error);
      return 1;
    }
    spdlog::info("stopped{}", node ? "" : " (" + error + ")");
    return 0;
  }
  opener.join();
  if (!node) {
    spdlog::error("cannot start: {}", error);
    stop_listeners();
    return 1;
  }
  node->start();
  api = std::make_unique<api::Api>(*node, tokens, metrics, f.limits);
  node::HaproxyAgent agent([&] { return life.is_draining() || node->draining(); });
  if (!start_agent(f.agent_listen, agent)) {
    stop_listeners();
    node->stop();
    return 1;
  }
  life.set_agent(no.haproxy_agent);
  life.serving(api.get());
  const std::string origin = fmt::format("{}://{}:{}", f.plain_http ? "http" : "https", host, server.bound_port());
  ops::log(spdlog::level::info,
           fmt::format("betcore node {} ready on {}{}{}", no.node_id, origin,
                       no.haproxy_agent ? ", HAProxy agent check on " + f.agent_listen : "",
                       ops_server ? ", operations on " + f.ops_listen : ""),
           {{"event", "ready"}, {"api", origin}, {"agent", f.agent_listen}, {"ops", f.ops_listen},
            {"applied_index", node->status().applied_index}});
  sig = next_stop_signal(signals, -1, nullptr, on_hup);

  // Draining: not ready (the load balancer moves new requests elsewhere),
  // every answer closes its connection, and the listener stays open for
  // --shutdown-delay-ms; then it closes and answers in flight get up to
  // --drain-timeout-ms. A second SIGINT or SIGTERM cuts the delay short.
  life.draining();
  server.close_connections_after_answers();
  ops::log(spdlog::level::info,
           fmt::format("signal {}: draining for {} ms ({}), then the listener closes and answers in flight "
                       "get up to {} ms", sig, f.shutdown_delay_ms,
                       no.haproxy_agent ? "the HAProxy agent check says drain; /health/ready stays 200 'draining'"
                                        : "/health/ready answers 503 'draining'",
                       f.drain_timeout_ms),
           {{"event", "draining"}, {"signal", sig}, {"shutdown_delay_ms", f.shutdown_delay_ms},
            {"drain_timeout_ms", f.drain_timeout_ms}});
  if (next_stop_signal(signals, f.shutdown_delay_ms, nullptr, on_hup) != 0) {
    spdlog::info("a second stop signal: closing the listener now");
  }
  agent.stop();
  stop_listeners();
  node->stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

void add_token_flags(CLI::App* cmd, NodeFlags& flags) {
  cmd->add_option("--tokens", flags.tokens_file,
                  "Tokens file: '<role> sha256:<hash> [<account_id>]' per line (betcore token add); "
                  "re-read on SIGHUP")
      ->required();
  cmd->add_option("--credentials", flags.credentials_file,
                  "Cluster: this node's own credentials, '<role> <token>' per line, with an admin "
                  "token (it fetches a peer's snapshot when it bootstraps)");
}

void add_tls_flags(CLI::App* cmd, NodeFlags& flags) {
  cmd->add_option("--tls-cert", flags.api_tls.cert_file,
                  "The API's TLS certificate chain (PEM); re-read on SIGHUP. With --log etcds:// "
                  "also this node's client certificate for etcd (re-read every 5 s for new connections)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", flags.api_tls.key_file, "The key of --tls-cert (PEM)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-client-ca", flags.api_tls.client_ca_file,
                  "Require API clients (HAProxy, peers) to present a certificate signed by this CA")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-ca", flags.tls_ca,
                  "The CA that signed the peers' and the etcd members' certificates")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--plain-http", flags.plain_http,
                "Serve plain HTTP instead of HTTPS (only on a network you trust)");
}

void add_limit_flags(CLI::App* cmd, api::RateLimits& l) {
  cmd->add_option("--rate-limit-punter-rps", l.punter_rps,
                  "Requests a second each punter token may make (0: no limit); 429 rate_limited "
                  "beyond")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--rate-limit-punter-burst", l.punter_burst, "Requests a punter token may make at once")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--rate-limit-service-rps", l.service_rps,
                  "Requests a second each admin, trader, feed, payments or backup token may make "
                  "(0: no limit)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--rate-limit-service-burst", l.service_burst, "Requests such a token may make at once")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--rate-limit-address-rps", l.address_rps,
                  "Requests a second each client address may make (0: no limit; behind HAProxy "
                  "give --trusted-proxy, or limit in HAProxy)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--rate-limit-address-burst", l.address_burst, "Requests an address may make at once")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--trusted-proxy", l.trusted_proxies,
                  "An IP address (repeat) whose X-Forwarded-For names the client (HAProxy's)");
}

void add_timeout_flags(CLI::App* cmd, NodeFlags& f) {
  cmd->add_option("--response-timeout-ms", f.response_timeout_ms,
                  "A write not answered by then gets 504 outcome_unknown (retry with the same id)")
      ->capture_default_str()->check(CLI::Range(100, 3'600'000));
  cmd->add_option("--request-timeout-ms", f.request_timeout_ms,
                  "From a request's first byte to its last (slow clients are cut off)")
      ->capture_default_str()->check(CLI::Range(100, 3'600'000));
  cmd->add_option("--idle-timeout-ms", f.idle_timeout_ms, "A keep-alive connection idle this long is closed")
      ->capture_default_str()->check(CLI::Range(100, 3'600'000));
  cmd->add_option("--shutdown-delay-ms", f.shutdown_delay_ms,
                  "On SIGTERM: /health/ready answers 503 draining this long, while the node still "
                  "serves, so the load balancer moves away; then the listener closes")
      ->capture_default_str()->check(CLI::Range(0, 600'000));
  cmd->add_option("--drain-timeout-ms", f.drain_timeout_ms,
                  "After the listener closes: how long answers in flight may take")
      ->capture_default_str()->check(CLI::Range(0, 600'000));
  cmd->add_option("--snapshot-fetch-stall-ms", f.snapshot_fetch_stall_ms,
                  "A cluster bootstrap gives up on a peer's snapshot when no byte of it came for this "
                  "long (and tries another peer)")
      ->capture_default_str()->check(CLI::Range(100, 3'600'000));
  cmd->add_option("--snapshot-fetch-max-bytes", f.snapshot_fetch_bytes_max,
                  "A peer's snapshot larger than this is refused")
      ->capture_default_str()->check(CLI::Range(uint64_t{1} << 20, uint64_t{1} << 42));
}

void add_connection_flags(CLI::App* cmd, NodeFlags& f) {
  cmd->add_option("--ops-listen", f.ops_listen,
                  "HOST:PORT serving /metrics, /health/*, the status page (/) and its reads apart from the "
                  "API, which then stops serving /metrics and / (keep them off the public network)");
  cmd->add_option("--connections-max", f.connections_max,
                  "Open connections at most; more get 503 and are closed (on HTTPS: only closed). "
                  "Needs as many open files: the node raises its soft limit to the hard one")
      ->capture_default_str()->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--connections-per-address-max", f.connections_per_address_max,
                  "Open connections from one client address at most (0: no cap); more are refused "
                  "like --connections-max")
      ->capture_default_str()->check(CLI::Range(0, 1'000'000));
}

// A node id goes into every batch the node writes (at most codec::kNodeIdMax
// bytes; a longer one used to stop the node at its first write).
// It names the node's etcd keys too, whose lanes add "/<lane>": no '/'.
std::string node_id_check(const std::string& id) {
  if (id.empty() || id.size() > codec::kNodeIdMax) {
    return "must be 1 to " + std::to_string(codec::kNodeIdMax) + " bytes long";
  }
  if (id.find('/') != std::string::npos) return "must not contain '/' (it names the node's etcd keys)";
  return "";
}

// The submit queue and group commit (node/submitter.h).
void add_batch_flags(CLI::App* cmd, node::NodeOptions& n) {
  cmd->add_option("--queue-commands-max", n.queue_commands_max, "Submit queue bound (429 above)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch-commands-max", n.batch_commands_max, "Commands per batch at most")
      ->capture_default_str()->check(CLI::Range(1, 65535));
  cmd->add_option("--batch-linger-us", n.batch_linger_us,
                  "Under load (the last batch held 4 commands or more), wait up to this long, and never "
                  "longer than the last append took, for --batch-linger-commands to queue before appending: "
                  "fewer, bigger etcd puts (0: never wait)")
      ->capture_default_str()->check(CLI::Range(0, 100'000));
  cmd->add_option("--batch-linger-commands", n.batch_linger_commands,
                  "The batch size that ends a --batch-linger-us wait at once")
      ->capture_default_str()->check(CLI::Range(1, 65535));
  cmd->add_option("--append-lanes", n.append_lanes,
                  "Cluster mode: etcd puts this node keeps in flight at once, each on a key of its own: "
                  "while one waits for its quorum, a full batch (--batch-linger-commands) that queued "
                  "meanwhile goes out on the next; the embedded file log takes one at a time")
      ->capture_default_str()->check(CLI::Range(1, 16));
}

// Every flag also from the environment, BETCORE_ and its long name in upper
// case with '_' for '-' (--data: BETCORE_DATA), and from the [node] section
// of `betcore --config FILE` (main.cc); the command line wins over both, the
// file over the environment (CLI11's order; docs/operations.md, "Configuration").
void add_environment(CLI::App* cmd) {
  for (CLI::Option* o : cmd->get_options()) {
    const std::vector<std::string>& names = o->get_lnames();
    if (names.empty() || names.front() == "help") continue;
    std::string env = "BETCORE_" + names.front();
    for (char& c : env) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    o->envname(env);
  }
}

void add_node_command(CLI::App& root) {
  auto flags = std::make_shared<NodeFlags>();
  CLI::App* cmd = root.add_subcommand("node", "Run a betcore node serving the HTTP API");
  cmd->add_option("--data", flags->data_dir, "Data directory (log and snapshots)")->required();
  cmd->add_option("--listen", flags->listen, "HOST:PORT to serve the API on")->capture_default_str();
  add_token_flags(cmd, *flags);
  cmd->add_option("--log", flags->log_url, "etcds://HOST:PORT,HOST:PORT,.../CLUSTER: join a cluster on this etcd log, with mutual TLS (etcd://: plain); default: the embedded file log in --data");
  cmd->add_option("--node-id", flags->node.node_id, "This node's id (1 to 64 bytes, in every batch it writes)")
      ->capture_default_str()
      ->check(node_id_check);
  add_tls_flags(cmd, *flags);
  add_limit_flags(cmd, flags->limits);
  add_connection_flags(cmd, *flags);
  add_timeout_flags(cmd, *flags);
  cmd->add_option("--log-connect-timeout-ms", flags->node.log_connect_timeout_ms,
                  "Cluster: how long to wait for etcd at start before giving up")
      ->capture_default_str()
      ->check(CLI::Range(100, 3'600'000));
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
  add_batch_flags(cmd, flags->node);
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
  add_environment(cmd);
  cmd->callback([flags] {
    int rc = run_node(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace betcore
