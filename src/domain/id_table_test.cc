// The string arena under the id tables: chunks that grow from 4 KiB to 1 MiB,
// and views that stay valid however many chunks follow.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "domain/id_table.h"

namespace betcore::domain {
namespace {

constexpr size_t kKiB = 1024;

TEST(StringArena, ChunksDoubleFrom4KiBTo1MiBAndViewsStayValid) {
  StringArena arena;
  EXPECT_EQ(arena.bytes_reserved(), 0u);
  arena.store("one id");
  EXPECT_EQ(arena.bytes_reserved(), 4 * kKiB);  // a small book: 4 KiB, not 1 MiB

  // Ids of 1 KiB fill each chunk exactly: after 4 of them the 4 KiB chunk is
  // full, and every next chunk is twice the last, then 1 MiB each.
  StringArena ids;
  std::vector<std::string> stored;
  std::vector<std::string_view> views;
  auto store_until = [&](size_t reserved) {
    while (ids.bytes_reserved() <= reserved) {
      stored.push_back(std::to_string(stored.size()) + std::string(kKiB - 8, 'x'));
      stored.back().resize(kKiB, '.');
      views.push_back(ids.store(stored.back()));
    }
  };
  size_t expected = 0;
  for (size_t chunk = 4 * kKiB; chunk <= 1024 * kKiB; chunk *= 2) {
    expected += chunk;
    store_until(expected - chunk);  // the first id that opens this chunk
    EXPECT_EQ(ids.bytes_reserved(), expected) << "the chunk of " << chunk / kKiB << " KiB";
  }
  EXPECT_EQ(expected, 2'093'056u);  // 4 KiB + 8 KiB + ... + 1 MiB
  for (int more = 1; more <= 3; ++more) {
    store_until(ids.bytes_reserved());
    EXPECT_EQ(ids.bytes_reserved(), expected + static_cast<size_t>(more) * 1024 * kKiB);
  }
  for (size_t i = 0; i < stored.size(); ++i) ASSERT_EQ(views[i], stored[i]) << i;
}

TEST(StringArena, AStringLongerThanTheNextChunkGetsAChunkItFits) {
  StringArena arena;
  const std::string a(100, 'a'), big(300'000, 'b'), c(10, 'c');
  std::string_view va = arena.store(a);
  std::string_view vb = arena.store(big);
  std::string_view vc = arena.store(c);
  EXPECT_EQ(va, a);
  EXPECT_EQ(vb, big);
  EXPECT_EQ(vc, c);
  EXPECT_EQ(arena.bytes_reserved(), 4 * kKiB + 512 * kKiB);  // 8 KiB doubled until 300,000 fit
  EXPECT_EQ(arena.store(""), "");
}

}  // namespace
}  // namespace betcore::domain
