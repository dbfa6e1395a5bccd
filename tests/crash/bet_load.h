// A bet-and-deposit load for drills on real processes, and the check of the
// final state against it. Clients keep each request until it has a definite
// answer (API.md: "retry with the same id"), so at the end every request is
// acknowledged or rejected, and the state must hold exactly the acknowledged
// ones, once each. Used by the crash drill (one node) and the cluster drills
// (through HAProxy).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "crash/crash_node.h"
#include "support/support.h"

namespace betcore::crash {

inline constexpr int kAccounts = 50;
inline constexpr int64_t kFunding = 500'000;  // cents; each account's first deposit
inline constexpr int kMarkets = 4;
inline constexpr int kClients = 8;
inline constexpr int kOpDeadlineMs = 60'000;  // one request, retried, must be answered by then

enum class Kind { bet, deposit };

// One client request and what became of it.
struct Op {
  Kind kind = Kind::bet;
  std::string id;  // bet_id or payment_ref
  std::string account;
  int64_t amount = 0;  // stake or deposit amount
  size_t legs = 0;
  // The definite answer (status 0 or >= 500 only if the deadline passed).
  int status = 0;
  std::string code;  // of a rejection
  uint64_t index = 0;
  std::string odds;     // of an acknowledged bet
  int indefinite = 0;   // answers before it that said nothing definite
  std::vector<std::string> indefinite_answers;  // "503 unavailable", "504 outcome_unknown", "no answer"
  std::string problem;  // anything wrong with the answer itself
  std::chrono::steady_clock::time_point sent_at{};      // the first attempt
  std::chrono::steady_clock::time_point answered_at{};  // the definite answer

  bool acked() const { return status == 201; }
};

std::vector<std::string> account_ids();

// Thread: each client thread owns its Op vector and HttpClient; the shared
// atomics are the only state they touch together.
class Load {
 public:
  Load(uint64_t seed, uint16_t port, const test::TestTokens& tokens, std::string id_prefix = "c");
  ~Load();

  void start();
  // Stops starting new requests and waits for every pending one to settle.
  void finish();
  // Stops at once: a request in flight keeps its last, maybe indefinite,
  // answer (the service is gone and will not answer it).
  void abort();
  uint64_t max_acked_index() const { return max_acked_.load(); }
  uint64_t answered() const { return answered_.load(); }
  std::vector<Op> ops() const;

 private:
  void join();
  void run(int t);
  void settle(JsonClient& client, const std::string& target, const std::string& body,
              const std::string& token, Op& op);
  static void check_ack(const Reply& r, Op& op);

  const uint64_t seed_;
  const uint16_t port_;
  const test::TestTokens& tokens_;
  const std::string id_prefix_;
  std::vector<std::vector<Op>> ops_;  // [client]: written by that client's thread only
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> abort_{false};
  std::atomic<uint64_t> max_acked_{0};
  std::atomic<uint64_t> answered_{0};
};

// Sets up accounts (each funded by one deposit), an event and markets.
// Fails the test (gtest ASSERT) on any error.
void set_up_book(uint16_t port, const test::TestTokens& tokens);

// Runs `check(op, client, failures)` over `ops` on kClients threads.
void check_in_parallel(const std::vector<const Op*>& ops, uint16_t port,
                       const std::function<void(const Op&, JsonClient&, std::vector<std::string>&)>& check,
                       std::vector<std::string>& failures);

std::string first_of(const std::vector<std::string>& failures, size_t n = 20);

// Every request got a definite, sensible answer (gtest EXPECTs); prints a
// summary line with `label`. Returns the number of acknowledged bets.
size_t expect_definite_answers(const std::vector<Op>& ops, const char* label);

// The state on the node at `port` holds exactly the acknowledged requests,
// once each: every bet as acknowledged, every account's money and bet list,
// the ledger totals, and each deposit sent again answers its first answer.
// gtest EXPECT/ASSERT inside.
void expect_state_matches(uint16_t port, const test::TestTokens& tokens, const std::vector<Op>& ops);

}  // namespace betcore::crash
