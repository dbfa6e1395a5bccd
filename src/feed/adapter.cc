// The feed adapter process: one thread owns the AMQP connection (consume,
// ack, dead-letter, heartbeats and recovery); workers apply messages to
// betcore, one event always on the same worker so its messages keep their
// order.
#include "feed/adapter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/http/http_server.h"
#include "feed/apply.h"
#include "tools/backoff.h"
#include "feed/feed_state.h"
#include "ops/metrics.h"
#include "ops/process_metrics.h"
#include "tools/server_process.h"

namespace betcore::feed {
namespace {

using Clock = std::chrono::steady_clock;

struct Work {
  uint64_t generation = 0;  // of the AMQP connection that delivered it
  uint64_t tag = 0;
  uint64_t seq = 0;  // dispatch order (a recovery waits for everything before it)
  Message message;
  std::string body;
};

struct Done {
  Work work;
  Outcome outcome;
};

// What the adapter counts, for /metrics.
struct Metrics {
  explicit Metrics(ops::Registry& r)
      : applied(r.counter("betcore_feed_messages_total", "Feed messages handled, by outcome",
                          {{"outcome", "applied"}})),
        stale(r.counter("betcore_feed_messages_total", "Feed messages handled, by outcome",
                        {{"outcome", "stale"}})),
        not_open(r.counter("betcore_feed_messages_total", "Feed messages handled, by outcome",
                           {{"outcome", "not_open"}})),
        dead(r.counter("betcore_feed_messages_total", "Feed messages handled, by outcome",
                       {{"outcome", "dead_letter"}})),
        prices(r.counter("betcore_feed_prices_applied_total",
                         "Selection prices applied by odds changes (not counting stale ones)")),
        retries(r.counter("betcore_feed_retries_total",
                          "Requests to betcore tried again (betcore busy, unreachable or unsure)")),
        batches(r.counter("betcore_feed_batch_requests_total",
                          "POST /v1/feed-prices requests sent (odds changes in batches)")),
        recoveries(r.counter("betcore_feed_recoveries_total",
                             "Producers reopened after a recovery from the provider")),
        recovery_requests(r.counter("betcore_feed_recovery_requests_total",
                                    "Recovery requests sent to the provider")),
        reconnects(r.counter("betcore_feed_amqp_connections_total",
                             "Connections opened to RabbitMQ (1 + reconnects)")),
        connected(r.gauge("betcore_feed_amqp_connected", "1 while connected to RabbitMQ")),
        in_flight(r.gauge("betcore_feed_in_flight", "Messages delivered and not yet acked")),
        latency(r.histogram("betcore_feed_apply_latency_seconds",
                            "From the provider's time stamp to betcore's acknowledgement")) {}
  ops::Counter& applied;
  ops::Counter& stale;
  ops::Counter& not_open;
  ops::Counter& dead;
  ops::Counter& prices;
  ops::Counter& retries;
  ops::Counter& batches;
  ops::Counter& recoveries;
  ops::Counter& recovery_requests;
  ops::Counter& reconnects;
  ops::Gauge& connected;
  ops::Gauge& in_flight;
  ops::Histogram& latency;
};

// One worker: its own queue and its own connection to betcore. It takes the
// odds changes waiting at the front of its queue together (up to --batch,
// stopping at any other message, so the partition's order holds) and sends
// them as one batch; anything else alone.
class Worker {
 public:
  Worker(const AdapterOptions& options, Metrics& metrics, std::function<void(Done)> done, uint64_t seed)
      : options_(options), metrics_(metrics), done_(std::move(done)), backoff_(50, 5000, seed),
        thread_([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void push(Work work) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(work));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    tools::HttpClient betcore(options_.betcore);
    std::vector<Work> taken;
    while (take(taken)) {
      const bool batch = options_.batch > 1 && taken.front().message.kind == Kind::odds_change;
      std::vector<Outcome> outcomes =
          batch ? apply_batch(betcore, taken) : apply_one(betcore, taken);
      if (outcomes.empty()) return;  // stopping
      for (size_t i = 0; i < taken.size(); ++i) {
        done_(Done{std::move(taken[i]), std::move(outcomes[i])});
      }
    }
  }

  // The next message, and the odds changes right behind it when it is one
  // (at most --batch, and kBatchBytesMax of message bodies). False: stop.
  bool take(std::vector<Work>& taken) {
    taken.clear();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return false;
    size_t bytes = 0;
    do {
      bytes += queue_.front().body.size();
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
    } while (taken.front().message.kind == Kind::odds_change && !queue_.empty() &&
             taken.size() < static_cast<size_t>(options_.batch) &&
             queue_.front().message.kind == Kind::odds_change &&
             bytes + queue_.front().body.size() <= kBatchBytesMax);
    return true;
  }

  static bool must_retry(const Outcome& o) {
    return o.kind == Outcome::Kind::retry || o.kind == Outcome::Kind::fatal;
  }

  // Waits before trying again; false when stopping.
  bool wait_before_retry(const Outcome& o, const Message& m, size_t count) {
    int wait = o.kind == Outcome::Kind::fatal ? 5000 : backoff_.next_ms();
    metrics_.retries.inc();
    spdlog::log(o.kind == Outcome::Kind::fatal ? spdlog::level::err : spdlog::level::warn,
                "feed: {} {}{}: {}; trying again in {} ms", kind_name(m.kind),
                m.market_id.empty() ? m.event_id : m.market_id,
                count > 1 ? fmt::format(" and {} more", count - 1) : "", o.reason, wait);
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, std::chrono::milliseconds(wait), [&] { return stop_; });
  }

  // One message alone, tried until betcore answers it for itself. Empty:
  // stopping.
  std::vector<Outcome> apply_one(tools::HttpClient& betcore, const std::vector<Work>& taken) {
    const Message& m = taken.front().message;
    Outcome o = apply_message(betcore, options_.token, m);
    backoff_.reset();
    while (must_retry(o)) {
      if (!wait_before_retry(o, m, 1)) return {};
      o = apply_message(betcore, options_.token, m);
    }
    return {std::move(o)};
  }

  // Odds changes in one request, the ones betcore did not answer for
  // themselves sent again (in order) until it does. Empty: stopping.
  std::vector<Outcome> apply_batch(tools::HttpClient& betcore, const std::vector<Work>& taken) {
    std::vector<const Message*> pending;
    for (const Work& w : taken) pending.push_back(&w.message);
    std::vector<Outcome> out(taken.size());
    std::vector<size_t> where(taken.size());
    for (size_t i = 0; i < where.size(); ++i) where[i] = i;
    backoff_.reset();
    for (;;) {
      metrics_.batches.inc();
      std::vector<Outcome> got = apply_odds_changes(betcore, options_.token, pending);
      std::vector<const Message*> again;
      std::vector<size_t> again_where;
      for (size_t k = 0; k < got.size(); ++k) {
        if (must_retry(got[k])) {
          again.push_back(pending[k]);
          again_where.push_back(where[k]);
        }
        out[where[k]] = std::move(got[k]);
      }
      if (again.empty()) return out;
      if (!wait_before_retry(out[again_where.front()], *again.front(), again.size())) return {};
      pending = std::move(again);
      where = std::move(again_where);
    }
  }

  // Message bodies in one batch at most: their request stays well under a
  // node's default 64 KiB body limit (docs/api.md); a node with a lower one
  // answers 413 and the batch goes one by one.
  static constexpr size_t kBatchBytesMax = 48 * 1024;

  const AdapterOptions& options_;
  Metrics& metrics_;
  std::function<void(Done)> done_;
  tools::Backoff backoff_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> queue_;  // bounded by --prefetch: the broker delivers no more unacked
  bool stop_ = false;
  std::thread thread_;  // last: starts after everything it uses
};

// Where a producer stands in the adapter's eyes:
//   live -> must_recover (betcore says down, or the provider lost our messages)
//        -> recovering (asked the provider) -> draining (its snapshot_complete
//        came; waiting until everything dispatched before it is acked)
//        -> recovered (the next alive says recovered:true) -> live.
struct ProducerState {
  enum class Phase { live, must_recover, recovering, draining, recovered } phase = Phase::live;
  std::string request_id;
  Clock::time_point requested_at{};
  int64_t requested_at_ms = 0;  // wall clock: alives stamped before it are older news
  int64_t answered_at_ms = 0;   // wall clock when the provider took the request
  uint64_t barrier = 0;         // draining: the last dispatch seq before snapshot_complete
};

class Adapter {
 public:
  Adapter(const AdapterOptions& options, ops::Registry& registry)
      : options_(options), metrics_(registry), state_(options.state_file),
        betcore_(options.betcore), provider_(options.provider) {
    for (int i = 0; i < std::max(1, options.workers); ++i) {
      workers_.push_back(std::make_unique<Worker>(
          options_, metrics_, [this](Done d) { finish(std::move(d)); }, 0x600d + i));
    }
  }
  ~Adapter() { workers_.clear(); }

  void run(const std::atomic<bool>& stop);

 private:
  void finish(Done done) {
    {
      std::lock_guard lock(done_mu_);
      done_.push_back(std::move(done));
    }
    done_cv_.notify_all();
  }
  void session(Amqp& amqp, Amqp& dead, const std::atomic<bool>& stop);
  void settle_done(Amqp& amqp, Amqp& dead);
  void ack_done(Amqp& amqp);
  void dispatch(Amqp& amqp, Amqp& dead, Delivery delivery);
  void on_alive(const Message& m);
  void on_snapshot_complete(const Message& m);
  void request_recovery(const std::string& producer, ProducerState& p);
  void check_drained();
  void learn_producers();
  bool post_alive(const Message& m, bool recovered, ProducerState& p);
  std::string dead_queue() const { return options_.queue + ".dead"; }

  const AdapterOptions& options_;
  Metrics metrics_;
  FeedState state_;
  tools::HttpClient betcore_;   // the AMQP thread's: alives
  tools::HttpClient provider_;  // the AMQP thread's: recovery requests
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::deque<Done> done_;
  uint64_t generation_ = 0;
  uint64_t dispatched_ = 0;          // dispatch seqs handed out
  std::set<uint64_t> outstanding_;   // dispatched in this generation, not yet acked
  // Delivery tags of this generation: with a worker, and done but not yet
  // acked (see ack_done).
  std::set<uint64_t> working_tags_;
  std::set<uint64_t> done_tags_;
  std::map<std::string, ProducerState> producers_;
  std::set<std::string> known_;      // producers betcore has (an alive created them)
};

void Adapter::settle_done(Amqp& amqp, Amqp& dead) {
  std::deque<Done> batch;
  {
    std::lock_guard lock(done_mu_);
    batch.swap(done_);
  }
  bool dead_published = false;
  for (Done& d : batch) {
    if (d.work.generation != generation_) continue;  // its channel is gone: redelivered already
    outstanding_.erase(d.work.seq);
    switch (d.outcome.kind) {
      case Outcome::Kind::applied:
        metrics_.applied.inc();
        if (d.work.message.kind == Kind::odds_change) metrics_.prices.inc(d.work.message.prices.size());
        break;
      case Outcome::Kind::stale: metrics_.stale.inc(); break;
      case Outcome::Kind::not_open: metrics_.not_open.inc(); break;
      default:
        dead.publish("", dead_queue(), d.work.body, "x-betcore-reason", d.outcome.reason);
        dead_published = true;
        metrics_.dead.inc();
        spdlog::warn("feed: dead-lettered {} {}: {}", kind_name(d.work.message.kind),
                     d.work.message.market_id, d.outcome.reason);
    }
    metrics_.latency.observe(std::max<int64_t>(0, wall_ms() - d.work.message.ts) / 1000.0);
    working_tags_.erase(d.work.tag);
    done_tags_.insert(d.work.tag);
  }
  if (dead_published) dead.wait_confirms(10000);  // in the dead-letter queue before the ack
  ack_done(amqp);
  metrics_.in_flight.set(static_cast<double>(outstanding_.size()));
  check_drained();
  state_.save_if_due();
}

// Done messages are acked with one multiple ack up to the oldest delivery
// still with a worker: the broker then acks every unacked tag up to it, and
// each of those is done (or was acked at once: alives, malformed). Done ones
// past it wait, a quarter of the prefetch at most, then go one ack each, so a
// slow partition never fills the prefetch window. Why: one ack frame per
// message cost the broker, which shares the machine, a good part of its CPU.
// A done message not yet acked only comes again after a crash, harmlessly.
void Adapter::ack_done(Amqp& amqp) {
  if (done_tags_.empty()) return;
  const uint64_t oldest_working = working_tags_.empty() ? UINT64_MAX : *working_tags_.begin();
  auto past = done_tags_.lower_bound(oldest_working);
  if (past != done_tags_.begin()) {
    amqp.ack(*std::prev(past), /*multiple=*/true);
    done_tags_.erase(done_tags_.begin(), past);
  }
  const bool draining = std::any_of(producers_.begin(), producers_.end(), [](const auto& p) {
    return p.second.phase == ProducerState::Phase::draining;  // "acked" before it reopens
  });
  const size_t held_max = static_cast<size_t>(std::max(1, options_.prefetch / 4));
  if (done_tags_.size() > held_max || draining) {
    for (uint64_t tag : done_tags_) amqp.ack(tag);
    done_tags_.clear();
  }
}

void Adapter::dispatch(Amqp& amqp, Amqp& dead, Delivery delivery) {
  auto parsed = parse_message(delivery.body);
  if (auto* reason = std::get_if<std::string>(&parsed)) {
    dead.publish("", dead_queue(), delivery.body, "x-betcore-reason", "malformed: " + *reason);
    dead.wait_confirms(10000);
    amqp.ack(delivery.tag);
    metrics_.dead.inc();
    spdlog::warn("feed: dead-lettered a malformed message ({}): {}", delivery.routing_key, *reason);
    return;
  }
  Message& m = std::get<Message>(parsed);
  if (m.kind == Kind::alive) {
    on_alive(m);
    amqp.ack(delivery.tag);
    return;
  }
  if (m.kind == Kind::snapshot_complete) {
    on_snapshot_complete(m);
    amqp.ack(delivery.tag);
    return;
  }
  const std::string& key = m.event_id.empty() ? m.market_id : m.event_id;
  size_t w = std::hash<std::string>{}(key) % workers_.size();
  uint64_t seq = ++dispatched_;
  outstanding_.insert(seq);
  working_tags_.insert(delivery.tag);
  workers_[w]->push(Work{generation_, delivery.tag, seq, std::move(m), std::move(delivery.body)});
}

void Adapter::request_recovery(const std::string& producer, ProducerState& p) {
  p.requested_at_ms = wall_ms();
  p.request_id = fmt::format("rc-{}-{}", producer, p.requested_at_ms);
  p.requested_at = Clock::now();
  int64_t after = std::max<int64_t>(0, state_.last_ts(producer) - 1);
  metrics_.recovery_requests.inc();
  tools::Response r = provider_.post(
      fmt::format("/v1/recovery/{}?after={}&request_id={}", producer, after, p.request_id), "");
  if (r.status != 202) {
    spdlog::warn("feed: recovery request for {} failed ({}); asking again on its next alive", producer,
                 r.status == 0 ? r.error : fmt::format("{} {}", r.status, r.body));
    p.phase = ProducerState::Phase::must_recover;
    return;
  }
  p.phase = ProducerState::Phase::recovering;
  p.answered_at_ms = wall_ms();
  spdlog::info("feed: producer {}: recovery {} of everything after {}", producer, p.request_id, after);
}

bool Adapter::post_alive(const Message& m, bool recovered, ProducerState& p) {
  const std::string& producer = m.producer;
  tools::Response r = betcore_.post("/v1/producers/" + producer + "/alive",
                                    alive_body(options_.limit_ms, recovered, m.ts), options_.token);
  if (r.ok()) {
    known_.insert(producer);
    if (recovered) {
      metrics_.recoveries.inc();
      spdlog::info("feed: producer {} is up again after recovery {}", producer, p.request_id);
    }
    p.phase = ProducerState::Phase::live;
    return true;
  }
  if (r.status == 409) {
    known_.insert(producer);
    spdlog::warn("feed: betcore says producer {} is down: recovering what it missed", producer);
    request_recovery(producer, p);
  } else {
    spdlog::warn("feed: alive of {} not taken ({}); the next one will try again", producer,
                 r.status == 0 ? r.error : fmt::format("{} {}", r.status, r.body));
  }
  return false;
}

void Adapter::on_alive(const Message& m) {
  ProducerState& p = producers_[m.producer];
  using Phase = ProducerState::Phase;
  // The provider lost messages for us (it says so until we ask it to
  // recover): recover, whatever we were doing, unless this alive was sent
  // before our last recovery request.
  if (!m.subscribed && m.ts >= p.requested_at_ms &&
      (p.phase == Phase::live || p.phase == Phase::recovered)) {
    spdlog::warn("feed: producer {} says messages meant for us were lost: recovering", m.producer);
    p.phase = Phase::must_recover;
  }
  if (m.subscribed && p.phase == Phase::live) {
    // Everything the producer sent before this alive is in our queue: a
    // recovery never needs to go further back.
    state_.applied(m.producer, m.ts);
  }
  // Lost again after the provider took our request (it was cut off while
  // sending the recovery): what it sends for the request may be lost too.
  // Ask again now rather than after the recovery timeout.
  if (!m.subscribed && m.ts > p.answered_at_ms &&
      (p.phase == Phase::recovering || p.phase == Phase::draining)) {
    spdlog::warn("feed: producer {} lost messages during recovery {}: asking again", m.producer,
                 p.request_id);
    p.phase = Phase::must_recover;
  }
  if ((p.phase == Phase::recovering || p.phase == Phase::draining) &&
      Clock::now() - p.requested_at > std::chrono::milliseconds(options_.recovery_timeout_ms)) {
    spdlog::warn("feed: recovery {} of {} not complete after {} ms ({} messages not yet applied): "
                 "asking again",
                 p.request_id, m.producer, options_.recovery_timeout_ms, outstanding_.size());
    p.phase = Phase::must_recover;
  }
  if (p.phase == Phase::must_recover) request_recovery(m.producer, p);
  if (p.phase != Phase::live && p.phase != Phase::recovered) return;  // markets stay shut until then
  if (wall_ms() - m.ts > options_.alive_max_lag_ms && known_.count(m.producer) > 0) {
    // Old news (a backlog): betcore would take it as "alive now" and keep
    // open markets whose prices are behind. Markets stay open only while
    // the adapter keeps up with the provider. (A producer betcore does not
    // know yet is created whatever the lag: it has no markets to open, and
    // its fixtures wait for it.)
    return;
  }
  post_alive(m, p.phase == Phase::recovered, p);
}

// Producers whose snapshot_complete came reopen once everything dispatched
// before it is acked: the next alive says recovered:true.
void Adapter::check_drained() {
  for (auto& [producer, p] : producers_) {
    if (p.phase != ProducerState::Phase::draining) continue;
    if (!outstanding_.empty() && *outstanding_.begin() <= p.barrier) continue;
    state_.save();
    p.phase = ProducerState::Phase::recovered;
    spdlog::info("feed: recovery {} of {} applied", p.request_id, producer);
  }
}

void Adapter::on_snapshot_complete(const Message& m) {
  ProducerState& p = producers_[m.producer];
  if (p.phase != ProducerState::Phase::recovering || m.request_id != p.request_id) return;  // an old one
  p.phase = ProducerState::Phase::draining;
  p.barrier = dispatched_;
  check_drained();
}

// The producers betcore has already, so that a backlog's old alives are
// not taken for their first.
void Adapter::learn_producers() {
  tools::Response r = betcore_.get("/v1/producers", options_.token);
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (!r.ok() || !j.is_object() || !j.contains("producers")) {
    spdlog::warn("feed: cannot read betcore's producers ({}); the first alive of each creates it",
                 r.status == 0 ? r.error : std::to_string(r.status));
    return;
  }
  for (const auto& p : j["producers"]) known_.insert(p.value("producer", ""));
}

void Adapter::session(Amqp& amqp, Amqp& dead, const std::atomic<bool>& stop) {
  amqp.declare_exchange(options_.exchange);
  amqp.declare_queue(options_.queue, options_.exchange, options_.binding_key);
  dead.declare_queue(dead_queue());
  dead.enable_confirms();
  amqp.consume(options_.queue, options_.prefetch);
  ++generation_;
  outstanding_.clear();
  working_tags_.clear();
  done_tags_.clear();
  // What was dispatched on the old connection comes again: a recovery that
  // was draining waits for its snapshot_complete again too.
  for (auto& [producer, p] : producers_) {
    if (p.phase == ProducerState::Phase::draining) p.phase = ProducerState::Phase::recovering;
  }
  learn_producers();
  metrics_.connected.set(1);
  spdlog::info("feed: consuming {} at {}:{}", options_.queue, options_.amqp.host, options_.amqp.port);
  while (!stop.load()) {
    if (std::optional<Delivery> d = amqp.next(outstanding_.empty() ? 50 : 2)) {
      dispatch(amqp, dead, std::move(*d));
    }
    settle_done(amqp, dead);
  }
}

void Adapter::run(const std::atomic<bool>& stop) {
  tools::Backoff backoff(200, 5000, static_cast<uint64_t>(wall_ms()));
  while (!stop.load()) {
    try {
      Amqp amqp(options_.amqp);
      // Publishes only now and then: no heartbeats, which librabbitmq sends
      // only from inside its calls, or the broker would close it when idle.
      AmqpOptions dead_options = options_.amqp;
      dead_options.heartbeat_s = 0;
      Amqp dead(dead_options);
      metrics_.reconnects.inc();
      backoff.reset();
      session(amqp, dead, stop);
    } catch (const AmqpError& e) {
      metrics_.connected.set(0);
      int wait = backoff.next_ms();
      spdlog::warn("feed: {}; reconnecting in {} ms (unacked messages come again)", e.what(), wait);
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
  }
  state_.save();
}

}  // namespace

int run_adapter(const AdapterOptions& options) {
  const sigset_t stop_signals = tools::block_stop_signals();

  ops::Registry registry;
  const auto process_series = ops::register_process_metrics(registry);
  http::Options http_options;
  http_options.host = options.metrics_host;
  http_options.port = options.metrics_port;
  http::Server metrics_server(http_options, http::metrics_only(registry));
  if (http::Status s = metrics_server.start(); !s.ok()) {
    spdlog::error("feed: cannot listen on {}:{} for /metrics: {}; choose another --metrics-listen",
                  options.metrics_host, options.metrics_port, s.error);
    return 1;
  }
  Adapter adapter(options, registry);
  spdlog::info("feed adapter ready: metrics on http://{}:{}/metrics, betcore at {}",
               options.metrics_host, metrics_server.bound_port(), options.betcore.host_port());
  std::atomic<bool> stop{false};
  std::thread main([&] { adapter.run(stop); });
  int sig = tools::wait_for_stop_signal(stop_signals);
  spdlog::info("feed: signal {}: stopping (unacked messages stay in the queue)", sig);
  stop = true;
  main.join();
  metrics_server.stop();
  return 0;
}

}  // namespace betcore::feed
