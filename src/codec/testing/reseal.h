// For codec tests: a batch's bytes with a fresh checksum, so an edit in the
// body reaches the decoder's structural checks instead of its checksum.
#pragma once

#include <xxhash.h>

#include <string>

#include "codec/batch.h"
#include "codec/binary.h"

namespace betcore::codec::test {

inline std::string reseal(std::string bytes) {
  bytes.resize(bytes.size() - kBatchChecksumBytes);
  std::string sum;
  Writer(sum).u64(XXH3_64bits(bytes.data(), bytes.size()));
  return bytes + sum;
}

}  // namespace betcore::codec::test
