// An archive directory (docs/backup.md, "Layout"):
//
//   DIR/archive.json                       which key seals it (its id), written once
//   DIR/segments/<first>-<last>.bcseg      log batches first..last (20-digit positions)
//   DIR/snapshots/<position>.bcsnap        the whole state at a position
//
// Files are written once, under a temporary name, fsynced, renamed and the
// directory fsynced: a crash leaves a whole file or none (a leftover *.tmp is
// ignored and removed by the next writer). Nothing here decrypts; that is
// archive_file.h's job.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backup/archive_file.h"

namespace betcore::backup {

struct SegmentRef {
  std::string name;  // relative to the archive: "segments/..."
  uint64_t first = 0;
  uint64_t last = 0;
};

struct SnapshotRef {
  std::string name;  // "snapshots/..."
  uint64_t position = 0;
  FileHeader header;  // plain header (read, not yet authenticated)
};

// What the archive holds, by file name, oldest first.
struct Catalog {
  std::vector<SegmentRef> segments;
  std::vector<SnapshotRef> snapshots;
  std::vector<std::string> problems;  // files that do not belong, unreadable headers

  uint64_t last_position() const { return segments.empty() ? 0 : segments.back().last; }
};

std::string segment_name(uint64_t first, uint64_t last);
std::string snapshot_name(uint64_t position);

class Archive {
 public:
  // Opens DIR as the archive sealed by `key`; with `create`, makes it (and
  // its archive.json) when it does not exist. False with `error` when DIR is
  // not an archive, or was sealed with another key (the error says both ids).
  bool open(const std::string& dir, const Key& key, bool create, std::string& error);

  const std::string& dir() const { return dir_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  Catalog scan() const;

  // Writes `bytes` as `name` durably (see the file comment). False with `error`.
  bool write(const std::string& name, const std::string& bytes, std::string& error) const;
  bool read(const std::string& name, std::string& bytes, std::string& error) const;
  bool remove(const std::string& name, std::string& error) const;
  // The plain header of file `name` (not authenticated: for planning only).
  bool read_header(const std::string& name, FileHeader& header, std::string& error) const;
  // Whether the archive still holds the log from its start (its first
  // segment follows position 0); then `first` is that segment's header.
  bool holds_log_start(const Catalog& catalog, FileHeader& first) const;
  // Of the archive file names in `elsewhere` (a remote copy's listing), those
  // this archive's retention has pruned: not here, and below its oldest
  // restore point (a segment ending at or below its oldest snapshot, a
  // snapshot older than it). While it holds the log's start no segment is
  // named (none is pruned then), but older snapshots are: retention prunes
  // them all the same (a run killed between that prune and the remote
  // deletion left one remote-only for good; found by the backup test under
  // load). Files above it that are not here are not named: retention keeps
  // no record of them.
  std::vector<std::string> pruned_here_only(const std::map<std::string, std::string>& elsewhere) const;

 private:
  std::string dir_;
};

// Whole-file helpers shared by the archive and the shipper.
bool read_whole_file(const std::string& path, std::string& bytes, std::string& error);
bool write_file_durably(const std::string& path, const std::string& bytes, std::string& error);

}  // namespace betcore::backup
