// The audit walk: one history, batch by batch, as every replica applies it.
#include "backup/audit.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <chrono>
#include <memory>
#include <vector>

#include "backup/archive.h"
#include "backup/audit_lines.h"
#include "codec/batch.h"
#include "codec/chain.h"
#include "codec/snapshot.h"
#include "log/entry_frames.h"
#include "log/file/record.h"
#include "node/snapshot_store.h"

namespace betcore::backup {

std::string AuditReport::to_json() const {
  nlohmann::ordered_json j;
  j["ok"] = ok;
  j["error"] = error;
  j["first_bad_position"] = first_bad;
  j["first_bad_reason"] = first_bad_reason;
  j["last_confirmed_position"] = last_confirmed;
  j["start"] = start;
  j["last_position"] = last_position;
  j["batches"] = batches;
  j["commands"] = commands;
  j["anchors_checked"] = anchors_checked;
  j["last_anchored_position"] = last_anchored;
  j["head_chain"] = head_chain;
  j["chain_begins"] = chain_begins;
  j["unchecked_through"] = unchecked_through;
  j["complete"] = complete;
  j["exported"] = exported;
  j["seconds"] = seconds;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

namespace {

using Clock = std::chrono::steady_clock;

// Recomputes the chain over every batch and checks each anchor against the
// whole history walked (not only a replica's window), while a StateMachine
// applies the batches exactly as a replica does (codec::chain_entry).
class Walker {
 public:
  Walker(const AuditOptions& options, AuditReport& report) : options_(options), r_(report) {}

  // The state the walk starts from (null: the log's start). A snapshot's
  // state is taken as it is: the chain covers the log's bytes, not a
  // snapshot's tables, so the report says the walk is not complete.
  void start(std::unique_ptr<domain::State> state) {
    if (state) {
      r_.start = state->applied.value;
      head_ = state->audit.head;
      for (const domain::ChainPoint& p : state->audit.recent) points_.push_back(p);
      machine_.reset(std::move(state));
    }
    r_.last_position = r_.start;
    last_progress_ = Clock::now();
  }

  void entry(const log::Entry& e) {
    const uint64_t pos = e.position.value;
    // A duplicated record or an altered position field: named (the reader
    // reports it too), never fed to the state machine out of order.
    if (pos <= r_.last_position) {
      bad(r_.last_position + 1,
          fmt::format("position {} comes after position {}: a batch was duplicated or its "
                      "position altered", pos, r_.last_position));
      return;
    }
    codec::DecodedBatch batch = codec::decode_batch(e.batch);
    machine_.begin_batch(domain::LogIndex{pos}, domain::TimeMs{batch.header.stamped_ms});
    if (batch.error == codec::BatchError::none) check_anchors(batch, pos);
    const codec::AnchorCheck live = codec::chain_entry(machine_, pos, e.batch, batch);
    const domain::AuditChain& chain = machine_.state().audit;
    if (chain.begun() && chain.recent.back().position == pos) {
      if (points_.empty()) r_.chain_begins = pos;
      head_ = chain.head;
      points_.push_back(chain.recent.back());
    }
    ++r_.batches;
    r_.last_position = pos;
    std::string refused;
    if (batch.error != codec::BatchError::none) {
      refused = std::string("the batch fails its checks: ") + codec::batch_error_name(batch.error) + " (" +
                batch.detail + ")";
      bad(pos, refused);
    } else if (!live.ok) {
      refused = "every replica refuses it: " + live.detail;
    }
    for (uint32_t i = 0; i < batch.commands.size(); ++i) {
      domain::Outcome out;
      if (refused.empty()) out = machine_.apply(batch.commands[i]);
      ++r_.commands;
      if (!options_.sink || pos < options_.from || pos > options_.to) continue;
      AuditLineInput in{pos, i, machine_.state().now.ms, &batch.header, &batch.commands[i],
                        refused.empty() ? &out : nullptr, refused};
      options_.sink(audit_line(in));
      ++r_.exported;
    }
    if (options_.progress && Clock::now() - last_progress_ > std::chrono::seconds(5)) {
      options_.progress(pos);
      last_progress_ = Clock::now();
    }
  }

  void finish() {
    r_.head_chain = codec::chain_hex(head_);
    check_expectation();
    r_.ok = r_.error.empty() && r_.first_bad == 0;
    // What this walk did not check: a snapshot's history, taken as it is,
    // and entries from before the chain began (or all, when it never did).
    r_.unchecked_through = r_.start;
    if (points_.empty()) {
      r_.unchecked_through = r_.last_position;
    } else if (r_.chain_begins > r_.start + 1) {
      r_.unchecked_through = r_.chain_begins - 1;
    }
    r_.complete = r_.unchecked_through == 0;
  }

  // A failure at `pos`; the smallest position wins.
  void bad(uint64_t pos, const std::string& why) {
    if (r_.first_bad != 0 && r_.first_bad <= pos) return;
    r_.first_bad = pos;
    r_.first_bad_reason = why;
  }

 private:
  void check_anchors(const codec::DecodedBatch& batch, uint64_t pos) {
    for (const codec::ChainAnchor& a : batch.header.anchors) {
      if (a.position <= r_.start && (points_.empty() || a.position < points_.front().position)) continue;
      auto it = std::lower_bound(points_.begin(), points_.end(), a.position,
                                 [](const domain::ChainPoint& p, uint64_t v) { return p.position < v; });
      if (it == points_.end() || it->position != a.position) {
        bad(std::min(a.position, pos),
            fmt::format("the batch at {} anchors position {}, which this history does not hold "
                        "(a batch was removed or inserted)",
                        pos, a.position));
        continue;
      }
      ++r_.anchors_checked;
      r_.last_anchored = std::max(r_.last_anchored, a.position);
      if (it->chain == a.chain) {
        if (r_.first_bad == 0 || a.position < r_.first_bad) {
          r_.last_confirmed = std::max(r_.last_confirmed, a.position);
        }
        continue;
      }
      bad(a.position, fmt::format("the batch at {} anchors chain {} at position {}, but this history "
                                  "gives {}: the batch at {} (or one before it, after {}) was altered",
                                  pos, codec::chain_hex(a.chain), a.position, codec::chain_hex(it->chain),
                                  a.position, r_.last_confirmed));
    }
  }

  void check_expectation() {
    if (options_.expect.empty()) return;
    // The command line checked the form (POSITION:64 hex).
    const std::string& e = options_.expect;
    const size_t colon = e.find(':');
    uint64_t at = 0;
    std::from_chars(e.data(), e.data() + std::min(colon, e.size()), at);
    const std::string hex = colon == std::string::npos ? "" : e.substr(colon + 1);
    auto it = std::lower_bound(points_.begin(), points_.end(), at,
                               [](const domain::ChainPoint& p, uint64_t v) { return p.position < v; });
    if (it == points_.end() || it->position != at) {
      bad(at == 0 ? 1 : at, fmt::format("--expect names position {}, which this history does not hold", at));
    } else if (codec::chain_hex(it->chain) != hex) {
      bad(at, fmt::format("the chain at {} is {}, not the expected {}: the history up to {} was rewritten",
                          at, codec::chain_hex(it->chain), hex, at));
    } else if (at > r_.last_confirmed && r_.first_bad == 0) {
      r_.last_confirmed = at;
    }
  }

  const AuditOptions& options_;
  AuditReport& r_;
  domain::StateMachine machine_;
  codec::ChainHash head_{};
  std::vector<domain::ChainPoint> points_;
  Clock::time_point last_progress_;
};

// Starts the walk before `first`, the log's first position: from the
// empty state, or from the data directory's snapshot just before it.
bool start_from(const std::string& dir, uint64_t first, Walker& w, AuditReport& r) {
  std::unique_ptr<domain::State> state;
  if (first > 1) {
    node::SnapshotStore store(dir + "/snapshots");
    node::LoadedSnapshot snap = store.load_latest(first - 1);
    if (!snap.state || snap.index != first - 1) {
      r.error = fmt::format("the log starts at position {} and no snapshot at {} is here: verify the "
                            "archive (--archive), which holds the history from its start",
                            first, first - 1);
      return false;
    }
    state = std::move(snap.state);
  }
  w.start(std::move(state));
  return true;
}

// The records of a file-log segment file in order, read without opening
// the log (no lock, no recovery, nothing written: evidence stays as found).
// Damage is reported at its position and the walk goes on where it can.
class SegmentReader {
 public:
  SegmentReader(Walker& w, AuditReport& r) : w_(w), r_(r) {}

  // False when the rest of the file cannot be read (its error is set).
  bool read(const std::string& path, bool last_file, std::vector<log::Entry>& out) {
    std::string bytes;
    if (!read_whole_file(path, bytes, r_.error)) return false;
    size_t at = 0;
    while (at < bytes.size()) {
      const bool whole_header = at + log::file::kHeaderSize <= bytes.size();
      log::file::RecordHeader h;
      if (whole_header) h = log::file::decode_record_header(reinterpret_cast<const unsigned char*>(bytes.data() + at));
      const bool fits = whole_header && log::file::header_is_plausible(h) &&
                        at + log::file::kHeaderSize + h.payload_bytes <= bytes.size();
      if (!fits) {
        if (last_file && (!whole_header || log::file::header_is_plausible(h))) return true;  // a torn tail
        r_.error = fmt::format("{} is damaged at byte offset {}, after position {}: the records after it "
                               "cannot be read", path, at, last_);
        w_.bad(last_ + 1, r_.error);
        return false;
      }
      std::string_view payload(bytes.data() + at + log::file::kHeaderSize, h.payload_bytes);
      if (!log::file::record_is_valid(h, payload)) {
        w_.bad(h.position, fmt::format("the log record at position {} ({} offset {}) fails its checksum: "
                                       "the batch was altered or damaged",
                                       h.position, path, at));
      }
      if (last_ != 0 && h.position != last_ + 1) {
        w_.bad(last_ + 1, fmt::format("position {} follows position {}: {}", h.position, last_,
                                      h.position <= last_ ? "a batch was duplicated or its position altered"
                                                          : "batches were removed or inserted"));
      }
      last_ = h.position;
      out.push_back(log::Entry{log::Position{h.position}, std::string(payload)});
      at += log::file::kHeaderSize + h.payload_bytes;
    }
    return true;
  }

 private:
  Walker& w_;
  AuditReport& r_;
  uint64_t last_ = 0;
};

void walk_data_dir(const std::string& dir, Walker& w, AuditReport& r) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/log", ec)) {
    if (e.path().extension() == ".log") files.push_back(e.path().string());
  }
  if (ec || files.empty()) {
    r.error = dir + "/log holds no log segment: name a node's data directory (--data) or an archive (--archive)";
    return;
  }
  std::sort(files.begin(), files.end());  // named by their first position, 20 digits
  SegmentReader reader(w, r);
  bool started = false;
  for (size_t i = 0; i < files.size(); ++i) {
    std::vector<log::Entry> entries;
    const bool whole = reader.read(files[i], i + 1 == files.size(), entries);
    if (!started && !entries.empty()) {
      if (!start_from(dir, entries.front().position.value, w, r)) return;
      started = true;
    }
    for (const log::Entry& e : entries) w.entry(e);
    if (!whole) return;
  }
}

// The archive from its start (or its oldest snapshot), segment by segment.
void walk_archive(const AuditSource& src, Walker& w, AuditReport& r) {
  Key key;
  Archive archive;
  if (!load_key(src.key_file, key, r.error) || !archive.open(src.archive_dir, key, false, r.error)) return;
  const Catalog catalog = archive.scan();
  FileHeader first;
  std::unique_ptr<domain::State> state;
  if (!archive.holds_log_start(catalog, first)) {
    if (catalog.snapshots.empty()) {
      r.error = "the archive holds neither the log's start nor a snapshot";
      return;
    }
    const SnapshotRef& oldest = catalog.snapshots.front();
    std::string bytes;
    if (!archive.read(oldest.name, bytes, r.error)) return;
    OpenedFile f = open_file(bytes, key);
    if (!f.error.empty()) {
      r.error = oldest.name + ": " + f.error;
      return;
    }
    codec::DecodedState d = codec::decode_state(f.payload);
    if (!d.state) {
      r.error = oldest.name + ": " + d.error;
      return;
    }
    state = std::move(d.state);
  }
  w.start(std::move(state));
  for (const SegmentRef& seg : catalog.segments) {
    if (seg.last <= r.start) continue;
    std::string bytes;
    if (!archive.read(seg.name, bytes, r.error)) return;
    OpenedFile f = open_file(bytes, key);
    std::vector<log::Entry> entries;
    std::string error = f.error;
    if (error.empty() && !log::decode_entry_frames(f.payload, entries, error)) error = "bad entries: " + error;
    if (!error.empty()) {
      r.error = fmt::format("{} (positions {}-{}): {}; it was altered or damaged after it was sealed",
                            seg.name, seg.first, seg.last, error);
      w.bad(std::max(seg.first, r.last_position + 1), r.error);
      return;
    }
    for (const log::Entry& e : entries) {
      if (e.position.value <= r.last_position) continue;
      w.entry(e);
    }
  }
}

}  // namespace

AuditReport audit_walk(const AuditSource& source, const AuditOptions& options) {
  const auto t0 = Clock::now();
  AuditReport r;
  Walker w(options, r);
  if (!source.data_dir.empty()) {
    walk_data_dir(source.data_dir, w, r);
  } else {
    walk_archive(source, w, r);
  }
  w.finish();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

}  // namespace betcore::backup
