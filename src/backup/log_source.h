// Where the archiver reads the committed log (docs/backup.md, "Sources"):
// an embedded node's GET /v1/log, which also tells the node how far the
// archive is so that it keeps its log for it and alerts when it falls behind.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "log/log.h"
#include "tools/http_client.h"

namespace betcore::backup {

// How far the archive is, told to the source on every read: the node keeps
// its log for it and alerts on it.
struct ArchiveProgress {
  uint64_t archived = 0;              // last position durably in the archive
  std::optional<uint64_t> shipped;    // last position the remote copy confirmed (none: no remote)
  int64_t lag_ms = 0;                 // age of the oldest batch not yet archived
  int64_t remote_lag_ms = -1;         // age of the oldest batch not yet shipped (-1: no remote)
};

struct SourceRead {
  std::vector<log::Entry> entries;  // in log order, from the position asked on
  uint64_t head = 0;                // the source's log head (0: unknown)
};

// Where a cluster loaded by `betcore restore --etcd` starts: its log goes on
// after this restored position and state (docs/backup.md, "A new cluster").
struct SourceBase {
  uint64_t position = 0;
  std::string digest;
};

class LogSource {
 public:
  virtual ~LogSource() = default;
  // Batches from `from` on, waiting up to `wait_ms` for the first. Errc::compacted
  // (with the first position held) when the log no longer has `from`.
  virtual log::Result<SourceRead> read(uint64_t from, const ArchiveProgress& progress, int wait_ms) = 0;
  // A whole state to start from (the log no longer holds what the archive
  // needs next): its canonical encoding and position. False with `error`.
  virtual bool fetch_state(std::string& encoded, uint64_t& position, std::string& error) = 0;
  virtual std::string describe() const = 0;
  // The source's base, when it was restored from an archive; known after a
  // successful read.
  virtual std::optional<SourceBase> base() const { return std::nullopt; }
};

// An embedded node over HTTP, with a `backup` token.
class NodeSource final : public LogSource {
 public:
  NodeSource(tools::Url node, std::string token);
  log::Result<SourceRead> read(uint64_t from, const ArchiveProgress& progress, int wait_ms) override;
  bool fetch_state(std::string& encoded, uint64_t& position, std::string& error) override;
  std::string describe() const override;

 private:
  tools::Url url_;
  std::string token_;
  tools::HttpClient client_;
};

}  // namespace betcore::backup
