// Maps client-chosen string ids to dense indices, with the id bytes kept in a
// chunked arena so the map's keys never move (a vector of std::string would
// move short strings and leave the keys dangling).
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>
#include <absl/strings/string_view.h>

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
    BETCORE_ASSERT(s.size() <= kChunkBytes);
    if (chunks_.empty() || used_ + s.size() > kChunkBytes) {
      // For overwrite: zeroing 1 MiB per table would cost a memset and make
      // every page resident up front, for every state (and snapshot restore).
      chunks_.push_back(std::make_unique_for_overwrite<char[]>(kChunkBytes));
      used_ = 0;
    }
    char* dst = chunks_.back().get() + used_;
    if (!s.empty()) std::memcpy(dst, s.data(), s.size());
    used_ += s.size();
    return {dst, s.size()};
  }

  size_t bytes_reserved() const { return chunks_.size() * kChunkBytes; }

 private:
  // 1 MiB: a million ids take few chunks. The fuzz build makes them 64 KiB
  // (CMakeLists.txt, BETCORE_FUZZ): under ASan a chunk over 128 KiB is an
  // mmap and a munmap of its own, and the fuzz targets build a state for
  // every input, at 600 inputs a second with 1 MiB chunks.
#ifdef BETCORE_ARENA_CHUNK_BYTES
  static constexpr size_t kChunkBytes = BETCORE_ARENA_CHUNK_BYTES;
#else
  static constexpr size_t kChunkBytes = 1 << 20;
#endif
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t used_ = 0;
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
