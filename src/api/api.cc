#include "api/api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "api/json_writer.h"
#include "api/request_parsing.h"
#include "api/stream.h"
#include "api/views.h"
#include "codec/command_codec.h"
#include "domain/ledger.h"
#include "domain/rejection.h"

namespace betcore::api {

using namespace betcore::domain;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::array<int, 14> kStatuses = {200, 201, 400, 401, 403, 404, 405,
                                           409, 413, 422, 429, 500, 503, 504};

const char* route_name(Route r) {
  switch (r) {
    case Route::create_account: return "create_account";
    case Route::get_account: return "get_account";
    case Route::self_exclusion: return "self_exclusion";
    case Route::account_bets: return "account_bets";
    case Route::deposit: return "deposit";
    case Route::request_withdrawal: return "request_withdrawal";
    case Route::complete_withdrawal: return "complete_withdrawal";
    case Route::fail_withdrawal: return "fail_withdrawal";
    case Route::get_withdrawal: return "get_withdrawal";
    case Route::ledger_balance: return "ledger_balance";
    case Route::create_event: return "create_event";
    case Route::create_market: return "create_market";
    case Route::get_market: return "get_market";
    case Route::prices: return "prices";
    case Route::suspend: return "suspend";
    case Route::resume: return "resume";
    case Route::close: return "close";
    case Route::settle: return "settle";
    case Route::resettle: return "resettle";
    case Route::place_bet: return "place_bet";
    case Route::get_bet: return "get_bet";
    case Route::stream: return "stream";
    case Route::cluster: return "cluster";
    case Route::snapshot: return "snapshot";
    case Route::alerts: return "alerts";
    case Route::health_live: return "health_live";
    case Route::health_ready: return "health_ready";
    case Route::metrics: return "metrics";
    case Route::dashboard: return "dashboard";
    case Route::not_found: return "not_found";
    case Route::count_: break;
  }
  return "unknown";
}

bool is_write(Route r) {
  switch (r) {
    case Route::create_account: case Route::self_exclusion: case Route::deposit:
    case Route::request_withdrawal: case Route::complete_withdrawal: case Route::fail_withdrawal:
    case Route::create_event: case Route::create_market: case Route::prices: case Route::suspend:
    case Route::resume: case Route::close: case Route::settle: case Route::resettle:
    case Route::place_bet:
      return true;
    default:
      return false;
  }
}

// Who may call a route (API.md). Punters are further limited to their account.
bool allowed(Route r, Role role) {
  auto any_of = [role](std::initializer_list<Role> roles) {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  };
  switch (r) {
    case Route::create_account: return any_of({Role::admin});
    case Route::get_account: return any_of({Role::admin, Role::payments, Role::punter});
    case Route::self_exclusion: return any_of({Role::admin, Role::punter});
    case Route::account_bets: return any_of({Role::admin, Role::trader, Role::punter});
    case Route::deposit: return any_of({Role::payments});
    case Route::request_withdrawal: return any_of({Role::admin, Role::punter});
    case Route::complete_withdrawal: case Route::fail_withdrawal: return any_of({Role::payments});
    case Route::get_withdrawal: return any_of({Role::admin, Role::payments, Role::punter});
    case Route::ledger_balance: return any_of({Role::admin});
    case Route::create_event: case Route::create_market: return any_of({Role::trader});
    case Route::get_market: return true;
    case Route::prices: case Route::suspend: case Route::resume: return any_of({Role::trader, Role::feed});
    case Route::close: case Route::settle: case Route::resettle: return any_of({Role::trader});
    case Route::place_bet: return any_of({Role::trader, Role::punter});
    case Route::get_bet: return any_of({Role::admin, Role::trader, Role::punter});
    case Route::stream: return any_of({Role::admin, Role::payments, Role::feed});
    case Route::cluster: case Route::alerts: case Route::snapshot: return any_of({Role::admin});
    default: return true;
  }
}

http::Response json_response(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Messages may quote what the client sent: keep them valid UTF-8 (so the
// answer stays JSON) by replacing every byte that is not part of a valid
// UTF-8 sequence with '?'.
std::string valid_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= in.size() && !(n == 2 && c < 0xC2);
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(in[i + k]) >> 6) == 0x2;
    if (ok && n == 3) {
      unsigned char c1 = static_cast<unsigned char>(in[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
    }
    if (ok && n == 4) {
      unsigned char c1 = static_cast<unsigned char>(in[i + 1]);
      ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90) && c <= 0xF4;
    }
    if (ok) {
      out.append(in.substr(i, n));
      i += n;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  return out;
}

http::Response error(int status, std::string_view code, std::string_view message) {
  return http::Response::error(status, code, valid_utf8(message));
}

http::Response with_retry_after(http::Response r, int seconds) {
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// The account a write acts for, to hold punters to their own.
std::string_view account_of(const Command& c) {
  if (auto* x = std::get_if<SetSelfExclusion>(&c)) return x->account_id;
  if (auto* x = std::get_if<RequestWithdrawal>(&c)) return x->account_id;
  if (auto* x = std::get_if<PlaceBet>(&c)) return x->account_id;
  if (auto* x = std::get_if<Deposit>(&c)) return x->account_id;
  return {};
}

}  // namespace

struct RouteMetrics {
  ops::Histogram* latency = nullptr;
  std::array<ops::Counter*, kStatuses.size() + 1> by_status{};

  void record(int status, Clock::time_point start) {
    size_t i = 0;
    while (i < kStatuses.size() && kStatuses[i] != status) ++i;
    by_status[i]->inc();
    latency->observe(Clock::now() - start);
  }
};

namespace {

// What is needed to answer a request, from any thread. Copyable.
struct Answer {
  http::Responder responder;
  RouteMetrics* metrics = nullptr;
  Clock::time_point start;

  void send(http::Response r) const {
    metrics->record(r.status, start);
    responder.send(std::move(r));
  }
};

}  // namespace

struct Api::Call {
  http::Request req;
  Answer answer;
  const Principal* principal = nullptr;
};

Api::Api(node::Node& node, const Tokens& tokens, ops::Registry& metrics)
    : node_(node), tokens_(tokens), metrics_(metrics),
      cluster_worker_(std::make_unique<Worker>()),
      snapshot_worker_(std::make_unique<Worker>()) {
  for (size_t r = 0; r < route_metrics_.size(); ++r) {
    auto m = std::make_unique<RouteMetrics>();
    ops::Labels route{{"route", route_name(static_cast<Route>(r))}};
    m->latency = &metrics.histogram("betcore_api_request_seconds",
                                    "Time from a request's arrival to its answer, by route", route);
    for (size_t i = 0; i <= kStatuses.size(); ++i) {
      ops::Labels labels = route;
      labels.emplace_back("code", i < kStatuses.size() ? std::to_string(kStatuses[i]) : "other");
      m->by_status[i] = &metrics.counter("betcore_api_requests_total",
                                         "Requests answered, by route and status", labels);
    }
    route_metrics_[r] = std::move(m);
  }
}

// Requests that wait on etcd (/v1/cluster) or the disk (/v1/snapshot) each
// have a worker thread and at most this many waiting: beyond, 503 at once.
constexpr size_t kWorkerTasksMax = 16;

struct Api::Worker {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;  // guarded by mu
  bool stopping = false;                    // guarded by mu
  std::thread thread;

  Worker() {
    thread = std::thread([this] {
      std::unique_lock lock(mu);
      for (;;) {
        cv.wait(lock, [&] { return stopping || !tasks.empty(); });
        if (tasks.empty()) return;
        std::function<void()> fn = std::move(tasks.front());
        tasks.pop_front();
        lock.unlock();
        fn();
        lock.lock();
      }
    });
  }
  ~Worker() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    thread.join();
  }
};

Api::~Api() = default;

bool Api::off_io_thread(Worker& worker, std::function<void()> fn) {
  {
    std::lock_guard lock(worker.mu);
    if (worker.tasks.size() >= kWorkerTasksMax) return false;
    worker.tasks.push_back(std::move(fn));
  }
  worker.cv.notify_one();
  return true;
}

void Api::cluster(Call& call) {
  auto shared = std::make_shared<Call>(std::move(call));
  bool queued = off_io_thread(*cluster_worker_, [this, shared] {
    node::NodeStatus st = node_.status();
    node::ClusterView view = node_.cluster_view();
    const std::string& node_id = node_.options().node_id;
    std::string body;
    JsonWriter w(body);
    w.begin_object();
    w.field("node_id", node_id);
    w.field_u64("applied_index", st.applied_index);
    w.field_u64("log_head", st.log_head);
    w.field("state_digest", st.checkpoint.digest);
    w.field_u64("checkpoint", st.checkpoint.index);
    w.field_bool("ready", st.ready);
    if (!st.ready) w.field("not_ready_reason", st.not_ready_reason);
    w.key("nodes").begin_array();
    if (view.backend == "file") {
      w.begin_object();
      w.field("id", node_id);
      w.field("address", node_.options().advertise_address);
      w.field_u64("applied_index", st.applied_index);
      w.field("state_digest", st.checkpoint.digest);
      w.field_u64("checkpoint", st.checkpoint.index);
      w.field_bool("ready", st.ready);
      w.end_object();
    }
    for (const node::PeerRecord& p : view.nodes) {
      w.begin_object();
      w.field("id", p.id);
      w.field("address", p.address);
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
    w.end_array();
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
    w.end_object();
    shared->answer.send(json_response(200, std::move(body)));
  });
  if (!queued) {
    shared->answer.send(with_retry_after(
        error(503, "unavailable", "too many /v1/cluster requests are waiting on etcd; retry"), 1));
  }
}

void Api::snapshot(Call& call) {
  auto shared = std::make_shared<Call>(std::move(call));
  bool queued = off_io_thread(*snapshot_worker_, [this, shared] {
    http::Response r;
    uint64_t index = 0;
    std::string error_text;
    if (!node_.newest_snapshot(r.body, index, error_text)) {
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

void Api::handle(http::Request&& request, http::Responder responder) {
  Call call;
  call.req = std::move(request);
  call.answer.responder = std::move(responder);
  call.answer.start = Clock::now();

  std::string_view path = call.req.path();
  // Split "/v1/<collection>/<id>/<sub>".
  std::array<std::string_view, 6> seg{};
  size_t n = 0;
  for (size_t i = 0; i < path.size();) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (n == seg.size()) {
      n = seg.size() + 1;  // too deep for any route
      break;
    }
    seg[n++] = path.substr(i, j - i);
    i = j;
  }
  const bool get = call.req.method == http::Method::get || call.req.method == http::Method::head;
  const bool post = call.req.method == http::Method::post;
  Route route = Route::not_found;
  bool method_ok = true;
  std::string_view id, sub;
  auto pick = [&](bool ok_method, Route r) {
    route = r;
    method_ok = ok_method;
  };
  if (n == 0) {
    pick(get, Route::dashboard);
  } else if (n == 2 && seg[0] == "health" && seg[1] == "live") {
    pick(get, Route::health_live);
  } else if (n == 2 && seg[0] == "health" && seg[1] == "ready") {
    pick(get, Route::health_ready);
  } else if (n == 1 && seg[0] == "metrics") {
    pick(get, Route::metrics);
  } else if (n >= 2 && n <= 4 && seg[0] == "v1") {
    std::string_view c = seg[1];
    id = n >= 3 ? seg[2] : std::string_view{};
    sub = n >= 4 ? seg[3] : std::string_view{};
    if (c == "accounts") {
      if (n == 2) pick(post, Route::create_account);
      else if (n == 3) pick(get, Route::get_account);
      else if (sub == "self-exclusion") pick(post, Route::self_exclusion);
      else if (sub == "bets") pick(get, Route::account_bets);
    } else if (c == "deposits" && n == 2) {
      pick(post, Route::deposit);
    } else if (c == "withdrawals") {
      if (n == 2) pick(post, Route::request_withdrawal);
      else if (n == 3) pick(get, Route::get_withdrawal);
      else if (sub == "complete") pick(post, Route::complete_withdrawal);
      else if (sub == "fail") pick(post, Route::fail_withdrawal);
    } else if (c == "ledger" && n == 3 && id == "balance") {
      pick(get, Route::ledger_balance);
    } else if (c == "events" && n == 2) {
      pick(post, Route::create_event);
    } else if (c == "markets") {
      if (n == 2) pick(post, Route::create_market);
      else if (n == 3) pick(get, Route::get_market);
      else if (sub == "prices") pick(post, Route::prices);
      else if (sub == "suspend") pick(post, Route::suspend);
      else if (sub == "resume") pick(post, Route::resume);
      else if (sub == "close") pick(post, Route::close);
      else if (sub == "settle") pick(post, Route::settle);
      else if (sub == "resettle") pick(post, Route::resettle);
    } else if (c == "bets") {
      if (n == 2) pick(post, Route::place_bet);
      else if (n == 3) pick(get, Route::get_bet);
    } else if (c == "stream" && n == 2) {
      pick(get, Route::stream);
    } else if (c == "cluster" && n == 2) {
      pick(get, Route::cluster);
    } else if (c == "snapshot" && n == 2) {
      pick(get, Route::snapshot);
    } else if (c == "alerts" && n == 2) {
      pick(get, Route::alerts);
    }
  }
  call.answer.metrics = route_metrics_[static_cast<size_t>(route)].get();
  if (route == Route::not_found) {
    call.answer.send(error(404, "not_found", "no such route: " + std::string(path) + " (see API.md)"));
    return;
  }
  if (!method_ok) {
    auto r = error(405, "invalid_request",
                   std::string(http::to_string(call.req.method)) + " is not allowed on " + std::string(path));
    r.headers.emplace_back("Allow", is_write(route) ? "POST" : "GET, HEAD");
    call.answer.send(std::move(r));
    return;
  }
  if (route == Route::health_live || route == Route::health_ready || route == Route::metrics ||
      route == Route::dashboard) {
    operations(call, route);
    return;
  }
  call.principal = tokens_.find(call.req.authorization);
  if (call.principal == nullptr) {
    auto r = error(401, "unauthenticated",
                   call.req.authorization.empty() ? "missing 'Authorization: Bearer <token>' header"
                                                  : "unknown token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    call.answer.send(std::move(r));
    return;
  }
  if (!allowed(route, call.principal->role)) {
    call.answer.send(error(403, "forbidden", "the " + std::string(role_name(call.principal->role)) +
                                                 " role may not call " + route_name(route)));
    return;
  }
  if (route == Route::cluster) {
    cluster(call);
  } else if (route == Route::snapshot) {
    snapshot(call);
  } else if (route == Route::alerts) {
    operations(call, route);
  } else if (route == Route::stream) {
    stream(call);
  } else if (is_write(route)) {
    write(call, route, id);
  } else {
    read(call, route, id);
  }
}

namespace {

Parsed parse_for(Route route, std::string_view path_id, std::string_view body) {
  switch (route) {
    case Route::create_account: return parse_create_account(body);
    case Route::self_exclusion: return parse_self_exclusion(path_id, body);
    case Route::deposit: return parse_deposit(body);
    case Route::request_withdrawal: return parse_withdrawal(body);
    case Route::complete_withdrawal: return parse_complete_withdrawal(path_id, body);
    case Route::fail_withdrawal: return parse_fail_withdrawal(path_id, body);
    case Route::create_event: return parse_create_event(body);
    case Route::create_market: return parse_create_market(body);
    case Route::prices: return parse_prices(path_id, body);
    case Route::suspend: return parse_market_status(path_id, MarketAction::suspend, body);
    case Route::resume: return parse_market_status(path_id, MarketAction::resume, body);
    case Route::close: return parse_market_status(path_id, MarketAction::close, body);
    case Route::settle: return parse_settle(path_id, body, false);
    case Route::resettle: return parse_settle(path_id, body, true);
    case Route::place_bet: return parse_bet(body);
    default: break;
  }
  Parsed p;
  p.error = "not a write";
  return p;
}

// The answer to an applied write, rendered on the applier thread.
http::Response render_write(Route route, const Outcome& out, const State& s, uint64_t index) {
  if (!out.ok()) {
    // Where the state machine refused it: "error": {code, message, index}.
    http::Response r = error(code_http_status(out.code), code_name(out.code), out.message);
    r.body.insert(r.body.size() - 2, ",\"index\":" + std::to_string(index));
    return r;
  }
  std::string body;
  body.reserve(512);
  JsonWriter w(body);
  int status = 200;
  switch (route) {
    case Route::create_account:
      status = 201;
      write_new_account(w, s, s.accounts[out.ref]);
      break;
    case Route::self_exclusion:
      write_account(w, s, s.accounts[out.ref], static_cast<int64_t>(index));
      break;
    case Route::deposit:
      status = 201;
      write_deposit(w, s, s.deposits[out.ref]);
      break;
    case Route::request_withdrawal:
      status = 201;
      write_withdrawal(w, s, s.withdrawals[out.ref], true);
      break;
    case Route::complete_withdrawal:
    case Route::fail_withdrawal:
      write_withdrawal(w, s, s.withdrawals[out.ref], false);
      break;
    case Route::create_event:
      status = 201;
      write_event(w, s.events[out.ref]);
      break;
    case Route::create_market:
      status = 201;
      write_market(w, s, s.markets[out.ref], static_cast<int64_t>(s.markets[out.ref].created_index.value));
      break;
    case Route::prices:
    case Route::suspend:
    case Route::resume:
    case Route::close:
      write_market(w, s, s.markets[out.ref], static_cast<int64_t>(index));
      break;
    case Route::settle:
    case Route::resettle: {
      const Market& m = s.markets[out.ref];
      w.begin_object();
      w.field("market_id", m.id);
      w.field_u64("settled_bets", out.count);
      w.field_u64("settlements", m.settlements);
      w.field_u64("index", m.settled_index.value);
      w.end_object();
      break;
    }
    case Route::place_bet:
      status = 201;
      write_bet(w, s, s.bets[out.ref], true);
      break;
    default:
      return error(500, "internal", "no renderer for this route");
  }
  return json_response(status, std::move(body));
}

}  // namespace

void Api::write(Call& call, Route route, std::string_view path_id) {
  Parsed parsed = parse_for(route, path_id, call.req.body);
  if (!parsed.ok()) {
    call.answer.send(error(400, "invalid_request", parsed.error));
    return;
  }
  if (call.principal->role == Role::punter) {
    std::string_view acct = account_of(parsed.command);
    if (acct != call.principal->account_id) {
      call.answer.send(error(403, "forbidden", "a punter token acts only for its own account"));
      return;
    }
  }
  std::string encoded;
  encoded.reserve(128);
  codec::encode_command(parsed.command, encoded);
  Answer answer = call.answer;
  node::SubmitStatus st = node_.submit(std::move(encoded), [answer, route](const node::WriteResult& r) {
    switch (r.kind) {
      case node::WriteResult::Kind::applied:
        answer.send(render_write(route, *r.outcome, *r.state, r.index));
        break;
      case node::WriteResult::Kind::outcome_unknown:
        answer.send(error(504, "outcome_unknown",
                          "the write may or may not have been committed (" + r.detail +
                              "); retry it with the same id"));
        break;
      case node::WriteResult::Kind::unavailable:
        answer.send(with_retry_after(
            error(503, "unavailable", "the write was not committed: " + r.detail + "; retry later"), 1));
        break;
    }
  });
  if (st == node::SubmitStatus::overloaded) {
    call.answer.send(with_retry_after(
        error(429, "overloaded", "the node's submit queue is full; retry after a second"), 1));
  } else if (st == node::SubmitStatus::unavailable) {
    node::NodeStatus ns = node_.status();
    call.answer.send(with_retry_after(
        error(503, "unavailable", "this node takes no writes now: " +
                                      (ns.not_ready_reason.empty() ? std::string("stopping") : ns.not_ready_reason)),
        1));
  }
}

namespace {

http::Response read_account_bets(const State& s, const Account& a, const http::Request& req) {
  std::string status = req.query_param("status").value_or("all");
  std::optional<BetStatus> want;
  bool settled_only = false;
  if (status == "open") want = BetStatus::open;
  else if (status == "won") want = BetStatus::won;
  else if (status == "lost") want = BetStatus::lost;
  else if (status == "void") want = BetStatus::void_;
  else if (status == "settled") settled_only = true;
  else if (status != "all") {
    return error(400, "invalid_request", "status must be open, settled, won, lost, void or all");
  }
  uint64_t limit = 100;
  if (auto l = req.query_param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v < 1 || *v > 1000) return error(400, "invalid_request", "limit must be 1..1000");
    limit = *v;
  }
  // Newest first, following the account's chain of bets.
  uint32_t next = a.last_bet;
  if (auto after = req.query_param("after")) {
    BetIdx b = s.bet_ids.find(*after);
    if (!b.valid() || s.bets[b.value].account.value != static_cast<uint32_t>(&a - s.accounts.data())) {
      return error(400, "invalid_request", "after must be the id of a bet of this account");
    }
    next = s.bets[b.value].prev_of_account;
  }
  std::string body;
  JsonWriter w(body);
  w.begin_object().key("bets").begin_array();
  uint64_t n = 0;
  // Bounded scan: at most 100 x limit bets looked at per page.
  const uint64_t scan_max = limit * 100;
  uint32_t last_seen = UINT32_MAX;
  for (uint64_t scanned = 0; next != UINT32_MAX && n < limit && scanned < scan_max; ++scanned) {
    const Bet& b = s.bets[next];
    last_seen = next;
    next = b.prev_of_account;
    if (want && b.status != *want) continue;
    if (settled_only && b.status == BetStatus::open) continue;
    write_bet(w, s, b, false);
    ++n;
  }
  w.end_array();
  if (next != UINT32_MAX && last_seen != UINT32_MAX) {
    w.field("next_after", s.bets[last_seen].id);
  } else {
    w.key("next_after").null();
  }
  w.end_object();
  return json_response(200, std::move(body));
}

http::Response read_ledger(const State& s) {
  LedgerCheck check = verify_ledger(s);
  std::string body;
  JsonWriter w(body);
  w.begin_object();
  w.field_i64("total", ledger_total(s));
  w.field_u64("accounts", s.accounts.size());
  w.field_bool("balanced", check.ok);
  if (!check.ok) w.field("problem", check.problem);
  w.key("currencies").begin_array();
  for (size_t c = 0; c < s.currencies.size(); ++c) {
    int64_t bal = 0, play = 0, pend = 0, recv = 0;
    for (const Account& a : s.accounts) {
      if (a.currency.value != c) continue;
      bal += a.balance.minor;
      play += a.in_play.minor;
      pend += a.pending_withdrawals.minor;
      recv += a.receivable.minor;
    }
    const CurrencyBook& b = s.currencies[c];
    w.begin_object();
    w.field("currency", b.code);
    w.field_i64("balances", bal);
    w.field_i64("in_play", play);
    w.field_i64("pending_withdrawals", pend);
    w.field_i64("receivable", recv);
    w.field_i64("house", b.house.minor);
    w.field_i64("world", b.world.minor);
    w.field_i64("deposits", b.deposits_total.minor);
    w.field_i64("withdrawals_completed", b.withdrawals_completed_total.minor);
    w.end_object();
  }
  w.end_array();
  w.field_u64("index", s.applied.value);
  w.end_object();
  return json_response(200, std::move(body));
}

}  // namespace

void Api::read(Call& call, Route route, std::string_view path_id) {
  const http::Request& req = call.req;
  if (route != Route::ledger_balance && !valid_id(path_id)) {
    call.answer.send(error(400, "invalid_request", "the id in the path must be 1-64 characters from [A-Za-z0-9_.:-]"));
    return;
  }
  node::Consistency consistency = node::Consistency::linearizable;
  if (auto stale = req.query_param("stale")) {
    if (*stale == "true") consistency = node::Consistency::stale;
    else if (*stale != "false") {
      call.answer.send(error(400, "invalid_request", "stale must be true or false"));
      return;
    }
  }
  uint64_t min_index = 0;
  if (auto mi = req.query_param("min_index")) {
    auto v = parse_u64(*mi);
    if (!v) {
      call.answer.send(error(400, "invalid_request", "min_index must be a non-negative integer"));
      return;
    }
    min_index = *v;
  }
  const Principal& who = *call.principal;
  if (who.role == Role::punter && (route == Route::get_account || route == Route::account_bets) &&
      path_id != who.account_id) {
    call.answer.send(error(403, "forbidden", "a punter token reads only its own account"));
    return;
  }
  std::string bet_account;
  if (route == Route::get_bet) {
    bet_account = req.query_param("account_id").value_or("");
    if (!bet_account.empty() && !valid_id(bet_account)) {
      call.answer.send(error(400, "invalid_request", "account_id must be 1-64 characters from [A-Za-z0-9_.:-]"));
      return;
    }
    if (who.role == Role::punter && bet_account != who.account_id) {
      call.answer.send(error(403, "forbidden", "a punter token reads only its own bets: pass ?account_id=<yours>"));
      return;
    }
  }
  // Everything the read needs is copied into the closure: it may run later,
  // on the applier thread.
  std::string id(path_id);  // before the move: path_id points into call.req
  auto shared = std::make_shared<Call>(std::move(call));
  node_.read(consistency, min_index,
             [shared, route, id = std::move(id), bet_account](const State* s) {
               const Answer& answer = shared->answer;
               if (s == nullptr) {
                 answer.send(with_retry_after(
                     error(503, "unavailable", "this node has not caught up with the log in time; retry, or pass stale=true"), 1));
                 return;
               }
               const Principal& who = *shared->principal;
               std::string body;
               JsonWriter w(body);
               switch (route) {
                 case Route::get_account: {
                   AccountIdx a = s->account_ids.find(id);
                   if (!a.valid()) return answer.send(error(404, "not_found", "no account '" + id + "'"));
                   write_account(w, *s, s->accounts[a.value]);
                   break;
                 }
                 case Route::account_bets: {
                   AccountIdx a = s->account_ids.find(id);
                   if (!a.valid()) return answer.send(error(404, "not_found", "no account '" + id + "'"));
                   return answer.send(read_account_bets(*s, s->accounts[a.value], shared->req));
                 }
                 case Route::get_withdrawal: {
                   WithdrawalIdx x = s->withdrawal_ids.find(id);
                   if (!x.valid() || (who.role == Role::punter &&
                                      s->accounts[s->withdrawals[x.value].account.value].id != who.account_id)) {
                     return answer.send(error(404, "not_found", "no withdrawal '" + id + "'"));
                   }
                   write_withdrawal(w, *s, s->withdrawals[x.value], false);
                   break;
                 }
                 case Route::ledger_balance:
                   return answer.send(read_ledger(*s));
                 case Route::get_market: {
                   MarketIdx m = s->market_ids.find(id);
                   if (!m.valid()) return answer.send(error(404, "not_found", "no market '" + id + "'"));
                   write_market(w, *s, s->markets[m.value]);
                   break;
                 }
                 case Route::get_bet: {
                   BetIdx b = s->bet_ids.find(id);
                   if (!b.valid() || (!bet_account.empty() &&
                                      s->accounts[s->bets[b.value].account.value].id != bet_account)) {
                     return answer.send(error(404, "not_found", "no bet '" + id + "'" +
                                                                    (bet_account.empty() ? "" : " for account '" + bet_account + "'")));
                   }
                   write_bet(w, *s, s->bets[b.value], false);
                   break;
                 }
                 default:
                   return answer.send(error(500, "internal", "no reader for this route"));
               }
               // The position this answer reflects: a client can check a
               // read against the log, or pass it back as min_index.
               http::Response r = json_response(200, std::move(body));
               r.headers.emplace_back("X-Betcore-Index", std::to_string(s->applied.value));
               answer.send(std::move(r));
             });
}

void Api::stream(Call& call) {
  node::StreamCursor cursor;
  auto from = call.req.query_param("from");
  auto after_seq = call.req.query_param("after_seq");
  if (from) {
    auto v = parse_u64(*from);
    if (!v) {
      call.answer.send(error(400, "invalid_request", "from must be a log index (a non-negative integer)"));
      return;
    }
    // from=N: every event of index N and after.
    cursor.index = *v;
    cursor.seq = 0;
    if (after_seq) {
      auto q = parse_u64(*after_seq);
      if (!q || *q > UINT32_MAX) {
        call.answer.send(error(400, "invalid_request", "after_seq must be the seq of the last event handled"));
        return;
      }
      cursor.seq = static_cast<uint32_t>(*q);
    }
    uint64_t first = node_.journal().first_covered();
    // Index 0 never holds a batch, so a journal covering 1.. covers everything.
    if ((cursor.index < first && first > 1) || node_.journal().dropped_after(cursor)) {
      call.answer.send(error(404, "not_found",
                             "events before index " + std::to_string(first) +
                                 " are no longer kept on this node; resync from the API, then stream from " +
                                 std::to_string(first)));
      return;
    }
  } else {
    // No cursor: only what commits from now on.
    cursor.index = node_.status().applied_index;
    cursor.seq = UINT32_MAX;
  }
  call.answer.metrics->record(200, call.answer.start);
  start_event_stream(node_.journal(), call.answer.responder, cursor);
}

void Api::operations(Call& call, Route route) {
  node::NodeStatus st = node_.status();
  switch (route) {
    case Route::health_live:
      call.answer.send(json_response(200, "{\"status\":\"live\"}"));
      return;
    case Route::health_ready: {
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
      return;
    }
    case Route::metrics: {
      http::Response r;
      r.status = 200;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      metrics_.expose_to(r.body);
      call.answer.send(std::move(r));
      return;
    }
    case Route::alerts: {
      std::string body;
      JsonWriter w(body);
      w.begin_object().key("alerts").begin_array();
      if (!st.ready) {
        w.begin_object().field("name", "node_not_ready").field("severity", "critical")
            .field("summary", st.not_ready_reason)
            .field("action", "none automatic: see docs/runbooks").end_object();
      }
      for (const std::string& a : node_.alerts()) {
        w.begin_object().field("name", "state_divergence").field("severity", "critical")
            .field("summary", a)
            .field("action", "the node that disagrees with the majority stops taking writes; "
                             "see docs/runbooks/divergence-alert.md").end_object();
      }
      w.end_array().end_object();
      call.answer.send(json_response(200, std::move(body)));
      return;
    }
    case Route::dashboard: {
      http::Response r;
      r.status = 200;
      r.content_type = "text/html; charset=utf-8";
      r.body =
          "<!doctype html><html><head><meta charset=utf-8><title>betcore</title></head><body>"
          "<h1>betcore node " + node_.options().node_id + "</h1>"
          "<p>applied index " + std::to_string(st.applied_index) + ", log head " + std::to_string(st.log_head) +
          ", " + (st.ready ? "ready" : "not ready: " + st.not_ready_reason) + "</p>"
          "<p><a href=\"/metrics\">metrics</a> &middot; <a href=\"/health/ready\">health</a></p>"
          "</body></html>";
      call.answer.send(std::move(r));
      return;
    }
    default:
      call.answer.send(error(500, "internal", "no handler for this route"));
  }
}

}  // namespace betcore::api
