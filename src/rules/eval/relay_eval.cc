// rules/eval/relay_eval.cc — see relay_eval.h (table RelayEvals). Ported from SpamAssassin 4.0.1's
// Plugin/RelayEval.pm and Plugin/HeaderEval.pm; the patterns are SA's, in PCRE2 syntax.
#include "rules/eval/relay_eval.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/regex/perl_regex.h"

namespace mailsift::rules {
namespace {

// A compiled pattern; "{IP}" in the pattern stands for SA's IP_ADDRESS. A pattern that does not
// compile (only possible for patterns built from message text) never matches.
class Re {
 public:
  explicit Re(std::string_view pattern) : re_(Expand(pattern), 0, 2000000, /*jit=*/false) {}

  // Searches `text`; on a match stores capture group 1 in *group1 (when given).
  bool Find(std::string_view text, std::string* group1 = nullptr) const {
    std::vector<Span> spans;
    if (!re_.Search(text, 0, group1 != nullptr ? &spans : nullptr)) return false;
    if (group1 != nullptr) {
      if (spans.size() > 1 && spans[1].set()) {
        *group1 = std::string(text.substr(spans[1].begin, spans[1].end - spans[1].begin));
      } else {
        group1->clear();
      }
    }
    return true;
  }

 private:
  static std::string Expand(std::string_view pattern) {
    std::string expanded;
    for (size_t i = 0; i < pattern.size();) {
      if (pattern.substr(i, 4) == "{IP}") {
        expanded += IpAddressPattern();
        i += 4;
      } else {
        expanded += pattern[i++];
      }
    }
    return expanded;
  }
  PerlRegex re_;
};

#define EVAL_RE(pattern)          \
  ([]() -> const Re& {            \
    static const Re kRe(pattern); \
    return kRe;                   \
  }())

// Escapes nothing: SA interpolates message text into these patterns unquoted.
bool DynamicMatch(const std::string& pattern, std::string_view text) {
  Re re(pattern);
  return re.Find(text);
}

std::string CollapseSpaces(std::string text) {  // s/\s+/ /gs
  std::string out;
  out.reserve(text.size());
  bool in_space = false;
  for (char c : text) {
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (space) {
      if (!in_space) out += ' ';
      in_space = true;
    } else {
      out += c;
      in_space = false;
    }
  }
  return out;
}

std::string Get(EvalInput& in, std::string_view name, bool* exists = nullptr) {
  return SaGetHeader(in.headers(), name, exists);
}

bool IsPublicIpv4(std::string_view s) {
  return EVAL_RE(

             R"(^\b(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d))"
             R"(\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\b$)")
             .Find(s) &&
         !IsPrivateIp(s);
}

// SA's _check_for_forged_hotmail_received_headers: {forged hotmail Received, hotmail From
// without hotmail Received}.
struct HotmailResult {
  bool forged = false;
  bool no_hotmail_received = false;
};

// HeaderEval's gated_through_received_hdr_remover (below), which the hotmail checks consult.
bool GatedThroughReceivedHdrRemover(EvalInput& in, const std::vector<std::string>& args);

bool CheckForMsnGroupsHeaders(EvalInput& in) {
  std::string listname;
  if (!EVAL_RE(R"((?i)<(\S+)\@groups\.msn\.com>)").Find(Get(in, "To"), &listname)) return false;
  std::string server;
  if (!EVAL_RE(R"(from mail pickup service by ((?:p\d\d\.)groups\.msn\.com)\b)")
           .Find(Get(in, "Received"), &server)) {
    return false;
  }
  std::string message_id = Get(in, "Message-Id");
  if (listname == "notifications") {
    return DynamicMatch("^<\\S+\\@" + server + ">", message_id);
  }
  if (!DynamicMatch("^<" + listname + "-\\S+\\@groups\\.msn\\.com>", message_id)) return false;
  return DynamicMatch(listname + "-bounce\\@groups\\.msn\\.com", in.envelope_from_addr());
}

HotmailResult HotmailCheck(EvalInput& in) {
  HotmailResult r;
  std::string rcvd = CollapseSpaces(Get(in, "Received"));
  if (EVAL_RE(R"(from mail pickup service by hotmail\.com with Microsoft SMTPSVC;)").Find(rcvd)) {
    return r;
  }
  if (CheckForMsnGroupsHeaders(in)) return r;

  bool ip_exists = false, orig_exists = false;
  std::string ip_text = Get(in, "X-Originating-Ip", &ip_exists);
  std::string orig_text = Get(in, "X-OriginatorOrg", &orig_exists);
  bool ip = ip_exists && EVAL_RE("{IP}").Find(ip_text);
  bool orig = orig_exists && EVAL_RE(R"(hotmail\.com|msonline\-outlook)").Find(orig_text);

  if (GatedThroughReceivedHdrRemover(in, {})) return r;

  if (ip &&
      EVAL_RE(R"(from (?:\S*\.)?hotmail.com \(\S+\.hotmail(?:\.msn)?\.com[ \)])").Find(rcvd)) {
    return r;
  }
  if (orig &&
      EVAL_RE(

          R"(from \S*\.outbound\.protection\.outlook\.com \(\S+\.outbound\.protection\.outlook\.co)"
          R"(m[ \)])")
          .Find(rcvd)) {
    return r;
  }
  if (orig && EVAL_RE(R"(from \S*\.(?:eur|nam)prd\d+\.prod\.outlook\.com \({IP}\))").Find(rcvd)) {
    return r;
  }
  if (ip && EVAL_RE(R"(from \S*\.hotmail.com \(\[{IP}\][ \):])").Find(rcvd)) return r;
  if (ip && EVAL_RE(R"(from \S+ by \S+\.hotmail(?:\.msn)?\.com with HTTP\;)").Find(rcvd)) {
    return r;
  }
  if (ip && EVAL_RE(R"(from \[66\.218.\S+\] by \S+\.yahoo\.com)").Find(rcvd)) return r;

  if (EVAL_RE(R"((?:from |HELO |helo=)\S*hotmail\.com\b)").Find(rcvd)) {
    r.forged = true;
  } else if (EVAL_RE(R"((?i)\bhotmail\.com$)").Find(in.from_addr())) {
    r.no_hotmail_received = true;
  }
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RelayEval.pm

std::string HostnameToDomain(std::string_view hostname) {
  bool has_letter = false;
  for (char c : hostname) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) has_letter = true;
  }
  if (!has_letter) return std::string(hostname);
  // Perl's split(/\./): trailing empty fields are dropped.
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = hostname.find('.', start);
    parts.push_back(hostname.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  while (!parts.empty() && parts.back().empty()) parts.pop_back();
  auto join = [&](size_t n) {  // the last n parts
    std::string out(parts[parts.size() - n]);
    for (size_t i = parts.size() - n + 1; i < parts.size(); ++i) {
      out += '.';
      out += parts[i];
    }
    return out;
  };
  if (parts.size() > 1 && EVAL_RE(R"((?:\S{3,}|ie|fr|de))").Find(parts.back())) return join(2);
  if (parts.size() > 2) return join(3);
  return std::string(hostname);
}

namespace {

bool CheckAllTrusted(EvalInput& in, const std::vector<std::string>&) {
  return !in.relays().trusted.empty() && in.relays().untrusted.empty() &&
         in.relays().unparseable == 0;
}

bool CheckNoRelays(EvalInput& in, const std::vector<std::string>&) {
  return in.relays().trusted.empty() && in.relays().untrusted.empty() &&
         in.relays().unparseable == 0;
}

bool CheckRelaysUnparseable(EvalInput& in, const std::vector<std::string>&) {
  return in.relays().unparseable > 0;
}

bool HeloIpMismatch(EvalInput& in, const std::vector<std::string>&) {
  for (const Relay& relay : in.relays().untrusted) {
    if (!IsPublicIpv4(relay.helo)) continue;
    if (!IsPublicIpv4(relay.ip) || relay.helo == relay.ip) continue;
    std::string net24;
    if (EVAL_RE(R"(^(\d+\.\d+\.\d+\.))").Find(relay.helo, &net24) &&
        relay.ip.rfind(net24, 0) != 0) {
      return true;
    }
  }
  return false;
}

bool CheckForForgedReceivedTrail(EvalInput& in, const std::vector<std::string>&) {
  const std::vector<Relay>& relays = in.relays().untrusted;
  const Re& host_like = EVAL_RE(R"(^\w+(?:[\w.-]+\.)+\w+$)");
  std::vector<std::optional<std::string>> from;
  std::vector<std::string> by;
  for (const Relay& r : relays) {
    by.push_back(HostnameToDomain(r.lc_by));
    from.emplace_back(HostnameToDomain(r.lc_rdns));
  }
  int mismatch_from = 0;
  for (size_t i = 0; i < relays.size(); ++i) {
    if (!host_like.Find(by[i])) continue;
    if (from[i].has_value() && EVAL_RE(R"(^localhost(?:\.localdomain)?$)").Find(*from[i]) &&
        relays[i].ip == "127.0.0.1") {
      from[i].reset();
    }
    if (i == 0) continue;
    const std::optional<std::string>& prev = from[i - 1];
    if (prev.has_value() && host_like.Find(*prev) && by[i] != *prev &&
        !(by[i] == "msn.com" && *prev == "hotmail.com")) {
      ++mismatch_from;
    }
  }
  return mismatch_from > 1;
}

bool CheckForNoRdnsDotcomHelo(EvalInput& in, const std::vector<std::string>&) {
  bool hit = false;  // SA resets its flag for every public relay: the last one decides
  for (const Relay& r : in.relays().untrusted) {
    if (r.ip_private) continue;
    hit = false;
    if (EVAL_RE(

            R"((?i)(?:\.|^)(lycos\.com|lycos\.co\.uk|hotmail\.com|localhost\.com|excite\.com|)"
            R"(caramail\.com|cs\.com|aol\.com|msn\.com|yahoo\.com|drizzle\.com)$)")
            .Find(r.helo) &&
        r.no_reverse_dns) {
      hit = true;
    }
  }
  return hit;
}

bool CheckForNumericHelo(EvalInput& in, const std::vector<std::string>&) {
  const std::string& rcvd = in.relays().untrusted_str;
  if (rcvd.empty() || rcvd == "0") return false;
  // SA's `local $1` leaves $1 undefined after the match, so its private-address exclusion
  // never applies: any IPv4 HELO in the untrusted relays hits.
  return EVAL_RE(

             R"((?i)\bhelo=(\b(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|)"
             R"([1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|[1-9]\d|\d)\.(?:1\d\d|2[0-4]\d|25[0-5]|)"
             R"([1-9]\d|\d)\b)(?=[\x00-\x20,;\[()<>]|\z))")
      .Find(rcvd);
}

bool CheckForSenderNoReverse(EvalInput& in, const std::vector<std::string>&) {
  if (in.relays().untrusted.empty()) return false;
  const Relay& sender = in.relays().untrusted.back();
  if (sender.rdns.find('.') == std::string::npos) return false;
  return !sender.ip_private;
}

// ---------------------------------------------------------------------------------------------
// HeaderEval.pm

bool GatedThroughReceivedHdrRemover(EvalInput& in, const std::vector<std::string>&) {
  bool list_exists = false;
  std::string txt = Get(in, "Mailing-List", &list_exists);
  if (list_exists && EVAL_RE(R"((?m)^contact \S+\@\S+\; run by ezmlm$)").Find(txt)) {
    std::string dlto = Get(in, "Delivered-To");
    std::string rcvd = Get(in, "Received");
    if (EVAL_RE(R"((?m)^mailing list \S+\@\S+)").Find(dlto) &&
        EVAL_RE(R"(qmail \d+ invoked (?:from network|by .{3,20})\); \d+ ... \d+)").Find(rcvd)) {
      return true;
    }
  }
  bool rcvd_exists = false;
  std::string rcvd = Get(in, "Received", &rcvd_exists);
  if (!rcvd_exists) return true;
  return EVAL_RE(R"(from groups\.msn\.com \(\S+\.msn\.com )").Find(rcvd);
}

bool CheckForFakeAolRelayInRcvd(EvalInput& in, const std::vector<std::string>&) {
  std::string rcvd = CollapseSpaces(Get(in, "Received"));
  if (!EVAL_RE(R"((?i) rly-[a-z][a-z]\d\d\.)").Find(rcvd)) return false;
  if (EVAL_RE(R"(\/AOL-\d+\.\d+\.\d+\))").Find(rcvd)) return false;
  if (EVAL_RE(R"(ESMTP id (?:RELAY|MAILRELAY|MAILIN))").Find(rcvd)) return false;
  return true;
}

bool CheckForForgedHotmailReceivedHeaders(EvalInput& in, const std::vector<std::string>&) {
  return HotmailCheck(in).forged;
}

bool CheckForNoHotmailReceivedHeaders(EvalInput& in, const std::vector<std::string>&) {
  return HotmailCheck(in).no_hotmail_received;
}

bool CheckForForgedEudoramailReceivedHeaders(EvalInput& in, const std::vector<std::string>&) {
  if (!EVAL_RE(R"((?i)\beudoramail\.com$)").Find(in.from_addr())) return false;
  std::string rcvd = CollapseSpaces(Get(in, "Received"));
  bool ip_exists = false;
  std::string ip_text = Get(in, "X-Sender-Ip", &ip_exists);
  bool ip = ip_exists && EVAL_RE("{IP}").Find(ip_text);
  if (GatedThroughReceivedHdrRemover(in, {})) return false;
  if (ip && EVAL_RE(R"(by \S*whowhere.com\;)").Find(rcvd)) return false;
  return true;
}

bool CheckForForgedYahooReceivedHeaders(EvalInput& in, const std::vector<std::string>&) {
  if (!EVAL_RE(R"((?i)\byahoo\.com$)").Find(in.from_addr())) return false;
  std::string rcvd = Get(in, "Received");
  if (!Get(in, "Resent-From").empty() && !Get(in, "Resent-To").empty()) {
    std::string xrcvd = Get(in, "X-Received");
    if (!xrcvd.empty()) rcvd = xrcvd;
  }
  rcvd = CollapseSpaces(rcvd);
  if (GatedThroughReceivedHdrRemover(in, {})) return false;
  if (EVAL_RE(R"( rdns=\S+\.yahoo\.com )").Find(in.relays().trusted_str) ||
      EVAL_RE(R"(^[^\]]+ rdns=\S+\.yahoo\.com )").Find(in.relays().untrusted_str)) {
    return false;
  }
  if (EVAL_RE(R"(by web\S+\.mail\S*\.yahoo\.com via HTTP)").Find(rcvd)) return false;
  if (EVAL_RE(R"(by sonic\S+\.consmr\.mail\S*\.yahoo\.com with HTTP)").Find(rcvd)) return false;
  if (EVAL_RE(R"(by smtp\S+\.yahoo\.com with SMTP)").Find(rcvd)) return false;
  if (EVAL_RE(R"(from \[{IP}\] by \S+\.(?:groups|scd|dcn)\.yahoo\.com with NNFMP)").Find(rcvd)) {
    return false;
  }
  if (EVAL_RE(R"(\bmailer\d+\.bulk\.scd\.yahoo\.com\b)").Find(rcvd) &&
      EVAL_RE(R"((?i)\@reply\.yahoo\.com$)").Find(in.from_addr())) {
    return false;
  }
  if (EVAL_RE(R"(by \w+\.\w+\.yahoo\.com \(\d+\.\d+\.\d+\/\d+\.\d+\.\d+\)(?: with ESMTP)? id \w+)")
          .Find(rcvd)) {
    return false;
  }
  return true;
}

bool CheckForForgedJunoReceivedHeaders(EvalInput& in, const std::vector<std::string>&) {
  if (!EVAL_RE(R"((?i)\bjuno\.com$)").Find(in.from_addr())) return false;
  if (GatedThroughReceivedHdrRemover(in, {})) return false;
  std::string xorig = Get(in, "X-Originating-IP");
  std::string xmailer = Get(in, "X-Mailer");
  std::string rcvd = Get(in, "Received");
  if (!xorig.empty()) {
    if (!EVAL_RE(R"(from.*\b(?:juno|untd)\.com.*[\[\(]{IP}[\]\)].*by)").Find(rcvd) &&
        !EVAL_RE(R"( cookie\.(?:juno|untd)\.com )").Find(rcvd)) {
      return true;
    }
    if (xmailer.find("Juno ") == std::string::npos) return true;
  } else {
    if (EVAL_RE(R"(from.*\bmail\.com.*\[{IP}\].*by)").Find(rcvd)) {
      if (!EVAL_RE(R"(\bmail\.com)").Find(xmailer)) return true;
    } else if (EVAL_RE(R"(from (webmail\S+\.untd\.com) \(\1 \[{IP}\]\) by)").Find(rcvd)) {
      if (!EVAL_RE(R"(^Webmail Version \d)").Find(xmailer)) return true;
    } else {
      return true;
    }
    if (!EVAL_RE("{IP}").Find(xorig)) return true;  // xorig is empty here: always a hit (as SA)
  }
  return false;
}

bool CheckForForgedGmailReceivedHeaders(EvalInput& in, const std::vector<std::string>&) {
  if (!EVAL_RE(R"((?i)\bgmail\.com$)").Find(in.from_addr())) return false;
  std::string xgms = Get(in, "X-Gm-Message-State");
  std::string xss = Get(in, "X-Google-Smtp-Source");
  std::string xreceived = Get(in, "X-Received");
  std::string received = Get(in, "Received");
  if (EVAL_RE(R"(by 10\.\S+ with SMTP id \S+)").Find(xreceived)) return false;
  if (EVAL_RE(R"(by 2002\:a\d\d\:\w+\:\S+ with SMTP id \S+)").Find(xreceived)) return false;
  if (EVAL_RE(R"(by smtp\.googlemail\.com with ESMTPSA id \S+)").Find(received)) return false;
  constexpr size_t kMinLength = 60;  // GOOGLE_MESSAGE_STATE/SMTP_SOURCE_LENGTH_MIN
  if (xgms.size() >= kMinLength && xss.size() >= kMinLength) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------

constexpr EvalEntry kEvals[] = {
    {"check_all_trusted", CheckAllTrusted},
    {"check_no_relays", CheckNoRelays},
    {"check_relays_unparseable", CheckRelaysUnparseable},
    {"helo_ip_mismatch", HeloIpMismatch},
    {"check_for_forged_received_trail", CheckForForgedReceivedTrail},
    {"check_for_no_rdns_dotcom_helo", CheckForNoRdnsDotcomHelo},
    {"check_for_numeric_helo", CheckForNumericHelo},
    {"check_for_sender_no_reverse", CheckForSenderNoReverse},
    {"gated_through_received_hdr_remover", GatedThroughReceivedHdrRemover},
    {"check_for_fake_aol_relay_in_rcvd", CheckForFakeAolRelayInRcvd},
    {"check_for_forged_hotmail_received_headers", CheckForForgedHotmailReceivedHeaders},
    {"check_for_no_hotmail_received_headers", CheckForNoHotmailReceivedHeaders},
    {"check_for_forged_eudoramail_received_headers", CheckForForgedEudoramailReceivedHeaders},
    {"check_for_forged_yahoo_received_headers", CheckForForgedYahooReceivedHeaders},
    {"check_for_forged_juno_received_headers", CheckForForgedJunoReceivedHeaders},
    {"check_for_forged_gmail_received_headers", CheckForForgedGmailReceivedHeaders},
};

}  // namespace

EvalTable RelayEvals() { return kEvals; }

}  // namespace mailsift::rules
