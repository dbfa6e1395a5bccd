// A small append-only JSON writer for answers: answers are rendered on the
// applier thread, so they must be cheap (no DOM, one string, no locale).
#pragma once

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
  JsonWriter& i64(int64_t v) { sep(); out_.append(std::to_string(v)); return *this; }
  JsonWriter& u64(uint64_t v) { sep(); out_.append(std::to_string(v)); return *this; }
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
  void string_literal(std::string_view s) {
    out_.push_back('"');
    for (char ch : s) {
      unsigned char c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"': out_.append("\\\""); break;
        case '\\': out_.append("\\\\"); break;
        case '\n': out_.append("\\n"); break;
        case '\r': out_.append("\\r"); break;
        case '\t': out_.append("\\t"); break;
        default:
          if (c < 0x20) {
            static const char* hex = "0123456789abcdef";
            out_.append("\\u00");
            out_.push_back(hex[c >> 4]);
            out_.push_back(hex[c & 15]);
          } else {
            out_.push_back(ch);
          }
      }
    }
    out_.push_back('"');
  }

  std::string& out_;
  bool first_ = true;
};

}  // namespace betcore::api
