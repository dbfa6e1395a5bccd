// Reconciliation: the gateway's ledger (what it really paid and received)
// against betcore's withdrawals and deposits. Every difference is reported;
// those with one safe answer are repaired when asked: a payout that is final
// at the gateway finishes its pending withdrawal the same way, and a
// gateway deposit betcore has not credited is credited (its payment_ref
// credits once). Anything else (money paid for a withdrawal betcore failed,
// a completion without a payout) needs a person and is only reported.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "payments/gateway_client.h"
#include "tools/http_client.h"

namespace betcore::payments {

struct Difference {
  std::string kind;    // e.g. paid_not_completed, completed_without_payout
  std::string id;      // the withdrawal id or payment id
  std::string detail;  // for a person
  bool repaired = false;
};

struct ReconcileOptions {
  tools::Url betcore;
  std::string token;  // role payments
  bool repair = false;
  // Only what the gateway recorded at least this long ago is judged, so work
  // in flight (a payout the adapter is finishing, a webhook on its way) is
  // not a difference. 0 judges everything (a quiet system).
  int64_t grace_ms = 60000;
  // Betcore deposits whose payment_ref starts with this came from the
  // gateway and must be in its ledger; others (credited by hand) are not judged.
  std::string gateway_ref_prefix = "pay_";
};

struct ReconcileReport {
  std::vector<Difference> differences;
  size_t payouts = 0, gateway_deposits = 0, withdrawals = 0, deposits = 0;
  std::string error;  // the pass could not finish (what was found is still listed)

  size_t unrepaired() const;
  std::string to_json() const;
};

// The same fail reason the pipeline writes, so a repair and the adapter
// finishing the same withdrawal agree byte for byte (betcore answers the
// second like the first).
std::string fail_reason_of(const Payout& payout);

ReconcileReport reconcile(GatewayClient& gateway, const ReconcileOptions& options);

}  // namespace betcore::payments
