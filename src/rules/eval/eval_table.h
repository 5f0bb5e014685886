// rules/eval/eval_table.h — SpamAssassin eval functions by name, for the evaluator.
//
// Each native implementation (relay_eval.h, header_eval.h, message_eval.h, misc_eval.h) is an
// EvalFunction over the message's EvalInput (eval_input.h) and the rule's arguments. Functions
// that need the network or Bayes are listed as never hitting, as in SpamAssassin with local
// tests only.
//
// Thread-safety: the tables are immutable.
#pragma once

#include <string_view>
#include <vector>

#include "rules/eval/eval_input.h"

namespace mailsift::rules {

enum class EvalKind { kNative, kNeverHits, kUnknown };

// The function for `name` (nullptr when there is none); `kind` says which case applies.
EvalFunction FindEval(std::string_view name, EvalKind* kind);

// Each module's functions by SpamAssassin name (nullptr when not one of the module's), and the
// names each knows.
const EvalFunction* FindHeaderEval(std::string_view name);
std::vector<std::string_view> HeaderEvalNames();
const EvalFunction* FindMessageEval(std::string_view name);
const EvalFunction* FindMiscEval(std::string_view name);
std::vector<std::string_view> MiscEvalNames();
const EvalFunction* FindRelayEval(std::string_view name);
const std::vector<std::string_view>& RelayEvalFunctionNames();

}  // namespace mailsift::rules
