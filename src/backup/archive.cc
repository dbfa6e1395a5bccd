// An archive directory: its identity file, its catalog, durable writes.
#include "backup/archive.h"

#include <fcntl.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "log/file/posix_file.h"

namespace betcore::backup {
namespace fs = std::filesystem;
namespace {

constexpr const char* kIdentity = "archive.json";
constexpr const char* kFormat = "betcore-archive-1";

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.size() != 20) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

std::string segment_name(uint64_t first, uint64_t last) {
  return fmt::format("segments/{:020}-{:020}.bcseg", first, last);
}

std::string snapshot_name(uint64_t position) { return fmt::format("snapshots/{:020}.bcsnap", position); }

bool read_whole_file(const std::string& path, std::string& bytes, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  bytes = std::move(ss).str();
  return true;
}

bool write_file_durably(const std::string& path, const std::string& bytes, std::string& error) {
  auto written = log::file::write_file_atomically(path, bytes);
  if (!written) error = written.error().message;
  return written.ok();
}

bool Archive::open(const std::string& dir, const Key& key, bool create, std::string& error) {
  dir_ = dir;
  const std::string identity = dir + "/" + kIdentity;
  std::error_code ec;
  if (!fs::exists(identity, ec)) {
    if (!create) {
      error = dir + " is not a betcore archive (no " + kIdentity +
              "): check --archive, or copy the archive back from its remote copy first";
      return false;
    }
    for (const char* sub : {"segments", "snapshots"}) {
      if (auto made = log::file::make_dirs(dir + "/" + sub); !made) {
        error = "cannot create the archive in " + dir + ": " + made.error().message;
        return false;
      }
    }
    nlohmann::json j = {{"format", kFormat}, {"key_id", key.id_hex()}};
    return write_file_durably(identity, j.dump(2) + "\n", error);
  }
  std::string text;
  if (!read_whole_file(identity, text, error)) return false;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kFormat) {
    error = identity + " is not a betcore archive identity file (format " + kFormat + ")";
    return false;
  }
  const std::string want = j.value("key_id", "");
  if (want != key.id_hex()) {
    error = "wrong key: the archive in " + dir + " is sealed with key id " + want +
            ", the key given has id " + key.id_hex() + ". Pass --key with the archive's key file";
    return false;
  }
  for (const char* sub : {"segments", "snapshots"}) {
    if (auto made = log::file::make_dirs(dir + "/" + sub); !made) {
      error = "cannot open the archive in " + dir + ": " + made.error().message;
      return false;
    }
  }
  return true;
}

Catalog Archive::scan() const {
  Catalog c;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ + "/segments", ec)) {
    const std::string file = e.path().filename().string();
    if (file.ends_with(".tmp")) continue;
    SegmentRef s;
    if (file.size() != 20 + 1 + 20 + 6 || !file.ends_with(".bcseg") || file[20] != '-' ||
        !parse_u64(std::string_view(file).substr(0, 20), s.first) ||
        !parse_u64(std::string_view(file).substr(21, 20), s.last) || s.last < s.first ||
        s.first == 0) {
      c.problems.push_back("segments/" + file + ": not an archive segment name; ignored");
      continue;
    }
    s.name = "segments/" + file;
    c.segments.push_back(std::move(s));
  }
  for (const auto& e : fs::directory_iterator(dir_ + "/snapshots", ec)) {
    const std::string file = e.path().filename().string();
    if (file.ends_with(".tmp")) continue;
    SnapshotRef s;
    if (file.size() != 20 + 7 || !file.ends_with(".bcsnap") ||
        !parse_u64(std::string_view(file).substr(0, 20), s.position)) {
      c.problems.push_back("snapshots/" + file + ": not an archive snapshot name; ignored");
      continue;
    }
    s.name = "snapshots/" + file;
    // The header only (time, digest) for retention and planning; the whole
    // file is authenticated when it is used.
    std::string why;
    if (!read_header(s.name, s.header, why)) {
      c.problems.push_back(why);
      continue;
    }
    if (s.header.kind != FileKind::snapshot || s.header.first != s.position) {
      c.problems.push_back(s.name + ": its header does not match its name");
      continue;
    }
    c.snapshots.push_back(std::move(s));
  }
  std::sort(c.segments.begin(), c.segments.end(),
            [](const SegmentRef& a, const SegmentRef& b) { return a.first < b.first; });
  std::sort(c.snapshots.begin(), c.snapshots.end(),
            [](const SnapshotRef& a, const SnapshotRef& b) { return a.position < b.position; });
  for (size_t i = 1; i < c.segments.size(); ++i) {
    if (c.segments[i].first <= c.segments[i - 1].last) {
      c.problems.push_back(c.segments[i - 1].name + " and " + c.segments[i].name +
                           " overlap: one was left by a failed write; move the shorter one aside");
    }
  }
  return c;
}

bool Archive::write(const std::string& name, const std::string& bytes, std::string& error) const {
  return write_file_durably(path(name), bytes, error);
}

bool Archive::read(const std::string& name, std::string& bytes, std::string& error) const {
  return read_whole_file(path(name), bytes, error);
}

bool Archive::read_header(const std::string& name, FileHeader& header, std::string& error) const {
  char head[kHeaderBytes + 64];
  std::ifstream in(path(name), std::ios::binary);
  in.read(head, sizeof head);
  if (!backup::read_header(std::string_view(head, static_cast<size_t>(in.gcount())), header, error)) {
    error = name + ": " + error;
    return false;
  }
  return true;
}

bool Archive::holds_log_start(const Catalog& catalog, FileHeader& first) const {
  std::string why;
  return !catalog.segments.empty() && read_header(catalog.segments.front().name, first, why) &&
         first.prev == 0;
}

bool Archive::remove(const std::string& name, std::string& error) const {
  std::error_code ec;
  fs::remove(path(name), ec);
  if (ec) {
    error = "cannot delete " + path(name) + ": " + ec.message();
    return false;
  }
  return true;
}

std::vector<std::string> Archive::pruned_here_only(
    const std::map<std::string, std::string>& elsewhere) const {
  const Catalog catalog = scan();
  if (catalog.snapshots.empty()) return {};
  // Retention prunes snapshots even while the log's start is kept (the empty
  // state is then the oldest restore point), but never a segment.
  FileHeader first;
  const bool log_start = holds_log_start(catalog, first);
  uint64_t oldest = UINT64_MAX;
  for (const SnapshotRef& snap : catalog.snapshots) oldest = std::min(oldest, snap.position);
  // The 20-digit position at `at` in a file name (segments/F-L.bcseg: L).
  auto position_at = [](const std::string& name, size_t at) {
    uint64_t v = 0;
    const char* b = name.data() + at;
    const bool ok = name.size() >= at + 20 && std::from_chars(b, b + 20, v).ec == std::errc{};
    return ok ? v : UINT64_MAX;
  };
  std::vector<std::string> out;
  for (const auto& [name, ignored] : elsewhere) {
    std::error_code ec;
    if (std::filesystem::exists(path(name), ec)) continue;
    const bool pruned = name.starts_with("segments/")    ? !log_start && position_at(name, 9 + 21) <= oldest
                        : name.starts_with("snapshots/") ? position_at(name, 10) < oldest
                                                         : false;
    if (pruned) out.push_back(name);
  }
  return out;
}

}  // namespace betcore::backup
