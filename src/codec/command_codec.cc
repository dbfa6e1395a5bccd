#include "codec/command_codec.h"

#include <vector>

#include "codec/binary.h"
#include "codec/field_io.h"

namespace betcore::codec {
namespace {

using namespace betcore::domain;

// Lists in commands are bounded by the domain (64 selections, prices or
// results; 20 legs). On the wire a list has at most one element more than
// any of those bounds: a longer list is written cut to kListMax elements,
// which the state machine still refuses. Encoder and decoder agree on this
// bound, so any command a client can send encodes into a record that
// decodes (one bad request must not make a whole batch undecodable for
// every replica), and the decoder refuses longer counts before allocating.
constexpr size_t kListMax = kSelectionsMax + 1;
static_assert(kLegsMax < kListMax);

// Decodes a record's body as the command type with variant index I.
template <size_t I = 0>
std::optional<Command> decode_body(size_t index, Reader& r) {
  if constexpr (I < std::variant_size_v<Command>) {
    if (index != I) return decode_body<I + 1>(index, r);
    std::variant_alternative_t<I, Command> c;
    FieldReader fields{r, kListMax};
    describe(fields, c);
    if (!fields.ok()) return std::nullopt;
    return Command{std::move(c)};
  } else {
    return std::nullopt;
  }
}

}  // namespace

void encode_command(const Command& command, std::string& out) {
  Writer w(out);
  w.u8(static_cast<uint8_t>(command_tag(command)));
  size_t len_at = out.size();
  w.u32(0);  // patched below
  FieldWriter fields{w, kListMax};
  std::visit([&](const auto& c) { describe(fields, c); }, command);
  uint32_t len = static_cast<uint32_t>(out.size() - len_at - 4);
  for (int i = 0; i < 4; ++i) out[len_at + static_cast<size_t>(i)] = static_cast<char>(len >> (8 * i));
}

std::optional<Command> decode_command(std::string_view in, size_t* pos) {
  if (*pos > in.size()) return std::nullopt;  // substr would throw
  Reader head(in.substr(*pos));
  uint8_t tag = head.u8();
  uint32_t len = head.u32();
  if (!head.ok() || tag < 1 || tag > std::variant_size_v<Command>) return std::nullopt;
  std::string_view body = head.take(len);
  if (!head.ok()) return std::nullopt;
  Reader r(body);
  std::optional<Command> c = decode_body(size_t{tag} - 1, r);
  if (!c || !r.ok() || r.remaining() != 0) return std::nullopt;
  *pos += 5 + len;
  return c;
}

}  // namespace betcore::codec
