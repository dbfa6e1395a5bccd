// The binary form of a field, for the command records and the snapshot:
// FieldWriter and FieldReader visit the field lists of domain/fields.h.
// Little-endian; strings and lists carry a u16 length; amounts, times and
// odds are i64; typed indices u32; enums and flags one byte.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "codec/binary.h"
#include "domain/fields.h"

namespace betcore::codec {

using domain::Rule;

struct FieldWriter {
  Writer& w;
  size_t list_max;  // a longer list is written cut (see command_codec.cc)

  void operator()(const std::string& s, Rule rule = {}) {
    if ((rule.flags & Rule::kOptionalTrailing) != 0 && s.empty()) return;
    w.str(s);
  }
  void operator()(std::string_view s, Rule = {}) { w.str(s); }
  void operator()(domain::Amount a, Rule = {}) { w.i64(a.minor); }
  void operator()(domain::TimeMs t, Rule = {}) { w.i64(t.ms); }
  void operator()(domain::Odds o, Rule = {}) { w.i64(o.thousandths); }
  void operator()(domain::LogIndex i, Rule = {}) { w.u64(i.value); }
  template <class Tag>
  void operator()(domain::Index<Tag> i, Rule = {}) { w.u32(i.value); }
  void operator()(uint64_t v, Rule = {}) { w.u64(v); }
  void operator()(int64_t v, Rule rule = {}) {
    if ((rule.flags & Rule::kOptionalTrailing) != 0 && v == 0) return;
    w.i64(v);
  }
  void operator()(uint32_t v, Rule = {}) { w.u32(v); }
  void operator()(uint16_t v, Rule = {}) { w.u16(v); }
  void operator()(uint8_t v, Rule = {}) { w.u8(v); }
  void operator()(int32_t v, Rule = {}) { w.u32(static_cast<uint32_t>(v)); }
  void operator()(int8_t v, Rule = {}) { w.u8(static_cast<uint8_t>(v)); }
  void operator()(bool v, Rule = {}) { w.u8(v ? 1 : 0); }
  template <class E>
    requires std::is_enum_v<E>
  void operator()(E e, Rule = {}) { w.u8(static_cast<uint8_t>(e)); }
  template <class T>
  void operator()(const std::vector<T>& list, Rule = {}) {
    const size_t n = std::min(list.size(), list_max);
    w.u16(static_cast<uint16_t>(n));
    for (size_t i = 0; i < n; ++i) describe(*this, list[i]);
  }
};

// Reads what FieldWriter wrote, trusting nothing: a failed read, a list
// longer than list_max, a value outside its rule or an id the interner
// refuses stops it, with `error` saying which.
struct FieldReader {
  struct Interner;
  FieldReader(Reader& reader, size_t max, Interner* interner = nullptr)
      : r(reader), list_max(max), ids(interner) {}

  Reader& r;
  size_t list_max;
  // Turns a row's id (a std::string_view field) into one the state owns;
  // returns why it refuses one, or nullptr. Set by the snapshot's table
  // reader.
  struct Interner {
    virtual ~Interner() = default;
    virtual const char* intern(std::string_view raw, std::string_view& out) = 0;
  };
  Interner* ids;
  std::string error;

  bool ok() const { return error.empty() && r.ok(); }
  // Why reading stopped: the rule that refused a value, else a short read.
  std::string why() const { return error.empty() ? "truncated" : error; }
  void fail(const char* what) {
    if (error.empty()) error = what;
  }

  void operator()(std::string& s, Rule rule = {}) {
    if ((rule.flags & Rule::kOptionalTrailing) != 0) {
      // Absent, or present and not empty: an empty one is never written,
      // so accepting it would break re-encoding.
      if (r.remaining() == 0) return;
      s = std::string(r.str());
      if (r.ok() && s.empty()) fail("an empty optional field");
      return;
    }
    s = std::string(r.str());
  }
  void operator()(std::string_view& s, Rule = {}) {
    std::string_view raw = r.str();
    if (!ok()) return;
    if (ids == nullptr) return fail("an id where none is expected");
    if (const char* why = ids->intern(raw, s)) fail(why);
  }
  void operator()(domain::Amount& a, Rule = {}) { a.minor = r.i64(); }
  void operator()(domain::TimeMs& t, Rule = {}) { t.ms = r.i64(); }
  void operator()(domain::Odds& o, Rule = {}) { o.thousandths = r.i64(); }
  void operator()(domain::LogIndex& i, Rule = {}) { i.value = r.u64(); }
  template <class Tag>
  void operator()(domain::Index<Tag>& i, Rule = {}) { i.value = r.u32(); }
  void operator()(uint64_t& v, Rule = {}) { v = r.u64(); }
  void operator()(int64_t& v, Rule rule = {}) {
    if ((rule.flags & Rule::kOptionalTrailing) != 0) {
      // Absent (0), or present and not 0, as for a string.
      v = 0;
      if (r.remaining() == 0) return;
      v = r.i64();
      if (r.ok() && v == 0) fail("an empty optional field");
      return;
    }
    v = r.i64();
  }
  void operator()(uint32_t& v, Rule = {}) { v = r.u32(); }
  void operator()(uint16_t& v, Rule = {}) { v = r.u16(); }
  void operator()(uint8_t& v, Rule = {}) { v = r.u8(); }
  void operator()(int32_t& v, Rule = {}) { v = static_cast<int32_t>(r.u32()); }
  void operator()(int8_t& v, Rule rule = {}) {
    v = static_cast<int8_t>(r.u8());
    if (rule.max >= rule.min && (v < rule.min || v > rule.max)) fail("a value out of range");
  }
  void operator()(bool& v, Rule = {}) {
    const uint8_t b = r.u8();
    if (b > 1) fail("a flag that is neither 0 nor 1");
    v = b == 1;
  }
  template <class E>
    requires std::is_enum_v<E>
  void operator()(E& e, Rule = {}) {
    const uint8_t b = r.u8();
    if (b < domain::EnumRange<E>::min || b > domain::EnumRange<E>::max) fail("an unknown enum value");
    e = static_cast<E>(b);
  }
  template <class T>
  void operator()(std::vector<T>& list, Rule = {}) {
    const uint16_t n = r.u16();
    if (!ok()) return;
    if (n > list_max) return fail("a list too long");
    list.resize(n);
    for (T& x : list) {
      describe(*this, x);
      if (!ok()) return;
    }
  }
};

}  // namespace betcore::codec
