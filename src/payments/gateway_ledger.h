// The payment gateway's ledger (docs/payment-gateway.md, "Payouts" and "The
// PSP's ledger"): payouts keyed by idempotency key, deposits, and the
// processing -> paid | failed moves. Pure: the clock comes in as arguments, no
// threads, no I/O, no randomness (which payouts fail is a hash of the key).
// Thread: one owner; the gateway calls it under its mutex.
#pragma once
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace betcore::payments::gateway {

// docs/payment-gateway.md: "Ids are 1-64 characters of [A-Za-z0-9_.:-]".
inline constexpr size_t kIdBytesMax = 64;
inline constexpr int64_t kAmountMax = 1'000'000'000'000'000;  // 10^15 minor units
inline constexpr int kPageLimitMax = 1000;
inline constexpr int kPageLimitDefault = 100;
// A test double still has bounds (STYLE.md, habit 4): past these, creates are
// refused with ledger_full rather than eating the machine's memory.
inline constexpr size_t kPayoutsMax = 1'000'000;
inline constexpr size_t kDepositsMax = 1'000'000;

bool valid_id(std::string_view id);
bool valid_currency(std::string_view currency);  // 3 upper-case letters
bool valid_amount(int64_t amount);               // 1..kAmountMax

// "po_000017" <-> 17. Ids compare in creation order through their number.
std::string payout_id(uint64_t seq);
std::string payment_id(uint64_t seq);
std::string event_id(uint64_t seq);
std::optional<uint64_t> payout_seq(std::string_view id);
std::optional<uint64_t> payment_seq(std::string_view id);

// Both clocks of one moment: wall time for what is shown (created_ms), a
// monotonic one for when a payout settles.
struct Now {
  int64_t wall_ms = 0;
  int64_t mono_ms = 0;
};

// What the merchant asked for: the body of POST /v1/payouts.
struct PayoutFields {
  int64_t amount = 0;
  std::string currency;
  std::string destination;
  std::string reference;
  bool operator==(const PayoutFields&) const = default;
};

enum class PayoutStatus { processing, paid, failed };
std::string_view to_string(PayoutStatus s);

struct Payout {
  uint64_t seq = 0;
  std::string idempotency_key;
  PayoutFields fields;
  PayoutStatus status = PayoutStatus::processing;
  std::string failure_reason;  // set when failed
  int64_t created_ms = 0;      // wall clock, Unix ms
  int64_t settle_mono_ms = 0;  // when processing ends
  bool will_fail = false;      // decided at creation, by hash of the key
};

struct Deposit {
  uint64_t seq = 0;  // payment "pay_<seq>", its event "evt_<seq>"
  std::string account_id;
  int64_t amount = 0;
  std::string currency;
  int64_t created_ms = 0;
};

// Why a create was refused; each is one HTTP answer in gateway_service.cc.
enum class Refusal { invalid_request, idempotency_key_reused, ledger_full };
std::string_view to_string(Refusal r);

struct CreateResult {
  std::optional<Refusal> refusal;
  std::string message;             // for a person, when refused
  const Payout* payout = nullptr;  // when not refused; valid until the next call
  bool replay = false;             // the key was known and the body the same
};

struct DepositResult {
  std::optional<Refusal> refusal;
  std::string message;
  const Deposit* deposit = nullptr;
};

template <typename T>
struct Page {
  std::vector<const T*> items;         // valid until the next call
  std::optional<uint64_t> next_after;  // the last item's seq when more follow
};

struct LedgerConfig {
  int64_t settle_ms = 200;
  double fail_share = 0;  // 0..1 of payouts that fail, chosen by hash of the key
};

// The counts of GET /control/stats that the ledger knows.
struct LedgerCounts {
  uint64_t payouts_created = 0, payouts_paid = 0, payouts_failed = 0, idempotent_replays = 0,
           deposits = 0;
};

class Ledger {
 public:
  explicit Ledger(LedgerConfig config);

  // Every call first settles what is due at `now`, so reads and the counts
  // always agree (no timer thread).
  CreateResult create_payout(const std::string& idempotency_key, const PayoutFields& fields,
                             Now now);
  const Payout* payout(uint64_t seq, Now now);
  Page<Payout> payouts(uint64_t after_seq, int limit, Now now);

  DepositResult record_deposit(const std::string& account_id, int64_t amount,
                               const std::string& currency, Now now);
  Page<Deposit> deposits(uint64_t after_seq, int limit, Now now);

  LedgerCounts counts(Now now);

 private:
  void settle(Now now);

  LedgerConfig config_;
  std::vector<Payout> payouts_;  // payouts_[seq - 1]
  std::vector<Deposit> deposits_;
  std::unordered_map<std::string, uint64_t> by_key_;  // idempotency key -> payout seq
  std::deque<uint64_t> processing_;                   // seqs in creation order, so in settle order
  LedgerCounts counts_;
};

// True when the payout with this key is one of the `fail_share` that fail:
// a hash of the key, so the same key always gives the same answer.
bool fails_by_key(std::string_view idempotency_key, double fail_share);
// The failure_reason of a failing payout, also by hash of the key.
std::string_view failure_reason_by_key(std::string_view idempotency_key);

}  // namespace betcore::payments::gateway
