// `betcore audit verify` and `betcore audit export` (docs/audit.md): walk a
// history (a node's data directory or an archive) from its start, recompute
// the audit chain batch by batch and check every anchor the batches carry,
// replaying the commands as every replica does, and write who did what and
// when, with each command's result, as JSON lines.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace betcore::backup {

struct AuditSource {
  std::string data_dir;     // an embedded node's data directory (log/, snapshots/); or
  std::string archive_dir;  // an archive (docs/backup.md), with
  std::string key_file;     // its key
};

struct AuditReport {
  bool ok = false;
  // Why the walk could not go on (an unreadable source, a file that fails
  // its authentication), for a person; "" when it read everything.
  std::string error;
  // The first position whose batch fails its checks or whose chain an
  // anchor contradicts (0: none), and what was found there.
  uint64_t first_bad = 0;
  std::string first_bad_reason;
  // The newest position before first_bad that an anchor confirmed: the
  // alteration lies in (last_confirmed, first_bad].
  uint64_t last_confirmed = 0;
  uint64_t start = 0;  // the walk started after this position (a snapshot's), 0: the log's start
  uint64_t last_position = 0;
  uint64_t batches = 0;
  uint64_t commands = 0;
  uint64_t anchors_checked = 0;
  uint64_t last_anchored = 0;  // the newest position an anchor covers
  std::string head_chain;      // the chain after last_position (64 hex)
  // The position whose batch began the chain, when this walk met it (0:
  // it began in a snapshot's history, or never).
  uint64_t chain_begins = 0;
  // Positions up to this one were not checked: the walk started from a
  // snapshot (taken as it is: the chain covers the log, not a snapshot's
  // tables) or they come before the chain began. complete: none such.
  uint64_t unchecked_through = 0;
  bool complete = false;
  uint64_t exported = 0;       // lines written by export
  double seconds = 0;

  std::string to_json() const;
};

// One JSON line per command in [from, to] (export), '\n' included.
using AuditSink = std::function<void(const std::string& line)>;

struct AuditOptions {
  uint64_t from = 0;  // export range, positions inclusive
  uint64_t to = UINT64_MAX;
  AuditSink sink;     // null: verify only
  // "POSITION:HEX": the chain value recorded elsewhere (a replica's
  // /v1/cluster, a regulator's note); it must match.
  std::string expect;
  std::function<void(uint64_t position)> progress;  // every few seconds
};

AuditReport audit_walk(const AuditSource& source, const AuditOptions& options);

}  // namespace betcore::backup
