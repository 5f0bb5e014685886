// rules/eval/vbounce.cc — SpamAssassin 4.0.1's VBounce plugin (Plugin/VBounce.pm), natively.
//
// have_any_bounce_relays and check_welcomelist_bounce_relays (with the 4.0 alias
// check_whitelist_bounce_relays; table VBounceEvals): whether a bounce's quoted original came
// through one of the rule set's welcomelist_bounce_relays (EvalConfig::bounce_relays), read
// from the rendered body's Received lines and then the pristine body.
//
// Thread-safety: pure functions of the EvalInput (which belongs to one scan) and the immutable
// EvalConfig.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/header_access.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

bool RelayListed(const EvalConfig& c, std::string_view relay) {
  std::string lc = ToLowerAscii(relay);
  for (const std::string& glob : c.bounce_relays) {
    if (glob == lc || AddressGlobMatches(glob, lc)) return true;
  }
  return false;
}

// while ($s =~ /D(\S+\.\S+)D/g): D is ' ' (space_only) or \s. Calls `fn` with each capture
// until it returns true.
template <typename Fn>
bool ForEachDottedWord(std::string_view s, bool space_only, Fn fn) {
  auto delim = [&](char c) { return space_only ? c == ' ' : IsPerlSpace(c); };
  size_t p = 0;
  while (p < s.size()) {
    if (!delim(s[p])) {
      ++p;
      continue;
    }
    size_t start = p + 1, end = start;
    while (end < s.size() && !IsPerlSpace(s[end])) ++end;
    std::string_view word = s.substr(start, end - start);
    bool ok = end < s.size() && delim(s[end]) && word.size() >= 3 &&
              word.substr(1, word.size() - 2).find('.') != std::string_view::npos;
    if (ok) {
      if (fn(word)) return true;
      p = end + 1;
    } else {
      ++p;
    }
  }
  return false;
}

// /^[> ]*Received:/i
bool IsReceivedLine(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == '>' || line[i] == ' ')) ++i;
  return StartsWithIgnoreCase(line.substr(i), "received:");
}

bool HaveAnyBounceRelays(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig& c = in.config();
  return !c.bounce_relays.empty();
}

bool CheckWelcomelistBounceRelays(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig& c = in.config();
  if (c.bounce_relays.empty()) return false;
  auto listed = [&](std::string_view relay) { return RelayListed(c, relay); };
  for (const std::string& line : in.body_lines()) {
    if (!IsReceivedLine(line)) continue;
    if (ForEachDottedWord(line, true, listed)) return true;
  }
  std::string_view raw = in.message().raw();
  std::string_view pristine =
      raw.substr(raw.size() - std::min(raw.size(), in.facts().pristine_body_length));
  if (!ContainsIgnoreCase(pristine, "received:")) return false;
  bool found_received = false;
  std::string fullhdr;
  size_t pos = 0;
  while (pos < pristine.size()) {  // /^(.*)$/gm: lines without "\n", none after a final "\n"
    size_t nl = pristine.find('\n', pos);
    std::string_view line =
        pristine.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? pristine.size() : nl + 1;
    if (!found_received) {
      if (!IsReceivedLine(line)) continue;
      found_received = true;
    }
    if (!line.empty() && IsPerlSpace(line[0])) {
      fullhdr += line;
    } else {
      fullhdr = line;
    }
    if (!IsReceivedLine(fullhdr)) continue;
    if (ForEachDottedWord(fullhdr, false, listed)) return true;
  }
  return false;
}

constexpr EvalEntry kEvals[] = {
    {"have_any_bounce_relays", &HaveAnyBounceRelays},
    {"check_welcomelist_bounce_relays", &CheckWelcomelistBounceRelays},
    {"check_whitelist_bounce_relays", &CheckWelcomelistBounceRelays},
};

}  // namespace

EvalTable VBounceEvals() { return kEvals; }

}  // namespace mailsift::rules
