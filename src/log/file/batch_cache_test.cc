#include "log/file/batch_cache.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace betcore::log::file {
namespace {

Entry entry(uint64_t position, size_t bytes) {
  return Entry{Position{position}, std::string(bytes, static_cast<char>('a' + position % 26))};
}

TEST(BatchCache, EvictsOldestToStayWithinBytesMax) {
  const size_t cost = 100 + sizeof(Entry);
  BatchCache cache(3 * cost);
  for (uint64_t p = 1; p <= 5; ++p) cache.push(entry(p, 100));
  EXPECT_EQ(cache.first(), Position{3});
  EXPECT_EQ(cache.last(), Position{5});
  EXPECT_LE(cache.bytes(), 3 * cost);
  EXPECT_FALSE(cache.contains(Position{2}));
  EXPECT_TRUE(cache.contains(Position{3}));
  EXPECT_FALSE(cache.contains(Position{6}));
}

TEST(BatchCache, CopyRespectsEntriesAndBytesButReturnsAtLeastOne) {
  BatchCache cache(1 << 20);
  for (uint64_t p = 1; p <= 10; ++p) cache.push(entry(p, 100));
  std::vector<Entry> out;
  cache.copy_from(Position{4}, 3, 1 << 20, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].position, Position{4});
  EXPECT_EQ(out[2].position, Position{6});
  EXPECT_EQ(out[0].batch, std::string(100, 'e'));
  out.clear();
  cache.copy_from(Position{4}, 100, 250, out);
  EXPECT_EQ(out.size(), 2u);
  out.clear();
  cache.copy_from(Position{4}, 100, 1, out);
  EXPECT_EQ(out.size(), 1u);
}

TEST(BatchCache, TooBigBatchIsNotKept) {
  BatchCache cache(1000);
  EXPECT_FALSE(cache.keeps(1000));
  EXPECT_TRUE(cache.keeps(10));
  cache.push(entry(1, 10));
  cache.drop_below(Position{2});
  EXPECT_TRUE(cache.empty());
}

}  // namespace
}  // namespace betcore::log::file
