#include "codec/batch.h"

#include <xxhash.h>

#include "codec/binary.h"
#include "codec/command_codec.h"
#include "domain/assert.h"

namespace betcore::codec {

std::string encode_batch(const BatchHeader& header, const std::vector<std::string>& commands) {
  BETCORE_ASSERT(commands.size() <= kBatchCommandsMax);
  BETCORE_ASSERT(header.node_id.size() <= 64);
  size_t total = kBatchHeaderBytes + 2 + header.node_id.size() + kBatchChecksumBytes;
  for (const auto& c : commands) total += c.size();
  std::string out;
  out.reserve(total);
  Writer w(out);
  w.u32(kBatchMagic);
  w.u8(kBatchVersion);
  w.u8(0);   // flags
  w.u16(0);  // reserved
  w.i64(header.stamped_ms);
  w.u64(header.first_seq);
  w.u32(static_cast<uint32_t>(commands.size()));
  BETCORE_ASSERT(out.size() == kBatchHeaderBytes);
  w.str(header.node_id);
  for (const auto& c : commands) w.raw(c);
  w.u64(XXH3_64bits(out.data(), out.size()));
  return out;
}

const char* batch_error_name(BatchError e) {
  switch (e) {
    case BatchError::none: return "none";
    case BatchError::not_a_batch: return "not_a_batch";
    case BatchError::unknown_version: return "unknown_version";
    case BatchError::checksum: return "checksum";
    case BatchError::malformed: return "malformed";
  }
  return "unknown";
}

DecodedBatch decode_batch(std::string_view bytes) {
  DecodedBatch d;
  auto fail = [&](BatchError e, std::string detail) {
    d.error = e;
    d.detail = std::move(detail);
    d.commands.clear();
    return d;
  };
  if (bytes.size() < kBatchHeaderBytes + 2 + kBatchChecksumBytes || bytes.size() > kBatchBytesMax) {
    return fail(BatchError::not_a_batch, "size " + std::to_string(bytes.size()) + " is not a batch's");
  }
  // Everything is read from the body, never from the checksum after it: a
  // node id whose length ran into the checksum would otherwise leave the
  // commands' position past the end of the body.
  std::string_view body = bytes.substr(0, bytes.size() - kBatchChecksumBytes);
  Reader r(body);
  if (r.u32() != kBatchMagic) return fail(BatchError::not_a_batch, "bad magic");
  uint8_t version = r.u8();
  if (version != kBatchVersion) {
    return fail(BatchError::unknown_version,
                "batch version " + std::to_string(version) + "; this build reads version 1");
  }
  Reader tail(bytes.substr(bytes.size() - kBatchChecksumBytes));
  if (tail.u64() != XXH3_64bits(body.data(), body.size())) {
    return fail(BatchError::checksum, "checksum mismatch");
  }
  r.u8();
  r.u16();
  d.header.stamped_ms = r.i64();
  d.header.first_seq = r.u64();
  uint32_t count = r.u32();
  d.header.node_id = std::string(r.str());
  if (!r.ok() || count > kBatchCommandsMax) return fail(BatchError::malformed, "bad header");
  size_t pos = r.position();
  d.commands.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    auto c = decode_command(body, &pos);
    if (!c) return fail(BatchError::malformed, "command " + std::to_string(i) + " is malformed");
    d.commands.push_back(std::move(*c));
  }
  if (pos != body.size()) return fail(BatchError::malformed, "trailing bytes after the last command");
  return d;
}

}  // namespace betcore::codec
