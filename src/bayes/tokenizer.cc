// bayes/tokenizer.cc — SpamAssassin 4.0.1's Bayes tokenizer; see tokenizer.h. Each function
// names the Perl it mirrors (Plugin/Bayes.pm unless said otherwise).
#include "bayes/tokenizer.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <unordered_map>

#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::bayes {

using rules::IsPerlSpace;
using rules::PerlRegex;
using rules::Span;

namespace {

constexpr size_t kBodyTokenCap = 50000;
constexpr size_t kUriTokenCap = 10000;
constexpr size_t kHeaderTokenCap = 10000;

constexpr bool IsUpper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool IsWord(unsigned char c) {
  return (c >= 'a' && c <= 'z') || IsUpper(c) || (c >= '0' && c <= '9') || c == '_';
}
constexpr bool IsCont(unsigned char c) { return c >= 0x80 && c <= 0xBF; }
constexpr char LowerAscii(char c) { return IsUpper(c) ? static_cast<char>(c + 32) : c; }
constexpr bool IsTrimmed(char c) {
  return c == '-' || c == '\'' || c == '"' || c == '.' || c == ',';
}
// [A-Za-z0-9,@*!_'"$. -]
constexpr bool IsKeptAscii(unsigned char c) {
  return IsWord(c) || c == ',' || c == '@' || c == '*' || c == '!' || c == '\'' || c == '"' ||
         c == '$' || c == '.' || c == ' ' || c == '-';
}
unsigned char At(std::string_view s, size_t i) { return static_cast<unsigned char>(s[i]); }

// Length of a well-formed UTF-8 sequence of Bug 7130's filter at `i`, or 0.
size_t Utf8SequenceAt(std::string_view s, size_t i) {
  unsigned char c = At(s, i);
  size_t n = 0;
  if (c >= 0xC0 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if (!IsCont(At(s, i + k))) return 0;
  }
  return n;
}

// s{ ([A-Za-z0-9,@*!_'"\$. -]+ | UTF-8 2/3/4-byte sequence | [\xA1-\xFF]) | . }{$1 or ' '}xsge
std::string FilterCharacters(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    unsigned char c = At(in, i);
    if (IsKeptAscii(c)) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (size_t n = Utf8SequenceAt(in, i); n > 0) {
      out.append(in.substr(i, n));
      i += n;
    } else {
      out.push_back(c >= 0xA1 ? static_cast<char>(c) : ' ');
      ++i;
    }
  }
  return out;
}

// s/(\w)(\.{3,6})(\w)/$1 $2 $3/gs, or with '-' and {2,6}.
std::string SplitSeparators(std::string_view in, char sep, size_t min_run) {
  std::string out;
  out.reserve(in.size() + 8);
  size_t i = 0;
  while (i < in.size()) {
    if (IsWord(At(in, i))) {
      size_t j = i + 1;
      while (j < in.size() && in[j] == sep) ++j;
      size_t run = j - i - 1;
      if (run >= min_run && run <= 6 && j < in.size() && IsWord(At(in, j))) {
        out.push_back(in[i]);
        out.push_back(' ');
        out.append(in.substr(i + 1, run));
        out.push_back(' ');
        out.push_back(in[j]);
        i = j + 1;
        continue;
      }
    }
    out.push_back(in[i]);
    ++i;
  }
  return out;
}

// s/(?:^|\.\s+)([A-Z])([^A-Z]+)(?:\s|$)/ ' '. (lc $1) . $2 . ' ' /ge
std::string LowerTitleCase(std::string_view s) {
  const size_t n = s.size();
  // The match of ([A-Z])([^A-Z]+)(?:\s|$) with the capital at `c`: its end (past the consumed
  // blank, if any) and the end of $2, or false.
  auto try_at = [&](size_t c, size_t* body_end, size_t* match_end) {
    size_t q = c + 1;
    while (q < n && !IsUpper(At(s, q))) ++q;
    if (q == c + 1) return false;
    if (q == n) {
      // Greedy [^A-Z]+ reaches the end; `$` matches there (a final "\n" cannot survive the
      // character filter).
      *body_end = *match_end = n;
      return true;
    }
    for (size_t p = q - 1; p >= c + 2; --p) {
      if (IsPerlSpace(s[p])) {
        *body_end = p;
        *match_end = p + 1;
        return true;
      }
    }
    return false;
  };
  std::string out;
  out.reserve(n + 8);
  size_t pos = 0;
  while (pos < n) {
    size_t start = 0, cap = 0, body_end = 0, match_end = 0;
    bool found = false;
    for (size_t p = pos; p < n && !found; ++p) {
      if (p == 0 && IsUpper(At(s, 0)) && try_at(0, &body_end, &match_end)) {
        start = 0;
        cap = 0;
        found = true;
      } else if (s[p] == '.') {
        size_t r = p + 1;
        while (r < n && IsPerlSpace(s[r])) ++r;
        if (r > p + 1 && r < n && IsUpper(At(s, r)) && try_at(r, &body_end, &match_end)) {
          start = p;
          cap = r;
          found = true;
        }
      }
    }
    if (!found) break;
    out.append(s.substr(pos, start - pos));
    out.push_back(' ');
    out.push_back(LowerAscii(s[cap]));
    out.append(s.substr(cap + 1, body_end - cap - 1));
    out.push_back(' ');
    pos = match_end;
  }
  out.append(s.substr(pos));
  return out;
}

// The length of the first 7 "characters" of the sk: rule's atomic group
//   (?> (?: [\x00-\x7F\xF5-\xFF] | [\xC0-\xDF][\x80-\xBF] | [\xE0-\xEF][\x80-\xBF]{2} |
//           [\xF0-\xF4][\x80-\xBF]{3} | . ){7} )
// as the regex engine finds it (first alternative first, backtracking within the group until
// seven iterations fit), or npos.
size_t SkipPrefixLength(std::string_view t, size_t pos, int left) {
  if (left == 0) return pos;
  if (pos >= t.size()) return std::string_view::npos;
  unsigned char c = At(t, pos);
  auto seq = [&](size_t len) {
    if (pos + len > t.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if (!IsCont(At(t, pos + k))) return false;
    }
    return true;
  };
  size_t lens[5];
  size_t count = 0;
  if (c <= 0x7F || c >= 0xF5) lens[count++] = 1;
  if (c >= 0xC0 && c <= 0xDF && seq(2)) lens[count++] = 2;
  if (c >= 0xE0 && c <= 0xEF && seq(3)) lens[count++] = 3;
  if (c >= 0xF0 && c <= 0xF4 && seq(4)) lens[count++] = 4;
  lens[count++] = 1;  // `.`
  for (size_t k = 0; k < count; ++k) {
    size_t r = SkipPrefixLength(t, pos + lens[k], left - 1);
    if (r != std::string_view::npos) return r;
  }
  return std::string_view::npos;
}

// ( (?: [\xE0-\xEF] | [\xF0-\xF4][\x80-\xBF] ) [\x80-\xBF]{2} ) matched globally.
std::vector<std::string_view> LongUtf8Characters(std::string_view t) {
  std::vector<std::string_view> chars;
  size_t i = 0;
  while (i < t.size()) {
    unsigned char c = At(t, i);
    size_t len = 0;
    if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
    } else if (c >= 0xF0 && c <= 0xF4 && i + 1 < t.size() && IsCont(At(t, i + 1))) {
      len = 4;
    }
    bool ok = len > 0 && i + len <= t.size();
    for (size_t k = len == 4 ? 2 : 1; ok && k < len; ++k) ok = IsCont(At(t, i + k));
    if (ok) {
      chars.push_back(t.substr(i, len));
      i += len;
    } else {
      ++i;
    }
  }
  return chars;
}

bool HasTwoContinuationBytes(std::string_view t) {
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (IsCont(At(t, i)) && IsCont(At(t, i + 1))) return true;
  }
  return false;
}

// s/[^\w:\*]//gs
std::string RemoveNonWord(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  for (char c : t) {
    if (IsWord(static_cast<unsigned char>(c)) || c == ':' || c == '*') out.push_back(c);
  }
  return out;
}

bool HasNonWord(std::string_view t) {
  return std::any_of(t.begin(), t.end(), [](char c) {
    return !IsWord(static_cast<unsigned char>(c)) && c != ':' && c != '*';
  });
}

std::string LowerAll(std::string_view t) {
  std::string out(t);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

// while (s/^[^\.]+\.(.+)$/$1/gs) { push $prefix.$1 } — every parent suffix of a dotted name.
void PushParentSuffixes(std::string_view name, std::string_view prefix,
                        std::vector<std::string>* out) {
  while (true) {
    size_t dot = name.find('.');
    // [^\.]+ needs one byte before the dot, (.+) one after; `$` may stand before a final "\n".
    if (dot == 0 || dot == std::string_view::npos) return;
    std::string_view rest = name.substr(dot + 1);
    if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
    if (rest.empty()) return;
    out->push_back(std::string(prefix) + std::string(rest));
    name = rest;
  }
}

// _tokenize_mail_addrs: ($addr =~ /(.+)\@(.+)$/): U*user, D*domain and D* of each parent.
void PushMailAddressTokens(std::string_view addr, std::vector<std::string>* out) {
  // `.` does not match "\n": the match lies within one line; SpamAssassin's tokens have none,
  // header values could. Take the first line that has a match.
  size_t line_start = 0;
  while (line_start <= addr.size()) {
    size_t line_end = addr.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = addr.size();
    std::string_view line = addr.substr(line_start, line_end - line_start);
    // `$` at the end of the text or before a final "\n": a line that ends the text or is
    // followed only by "\n".
    bool may_end = line_end == addr.size() || line_end + 1 == addr.size();
    if (may_end) {
      // Greedy (.+): the last '@' with at least one byte on each side.
      size_t at = line.rfind('@');
      while (at != std::string_view::npos && (at == 0 || at + 1 >= line.size())) {
        at = at == 0 ? std::string_view::npos : line.rfind('@', at - 1);
      }
      if (at != std::string_view::npos) {
        std::string_view domain = line.substr(at + 1);
        out->push_back("U*" + std::string(line.substr(0, at)));
        out->push_back("D*" + std::string(domain));
        PushParentSuffixes(domain, "D*", out);
        return;
      }
    }
    if (line_end == addr.size()) return;
    line_start = line_end + 1;
  }
}

// Perl's s/PATTERN/REPLACEMENT/ (all matches when `global`), with the replacement made by
// `replace` from the match groups.
template <typename Replace>
bool Substitute(const PerlRegex& re, std::string* text, bool global, Replace replace) {
  std::vector<Span> groups;
  std::string out;
  size_t pos = 0, copied = 0;
  bool any = false;
  while (pos <= text->size() && re.Search(*text, pos, &groups)) {
    any = true;
    out.append(*text, copied, groups[0].begin - copied);
    replace(std::string_view(*text), groups, &out);
    copied = groups[0].end;
    pos = groups[0].end > groups[0].begin ? groups[0].end : groups[0].end + 1;
    if (groups[0].end == groups[0].begin && groups[0].begin < text->size()) {
      out.push_back((*text)[groups[0].begin]);
      copied = groups[0].begin + 1;
    }
    if (!global) break;
  }
  if (!any) return false;
  out.append(*text, std::min(copied, text->size()), std::string::npos);
  *text = std::move(out);
  return true;
}

std::string_view Group(std::string_view s, const std::vector<Span>& g, size_t i) {
  if (i >= g.size() || !g[i].set()) return {};
  return s.substr(g[i].begin, g[i].end - g[i].begin);
}

// The patterns of _tokenize_headers and its pre-chew helpers, as written in Bayes.pm.
struct HeaderPatterns {
  PerlRegex received{"^Received:", PCRE2_CASELESS};
  PerlRegex ignored{
      R"(^(?: (?:X-)?Sender |Delivered-To |Delivery-Date |(?:X-)?Envelope-To)"
      R"( |X-MIME-Auto[Cc]onverted |X-Converted-To-Plain-Text |Subject |Date)"
      R"( |X-List|(?:X-)?Mailing-List)"
      R"( |(?:X-)?List-(?:Archive|Help|Id|Owner|Post|Subscribe |Unsubscribe|Host|Id|Manager|Admin)"
      R"(|Comment |Name|Url))"
      R"( |X-Unsub(?:scribe)? |X-Mailman-Version |X-Been[Tt]here |X-Loop |Mail-Followup-To)"
      R"( |X-eGroups-(?:Return|From) |X-MDMailing-List |X-XEmacs-List |X-Sympa-To)"
      R"( |(?:X-)?Resent-(?:From|To|Date) |(?:X-)?Original-(?:From|To|Date))"
      R"( |X-MailScanner(?:-SpamCheck)?)"
      R"( |X-Spam(?:-(?:Status|Level|Flag|Report|Hits|Score|Checker-Version))?)"
      R"( |X-Antispam |X-RBL-Warning |X-Mailscanner |X-MDaemon-Deliver-To |X-Virus-Scanned)"
      R"( |X-Mass-Check-Id |X-Pyzor |X-DCC-\S{2,25}-Metrics |X-Filtered-B[Yy] |X-Scanned-By)"
      R"( |X-Scanner |X-AP-Spam-(?:Score|Status) |X-RIPE-Spam-Status |X-SpamCop-[^:]+)"
      R"( |X-SMTPD |(?:X-)?Spam-Apparently-To |SPAM |X-Perlmx-Spam |X-Bogosity)"
      R"( |Content-Class |Thread-(?:Index|Topic) |X-Original[Aa]rrival[Tt]ime)"
      R"( |(?:X-)?Status |X-Flags |X-Keywords |Replied |Forwarded |Lines |Content-Length)"
      R"( |X-UIDL? |X-IMAPbase |X-Bugzilla-[^:]+)"
      R"( |X-VM-(?:Bookmark|(?:POP|IMAP)-Retrieved|Labels|Last-Modified |Summary-Format)"
      R"(|VHeader|v\d-Data|Message-Order) | X-Gnus-Mail-Source | Xref ):)",
      PCRE2_CASELESS | PCRE2_EXTENDED};
  PerlRegex presence_only{
      R"(^(?: X-Face |X-(?:Gnu-?PG|PGP|GPG)(?:-Key)?-Fingerprint |D(?:KIM|omainKey)-Signature)"
      R"( |X-Google-DKIM-Signature |ARC-(?:Message-Signature|Seal) |Autocrypt )$)",
      PCRE2_CASELESS | PCRE2_EXTENDED};
  PerlRegex message_id_name{"^(?:|X-|Resent-)Message-Id$", PCRE2_CASELESS};
  PerlRegex address_name{
      R"(^(?:|X-|Resent-) (?:Return-Path|From|To|Cc|Reply-To|Errors-To|Mail-Followup-To)"
      R"(|Sender)$)",
      PCRE2_CASELESS | PCRE2_EXTENDED};
  PerlRegex relays_name{"^x-spam-relays-(?:external|internal|trusted|untrusted)$", 0};
  PerlRegex mid_name{"^(?:In-Reply-To|References|Message-ID)$", PCRE2_CASELESS};
  PerlRegex addr_aggregate_name{"^(?:From|To|Cc)$", PCRE2_CASELESS};
  PerlRegex ua_name{"^(?:X-Mailer|User-Agent)$", PCRE2_CASELESS};
  // _pre_chew_message_id
  PerlRegex mid_outlook{R"(<([0-9a-f]{4})[0-9a-f]{4}[0-9a-f]{4}\$ ([0-9a-f]{4})[0-9a-f]{4}\$)"
                        R"( ([0-9a-f]{8})\@(\S+)>)",
                        PCRE2_EXTENDED};
  PerlRegex mid_exim{R"(<[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]\@)", 0};
  PerlRegex mid_sendmail{R"(<20\d\d[01]\d[0123]\d[012]\d[012345]\d[012345]\d\. [A-F0-9]{10,12}\@)",
                         PCRE2_EXTENDED};
  PerlRegex mid_non_word{"[^_A-Za-z0-9]", 0};
  // _pre_chew_received
  PerlRegex rcvd_sendmail_smtp{R"(\swith\sSMTP\sid\sg[\dA-Z]{10,12}\s)", PCRE2_DOTALL};
  PerlRegex rcvd_sendmail_esmtp{R"(\swith\sESMTP\sid\s[\dA-F]{10,12}\s)", PCRE2_DOTALL};
  PerlRegex rcvd_id{R"(\bid\s[a-zA-Z0-9]{7,20}\b)", PCRE2_DOTALL};
  PerlRegex rcvd_exim_id{R"(\bid\s[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9])", PCRE2_DOTALL};
  PerlRegex rcvd_date{R"((?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s)? [0-3\s]?[0-9]\s)"
                      R"( (?:Jan|Feb|Ma[ry]|Apr|Ju[nl]|Aug|Sep|Oct|Nov|Dec)\s (?:19|20)?[0-9]{2}\s)"
                      R"( [0-2][0-9](?:\:[0-5][0-9]){1,2}\s)"
                      R"( (?:\s*\(|\)|\s*(?:[+-][0-9]{4})|\s*(?:UT|[A-Z]{2,3}T))*)",
                      PCRE2_EXTENDED};
  PerlRegex rcvd_ip{R"(\b(\d{1,3}\.)(\d{1,3}\.)(\d{1,3})(\.\d{1,3})\b)", 0};
  PerlRegex rcvd_noise{R"(\b(?:with|from|for|SMTP|ESMTP)\b)", 0};
  // _pre_chew_content_type
  PerlRegex ct_boundary{R"(boundary=[\"\'](.*?)[\"\'])", PCRE2_CASELESS};
  PerlRegex ct_hex{"[a-fA-F0-9]", PCRE2_DOTALL};
  PerlRegex ct_separators{R"(([-_\.=]+))", PCRE2_DOTALL};
  PerlRegex ct_noise{R"(\b(?:text|charset)\b)", 0};
  PerlRegex relays_keys{" [a-z]+=", 0};
};

const HeaderPatterns& Patterns() {
  static const HeaderPatterns kPatterns;
  return kPatterns;
}

std::string PreChewMessageId(std::string val) {
  const HeaderPatterns& p = Patterns();
  Substitute(p.mid_outlook, &val, true, [](std::string_view s, const auto& g, std::string* out) {
    *out += " OEA";
    *out += Group(s, g, 1);
    *out += " OEB";
    *out += Group(s, g, 2);
    *out += " OEC";
    *out += Group(s, g, 3);
    *out += ' ';
    *out += Group(s, g, 4);
    *out += ' ';
  });
  auto drop = [](std::string_view, const auto&, std::string*) {};
  Substitute(p.mid_exim, &val, false, drop);
  Substitute(p.mid_sendmail, &val, true, drop);
  for (char& c : val) {
    if (!IsWord(static_cast<unsigned char>(c))) c = ' ';
  }
  return val;
}

std::string PreChewReceived(std::string val) {
  const HeaderPatterns& p = Patterns();
  auto blank = [](std::string_view, const auto&, std::string* out) { out->push_back(' '); };
  auto drop = [](std::string_view, const auto&, std::string*) {};
  Substitute(p.rcvd_sendmail_smtp, &val, true, blank);
  Substitute(p.rcvd_sendmail_esmtp, &val, true, blank);
  Substitute(p.rcvd_id, &val, true, blank);
  Substitute(p.rcvd_exim_id, &val, true, blank);
  Substitute(p.rcvd_date, &val, true, drop);
  // Bayes.pm compares $2 (which holds the dot: "10.") with '10' and '192': never equal, so
  // every address is cut to its /24, private ones too.
  Substitute(p.rcvd_ip, &val, true, [](std::string_view s, const auto& g, std::string* out) {
    std::string net =
        std::string(Group(s, g, 1)) + std::string(Group(s, g, 2)) + std::string(Group(s, g, 3));
    *out += net;
    *out += " ip*";
    *out += net;
    *out += Group(s, g, 4);
    *out += ' ';
  });
  Substitute(p.rcvd_noise, &val, true, blank);
  return val;
}

std::string PreChewContentType(std::string val) {
  const HeaderPatterns& p = Patterns();
  std::string boundary;
  bool had = Substitute(p.ct_boundary, &val, true,
                        [&](std::string_view s, const auto& g, std::string* out) {
                          boundary = std::string(Group(s, g, 1));  // $1 of the last match
                          out->push_back(' ');
                        });
  if (had) {
    for (char& c : boundary) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'f') || (u >= 'A' && u <= 'F')) c = 'H';
    }
    Substitute(p.ct_separators, &boundary, true,
               [](std::string_view s, const auto& g, std::string* out) {
                 *out += ' ';
                 *out += Group(s, g, 1);
                 *out += ' ';
               });
    val += boundary;
  }
  Substitute(p.ct_noise, &val, true,
             [](std::string_view, const auto&, std::string* out) { out->push_back(' '); });
  return val;
}

// %HEADER_NAME_COMPRESSION (case-sensitive keys).
std::string_view CompressedName(std::string_view name) {
  static const std::unordered_map<std::string_view, std::string_view> kNames = {
      {"Message-Id", "*m"},
      {"Message-ID", "*M"},
      {"Received", "*r"},
      {"User-Agent", "*u"},
      {"References", "*f"},
      {"In-Reply-To", "*i"},
      {"From", "*F"},
      {"Reply-To", "*R"},
      {"Return-Path", "*p"},
      {"Return-path", "*rp"},
      {"X-Mailer", "*x"},
      {"X-Authentication-Warning", "*a"},
      {"Organization", "*o"},
      {"Organisation", "*o"},
      {"Content-Type", "*ct"},
      {"Content-Disposition", "*cd"},
      {"Content-Transfer-Encoding", "*ce"},
      {"x-spam-relays-trusted", "*RT"},
      {"x-spam-relays-untrusted", "*RU"},
  };
  auto it = kNames.find(name);
  return it == kNames.end() ? name : it->second;
}

}  // namespace

// $self->{stopword_cache}: per tokenize() call, token → is a stopword.
class Tokenizer::StopwordCache {
 public:
  std::unordered_map<std::string, bool> known;
};

struct Tokenizer::Impl {
  std::vector<std::unique_ptr<PerlRegex>> stopwords;
};

Tokenizer::Tokenizer(TokenizerOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  for (const std::string& re : options_.stopwords) {
    // compile_regexp('^(?i)'.$re.'$'): Perl's (?i) on bytes folds ASCII only, as PCRE2's
    // default tables do.
    impl_->stopwords.push_back(std::make_unique<PerlRegex>("^(?i)" + re + "$", 0));
  }
  Patterns();  // compile the header patterns now, not in the first scan
}

Tokenizer::~Tokenizer() = default;

void Tokenizer::TokenizeLine(std::string_view line, std::string_view prefix, int region,
                             std::vector<std::string>* out) const {
  StopwordCache cache;
  TokenizeLineCached(line, prefix, region, &cache, out);
}

void Tokenizer::TokenizeLineCached(std::string_view line, std::string_view prefix, int region,
                                   StopwordCache* cache, std::vector<std::string>* out) const {
  std::string text = FilterCharacters(line);
  // (Most lines have no "..." or "--": no copy for them.)
  if (text.find("...") != std::string::npos) text = SplitSeparators(text, '.', 3);
  if (text.find("--") != std::string::npos) text = SplitSeparators(text, '-', 2);
  const bool body = region == 1 || region == 2;
  if (body) text = LowerTitleCase(text);

  std::string_view rest(text);
  auto add = [&](std::string_view token) {
    std::string t;
    t.reserve(prefix.size() + token.size());
    t.append(prefix);
    t.append(token);
    out->push_back(std::move(t));
  };
  while (true) {
    // split: runs of non-blanks (the filter left no other whitespace than ' ').
    size_t b = 0;
    while (b < rest.size() && IsPerlSpace(rest[b])) ++b;
    if (b == rest.size()) break;
    size_t e = b;
    while (e < rest.size() && !IsPerlSpace(rest[e])) ++e;
    std::string_view raw = rest.substr(b, e - b);
    rest.remove_prefix(e);

    // s/^[-'"\.,]+//; s/[-'"\.,]+$//
    while (!raw.empty() && IsTrimmed(raw.front())) raw.remove_prefix(1);
    while (!raw.empty() && IsTrimmed(raw.back())) raw.remove_suffix(1);
    // (The DBM store's magic-token prefix "\015\001\007\011\003" cannot survive the filter.)
    const size_t len = raw.size();
    if (len < 3) continue;

    if (!impl_->stopwords.empty()) {
      std::string key(raw);
      auto it = cache->known.find(key);
      bool stop;
      if (it != cache->known.end()) {
        stop = it->second;
      } else {
        stop = std::any_of(impl_->stopwords.begin(), impl_->stopwords.end(),
                           [&](const auto& re) { return re->Matches(raw); });
        cache->known.emplace(std::move(key), stop);
      }
      if (stop) continue;
    }

    if (body) {
      // /\S\@\S/ and /\S\.[a-z]/i on a token without blanks.
      bool mail = false;
      for (size_t i = 1; i + 1 < len; ++i) {
        if (raw[i] == '@') {
          mail = true;
          break;
        }
      }
      if (mail) {
        PushMailAddressTokens(raw, out);
      } else {
        bool dotted = false;
        for (size_t i = 1; i + 1 < len; ++i) {
          unsigned char next = At(raw, i + 1);
          if (raw[i] == '.' && ((next >= 'a' && next <= 'z') || IsUpper(next))) {
            dotted = true;
            break;
          }
        }
        if (dotted) {
          out->push_back("UD:" + std::string(raw));
          PushParentSuffixes(raw, "UD:", out);
        }
      }
    }

    std::string token(raw);
    if (len > options_.max_token_length && token.find('*') == std::string::npos) {
      if (HasTwoContinuationBytes(token)) {
        std::vector<std::string_view> chars = LongUtf8Characters(token);
        if (!chars.empty()) {
          for (std::string_view c : chars) {
            std::string t(prefix);
            t += "u8:";
            t += c;
            out->push_back(std::move(t));
          }
          continue;
        }
      }
      if (region == 0 || region == 1) {
        size_t kept = SkipPrefixLength(token, 0, 7);
        if (kept != std::string::npos && token.size() - kept >= 2) {
          token = "sk:" + token.substr(0, kept);
        }
      }
    }

    if (body) {
      bool non_word = HasNonWord(token);
      if (non_word) add(RemoveNonWord(token));
      if (std::any_of(token.begin(), token.end(),
                      [](char c) { return IsUpper(static_cast<unsigned char>(c)); })) {
        std::string lower = LowerAll(token);
        add(lower);
        if (non_word) add(RemoveNonWord(lower));
      }
    }
    add(token);
  }
}

std::string Tokenizer::PreChewAddresses(std::string_view value) const {
  // _pre_chew_addr_header: N* for each word of a display name, U*/D* for the address.
  std::vector<std::string> toks;
  if (options_.parse_addresses) {
    for (const HeaderAddress& a : options_.parse_addresses(value)) {
      if (a.phrase) {
        // split(/\s+/, $phrase): a leading blank gives an empty first word ("N*").
        std::string_view p(*a.phrase);
        size_t i = 0;
        while (true) {
          size_t e = i;
          while (e < p.size() && !IsPerlSpace(p[e])) ++e;
          std::string_view word = p.substr(i, e - i);
          if (e == p.size()) {
            if (!word.empty()) toks.push_back("N*" + std::string(word));
            break;
          }
          toks.push_back("N*" + std::string(word));
          while (e < p.size() && IsPerlSpace(p[e])) ++e;
          if (e == p.size()) break;  // trailing empty fields are dropped
          i = e;
        }
      }
      if (a.address) PushMailAddressTokens(*a.address, &toks);
    }
  }
  std::string joined;
  for (size_t i = 0; i < toks.size(); ++i) {
    if (i > 0) joined += ' ';
    joined += toks[i];
  }
  return joined;
}

std::vector<std::pair<std::string, std::string>> Tokenizer::HeaderTexts(
    const BayesInput& input) const {
  const HeaderPatterns& p = Patterns();
  // "Name: value" as get_all_headers() and get_all_metadata() give them (without the "\n").
  std::vector<std::string> lines;
  std::vector<std::string> received;
  for (const HeaderLine& h : input.headers) {
    std::string line = h.name + ": " + h.value;
    if (p.received.Matches(line)) {
      received.push_back(std::move(line));
      continue;
    }
    if (p.ignored.Matches(line)) continue;
    lines.push_back(std::move(line));
  }
  std::vector<const HeaderLine*> metadata;
  for (const HeaderLine& m : input.metadata) metadata.push_back(&m);
  std::stable_sort(metadata.begin(), metadata.end(),
                   [](const HeaderLine* a, const HeaderLine* b) { return a->name < b->name; });
  for (const HeaderLine* m : metadata) lines.push_back(m->name + ": " + m->value);
  if (!received.empty()) lines.push_back(received.back());
  if (received.size() >= 2) lines.push_back(received[received.size() - 2]);

  std::vector<std::pair<std::string, std::string>> parsed;
  std::unordered_map<std::string, size_t> index;
  auto append = [&](const std::string& key, const std::string& val) {
    auto [it, fresh] = index.emplace(key, parsed.size());
    if (fresh) {
      parsed.emplace_back(key, val);
    } else {
      parsed[it->second].second += ' ';
      parsed[it->second].second += val;
    }
  };
  for (const std::string& line : lines) {
    // my ($hdr, $val) = split(/:/, $_, 2); chomp($val)
    size_t colon = line.find(':');
    std::string hdr = line.substr(0, colon);
    std::string val = colon == std::string::npos ? std::string() : line.substr(colon + 1);
    if (options_.ignore_headers.count(LowerAll(hdr)) > 0) continue;

    if (p.message_id_name.Matches(hdr)) {
      val = PreChewMessageId(std::move(val));
    } else if (p.address_name.Matches(hdr)) {
      val = PreChewAddresses(val);
    } else if (hdr == "Received") {
      val = PreChewReceived(std::move(val));
    } else if (hdr == "Content-Type") {
      val = PreChewContentType(std::move(val));
    } else if (hdr == "MIME-Version") {
      size_t at = val.find("1.0");  // s/1\.0//
      if (at != std::string::npos) val.erase(at, 3);
    } else if (p.presence_only.Matches(hdr)) {
      val = "1";
    } else if (p.relays_name.Matches(hdr)) {
      Substitute(p.relays_keys, &val, true,
                 [](std::string_view, const auto&, std::string* out) { out->push_back(' '); });
    }

    if (p.mid_name.Matches(hdr)) append("*MI", val);
    if (p.addr_aggregate_name.Matches(hdr)) append("*Ad", val);
    if (p.ua_name.Matches(hdr)) append("*UA", val);
    append(std::string(CompressedName(hdr)), val);
  }
  return parsed;
}

std::vector<Token> Tokenizer::Tokenize(const BayesInput& input) const {
  StopwordCache cache;
  std::vector<std::string> all;
  auto source = [&](const std::vector<std::string>& lines, std::string_view prefix, int region,
                    size_t cap) {
    size_t start = all.size();
    for (const std::string& line : lines) {
      TokenizeLineCached(line, prefix, region, &cache, &all);
      if (all.size() - start >= cap) break;
    }
  };
  if (options_.use_visible) source(input.visible, "", 1, kBodyTokenCap);
  if (options_.use_uri) source(input.uris, "", 2, kUriTokenCap);
  if (options_.use_invisible) source(input.invisible, "I*:", 1, kBodyTokenCap);
  if (options_.use_header) {
    size_t start = all.size();
    for (const auto& [name, value] : HeaderTexts(input)) {
      TokenizeLineCached(value, "H" + name + ":", 0, &cache, &all);
      if (all.size() - start >= kHeaderTokenCap) break;
    }
  }

  // $tokens{substr(sha1($token), -5)} = $token if $token ne '': the last text of an id wins.
  std::vector<Token> tokens;
  tokens.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].empty()) continue;
    tokens.push_back(Token{TokenIdOf(all[i]), std::move(all[i])});
  }
  std::stable_sort(tokens.begin(), tokens.end(),
                   [](const Token& a, const Token& b) { return a.id < b.id; });
  std::vector<Token> unique;
  unique.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i + 1 < tokens.size() && tokens[i + 1].id == tokens[i].id) continue;
    unique.push_back(std::move(tokens[i]));
  }
  return unique;
}

namespace {

// SHA-1 with a digest fetched once and a context per thread: OpenSSL 3's one-shot SHA1() goes
// through EVP_Q_digest, which fetches the algorithm (taking the provider store's locks) and
// allocates a context on every call.
void Sha1(std::string_view data, unsigned char digest[SHA_DIGEST_LENGTH]) {
  static EVP_MD* const kSha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  struct Context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Context() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Context context;
  unsigned int len = 0;
  if (kSha1 == nullptr || context.ctx == nullptr ||
      EVP_DigestInit_ex(context.ctx, kSha1, nullptr) != 1 ||
      EVP_DigestUpdate(context.ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.ctx, digest, &len) != 1) {
    // Not expected (SHA-1 is in OpenSSL's default provider); the one-shot call then.
    SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  }
}

}  // namespace

TokenId TokenIdOf(std::string_view token) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  Sha1(token, digest);
  TokenId id = 0;
  for (size_t i = SHA_DIGEST_LENGTH - 5; i < SHA_DIGEST_LENGTH; ++i) id = (id << 8) | digest[i];
  return id;
}

std::string TokenIdHex(TokenId id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(10, '0');
  for (int i = 9; i >= 0; --i) {
    out[i] = kHex[id & 0xF];
    id >>= 4;
  }
  return out;
}

std::string TokenIdBytes(TokenId id) {
  std::string out(5, '\0');
  for (int i = 4; i >= 0; --i) {
    out[i] = static_cast<char>(id & 0xFF);
    id >>= 8;
  }
  return out;
}

namespace {
std::string Sha1Hex(std::string_view data) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  Sha1(data, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}
}  // namespace

std::string GenerateMsgid(std::string_view to, std::string_view date, std::string_view body) {
  std::string input(to);
  input.push_back('\0');
  input.append(date);
  input.push_back('\0');
  input.append(Sha1Hex(body));
  return Sha1Hex(input) + "@sa_generated";
}

std::optional<std::string> MsgidFromHeader(std::string_view message_id) {
  // /^\s*<(.+)>\s*$/s: the first '<' after leading blanks, the last '>' before trailing ones
  // (`$` may also stand before a final "\n", which \s* covers).
  size_t b = 0;
  while (b < message_id.size() && IsPerlSpace(message_id[b])) ++b;
  size_t e = message_id.size();
  while (e > b && IsPerlSpace(message_id[e - 1])) --e;
  if (e - b < 3 || message_id[b] != '<' || message_id[e - 1] != '>') return std::nullopt;
  return std::string(message_id.substr(b + 1, e - b - 2));
}

}  // namespace mailsift::bayes
