// The remote copy's operations (shipper.h, "Remote copy"): list, store,
// remove, each one shell command on the other site, run by `ssh`, all over
// one multiplexed connection, each with a deadline and interruptible. What
// to ship, when, and what a failure means is the shipper's business.
//
// The remote side needs a POSIX login shell and GNU coreutils (sha256sum,
// `sync FILE`, find). Every command prints a last line of its own so that
// one cut short (the connection dropped after some output) is never taken
// for a success.
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "backup/shipper.h"

namespace betcore::backup {

inline constexpr std::string_view kArchiveIdentityName = "archive.json";

// An archive file's name as shipped: "archive.json", "segments/<x>.bcseg" or
// "snapshots/<x>.bcsnap", of the characters archive.h's names use.
bool is_archive_name(std::string_view name);

// The SHA-256 of a local file, in lower-case hex as sha256sum prints it.
// REQUIRES: sodium_init() was called. False with `error` when unreadable.
bool sha256_file(const std::string& path, std::string& hex, std::string& error);

// "[user@]host:/absolute/path", split. "user@[::1]:/p" (scp's form) gives
// the destination "user@::1", as ssh takes it.
struct SshTarget {
  std::string destination;  // "[user@]host"
  std::string path;         // absolute, without a trailing '/'
};
bool parse_ssh_target(const std::string& text, SshTarget& target, std::string& error);

enum class RemoteOutcome {
  ok,
  unreachable,    // ssh's own failure (exit code 255), no ssh, or no answer in time
  remote_failed,  // the remote command failed or was cut short
  interrupted,    // `stop` was set
};

struct RemoteResult {
  RemoteOutcome outcome = RemoteOutcome::ok;
  std::string error;  // "" when ok; else what ssh or the remote said, on one line
};

// Thread: one thread at a time.
class RemoteCopy {
 public:
  // REQUIRES: `options` outlives this; `work_dir` is a private (0700)
  // directory only this uses (the control socket, the commands' output).
  RemoteCopy(const ShipperOptions& options, SshTarget target, std::string work_dir)
      : options_(options), target_(std::move(target)), work_dir_(std::move(work_dir)) {}

  // Creates the folders if missing, deletes *.tmp left by uploads cut short,
  // and fills `held` with name -> SHA-256 (lower-case hex) of every archive
  // file there.
  RemoteResult list(std::map<std::string, std::string>& held, const std::atomic<bool>& stop);

  // Streams `local_path` into NAME.tmp, which the remote renames to `name`
  // (after an fsync, then an fsync of the folder) only when its SHA-256 there
  // is `sha256`. `remote_sha256`: what the remote computed ("" if it did not
  // get that far); ok only when it equals `sha256`.
  RemoteResult store(const std::string& name, const std::string& local_path,
                     const std::string& sha256, std::string& remote_sha256,
                     const std::atomic<bool>& stop);

  // Deletes `names` (missing ones are no error) and fsyncs the folders.
  RemoteResult remove(const std::vector<std::string>& names, const std::atomic<bool>& stop);

  // Ends the shared connection, if there is one.
  void close();

 private:
  struct Output {
    RemoteResult result;
    std::string text;  // stdout and stderr, mixed
  };
  // Runs `command`, its stdin read from `stdin_path` ("" for none); a
  // success must end with the line `mark`.
  Output run(const std::string& command, const std::string& stdin_path, std::string_view mark,
             const std::atomic<bool>& stop);
  std::string control_path() const { return work_dir_ + "/master"; }
  std::vector<std::string> ssh_args() const;

  const ShipperOptions& options_;
  const SshTarget target_;
  const std::string work_dir_;
};

}  // namespace betcore::backup
