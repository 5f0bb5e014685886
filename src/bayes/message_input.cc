// bayes/message_input.cc — BayesInput from a MessageText; see message_input.h.
#include "bayes/message_input.h"

#include <algorithm>

#include "rules/eval/header_access.h"
#include "rules/regex/perl_text.h"

namespace mailsift::bayes {

namespace {

// The value get_header() returns in scalar context: the last instance, decoded, with "\n";
// "" when absent.
std::string LastHeader(const rules::MessageText& text, std::string_view name) {
  const rules::SaHeader* last = nullptr;
  for (const rules::SaHeader& h : text.headers()) {
    if (h.name.size() == name.size() &&
        std::equal(h.name.begin(), h.name.end(), name.begin(),
                   [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
      last = &h;
    }
  }
  return last == nullptr ? std::string() : last->decoded + "\n";
}

// Message.pm's pristine body, with CRLF made LF when the message's first or last line ends in
// CRLF (bug 4363, get_pristine_body_digest).
std::string PristineBody(std::string_view full) {
  size_t first_nl = full.find('\n');
  bool crlf = first_nl != std::string_view::npos && first_nl > 0 && full[first_nl - 1] == '\r';
  if (!crlf && full.size() >= 2 && full.substr(full.size() - 2) == "\r\n") crlf = true;
  // The body starts after the first empty line (LF or CRLF).
  size_t pos = 0, body = full.size();
  while (pos < full.size()) {
    size_t nl = full.find('\n', pos);
    if (nl == std::string_view::npos) break;
    std::string_view line = full.substr(pos, nl - pos);
    if (line.empty() || line == "\r") {
      body = nl + 1;
      break;
    }
    pos = nl + 1;
  }
  std::string_view rest = full.substr(std::min(body, full.size()));
  return crlf ? rules::CrlfToLf(rest) : std::string(rest);
}

// Node::get_all_headers: every field, decoded, in header order — but counted name by name (in
// order of each name's first appearance, every instance of it), and once names and values pass
// MAX_HEADER_LENGTH (65,536 bytes) the rest is left out.
std::vector<HeaderLine> AllHeaders(const std::vector<rules::SaHeader>& headers) {
  constexpr size_t kMaxHeaderLength = 65536;
  std::vector<std::string> names;  // lower-case, in order of first appearance
  std::vector<std::string> lower(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) {
    for (char c : headers[i].name) lower[i].push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (std::find(names.begin(), names.end(), lower[i]) == names.end()) names.push_back(lower[i]);
  }
  std::vector<bool> kept(headers.size(), false);
  size_t size = 0;
  bool truncated = false;
  for (const std::string& name : names) {
    for (size_t i = 0; i < headers.size() && !truncated; ++i) {
      if (lower[i] != name) continue;
      size += name.size() + headers[i].decoded.size() + 1 + 2;  // the value ends in "\n"
      if (size > kMaxHeaderLength) {
        truncated = true;
      } else {
        kept[i] = true;
      }
    }
    if (truncated) break;
  }
  std::vector<HeaderLine> out;
  for (size_t i = 0; i < headers.size(); ++i) {
    if (kept[i]) out.push_back(HeaderLine{headers[i].name, headers[i].decoded});
  }
  return out;
}

}  // namespace

BayesInput BayesInputFromMessage(rules::MessageText& text, const rules::TrustOptions& trust,
                                 BayesPass pass) {
  BayesInput in;
  in.visible = text.VisibleBodyLines();
  in.uris = text.Uris();

  // get_body_text_array_common('invisible_rendered'): a line break between leaves once there is
  // text, each HTML leaf's invisible text (other leaves give ''), then SpamAssassin's folding.
  const auto& parts = text.message().parts();
  std::vector<const std::string*> invisible(parts.size(), nullptr);
  for (const auto& [index, html] : text.HtmlParts()) {
    if (index < invisible.size()) invisible[index] = &html.invisible_text;
  }
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!joined.empty()) joined.push_back('\n');
    if (invisible[i] != nullptr) joined += rules::CrlfToLf(*invisible[i]);
  }
  in.invisible = rules::SplitIntoShortLines(rules::SaNormalizeBodyWhitespace(joined));

  in.headers = AllHeaders(text.headers());

  rules::RelayPath relays = rules::AnalyzeReceivedHeaders(text.message().headers(), trust);
  if (pass == BayesPass::kScan) {
    // PerMsgStatus::extract_message_metadata: X-SenderDomain from
    // get('EnvelopeFrom:first:addr:host'), X-AuthorDomain the distinct get('From:addr:host'),
    // each through idn_to_ascii (lower case for ASCII hosts).
    auto lower = [](std::string s) {
      for (char& ch : s) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + 32) : ch;
      return s;
    };
    if (std::optional<std::string> env =
            rules::GuessEnvelopeFrom(text.message().headers(), &relays)) {
      for (const rules::ParsedAddress& a : rules::ParseHeaderAddresses(*env)) {
        if (!a.host) continue;
        in.metadata.push_back({"x-senderdomain", lower(*a.host)});
        break;
      }
    }
    std::vector<std::string> seen, authors;
    for (std::string& host : text.GetAll("From:addr:host")) {
      if (std::find(seen.begin(), seen.end(), host) != seen.end()) continue;
      seen.push_back(host);
      authors.push_back(lower(host));
    }
    if (!authors.empty()) {
      std::string joined;
      for (const std::string& a : authors) joined += (joined.empty() ? "" : " ") + a;
      in.metadata.push_back({"x-authordomain", joined});
    }
  }
  in.metadata.insert(in.metadata.end(), {{"x-spam-relays-external", relays.external_str},
                                         {"x-spam-relays-internal", relays.internal_str},
                                         {"x-spam-relays-trusted", relays.trusted_str},
                                         {"x-spam-relays-untrusted", relays.untrusted_str}});
  return in;
}

AddressParser SaAddressParser() {
  return [](std::string_view value) {
    std::vector<HeaderAddress> out;
    for (rules::ParsedAddress& a : rules::ParseHeaderAddresses(value)) {
      out.push_back(HeaderAddress{std::move(a.phrase), std::move(a.address)});
    }
    return out;
  };
}

std::vector<std::string> MessageMsgids(rules::MessageText& text) {
  std::vector<std::string> ids;
  ids.push_back(
      GenerateMsgid(LastHeader(text, "To"), LastHeader(text, "Date"), PristineBody(text.Full())));
  std::string mid = LastHeader(text, "Message-Id");
  if (!mid.empty()) {
    if (std::optional<std::string> id = MsgidFromHeader(mid)) ids.push_back(std::move(*id));
  }
  return ids;
}

}  // namespace mailsift::bayes
