// rules/eval/eval_input.cc — see eval_input.h.
#include "rules/eval/eval_input.h"

#include <utility>

#include "rules/eval/header_access.h"

namespace mailsift::rules {

const MessageFacts& EvalInput::facts() {
  if (!known_.facts) {
    MessageText& text = text_;
    known_.facts.emplace(ComputeMessageFacts(
        text.message(), [&text](std::string_view html) { return text.RenderedHtml(html); }));
  }
  return *known_.facts;
}

const RelayPath& EvalInput::relays() {
  if (!known_.relays) known_.relays.emplace(AnalyzeReceivedHeaders(headers(), config_.trust));
  return *known_.relays;
}

const std::optional<std::string>& EvalInput::envelope_from() {
  if (!known_.envelope_from) {
    if (!text_.envelope().mail_from.empty()) {
      known_.envelope_from.emplace(text_.envelope().mail_from);
    } else {
      known_.envelope_from.emplace(GuessEnvelopeFrom(headers(), &relays()));
    }
  }
  return *known_.envelope_from;
}

const std::string& EvalInput::from_addr() {
  if (!known_.from_addr) {
    std::vector<std::string> from = HeaderAddresses(headers(), "From", Instance::kAll);
    known_.from_addr = from.empty() ? std::string() : from.front();
  }
  return *known_.from_addr;
}

const std::string& EvalInput::envelope_from_addr() {
  if (!known_.envelope_from_addr) {
    const std::optional<std::string>& envelope = envelope_from();
    std::vector<ParsedAddress> parsed =
        envelope ? ParseHeaderAddresses(*envelope) : std::vector<ParsedAddress>();
    known_.envelope_from_addr = parsed.empty() ? std::string() : parsed.front().address;
  }
  return *known_.envelope_from_addr;
}

const std::vector<std::string>& EvalInput::body_lines() {
  if (known_.body_lines == nullptr) known_.body_lines = &text_.BodyLines();
  return *known_.body_lines;
}

const std::vector<std::string>& EvalInput::eval_text() {
  if (known_.eval_text != nullptr) return *known_.eval_text;
  return rule_type_ == RuleType::kRawBody ? text_.RawBodyChunks() : body_lines();
}

const std::vector<std::string>& EvalInput::uris() {
  if (known_.uris == nullptr) known_.uris = &text_.Uris();
  return *known_.uris;
}

const std::vector<std::string>& EvalInput::anchor_uris() {
  if (!known_.anchor_uris) {
    std::vector<std::string> anchors;
    for (const auto& [index, html] : text_.HtmlParts()) {
      for (const mime::HtmlUri& u : html.uris) {
        if (u.tag == "a") anchors.push_back(u.uri);
      }
    }
    known_.anchor_uris.emplace(std::move(anchors));
  }
  return *known_.anchor_uris;
}

const ImageFacts& EvalInput::images() {
  if (!known_.images) known_.images.emplace(ComputeImageFacts(facts()));
  return *known_.images;
}

const std::vector<std::vector<HtmlAnchor>>& EvalInput::html_anchors() {
  if (!known_.html_anchors) {
    std::vector<std::vector<HtmlAnchor>> anchors;
    for (const auto& html : facts().html_all) {
      anchors.push_back(PairAnchors(html.anchor_hrefs, html.anchors));
    }
    known_.html_anchors.emplace(std::move(anchors));
  }
  return *known_.html_anchors;
}

const std::string& EvalInput::subject() {
  if (!known_.subject) known_.subject.emplace(text_.Get("Subject").value_or(std::string()));
  return *known_.subject;
}

RelayStrings ComputeRelayStrings(EvalInput& in) {
  const RelayPath& path = in.relays();
  const mime::Headers& headers = in.headers();
  RelayStrings out;
  out.computed = true;
  out.trusted = path.trusted_str;
  out.untrusted = path.untrusted_str;
  out.internal = path.internal_str;
  out.external = path.external_str;
  out.last_trusted_relay_index = path.last_trusted_relay_index;
  out.last_internal_relay_index = path.last_internal_relay_index;
  out.all_trusted = ReceivedRangeText(headers, path, ReceivedRange::kAllTrusted);
  out.all_untrusted = ReceivedRangeText(headers, path, ReceivedRange::kAllUntrusted);
  out.all_internal = ReceivedRangeText(headers, path, ReceivedRange::kAllInternal);
  out.all_external = ReceivedRangeText(headers, path, ReceivedRange::kAllExternal);
  out.envelope_from = in.envelope_from();
  return out;
}

}  // namespace mailsift::rules
