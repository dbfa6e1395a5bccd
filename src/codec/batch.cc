#include "codec/batch.h"

#include <xxhash.h>

#include "codec/binary.h"
#include "codec/command_codec.h"
#include "domain/assert.h"

namespace betcore::codec {

namespace {

// Version 2's part between the node id and the commands: the anchors, the
// actors and each command's actor.
void write_audit(Writer& w, const BatchHeader& header, size_t commands) {
  BETCORE_ASSERT(header.anchors.size() <= kBatchAnchorsMax);
  for (size_t i = 1; i < header.anchors.size(); ++i) {
    BETCORE_ASSERT(header.anchors[i].position > header.anchors[i - 1].position);
  }
  BETCORE_ASSERT(header.actors.size() <= kBatchActorsMax);
  BETCORE_ASSERT(header.actor_of.empty() ? header.actors.empty() : header.actor_of.size() == commands);
  w.u16(static_cast<uint16_t>(header.anchors.size()));
  for (const ChainAnchor& a : header.anchors) {
    w.u64(a.position);
    w.raw(std::string_view(reinterpret_cast<const char*>(a.chain.data()), a.chain.size()));
  }
  w.u16(static_cast<uint16_t>(header.actors.size()));
  for (const Actor& a : header.actors) {
    BETCORE_ASSERT(a.role.size() <= kActorFieldMax && a.token_id.size() <= kActorFieldMax);
    w.str(a.role);
    w.str(a.token_id);
  }
  for (uint16_t i : header.actor_of) {
    BETCORE_ASSERT(i < header.actors.size());
    w.u16(i);
  }
}

bool read_audit(Reader& r, uint32_t commands, BatchHeader& h, std::string& detail) {
  const uint16_t anchors = r.u16();
  // Counts are checked against the bytes left before anything is allocated:
  // a few bytes must not announce thousands of entries.
  if (anchors > kBatchAnchorsMax || size_t{anchors} * (8 + sizeof(ChainHash)) > r.remaining()) {
    detail = "more anchors than the limit or the bytes left";
    return false;
  }
  h.anchors.resize(anchors);
  for (ChainAnchor& a : h.anchors) {
    a.position = r.u64();
    std::string_view chain = r.take(a.chain.size());
    if (!r.ok()) break;
    std::copy(chain.begin(), chain.end(), a.chain.begin());
  }
  const uint16_t actors = r.u16();
  if (actors > kBatchActorsMax || size_t{actors} * 4 + (actors ? size_t{commands} * 2 : 0) > r.remaining()) {
    detail = "more actors than the limit or the bytes left";
    return false;
  }
  h.actors.resize(actors);
  for (Actor& a : h.actors) {
    a.role = std::string(r.str());
    a.token_id = std::string(r.str());
    if (a.role.size() > kActorFieldMax || a.token_id.size() > kActorFieldMax) {
      detail = "an actor is too long";
      return false;
    }
  }
  if (!r.ok()) {
    detail = "the anchors or actors are cut short";
    return false;
  }
  for (size_t i = 1; i < h.anchors.size(); ++i) {
    if (h.anchors[i].position <= h.anchors[i - 1].position) {
      detail = "anchors out of order";
      return false;
    }
  }
  if (actors == 0) return true;
  // Actors are who sent the commands: a batch without commands has none
  // (encode_batch requires one actor index per command when there are actors).
  if (commands == 0) {
    detail = "actors in a batch without commands";
    return false;
  }
  h.actor_of.resize(commands);
  for (uint16_t& i : h.actor_of) {
    i = r.u16();
    if (i >= actors) {
      detail = "a command's actor is out of range";
      return false;
    }
  }
  if (!r.ok()) detail = "the commands' actors are cut short";
  return r.ok();
}

}  // namespace

std::string encode_batch(const BatchHeader& header, const std::vector<std::string>& commands) {
  BETCORE_ASSERT(commands.size() <= kBatchCommandsMax);
  BETCORE_ASSERT(header.node_id.size() <= kNodeIdMax);
  BETCORE_ASSERT(header.version == 1 || header.version == kBatchVersion);
  const bool audit = header.version == kBatchVersion;
  BETCORE_ASSERT(audit || (header.anchors.empty() && header.actors.empty()));
  size_t total = kBatchHeaderBytes + 2 + header.node_id.size() + kBatchChecksumBytes;
  if (audit) total += 4 + header.anchors.size() * 40 + header.actors.size() * 20 + commands.size() * 2;
  for (const auto& c : commands) total += c.size();
  std::string out;
  out.reserve(total);
  Writer w(out);
  w.u32(kBatchMagic);
  w.u8(header.version);
  w.u8(0);   // flags
  w.u16(0);  // reserved
  w.i64(header.stamped_ms);
  w.u64(header.first_seq);
  w.u32(static_cast<uint32_t>(commands.size()));
  BETCORE_ASSERT(out.size() == kBatchHeaderBytes);
  w.str(header.node_id);
  if (audit) write_audit(w, header, commands.size());
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
  if (version != 1 && version != kBatchVersion) {
    return fail(BatchError::unknown_version,
                "batch version " + std::to_string(version) + "; this build reads versions 1 and 2");
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
  if (d.header.node_id.size() > kNodeIdMax) return fail(BatchError::malformed, "node id too long");
  d.header.version = version;
  if (version == 2) {
    std::string detail;
    if (!read_audit(r, count, d.header, detail)) return fail(BatchError::malformed, detail);
  }
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
