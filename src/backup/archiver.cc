// The continuous archiver: read, segment, digest, snapshot, prune.
#include "backup/archiver.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <thread>

#include "backup/restore.h"
#include "codec/snapshot.h"
#include "log/entry_frames.h"

namespace betcore::backup {
namespace {

// Which restored cluster this archive follows (check_source_base).
constexpr const char* kSourceBase = "source-base.json";

// Archive lag buckets, seconds: the RPO lives around one segment interval.
constexpr std::array<double, 14> kLagBuckets = {0.05, 0.1, 0.25, 0.5, 0.75, 1,  1.25,
                                                1.5,  2,   3,    5,   10,   30, 60};

}  // namespace

Archiver::Archiver(ArchiverOptions options, const Archive& archive, const Key& key,
                   LogSource& source, Shipper* shipper, ops::Registry& metrics)
    : options_(options),
      archive_(archive),
      key_(key),
      source_(source),
      shipper_(shipper),
      lag_seconds_(
          metrics.histogram("betcore_backup_archive_lag_seconds",
                            "From a batch's stamp to its segment being durable in the archive "
                            "(the RPO: what a loss of every node could take)",
                            {}, kLagBuckets)),
      segments_(
          metrics.counter("betcore_backup_segments_written_total", "Archive segments written")),
      snapshots_(
          metrics.counter("betcore_backup_snapshots_written_total", "Archive snapshots written")),
      write_failures_(metrics.counter("betcore_backup_write_failures_total",
                                      "Archive files that could not be written (retried)")),
      read_failures_(metrics.counter("betcore_backup_read_failures_total",
                                     "Failed reads of the log source (retried)")),
      gaps_(metrics.counter("betcore_backup_gaps_total",
                            "Times the log was compacted past the archive (restore points lost)")),
      pruned_(metrics.counter("betcore_backup_pruned_files_total",
                              "Archive files pruned by retention")),
      last_segment_time_(metrics.gauge("betcore_backup_last_segment_timestamp_seconds",
                                       "Unix time the newest segment was written")) {
  // The last `betcore backup verify` of this archive, from its report file
  // (read on each scrape: a verify runs from a timer, in another process).
  auto last_verify = [this](const char* field) {
    std::string text, error;
    if (!archive_.read("last-verify.json", text, error)) return -1.0;
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) return -1.0;
    if (std::string_view(field) == "ok") return j.value("ok", false) ? 1.0 : 0.0;
    return static_cast<double>(j.value("finished_at_ms", int64_t{0})) / 1000.0;
  };
  callbacks_.push_back(metrics.gauge_callback(
      "betcore_backup_last_verify_ok",
      "1: the last betcore backup verify of this archive passed; 0: it failed; -1: none on record",
      {}, [last_verify] { return last_verify("ok"); }));
  callbacks_.push_back(metrics.gauge_callback(
      "betcore_backup_last_verify_timestamp_seconds",
      "Unix time the last betcore backup verify of this archive finished (-1: none on record)", {},
      [last_verify] { return last_verify("finished_at_ms"); }));
  callbacks_.push_back(metrics.gauge_callback(
      "betcore_backup_archived_position", "The last log position durably in the archive", {},
      [this] { return static_cast<double>(archived_.load()); }));
  callbacks_.push_back(metrics.gauge_callback(
      "betcore_backup_source_head_position", "The log head as the source reported it last", {},
      [this] { return static_cast<double>(head_.load()); }));
  callbacks_.push_back(
      metrics.gauge_callback("betcore_backup_behind_positions",
                             "Log positions not yet archived (source head - archived)", {}, [this] {
                               uint64_t h = head_.load(), a = archived_.load();
                               return static_cast<double>(h > a ? h - a : 0);
                             }));
}

bool Archiver::resume(std::string& error) {
  Catalog catalog = archive_.scan();
  for (const std::string& p : catalog.problems) spdlog::warn("archive: {}", p);
  if (catalog.segments.empty() && catalog.snapshots.empty()) {
    spdlog::info("archive {} is empty: archiving from the log's start", archive_.dir());
    return true;
  }
  spdlog::info("archive {}: resuming; checking the newest restore point first", archive_.dir());
  RestoreReport r = restore_state(archive_, key_, RestoreTarget{});
  if (!r.ok) {
    error = "the archive in " + archive_.dir() + " cannot be resumed: " + r.error +
            ". Run `betcore backup verify` on it; to start a new archive, move it aside";
    return false;
  }
  for (const std::string& w : r.warnings) spdlog::warn("archive: {}", w);
  replica_ = std::move(r.replica);
  prev_ = replica_->position();
  archived_ = prev_;
  last_snapshot_position_ = catalog.snapshots.empty() ? 0 : catalog.snapshots.back().position;
  spdlog::info("archive resumed at position {} (digest {}, {})", prev_, r.digest, r.proof);
  return true;
}

ArchiveProgress Archiver::progress() {
  ArchiveProgress p;
  p.archived = archived_.load();
  const int64_t now = wall_ms();
  if (!pending_stamps_ms_.empty()) {
    p.lag_ms = std::max<int64_t>(0, now - pending_stamps_ms_.front());
  } else if (head_.load() > p.archived) {
    p.lag_ms = std::max<int64_t>(0, now - caught_up_at_ms_);  // batches it has not read yet
  } else {
    caught_up_at_ms_ = now;
  }
  if (shipper_ != nullptr) {
    p.shipped = shipper_->status().shipped_position;
    while (!unshipped_.empty() && unshipped_.front().first <= *p.shipped) unshipped_.pop_front();
    p.remote_lag_ms = unshipped_.empty() ? 0 : std::max<int64_t>(0, now - unshipped_.front().second);
  }
  return p;
}

void Archiver::run(const std::atomic<bool>& stop) {
  while (!stop.load()) step(options_.read_wait_ms);
  step(0, true);
  spdlog::info("archiver stopped at position {}", archived_.load());
}

// Long: one round of the loop reads as a story: wait, read, take, close, snapshot.
void Archiver::step(int wait_ms, bool flush) {
  if (!pending_.empty()) {
    auto due = pending_since_ + std::chrono::milliseconds(options_.segment_ms);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()).count();
    wait_ms = static_cast<int>(std::clamp<int64_t>(left, 0, wait_ms));
  }
  const uint64_t from = replica_->position() + 1;
  auto got = source_.read(from, progress(), wait_ms);
  if (got.ok()) {
    if (got.value().head != 0) head_ = got.value().head;
    if (failing_) spdlog::info("archiver: reading {} again", source_.describe());
    failing_ = false;
    source_idle_ = got.value().entries.empty() && got.value().head <= replica_->position();
    if (!got.value().entries.empty()) idle_digested_ = false;
    if (got.value().head != 0 && got.value().head < archived_.load()) {
      // A node restored to an earlier position, or another history: what it
      // serves next would be put on top of a state it never had.
      if (!rewound_) {
        spdlog::critical("archiver: the source's log head is {}, behind the archive's {}: it is not the "
                         "history this archive holds (a node restored to an earlier point?). Archiving "
                         "stopped; start a new archive directory for it",
                         got.value().head, archived_.load());
      }
      rewound_ = true;
    }
    if (!base_checked_) check_source_base();
    if (!rewound_) take_entries(got.value().entries);
  } else if (got.error().code == log::Errc::compacted && pending_.empty()) {
    start_after_compaction(got.error());
  } else {
    read_failures_.inc();
    if (!failing_) {
      spdlog::error(
          "archiver: cannot read the log: {}. Retrying; pending batches are still archived "
          "on time",
          got.error().message);
    }
    failing_ = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(wait_ms + 100, 500)));
  }
  const bool due =
      !pending_.empty() &&
      (flush || pending_bytes_ >= options_.segment_bytes_max ||
       Clock::now() >= pending_since_ + std::chrono::milliseconds(options_.segment_ms));
  if (due && !close_segment()) return;
  const bool snapshot_due =
      snapshot_due_now_ ||
      Clock::now() >= last_snapshot_at_ + std::chrono::milliseconds(options_.snapshot_every_ms);
  if (snapshot_due && pending_.empty() && replica_->position() > last_snapshot_position_) {
    if (write_snapshot(*replica_)) prune();
  }
}

void Archiver::take_entries(std::vector<log::Entry>& entries) {
  for (log::Entry& e : entries) {
    if (e.position.value <= replica_->position()) continue;  // never twice
    replica_->apply(e);
    if (pending_.empty()) pending_since_ = Clock::now();
    pending_bytes_ += e.batch.size();
    pending_stamps_ms_.push_back(replica_->last_stamp_ms());
    pending_.push_back(std::move(e));
  }
}

bool Archiver::close_segment() {
  FileHeader h;
  h.kind = FileKind::segment;
  h.first = pending_.front().position.value;
  h.last = pending_.back().position.value;
  h.prev = prev_;
  h.count = static_cast<uint32_t>(pending_.size());
  h.time_ms = replica_->time_ms();
  h.commands = replica_->commands();
  const auto now = Clock::now();
  // Also whenever the log has gone quiet: the newest position then gets a
  // digest, so a restore of the latest state proves itself.
  if ((source_idle_ && !idle_digested_) ||
      now - last_digest_at_ >= last_digest_cost_ * options_.digest_cost_factor) {
    auto t0 = Clock::now();
    h.digest = codec::state_digest(replica_->state());
    last_digest_cost_ = Clock::now() - t0;
    last_digest_at_ = Clock::now();
    idle_digested_ = source_idle_;
  }
  const std::string name = segment_name(h.first, h.last);
  std::string error;
  if (!archive_.write(name, seal_file(h, log::encode_entry_frames(pending_), key_), error)) {
    // It may exist anyway (the rename done, the directory's fsync failed):
    // the retry, with more batches, must not leave two overlapping segments.
    std::string ignored;
    archive_.remove(name, ignored);
    write_failures_.inc();
    spdlog::error(
        "archiver: cannot write {}: {}. Retrying; {} batches wait (check the archive's disk)", name,
        error, pending_.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return false;
  }
  const int64_t now_ms = wall_ms();
  for (int64_t stamp : pending_stamps_ms_) {
    lag_seconds_.observe(static_cast<double>(std::max<int64_t>(0, now_ms - stamp)) / 1000.0);
  }
  segments_.inc();
  last_segment_time_.set(static_cast<double>(now_ms) / 1000.0);
  if (shipper_ != nullptr) unshipped_.emplace_back(h.last, pending_stamps_ms_.front());
  prev_ = h.last;
  archived_ = h.last;
  pending_.clear();
  pending_stamps_ms_.clear();
  pending_bytes_ = 0;
  if (shipper_ != nullptr) shipper_->notify();
  return true;
}

bool Archiver::write_snapshot(const Replica& replica) {
  StateProof proof = prove_state(replica.state());
  snapshot_due_now_ = false;
  last_snapshot_at_ = Clock::now();
  if (!proof.ledger_problem.empty()) {
    // Never archive a state that breaks the ledger; the nodes' own checks
    // will have stopped them too.
    spdlog::critical("archiver: the state at position {} fails the ledger check ({}); no snapshot written",
                     replica.position(), proof.ledger_problem);
    return false;
  }
  FileHeader h;
  h.kind = FileKind::snapshot;
  h.first = h.last = replica.position();
  h.time_ms = replica.time_ms();
  h.commands = replica.commands();
  h.digest = proof.digest;
  const std::string name = snapshot_name(h.first);
  std::string error;
  if (!archive_.write(name, seal_file(h, proof.encoded, key_), error)) {
    write_failures_.inc();
    spdlog::error("archiver: cannot write snapshot {}: {} (check the archive's disk)", name, error);
    return false;
  }
  snapshots_.inc();
  last_snapshot_position_ = h.first;
  spdlog::info("archiver: snapshot at position {} ({} bytes of state, digest {})", h.first,
               proof.encoded.size(), h.digest);
  if (shipper_ != nullptr) shipper_->notify();
  return true;
}

void Archiver::prune() {
  Catalog catalog = archive_.scan();
  std::vector<SnapshotTime> times;
  // While the archive still holds the log from its start, the empty state
  // before it is a restore point like a snapshot (position 0, dated by the
  // first segment), aged out by the same policy.
  if (FileHeader first; archive_.holds_log_start(catalog, first)) times.push_back({0, first.time_ms});
  for (const SnapshotRef& s : catalog.snapshots) times.push_back({s.position, s.header.time_ms});
  const std::vector<uint64_t> keep = snapshots_to_keep(times, options_.retention);
  if (keep.empty()) return;
  auto prune_file = [&](const std::string& name) {
    // Never the only copy: the remote must have it first.
    if (shipper_ != nullptr && !shipper_->confirmed(name)) return;
    std::string error;
    if (!archive_.remove(name, error)) {
      spdlog::warn("archiver: retention: {}", error);
      return;
    }
    pruned_.inc();
    if (shipper_ != nullptr) shipper_->remove_remote(name);
  };
  for (const SnapshotRef& s : catalog.snapshots) {
    if (!std::binary_search(keep.begin(), keep.end(), s.position)) prune_file(s.name);
  }
  // The log below the oldest kept snapshot restores nothing that is kept,
  // once that snapshot is safe on the other site too (else the remote copy
  // would be left with no start).
  if (keep.front() == 0) return;
  if (shipper_ != nullptr && !shipper_->confirmed(snapshot_name(keep.front()))) return;
  for (const SegmentRef& seg : catalog.segments) {
    if (seg.last <= keep.front()) prune_file(seg.name);
  }
}

void Archiver::start_after_compaction(const log::Error& why) {
  std::string encoded, error;
  uint64_t position = 0;
  if (!source_.fetch_state(encoded, position, error)) {
    read_failures_.inc();
    spdlog::error("archiver: {}; and no snapshot to start from: {}. Retrying", why.message, error);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return;
  }
  codec::DecodedState decoded = codec::decode_state(encoded);
  if (!decoded.state || decoded.state->applied.value != position || position <= replica_->position()) {
    spdlog::error("archiver: the source's snapshot (position {}) cannot restart the archive: {}", position,
                  !decoded.state ? decoded.error
                  : position <= replica_->position() ? "it is not past the archive"
                                                     : "its state is at another position");
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return;
  }
  // The snapshot first: segments after it must never lack their start.
  auto next = std::make_unique<Replica>(std::move(decoded.state));
  if (!write_snapshot(*next)) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return;
  }
  if (replica_->position() == 0 && archived_.load() == 0) {
    spdlog::info("archiver: the log no longer starts at its beginning; the archive starts from the "
                 "source's snapshot at position {}",
                 position);
    // A new archive of a restored cluster: its history is the source's.
    if (std::optional<SourceBase> base = source_.base()) remember_source_base(*base);
    base_checked_ = true;
  } else {
    gaps_.inc();
    spdlog::critical(
        "archiver: GAP: the log was compacted past position {} while the archive was behind; positions "
        "{}..{} are not archived and no restore point lies between them. Continuing from the source's "
        "snapshot at {} (run the archiver continuously, or give it a longer hold: the node's "
        "--archive-hold-ms, or --hold-ttl-s with --etcd)",
        replica_->position() + 1, replica_->position() + 1, position, position);
  }
  replica_ = std::move(next);
  prev_ = position;
  archived_ = position;
}

void Archiver::remember_source_base(const SourceBase& base) {
  const nlohmann::json mine = {{"position", base.position}, {"digest", base.digest}};
  std::string error;
  if (!archive_.write(kSourceBase, mine.dump(), error)) spdlog::warn("archiver: {}", error);
}

// A cluster restored from an archive (`betcore restore --etcd`) goes on after
// its base position. This archive may follow it only if its history is the
// same up to there: it ends exactly at the base with the same state (then
// the archive remembers it in source-base.json), or it went on from there
// before (source-base.json says so). An archive past the base otherwise holds
// another history after it: archiving stops, as for a rewound source.
void Archiver::check_source_base() {
  std::optional<SourceBase> base = source_.base();
  base_checked_ = true;
  if (!base || archived_.load() < base->position) return;  // behind: the compacted path
  const nlohmann::json mine = {{"position", base->position}, {"digest", base->digest}};
  std::string text, error;
  if (archive_.read(kSourceBase, text, error) && nlohmann::json::parse(text, nullptr, false) == mine) return;
  if (archived_.load() == base->position && prove_state(replica_->state()).digest == base->digest) {
    remember_source_base(*base);
    spdlog::info("archiver: the cluster was restored from this archive at position {} (digest {}): "
                 "archiving goes on",
                 base->position, base->digest);
    return;
  }
  spdlog::critical("archiver: the cluster was restored at position {} (digest {}), but this archive "
                   "goes on to {} with another history: archiving stopped. Start a new archive "
                   "directory for the restored cluster (keep this one)",
                   base->position, base->digest, archived_.load());
  rewound_ = true;
}

}  // namespace betcore::backup
