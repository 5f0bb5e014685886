// rules/eval/https_mismatch.cc — SpamAssassin 4.0.1's HTTPSMismatch plugin
// (Plugin/HTTPSMismatch.pm), natively.
//
// check_https_http_mismatch (table HttpsMismatchEvals): an <a> whose text names an https URL
// while its href is plain http to another domain, over each HTML part's anchors (uri_detail's
// anchor_text) and RegistryBoundaries' domains (uri_eval.h).
//
// Thread-safety: pure functions of the EvalInput (which belongs to one scan) and the immutable
// EvalConfig.
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_util.h"
#include "rules/eval/uri_eval.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

bool CheckHttpsHttpMismatch(EvalInput& in, const std::vector<std::string>& args) {
  const EvalConfig& config = in.config();
  double min_anchors = args.size() > 0 ? PerlNumber(args[0]) : 0;
  // `$minanchors ||= 1`: Perl's false values are "" and "0" (and undef).
  if (args.empty() || args[0].empty() || args[0] == "0") min_anchors = 1;
  const std::string* max_anchors = ArgOrNull(args, 1);
  for (const std::vector<HtmlAnchor>& anchors : in.html_anchors()) {
    bool hit = false;
    size_t count = 0;
    for (const auto& [key, texts] : AnchorTextByUri(anchors)) {
      if (texts.empty()) continue;
      // m@^https?://([^/:?#]+)@i
      size_t p;
      if (StartsWithIgnoreCase(key, "https://")) {
        p = 8;
      } else if (StartsWithIgnoreCase(key, "http://")) {
        p = 7;
      } else {
        continue;
      }
      size_t e = key.find_first_of("/:?#", p);
      std::string_view host = key.substr(p, e == std::string_view::npos ? e : e - p);
      if (host.empty() || IsIpAddress(host)) continue;
      std::string uri = TrimDomain(config, host);
      std::optional<std::pair<std::string, std::string>> dom = UriToDomain(config, uri);
      if (!dom || !IsDomainValid(config, dom->first)) continue;
      if (uri.empty() || uri == "0") continue;  // Perl-false
      ++count;
      for (std::string_view text : texts) {
        // m@https://([^\s/:?#]+)@i — the first "https://" followed by a host character.
        std::optional<std::string> https;
        for (size_t i = 0; i + 8 <= text.size(); ++i) {
          if (!EqualsIgnoreCase(text.substr(i, 8), "https://")) continue;
          size_t s = i + 8, t = s;
          while (t < text.size() && !IsPerlSpace(text[t]) && text[t] != '/' && text[t] != ':' &&
                 text[t] != '?' && text[t] != '#') {
            ++t;
          }
          if (t == s) continue;
          https = std::string(text.substr(s, t - s));
          break;
        }
        if (!https) continue;
        if (!IsIpAddress(*https)) {
          std::string trimmed = TrimDomain(config, *https);
          if (!IsDomainValid(config, trimmed)) continue;
          https = trimmed;
        }
        if (https->empty() || *https == "0") continue;
        if (uri == *https) continue;
        hit = true;
        break;
      }
    }
    if (hit && static_cast<double>(count) >= min_anchors &&
        (max_anchors == nullptr || static_cast<double>(count) < PerlNumber(*max_anchors))) {
      return true;
    }
  }
  return false;
}

constexpr EvalEntry kEvals[] = {
    {"check_https_http_mismatch", &CheckHttpsHttpMismatch},
};

}  // namespace

EvalTable HttpsMismatchEvals() { return kEvals; }

}  // namespace mailsift::rules
