// Maps client-chosen string ids to dense indices. The id bytes are kept in a
// chunked arena, whose copies never move (the entities' `id` views point
// there; a vector of std::string would move short strings and leave them
// dangling), and, when short, inline in the map's keys too.
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

// A hash map key for an id: its bytes inline when they fit (ids of up to 23
// bytes; a 36-byte UUID does not), else a view of the arena's copy. A lookup then
// reads the map's slot alone, not the arena too (a cache miss saved per id
// on a big book), and a rehash hashes the slots without touching the arena.
// 24 bytes, 8-aligned: with the index, a slot is 32 bytes, two per cache
// line.
class alignas(8) IdKey {
 public:
  static constexpr size_t kInlineMax = 23;
  // `s` must outlive the key when it is longer than kInlineMax.
  explicit IdKey(std::string_view s) {
    if (s.size() <= kInlineMax) {
      if (!s.empty()) std::memcpy(bytes_, s.data(), s.size());
      size_ = static_cast<uint8_t>(s.size());
    } else {
      const char* p = s.data();
      const size_t n = s.size();
      std::memcpy(bytes_, &p, sizeof p);
      std::memcpy(bytes_ + sizeof p, &n, sizeof n);
      size_ = kExternal;
    }
  }
  std::string_view view() const {
    if (size_ != kExternal) return {bytes_, size_};
    const char* p = nullptr;
    size_t n = 0;
    std::memcpy(&p, bytes_, sizeof p);
    std::memcpy(&n, bytes_ + sizeof p, sizeof n);
    return {p, n};
  }
  bool is_inline() const { return size_ != kExternal; }

 private:
  static constexpr uint8_t kExternal = 0xFF;
  char bytes_[kInlineMax] = {};
  uint8_t size_ = 0;
};
static_assert(sizeof(IdKey) == 24);

// An id with its hash, computed once: a command that looks its client id
// up (a retry?) and then records it hashes the id once, and the insert finds
// its slot in the cache lines the lookup just read.
struct HashedId {
  std::string_view id;
  size_t hash;
};

// absl's string hash (fast, well mixed). Debian builds abseil for C++14, so
// absl::string_view is its own type: hash through it explicitly. A key and
// a view of the same bytes hash alike (lookups by view).
struct IdHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
  size_t operator()(const IdKey& k) const { return (*this)(k.view()); }
  size_t operator()(const HashedId& h) const { return h.hash; }
};

struct IdEq {
  using is_transparent = void;
  static std::string_view v(std::string_view s) { return s; }
  static std::string_view v(const IdKey& k) { return k.view(); }
  static std::string_view v(const HashedId& h) { return h.id; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return v(a) == v(b);
  }
};

template <class Idx>
class IdTable {
 public:
  static HashedId hashed(std::string_view id) { return HashedId{id, IdHash{}(id)}; }
  Idx find(std::string_view id) const { return find(hashed(id)); }
  Idx find(const HashedId& id) const {
    auto it = map_.find(id);
    return it == map_.end() ? Idx{} : it->second;
  }
  // REQUIRES: id not present. Returns the arena's copy, which lives as long
  // as the table (the map's inline copy moves when the map grows).
  std::string_view insert(std::string_view id, Idx idx) { return insert(hashed(id), idx); }
  std::string_view insert(const HashedId& id, Idx idx) {
#ifndef NDEBUG
    BETCORE_ASSERT_MSG(id.hash == IdHash{}(id.id), "a HashedId whose hash is not its id's");
#endif
    const std::string_view stored = arena_.store(id.id);
    bool inserted = false;
    map_.lazy_emplace(id, [&](const auto& construct) {
      inserted = true;
      construct(IdKey(stored), idx);
    });
    BETCORE_ASSERT(inserted);
    return stored;
  }
  size_t size() const { return map_.size(); }
  void reserve(size_t n) { map_.reserve(n); }
  // Starts loading the slots a find of `id` will read.
  void prefetch(std::string_view id) const { map_.prefetch(id); }

 private:
  StringArena arena_;
  absl::flat_hash_map<IdKey, Idx, IdHash, IdEq> map_;
};

}  // namespace betcore::domain
