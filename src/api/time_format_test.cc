#include "api/time_format.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace betcore::api {
namespace {

TEST(TimeFormat, WritesUtcWithMillisecondsAcrossTheCalendar) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(1), "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(951782400000), "2000-02-29T00:00:00.000Z");  // a leap day
  EXPECT_EQ(format_rfc3339(1796593445123), "2026-12-06T21:44:05.123Z");
  EXPECT_EQ(format_rfc3339(253402300799999), "9999-12-31T23:59:59.999Z");
  // Outside four-digit years: still an answer, not a crash or garbage.
  EXPECT_EQ(format_rfc3339(253402300800000), "10000-01-01T00:00:00.000Z");
}

TEST(TimeFormat, WhatItWritesParsesBackToTheSameMillisecond) {
  for (int64_t ms : {int64_t{0}, int64_t{86'399'999}, int64_t{951'782'400'000}, int64_t{1'796'593'445'123},
                     int64_t{4'102'444'799'999}, int64_t{253'402'300'799'999}}) {
    auto back = parse_rfc3339(format_rfc3339(ms));
    ASSERT_TRUE(back.has_value()) << format_rfc3339(ms);
    EXPECT_EQ(*back, ms) << format_rfc3339(ms);
  }
}

}  // namespace
}  // namespace betcore::api
