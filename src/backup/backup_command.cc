// The command lines of `betcore backup` (keygen, run, verify, list) and
// `betcore restore` (docs/backup.md).
#include "backup/backup_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/http/http_server.h"
#include "api/time_format.h"
#include "backup/archiver.h"
#include "backup/etcd_restore.h"
#include "backup/etcd_source.h"
#include "backup/restore.h"
#include "backup/verify.h"
#include "ops/metrics.h"
#include "ops/process_metrics.h"
#include "tools/server_process.h"
#include "tools/tls_flags.h"

namespace betcore::backup {
namespace {

struct ArchiveFlags {
  std::string archive;
  std::string key_file;
};

void add_archive_flags(CLI::App* cmd, ArchiveFlags& f) {
  cmd->add_option("--archive", f.archive, "The archive directory")->required();
  cmd->add_option("--key", f.key_file, "The archive's key file (betcore backup keygen)")
      ->required();
}

// Opens the archive or exits 2 with what to do.
void open_or_exit(const ArchiveFlags& f, bool create, Key& key, Archive& archive) {
  std::string error;
  if (!load_key(f.key_file, key, error) || !archive.open(f.archive, key, create, error)) {
    spdlog::error("{}", error);
    std::exit(2);
  }
}

std::string time_text(int64_t ms) { return api::format_rfc3339(ms); }

void add_keygen(CLI::App& backup) {
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = backup.add_subcommand("keygen", "Write a new archive key file (mode 600)");
  cmd->add_option("--out", *out, "Where to write it (never overwritten)")->required();
  cmd->callback([out] {
    std::string error;
    Key key = generate_key();
    if (!write_key_file(*out, key, error)) {
      spdlog::error("{}", error);
      std::exit(2);
    }
    std::cout << "archive key written to " << *out << " (key id " << key.id_hex()
              << "). Keep a copy away from the archive: without it nothing can be restored.\n";
  });
}

struct RunFlags {
  ArchiveFlags archive;
  std::vector<std::string> nodes;
  std::string etcd;
  std::string hold_name = "archiver";
  int64_t hold_ttl_s = 86'400;
  std::string tokens;
  std::string metrics_listen = "127.0.0.1:0";
  ArchiverOptions options;
  int64_t snapshot_every_s = 600;
  ShipperOptions ssh;
};

// Long: wiring of one process (flags, metrics endpoint, shipper, archiver, signals).
int run_archiver(const RunFlags& f) {
  sigset_t stop_signals = tools::block_stop_signals();
  Key key;
  Archive archive;
  open_or_exit(f.archive, true, key, archive);
  std::vector<tools::Url> nodes;
  for (const std::string& n : f.nodes) nodes.push_back(tools::url_flag_or_exit("--node", n));
  if (f.etcd.empty() && nodes.size() != 1) {
    spdlog::error("give the embedded node to archive (--node https://HOST:PORT), or a cluster's log (--etcd "
                  "etcds://HOST:PORT,.../CLUSTER, with --node for each node to fetch a snapshot from)");
    std::exit(2);
  }
  const std::string token = tools::role_token_or_exit(f.tokens, "backup");
  std::string host;
  uint16_t port = 0;
  tools::listen_flag_or_exit("--metrics-listen", f.metrics_listen, host, port);

  ops::Registry registry;
  const auto process_series = ops::register_process_metrics(registry);
  http::Options http_options;
  http_options.host = host;
  http_options.port = port;
  http::Server metrics_server(http_options, http::metrics_only(registry));
  if (http::Status s = metrics_server.start(); !s.ok()) {
    spdlog::error(
        "backup: cannot listen on {}:{} for /metrics: {}; choose another --metrics-listen", host,
        port, s.error);
    return 2;
  }
  std::unique_ptr<Shipper> shipper;
  if (!f.ssh.target.empty()) {
    std::string error;
    if (!check_shipper_options(f.ssh, error)) {
      spdlog::error("{}", error);
      return 2;
    }
    shipper = std::make_unique<Shipper>(f.ssh, archive, registry);
  }
  std::unique_ptr<LogSource> source;
  if (f.etcd.empty()) {
    source = std::make_unique<NodeSource>(nodes.front(), token);
  } else {
    std::string error;
    source = EtcdSource::open(EtcdSourceOptions{f.etcd, f.hold_name, f.hold_ttl_s, nodes, token}, error);
    if (!source) {
      spdlog::error("--etcd: {}", error);
      std::exit(2);
    }
  }
  ArchiverOptions options = f.options;
  options.snapshot_every_ms = f.snapshot_every_s * 1000;
  Archiver archiver(options, archive, key, *source, shipper.get(), registry);
  std::string error;
  if (!archiver.resume(error)) {
    spdlog::error("{}", error);
    return 1;
  }
  if (shipper) shipper->start();
  spdlog::info("backup: archiving {} into {}{}; metrics on http://{}:{}/metrics", source->describe(),
               archive.dir(), shipper ? " and over SSH to " + f.ssh.target : "", host,
               metrics_server.bound_port());
  std::atomic<bool> stop{false};
  std::thread loop([&] { archiver.run(stop); });
  int sig = tools::wait_for_stop_signal(stop_signals);
  spdlog::info("backup: signal {}: archiving what is pending, then stopping", sig);
  stop = true;
  loop.join();
  if (shipper) shipper->stop();
  metrics_server.stop();
  return 0;
}

void add_run(CLI::App& backup) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* cmd = backup.add_subcommand("run", "Archive a node's or a cluster's log continuously");
  add_archive_flags(cmd, f->archive);
  tools::add_tls_client_flags(cmd);
  cmd->add_option("--node", f->nodes,
                  "The embedded node, https://HOST:PORT (http:// if it runs --plain-http); with "
                  "--etcd, the nodes to fetch a snapshot from (repeatable)");
  cmd->add_option("--etcd", f->etcd, "A cluster's log: etcds://HOST:PORT,HOST:PORT/CLUSTER (the nodes' --log; etcd:// when plain)");
  cmd->add_option("--hold-name", f->hold_name, "With --etcd: this archiver's name for its hold on the log")
      ->capture_default_str();
  cmd->add_option("--hold-ttl-s", f->hold_ttl_s,
                  "With --etcd: an archiver gone this long loses its hold (the cluster compacts past it)")
      ->capture_default_str()->check(CLI::Range(int64_t{10}, int64_t{30} * 86'400));
  cmd->add_option("--tokens", f->tokens, "Tokens file with a `backup` token")->required();
  cmd->add_option("--metrics-listen", f->metrics_listen, "HOST:PORT of GET /metrics (port 0: any)")
      ->capture_default_str();
  cmd->add_option("--segment-ms", f->options.segment_ms,
                  "Close a segment this long after its first batch (the RPO)")
      ->capture_default_str()
      ->check(CLI::Range(10, 600'000));
  cmd->add_option("--snapshot-every-s", f->snapshot_every_s, "Archive a snapshot this often")
      ->capture_default_str()
      ->check(CLI::Range(1, 30 * 86400));
  cmd->add_option("--keep-recent", f->options.retention.recent, "Snapshots kept: the newest N")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--keep-daily", f->options.retention.daily,
                  "... and the newest of each of N days")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--keep-weekly", f->options.retention.weekly, "... and of each of N weeks")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--ssh-target", f->ssh.target, "Copy off the machine: [user@]host:/path");
  cmd->add_option("--ssh-port", f->ssh.port, "SSH port")->capture_default_str();
  cmd->add_option("--ssh-identity", f->ssh.identity_file, "SSH private key file");
  cmd->add_option("--ssh-known-hosts", f->ssh.known_hosts, "known_hosts file for the target");
  cmd->callback([f] { std::exit(run_archiver(*f)); });
}

RestoreTarget target_or_exit(const std::string& to_position, const std::string& to_time) {
  RestoreTarget t;
  if (!to_position.empty() && !to_time.empty()) {
    spdlog::error("give --to-position or --to-time, not both");
    std::exit(2);
  }
  if (!to_position.empty()) {
    t.kind = RestoreTarget::Kind::position;
    try {
      t.position = std::stoull(to_position);
    } catch (...) {
      spdlog::error("--to-position wants a log position (a number), not '{}'", to_position);
      std::exit(2);
    }
  } else if (!to_time.empty()) {
    t.kind = RestoreTarget::Kind::time;
    std::optional<int64_t> ms = api::parse_rfc3339(to_time);
    if (!ms) {
      spdlog::error("--to-time wants an RFC 3339 time such as 2026-12-04T15:00:00Z, not '{}'",
                    to_time);
      std::exit(2);
    }
    t.time_ms = *ms;
  }
  return t;
}

nlohmann::json report_json(const RestoreReport& r) {
  return {{"position", r.position},
          {"time", time_text(r.time_ms)},
          {"time_ms", r.time_ms},
          {"commands", r.commands},
          {"digest", r.digest},
          {"digest_checked", r.digest_checked},
          {"proof", r.proof},
          {"base", r.base},
          {"batches_replayed", r.batches_replayed},
          {"commands_replayed", r.commands_replayed},
          {"archive_last_position", r.archive_last},
          {"batches_after", r.batches_after},
          {"warnings", r.warnings},
          {"seconds", r.seconds}};
}

void add_restore(CLI::App& app) {
  struct Flags {
    ArchiveFlags archive;
    std::string data_dir, to_position, to_time, etcd;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "restore",
      "Restore a node's data directory from an archive: latest, to a log position, or to a time");
  add_archive_flags(cmd, f->archive);
  tools::add_tls_client_flags(cmd);
  cmd->add_option("--data-dir", f->data_dir, "A new, empty data directory for `betcore node`")
      ->required();
  cmd->add_option("--to-position", f->to_position, "The last log position to include");
  cmd->add_option("--to-time", f->to_time, "The last batch time to include (RFC 3339)");
  cmd->add_option("--etcd", f->etcd,
                  "Also load this fresh etcd cluster (etcd://host:port,.../CLUSTER) so a new cluster "
                  "of nodes starts from the restored state; give each node a copy of --data-dir");
  cmd->callback([f] {
    Key key;
    Archive archive;
    open_or_exit(f->archive, false, key, archive);
    RestoreTarget target = target_or_exit(f->to_position, f->to_time);
    std::string error;
    // Before the work: a cluster that ran is never loaded, a directory that
    // holds data is never written.
    if (!f->etcd.empty() && !check_fresh_cluster(f->etcd, error)) {
      spdlog::error("restore: {}", error);
      std::exit(2);
    }
    if (std::error_code ec; std::filesystem::exists(f->data_dir, ec) && !std::filesystem::is_empty(f->data_dir, ec)) {
      spdlog::error("restore: {} is not empty: restore into a new directory (a restore never overwrites a "
                    "node's data)",
                    f->data_dir);
      std::exit(2);
    }
    RestoreOptions options;
    options.progress = [](uint64_t position, uint64_t batches) {
      std::cerr << "restore: at position " << position << ", " << batches << " batches replayed\n";
    };
    std::cerr << "restore: " << target.describe() << " from " << archive.dir() << "\n";
    RestoreReport r = restore_state(archive, key, target, options);
    for (const std::string& w : r.warnings) spdlog::warn("{}", w);
    if (!r.ok) {
      spdlog::error("restore failed: {}", r.error);
      std::exit(1);
    }
    if (!write_data_dir(f->data_dir, r.encoded, r.position, error)) {
      spdlog::error("restore: {}", error);
      std::exit(1);
    }
    std::cerr << fmt::format(
        "restore: restored position {} (time {}, {} commands), digest {}: {}. {} archived batches "
        "after it were not restored. Start it with `betcore node --data {}`\n",
        r.position, time_text(r.time_ms), r.commands, r.digest, r.proof, r.batches_after,
        f->data_dir);
    nlohmann::json out = report_json(r);
    if (!f->etcd.empty()) {
      log::etcd::BaseRecord base{r.position, r.digest, r.time_ms, archive.dir()};
      ClusterLoad loaded;
      if (!load_cluster(f->etcd, base, loaded, error)) {
        // Nothing half done: the directory was empty or absent before.
        std::error_code ec;
        std::filesystem::remove_all(f->data_dir, ec);
        spdlog::error("restore: the etcd cluster is not loaded (and {} is removed again): {}", f->data_dir,
                      error);
        std::exit(1);
      }
      std::cerr << fmt::format(
          "restore: etcd cluster '{}' loaded: its log goes on at position {} (etcd revision {} is "
          "position {}). Copy {} to every node's --data, then start the nodes with --log {}\n",
          loaded.cluster, r.position + 1, loaded.base_revision, r.position, f->data_dir, f->etcd);
      out["etcd"] = {{"cluster", loaded.cluster},
                     {"base_revision", loaded.base_revision},
                     {"offset", loaded.offset}};
    }
    std::cout << out.dump() << std::endl;
    std::exit(0);
  });
}

void add_verify(CLI::App& backup) {
  struct Flags {
    ArchiveFlags archive;
    std::string scratch;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = backup.add_subcommand("verify", "Restore every kept restore point and check it");
  add_archive_flags(cmd, f->archive);
  cmd->add_option("--scratch", f->scratch,
                  "An empty directory to restore into (default: a temporary one)");
  cmd->callback([f] {
    Key key;
    Archive archive;
    open_or_exit(f->archive, false, key, archive);
    VerifyReport r = verify_archive(archive, key, f->scratch);
    std::cout << r.to_json() << std::endl;
    if (!r.ok) spdlog::error("verify FAILED: {}", r.error);
    std::exit(r.ok ? 0 : 1);
  });
}

}  // namespace

void add_backup_commands(CLI::App& app) {
  CLI::App* backup = app.add_subcommand("backup", "The continuous archive: keygen, run, verify");
  backup->require_subcommand(1);
  add_keygen(*backup);
  add_run(*backup);
  add_verify(*backup);
  add_restore(app);
}

}  // namespace betcore::backup
