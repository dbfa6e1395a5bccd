// Point-in-time restore: snapshot, replay, ledger, digest.
#include "backup/restore.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include "codec/snapshot.h"
#include "log/entry_frames.h"
#include "log/file/posix_file.h"
#include "node/snapshot_store.h"

namespace betcore::backup {
namespace {

using Clock = std::chrono::steady_clock;

// A digest the archiver recorded, at the end of a segment.
struct DigestPoint {
  uint64_t position = 0;
  std::string digest;
  std::string file;
};

// One restore: the state of the walk over the archive.
class Restorer {
 public:
  Restorer(const Archive& archive, const Key& key, const RestoreTarget& target,
           const RestoreOptions& options, RestoreReport& report)
      : archive_(archive), key_(key), target_(target), options_(options), r_(report) {}

  void run();

 private:
  bool load_base(const Catalog& catalog);
  bool replay_segment(const SegmentRef& seg, bool first);
  void reserve_for_replay();
  bool check_digest_at_segment_end(const SegmentRef& seg, const std::string& recorded);
  bool check_snapshot_at(uint64_t position);
  bool capture();
  bool past_target(const log::Entry& e);
  bool fail(std::string message) {
    r_.error = std::move(message);
    return false;
  }

  const Archive& archive_;
  const Key& key_;
  const RestoreTarget& target_;
  const RestoreOptions& options_;
  RestoreReport& r_;
  Catalog catalog_;
  std::unique_ptr<Replica> replica_ = std::make_unique<Replica>();
  uint64_t base_position_ = 0;
  std::string base_digest_;
  uint64_t expected_prev_ = 0;
  std::string prev_name_;
  bool target_done_ = false;
  bool mismatch_ = false;  // a recorded digest differed: never downgraded to a warning
  DigestPoint last_digest_;
  Clock::time_point next_progress_ = Clock::now() + std::chrono::seconds(1);
};

bool Restorer::load_base(const Catalog& catalog) {
  const uint64_t position_max =
      target_.kind == RestoreTarget::Kind::position ? target_.position : UINT64_MAX;
  const int64_t time_max = target_.kind == RestoreTarget::Kind::time ? target_.time_ms : INT64_MAX;
  std::vector<const SnapshotRef*> bases;
  for (const SnapshotRef& s : catalog.snapshots) {
    if (s.position <= position_max && s.header.time_ms <= time_max) bases.push_back(&s);
  }
  // Restore starts from the newest usable snapshot; verify from the oldest,
  // to walk every kept restore point.
  if (!options_.check_everything) std::reverse(bases.begin(), bases.end());
  for (const SnapshotRef* s : bases) {
    std::string bytes, error;
    if (!archive_.read(s->name, bytes, error)) {
      r_.warnings.push_back(error);
      continue;
    }
    OpenedFile f = open_file(bytes, key_);
    // (archive.json already matched the key: a snapshot sealed under another
    // one is a foreign or damaged file, passed over like any damage.)
    std::string why = f.error;
    std::unique_ptr<domain::State> state;
    if (why.empty() && (f.header.kind != FileKind::snapshot || f.header.first != s->position)) {
      why = "its header does not match its name";
    }
    if (why.empty() && codec::digest_of_encoding(f.payload) != f.header.digest) {
      why = "its state does not match its recorded digest";
    }
    if (why.empty()) {
      codec::DecodedState decoded = codec::decode_state(f.payload);
      if (!decoded.state || decoded.state->applied.value != s->position) {
        why = decoded.state ? "its state is at another position"
                            : "its state does not decode: " + decoded.error;
      } else {
        state = std::move(decoded.state);
      }
    }
    if (!why.empty()) {
      r_.warnings.push_back(
          fmt::format("{} (position {}): {}; passed over", s->name, s->position, why));
      continue;
    }
    replica_->reset(std::move(state));
    base_position_ = s->position;
    base_digest_ = f.header.digest;
    r_.base = s->name;
    return true;
  }
  r_.base = "the log's start";
  return true;
}

bool Restorer::past_target(const log::Entry& e) {
  switch (target_.kind) {
    case RestoreTarget::Kind::latest:
      replica_->apply(e);
      return false;
    case RestoreTarget::Kind::position:
      if (e.position.value > target_.position) return true;
      return !replica_->apply(e);
    case RestoreTarget::Kind::time:
      return !replica_->apply(e, target_.time_ms);
  }
  return false;
}

bool Restorer::capture() {
  StateProof p = prove_state(replica_->state());
  if (!p.ledger_problem.empty()) {
    return fail(fmt::format("the state at position {} fails the ledger check: {}",
                            replica_->position(), p.ledger_problem));
  }
  r_.position = replica_->position();
  r_.time_ms = replica_->time_ms();
  r_.commands = replica_->commands();
  r_.digest = p.digest;
  r_.encoded = std::move(p.encoded);
  if (r_.position == base_position_ && !base_digest_.empty() && r_.batches_replayed == 0) {
    if (r_.digest != base_digest_) {
      return fail(fmt::format("{} records digest {}, its state re-encodes to {}: report this", r_.base,
                              base_digest_, r_.digest));
    }
    r_.digest_checked = true;
    r_.proof = "equals the digest recorded in " + r_.base;
  } else if (last_digest_.position == r_.position && !last_digest_.digest.empty()) {
    if (last_digest_.digest != r_.digest) {
      return fail(fmt::format("digest mismatch at position {}: {} records {}, the replay gives {}",
                              r_.position, last_digest_.file, last_digest_.digest, r_.digest));
    }
    r_.digest_checked = true;
    r_.proof = "equals the digest the archiver recorded there (" + last_digest_.file + ")";
  }
  target_done_ = true;
  return true;
}

// The last segment's (plain) header counts the commands applied at its
// end: room for them up front spares the replay growing its tables by
// copying (the restore's largest cost after the commands themselves).
void Restorer::reserve_for_replay() {
  if (catalog_.segments.empty()) return;
  FileHeader last;
  std::string error;
  if (!archive_.read_header(catalog_.segments.back().name, last, error)) return;  // replay says why
  if (last.commands <= replica_->commands()) return;
  try {
    replica_->reserve_for(last.commands - replica_->commands());
  } catch (const std::exception&) {
    // No room to reserve: the tables grow as they go.
  }
}

bool Restorer::check_digest_at_segment_end(const SegmentRef& seg, const std::string& recorded) {
  if (recorded.empty()) return true;
  if (!target_done_ && !options_.check_everything) {
    // Compared by capture() if the target turns out to be here; computing
    // it at every segment on the way would cost an encoding each.
    last_digest_ = DigestPoint{seg.last, recorded, seg.name};
    return true;
  }
  if (target_done_ && r_.digest_checked && !options_.check_everything) return true;
  const std::string got = codec::state_digest(replica_->state());
  if (got != recorded) {
    mismatch_ = true;
    return fail(
        fmt::format("digest mismatch at position {}: {} records {}, the replay gives {}. The "
                    "archive does not reproduce the state it recorded; restore to a position "
                    "before {} and report this",
                    seg.last, seg.name, recorded, got, seg.last));
  }
  ++r_.digests_checked;
  last_digest_ = DigestPoint{seg.last, recorded, seg.name};
  if (target_done_ && !r_.digest_checked) {
    r_.digest_checked = true;
    r_.proof = fmt::format(
        "replayed on to position {} ({} batches past the target), where the "
        "digest equals the one the archiver recorded ({})",
        seg.last, r_.batches_after, seg.name);
  }
  return true;
}

// Verify: a kept snapshot at a position the replay passes must hold the
// replayed state exactly.
bool Restorer::check_snapshot_at(uint64_t position) {
  if (!options_.check_everything || position == base_position_) return true;
  for (const SnapshotRef& s : catalog_.snapshots) {
    if (s.position != position) continue;
    std::string bytes, error;
    if (!archive_.read(s.name, bytes, error)) return fail(error);
    OpenedFile f = open_file(bytes, key_);
    if (!f.error.empty())
      return fail(fmt::format("{} (position {}): {}", s.name, position, f.error));
    if (f.header.kind != FileKind::snapshot || f.header.first != position ||
        codec::digest_of_encoding(f.payload) != f.header.digest) {
      return fail(fmt::format("{} (position {}): its header does not match its name or its state",
                              s.name, position));
    }
    if (f.header.digest != codec::state_digest(replica_->state())) {
      return fail(fmt::format("{} (position {}) does not hold the state the log reaches there",
                              s.name, position));
    }
    ++r_.digests_checked;
  }
  return true;
}

bool Restorer::replay_segment(const SegmentRef& seg, bool first) {
  std::string bytes, error;
  if (!archive_.read(seg.name, bytes, error)) {
    return fail(fmt::format("{} (positions {}-{}): {}", seg.name, seg.first, seg.last, error));
  }
  OpenedFile f = open_file(bytes, key_);
  const std::string where = fmt::format("{} (positions {}-{})", seg.name, seg.first, seg.last);
  if (!f.error.empty()) {
    return fail(
        fmt::format("{}: {}. Restore to position {} at most, or copy this file back from the "
                    "archive's other copy",
                    where, f.error, expected_prev_));
  }
  if (f.header.kind != FileKind::segment || f.header.first != seg.first ||
      f.header.last != seg.last) {
    return fail(where + ": its header does not match its name (a renamed or misplaced file)");
  }
  const bool linked = first ? f.header.prev <= base_position_ : f.header.prev == expected_prev_;
  if (!linked && first && base_position_ == 0) {
    std::string passed_over;
    for (const std::string& w : r_.warnings) passed_over += "; " + w;
    return fail(fmt::format("no restore point at or before {}: the archive's log starts after position {} "
                            "and no usable snapshot is at or before the target{}. Choose a later target",
                            target_.describe(), f.header.prev, passed_over));
  }
  if (!linked) {
    return fail(
        fmt::format("missing segment: the archive holds nothing between position {} ({}) and "
                    "{} (the batches after position {}). Restore to position {} at most, or "
                    "copy the missing file back from the archive's other copy",
                    expected_prev_, prev_name_.empty() ? r_.base : prev_name_, where, f.header.prev,
                    expected_prev_));
  }
  std::vector<log::Entry> entries;
  if (!log::decode_entry_frames(f.payload, entries, error) || entries.size() != f.header.count ||
      entries.empty() || entries.front().position.value != seg.first ||
      entries.back().position.value != seg.last) {
    return fail(where + ": its entries do not match its header" +
                (error.empty() ? "" : ": " + error));
  }
  for (const log::Entry& e : entries) {
    if (e.position.value <= replica_->position()) continue;
    if (!target_done_) {
      if (past_target(e)) {
        if (!capture()) return false;
        replica_->apply(e);
        ++r_.batches_after;
      } else {
        ++r_.batches_replayed;
      }
    } else {
      replica_->apply(e);
      ++r_.batches_after;
    }
  }
  expected_prev_ = seg.last;
  prev_name_ = seg.name;
  if (!check_digest_at_segment_end(seg, f.header.digest)) return false;
  if (!target_done_ && target_.kind == RestoreTarget::Kind::position &&
      seg.last >= target_.position && !capture()) {
    return false;
  }
  return check_snapshot_at(seg.last);
}

// Long: the walk reads as one story (plan, replay, capture, report); its
// steps are the member functions above.
void Restorer::run() {
  const auto t0 = Clock::now();
  catalog_ = archive_.scan();
  for (const std::string& p : catalog_.problems) r_.warnings.push_back(p);
  r_.archive_last = std::max(catalog_.last_position(),
                             catalog_.snapshots.empty() ? 0 : catalog_.snapshots.back().position);
  if (catalog_.segments.empty() && catalog_.snapshots.empty()) {
    fail("the archive in " + archive_.dir() + " is empty: nothing to restore");
    return;
  }
  // Verify walks from the oldest restore point: the log's start while the
  // archive still holds it, else the oldest snapshot.
  FileHeader oldest;
  const bool from_log_start = options_.check_everything && archive_.holds_log_start(catalog_, oldest);
  if (from_log_start) {
    r_.base = "the log's start";
  } else if (!load_base(catalog_)) {
    return;
  }
  expected_prev_ = base_position_;
  reserve_for_replay();
  bool first = true;
  for (const SegmentRef& seg : catalog_.segments) {
    if (seg.last <= base_position_) continue;
    const uint64_t commands_before = replica_->commands();
    if (!replay_segment(seg, first)) {
      if (target_done_ && !mismatch_ && !options_.check_everything) {
        // The target's state is captured and sound; only the replay on past
        // it, for a digest, met a damaged or missing file.
        r_.warnings.push_back("replaying past the target for a digest: " + r_.error);
        r_.error.clear();
        break;
      }
      return;
    }
    first = false;
    if (!target_done_) r_.commands_replayed += replica_->commands() - commands_before;
    if (options_.progress && Clock::now() >= next_progress_) {
      options_.progress(replica_->position(), r_.batches_replayed + r_.batches_after);
      next_progress_ = Clock::now() + std::chrono::seconds(1);
    }
    if (target_done_ && r_.digest_checked && !options_.check_everything) break;
  }
  if (!target_done_) {
    if (target_.kind == RestoreTarget::Kind::position && replica_->position() < target_.position) {
      fail(fmt::format(
          "the archive ends at position {}, before the target {}: restore to position {} "
          "or later archives are missing",
          replica_->position(), target_.position, replica_->position()));
      return;
    }
    if (!capture()) return;
  }
  if (replica_->position() == 0 && base_position_ == 0) {
    fail("no restore point at or before the target " + target_.describe() +
         ": the archive's oldest snapshot is later, and its log does not start at the beginning");
    return;
  }
  if (!r_.digest_checked) {
    r_.proof = fmt::format(
        "not checked: the archiver recorded no digest at or after position {} "
        "(the ledger was checked)",
        r_.position);
  }
  r_.archive_last_time_ms = replica_->time_ms();
  r_.replica = std::move(replica_);
  r_.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (options_.progress) options_.progress(r_.position, r_.batches_replayed + r_.batches_after);
  r_.ok = true;
}

}  // namespace

std::string RestoreTarget::describe() const {
  switch (kind) {
    case Kind::latest:
      return "latest";
    case Kind::position:
      return "position " + std::to_string(position);
    case Kind::time:
      return "time " + std::to_string(time_ms) + " ms";
  }
  return "?";
}

RestoreReport restore_state(const Archive& archive, const Key& key, const RestoreTarget& target,
                            const RestoreOptions& options) {
  RestoreReport report;
  Restorer(archive, key, target, options, report).run();
  return report;
}

bool write_data_dir(const std::string& dir, const std::string& encoded, uint64_t position,
                    std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    error =
        dir +
        " is not empty: restore into a new directory (a restore never overwrites a node's data)";
    return false;
  }
  node::SnapshotStore snapshots(dir + "/snapshots");
  if (!snapshots.init(error)) return false;
  if (!snapshots.write(position, codec::seal_snapshot(encoded, position), error)) return false;
  // The log starts right after the snapshot: an empty segment named by its
  // first position (docs/log-format.md), as a compacted log would hold.
  const std::string log_dir = dir + "/log";
  if (auto made = log::file::make_dirs(log_dir); !made) {
    error = made.error().message;
    return false;
  }
  if (auto written =
          log::file::write_file_atomically(fmt::format("{}/{:020}.log", log_dir, position + 1), "");
      !written) {
    error = written.error().message;
    return false;
  }
  return true;
}

}  // namespace betcore::backup
