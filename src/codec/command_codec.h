// Binary form of a domain command, as carried inside a batch
// (docs/batch-format.md). Decoding validates structure only; the state
// machine validates meaning (and rejects deterministically).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "domain/commands.h"

namespace betcore::codec {

// Appends [tag u8][length u32][fields] to `out`.
void encode_command(const domain::Command& command, std::string& out);

// Decodes one [tag][length][fields] record from `in` starting at `*pos`,
// advancing `*pos`. nullopt on any malformation (unknown tag, short data,
// trailing bytes inside the record, counts over their bounds).
std::optional<domain::Command> decode_command(std::string_view in, size_t* pos);

}  // namespace betcore::codec
