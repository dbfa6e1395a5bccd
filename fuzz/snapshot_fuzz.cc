// Fuzz target: loading snapshots (src/codec/snapshot.h,
// docs/snapshot-format.md). Every input is tried in both forms:
//   - the encoded state (magic "BCS1"), as decode_state reads it;
//   - the file (magic "BCSF"), as open_snapshot reads it: as it is, and with
//     its header checksum rewritten to match, so the fuzzer reaches the
//     length checks and the zstd frame behind the XXH3 gate.
//
// Invariants: loading never crashes and a refusal has a reason; a state that
// loads is usable: its digest, its digest without refusals and the ledger
// check run on it; its encoding is canonical (re-encoding gives back exactly
// the bytes read, docs/snapshot-format.md); and sealing it into a file and
// opening that again gives back the same bytes and applied index.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codec/snapshot.h"
#include "domain/assert.h"
#include "domain/ledger.h"

namespace {

using namespace betcore::codec;

// The file header's checksum field (docs/snapshot-format.md, "File").
constexpr size_t kChecksumAt = 24;

void check_state(std::string_view encoded) {
  const DecodedState d = decode_state(encoded);
  if (d.state == nullptr) {
    BETCORE_ASSERT_MSG(!d.error.empty(), "a snapshot refused without a reason");
    return;
  }
  const betcore::domain::State& s = *d.state;
  const std::string digest = state_digest(s);
  BETCORE_ASSERT_MSG(digest.size() == 32, "a digest that is not 32 hex characters");
  BETCORE_ASSERT_MSG(!digest_without_refusals(s).empty(), "no digest without refusals");
  // A loaded state need not balance (the decoder checks structure, not
  // money), but checking it must be safe.
  (void)betcore::domain::verify_ledger(s);
  const std::string again = encode_state(s);
  BETCORE_ASSERT_MSG(again == encoded, "a loaded state re-encodes to other bytes (not canonical)");
  BETCORE_ASSERT_MSG(digest == digest_of_encoding(encoded), "the digest is not the encoding's");
  const OpenedSnapshot sealed = open_snapshot(seal_snapshot(again, s.applied.value));
  BETCORE_ASSERT_MSG(sealed.error.empty() && sealed.encoded_state == again &&
                         sealed.applied_index == s.applied.value,
                     "a sealed snapshot does not open to what was sealed");
}

void check_file(std::string_view file) {
  const OpenedSnapshot o = open_snapshot(file);
  if (!o.error.empty()) {
    BETCORE_ASSERT_MSG(o.encoded_state.empty(), "a refused snapshot file kept its state");
    return;
  }
  check_state(o.encoded_state);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_state(in);
  check_file(in);
  if (in.size() < kSnapshotFileHeaderBytes || in.substr(0, 4) != "BCSF") return 0;
  std::string resealed(in);
  XXH3_state_t* st = XXH3_createState();
  BETCORE_ASSERT(st != nullptr);
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, resealed.data(), kChecksumAt);
  XXH3_64bits_update(st, resealed.data() + kSnapshotFileHeaderBytes,
                     resealed.size() - kSnapshotFileHeaderBytes);
  const uint64_t sum = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  for (size_t i = 0; i < 8; ++i) resealed[kChecksumAt + i] = static_cast<char>(sum >> (8 * i));
  check_file(resealed);
  return 0;
}
