// Fuzz target: decoding batches (src/codec/batch.h, docs/batch-format.md).
//
// Each input is decoded twice: as it is (the magic, version and checksum
// gates), and with its trailing checksum rewritten to match, so the fuzzer
// reaches the header, the audit part and the commands behind the checksum
// (random bytes almost never carry a right XXH3).
//
// Invariants: decoding never crashes; a refusal has a reason and no
// commands; a batch that decodes is canonical except for the flags and
// reserved bytes (5..7), which this version reads and ignores, so
// re-encoding its header and commands gives back the bytes read, and those
// decode again to the same header.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec/batch.h"
#include "codec/command_codec.h"
#include "domain/assert.h"

namespace {

using namespace betcore::codec;

// The flags and reserved bytes (docs/batch-format.md, "Header").
constexpr size_t kIgnoredFrom = 5;
constexpr size_t kIgnoredTo = 8;

bool same_header(const BatchHeader& a, const BatchHeader& b) {
  return a.node_id == b.node_id && a.first_seq == b.first_seq && a.stamped_ms == b.stamped_ms &&
         a.anchors == b.anchors && a.actors == b.actors && a.actor_of == b.actor_of;
}

std::string reencode(const DecodedBatch& d) {
  std::vector<std::string> records;
  records.reserve(d.commands.size());
  for (const auto& c : d.commands) {
    records.emplace_back();
    encode_command(c, records.back());
  }
  return encode_batch(d.header, records);
}

void check(std::string_view bytes) {
  const DecodedBatch d = decode_batch(bytes);
  if (d.error != BatchError::none) {
    BETCORE_ASSERT_MSG(!d.detail.empty(), "a batch refused without a reason");
    BETCORE_ASSERT_MSG(d.commands.empty(), "a refused batch kept commands");
    return;
  }
  const std::string again = reencode(d);
  BETCORE_ASSERT_MSG(again.size() == bytes.size(), "a decoded batch re-encodes to another size");
  const size_t body = bytes.size() - kBatchChecksumBytes;
  BETCORE_ASSERT_MSG(again.compare(0, kIgnoredFrom, bytes.substr(0, kIgnoredFrom)) == 0 &&
                         again.compare(kIgnoredTo, body - kIgnoredTo,
                                       bytes.substr(kIgnoredTo, body - kIgnoredTo)) == 0,
                     "a decoded batch re-encodes to other bytes (not canonical)");
  const DecodedBatch twice = decode_batch(again);
  BETCORE_ASSERT_MSG(twice.error == BatchError::none, "an encoded batch does not decode");
  BETCORE_ASSERT_MSG(
      same_header(twice.header, d.header) && twice.commands.size() == d.commands.size(),
      "the round trip changed the header");
  BETCORE_ASSERT_MSG(reencode(twice) == again, "the round trip is not stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check(in);
  if (in.size() < kBatchChecksumBytes) return 0;
  std::string resealed(in.substr(0, in.size() - kBatchChecksumBytes));
  const uint64_t sum = XXH3_64bits(resealed.data(), resealed.size());
  for (size_t i = 0; i < kBatchChecksumBytes; ++i)
    resealed.push_back(static_cast<char>(sum >> (8 * i)));
  check(resealed);
  return 0;
}
