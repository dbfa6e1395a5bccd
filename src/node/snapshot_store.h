// Snapshot files in DIR/snapshots: snapshot-<20-digit index>.bcs, written to a
// temporary name, fsynced, renamed, and the directory fsynced, so a crash
// leaves either the old set or the new one, never half a file under a real
// name. Loading tries the newest first and falls back to older ones when a
// file fails its checksum (reported, never applied).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "domain/state.h"

namespace betcore::node {

struct LoadedSnapshot {
  std::unique_ptr<domain::State> state;  // null: start from an empty state
  uint64_t index = 0;
  std::string path;
  std::vector<std::string> problems;  // snapshots skipped, and why
};

class SnapshotStore {
 public:
  explicit SnapshotStore(std::string dir, size_t keep = 2) : dir_(std::move(dir)), keep_(keep) {}

  // Creates the directory; false with `error` set on failure.
  bool init(std::string& error);

  // Writes sealed bytes for `index` durably, then deletes all but the newest
  // `keep` snapshots. Returns false with `error` on any I/O failure.
  bool write(uint64_t index, const std::string& sealed, std::string& error);

  // The newest snapshot at or below `index_max` that opens, decodes and
  // matches its file name. Snapshots it cannot use are renamed
  // `<name>.set-aside` (kept for a post-mortem, never loaded, never counted
  // among the kept ones): damaged ones, and ones past `index_max` (the log
  // lost batches they contain, e.g. after --truncate-corrupt-tail).
  LoadedSnapshot load_latest(uint64_t index_max);

  // The newest snapshot file's sealed bytes (for a peer's bootstrap): false
  // with `error` when there is none or it cannot be read.
  bool read_newest(std::string& bytes, uint64_t& index, std::string& error) const;

  // Deletes all but the newest `keep` snapshots now; returns how many went.
  size_t prune(size_t keep);

  // Indexes of the snapshots on disk, oldest first.
  std::vector<uint64_t> list() const;

  std::string path_for(uint64_t index) const;

  // A snapshot fetched from a peer is written here as it arrives (never
  // listed, loaded or served as a snapshot until adopted).
  std::string partial_path() const { return dir_ + "/fetching.partial"; }

  // The fetched file opened and decoded: its state and index, or why it
  // cannot be used in `problems`.
  LoadedSnapshot open_partial() const;

  // Moves the fetched file in as the snapshot at `index`, durably (rename,
  // then the directory fsynced), then prunes. False with `error`.
  bool adopt_partial(uint64_t index, std::string& error);

 private:
  std::string dir_;
  size_t keep_;
};

}  // namespace betcore::node
