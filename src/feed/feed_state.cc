// The adapter's state file: "<producer> <ts>" a line.
#include "feed/feed_state.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace betcore::feed {

FeedState::FeedState(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  std::ifstream in(path_);
  std::string producer;
  int64_t ts = 0;
  while (in >> producer >> ts) last_ts_[producer] = ts;
  if (!last_ts_.empty()) spdlog::info("feed: state {}: {} producers", path_, last_ts_.size());
}

void FeedState::applied(const std::string& producer, int64_t ts) {
  int64_t& last = last_ts_[producer];
  if (ts > last) {
    last = ts;
    dirty_ = true;
  }
}

int64_t FeedState::last_ts(const std::string& producer) const {
  auto it = last_ts_.find(producer);
  return it == last_ts_.end() ? 0 : it->second;
}

void FeedState::save_if_due() {
  auto now = std::chrono::steady_clock::now();
  if (dirty_ && now - saved_at_ >= std::chrono::seconds(1)) save();
}

void FeedState::save() {
  saved_at_ = std::chrono::steady_clock::now();
  if (path_.empty() || !dirty_) return;
  std::ostringstream text;
  for (const auto& [producer, ts] : last_ts_) text << producer << ' ' << ts << '\n';
  std::string body = text.str();
  std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  if (fd >= 0) ::close(fd);
  if (ok && ::rename(tmp.c_str(), path_.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    spdlog::warn("feed: cannot save state {}: {}; a restart would recover more than it needs",
                 path_, std::strerror(err));
    return;
  }
  dirty_ = false;
}

}  // namespace betcore::feed
