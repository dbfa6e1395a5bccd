#include "api/json_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace betcore::api {
namespace {

TEST(JsonWriter, EscapesWhatJsonRequiresAndNothingElse) {
  std::string out;
  const std::string tricky = std::string("a\"b\\c\nd\re\tf") + '\x01' + '\x1f' + "g/h\xc3\xa9" + '\0' + "end";
  JsonWriter(out).begin_object().field("k\"ey", tricky).field("plain", "b-123_x").end_object();
  EXPECT_EQ(out, "{\"k\\\"ey\":\"a\\\"b\\\\c\\nd\\re\\tf\\u0001\\u001fg/h\xc3\xa9\\u0000end\",\"plain\":\"b-123_x\"}");
  const auto j = nlohmann::json::parse(out);  // and a JSON parser reads back the same text
  EXPECT_EQ(j["k\"ey"].get<std::string>(), tricky);
}

TEST(JsonWriter, IntegersAtTheirLimits) {
  std::string out;
  JsonWriter(out)
      .begin_array()
      .i64(0)
      .i64(-1)
      .i64(std::numeric_limits<int64_t>::min())
      .u64(std::numeric_limits<uint64_t>::max())
      .end_array();
  EXPECT_EQ(out, "[0,-1,-9223372036854775808,18446744073709551615]");
}

}  // namespace
}  // namespace betcore::api
