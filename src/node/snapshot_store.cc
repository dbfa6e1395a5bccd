#include "node/snapshot_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "codec/snapshot.h"
#include "log/file/posix_file.h"

namespace betcore::node {
namespace fs = std::filesystem;

namespace {

bool parse_name(const std::string& name, uint64_t& index) {
  // snapshot-00000000000000000042.bcs
  if (name.size() != 9 + 20 + 4 || name.rfind("snapshot-", 0) != 0 ||
      name.substr(name.size() - 4) != ".bcs") {
    return false;
  }
  index = 0;
  for (size_t i = 9; i < 29; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    index = index * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return true;
}

// The whole of the file at `path`; false with `why`. Plain reads, not
// posix_file's: the simulator's disk faults are for the log and the writes.
bool read_whole(const std::string& path, std::string& bytes, std::string& why) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    why = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  bytes.assign(static_cast<size_t>(std::max<std::streamoff>(in.tellg(), 0)), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    why = "cannot read " + path + " whole: " + std::strerror(errno);
    return false;
  }
  return true;
}

// The state in the snapshot file at `path`. Null with `why` when the file
// cannot be read (an I/O error is a reason, never a crash: the file is set
// aside), fails its checksum, or holds another index than `expected` (any
// index when `expected` is 0).
std::unique_ptr<domain::State> decode_file(const std::string& path, uint64_t expected,
                                           uint64_t& index, std::string& why) {
  std::string bytes;
  if (!read_whole(path, bytes, why)) return nullptr;
  codec::OpenedSnapshot opened = codec::open_snapshot(bytes);
  bytes = std::string();  // only the decoded state stays
  if (!opened.error.empty()) {
    why = opened.error;
    return nullptr;
  }
  if (expected != 0 && opened.applied_index != expected) {
    why = "holds index " + std::to_string(opened.applied_index) + ", not the one its name says";
    return nullptr;
  }
  codec::DecodedState decoded = codec::decode_state(opened.encoded_state);
  if (!decoded.state) {
    why = decoded.error;
    return nullptr;
  }
  if (decoded.state->applied.value != opened.applied_index) {
    why = "state is at another index than its header";
    return nullptr;
  }
  index = opened.applied_index;
  return std::move(decoded.state);
}

}  // namespace

bool SnapshotStore::init(std::string& error) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    error = "cannot create " + dir_ + ": " + ec.message();
    return false;
  }
  fs::remove(partial_path(), ec);  // a fetch a crash cut short: it starts again
  return true;
}

std::string SnapshotStore::path_for(uint64_t index) const {
  char name[48];
  std::snprintf(name, sizeof name, "snapshot-%020llu.bcs", static_cast<unsigned long long>(index));
  return dir_ + "/" + name;
}

std::vector<uint64_t> SnapshotStore::list() const {
  std::vector<uint64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    uint64_t index = 0;
    if (parse_name(e.path().filename().string(), index)) out.push_back(index);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool SnapshotStore::write(uint64_t index, const std::string& sealed, std::string& error) {
  if (auto written = log::file::write_file_atomically(path_for(index), sealed); !written) {
    error = written.error().message;
    return false;
  }
  prune(keep_);
  return true;
}

size_t SnapshotStore::prune(size_t keep) {
  std::vector<uint64_t> all = list();
  size_t removed = 0;
  for (size_t i = 0; i + keep < all.size(); ++i) {
    std::error_code ec;
    if (fs::remove(path_for(all[i]), ec)) ++removed;
  }
  return removed;
}

bool SnapshotStore::read_newest(std::string& bytes, uint64_t& index, std::string& error) const {
  std::vector<uint64_t> kept = list();
  if (kept.empty()) {
    error = "this node has no snapshot yet";
    return false;
  }
  index = kept.back();
  return read_whole(path_for(index), bytes, error);
}

LoadedSnapshot SnapshotStore::load_latest(uint64_t index_max) {
  LoadedSnapshot out;
  std::vector<uint64_t> all = list();
  auto set_aside = [&](const std::string& path, const std::string& why) {
    out.problems.push_back(path + ": " + why + "; renamed to " + path + ".set-aside");
    std::error_code ec;
    fs::rename(path, path + ".set-aside", ec);
  };
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    std::string path = path_for(*it);
    if (*it > index_max) {
      set_aside(path, "it is past the end of the log (" + std::to_string(index_max) +
                          "): the log lost batches this snapshot contains");
      continue;
    }
    uint64_t index = 0;
    std::string why;
    std::unique_ptr<domain::State> state = decode_file(path, *it, index, why);
    if (!state) {
      set_aside(path, why);
      continue;
    }
    out.state = std::move(state);
    out.index = *it;
    out.path = path;
    return out;
  }
  return out;
}

LoadedSnapshot SnapshotStore::open_partial() const {
  LoadedSnapshot out;
  out.path = partial_path();
  std::string why;
  out.state = decode_file(out.path, 0, out.index, why);
  if (!out.state) out.problems.push_back(out.path + ": " + why);
  return out;
}

bool SnapshotStore::adopt_partial(uint64_t index, std::string& error) {
  std::error_code ec;
  fs::rename(partial_path(), path_for(index), ec);
  if (ec) {
    error = "cannot rename " + partial_path() + " to " + path_for(index) + ": " + ec.message();
    return false;
  }
  if (auto synced = log::file::sync_dir(dir_); !synced.ok()) {
    error = synced.error().message;
    return false;
  }
  prune(keep_);
  return true;
}

}  // namespace betcore::node
