// The string arena under the id tables: chunks that grow from 4 KiB to 1 MiB,
// and views that stay valid however many chunks follow. The id tables: keys
// inline up to 23 bytes, in the arena beyond, found alike through growth.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
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

TEST(IdKey, UpTo23BytesInlineAndLongerInTheArena) {
  const std::string at(23, 'x'), over(24, 'y'), uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
  EXPECT_TRUE(IdKey(at).is_inline());
  EXPECT_FALSE(IdKey(over).is_inline());
  EXPECT_EQ(IdKey(at).view(), at);
  EXPECT_EQ(IdKey(over).view(), over);
  EXPECT_EQ(IdKey(over).view().data(), over.data()) << "a long id is a view, not a copy";
  EXPECT_NE(IdKey(at).view().data(), at.data()) << "a short id is a copy";
  EXPECT_EQ(IdKey("").view(), "");
  EXPECT_EQ(IdKey(uuid).view(), uuid);
  EXPECT_EQ(IdHash{}(IdKey(at)), IdHash{}(std::string_view(at)));
  EXPECT_EQ(IdHash{}(IdKey(uuid)), IdHash{}(std::string_view(uuid)));
}

// 200,000 ids of 1 to 64 bytes (every length either side of the inline
// limit), each found by its index after the map grew many times, and ids
// that differ from a stored one by a byte or a length not found.
TEST(IdTable, FindsEveryIdOfEveryLengthAfterGrowingAndNoNearMiss) {
  IdTable<BetIdx> table;
  std::vector<std::string> ids;
  std::vector<std::string_view> stored;
  for (uint32_t i = 0; i < 200'000; ++i) {
    std::string id = std::to_string(i) + "-";
    id.resize(1 + i % 64, static_cast<char>('a' + i % 26));
    if (table.find(id).valid()) continue;  // a short length repeats a few ids
    ids.push_back(id);
    stored.push_back(table.insert(id, BetIdx{static_cast<uint32_t>(ids.size() - 1)}));
  }
  ASSERT_GT(ids.size(), 190'000u);
  EXPECT_EQ(table.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(table.find(ids[i]).value, i) << ids[i];
    ASSERT_EQ(stored[i], ids[i]) << "the arena's copy moved";
    std::string near = ids[i];
    near.back() = near.back() == '#' ? '$' : '#';
    ASSERT_FALSE(table.find(near).valid()) << near;
    ASSERT_FALSE(table.find(ids[i] + "#").valid()) << ids[i];
  }
  EXPECT_FALSE(table.find("").valid());
}

// A command's client id is hashed once: looked up (a retry?), then inserted
// with the same hash; later lookups by the bare id find it, before and after
// the table grows (a rehash hashes the stored keys themselves).
TEST(IdTable, AnIdHashedOnceForItsLookupAndItsInsertIsFoundByItsBareBytes) {
  IdTable<BetIdx> table;
  std::vector<std::string> ids;
  for (uint32_t i = 0; i < 5'000; ++i) {
    ids.push_back((i % 2 == 0 ? "b-" : "3f2b8c1e-9d4a-4b7e-8f21-") + std::to_string(100'000 + i));
    const HashedId h = IdTable<BetIdx>::hashed(ids.back());
    ASSERT_EQ(h.hash, IdHash{}(std::string_view(ids.back())));
    ASSERT_FALSE(table.find(h).valid());
    EXPECT_EQ(table.insert(h, BetIdx{i}), ids.back());
    ASSERT_EQ(table.find(h).value, i);
  }
  for (uint32_t i = 0; i < ids.size(); ++i) ASSERT_EQ(table.find(ids[i]).value, i) << ids[i];
}

}  // namespace
}  // namespace betcore::domain
