// Where the payments adapter is in betcore's event stream, and what it still
// owes: the withdrawals it has read but not yet finished. The resume point
// is the last position before which everything is finished, so a restart
// (even after kill -9) reads again every withdrawal that was in flight, and
// none is forgotten. The point is kept in a small file, replaced atomically.
#pragma once
#include <compare>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace betcore::payments {

// A place in /v1/stream: after event `seq` of batch `index` (seq 0: before
// the batch's first event). Resume with ?from=<index>&after_seq=<seq>.
struct Position {
  uint64_t index = 0;
  uint32_t seq = 0;
  auto operator<=>(const Position&) const = default;
};

// Thread-safe.
class Progress {
 public:
  explicit Progress(Position start) : last_seen_(start) {}

  // An event was read at `p`.
  void seen(Position p);
  // A withdrawal read at `p` is now owed. False if it is already owed (read
  // again after a reconnect): the caller must not start it twice.
  bool owe(Position p, const std::string& withdrawal_id);
  // It is finished (completed or failed in betcore, or given up on with an alert).
  void done(const std::string& withdrawal_id);
  // After a resync: everything before `p` is known (owed or finished).
  void jump_to(Position p);

  Position resume_point() const;
  Position last_seen() const;
  size_t owed() const;

 private:
  mutable std::mutex mu_;
  Position last_seen_;
  std::multimap<Position, std::string> owed_;  // a resync owes many at one position
  std::unordered_map<std::string, Position> by_id_;
};

// The state file: `{"index":N,"seq":S}`. nullopt when it does not exist;
// an unreadable or damaged file is an error (`error` says what to do).
std::optional<Position> read_position(const std::string& path, std::string* error);
// Writes to path.tmp, fsyncs, renames over `path`, fsyncs the directory.
bool write_position(const std::string& path, Position p, std::string* error);

}  // namespace betcore::payments
