// rules/eval/free_mail.cc — SpamAssassin 4.0.1's FreeMail plugin (Plugin/FreeMail.pm), natively.
//
// check_freemail_from, check_freemail_replyto and check_freemail_header (table FreeMailEvals):
// whether the sender, Reply-To or a header's address is at a freemail domain of the rule set
// (freemail_domains with * and ? wildcards, minus freemail_welcomelist; EvalConfig), with
// _parse_body's scan of the body and anchor URIs for replyto's "different freemail" check.
//
// Thread-safety: pure functions of the EvalInput (which belongs to one scan) and the immutable
// EvalConfig; patterns are compiled once into immutable function-local statics.
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/strings.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_util.h"
#include "rules/eval/header_access.h"
#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// Glob where `*` matches a run of non-dots and `?` any one character (FreeMail wildcards).
bool DomainGlobMatches(std::string_view glob, std::string_view text) {
  if (glob.empty()) return text.empty();
  if (glob[0] == '*') {
    for (size_t i = 0;; ++i) {
      if (DomainGlobMatches(glob.substr(1), text.substr(i))) return true;
      if (i >= text.size() || text[i] == '.' || text[i] == '\n') return false;
    }
  }
  if (text.empty() || text[0] == '\n') return false;
  if (glob[0] != '?' && glob[0] != text[0]) return false;
  return DomainGlobMatches(glob.substr(1), text.substr(1));
}

bool IsFreemail(const EvalConfig& cfg, const std::string& email) {
  if (email.empty()) return false;
  if (cfg.freemail_welcomelist.count(email)) return false;
  std::string domain = email;
  {
    // s/.*\@// — the greedy `.*` stops at a newline.
    size_t line_start = 0;
    size_t at = std::string::npos;
    for (size_t i = 0; i < domain.size(); ++i) {
      if (domain[i] == '\n') {
        if (at != std::string::npos) break;
        line_start = i + 1;
      } else if (domain[i] == '@') {
        at = i;
      }
    }
    if (at != std::string::npos) domain = domain.substr(0, line_start) + domain.substr(at + 1);
  }
  if (cfg.freemail_welcomelist.count(domain)) return false;
  static const PerlRegex kEmailWelcome(
      R"(^(?:abuse|support|sales|info|helpdesk|contact|kontakt|(?:post|host|domain)master)"
      R"(|undisclosed.*|request-[a-f0-9]{16}|bounced?-)"
      R"(|[a-f0-9]{8}(?:\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}))"
      R"(|.+=.+=.+)\@)",
      kCaseless);
  if (kEmailWelcome.Matches(email)) return false;
  if (cfg.freemail_domains.count(domain)) return true;
  // /\@(?:wildcards)$/ against the whole address.
  for (size_t at = email.find('@'); at != std::string::npos; at = email.find('@', at + 1)) {
    std::string_view rest(email);
    rest = rest.substr(at + 1);
    std::string_view rest_nl = rest;
    if (!rest_nl.empty() && rest_nl.back() == '\n') rest_nl.remove_suffix(1);
    for (const std::string& w : cfg.freemail_wildcards) {
      if (DomainGlobMatches(w, rest) || DomainGlobMatches(w, rest_nl)) return true;
    }
  }
  return false;
}

std::vector<std::string> LowerAll(std::vector<std::string> v) {
  for (std::string& s : v) s = ToLowerAscii(s);
  return v;
}

// FreeMail::_parse_body: the freemail addresses found in the body, or nullopt when the body
// had too many addresses (freemail_skip_when_over_max).
std::optional<std::vector<std::string>> FreemailBodyAddresses(EvalInput& in,
                                                              const EvalConfig& cfg) {
  std::vector<std::string> body_emails;
  std::set<std::string> seen;
  const PerlRegex& email_re = *cfg.email_regex;
  static const PerlRegex kMailto(R"(^(?i:mailto):)", 0);
  for (const std::string& uri : in.anchor_uris()) {
    std::vector<Span> g;
    if (!kMailto.Search(uri, 0, &g)) continue;
    std::vector<Span> e;
    // /^mailto:$email_regex/: the address must start right after the scheme.
    if (email_re.Search(uri, g[0].end, &e) && e[0].begin == g[0].end) {
      std::string email = ToLowerAscii(GroupText(uri, e, 1));
      if (seen.insert(email).second) body_emails.push_back(email);
      if (body_emails.size() >= 20) break;
    }
  }
  static const PerlRegex kUrlWithAt(R"(<?https?://\S{0,255}(?:\@|%40)\S{0,255})", kCaseless);
  bool done = false;
  for (const std::string& line : in.body_lines()) {
    if (done) break;
    // Every address holds an "@", and the replacements below only take text out.
    if (line.find('@') == std::string::npos) continue;
    std::string text = ReplaceAll(kUrlWithAt, line, " ");
    // s{<?(?<!mailto:)$email_regex(?:>|\s{1,10}(?!(?:fa(?:x|csi)|tel|phone|e?-?mail))[a-z]{2,11}:)}{
    // }gi
    text = ReplaceAll(*cfg.strip_regex, text, " ");
    size_t pos = 0;
    std::vector<Span> e;
    while (pos < text.size() && email_re.Search(text, pos, &e)) {
      std::string email = ToLowerAscii(GroupText(text, e, 1));
      if (seen.insert(email).second) body_emails.push_back(email);
      pos = e[0].end > pos ? e[0].end : pos + 1;
      if (body_emails.size() >= 40) {
        done = true;
        break;
      }
    }
  }
  std::vector<std::string> found;
  int count_all = 0, count_fm = 0;
  for (const std::string& email : body_emails) {
    if (++count_all == cfg.freemail_max_body_emails && cfg.freemail_skip_when_over_max) {
      return std::nullopt;
    }
    if (!IsFreemail(cfg, email)) continue;
    if (++count_fm == cfg.freemail_max_body_freemails && cfg.freemail_skip_when_over_max) {
      return std::nullopt;
    }
    if (std::find(found.begin(), found.end(), email) == found.end()) found.push_back(email);
  }
  return found;
}

// Whether one of `emails` (lower-cased) is a freemail address that also matches the rule's
// optional pattern, argument `pattern_arg`; a pattern that does not compile makes it false.
bool AnyFreemailMatching(const EvalConfig& cfg, const std::vector<std::string>& emails,
                         const std::vector<std::string>& args, size_t pattern_arg) {
  std::optional<PerlRegex> re;
  if (args.size() > pattern_arg) {
    re.emplace(args[pattern_arg], 0, kOnceMatchLimit, /*jit=*/false);
    if (!re->ok()) return false;
  }
  for (const std::string& email : LowerAll(emails)) {
    if (!IsFreemail(cfg, email)) continue;
    if (!re || re->Matches(email)) return true;
  }
  return false;
}

bool CheckFreemailHeader(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig& cfg = in.config();
  if (!cfg.freemail_available || args.empty()) return false;
  std::string header = args[0];
  // "$header:addr": modifiers already on the name (Reply-To:addr) are the same request.
  std::string_view name = header;
  if (size_t colon = name.find(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::vector<std::string> emails = EqualsIgnoreCase(name, "EnvelopeFrom")
                                        ? EnvelopeFromAddresses(in)
                                        : HeaderAddresses(in.headers(), name);
  return AnyFreemailMatching(cfg, emails, args, 1);
}

bool CheckFreemailFrom(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig& cfg = in.config();
  if (!cfg.freemail_available) return false;
  return AnyFreemailMatching(cfg, AllFromAddresses(in), args, 0);
}

bool CheckFreemailReplyto(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig& cfg = in.config();
  if (!cfg.freemail_available) return false;
  std::string what = args.empty() ? "replyto" : args[0];
  if (what != "replyto" && what != "reply") return false;
  if (cfg.freemail_skip_bulk_envfrom && in.envelope_from()) {
    static const PerlRegex kSkip(
        R"((?:^(?:post|host|domain)master|^double-bounce|^(?:sentto|owner|return|(?:gr)?bounced?)-.+)"
        R"(|-(?:request|bounces?|admin|owner)|\b(?:do[._-t]?)?no[._-t]?repl(?:y|ies)|.+=.+)\@)",
        kCaseless);
    if (kSkip.Matches(*in.envelope_from())) return false;
  }
  std::vector<std::string> from = LowerAll(HeaderAddresses(in.headers(), "From"));
  std::vector<std::string> replyto = LowerAll(HeaderAddresses(in.headers(), "Reply-To"));
  bool from_is_fm = std::any_of(from.begin(), from.end(),
                                [&](const std::string& e) { return IsFreemail(cfg, e); });
  bool replyto_is_fm = std::any_of(replyto.begin(), replyto.end(),
                                   [&](const std::string& e) { return IsFreemail(cfg, e); });
  bool from_not_in_replyto = true;
  for (const std::string& f : from) {
    if (std::find(replyto.begin(), replyto.end(), f) != replyto.end()) from_not_in_replyto = false;
  }
  if (from_is_fm && replyto_is_fm && from_not_in_replyto) return true;
  if (what == "replyto") {
    if (!replyto_is_fm) return false;
  } else {
    if (!replyto.empty() && !replyto_is_fm) return false;
    if (!from_is_fm) return false;
  }
  if (!in.memo().freemail_body) in.memo().freemail_body = FreemailBodyAddresses(in, cfg);
  const std::optional<std::vector<std::string>>& body = *in.memo().freemail_body;
  if (!body || body->empty()) return false;
  const std::vector<std::string>& reply_addrs =
      what == "replyto" ? replyto : (replyto_is_fm ? replyto : from);
  for (const std::string& b : *body) {
    for (const std::string& r : reply_addrs) {
      if (b != r) return true;
    }
  }
  return false;
}

constexpr EvalEntry kEvals[] = {
    {"check_freemail_from", &CheckFreemailFrom},
    {"check_freemail_replyto", &CheckFreemailReplyto},
    {"check_freemail_header", &CheckFreemailHeader},
};

}  // namespace

EvalTable FreeMailEvals() { return kEvals; }

}  // namespace mailsift::rules
