// The SSH shipper (shipper.h): what to ship and when, the backlog, retries,
// status and metrics. The remote commands are remote_copy.h's.
#include "backup/shipper.h"

#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "backup/remote_copy.h"
#include "domain/assert.h"
#include "tools/backoff.h"

namespace betcore::backup {
namespace fs = std::filesystem;
namespace {

const std::string kIdentityName(kArchiveIdentityName);
constexpr size_t kRemoveBatchMax = 256;  // names in one remote `rm`: the command line stays small
constexpr int kIdleRescanMs = 5'000;     // the archive is rescanned this often without notify()

// A local file as one round of shipping sees it.
struct LocalFile {
  std::string name;
  uint64_t size = 0;
  std::string sha256;  // "" when it could not be read this round
  bool segment = false;
  uint64_t first = 0;  // segments: positions
  uint64_t last = 0;
  bool confirmed = false;
};

LocalFile local_file(const std::string& name, bool segment = false, uint64_t first = 0,
                     uint64_t last = 0) {
  LocalFile f;
  f.name = name;
  f.segment = segment;
  f.first = first;
  f.last = last;
  return f;
}

struct HashMemo {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string sha256;
};

// Why the last attempt failed; each is logged once, when it begins.
enum class Trouble { none, unreachable, remote_failed, mismatch, foreign };

}  // namespace

bool check_shipper_options(const ShipperOptions& options, std::string& error) {
  SshTarget target;
  if (!parse_ssh_target(options.target, target, error)) return false;
  auto readable = [&](const std::string& path, const char* what) {
    if (::access(path.c_str(), R_OK) == 0) return true;
    const int err = errno;
    error = fmt::format("the {} '{}' cannot be read: {}", what, path, std::strerror(err));
    return false;
  };
  if (options.identity_file.empty()) {
    error = "no SSH identity file: give the private key the target accepts";
    return false;
  }
  if (!readable(options.identity_file, "SSH identity file")) return false;
  if (!options.known_hosts.empty()) {
    if (!readable(options.known_hosts, "known_hosts file")) return false;
    if (options.known_hosts.find_first_of("%\"") != std::string::npos) {
      error =
          "the known_hosts path '" + options.known_hosts + "' holds % or \" (ssh would expand it)";
      return false;
    }
  }
  if (options.port == 0 || options.connect_timeout_s <= 0 || options.command_timeout_ms <= 0 ||
      options.backoff_base_ms <= 0 || options.backoff_cap_ms < options.backoff_base_ms) {
    error = "the shipper's port, timeouts and backoff must be positive (the cap at least the base)";
    return false;
  }
  return true;
}

struct Shipper::Impl {
  Impl(ShipperOptions o, const Archive& a, ops::Registry& metrics)
      : options(std::move(o)),
        archive(a),
        backoff(options.backoff_base_ms, options.backoff_cap_ms, std::random_device{}()),
        backlog_files_gauge(
            metrics.gauge("betcore_backup_remote_backlog_files",
                          "Local archive files not yet confirmed on the remote copy")),
        backlog_bytes_gauge(
            metrics.gauge("betcore_backup_remote_backlog_bytes",
                          "Bytes of the local archive files not yet confirmed remotely")),
        shipped_total(
            metrics.counter("betcore_backup_remote_files_shipped_total",
                            "Files uploaded to the remote copy and confirmed by SHA-256")),
        failures_total(
            metrics.counter("betcore_backup_remote_ship_failures_total",
                            "Failed remote commands (no connection, timeout, hash mismatch)")),
        connected_gauge(metrics.gauge("betcore_backup_remote_connected",
                                      "1 when the last remote command reached the target")),
        shipped_position_gauge(
            metrics.gauge("betcore_backup_remote_shipped_position",
                          "Every archived segment up to this position is confirmed "
                          "on the remote copy")) {
    std::string error;
    BETCORE_ASSERT_MSG(check_shipper_options(options, error), error.c_str());
    parse_ssh_target(options.target, target, error);
    BETCORE_ASSERT_MSG(sodium_init() >= 0, "libsodium failed to initialise");
    // Private: the control socket there lets anyone who can reach it use the
    // connection. mkdtemp makes it 0700.
    std::string pattern = "/tmp/betcore-ssh-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) {
      work_dir = pattern;
    } else {
      setup_error =
          std::string("cannot create a private directory in /tmp for ssh: ") + std::strerror(errno);
    }
    remote_copy = std::make_unique<RemoteCopy>(options, target, work_dir);
  }

  ~Impl() {
    std::error_code ec;
    if (!work_dir.empty()) fs::remove_all(work_dir, ec);
  }

  void run();
  bool list_remote();
  void queue_pruned_orphans();
  bool check(const RemoteResult& r);
  bool remove_pending();
  void scan_local();
  bool ship_round();
  bool upload(LocalFile& file);
  void publish_round();
  void confirm(LocalFile& file);
  uint64_t shipped_position() const;
  void on_failure(Trouble kind, const std::string& error, bool connected);
  void on_success();
  void pause_after_failure();
  void wait_for_work();

  const ShipperOptions options;
  const Archive& archive;
  SshTarget target;
  std::string work_dir;     // ssh's control socket and command output
  std::string setup_error;  // why there is no work_dir
  std::unique_ptr<RemoteCopy> remote_copy;
  tools::Backoff backoff;  // worker thread only

  ops::Gauge& backlog_files_gauge;
  ops::Gauge& backlog_bytes_gauge;
  ops::Counter& shipped_total;
  ops::Counter& failures_total;
  ops::Gauge& connected_gauge;
  ops::Gauge& shipped_position_gauge;

  mutable std::mutex mu;
  std::condition_variable work_cv;      // wakes the worker: notify(), remove_remote(), stop()
  std::condition_variable progress_cv;  // wakes wait_until_shipped(): confirmed changed
  bool stopping = false;                // guarded by mu
  bool kicked = false;                  // guarded by mu
  std::set<std::string> confirmed;      // guarded by mu
  std::deque<std::string> removals;     // guarded by mu; at most kRemovalsQueuedMax
  ShipperStatus status;                 // guarded by mu
  std::atomic<bool> stop_flag{false};   // read by a running ssh command
  std::thread thread;

  // The worker thread's alone.
  bool listed = false;
  std::map<std::string, std::string> remote;  // name -> SHA-256 the remote holds under it
  std::map<std::string, HashMemo> hashes;     // local files already hashed
  std::set<std::string> unreadable;           // local files whose read failed (warned once)
  std::vector<LocalFile> round;               // in shipping order
  std::vector<size_t> round_segments;         // indexes into `round`, ascending
  size_t segments_confirmed = 0;              // a prefix of round_segments
  Trouble trouble = Trouble::none;
};

void Shipper::Impl::run() {
  while (!stop_flag.load()) {
    scan_local();  // the backlog is known, and reported, while the target is down too
    if (!setup_error.empty()) {
      on_failure(Trouble::unreachable, setup_error, false);
      pause_after_failure();
      continue;
    }
    if (!listed && list_remote()) scan_local();  // again, knowing what the remote holds
    if (!listed || !remove_pending() || !ship_round()) {
      pause_after_failure();
      continue;
    }
    wait_for_work();
  }
}

// What the remote holds whole need not be sent again.
bool Shipper::Impl::list_remote() {
  std::map<std::string, std::string> held;
  const RemoteResult r = remote_copy->list(held, stop_flag);
  if (!check(r)) return false;
  std::string local_identity, error;
  if (auto it = held.find(kIdentityName);
      it != held.end() && sha256_file(archive.path(kIdentityName), local_identity, error) &&
      it->second != local_identity) {
    on_failure(Trouble::foreign,
               fmt::format("{} on {} holds another archive: its {} differs from {}", target.path,
                           target.destination, kIdentityName, archive.path(kIdentityName)),
               true);
    return false;
  }
  remote = std::move(held);
  listed = true;
  spdlog::info("shipper: the remote copy {}:{} holds {} archive files", target.destination,
               target.path, remote.size());
  queue_pruned_orphans();
  on_success();
  return true;
}

// Removals wait in memory: a run killed between a local prune and its remote
// deletion left the file remote-only. Queued again (Archive::pruned_here_only).
void Shipper::Impl::queue_pruned_orphans() {
  const std::vector<std::string> orphans = archive.pruned_here_only(remote);
  if (orphans.empty()) return;
  spdlog::info("shipper: deleting {} files pruned locally that an earlier run left on the remote copy",
               orphans.size());
  std::lock_guard lock(mu);
  removals.insert(removals.end(), orphans.begin(), orphans.end());
}

// A failure (but an interruption) is counted, logged when it begins, and
// makes the worker back off.
bool Shipper::Impl::check(const RemoteResult& r) {
  switch (r.outcome) {
    case RemoteOutcome::ok:
      return true;
    case RemoteOutcome::interrupted:
      return false;
    case RemoteOutcome::unreachable:
      on_failure(Trouble::unreachable, r.error, false);
      return false;
    case RemoteOutcome::remote_failed:
      on_failure(Trouble::remote_failed, r.error, true);
      return false;
  }
  return false;
}

// Deletes, in batches, what retention pruned locally. True when none is left.
bool Shipper::Impl::remove_pending() {
  while (!stop_flag.load()) {
    std::vector<std::string> batch;
    {
      std::lock_guard lock(mu);
      while (!removals.empty() && batch.size() < kRemoveBatchMax) {
        batch.push_back(std::move(removals.front()));
        removals.pop_front();
      }
    }
    if (batch.empty()) return true;
    // Back at the front when they could not be deleted: retried first.
    auto put_back = [&] {
      std::lock_guard lock(mu);
      removals.insert(removals.begin(), batch.begin(), batch.end());
    };
    if (const RemoteResult r = remote_copy->remove(batch, stop_flag); !check(r)) {
      put_back();
      return false;
    }
    for (const std::string& name : batch) remote.erase(name);
    spdlog::debug("shipper: deleted {} pruned files from the remote copy", batch.size());
    on_success();
  }
  return false;
}

// The local archive, in shipping order, each file hashed (once: archive
// files are written once and never change); then publishes the backlog.
void Shipper::Impl::scan_local() {
  struct Entry {
    uint64_t position;
    int rank;  // at one position: archive.json, then the segment, then the snapshot
    LocalFile file;
  };
  std::vector<Entry> entries;
  if (fs::exists(archive.path(kIdentityName))) entries.push_back({0, 0, local_file(kIdentityName)});
  const Catalog catalog = archive.scan();
  for (const SegmentRef& s : catalog.segments) {
    entries.push_back({s.last, 1, local_file(s.name, true, s.first, s.last)});
  }
  for (const SnapshotRef& s : catalog.snapshots)
    entries.push_back({s.position, 2, local_file(s.name)});
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.position, a.rank) < std::tie(b.position, b.rank);
  });
  std::map<std::string, HashMemo> memo;
  round.clear();
  for (Entry& e : entries) {
    LocalFile& f = e.file;
    struct stat st {};
    if (::stat(archive.path(f.name).c_str(), &st) != 0) continue;  // pruned meanwhile
    f.size = static_cast<uint64_t>(st.st_size);
    const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    auto it = hashes.find(f.name);
    std::string error;
    if (it != hashes.end() && it->second.size == f.size && it->second.mtime_ns == mtime_ns) {
      f.sha256 = it->second.sha256;
    } else if (sha256_file(archive.path(f.name), f.sha256, error)) {
      unreadable.erase(f.name);
    } else if (unreadable.insert(f.name).second) {
      spdlog::warn("shipper: {}; it is not shipped until it can be read (check its permissions)",
                   error);
    }
    if (!f.sha256.empty()) memo[f.name] = {f.size, mtime_ns, f.sha256};
    auto held = remote.find(f.name);
    f.confirmed = !f.sha256.empty() && held != remote.end() && held->second == f.sha256;
    round.push_back(std::move(f));
  }
  hashes = std::move(memo);
  publish_round();
}

// Publishes what the new round found: confirmed names, backlog, position.
void Shipper::Impl::publish_round() {
  round_segments.clear();
  segments_confirmed = 0;
  std::set<std::string> names;
  uint64_t backlog_files = 0, backlog_bytes = 0;
  for (size_t i = 0; i < round.size(); ++i) {
    const LocalFile& f = round[i];
    if (f.segment) round_segments.push_back(i);
    if (f.confirmed) {
      names.insert(f.name);
    } else {
      ++backlog_files;
      backlog_bytes += f.size;
    }
  }
  while (segments_confirmed < round_segments.size() &&
         round[round_segments[segments_confirmed]].confirmed) {
    ++segments_confirmed;
  }
  const uint64_t position = shipped_position();
  {
    std::lock_guard lock(mu);
    confirmed = std::move(names);
    status.backlog_files = backlog_files;
    status.backlog_bytes = backlog_bytes;
    status.shipped_position = position;
  }
  backlog_files_gauge.set(static_cast<double>(backlog_files));
  backlog_bytes_gauge.set(static_cast<double>(backlog_bytes));
  shipped_position_gauge.set(static_cast<double>(position));
  progress_cv.notify_all();
}

// The last position L such that every local segment ending at or before L
// is confirmed: just before the first unconfirmed segment (0 with none).
uint64_t Shipper::Impl::shipped_position() const {
  if (round_segments.empty()) return 0;
  if (segments_confirmed == round_segments.size()) return round[round_segments.back()].last;
  return round[round_segments[segments_confirmed]].first - 1;
}

bool Shipper::Impl::ship_round() {
  for (LocalFile& f : round) {
    if (stop_flag.load()) return false;
    if (f.confirmed || f.sha256.empty()) continue;
    if (!upload(f)) return false;
  }
  return true;
}

// The remote checks the hash before the file takes its name; so does this
// side, with the hash the remote printed, before counting it confirmed.
bool Shipper::Impl::upload(LocalFile& file) {
  const std::string local = archive.path(file.name);
  if (!fs::exists(local)) return true;  // pruned since the scan: nothing to ship
  std::string remote_sha256;
  const RemoteResult r =
      remote_copy->store(file.name, local, file.sha256, remote_sha256, stop_flag);
  if (r.outcome != RemoteOutcome::unreachable && !remote_sha256.empty() &&
      remote_sha256 != file.sha256) {
    on_failure(Trouble::mismatch,
               fmt::format("{}: the remote copy's SHA-256 is {}, the local file's {}", file.name,
                           remote_sha256, file.sha256),
               true);
    return false;
  }
  if (!check(r)) return false;
  confirm(file);
  on_success();
  return true;
}

void Shipper::Impl::confirm(LocalFile& file) {
  file.confirmed = true;
  remote[file.name] = file.sha256;
  while (segments_confirmed < round_segments.size() &&
         round[round_segments[segments_confirmed]].confirmed) {
    ++segments_confirmed;
  }
  const uint64_t position = shipped_position();
  uint64_t backlog_files, backlog_bytes;
  {
    std::lock_guard lock(mu);
    confirmed.insert(file.name);
    backlog_files = status.backlog_files = status.backlog_files - 1;
    backlog_bytes = status.backlog_bytes = status.backlog_bytes - file.size;
    status.shipped_position = position;
    ++status.files_shipped;
  }
  shipped_total.inc();
  backlog_files_gauge.set(static_cast<double>(backlog_files));
  backlog_bytes_gauge.set(static_cast<double>(backlog_bytes));
  shipped_position_gauge.set(static_cast<double>(position));
  progress_cv.notify_all();
  spdlog::debug("shipper: {} ({} bytes) is on the remote copy", file.name, file.size);
}

void Shipper::Impl::on_failure(Trouble kind, const std::string& error, bool connected) {
  failures_total.inc();
  connected_gauge.set(connected ? 1 : 0);
  uint64_t backlog_files;
  {
    std::lock_guard lock(mu);
    ++status.failures;
    status.connected = connected;
    status.last_error = error;
    backlog_files = status.backlog_files;
  }
  if (kind == trouble) return;  // logged when it began; retries are counted, not logged
  trouble = kind;
  const std::string where = target.destination + ":" + target.path;
  switch (kind) {
    case Trouble::none:
      BETCORE_ASSERT_MSG(false, "a failure without a kind");
      return;
    case Trouble::unreachable:
      spdlog::error(
          "shipper: cannot reach {} (port {}): {}. Retrying with backoff (at most {} ms "
          "apart); the backlog ({} files) stays in the local archive and nothing unshipped "
          "is pruned. If the target is up, check the key {} and its known_hosts entry",
          where, options.port, error, options.backoff_cap_ms, backlog_files, options.identity_file);
      return;
    case Trouble::remote_failed:
      spdlog::error(
          "shipper: a command on {} failed: {}. Retrying with backoff; check the free space "
          "and the permissions of {} on the target",
          target.destination, error, target.path);
      return;
    case Trouble::mismatch:
      spdlog::error(
          "shipper: {}: not counted as shipped, sent again. If this repeats, check the "
          "target's disk and memory",
          error);
      return;
    case Trouble::foreign:
      spdlog::error(
          "shipper: {}: nothing is shipped there. Point the target at an empty directory or "
          "at this archive's own remote copy (if the remote {} is this archive's, damaged, "
          "delete it there)",
          error, kIdentityName);
      return;
  }
}

void Shipper::Impl::on_success() {
  connected_gauge.set(1);
  uint64_t backlog_files;
  {
    std::lock_guard lock(mu);
    status.connected = true;
    status.last_error.clear();
    backlog_files = status.backlog_files;
  }
  backoff.reset();
  if (trouble == Trouble::none) return;
  trouble = Trouble::none;
  spdlog::info("shipper: {}:{} works again; {} files to ship", target.destination, target.path,
               backlog_files);
}

void Shipper::Impl::pause_after_failure() {
  std::unique_lock lock(mu);
  work_cv.wait_for(lock, std::chrono::milliseconds(backoff.next_ms()), [&] { return stopping; });
}

void Shipper::Impl::wait_for_work() {
  std::unique_lock lock(mu);
  work_cv.wait_for(lock, std::chrono::milliseconds(kIdleRescanMs),
                   [&] { return stopping || kicked || !removals.empty(); });
  kicked = false;
}

Shipper::Shipper(ShipperOptions options, const Archive& archive, ops::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), archive, metrics)) {}

Shipper::~Shipper() { stop(); }

void Shipper::start() {
  if (impl_->thread.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = false;
  }
  impl_->stop_flag = false;
  impl_->listed = false;  // the remote may have changed while stopped: nothing is
  impl_->remote.clear();  // confirmed until it is listed again
  impl_->thread = std::thread([this] { impl_->run(); });
}

void Shipper::stop() {
  if (!impl_->thread.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->stop_flag = true;
  }
  impl_->work_cv.notify_all();
  impl_->thread.join();
  impl_->remote_copy->close();
  std::lock_guard lock(impl_->mu);
  impl_->status.connected = false;
  impl_->connected_gauge.set(0);
}

void Shipper::notify() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->kicked = true;
  }
  impl_->work_cv.notify_all();
}

bool Shipper::confirmed(const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  return impl_->confirmed.contains(name);
}

void Shipper::remove_remote(const std::string& name) {
  BETCORE_ASSERT_MSG(is_archive_name(name), "remove_remote: not an archive file name");
  {
    std::lock_guard lock(impl_->mu);
    impl_->confirmed.erase(name);
    if (impl_->removals.size() >= kRemovalsQueuedMax) {
      spdlog::warn(
          "shipper: {} remote deletions are waiting; {} stays on the remote copy (delete it "
          "there by hand)",
          impl_->removals.size(), impl_->removals.front());
      impl_->removals.pop_front();
    }
    impl_->removals.push_back(name);
  }
  impl_->work_cv.notify_all();
}

ShipperStatus Shipper::status() const {
  std::lock_guard lock(impl_->mu);
  return impl_->status;
}

bool Shipper::wait_until_shipped(int timeout_ms) {
  std::vector<std::string> names;
  if (fs::exists(impl_->archive.path(kIdentityName))) names.push_back(kIdentityName);
  const Catalog catalog = impl_->archive.scan();
  for (const SegmentRef& s : catalog.segments) names.push_back(s.name);
  for (const SnapshotRef& s : catalog.snapshots) names.push_back(s.name);
  notify();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lock(impl_->mu);
  return impl_->progress_cv.wait_until(lock, deadline, [&] {
    return std::all_of(names.begin(), names.end(), [&](const std::string& name) {
      // A file pruned since was confirmed before it was (the archiver's rule).
      return impl_->confirmed.contains(name) || !fs::exists(impl_->archive.path(name));
    });
  });
}

}  // namespace betcore::backup
