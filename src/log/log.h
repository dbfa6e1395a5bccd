// The command log port: an ordered, durable sequence of opaque batches.
//
// Backends: file/ (embedded single node), etcd/ (cluster), and a simulated one
// for tests (a later issue). The node code above this port is the same for all.
// A position orders batches; positions increase but need not be contiguous
// (etcd revisions are not).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace betcore::log {

struct Position {
  uint64_t value = 0;  // 0 means "before the first batch"
  auto operator<=>(const Position&) const = default;
};

struct Entry {
  Position position;
  std::string batch;  // opaque bytes, exactly as appended
};

enum class Errc {
  io_error,         // the disk or network failed; the append did not happen
  corrupt,          // stored data failed its checksum
  outcome_unknown,  // the append may or may not have become durable
  unavailable,      // the log cannot be reached now; retry later
  compacted,        // the requested position was discarded by compaction
  closed,           // the log was closed
  invalid_argument,
};

struct Error {
  Errc code;
  std::string message;  // for a person: what happened and what to do next
  uint64_t position = 0;  // compacted: the first position the log still holds
};

// A value or an Error. Small on purpose: errors are values across I/O.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}       // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};

class Log {
 public:
  virtual ~Log() = default;

  // Appends one batch and returns its position once it is durable (fsynced
  // locally, or committed on a quorum). Nothing is acknowledged before that.
  // Thread: called by one thread at a time (the submitter). The same as
  // append_on(0, batch).
  virtual Result<Position> append(std::string_view batch) = 0;

  // How many appends may be in flight at once, each on a lane of its own:
  // 1 unless the backend pipelines them (etcd: EtcdLogOptions::append_lanes).
  virtual size_t append_lanes() const { return 1; }
  // append() on `lane` (< append_lanes()), with the same guarantees. Each
  // lane is called by one thread at a time; batches on two lanes may commit
  // in either order.
  virtual Result<Position> append_on(size_t lane, std::string_view batch) {
    (void)lane;
    return append(batch);
  }

  // Up to `entries_max` entries (and about `bytes_max` bytes, at least one
  // entry) with position >= from, in log order. If none is available yet,
  // waits up to `wait_ms` for one and may return an empty vector.
  // Thread: called by one thread at a time (the applier).
  virtual Result<std::vector<Entry>> read(Position from, size_t entries_max, size_t bytes_max,
                                          int wait_ms) = 0;

  // The position of the last durable batch (Position{0} when empty). A
  // linearizable read waits until its node has applied this far.
  // Thread-safe.
  virtual Result<Position> head() = 0;

  // Allows the backend to discard batches below `before` (a snapshot covers
  // them). Thread-safe.
  virtual Result<Ok> compact(Position before) = 0;

  // Wakes blocked readers and fails later calls with Errc::closed.
  virtual void close() = 0;

  // Whether a failed append leaves the log unusable until the node restarts
  // (the file log after a failed fsync) rather than failing just that batch
  // (etcd: a timeout or a lost member is retried with the next batch).
  virtual bool append_failure_is_permanent(Errc code) const {
    return code == Errc::io_error || code == Errc::closed || code == Errc::outcome_unknown;
  }
};

}  // namespace betcore::log
