// The adapter's stream progress and its state file (progress.h).
#include "payments/progress.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace betcore::payments {

void Progress::seen(Position p) {
  std::lock_guard lock(mu_);
  if (p > last_seen_) last_seen_ = p;
}

bool Progress::owe(Position p, const std::string& withdrawal_id) {
  std::lock_guard lock(mu_);
  if (by_id_.count(withdrawal_id) != 0) return false;
  owed_.emplace(p, withdrawal_id);
  by_id_.emplace(withdrawal_id, p);
  return true;
}

void Progress::done(const std::string& withdrawal_id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(withdrawal_id);
  if (it == by_id_.end()) return;
  auto [first, last] = owed_.equal_range(it->second);
  for (auto o = first; o != last; ++o) {
    if (o->second == withdrawal_id) {
      owed_.erase(o);
      break;
    }
  }
  by_id_.erase(it);
}

void Progress::jump_to(Position p) {
  std::lock_guard lock(mu_);
  if (p > last_seen_) last_seen_ = p;
}

Position Progress::resume_point() const {
  std::lock_guard lock(mu_);
  if (owed_.empty()) return last_seen_;
  const Position first = owed_.begin()->first;
  // Events count from 1; a withdrawal owed at seq 0 (a resync) resumes at
  // the start of its batch.
  return Position{first.index, first.seq == 0 ? 0 : first.seq - 1};
}

Position Progress::last_seen() const {
  std::lock_guard lock(mu_);
  return last_seen_;
}

size_t Progress::owed() const {
  std::lock_guard lock(mu_);
  return owed_.size();
}

std::optional<Position> read_position(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    *error = path + " cannot be read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_object() || !j.contains("index") || !j["index"].is_number_unsigned() ||
      !j.contains("seq") || !j["seq"].is_number_unsigned()) {
    *error = path + " is damaged (want {\"index\":N,\"seq\":S}); to start over from the "
                    "beginning of the stream, delete it";
    return std::nullopt;
  }
  return Position{j["index"].get<uint64_t>(), j["seq"].get<uint32_t>()};
}

bool write_position(const std::string& path, Position p, std::string* error) {
  const std::string tmp = path + ".tmp";
  const std::string text =
      "{\"index\":" + std::to_string(p.index) + ",\"seq\":" + std::to_string(p.seq) + "}\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fdatasync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path + ": " + std::strerror(ok ? errno : saved);
    return false;
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace betcore::payments
