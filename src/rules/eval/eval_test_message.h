// rules/eval/eval_test_message.h — for the eval tests: a parsed message as the evals see it.
//
// EvalTestMessage holds the message, its MessageText (no TLDs, no redirectors) and the EvalInput
// over them; tests set what they fake through input.known() before the first eval runs.
// EvalFixture keeps a message's facts as fields a test sets by hand, and runs an eval over them
// on a fresh EvalInput per call. HeaderEvalFixture runs an eval on a message of headers only,
// with the rule set of the header tests (freemail domains, address lists, *_from_rcvd).
// Evaluated / Eval / Call run the MIME-fact evals (HTMLEval, MIMEEval, BodyEval) over a parsed
// message's MessageFacts and given rendered lines.
//
// Thread-safety: one test's object, not shared.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/header.h"
#include "mime/message.h"
#include "rules/eval/eval_config.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/uri_eval.h"
#include "rules/message/message_facts.h"
#include "rules/message/message_facts_test_messages.h"
#include "rules/message/message_text.h"
#include "rules/message/received.h"

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

// The TLDs (com net org uk top us) and two-level domains (co.uk) the URI tests use.
EvalSettings TestTldSettings() {
  EvalSettings s;
  s.valid_tlds = {"com", "net", "org", "uk", "top", "us"};
  s.two_level_domains = {"co.uk"};
  return s;
}

struct EvalFixture {
  mime::Message message;
  MessageFacts facts;
  std::shared_ptr<const EvalConfig> config;
  std::vector<std::string> body_lines, eval_text, uris;
  std::vector<std::vector<HtmlAnchor>> anchors;
  std::string subject;
  std::optional<bool> cleaned_uri_truncated;
  // Where the URI hosts are kept between calls when set (else each call looks them up).
  std::optional<std::vector<std::string>>* uri_hosts = nullptr;

  explicit EvalFixture(const std::string& raw, const EvalSettings& settings = {})
      : message(mime::ParseMessage(raw)) {
    facts = ComputeMessageFacts(message);
    config = BuildEvalConfig(settings);
  }
  bool Call(std::string_view fn, std::vector<std::string> args = {}) {
    EvalKind kind;
    const EvalFunction f = FindEval(fn, &kind);
    EXPECT_NE(f, nullptr) << fn;
    if (f == nullptr) return false;
    EvalTestMessage m(message.raw(), *config);
    EvalInput::Known& known = m.input.known();
    known.facts = facts;
    known.subject = subject;
    known.uris = &uris;
    known.html_anchors = anchors;
    known.body_lines = &body_lines;
    known.eval_text = &eval_text;
    known.cleaned_uri_truncated = cleaned_uri_truncated;
    if (uri_hosts != nullptr) m.input.memo().uri_hosts = *uri_hosts;
    bool hit = f(m.input, args);
    if (uri_hosts != nullptr) *uri_hosts = m.input.memo().uri_hosts;
    return hit;
  }
};

// A gtest fixture for the header plugins (HeaderEval, FreeMail, WLBLEval's address lists).
class HeaderEvalFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    EvalSettings s;
    s.freemail_domains = {"gmail.com", "yahoo.com", "hotmail.*", "mail.??"};
    s.valid_tlds = {"com", "net", "org", "uk", "de", "ru", "ms", "us"};
    s.two_level_domains = {"co.uk"};
    s.address_lists = {{"BANKS", {"*@*.barclays.co.uk", "*@hsbc.com"}},
                       {"welcomelist_from", {"friend@example.org"}},
                       {"blocklist_from", {"*@spammer.example"}},
                       {"welcomelist_to", {"me@example.net"}}};
    s.welcomelist_from_rcvd = {{"*@bank.com", "bank.com"}, {"*@ipbank.com", "[10.1.2.3]"}};
    s.def_welcomelist_from_rcvd = {{"news@paypal.com", "paypal.com"}};
    config_ = BuildEvalConfig(s);
  }

  // Runs eval `name` on a message whose header section is `head`.
  bool Eval(std::string_view name, const std::string& head, std::vector<std::string> args = {},
            std::optional<std::string> envfrom = std::nullopt, std::vector<Relay> untrusted = {}) {
    message_.emplace(head + "\n", *config_);
    EvalInput& in = message_->input;
    in.known().envelope_from = envfrom;
    relays_.untrusted = std::move(untrusted);
    in.known().relays = relays_;
    in.known().body_lines = &no_lines_;
    in.known().anchor_uris.emplace();
    EvalKind kind;
    const EvalFunction f = FindEval(name, &kind);
    EXPECT_NE(f, nullptr) << name;
    return f != nullptr && f(in, args);
  }

  std::shared_ptr<const EvalConfig> config_;
  std::optional<EvalTestMessage> message_;
  RelayPath relays_;
  const std::vector<std::string> no_lines_;
};

inline Relay MakeRelay(std::string ip, std::string rdns, std::string envfrom = "") {
  Relay r;
  r.ip = std::move(ip);
  r.rdns = rdns;
  r.lc_rdns = rdns;
  r.envfrom_defined = !envfrom.empty();
  r.envfrom = std::move(envfrom);
  return r;
}

// ---- the MIME-fact plugins

struct Evaluated {
  mime::Message message;
  MessageFacts facts;
  std::vector<std::string> lines;
};

inline Evaluated Eval(const std::string& raw, std::vector<std::string> lines = {}) {
  Evaluated e{mime::ParseMessage(raw), {}, std::move(lines)};
  e.facts = ComputeMessageFacts(e.message);
  return e;
}

inline bool Call(const Evaluated& e, std::string_view fn, std::vector<std::string> args = {}) {
  EvalKind kind;
  const EvalFunction f = FindEval(fn, &kind);
  EXPECT_NE(f, nullptr) << fn;
  if (f == nullptr) return false;
  static const std::shared_ptr<const EvalConfig> kConfig = BuildEvalConfig({});
  EvalTestMessage m(e.message.raw(), *kConfig);
  m.input.known().facts = e.facts;
  m.input.known().body_lines = &e.lines;
  return f(m.input, args);
}

}  // namespace mailsift::rules
