// Maps client-chosen string ids to dense indices, with the id bytes kept in a
// chunked arena so the map's keys never move (a vector of std::string would
// move short strings and leave the keys dangling).
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>
#include <absl/strings/string_view.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "domain/assert.h"
#include "domain/types.h"

namespace betcore::domain {

// Owns the bytes of many short strings; views into it stay valid for its
// lifetime. Not copyable (views would point into the original).
class StringArena {
 public:
  StringArena() = default;
  StringArena(const StringArena&) = delete;
  StringArena& operator=(const StringArena&) = delete;

  std::string_view store(std::string_view s) {
    BETCORE_ASSERT(s.size() <= kMaxChunkBytes);
    if (chunks_.empty() || used_ + s.size() > chunk_bytes_) {
      // Each chunk twice the last, from 4 KiB to 1 MiB: a small state
      // (a test's, a fuzz input's, a new book) takes a few KiB, not 1 MiB a
      // table, and a million ids still take few chunks. Under ASan a chunk
      // over 128 KiB is an mmap and a munmap of its own; with 1 MiB chunks
      // from the start the codec tests, which decode a small state thousands
      // of times, spent most of their time in the kernel.
      size_t bytes = chunks_.empty() ? kFirstChunkBytes
                                     : std::min(chunk_bytes_ * 2, kMaxChunkBytes);
      while (bytes < s.size()) bytes *= 2;
      // For overwrite: zeroing a chunk would cost a memset and make every
      // page resident up front, for every state (and snapshot restore).
      chunks_.push_back(std::make_unique_for_overwrite<char[]>(bytes));
      chunk_bytes_ = bytes;
      reserved_ += bytes;
      used_ = 0;
    }
    char* dst = chunks_.back().get() + used_;
    if (!s.empty()) std::memcpy(dst, s.data(), s.size());
    used_ += s.size();
    return {dst, s.size()};
  }

  size_t bytes_reserved() const { return reserved_; }

 private:
  static constexpr size_t kFirstChunkBytes = 4 << 10;
  static constexpr size_t kMaxChunkBytes = 1 << 20;
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t chunk_bytes_ = 0;  // the size of the last chunk
  size_t reserved_ = 0;
  size_t used_ = 0;         // of the last chunk
};

// absl's string hash (fast, well mixed). Debian builds abseil for C++14, so
// absl::string_view is its own type: hash through it explicitly.
struct IdHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};

template <class Idx>
class IdTable {
 public:
  Idx find(std::string_view id) const {
    auto it = map_.find(id);
    return it == map_.end() ? Idx{} : it->second;
  }
  // REQUIRES: id not present.
  std::string_view insert(std::string_view id, Idx idx) {
    std::string_view stored = arena_.store(id);
    auto [it, inserted] = map_.emplace(stored, idx);
    BETCORE_ASSERT(inserted);
    return stored;
  }
  size_t size() const { return map_.size(); }
  void reserve(size_t n) { map_.reserve(n); }

 private:
  StringArena arena_;
  absl::flat_hash_map<std::string_view, Idx, IdHash> map_;
};

}  // namespace betcore::domain
