// A vector whose elements never move: chunks that double in size (64
// elements, then 128, 256, ...), so growing never copies what is stored and
// an element's address stays valid for the vector's lifetime. For the
// tables that grow with every bet: a std::vector of ten million bets copies
// about a gigabyte in the one apply that outgrows it (a pause of the applier
// on a big night) and holds the old and the new copy meanwhile. A new chunk
// is memory the allocator maps but nothing touches until elements land in it.
//
// Index i lives in chunk k = bit_width(i + 64) - 7, at i + 64 - 2^(k + 6):
// one bit scan, no division, no search.
#pragma once

#include <sys/mman.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace betcore::domain {

// The whole 2 MiB pages inside [p, p + bytes) in huge pages, if the kernel
// allows (transparent huge pages in "madvise" or "always" mode).
inline void advise_huge_pages(const void* p, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t from = (begin + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t to = (begin + bytes) & ~(kHuge - 1);
  if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
}

template <class T>
class StableVector {
  static constexpr unsigned kFirstBits = 6;  // the first chunk: 64 elements
  static constexpr size_t kChunks = 64 - kFirstBits;

 public:
  StableVector() = default;
  StableVector(const StableVector&) = delete;
  StableVector& operator=(const StableVector&) = delete;
  ~StableVector() { clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& operator[](size_t i) { return *slot(i); }
  const T& operator[](size_t i) const { return *slot(i); }
  T& at(size_t i) {
    if (i >= size_) throw std::out_of_range("StableVector::at");
    return *slot(i);
  }
  const T& at(size_t i) const {
    if (i >= size_) throw std::out_of_range("StableVector::at");
    return *slot(i);
  }
  T& back() { return *slot(size_ - 1); }
  const T& back() const { return *slot(size_ - 1); }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    const auto [k, offset] = place(size_);
    if (chunks_[k] == nullptr) chunks_[k] = allocate(k);
    T* p = ::new (static_cast<void*>(chunks_[k] + offset)) T(std::forward<Args>(args)...);
    ++size_;
    return *p;
  }
  void push_back(const T& v) { emplace_back(v); }
  void push_back(T&& v) { emplace_back(std::move(v)); }

  // Grows to `n` default-constructed elements (or shrinks: the last go).
  void resize(size_t n) {
    while (size_ > n) pop_back();
    while (size_ < n) emplace_back();
  }
  void pop_back() {
    --size_;
    slot(size_)->~T();
  }
  // Nothing to reserve: growing copies nothing. Kept so that callers read
  // like a std::vector's.
  void reserve(size_t) {}

  // Destroys every element and frees every chunk.
  void clear() {
    while (size_ > 0) pop_back();
    for (size_t k = 0; k < kChunks; ++k) {
      if (chunks_[k] == nullptr) continue;
      ::operator delete(static_cast<void*>(chunks_[k]), std::align_val_t{alignof(T)});
      chunks_[k] = nullptr;
    }
  }

  template <class V, class Owner>
  class Iter {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::remove_const_t<V>;
    using difference_type = std::ptrdiff_t;
    using pointer = V*;
    using reference = V&;
    Iter() = default;
    Iter(Owner* v, size_t i) : v_(v), i_(i) {}
    reference operator*() const { return (*v_)[i_]; }
    pointer operator->() const { return &(*v_)[i_]; }
    Iter& operator++() {
      ++i_;
      return *this;
    }
    Iter operator++(int) {
      Iter old = *this;
      ++i_;
      return old;
    }
    bool operator==(const Iter& o) const { return i_ == o.i_; }

   private:
    Owner* v_ = nullptr;
    size_t i_ = 0;
  };
  using iterator = Iter<T, StableVector>;
  using const_iterator = Iter<const T, const StableVector>;
  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

  // From now on, chunks of 4 MiB or more ask for huge pages where the
  // kernel allows (transparent huge pages in "madvise" or "always" mode),
  // and so do those already there: a restore that fills millions of rows
  // then faults in 2 MiB at a time, not 4 KiB. Not for a serving node: with
  // Debian's THP defrag setting ("madvise") a fault in such a chunk may
  // compact memory on the spot, inside an apply.
  void advise_huge_pages() {
    huge_ = true;
    for (size_t k = 0; k < kChunks; ++k) {
      if (chunks_[k] != nullptr) advise(chunks_[k], k);
    }
  }

  // The elements chunk k holds at most (for tests).
  static constexpr size_t chunk_capacity(size_t k) { return size_t{1} << (kFirstBits + k); }

 private:
  struct Place {
    size_t chunk;
    size_t offset;
  };
  static Place place(size_t i) {
    const size_t j = i + (size_t{1} << kFirstBits);
    const size_t k = static_cast<size_t>(std::bit_width(j)) - 1 - kFirstBits;
    return {k, j - (size_t{1} << (kFirstBits + k))};
  }
  T* slot(size_t i) const {
    const auto [k, offset] = place(i);
    return chunks_[k] + offset;
  }
  T* allocate(size_t k) const {
    const size_t bytes = chunk_capacity(k) * sizeof(T);
    T* p = static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
    if (huge_) advise(p, k);
    return p;
  }
  // Chunk k in huge pages, when it is 4 MiB or more.
  static void advise(T* chunk, size_t k) {
    const size_t bytes = chunk_capacity(k) * sizeof(T);
    if (bytes >= size_t{4} << 20) domain::advise_huge_pages(chunk, bytes);
  }

  std::array<T*, kChunks> chunks_{};
  size_t size_ = 0;
  bool huge_ = false;
};

}  // namespace betcore::domain
