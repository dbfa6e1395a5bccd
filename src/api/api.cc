// The router: the route table (one row per route), authorization, and dispatch.
#include "api/api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cstring>
#include <random>
#include <string>

#include "api/answers.h"
#include "api/route_handlers.h"
#include "ops/logging.h"

namespace betcore::api {

namespace {

// What a route answers to: GET (and HEAD, RFC 9110 9.3.2), POST, or, for
// not_found only, anything.
enum class Verb : uint8_t { get, post, any };

// Who may call a route (docs/api.md, Auth). Made only by the three functions
// below, so every row states it; a role not named is refused (403). Punters
// are further held to their own account by the handlers.
class Access {
 public:
  // No token: health, metrics and the status page, for probes and scrapers.
  static constexpr Access no_token() { return Access(false, 0); }
  // Any known token.
  static constexpr Access any_role() { return Access(true, ~uint32_t{0}); }
  static constexpr Access roles(std::initializer_list<Role> roles) {
    uint32_t bits = 0;
    for (Role r : roles) bits |= bit(r);
    return Access(true, bits);
  }

  constexpr bool token_needed() const { return token_needed_; }
  constexpr bool allows(Role role) const { return (roles_ & bit(role)) != 0; }

 private:
  constexpr Access(bool token_needed, uint32_t roles)
      : token_needed_(token_needed), roles_(roles) {}
  static constexpr uint32_t bit(Role r) { return uint32_t{1} << static_cast<uint32_t>(r); }

  bool token_needed_;
  uint32_t roles_;
};

void no_such_route(Services&, Call& call) {
  call.answer.send(error(404, "not_found",
                         "no such route: " + std::string(call.req.path()) + " (see docs/api.md)"));
}

struct RouteRow {
  Route route;
  std::string_view name;     // its metrics label, and how a 403 names it
  Verb verb;
  std::string_view pattern;  // "{id}" stands for any one segment; "" matches no path
  Access access;
  Handler handler;
};

using enum Role;
using A = Access;

// Rows in the order of enum Route (checked below). docs/api.md documents each.
// Long: a table, not a function (tidy counts its braces): one row per route.
constexpr std::array<RouteRow, static_cast<size_t>(Route::count_)> kRoutes = {{
    {Route::create_account, "create_account", Verb::post, "/v1/accounts",
     A::roles({admin}), routes::write},
    {Route::get_account, "get_account", Verb::get, "/v1/accounts/{id}",
     A::roles({admin, payments, punter}), routes::read},
    {Route::self_exclusion, "self_exclusion", Verb::post, "/v1/accounts/{id}/self-exclusion",
     A::roles({admin, punter}), routes::write},
    {Route::account_bets, "account_bets", Verb::get, "/v1/accounts/{id}/bets",
     A::roles({admin, trader, punter}), routes::read},
    {Route::deposit, "deposit", Verb::post, "/v1/deposits",
     A::roles({payments}), routes::write},
    {Route::get_deposit, "get_deposit", Verb::get, "/v1/deposits/{id}",
     A::roles({admin, payments}), routes::read},
    {Route::list_deposits, "list_deposits", Verb::get, "/v1/deposits",
     A::roles({admin, payments}), routes::read},
    {Route::request_withdrawal, "request_withdrawal", Verb::post, "/v1/withdrawals",
     A::roles({admin, punter}), routes::write},
    {Route::complete_withdrawal, "complete_withdrawal", Verb::post, "/v1/withdrawals/{id}/complete",
     A::roles({payments}), routes::write},
    {Route::fail_withdrawal, "fail_withdrawal", Verb::post, "/v1/withdrawals/{id}/fail",
     A::roles({payments}), routes::write},
    {Route::get_withdrawal, "get_withdrawal", Verb::get, "/v1/withdrawals/{id}",
     A::roles({admin, payments, punter}), routes::read},
    {Route::list_withdrawals, "list_withdrawals", Verb::get, "/v1/withdrawals",
     A::roles({admin, payments}), routes::read},
    {Route::ledger_balance, "ledger_balance", Verb::get, "/v1/ledger/balance",
     A::roles({admin}), routes::read},
    {Route::create_event, "create_event", Verb::post, "/v1/events",
     A::roles({trader, feed}), routes::write},
    {Route::create_market, "create_market", Verb::post, "/v1/markets",
     A::roles({trader, feed}), routes::write},
    {Route::get_market, "get_market", Verb::get, "/v1/markets/{id}",
     A::any_role(), routes::read},
    {Route::prices, "prices", Verb::post, "/v1/markets/{id}/prices",
     A::roles({trader, feed}), routes::write},
    {Route::suspend, "suspend", Verb::post, "/v1/markets/{id}/suspend",
     A::roles({trader, feed}), routes::write},
    {Route::resume, "resume", Verb::post, "/v1/markets/{id}/resume",
     A::roles({trader, feed}), routes::write},
    {Route::close, "close", Verb::post, "/v1/markets/{id}/close",
     A::roles({trader, feed}), routes::write},
    {Route::settle, "settle", Verb::post, "/v1/markets/{id}/settle",
     A::roles({trader, feed}), routes::write},
    {Route::resettle, "resettle", Verb::post, "/v1/markets/{id}/resettle",
     A::roles({trader, feed}), routes::write},
    {Route::place_bet, "place_bet", Verb::post, "/v1/bets",
     A::roles({trader, punter}), routes::write},
    {Route::get_bet, "get_bet", Verb::get, "/v1/bets/{id}",
     A::roles({admin, trader, punter}), routes::read},
    {Route::stream, "stream", Verb::get, "/v1/stream",
     A::roles({admin, payments, feed}), routes::stream},
    {Route::feed_prices, "feed_prices", Verb::post, "/v1/markets/{id}/feed-prices",
     A::roles({feed}), routes::write},
    {Route::feed_prices_batch, "feed_prices_batch", Verb::post, "/v1/feed-prices",
     A::roles({feed}), routes::feed_prices_batch},
    {Route::feed_alive, "feed_alive", Verb::post, "/v1/producers/{id}/alive",
     A::roles({feed}), routes::write},
    {Route::producers, "producers", Verb::get, "/v1/producers",
     A::roles({admin, trader, feed}), routes::read},
    {Route::cluster, "cluster", Verb::get, "/v1/cluster",
     A::roles({admin}), routes::cluster},
    {Route::snapshot, "snapshot", Verb::get, "/v1/snapshot",
     A::roles({admin, backup}), routes::snapshot},
    {Route::log_read, "log_read", Verb::get, "/v1/log",
     A::roles({backup}), routes::log_read},
    {Route::alerts, "alerts", Verb::get, "/v1/alerts",
     A::roles({admin}), routes::alerts},
    {Route::incidents, "incidents", Verb::get, "/v1/incidents",
     A::roles({admin}), routes::incidents},
    {Route::health_live, "health_live", Verb::get, "/health/live",
     A::no_token(), routes::health_live},
    {Route::health_ready, "health_ready", Verb::get, "/health/ready",
     A::no_token(), routes::health_ready},
    {Route::metrics, "metrics", Verb::get, "/metrics",
     A::no_token(), routes::metrics},
    {Route::dashboard, "dashboard", Verb::get, "/",
     A::no_token(), routes::dashboard},
    {Route::not_found, "not_found", Verb::any, "",
     A::no_token(), no_such_route},
}};

constexpr const RouteRow& row_of(Route route) { return kRoutes[static_cast<size_t>(route)]; }

// A path's segments: "//v1/markets/m1/" is {"v1", "markets", "m1"}.
struct Segments {
  static constexpr size_t kMax = 4;  // the deepest route's; deeper paths match nothing
  std::array<std::string_view, kMax> seg{};
  size_t n = 0;
  bool too_deep = false;
};

constexpr Segments split_path(std::string_view path) {
  Segments out;
  for (size_t i = 0; i < path.size();) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = std::min(path.find('/', i), path.size());
    if (out.n == Segments::kMax) {
      out.too_deep = true;
      break;
    }
    out.seg[out.n++] = path.substr(i, j - i);
    i = j;
  }
  return out;
}

constexpr std::string_view kIdSegment = "{id}";

constexpr std::array<Segments, kRoutes.size()> kPatterns = [] {
  std::array<Segments, kRoutes.size()> out{};
  for (size_t r = 0; r < kRoutes.size(); ++r) out[r] = split_path(kRoutes[r].pattern);
  return out;
}();

// Could one path match both patterns?
constexpr bool overlap(const Segments& a, const Segments& b) {
  if (a.n != b.n) return false;
  for (size_t i = 0; i < a.n; ++i) {
    if (a.seg[i] != b.seg[i] && a.seg[i] != kIdSegment && b.seg[i] != kIdSegment) return false;
  }
  return true;
}

constexpr bool same_pattern(const Segments& a, const Segments& b) {
  if (a.n != b.n) return false;
  for (size_t i = 0; i < a.n; ++i) {
    if (a.seg[i] != b.seg[i]) return false;
  }
  return true;
}

// Two rows may share a path only as the GET and the POST of the same
// pattern (GET and POST /v1/deposits): then the method alone picks the row.
constexpr bool may_share_paths(size_t r, size_t s) {
  const bool one_get_one_post = (kRoutes[r].verb == Verb::get && kRoutes[s].verb == Verb::post) ||
                                (kRoutes[r].verb == Verb::post && kRoutes[s].verb == Verb::get);
  return one_get_one_post && same_pattern(kPatterns[r], kPatterns[s]);
}

constexpr bool table_is_sound() {
  for (size_t r = 0; r < kRoutes.size(); ++r) {
    const RouteRow& row = kRoutes[r];
    if (static_cast<size_t>(row.route) != r) return false;
    if (kPatterns[r].too_deep || (row.pattern.empty() != (row.verb == Verb::any))) return false;
    for (size_t s = r + 1; s < kRoutes.size(); ++s) {
      const bool both_match_paths = !row.pattern.empty() && !kRoutes[s].pattern.empty();
      if (both_match_paths && overlap(kPatterns[r], kPatterns[s]) && !may_share_paths(r, s)) {
        return false;
      }
    }
  }
  return true;
}
static_assert(table_is_sound(),
              "kRoutes: a row each in enum order, at most one row per path and method, "
              "and only not_found without a pattern");

bool verb_allows(Verb verb, http::Method method) {
  switch (verb) {
    case Verb::get: return method == http::Method::get || method == http::Method::head;
    case Verb::post: return method == http::Method::post;
    case Verb::any: return true;
  }
  return false;
}

// The row a request goes to, its path's {id} segment, and, when the path
// is known but not the method (405), what the Allow header names.
struct Match {
  const RouteRow* row = &row_of(Route::not_found);
  std::string_view path_id;
  bool method_allowed = true;
  bool path_takes_get = false;
  bool path_takes_post = false;

  std::string_view allow() const {
    if (path_takes_get && path_takes_post) return "GET, HEAD, POST";
    return path_takes_post ? "POST" : "GET, HEAD";
  }
};

// The row whose pattern the path matches and whose verb takes the method;
// when rows match the path but none takes the method, the first of them,
// with method_allowed false; not_found's when no pattern matches.
Match match(std::string_view path, http::Method method) {
  Match out;
  const Segments got = split_path(path);
  if (got.too_deep) return out;
  bool path_known = false;
  for (size_t r = 0; r < kRoutes.size(); ++r) {
    const Segments& want = kPatterns[r];
    if (kRoutes[r].pattern.empty() || want.n != got.n) continue;
    std::string_view id;
    size_t i = 0;
    for (; i < got.n; ++i) {
      if (want.seg[i] == kIdSegment) id = got.seg[i];
      else if (want.seg[i] != got.seg[i]) break;
    }
    if (i != got.n) continue;
    out.path_takes_get |= kRoutes[r].verb == Verb::get;
    out.path_takes_post |= kRoutes[r].verb == Verb::post;
    if (verb_allows(kRoutes[r].verb, method)) {
      out.row = &kRoutes[r];
      out.path_id = id;
      out.method_allowed = true;
      return out;
    }
    if (!path_known) {
      out.row = &kRoutes[r];
      out.path_id = id;
      out.method_allowed = false;
      path_known = true;
    }
  }
  return out;
}

}  // namespace

Api::Api(node::Node& node, const Tokens& tokens, ops::Registry& metrics, RateLimits limits)
    : tokens_(tokens),
      limits_(std::move(limits)),
      punters_({limits_.punter_rps, limits_.punter_burst}),
      services_limiter_({limits_.service_rps, limits_.service_burst}),
      addresses_({limits_.address_rps, limits_.address_burst}),
      services_(std::make_unique<Services>(node, metrics)) {
  std::random_device random;
  id_prefix_ = fmt::format("{:08x}", random());
  const char* kinds[] = {"punter_token", "service_token", "address"};
  for (size_t i = 0; i < 3; ++i) {
    rate_limited_[i] = &metrics.counter("betcore_api_rate_limited_total",
                                        "Requests refused 429 rate_limited, by the budget they broke",
                                        {{"budget", kinds[i]}});
  }
  for (size_t r = 0; r < route_metrics_.size(); ++r) {
    auto m = std::make_unique<RouteMetrics>();
    ops::Labels route{{"route", std::string(kRoutes[r].name)}};
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

Api::~Api() = default;

void Api::handle(http::Request&& request, http::Responder responder) {
  Call call;
  call.req = std::move(request);
  call.answer.responder = std::move(responder);
  call.answer.start = Clock::now();
  const std::string_view path = call.req.path();
  const Match found = match(path, call.req.method);
  const RouteRow& row = *found.row;
  call.path_id = found.path_id;
  call.route = row.route;
  call.answer.metrics = route_metrics_[static_cast<size_t>(row.route)].get();
  call.answer.request_id = request_id(call.req);
  call.answer.route = row.name;
  if (!found.method_allowed) {
    auto r = error(405, "invalid_request", std::string(http::to_string(call.req.method)) +
                                               " is not allowed on " + std::string(path));
    r.headers.emplace_back("Allow", std::string(found.allow()));
    call.answer.send(std::move(r));
    return;
  }
  // Health checks and scrapes come from the load balancer and Prometheus:
  // never limited, or a busy address would take a node out of rotation.
  const bool probe = row.route == Route::health_live || row.route == Route::health_ready ||
                     row.route == Route::metrics;
  if (addresses_.enabled() && !probe &&
      over_budget(addresses_, client_address(call.req), call)) {
    rate_limited_[2]->inc();
    return;
  }
  if (row.access.token_needed()) {
    call.principal = tokens_.find(call.req.authorization);
    if (call.principal == nullptr) {
      auto r =
          error(401, "unauthenticated",
                call.req.authorization.empty() ? "missing 'Authorization: Bearer <token>' header"
                                               : "unknown token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      call.answer.send(std::move(r));
      return;
    }
    if (!row.access.allows(call.principal->role)) {
      call.answer.send(error(403, "forbidden",
                             "the " + std::string(role_name(call.principal->role)) +
                                 " role may not call " + std::string(row.name)));
      return;
    }
    const bool punter = call.principal->role == Role::punter;
    RateLimiter& budget = punter ? punters_ : services_limiter_;
    if (budget.enabled() && over_budget(budget, call.principal->token_id, call)) {
      rate_limited_[punter ? 0 : 1]->inc();
      return;
    }
  }
  row.handler(*services_, call);
}

std::string Api::request_id(const http::Request& request) {
  const std::string_view given = request.header("x-request-id");
  const bool sane = !given.empty() && given.size() <= 128 &&
                    std::all_of(given.begin(), given.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_.:+/=@", c) != nullptr;
                    });
  if (sane) return std::string(given);
  return fmt::format("{}-{:x}", id_prefix_, ids_.fetch_add(1, std::memory_order_relaxed) + 1);
}

void Answer::log_server_error(const http::Response& r) const {
  // Not the probes (a node out of rotation answers 503 to every check), and
  // at most one line a second with a count of the rest: an etcd outage makes
  // every write a 5xx, and the log must not become the bottleneck.
  if (route == "health_ready" || route == "health_live" || route == "metrics") return;
  static std::atomic<int64_t> next_ms{0};
  static std::atomic<uint64_t> quiet{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t next = next_ms.load(std::memory_order_relaxed);
  if (now < next || !next_ms.compare_exchange_strong(next, now + 1000)) {
    quiet.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t more = quiet.exchange(0);
  ops::log(spdlog::level::warn,
           fmt::format("{} answered {} (request id {}): {}{}", route, r.status, request_id,
                       std::string_view(r.body).substr(0, 300),
                       more > 0 ? fmt::format(" ({} more 5xx answers in the last second, not logged)", more) : ""),
           {{"route", route}, {"status", r.status}, {"request_id", request_id}, {"unlogged_5xx", more}});
}

std::string_view Api::client_address(const http::Request& request) const {
  // "127.0.0.1:5432" or "[::1]:5432": the address without the port.
  std::string_view remote = request.remote;
  remote = remote.substr(0, remote.rfind(':'));
  if (remote.size() > 2 && remote.front() == '[') remote = remote.substr(1, remote.size() - 2);
  if (std::find(limits_.trusted_proxies.begin(), limits_.trusted_proxies.end(), remote) ==
      limits_.trusted_proxies.end()) {
    return remote;
  }
  // The proxy appends the address it saw last (RFC 7239's X-Forwarded-For
  // practice): only that entry is the proxy's word; earlier ones are the
  // client's and can be forged.
  // HAProxy adds its own X-Forwarded-For line after any the client sent, so
  // the last line holds the proxy's entry (a client's own lines come first).
  std::string_view forwarded;
  for (const auto& [name, value] : request.headers) {
    if (name == "x-forwarded-for") forwarded = value;
  }
  forwarded = forwarded.substr(forwarded.rfind(',') + 1);
  while (!forwarded.empty() && forwarded.front() == ' ') forwarded.remove_prefix(1);
  return forwarded.empty() ? remote : forwarded;
}

bool Api::over_budget(RateLimiter& limiter, std::string_view key, Call& call) {
  int retry_after_s = 1;
  if (limiter.admit(key, RateLimiter::Clock::now(), retry_after_s)) return false;
  call.answer.send(with_retry_after(
      error(429, "rate_limited",
            "this client is over its request budget; retry after " + std::to_string(retry_after_s) +
                " s"),
      retry_after_s));
  return true;
}

}  // namespace betcore::api
