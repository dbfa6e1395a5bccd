// The audit chain (docs/audit.md): a hash over the whole command log, batch
// by batch, that every replica computes and checks. Each batch's value is
//
//   chain(q) = SHA-256("betcore-chain-v1" || chain(previous) || position q
//                      as u64 LE || the batch's bytes as logged)
//
// starting from 32 zero bytes at the log's first entry that decodes as a
// version 2 batch, and over every entry after it, refused ones too. Entries
// before it (logs written before the chain existed) are not chained: where
// the chain begins is a fact of the log, so every replica agrees on it
// however it got its state. Everything this build writes is version 2, so
// a log it starts is chained from position 1. A batch
// carries anchors: the chain's value at positions its submitting node had
// applied when it sealed the batch. A replica whose own chain disagrees
// with an anchor refuses the batch, so a rewritten, inserted or removed
// batch anywhere before an anchor is caught by every replica, and
// `betcore audit verify` names the first position whose chain disagrees.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec/batch.h"
#include "domain/state_machine.h"

namespace betcore::codec {

ChainHash chain_next(const ChainHash& previous, uint64_t position, std::string_view batch_bytes);
std::string chain_hex(const ChainHash& chain);

// An anchor checked against a state's chain.
struct AnchorCheck {
  bool ok = true;
  uint64_t checked = 0;    // anchors compared with this replica's chain
  uint64_t unchecked = 0;  // older than the window
  std::string detail;      // the first disagreement, for a person
};
AnchorCheck check_anchors(const domain::AuditChain& chain, const std::vector<ChainAnchor>& anchors);

// What every replica does with each log entry, before its commands: checks
// the decoded batch's anchors (when it decoded), then moves the chain over
// the entry's bytes. A batch that fails its anchors is refused like one
// that fails its checksum. REQUIRES: begin_batch(position) was called.
AnchorCheck chain_entry(domain::StateMachine& machine, uint64_t position, std::string_view bytes,
                        const DecodedBatch& batch);

// The anchors a submitter puts in its next batch: the chain's values at the
// positions after `after` (at most kBatchAnchorsMax, the newest).
std::vector<ChainAnchor> anchors_after(const domain::AuditChain& chain, uint64_t after);

}  // namespace betcore::codec
