// A replica of the state machine fed from archived batches.
#include "backup/replica.h"

#include <cstdint>
#include <span>

#include "codec/batch.h"
#include "codec/chain.h"
#include "codec/snapshot.h"
#include "domain/assert.h"
#include "domain/ledger.h"

namespace betcore::backup {

Replica::Replica(std::unique_ptr<domain::State> initial) {
  if (initial) machine_.reset(std::move(initial));
}

void Replica::reserve_for(uint64_t commands) {
  machine_.reserve_for(commands);
}

bool Replica::apply(const log::Entry& entry, std::optional<int64_t> time_ms_max) {
  BETCORE_ASSERT(entry.position.value > position());
  codec::DecodedBatch batch = codec::decode_batch(entry.batch);
  const bool good = batch.error == codec::BatchError::none;
  if (time_ms_max && batch.header.stamped_ms > *time_ms_max) return false;
  // Exactly as node/applier.cc: the position advances even for a refused
  // batch (every replica refuses it alike), with whatever stamp its decode
  // gave (a malformed batch's stamp is read before the command that failed).
  machine_.begin_batch(domain::LogIndex{entry.position.value}, domain::TimeMs{batch.header.stamped_ms});
  last_stamp_ms_ = batch.header.stamped_ms;
  const codec::AnchorCheck anchors = codec::chain_entry(machine_, entry.position.value, entry.batch, batch);
  if (!good || !anchors.ok) {
    ++refused_;
    if (!anchors.ok) {
      ++chain_refused_;
      if (first_chain_problem_.empty()) {
        first_chain_problem_ = "position " + std::to_string(entry.position.value) + ": " + anchors.detail;
      }
    }
    return true;
  }
  const std::span<const domain::Command> commands(batch.commands);
  for (size_t i = 0; i < commands.size(); ++i) {
    machine_.prefetch_before(commands, i);
    machine_.apply(commands[i]);
  }
  return true;
}

StateProof prove_state(const domain::State& state) {
  StateProof p;
  p.encoded = codec::encode_state(state);
  p.digest = codec::digest_of_encoding(p.encoded);
  domain::LedgerCheck check = domain::verify_ledger(state);
  if (!check.ok) p.ledger_problem = check.problem;
  return p;
}

}  // namespace betcore::backup
