// `betcore audit verify` and `betcore audit export` (docs/audit.md).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <regex>

#include "backup/audit.h"
#include "backup/backup_command.h"

namespace betcore::backup {
namespace {

struct AuditFlags {
  AuditSource source;
  std::string expect;
  bool json = false;
  std::string out;
  uint64_t from = 0;
  uint64_t to = UINT64_MAX;
};

void add_source_flags(CLI::App* cmd, AuditFlags& f) {
  auto* data = cmd->add_option("--data", f.source.data_dir,
                               "A stopped embedded node's data directory (its log/ and snapshots/)");
  auto* archive = cmd->add_option("--archive", f.source.archive_dir, "An archive (betcore backup run)");
  auto* key = cmd->add_option("--key", f.source.key_file, "The archive's key file");
  data->excludes(archive);
  archive->needs(key);
  cmd->callback([&f] {
    if (f.source.data_dir.empty() && f.source.archive_dir.empty()) {
      throw CLI::ValidationError("--data or --archive",
                                 "name the history to read: --data DIR or --archive DIR --key FILE");
    }
  });
}

void progress(uint64_t position) { spdlog::info("audit: at position {}", position); }

void print_report(const AuditReport& r, bool json) {
  if (json) {
    std::cout << r.to_json() << "\n";
    return;
  }
  if (!r.error.empty()) std::cerr << "audit: " << r.error << "\n";
  if (r.first_bad != 0) {
    std::cerr << "audit: FAILED: the first bad position is " << r.first_bad << ": " << r.first_bad_reason
              << "\n  The history is intact up to position " << r.last_confirmed
              << " (confirmed by an anchor). See docs/runbooks/audit-chain.md.\n";
  }
  std::cerr << "audit: " << r.batches << " batches (positions " << r.start + 1 << "-" << r.last_position
            << "), " << r.commands << " commands, " << r.anchors_checked
            << " anchors checked; the newest anchored position is " << r.last_anchored << "; chain at "
            << r.last_position << ": " << r.head_chain << " (" << r.seconds << " s)\n";
  if (!r.complete && r.error.empty()) {
    if (r.start > 0) {
      std::cerr << "audit: NOT COMPLETE: positions 1-" << r.start
                << " come from a snapshot, taken as it is (the chain covers the log, not a snapshot's "
                   "tables)\n";
    }
    if (r.unchecked_through > r.start) {
      std::cerr << "audit: NOT COMPLETE: positions " << r.start + 1 << "-" << r.unchecked_through
                << " come before the audit chain began (written before the chain existed)\n";
    }
    std::cerr << "  To cover them, verify a source that holds the chained log from its start (an archive "
                 "from its start: --archive).\n";
  }
  if (r.ok) std::cerr << (r.complete ? "audit: OK\n" : "audit: OK for the positions checked\n");
}

// verify's exit status: 0 every position checked and all hold; 1 a bad
// position or an unreadable source; 3 all that was checked holds, but not
// the whole history (docs/audit.md).
int verify_status(const AuditReport& r) { return !r.ok ? 1 : r.complete ? 0 : 3; }

void add_verify(CLI::App& audit) {
  auto f = std::make_shared<AuditFlags>();
  CLI::App* cmd = audit.add_subcommand(
      "verify", "Recompute the audit chain over a whole history and check every anchor; name the first bad position");
  add_source_flags(cmd, *f);
  cmd->add_option("--expect", f->expect,
                  "POSITION:CHAIN recorded elsewhere (a replica's /v1/cluster audit_chain); it must match")
      ->check([](const std::string& v) {
        static const std::regex form("[0-9]{1,20}:[0-9a-f]{64}");
        return std::regex_match(v, form) ? std::string() : std::string("expected POSITION:64 hex digits");
      });
  cmd->add_flag("--json", f->json, "Print the report as one JSON object");
  cmd->final_callback([f] {
    AuditOptions o;
    o.expect = f->expect;
    o.progress = progress;
    const AuditReport r = audit_walk(f->source, o);
    print_report(r, f->json);
    std::exit(verify_status(r));
  });
}

void add_export(CLI::App& audit) {
  auto f = std::make_shared<AuditFlags>();
  CLI::App* cmd = audit.add_subcommand(
      "export", "Write who did what and when (role, token id, client id, command, result) as JSON lines");
  add_source_flags(cmd, *f);
  cmd->add_option("--from", f->from, "First log position (inclusive)");
  cmd->add_option("--to", f->to, "Last log position (inclusive)");
  cmd->add_option("--out", f->out, "Write to this new file (never overwritten); default: standard output");
  cmd->final_callback([f] {
    std::FILE* out = stdout;
    if (!f->out.empty()) {
      const int fd = ::open(f->out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
      if (fd < 0 || (out = ::fdopen(fd, "w")) == nullptr) {
        spdlog::error("cannot create {}: {} (export never overwrites a file: choose a new name)", f->out,
                      std::strerror(errno));
        std::exit(2);
      }
    }
    AuditOptions o;
    o.from = f->from;
    o.to = f->to;
    o.progress = progress;
    o.sink = [out](const std::string& line) { std::fwrite(line.data(), 1, line.size(), out); };
    const AuditReport r = audit_walk(f->source, o);
    const bool written = std::fflush(out) == 0 && (out == stdout || ::fsync(::fileno(out)) == 0);
    if (out != stdout) std::fclose(out);
    if (!written) spdlog::error("writing the export failed: {}", std::strerror(errno));
    print_report(r, false);
    std::exit(r.ok && written ? 0 : 1);
  });
}

}  // namespace

void add_audit_command(CLI::App& app) {
  CLI::App* audit = app.add_subcommand("audit", "The tamper-evident audit trail (docs/audit.md)");
  audit->require_subcommand(1);
  add_verify(*audit);
  add_export(*audit);
}

}  // namespace betcore::backup
