// A small append-only JSON writer for answers: answers are rendered on the
// applier thread, so they must be cheap (no DOM, one string, no locale).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace betcore::api {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object() { sep(); out_.push_back('{'); first_ = true; return *this; }
  JsonWriter& end_object() { out_.push_back('}'); first_ = false; return *this; }
  JsonWriter& begin_array() { sep(); out_.push_back('['); first_ = true; return *this; }
  JsonWriter& end_array() { out_.push_back(']'); first_ = false; return *this; }
  JsonWriter& key(std::string_view k) {
    sep();
    string_literal(k);
    out_.push_back(':');
    first_ = true;  // the value follows without a comma
    return *this;
  }
  JsonWriter& str(std::string_view v) { sep(); string_literal(v); return *this; }
  JsonWriter& i64(int64_t v) { sep(); integer(v); return *this; }
  JsonWriter& u64(uint64_t v) { sep(); integer(v); return *this; }
  JsonWriter& boolean(bool v) { sep(); out_.append(v ? "true" : "false"); return *this; }
  JsonWriter& null() { sep(); out_.append("null"); return *this; }

  JsonWriter& field(std::string_view k, std::string_view v) { return key(k).str(v); }
  JsonWriter& field_i64(std::string_view k, int64_t v) { return key(k).i64(v); }
  JsonWriter& field_u64(std::string_view k, uint64_t v) { return key(k).u64(v); }
  JsonWriter& field_bool(std::string_view k, bool v) { return key(k).boolean(v); }

 private:
  void sep() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  // Runs of characters that need no escape are appended whole (a bet's
  // answer is mostly ids and digits: one append each, not a push_back a
  // character; measured by perf under betcore bench).
  void string_literal(std::string_view s) {
    out_.push_back('"');
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"': out_.append("\\\""); break;
        case '\\': out_.append("\\\\"); break;
        case '\n': out_.append("\\n"); break;
        case '\r': out_.append("\\r"); break;
        case '\t': out_.append("\\t"); break;
        default: {
          static const char* hex = "0123456789abcdef";
          const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
          out_.append(u, sizeof u);
        }
      }
    }
    out_.append(s.data() + run, s.size() - run);
    out_.push_back('"');
  }

  // Integers through a stack buffer: no temporary string.
  template <class T>
  void integer(T v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, static_cast<size_t>(r.ptr - buf));
  }

  std::string& out_;
  bool first_ = true;
};

}  // namespace betcore::api
