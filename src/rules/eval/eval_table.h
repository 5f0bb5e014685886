// rules/eval/eval_table.h — SpamAssassin eval functions by name, for the evaluator.
//
// Each entry adapts one native implementation (relay_eval.h, header_eval.h, message_eval.h) to
// the evaluator's calling convention: the message's texts and the ruleset, the rule's
// arguments, and a hit count back (0 = no hit). Functions that need the network or Bayes are
// listed as never hitting, as in SpamAssassin with local tests only.
//
// Thread-safety: the table is immutable; an EvalEnv belongs to one scan.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/cf/ruleset.h"
#include "rules/message/message_text.h"

namespace mailsift::rules {

struct EvalShared;  // per-ruleset data the evals read (lists from the .cf files), built once

struct EvalEnv {
  MessageText& text;
  const Ruleset& ruleset;
  const EvalShared& shared;
  struct Cache;  // per-message facts shared by several evals
  Cache* cache;
  RuleType rule_type = RuleType::kBody;  // the type of the rule calling the eval
};

using EvalFn = std::function<int(EvalEnv& env, const std::vector<std::string>& args)>;

enum class EvalKind { kNative, kNeverHits, kUnknown };

// The function for `name` (empty when there is none); `kind` says which case applies.
EvalFn FindEval(std::string_view name, EvalKind* kind);

std::shared_ptr<const EvalShared> BuildEvalShared(const Ruleset& ruleset);

// Per-message cache lifetime helpers (the cache type is private to eval_table.cc).
std::unique_ptr<EvalEnv::Cache, void (*)(EvalEnv::Cache*)> NewEvalCache();

// Relay strings for MessageText (the Received parser's output for the pseudo-headers).
RelayStrings ComputeRelayStrings(EvalEnv& env);

}  // namespace mailsift::rules
