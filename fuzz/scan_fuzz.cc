// libFuzzer target: the rule engine on arbitrary messages, and the literal prefilter on
// arbitrary patterns. For any input:
//   - a scan with a ruleset of every rule type (header with modifiers and pseudo-headers,
//     body, rawbody, full, uri, mimeheader, meta, relay/header/MIME/HTML evals) finishes, and
//     its score is the sum of the scores of the rules that hit;
//   - taking the first line as a regex and the rest as text: whenever the regex matches the
//     text, the prefilter says one of its required literals may occur (it never hides a match).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "mime/message.h"
#include "rules/cf/cf_parser.h"
#include "rules/engine.h"
#include "rules/prefilter/literal_prefilter.h"
#include "rules/regex/pattern.h"

namespace rules = mailsift::rules;

namespace {

constexpr std::string_view kRules = R"(
header   H_SUBJ       Subject =~ /free|win/i
header   H_FROM_ADDR  From:addr =~ /\@example\.com$/
header   H_FROM_NAME  From:name =~ /^[A-Z]/
header   H_TOCC       ToCc =~ /,/
header   H_ALL        ALL =~ /^X-Mailer:/m
header   H_RAW        Subject:raw =~ /=\?/
header   H_EXISTS     exists:Message-ID
header   H_UNSET      X-None =~ /^$/ [if-unset: none]
header   H_NEG        Date !~ /\d/
header   H_RELAYS     X-Spam-Relays-Untrusted =~ /rdns= /
header   H_UNTRUSTED  ALL-UNTRUSTED =~ /Received:/
header   H_MSGID      MESSAGEID =~ /\@/
header   H_ENV        EnvelopeFrom =~ /./
body     B_WORD       /\bmoney\b/i
body     B_MULTI      /e/
tflags   B_MULTI      multiple maxhits=20
rawbody  R_TAG        /<a\s/i
full     F_CRLF       /\r\n/
uri      U_HTTP       /^https?:/
mimeheader M_CT       Content-Type =~ /text\/html/
meta     META_A       (H_SUBJ + B_WORD + U_HTTP) > 1
meta     META_B       META_A || !H_EXISTS
header   E_MISSING_TO eval:check_for_missing_to_header()
header   E_SHIFTED    eval:check_for_shifted_date('-6', '-3')
header   E_TRUSTED    eval:check_all_trusted()
header   E_FREEMAIL   eval:check_freemail_from()
body     E_HTML       eval:html_test('mime_html_only')
body     E_MIME       eval:check_for_mime('mime_qp_long_line')
body     E_TAG        eval:html_tag_exists('table')
freemail_domains example.com
util_rb_tld com net org
)";

const rules::CompiledRuleset& Engine() {
  static std::shared_ptr<const rules::CompiledRuleset> engine = [] {
    rules::CfParser parser;
    parser.ParseText(kRules, "fuzz.cf");
    rules::LoadResult loaded = parser.Finish();
    if (!loaded.errors.empty()) std::abort();
    auto compiled = rules::CompiledRuleset::Compile(std::move(loaded.ruleset));
    if (!compiled) std::abort();
    return *compiled;
  }();
  return *engine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  mailsift::mime::Message message = mailsift::mime::ParseMessage(input);
  rules::ScanResult result = Engine().Scan(message, {"sender@example.com", {"rcpt@example.net"}});
  double sum = 0;
  for (const rules::RuleHit& hit : result.hits) {
    if (hit.count <= 0) std::abort();
    sum += hit.score;
  }
  if (std::abs(sum - result.score) > 0.01) std::abort();

  size_t newline = input.find('\n');
  if (newline != std::string_view::npos && newline < 200) {
    std::string_view pattern = input.substr(0, newline);
    std::string_view text = input.substr(newline + 1);
    std::vector<std::string> literals = rules::RequiredLiterals(pattern, "i");
    if (!literals.empty()) {
      auto compiled = rules::Pattern::Compile(pattern, "i");
      if (compiled && compiled->Matches(text) && !rules::TextIndex(text).MayContainAny(literals)) {
        std::abort();
      }
    }
  }
  return 0;
}
