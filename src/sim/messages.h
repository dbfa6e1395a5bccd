// What travels between the simulated clients and nodes: an operation (a
// write or a read, with every attempt to send it) and a node's answer.
#pragma once

#include <cstdint>
#include <string>

#include "domain/commands.h"
#include "domain/rejection.h"

namespace betcore::sim {

enum class AnswerKind {
  applied,       // a write's definite answer: code, duplicate, count, index
  read,          // a read's answer: found, balance, index
  refused,       // connection refused: the node is down
  unavailable,   // 503
  overloaded,    // 429
  unknown,       // 504 outcome_unknown
  read_timeout,  // 504 on a read
};

// The key the report counts an indefinite answer under.
constexpr const char* answer_kind_name(AnswerKind k) {
  switch (k) {
    case AnswerKind::applied:
      return "applied";
    case AnswerKind::read:
      return "read";
    case AnswerKind::refused:
      return "connection_refused";
    case AnswerKind::unavailable:
      return "503_unavailable";
    case AnswerKind::overloaded:
      return "429_overloaded";
    case AnswerKind::unknown:
      return "504_outcome_unknown";
    case AnswerKind::read_timeout:
      return "504_read_timeout";
  }
  return "?";
}

struct Answer {
  AnswerKind kind = AnswerKind::refused;
  domain::Code code = domain::Code::ok;
  bool duplicate = false;
  uint32_t count = 0;
  uint64_t index = 0;
  bool found = false;
  int64_t balance = 0;
};

enum class OpKind { write, read };

struct Op {
  OpKind kind = OpKind::write;
  int client = 0;
  std::string what;         // for a person: "bet b12 on m3"
  std::string encoded;      // writes: the encoded command (its identity)
  domain::Command command;  // writes
  std::string account;      // reads
  int64_t first_sent = -1;
  int64_t last_sent = -1;   // the attempt in flight's
  int64_t answered_at = -1;
  uint64_t attempt = 0;  // the attempt in flight
  uint32_t tries = 0;
  bool done = false;
  Answer answer;              // the definite one
  uint64_t head_at_send = 0;  // reads: the last acknowledged position when sent
};

}  // namespace betcore::sim
