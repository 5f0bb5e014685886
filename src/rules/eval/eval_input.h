// rules/eval/eval_input.h — the one per-message input of every SpamAssassin eval function.
//
// An EvalInput stands for SpamAssassin's PerMsgStatus as the eval plugins see it: the message's
// texts (MessageText), the rule set's EvalConfig, the type of the rule calling the eval, and
// the facts several evals share, each computed on first use and kept for the message: SA's MIME
// tree and html_all (MessageFacts), the relay path (Received parser), EnvelopeFrom and the
// From / EnvelopeFrom addresses, ImageInfo's image facts, the HTML parts' anchors, the Subject,
// the URIs of <a href> anchors. Every eval has the same signature, EvalFunction.
//
// A fact set through known() before it is first used is taken as it is instead of being
// computed from the message; tests use this to fake one fact of a message.
//
// Thread-safety: an EvalInput belongs to one scan (one thread); the EvalConfig it reads is
// shared and immutable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rules/cf/ruleset.h"
#include "rules/eval/eval_config.h"
#include "rules/eval/image_info.h"
#include "rules/eval/uri_eval.h"
#include "rules/message/message_facts.h"
#include "rules/message/message_text.h"
#include "rules/message/received.h"

namespace mailsift::rules {

class EvalInput {
 public:
  // Both must outlive the EvalInput.
  EvalInput(MessageText& text, const EvalConfig& config) : text_(text), config_(config) {}
  EvalInput(const EvalInput&) = delete;
  EvalInput& operator=(const EvalInput&) = delete;

  MessageText& text() { return text_; }
  const EvalConfig& config() const { return config_; }
  const mime::Message& message() const { return text_.message(); }
  const mime::Headers& headers() const { return text_.message().headers(); }

  // The type of the rule calling the eval (the evaluator sets it before each call).
  RuleType rule_type() const { return rule_type_; }
  void set_rule_type(RuleType type) { rule_type_ = type; }

  // SA's MIME tree and shared facts (ComputeMessageFacts, reusing MessageText's HTML renders).
  const MessageFacts& facts();
  // The relay path (AnalyzeReceivedHeaders with the config's trust options).
  const RelayPath& relays();
  // SpamAssassin's EnvelopeFrom (PerMsgStatus::get_envelope_from): the SMTP envelope when
  // known, else its guess from the headers (GuessEnvelopeFrom); nullopt when SA has none.
  const std::optional<std::string>& envelope_from();
  // $pms->get('From:addr') and $pms->get('EnvelopeFrom:addr'): the first address, "" if none.
  const std::string& from_addr();
  const std::string& envelope_from_addr();
  // get_decoded_stripped_body_text_array (rendered body lines, Subject first).
  const std::vector<std::string>& body_lines();
  // The text array SA passes to the call as $body: the rendered body lines for a `body` rule,
  // the decoded body text array (get_decoded_body_text_array) for `rawbody`.
  const std::vector<std::string>& eval_text();
  // get_uri_list: the canonical URIs (cleaned, cut at 8192 bytes) of text and HTML parts.
  const std::vector<std::string>& uris();
  // The URIs found in <a href> anchors (uri_detail_list entries with type "a").
  const std::vector<std::string>& anchor_uris();
  // ImageInfo's $pms->{imageinfo} (ComputeImageFacts).
  const ImageFacts& images();
  // Per entry of facts().html_all, that part's anchors in document order.
  const std::vector<std::vector<HtmlAnchor>>& html_anchors();
  // PerMsgStatus::get('Subject'): every Subject value + "\n", joined; "" when absent.
  const std::string& subject();

  // The facts above, once known. Setting one before its first use replaces its computation.
  struct Known {
    std::optional<MessageFacts> facts;
    std::optional<RelayPath> relays;
    std::optional<std::optional<std::string>> envelope_from;
    std::optional<std::string> from_addr, envelope_from_addr;
    const std::vector<std::string>* body_lines = nullptr;  // owned by MessageText or the setter
    const std::vector<std::string>* eval_text = nullptr;
    const std::vector<std::string>* uris = nullptr;
    std::optional<std::vector<std::string>> anchor_uris;
    std::optional<ImageFacts> images;
    std::optional<std::vector<std::vector<HtmlAnchor>>> html_anchors;
    std::optional<std::string> subject;
    // Whether a cleaned URI was longer than 8192 bytes before it was cut (add_uri_detail_list's
    // uri_truncated). When unset, a URI of 8192 bytes or more counts as cut.
    std::optional<bool> cleaned_uri_truncated;
  };
  Known& known() { return known_; }

  // What evals compute once and keep for the other calls on the same message.
  struct Memo {
    // The Date/Received time difference of check_for_shifted_date (twelve rules call it).
    std::optional<int64_t> date_diff;
    // The sender and recipient addresses of the welcomelist/blocklist checks.
    std::optional<std::vector<std::string>> all_from, all_to;
    // FreeMail's addresses of the body (nullopt inside: too many), for the second of
    // __freemail_reply / __freemail_replyto: the body scan is the costly part of both.
    std::optional<std::optional<std::vector<std::string>>> freemail_body;
    // The distinct hosts of uris() (not mailto:), for the WLBL host-list evals.
    std::optional<std::vector<std::string>> uri_hosts;
  };
  Memo& memo() { return memo_; }

 private:
  MessageText& text_;
  const EvalConfig& config_;
  RuleType rule_type_ = RuleType::kBody;
  Known known_;
  Memo memo_;
};

// An eval: (the message, arguments as split by the rule parser) -> hit.
using EvalFunction = bool (*)(EvalInput& in, const std::vector<std::string>& args);

// Relay strings for MessageText (the Received parser's output for the pseudo-headers).
RelayStrings ComputeRelayStrings(EvalInput& in);

}  // namespace mailsift::rules
