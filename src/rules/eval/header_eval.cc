// rules/eval/header_eval.cc — SpamAssassin 4.0.1's HeaderEval plugin (Plugin/HeaderEval.pm),
// natively.
//
// The `eval:` functions of HeaderEval that the Debian rule set calls from `header` rules, with
// SpamAssassin's semantics (results, not code, are what must agree; table HeaderEvals):
// check_for_shifted_date, check_outlook_message_id, check_equal_from_domains,
// similar_recipients, sorted_recipients, subject_is_all_caps, check_for_missing_to_header,
// check_illegal_chars, check_for_to_in_subject, check_for_matching_env_and_hdr_from,
// check_header_count_range, check_ratware_name_id, check_ratware_envelope_from,
// check_unresolved_template and check_for_faraway_charset_in_headers. (HeaderEval's
// Received-header checks are in relay_eval.cc.)
//
// Thread-safety: pure functions of the EvalInput (which belongs to one scan) and the immutable
// EvalConfig; patterns are compiled once into immutable function-local statics.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/strings.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_util.h"
#include "rules/eval/header_access.h"
#include "rules/eval/uri_eval.h"
#include "rules/regex/perl_regex.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// Perl's quotemeta for byte strings: every byte but [A-Za-z0-9_] is backslashed.
std::string QuoteMeta(std::string_view text) {
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) && u < 0x80) && c != '_') out += '\\';
    out += c;
  }
  return out;
}

bool HasSpace(std::string_view s) { return std::any_of(s.begin(), s.end(), IsPerlSpace); }

// ---- HeaderEval: dates

// _get_date_header_time
std::optional<int64_t> DateHeaderTime(const mime::Headers& h) {
  for (std::string_view name : {"Resent-Date", "Date"}) {
    for (const std::string& date : HeaderValues(h, name)) {
      if (date.empty()) continue;
      if (std::optional<int64_t> t = ParseRfc822Date(date)) return t;
    }
  }
  return std::nullopt;
}

// _get_received_header_times (the fetchmail time is not needed by date_diff).
std::vector<int64_t> ReceivedHeaderTimes(const mime::Headers& h) {
  std::vector<std::string> received;
  for (const std::string& v : HeaderValues(h, "Received")) {
    if (HasNonSpace(v)) received.push_back(v);
  }
  if (received.empty()) return {};
  static const PerlRegex kLocal(R"(\bfrom (?:localhost\s|(?:\S+ ){1,2}\S*\b127\.0\.0\.1\b))", 0);
  static const PerlRegex kQmail(R"(qmail \d+ invoked by uid \d+)", 0);
  static const PerlRegex kFetchmail(R"(\bby localhost with \w+ \(fetchmail-[\d.]+)", 0);
  size_t start = 0;
  bool first_local = kLocal.Matches(received[0]) || kQmail.Matches(received[0]);
  if (first_local) {
    if (received.size() > 1 && kFetchmail.Matches(received[1])) start = 2;
  } else if (kFetchmail.Matches(received[0])) {
    start = 1;
  }
  static const PerlRegex kDate(R"((\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+))", 0);
  std::vector<int64_t> times;
  for (size_t i = start; i < received.size(); ++i) {
    std::vector<Span> g;
    if (kDate.Search(received[i], 0, &g)) {
      if (std::optional<int64_t> t = ParseRfc822Date(GroupText(received[i], g, 1))) {
        times.push_back(*t);
      }
    }
  }
  return times;
}

// _check_date_diff
int64_t DateDiff(const mime::Headers& h) {
  std::optional<int64_t> date = DateHeaderTime(h);
  if (!date) return 0;
  std::vector<int64_t> times = ReceivedHeaderTimes(h);
  if (times.empty()) return 0;
  std::vector<int64_t> diffs;
  for (int64_t t : times) diffs.push_back(*date - t);
  if (diffs.size() > 1 && diffs.back() == 0) diffs.pop_back();
  std::stable_sort(diffs.begin(), diffs.end(),
                   [](int64_t a, int64_t b) { return std::llabs(a) < std::llabs(b); });
  return diffs.front();
}

bool CheckForShiftedDate(EvalInput& in, const std::vector<std::string>& args) {
  if (!in.memo().date_diff) in.memo().date_diff = DateDiff(in.headers());
  double diff = static_cast<double>(*in.memo().date_diff);
  std::string_view min = ArgView(args, 0), max = ArgView(args, 1);
  return (min == "undef" || diff >= 3600 * LeadingNumber(min)) &&
         (max == "undef" || diff < 3600 * LeadingNumber(max));
}

bool CheckOutlookMessageId(EvalInput& in, const std::vector<std::string>&) {
  std::string id = GetHeader(in.headers(), "MESSAGEID");
  static const PerlRegex kId(R"(^<[0-9a-f]{4}([0-9a-f]{8})\$[0-9a-f]{8}\$[0-9a-f]{8}\@)", 0);
  std::vector<Span> g;
  if (!kId.Search(id, 0, &g)) return false;
  double timetoken =
      static_cast<double>(std::strtoull(std::string(GroupText(id, g, 1)).c_str(), nullptr, 16));
  constexpr double kExtended = 0.0023283064365387;
  constexpr double kY = 27111902.8329849;
  constexpr double kFudge = 250;
  auto expected_for = [&](std::string_view text) {
    double t = static_cast<double>(ParseRfc822Date(text).value_or(0));
    return std::trunc(t * kExtended + kY);
  };
  if (std::fabs(timetoken - expected_for(GetHeader(in.headers(), "Date"))) < kFudge) {
    return false;
  }
  // SA matches a date in the last Received line but then parses all Received text.
  return std::fabs(timetoken - expected_for(GetHeader(in.headers(), "Received"))) >= kFudge;
}

// ---- HeaderEval: addresses and recipients

bool CheckEqualFromDomains(EvalInput& in, const std::vector<std::string>&) {
  auto second_level = [](const std::string& addr) {
    static const PerlRegex kAt(R"(\@([^@]*)\z)", 0);
    static const PerlRegex kTrim(R"(^.+\.([^\.]+\.[^\.]+)$)", 0);
    std::vector<Span> g;
    std::string dom;
    if (kAt.Search(addr, 0, &g)) dom = std::string(GroupText(addr, g, 1));
    if (kTrim.Search(dom, 0, &g)) {
      dom = std::string(GroupText(dom, g, 1)) + dom.substr(g[0].end);
    }
    return dom;
  };
  std::string from = second_level(FirstOrEmpty(HeaderAddresses(in.headers(), "From")));
  if (from.empty()) return false;
  std::string env = second_level(FirstOrEmpty(EnvelopeFromAddresses(in)));
  if (env.empty()) return false;
  return ToLowerAscii(from) != ToLowerAscii(env);
}

bool CheckForMatchingEnvAndHdrFrom(EvalInput& in, const std::vector<std::string>&) {
  return ToLowerAscii(FirstOrEmpty(EnvelopeFromAddresses(in))) ==
         ToLowerAscii(FirstOrEmpty(HeaderAddresses(in.headers(), "From")));
}

struct RecipientStats {
  bool sorted = false;
  double similar = 0;
};

// _check_recipients
RecipientStats CheckRecipients(const mime::Headers& h) {
  constexpr size_t kSortedCount = 7;
  constexpr size_t kSimilarCount = 5;
  constexpr size_t kSimilarLength = 2;
  std::vector<std::string> inputs = HeaderAddresses(h, "ToCc");
  if (inputs.size() < kSimilarCount) {
    for (std::string& a : HeaderAddresses(h, "Bcc")) inputs.push_back(std::move(a));
  }
  std::vector<std::string> address;
  std::string previous;
  for (const std::string& current : inputs) {
    if (current.empty() || current == "0") break;  // `while (my $current = shift @inputs)`
    if (ToLowerAscii(current) != ToLowerAscii(previous)) {
      address.push_back(current);
      previous = current;
    }
    if (address.size() == 256) break;
  }
  RecipientStats out;
  if (address.size() >= kSortedCount) {
    std::vector<std::string> sorted = address;
    std::sort(sorted.begin(), sorted.end());
    out.sorted = sorted == address;
  }
  if (address.size() >= kSimilarCount) {
    std::vector<std::string> user, fqhn, host;
    for (const std::string& a : address) {
      user.push_back(a.substr(0, kSimilarLength));
      size_t at = a.find('@');
      if (at != std::string::npos) {
        std::string f = a.substr(at + 1);
        size_t nl = f.find('\n');
        if (nl != std::string::npos) f.resize(nl);
        fqhn.push_back(f);
      }
    }
    for (const std::string& f : fqhn) host.push_back(f.substr(0, kSimilarLength));
    double hits = 0, combinations = 0;
    for (size_t i = 0; i < address.size(); ++i) {
      for (size_t j = i + 1; j < address.size(); ++j) {
        if (user[i] == user[j]) ++hits;
        // Perl indexes past the end of @fqhn/@host as undef ('' when compared).
        std::string hi = i < host.size() ? host[i] : "", hj = j < host.size() ? host[j] : "";
        std::string fi = i < fqhn.size() ? fqhn[i] : "", fj = j < fqhn.size() ? fqhn[j] : "";
        if (hi == hj && fi != fj) ++hits;
        ++combinations;
      }
    }
    out.similar = combinations > 0 ? hits / combinations : 0;
  }
  return out;
}

bool SortedRecipients(EvalInput& in, const std::vector<std::string>&) {
  return CheckRecipients(in.headers()).sorted;
}

bool SimilarRecipients(EvalInput& in, const std::vector<std::string>& args) {
  double similar = CheckRecipients(in.headers()).similar;
  std::string_view min = ArgView(args, 0), max = ArgView(args, 1);
  return (min == "undef" || similar >= LeadingNumber(min)) &&
         (max == "undef" || similar < LeadingNumber(max));
}

bool CheckForMissingToHeader(EvalInput& in, const std::vector<std::string>&) {
  if (!GetHeader(in.headers(), "To").empty()) return false;
  return GetHeader(in.headers(), "Apparently-To").empty();
}

bool CheckForToInSubject(EvalInput& in, const std::vector<std::string>& args) {
  std::string full_to = FirstOrEmpty(HeaderAddresses(in.headers(), "To"));
  if (full_to.empty()) return false;
  std::string subject = GetHeader(in.headers(), "Subject");
  std::string_view test = ArgView(args, 0);
  // The patterns below are built per message and used once (the interpreter: JIT compiling
  // would cost more); each of their branches holds the address (or user) literally, so a
  // Subject without it is answered before building them.
  if (test == "address") {
    if (!ContainsIgnoreCase(subject, full_to)) return false;
    PerlRegex re("\\b" + QuoteMeta(full_to) + "\\b", kCaseless, kOnceMatchLimit, /*jit=*/false);
    return re.Matches(subject);
  }
  if (test == "user") {
    std::string to = full_to;
    // s/\@.*// (`.` stops at a newline)
    size_t at = to.find('@');
    if (at != std::string::npos) {
      size_t nl = to.find('\n', at);
      to = to.substr(0, at) + (nl == std::string::npos ? "" : to.substr(nl));
    }
    if (!to.empty() && !ContainsIgnoreCase(subject, to)) return false;
    std::string q = QuoteMeta(to);
    PerlRegex re(
        "^(?:"
        "(?:re|fw):\\s*(?:\\w+\\s+)?" +
            q +
            "$"
            "|(?-i:" +
            q +
            ")\\s*[,:;!?-](?:$|\\s)"
            "|" +
            q +
            "$"
            "|,\\s*" +
            q +
            "[,:;!?-]$"
            ")",
        kCaseless, kOnceMatchLimit, /*jit=*/false);
    return re.Matches(subject);
  }
  return false;
}

bool SubjectIsAllCaps(EvalInput& in, const std::vector<std::string>&) {
  std::string subject(TrimPerlSpace(GetHeader(in.headers(), "Subject")));
  static const PerlRegex kPrefix(R"(^(?:(?:Re|Fwd|Fw|Aw|Antwort|WG|SV|VB|VS|VL):\s*)+)", kCaseless);
  std::vector<Span> g;
  if (kPrefix.Search(subject, 0, &g)) subject.erase(0, g[0].end);
  if (!HasSpace(subject)) return false;
  if (subject.size() < 10) return false;
  std::string letters;
  for (char c : subject) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) letters += c;
  }
  static const PerlRegex kCharset(
      R"(=\?[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|windows-1251|georgianps|pt154|tis)[-_a-z0-9]*\?)",
      kCaseless);
  if (kCharset.Matches(GetHeader(in.headers(), "Subject:raw"))) return false;
  return !letters.empty() && letters == ToUpperAscii(letters);
}

// ---- HeaderEval: character checks

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  auto tail = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (!tail(1)) return false;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (!tail(1) || !tail(2)) return false;
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) return false;
      if (c == 0xED && c1 > 0x9F) return false;
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (!tail(1) || !tail(2) || !tail(3)) return false;
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xF0 && c1 < 0x90) return false;
      if (c == 0xF4 && c1 > 0x8F) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

bool CheckIllegalChars(EvalInput& in, const std::vector<std::string>& args) {
  std::string header(ArgView(args, 0));
  if (header.size() < 4 || header.compare(header.size() - 4, 4, ":raw") != 0) header += ":raw";
  double ratio = LeadingNumber(ArgView(args, 1));
  double count = LeadingNumber(ArgView(args, 2));
  std::string str = GetHeader(in.headers(), header);
  if (!HasNonSpace(str)) return false;
  auto is_control = [](unsigned char c) {
    return c <= 0x08 || c == 0x0B || c == 0x0C || (c >= 0x0E && c <= 0x1F);
  };
  bool non_ascii = std::any_of(str.begin(), str.end(),
                               [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  if (non_ascii && IsValidUtf8(str)) {
    bool controls = std::any_of(str.begin(), str.end(),
                                [&](char c) { return is_control(static_cast<unsigned char>(c)); });
    if (!controls) return false;
  }
  double illegal = 0;
  int exempt = 0;
  for (char ch : str) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (is_control(c) || c >= 0x7F) ++illegal;
    if (c == 0xA2 || c == 0xA3 || c == 0xAE) ++exempt;
  }
  if (illegal > 0 && ToLowerAscii(header) == "subject:raw" && exempt == 1) --illegal;
  return illegal / static_cast<double>(str.size()) >= ratio && illegal >= count;
}

bool CheckForFarawayCharsetInHeaders(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig& cfg = in.config();
  std::vector<std::string> locales;
  for (const std::string& l : cfg.ok_locales) {
    for (std::string_view w : SplitSpaces(l)) locales.emplace_back(w);
  }
  if (std::find(locales.begin(), locales.end(), "all") != locales.end()) return false;
  static const std::unordered_map<std::string_view, std::string_view> kCharsets = {
      {"ja",
       "EUCJP JISX020119760 JISX020819830 JISX020819900 JISX020819970 JISX021219900 "
       "JISX021320001 JISX021320002 SHIFT_JIS SHIFTJIS ISO2022JP SJIS JIS7 JISX0201 JISX0208 "
       "JISX0212"},
      {"ko", "EUCKR KSC56011987"},
      {"ru", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"ka", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"tg", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"be", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"uk", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"bg", "KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS CP1251 PT154 CP866"},
      {"th", "TIS620"},
      {"zh", "GB1988 GB2312 GB231219800 GB18030 GBK BIG5HKSCS BIG5 EUCTW ISO2022CN"},
      {"zh.big5", "BIG5HKSCS BIG5 EUCTW"},
      {"zh.gb2312", "GB1988 GB2312 GB231219800 GB18030 GBK ISO2022CN"}};
  auto charset_ok = [&](std::string cs) {
    // Locales::is_charset_ok_for_locales
    std::string t;
    for (char c : ToUpperAscii(cs)) {
      if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) t += c;
    }
    while (t.rfind("3D", 0) == 0) t.erase(0, 2);
    cs = t;
    if (cs == "USASCII" || cs == "ASCII" || cs == "IBM852" || cs == "XUNKNOWN" || cs == "ISO") {
      return true;
    }
    for (std::string_view p : {"ISO8859", "ISO10646", "UTF", "UCS", "CP125", "WINDOWS",
                               "UNICODE11UTF7", "UNICODE11UTF8"}) {
      if (cs.rfind(p, 0) == 0) return true;
    }
    for (std::string locale : locales) {
      if (locale == "C") locale = "en";
      if (locale.size() >= 2 && locale[0] >= 'a' && locale[0] <= 'z' && locale[1] >= 'a' &&
          locale[1] <= 'z') {
        locale = locale.substr(0, 2);
      }
      auto it = kCharsets.find(locale);
      if (it == kCharsets.end()) continue;
      for (std::string_view w : SplitSpaces(it->second)) {
        if (w == cs) return true;
      }
    }
    return false;
  };
  static const PerlRegex kWord(R"(=\?(.+?)\?.\?.*?\?=)", 0);
  for (std::string_view h : {"From", "Subject"}) {
    for (const std::string& raw : RawHeaderValues(in.headers(), h)) {
      size_t pos = 0;
      std::vector<Span> g;
      while (pos <= raw.size() && kWord.Search(raw, pos, &g)) {
        if (!charset_ok(std::string(GroupText(raw, g, 1)))) return true;
        pos = g[0].end;
      }
    }
  }
  return false;
}

// ---- HeaderEval: counts, templates, ratware

bool CheckHeaderCountRange(EvalInput& in, const std::vector<std::string>& args) {
  std::set<std::string> uniq;
  for (std::string& v : HeaderValues(in.headers(), ArgView(args, 0))) uniq.insert(std::move(v));
  double n = static_cast<double>(uniq.size());
  return n >= LeadingNumber(ArgView(args, 1)) && n <= LeadingNumber(ArgView(args, 2));
}

bool CheckUnresolvedTemplate(EvalInput& in, const std::vector<std::string>&) {
  static const PerlRegex kTemplate(R"(%[A-Z][A-Z_-])", 0);
  static const PerlRegex kExempt(
      R"(^(?:X-VMS-To|X-UIDL|X-Face|To|Cc|From|Subject|References|In-Reply-To|(?:X-|Resent-|X-Original-)?Message-Id):)",
      kCaseless);
  std::string all = GetHeader(in.headers(), "ALL");
  size_t pos = 0;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) nl = all.size();
    std::string_view line(all.data() + pos, nl - pos);
    if (!line.empty() && kTemplate.Matches(line) && !kExempt.Matches(line)) return true;
    pos = nl + 1;
  }
  return false;
}

bool CheckRatwareNameId(EvalInput& in, const std::vector<std::string>&) {
  std::string mid = GetHeader(in.headers(), "MESSAGEID");
  static const PerlRegex kMid(R"(<[A-Z]{28}\.([^>]+?)>)", 0);
  std::vector<Span> g;
  if (!kMid.Search(mid, 0, &g)) return false;
  PerlRegex from_re("\"[^\"]+\"\\s*<" + QuoteMeta(GroupText(mid, g, 1)) + ">", 0, kOnceMatchLimit,
                    /*jit=*/false);
  return from_re.Matches(GetHeader(in.headers(), "From"));
}

bool CheckRatwareEnvelopeFrom(EvalInput& in, const std::vector<std::string>&) {
  std::string to = FirstOrEmpty(HeaderAddresses(in.headers(), "To"));
  std::string from = FirstOrEmpty(EnvelopeFromAddresses(in));
  if (from.empty() || to.empty()) return false;
  static const PerlRegex kSrs(R"(^SRS\d[=+-])", kCaseless);
  if (kSrs.Matches(from)) return false;
  static const PerlRegex kTo(R"(^([^@]+)\@(.+)$)", 0);
  std::vector<Span> g;
  if (!kTo.Search(to, 0, &g)) return false;
  std::string user(GroupText(to, g, 1));
  std::string dom = in.config().boundaries.SplitDomain(GroupText(to, g, 2)).second;
  if (!IsDomainValid(in.config(), dom)) return false;
  PerlRegex re("\\b" + QuoteMeta(dom) + "." + QuoteMeta(user) + "@", kCaseless, kOnceMatchLimit,
               /*jit=*/false);
  return re.Matches(from);
}

constexpr EvalEntry kEvals[] = {
    {"check_for_shifted_date", &CheckForShiftedDate},
    {"check_outlook_message_id", &CheckOutlookMessageId},
    {"check_equal_from_domains", &CheckEqualFromDomains},
    {"similar_recipients", &SimilarRecipients},
    {"sorted_recipients", &SortedRecipients},
    {"subject_is_all_caps", &SubjectIsAllCaps},
    {"check_for_missing_to_header", &CheckForMissingToHeader},
    {"check_illegal_chars", &CheckIllegalChars},
    {"check_for_to_in_subject", &CheckForToInSubject},
    {"check_for_matching_env_and_hdr_from", &CheckForMatchingEnvAndHdrFrom},
    {"check_header_count_range", &CheckHeaderCountRange},
    {"check_ratware_name_id", &CheckRatwareNameId},
    {"check_ratware_envelope_from", &CheckRatwareEnvelopeFrom},
    {"check_unresolved_template", &CheckUnresolvedTemplate},
    {"check_for_faraway_charset_in_headers", &CheckForFarawayCharsetInHeaders},
};

}  // namespace

EvalTable HeaderEvals() { return kEvals; }

}  // namespace mailsift::rules
