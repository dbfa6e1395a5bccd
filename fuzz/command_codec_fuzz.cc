// Fuzz target: decoding command records (src/codec/command_codec.h,
// docs/batch-format.md). Input: the bytes a batch carries after its header,
// a run of [tag][length][fields] records.
//
// Invariants (the ones codec_test checks on random inputs, here driven by
// coverage): decoding never crashes; a refusal leaves the position alone; a
// record that decodes is canonical, so re-encoding the command gives back
// exactly the bytes read, and those decode again to the same command
// (same bytes, same fingerprint).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "codec/command_codec.h"
#include "domain/assert.h"
#include "domain/fingerprint.h"

namespace {

using betcore::domain::Command;

// A batch holds many records; a few are enough to reach every state a
// record's decoding can leave for the next.
constexpr int kRecordsMax = 64;

std::string encoded(const Command& command) {
  std::string out;
  betcore::codec::encode_command(command, out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  for (int i = 0; i < kRecordsMax && pos < in.size(); ++i) {
    const size_t start = pos;
    const std::optional<Command> command = betcore::codec::decode_command(in, &pos);
    if (!command) {
      BETCORE_ASSERT_MSG(pos == start, "a refused record moved the position");
      return 0;
    }
    BETCORE_ASSERT_MSG(pos > start && pos <= in.size(), "a decoded record of no bytes");
    const std::string again = encoded(*command);
    BETCORE_ASSERT_MSG(again == in.substr(start, pos - start),
                       "a decoded record re-encodes to other bytes (not canonical)");
    size_t again_pos = 0;
    const std::optional<Command> twice = betcore::codec::decode_command(again, &again_pos);
    BETCORE_ASSERT_MSG(twice.has_value() && again_pos == again.size(),
                       "an encoded command does not decode");
    BETCORE_ASSERT_MSG(encoded(*twice) == again, "the round trip is not stable");
    BETCORE_ASSERT_MSG(
        betcore::domain::fingerprint(*twice) == betcore::domain::fingerprint(*command),
        "the round trip changed the command's fingerprint");
  }
  return 0;
}
