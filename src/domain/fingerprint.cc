#include "domain/fingerprint.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "domain/assert.h"
#include "domain/fields.h"

namespace betcore::domain {
namespace {

// Hashes a command's fields (domain/fields.h) in two passes: every field
// but the kHashedLast ones, then those. Integers of every width hash as one
// 64-bit word of their value; a list as its length, then its elements.
struct FieldHasher {
  Hasher& h;
  bool last_pass = false;

  bool skip(Rule rule) const {
    if ((rule.flags & Rule::kNotHashed) != 0) return true;
    return last_pass != ((rule.flags & Rule::kHashedLast) != 0);
  }
  void operator()(const std::string& s, Rule rule = {}) {
    const bool absent = (rule.flags & Rule::kOptionalTrailing) != 0 && s.empty();
    if (!skip(rule) && !absent) h.bytes(s);
  }
  void operator()(int64_t v, Rule rule = {}) {
    const bool absent = (rule.flags & Rule::kOptionalTrailing) != 0 && v == 0;
    if (!absent) word(v, rule);
  }
  void operator()(uint64_t v, Rule rule = {}) { word(static_cast<int64_t>(v), rule); }
  void operator()(Amount a, Rule rule = {}) { word(a.minor, rule); }
  void operator()(TimeMs t, Rule rule = {}) { word(t.ms, rule); }
  void operator()(Odds o, Rule rule = {}) { word(o.thousandths, rule); }
  void operator()(int8_t v, Rule rule = {}) { word(v, rule); }
  void operator()(bool v, Rule rule = {}) { word(v ? 1 : 0, rule); }
  template <class E>
    requires std::is_enum_v<E>
  void operator()(E e, Rule rule = {}) { word(static_cast<int64_t>(e), rule); }
  template <class T>
  void operator()(const std::vector<T>& list, Rule rule = {}) {
    if (skip(rule)) return;
    h.u64(list.size());
    FieldHasher elements{h, false};
    if constexpr (requires(const T& x) { set_key(x); }) {
      if ((rule.flags & Rule::kHashedAsSet) != 0) {
        std::vector<const T*> sorted;
        sorted.reserve(list.size());
        for (const T& x : list) sorted.push_back(&x);
        std::sort(sorted.begin(), sorted.end(),
                  [](const T* a, const T* b) { return set_key(*a) < set_key(*b); });
        for (const T* x : sorted) describe(elements, *x);
        return;
      }
    }
    BETCORE_ASSERT((rule.flags & Rule::kHashedAsSet) == 0);  // a set needs set_key()
    for (const T& x : list) describe(elements, x);
  }
  void word(int64_t v, Rule rule) {
    if (!skip(rule)) h.i64(v);
  }
};

}  // namespace

uint64_t fingerprint(const Command& command) {
  Hasher h;
  h.u64(static_cast<uint64_t>(command_tag(command)));
  std::visit(
      [&](const auto& c) {
        FieldHasher first{h, false};
        describe(first, c);
        FieldHasher last{h, true};
        describe(last, c);
      },
      command);
  return h.digest();
}

}  // namespace betcore::domain
