// The adapter's memory across restarts: per producer, the newest provider
// time stamp of a message it applied. A recovery asks for everything after
// it. Saved at most once a second (write, fsync, rename): a state a second
// old only makes a recovery replay a little more, which is harmless, since
// every message applies once however often it comes.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace betcore::feed {

class FeedState {
 public:
  // Loads `path` if it exists; "" keeps nothing on disk.
  explicit FeedState(std::string path);

  void applied(const std::string& producer, int64_t ts);
  // 0 when nothing of the producer was applied (recover everything).
  int64_t last_ts(const std::string& producer) const;

  void save_if_due();
  void save();  // logs a warning on failure: the adapter keeps working

 private:
  std::string path_;
  std::map<std::string, int64_t> last_ts_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point saved_at_{};
};

}  // namespace betcore::feed
