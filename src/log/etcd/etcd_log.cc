#include "log/etcd/etcd_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include <nlohmann/json.hpp>

#include "log/etcd/channel.h"

namespace betcore::log::etcd {

using Clock = std::chrono::steady_clock;

// One watch: a thread reading the stream from `from`, and a keeper that
// probes it when it goes quiet. Replaced whole when the reader asks for a
// position the buffer does not continue from.
struct EtcdLog::Session {
  uint64_t from = 0;
  std::atomic<bool> stop{false};
  std::mutex mu;                                  // guards ctx, stream, probe fields
  std::mutex write_mu;                            // one Write at a time on the stream
  std::condition_variable cv;                     // wakes the keeper on stop
  bool paused = false;        // the watcher waits for buffer room: quiet on purpose
  bool keeper_cancelled = false;  // the keeper found it stuck
  std::string cancel_reason;      // why the keeper cancelled it
  uint64_t seen_next = 0;         // the watch's next position at the keeper's last look
  Clock::time_point next_moved{}; // when that last changed
  Clock::time_point behind_since{};  // since when the quorum's head is past it ({}: it is not)
  std::shared_ptr<grpc::ClientContext> ctx;
  std::string endpoint;  // the member this attempt watches through
  grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>* stream = nullptr;
  Clock::time_point last_message{};
  Clock::time_point probe_sent{};
  bool probing = false;
  std::thread watcher;
  std::thread keeper;
};

EtcdLog::EtcdLog(std::shared_ptr<Client> client, EtcdLogOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      keys_(options_.cluster) {
  for (size_t lane = 0; lane < std::max<size_t>(1, options_.append_lanes); ++lane) {
    lanes_.push_back(Lane{keys_.log_key(options_.node_id, lane)});
  }
}

EtcdLog::~EtcdLog() { close(); }

std::string BaseRecord::to_json() const {
  return nlohmann::json{{"position", position},
                        {"digest", digest},
                        {"time_ms", time_ms},
                        {"restored_from", restored_from}}
      .dump();
}

bool BaseRecord::parse(const std::string& text, BaseRecord& out, std::string& error) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("position") || !j["position"].is_number_unsigned()) {
    error = "the base record is not {\"position\": N, ...}: " + text.substr(0, 200);
    return false;
  }
  out.position = j["position"].get<uint64_t>();
  out.digest = j.value("digest", "");
  out.time_ms = j.value("time_ms", int64_t{0});
  out.restored_from = j.value("restored_from", "");
  return true;
}

Result<Ok> EtcdLog::load_base(int timeout_ms) {
  if (base_known_.load()) return Ok{};
  std::lock_guard lock(base_mu_);
  if (base_known_.load()) return Ok{};
  auto r = client_->range(keys_.base_key(), "", {}, timeout_ms);
  if (!r.ok()) return r.error();
  if (!r.value().kvs.empty()) {
    const KeyValue& kv = r.value().kvs.front();
    BaseRecord base;
    std::string error;
    if (!BaseRecord::parse(kv.value, base, error)) {
      return Error{Errc::corrupt, error + " (at " + kv.key +
                                      ", written by betcore restore --etcd): the cluster's positions "
                                      "are unknown; restore into a fresh etcd cluster again"};
    }
    // The offset before the position: revision_of() reads them in the
    // other order.
    base_ = base;
    offset_.store(static_cast<int64_t>(base.position) - kv.mod_revision);
    base_position_.store(base.position);
    spdlog::info("log: restored from an archive at position {}; etcd revision {} is position {}",
                 base.position, kv.mod_revision, base.position);
  }
  base_known_.store(true);
  return Ok{};
}

int64_t EtcdLog::revision_of(Position p) const {
  if (p.value <= base_position_.load()) return 0;
  return static_cast<int64_t>(p.value) - offset_.load();
}

Position EtcdLog::position_of(int64_t revision) const {
  return Position{static_cast<uint64_t>(revision + offset_.load())};
}

namespace {

int backoff_ms(int attempt) {
  // 50 ms doubling to 250 ms, with jitter over its upper half; for the
  // append's attempts and the watch's reconnects alike. An etcd election
  // (docs/cluster.md, "etcd settings") refuses puts and ends watches at
  // once; with a cap of 1 s the first attempt after it came up to 0.8 s
  // late (first write after a leader kill, 10 kills: worst 1.53 s; with
  // 250 ms, 1.23 s). A slow or unreachable member paces the attempts
  // itself: each waits up to append_attempt_timeout_ms.
  static thread_local std::mt19937 rng{std::random_device{}()};
  int cap = std::min(250, 50 << std::min(attempt, 3));
  return cap / 2 + std::uniform_int_distribution<int>(0, cap / 2)(rng);
}

}  // namespace

// Each attempt is a compare-and-put on this node's key: "write if the key is
// still at the revision of my last batch". An attempt whose answer was lost
// may still land; a retry of the same batch then finds the key moved and
// holding exactly this batch, and returns its revision. So a batch is written
// at most once however often it is retried, and the client gets
// outcome_unknown only when the whole deadline passes.
Result<Position> EtcdLog::append_on(size_t lane_index, std::string_view batch) {
  if (lane_index >= lanes_.size()) {
    return Error{Errc::invalid_argument, "append lane " + std::to_string(lane_index) + " of " +
                                             std::to_string(lanes_.size())};
  }
  Lane& lane = lanes_[lane_index];
  {
    std::lock_guard lock(mu_);
    if (closed_) return Error{Errc::closed, "the log is closed"};
  }
  const std::string value(batch);
  if (auto b = load_base(options_.append_attempt_timeout_ms); !b.ok()) {
    return Error{Errc::unavailable, "cannot read the cluster's base from etcd: " + b.error().message};
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.append_timeout_ms);
  bool maybe_written = false;
  bool failed = false;  // an attempt failed (not: a read first, or a retry on top of a late batch)
  std::string last_error = "no attempt finished in time";
  for (int attempt = 0;; ++attempt) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    // After a failed attempt etcd is electing or a member is gone: the
    // followers forward puts to a dead leader until they notice, so later
    // attempts give up sooner and try the next member.
    const int attempt_ms = failed ? options_.append_retry_timeout_ms : options_.append_attempt_timeout_ms;
    int timeout = static_cast<int>(std::min<int64_t>(left, attempt_ms));
    if (!lane.last_rev_known) {
      auto r = client_->range(lane.key, "", {}, timeout);
      if (!r.ok()) {
        last_error = r.error().message;
        failed = true;
      } else {
        const auto& kvs = r.value().kvs;
        lane.last_rev = kvs.empty() ? 0 : kvs.front().mod_revision;
        lane.last_rev_known = true;
        if (!kvs.empty() && kvs.front().value == value) {
          return landed(position_of(kvs.front().mod_revision));
        }
        continue;
      }
    } else {
      auto r = client_->put_if_mod_revision(lane.key, value, lane.last_rev, timeout);
      if (r.ok()) {
        const Client::CasResult& cas = r.value();
        if (cas.written) {
          lane.last_rev = cas.revision;
          return landed(position_of(cas.revision));
        }
        lane.last_rev = cas.exists ? cas.mod_revision : 0;
        if (cas.exists && cas.value == value) {
          return landed(position_of(cas.mod_revision));  // an earlier attempt landed
        }
        continue;  // an earlier batch of ours landed late: try on top of it
      }
      const Error& e = r.error();
      if (e.code == Errc::invalid_argument || e.code == Errc::closed) return e;
      maybe_written = maybe_written || e.code == Errc::outcome_unknown;
      last_error = e.message;
      failed = true;
    }
    {
      std::lock_guard lock(mu_);
      if (closed_) break;
    }
    int pause = backoff_ms(attempt);
    if (Clock::now() + std::chrono::milliseconds(pause) >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause));
  }
  // The batch may still land later: the next append reads the key first.
  lane.last_rev_known = false;
  if (maybe_written) {
    return Error{Errc::outcome_unknown,
                 fmt::format("no answer from etcd in {} ms (last: {}); the batch may still be "
                             "committed: retry with the same id",
                             options_.append_timeout_ms, last_error)};
  }
  return Error{Errc::unavailable,
               fmt::format("etcd did not take the batch in {} ms: {}", options_.append_timeout_ms,
                           last_error)};
}

Result<Position> EtcdLog::head() {
  if (auto b = load_base(options_.head_timeout_ms); !b.ok()) return b.error();
  RangeOptions o;
  o.limit = 1;
  o.newest_mod_first = true;
  o.keys_only = true;
  auto r = client_->range(keys_.log_prefix(), prefix_end(keys_.log_prefix()), o,
                          options_.head_timeout_ms);
  if (!r.ok()) return r.error();
  for (uint64_t t = raft_term_.load();
       r.value().raft_term > t && !raft_term_.compare_exchange_weak(t, r.value().raft_term);) {
  }
  // No batch yet: a fresh cluster's log is empty, a restored one's ends at
  // its base.
  if (r.value().kvs.empty()) return Position{base_position_.load()};
  return landed(position_of(r.value().kvs.front().mod_revision));
}

// A position the quorum holds: an answered put, or a quorum read of the head.
// The watch's keeper compares it with what the watch delivered (keeper_loop).
Position EtcdLog::landed(Position at) {
  uint64_t seen = quorum_head_.load();
  while (at.value > seen && !quorum_head_.compare_exchange_weak(seen, at.value)) {
  }
  return at;
}

Result<Ok> EtcdLog::compact(Position before) {
  uint64_t cur = needed_from_.load();
  while (before.value > cur && !needed_from_.compare_exchange_weak(cur, before.value)) {
  }
  return Ok{};
}

void EtcdLog::stop_session(std::unique_ptr<Session> s) {
  if (!s) return;
  s->stop.store(true);
  {
    std::lock_guard lock(mu_);  // a watcher waiting for buffer room sees `stop`
  }
  cv_.notify_all();
  {
    std::lock_guard lock(s->mu);
    if (s->ctx) s->ctx->TryCancel();
  }
  s->cv.notify_all();
  if (s->watcher.joinable()) s->watcher.join();
  if (s->keeper.joinable()) s->keeper.join();
}

void EtcdLog::close() {
  std::unique_ptr<Session> s;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    s = std::move(session_);
  }
  cv_.notify_all();
  stop_session(std::move(s));
}

void EtcdLog::restart_watch(std::unique_lock<std::mutex>& lock, uint64_t from) {
  std::unique_ptr<Session> old = std::move(session_);
  lock.unlock();
  stop_session(std::move(old));  // nothing of it reaches the buffer after this
  lock.lock();
  buffer_.clear();
  buffered_bytes_ = 0;
  error_.reset();
  expected_ = from;
  if (closed_) return;
  auto s = std::make_unique<Session>();
  s->from = from;
  Session* raw = s.get();
  session_ = std::move(s);
  raw->watcher = std::thread([this, raw] { watch_loop(raw); });
  raw->keeper = std::thread([this, raw] { keeper_loop(raw); });
}

Result<std::vector<Entry>> EtcdLog::read(Position from, size_t entries_max, size_t bytes_max,
                                         int wait_ms) {
  if (auto b = load_base(std::max(wait_ms, 500)); !b.ok()) return b.error();
  if (base_position_.load() > 0 && from.value <= base_position_.load()) {
    const uint64_t base = base_position_.load();
    return Error{Errc::compacted,
                 fmt::format("this cluster was restored from an archive at position {}; position {} "
                             "is only in the archive (betcore restore)",
                             base, from.value),
                 base + 1};
  }
  std::unique_lock lock(mu_);
  if (closed_) return Error{Errc::closed, "the log is closed"};
  if (!session_ || from.value != expected_) restart_watch(lock, from.value);
  if (closed_) return Error{Errc::closed, "the log is closed"};
  cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
               [&] { return !buffer_.empty() || error_ || closed_; });
  if (closed_) return Error{Errc::closed, "the log is closed"};
  std::vector<Entry> out;
  size_t bytes = 0;
  while (!buffer_.empty() && out.size() < entries_max && (out.empty() || bytes < bytes_max)) {
    bytes += buffer_.front().batch.size();
    buffered_bytes_ -= buffer_.front().batch.size();
    out.push_back(std::move(buffer_.front()));
    buffer_.pop_front();
  }
  if (!out.empty()) {
    expected_ = out.back().position.value + 1;
    lock.unlock();
    cv_.notify_all();  // room in the buffer
    return out;
  }
  if (error_) return *error_;
  return out;
}


// Long: one watch attempt after another, each from open to close; the
// attempt's state (next, ctx, stream, why) spans every step under the
// session's locks, and split up it would travel through every signature.
void EtcdLog::watch_loop(Session* s) {
  uint64_t next = s->from;
  int attempt = 0;
  const std::string prefix = keys_.log_prefix();
  const std::string end = prefix_end(prefix);
  while (!s->stop.load()) {
    size_t at = client_->current();
    Client::Channel& ch = client_->channel(at);
    auto ctx = std::make_shared<grpc::ClientContext>();
    // etcd cancels the watch if this member loses its leader (a minority
    // member would otherwise keep a silent, stale watch open).
    ctx->AddMetadata("hasleader", "true");
    {
      std::lock_guard l(s->mu);
      if (s->stop.load()) break;
      s->ctx = ctx;  // from here on, stop cancels it
      s->endpoint = ch.endpoint;
    }
    std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> stream =
        ch.watch->Watch(ctx.get());
    pb::WatchRequest req;
    auto* create = req.mutable_create_request();
    create->set_key(prefix);
    create->set_range_end(end);
    create->set_start_revision(revision_of(Position{next}));
    create->set_progress_notify(true);
    // Catch-up answers are split near etcd's request size limit, never one
    // huge message.
    create->set_fragment(true);
    bool write_ok;
    {
      std::lock_guard w(s->write_mu);
      write_ok = stream->Write(req);
    }
    {
      std::lock_guard l(s->mu);
      s->stream = stream.get();
      s->last_message = Clock::now();
      s->probing = false;
      s->paused = false;
      s->keeper_cancelled = false;
      s->seen_next = next;
      s->next_moved = Clock::now();
      s->behind_since = {};
    }
    watch_next_.store(next);
    std::string why = "the stream closed";
    bool compacted = false;
    int64_t compact_rev = 0;
    pb::WatchResponse resp;
    while (write_ok && stream->Read(&resp)) {
      {
        std::lock_guard l(s->mu);
        s->last_message = Clock::now();
        s->probing = false;
      }
      if (resp.created() && !resp.canceled()) {
        connected_.store(true);
        if (attempt > 0) spdlog::info("log watch resumed at {} via {}", next, ch.endpoint);
        attempt = 0;
      }
      if (resp.compact_revision() > 0) {
        compacted = true;
        compact_rev = resp.compact_revision();
        break;
      }
      if (resp.canceled()) {
        why = "etcd cancelled the watch: " + resp.cancel_reason();
        break;
      }
      std::unique_lock lock(mu_);
      if (s->stop.load()) break;
      for (const auto& ev : resp.events()) {
        if (ev.type() != mvccpb::Event::PUT) continue;
        const auto& kv = ev.kv();
        const uint64_t pos = position_of(kv.mod_revision()).value;
        if (pos < next) continue;  // never twice
        buffered_bytes_ += kv.value().size();
        buffer_.push_back(Entry{Position{pos}, kv.value()});
        next = pos + 1;
      }
      watch_next_.store(next);
      cv_.notify_all();
      // Back-pressure: stop reading while the applier is far behind (the
      // keeper leaves a paused stream alone).
      if (buffered_bytes_ >= options_.buffer_bytes_max) {
        {
          std::lock_guard l(s->mu);
          s->paused = true;
        }
        cv_.wait(lock, [&] { return buffered_bytes_ < options_.buffer_bytes_max || s->stop.load(); });
        std::lock_guard l(s->mu);
        s->paused = false;
        s->last_message = Clock::now();
        s->next_moved = s->last_message;  // quiet on purpose until now
        s->behind_since = {};
      }
      if (s->stop.load()) break;
    }
    connected_.store(false);
    bool keeper_cancelled;
    {
      std::lock_guard l(s->mu);
      s->stream = nullptr;
      keeper_cancelled = s->keeper_cancelled;
    }
    // etcd keeps a cancelled watch's stream open: end the call ourselves.
    ctx->TryCancel();
    { std::lock_guard w(s->write_mu); }  // a keeper's Write on it has returned
    grpc::Status st = stream->Finish();
    if (compacted) {
      std::lock_guard lock(mu_);
      if (s->stop.load()) return;
      const uint64_t first = std::max(position_of(compact_rev).value, base_position_.load() + 1);
      error_ = std::make_unique<Error>(Error{
          Errc::compacted, fmt::format("the log was compacted up to {}; position {} is gone", first, next),
          first});
      cv_.notify_all();
      spdlog::warn("log watch: position {} was compacted (etcd keeps from {})", next, first);
      return;
    }
    if (s->stop.load()) break;
    reconnects_.fetch_add(1);
    if (keeper_cancelled) {
      std::lock_guard l(s->mu);
      why = s->cancel_reason;
    }
    else if (!st.ok()) why = describe(st);
    // A member that did not answer is left; a stream etcd ended (e.g. lost
    // leader) also moves on. Either way the next member gets the watch.
    client_->rotate(at);
    int wait = backoff_ms(attempt++);
    // Up to 4 tries a second while etcd has no quorum: the first few and
    // then one in 20 are logged.
    if (attempt <= 3 || attempt % 20 == 0) {
      spdlog::warn("log watch via {} broke at {}: {}; resuming via {} in {} ms (try {})",
                   ch.endpoint, next, why, client_->channel(client_->current()).endpoint, wait,
                   attempt);
    }
    std::unique_lock l(s->mu);
    s->cv.wait_for(l, std::chrono::milliseconds(wait), [&] { return s->stop.load(); });
  }
  connected_.store(false);
}

bool EtcdLog::leave_member(const std::string& endpoint) {
  bool left = false;
  const size_t at = client_->current();
  if (client_->channel(at).endpoint == endpoint) {
    client_->rotate(at);
    left = true;
  }
  std::lock_guard lock(mu_);
  if (session_ != nullptr) {
    Session* s = session_.get();
    std::lock_guard l(s->mu);
    if (s->ctx != nullptr && s->stream != nullptr && s->endpoint == endpoint) {
      s->keeper_cancelled = true;
      s->cancel_reason = "leaving " + endpoint + ", a slow member";
      s->ctx->TryCancel();
      left = true;
    }
  }
  return left;
}

void EtcdLog::keeper_loop(Session* s) {
  const auto tick = std::chrono::milliseconds(
      std::max(50, std::min(options_.progress_after_ms, options_.behind_grace_ms) / 2));
  std::unique_lock l(s->mu);
  while (!s->stop.load()) {
    s->cv.wait_for(l, tick, [&] { return s->stop.load(); });
    if (s->stop.load() || s->stream == nullptr || s->paused) continue;
    auto now = Clock::now();
    // Behind the quorum: the log head (a quorum read) has entries this watch
    // has not delivered, and it has delivered nothing for a while. A member
    // cut off from the others keeps the stream open and even answers
    // progress requests, from its own stale revision (betcore drill).
    const uint64_t next = watch_next_.load();
    if (next != s->seen_next) {
      s->seen_next = next;
      s->next_moved = now;
      s->behind_since = {};
    } else if (quorum_head_.load() < next) {
      s->behind_since = {};
    } else {
      if (s->behind_since == Clock::time_point{}) s->behind_since = now;
      // Quiet for a while, and behind for longer than a healthy member takes
      // to deliver a put just answered (on a quiet log, a put of this node's
      // raises the head a moment before its own watch delivers it).
      if (now - s->next_moved > std::chrono::milliseconds(options_.behind_quorum_after_ms) &&
          now - s->behind_since > std::chrono::milliseconds(options_.behind_grace_ms)) {
        spdlog::warn("log watch is behind the log head ({} >= {}) and delivered nothing in {} ms; reconnecting",
                     quorum_head_.load(), next, options_.behind_quorum_after_ms);
        s->keeper_cancelled = true;
        s->cancel_reason = "behind the quorum's log head";
        s->ctx->TryCancel();
        s->next_moved = now;
        s->behind_since = {};
        continue;
      }
    }
    if (s->probing) {
      if (now - s->probe_sent > std::chrono::milliseconds(options_.stuck_after_ms)) {
        spdlog::warn("log watch did not answer a progress request in {} ms; reconnecting",
                     options_.stuck_after_ms);
        s->cancel_reason = "no answer to a progress request";
        s->keeper_cancelled = true;
        s->ctx->TryCancel();
        s->probing = false;
      }
    } else if (now - s->last_message > std::chrono::milliseconds(options_.progress_after_ms)) {
      auto* stream = s->stream;
      s->probing = true;
      s->probe_sent = now;
      l.unlock();  // a Write may block; the watcher must not wait for it
      pb::WatchRequest req;
      req.mutable_progress_request();
      {
        // The watcher clears `stream`, then takes write_mu before it ends and
        // destroys the call: holding write_mu with `stream` still current
        // keeps the pointer alive through the Write.
        std::lock_guard w(s->write_mu);
        bool current;
        {
          std::lock_guard check(s->mu);
          current = s->stream == stream;
        }
        if (current) stream->Write(req);
      }
      l.lock();
    }
  }
}

}  // namespace betcore::log::etcd
