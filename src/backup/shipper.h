// Ships the archive's files off the machine over SSH (docs/backup.md,
// "Remote copy"): a real `ssh` (OpenSSH's client, one multiplexed
// connection), to `user@host:/path` on the other site, where the files keep
// their names. A file counts as shipped only once the remote side has it
// whole under its final name and its SHA-256 there equals the local one.
// A target that is down is retried with jittered backoff; the backlog is kept
// and reported; nothing is deleted locally before its remote copy is
// confirmed (the archiver asks confirmed() before pruning).
//
// Order: archive.json first, then files by the log position they reach (a
// segment by its last, a snapshot by its own; the segment first at a tie), so
// the remote copy holds a prefix of the history at every moment. A remote
// path that holds another archive (its archive.json differs from the local
// one) gets nothing: the shipper reports it and retries, never overwrites.
//
// Thread: the shipper runs its own thread; every public call is thread-safe,
// except start() and stop(), which its owner calls from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "backup/archive.h"
#include "ops/metrics.h"

namespace betcore::backup {

inline constexpr size_t kRemovalsQueuedMax = 100'000;

struct ShipperOptions {
  std::string target;  // "[user@]host:/absolute/path" (IPv6: "[user@][::1]:/path")
  uint16_t port = 22;
  std::string identity_file;        // ssh -i (required: the tests use their own key)
  std::string known_hosts;          // UserKnownHostsFile; StrictHostKeyChecking=yes when set
  int connect_timeout_s = 5;        // ssh ConnectTimeout
  int command_timeout_ms = 30'000;  // one remote command (an upload) at most this long
  int backoff_base_ms = 200;
  int backoff_cap_ms = 10'000;
};

// Checks options before a Shipper is made from them: the target's form, the
// identity file (and known_hosts when given) readable, the timeouts positive.
// False with `error`, saying what to fix.
bool check_shipper_options(const ShipperOptions& options, std::string& error);

struct ShipperStatus {
  uint64_t shipped_position = 0;  // every segment up to here is confirmed remotely
  uint64_t backlog_files = 0;     // local files not yet confirmed remotely
  uint64_t backlog_bytes = 0;
  uint64_t files_shipped = 0;  // since this Shipper was made
  uint64_t failures = 0;       // failed attempts, likewise
  bool connected = false;      // the last attempt reached the target
  std::string last_error;      // "" after a success
};

// What the remote side needs: OpenSSH's sshd, a POSIX shell as the login
// shell, and GNU coreutils (sha256sum, `sync FILE`, find). The remote path
// is this shipper's alone: it deletes *.tmp files it finds there at start.
class Shipper {
 public:
  // REQUIRES: check_shipper_options(options) passes. `archive` and `metrics`
  // outlive the shipper.
  Shipper(ShipperOptions options, const Archive& archive, ops::Registry& metrics);
  ~Shipper();  // stops

  // Starts the shipping thread, which first lists the remote copy (creating
  // its folders if missing; retried while the target is down). Files the
  // remote already holds whole are not sent again. Does not block on the
  // network. start() after stop() starts again (and lists again).
  void start();
  // Interrupts an upload in flight (its temporary remote file is cleaned up
  // by the next start), joins the thread, closes the SSH connection.
  void stop();

  // A new file is in the local archive: ship it soon.
  void notify();
  // Whether the remote copy holds `name` (relative, e.g. "segments/...") whole,
  // with the same SHA-256 as the local file. False before the first listing.
  bool confirmed(const std::string& name) const;
  // Retention pruned `name` locally: delete it remotely too (retried until
  // done; at most kRemovalsQueuedMax wait, beyond that the oldest is dropped
  // with a warning and stays on the remote). REQUIRES: `name` is an archive
  // name (relative, no "..").
  void remove_remote(const std::string& name);
  ShipperStatus status() const;

  // Blocks until every file in the local archive now is confirmed, or
  // `timeout_ms` passes; true when all are (tests, `backup run --once`).
  bool wait_until_shipped(int timeout_ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace betcore::backup
