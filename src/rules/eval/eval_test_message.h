// rules/eval/eval_test_message.h — for the eval tests: a parsed message as the evals see it.
//
// Holds the message, its MessageText (no TLDs, no redirectors) and the EvalInput over them;
// tests set what they fake through input.known() before the first eval runs.
//
// Thread-safety: one test's object, not shared.
#pragma once

#include <string_view>

#include "mime/message.h"
#include "rules/eval/eval_config.h"
#include "rules/eval/eval_input.h"
#include "rules/message/message_text.h"

namespace mailsift::rules {

struct EvalTestMessage {
  // `config` must outlive the object.
  EvalTestMessage(std::string_view raw, const EvalConfig& config)
      : message(mime::ParseMessage(raw)),
        text(message, Envelope{}, TextContext{}),
        input(text, config) {}
  EvalTestMessage(const EvalTestMessage&) = delete;
  EvalTestMessage& operator=(const EvalTestMessage&) = delete;

  mime::Message message;
  MessageText text;
  EvalInput input;
};

}  // namespace mailsift::rules
