// Tests of the spam verdict: levels, actions, and the X-Spam-* headers in amavisd-new 2.13's
// format (the example captured from amavisd's sink dump: ../reference notes, §6).
#include "scan/verdict.h"

#include <gtest/gtest.h>

namespace mailsift::scan {
namespace {

CheckResult Spam(double score, std::vector<rules::RuleHit> hits) {
  CheckResult r;
  r.check = "spam";
  r.kind = CheckKind::kSpam;
  r.scanned = true;
  r.score = score;
  r.required = 5;
  r.hits = std::move(hits);
  return r;
}

TEST(Verdict, ScoreFormatAsAmavisd) {
  EXPECT_EQ(FormatScore(9.222), "9.222");
  EXPECT_EQ(FormatScore(1.0), "1");
  EXPECT_EQ(FormatScore(2.9066), "2.907");
  EXPECT_EQ(FormatScore(-0.0001), "0");
  EXPECT_EQ(FormatScore(-1.5), "-1.5");
}

TEST(Verdict, HeadersInAmavisdFormatWithTestsWrappedAt78Columns) {
  config::Config config;
  config.spam.tag_level = -999;
  CheckResult r = Spam(9.222, {{"RDNS_NONE", 1, 2.399},
                               {"END_FUTURE_EMAILS", 1, 1},
                               {"EXCUSE_REMOVE", 1, 2.907},
                               {"HEADER_FROM_DIFFERENT_DOMAINS", 1, 1},
                               {"HTML_FONT_LOW_CONTRAST", 1, 0.713},
                               {"__SUB_RULE", 3, 0}});
  Verdict v = Decide({r}, config, {});
  EXPECT_EQ(v.category, Category::kSpam);
  EXPECT_EQ(v.action, Action::kPass);
  EXPECT_EQ(v.subject_tag, "***SPAM*** ");
  EXPECT_EQ(v.added_headers,
            "X-Spam-Flag: YES\r\n"
            "X-Spam-Score: 9.222\r\n"
            "X-Spam-Level: *********\r\n"
            "X-Spam-Status: Yes, score=9.222 tagged_above=-999 required=6.31\r\n"
            " tests=[END_FUTURE_EMAILS=1, EXCUSE_REMOVE=2.907,\r\n"
            " HEADER_FROM_DIFFERENT_DOMAINS=1, HTML_FONT_LOW_CONTRAST=0.713,\r\n"
            " RDNS_NONE=2.399]\r\n"
            " autolearn=disabled\r\n");
}

TEST(Verdict, LevelsDecideCategoryHeadersAndAction) {
  config::Config config;  // tag 2.0, tag2 6.31, kill 6.31
  config.spam.kill_level = 10;
  config.actions.spam = Action::kReject;
  Verdict low = Decide({Spam(1.5, {})}, config, {});
  EXPECT_EQ(low.category, Category::kClean);
  EXPECT_EQ(low.added_headers, "");  // below tag_level
  Verdict tagged = Decide({Spam(3, {})}, config, {});
  EXPECT_EQ(tagged.category, Category::kClean);
  EXPECT_NE(tagged.added_headers.find("X-Spam-Flag: NO\r\n"), std::string::npos);
  EXPECT_NE(tagged.added_headers.find("X-Spam-Status: No, score=3 tagged_above=2 required=6.31"),
            std::string::npos);
  EXPECT_EQ(tagged.subject_tag, "");
  Verdict spammy = Decide({Spam(7, {})}, config, {});
  EXPECT_EQ(spammy.category, Category::kSpammy);
  EXPECT_EQ(spammy.action, Action::kPass);
  EXPECT_EQ(spammy.subject_tag, "***SPAM*** ");
  Verdict spam = Decide({Spam(12, {})}, config, {});
  EXPECT_EQ(spam.category, Category::kSpam);
  EXPECT_EQ(spam.action, Action::kReject);
  CheckResult unscanned;
  EXPECT_EQ(Decide({unscanned}, config, {}).category, Category::kClean);
  EXPECT_EQ(Decide({unscanned}, config, {}).added_headers, "");
}

CheckResult Found(std::string check, Finding finding, std::vector<std::string> details,
                  int subcategory = 0) {
  CheckResult r;
  for (CheckKind kind :
       {CheckKind::kSpam, CheckKind::kVirus, CheckKind::kBanned, CheckKind::kBadHeader}) {
    if (check == CheckKindName(kind)) r.kind = kind;
  }
  r.check = std::move(check);
  r.scanned = true;
  r.finding = finding;
  r.details = std::move(details);
  r.subcategory = subcategory;
  return r;
}

TEST(Verdict, CategoriesFollowAmavisdPrecedence) {
  config::Config config;
  config.hostname = "mx1.example.com";
  const CheckResult virus = Found("virus", Finding::kVirus, {"Eicar-Test-Signature"});
  const CheckResult banned =
      Found("banned", Finding::kBanned,
            {"application/x-msdownload,.exe,.exe-ms,a.exe",
             "P=p002,L=1,M=application/x-msdownload,T=exe,T=exe-ms,N=a.exe"});
  const CheckResult bad_header =
      Found("bad_header", Finding::kBadHeader, {"Duplicate header field: \"Subject\""}, 8);
  const CheckResult clean_virus = Found("virus", Finding::kNothing, {});

  Verdict v = Decide({bad_header, Spam(12, {}), banned, virus}, config, {});
  EXPECT_EQ(v.category, Category::kVirus);
  EXPECT_EQ(v.log_name, "INFECTED (Eicar-Test-Signature)");
  EXPECT_EQ(v.reason, "INFECTED: Eicar-Test-Signature");
  EXPECT_EQ(v.action, Action::kDiscard);  // Debian amavisd's $final_virus_destiny
  EXPECT_EQ(v.subject_tag, "***INFECTED*** ");
  EXPECT_TRUE(v.added_headers.starts_with("X-Virus-Scanned: mailsift at example.com\r\n"));

  Verdict b = Decide({clean_virus, banned, Spam(12, {}), bad_header}, config, {});
  EXPECT_EQ(b.category, Category::kBanned);
  EXPECT_EQ(b.log_name, "BANNED (application/x-msdownload,.exe,.exe-ms,a.exe)");
  EXPECT_EQ(b.reason, "BANNED: application/x-msdownload,.exe,.exe-ms,a.exe");
  EXPECT_EQ(b.action, Action::kDiscard);

  Verdict s = Decide({clean_virus, Spam(12, {}), bad_header}, config, {});
  EXPECT_EQ(s.category, Category::kSpam);
  EXPECT_EQ(s.action, Action::kPass);  // $final_spam_destiny
  EXPECT_EQ(s.subject_tag, "***SPAM*** ");

  Verdict h = Decide({clean_virus, Spam(1, {}), bad_header}, config, {});
  EXPECT_EQ(h.category, Category::kBadHeader);
  EXPECT_EQ(h.log_name, "BAD-HEADER-8");
  EXPECT_EQ(h.reason, "BAD HEADER: duplicate header field");
  EXPECT_EQ(h.subject_tag, "");
  EXPECT_EQ(h.added_headers, "X-Virus-Scanned: mailsift at example.com\r\n");

  Verdict c = Decide({clean_virus, Spam(1, {})}, config, {});
  EXPECT_EQ(c.category, Category::kClean);
  EXPECT_EQ(c.log_name, "CLEAN");
  EXPECT_TRUE(c.virus_scanned);
}

TEST(Verdict, UncheckedTempfailsByDefaultAndNamesWhy) {
  config::Config config;
  CheckResult down = Found("virus", Finding::kUnchecked, {"clamd: connect: refused"});
  down.scanned = false;
  Verdict v = Decide({down, Spam(1, {})}, config, {});
  EXPECT_EQ(v.category, Category::kUnchecked);
  EXPECT_EQ(v.action, Action::kTempfail);
  EXPECT_EQ(v.log_name, "UNCHECKED");
  EXPECT_FALSE(v.virus_scanned);  // no X-Virus-Scanned when clamd gave no answer
  EXPECT_EQ(v.added_headers.find("X-Virus-Scanned"), std::string::npos);
  Verdict limits = Decide({Found("banned", Finding::kUnchecked, {"archive depth"}, 2)}, config, {});
  EXPECT_EQ(limits.reason, "UNCHECKED: over limits");
  Verdict encrypted = Decide({Found("banned", Finding::kUnchecked, {"encrypted"}, 1)}, config, {});
  EXPECT_EQ(encrypted.log_name, "UNCHECKED-ENCRYPTED");
  EXPECT_EQ(encrypted.action, Action::kPass);  // amavisd's $final_unchecked_destiny for it
  config.virus.header_line = "Debian amavis at example.org";
  config.actions.unchecked = Action::kPass;
  Verdict passed = Decide({Found("virus", Finding::kNothing, {})}, config, {});
  EXPECT_EQ(passed.added_headers, "X-Virus-Scanned: Debian amavis at example.org\r\n");
}

TEST(Verdict, SenderListsAndLocalDomainsAsAmavisd) {
  config::Config config;
  config.spam.allow_senders = {"@.trusted.example", "boss@"};
  config.spam.deny_senders = {"@spammer.example", "x@bad.example"};
  Envelope from_trusted{"news@mail.trusted.example", {"a@example.net"}};
  Verdict allowed = Decide({Spam(20, {})}, config, from_trusted);
  EXPECT_EQ(allowed.category, Category::kClean);  // never spam
  EXPECT_EQ(allowed.subject_tag, "");
  EXPECT_NE(allowed.added_headers.find("X-Spam-Flag: NO\r\n"), std::string::npos);
  EXPECT_NE(allowed.added_headers.find(" WHITELISTED\r\n"), std::string::npos);
  EXPECT_EQ(allowed.added_headers.find("X-Spam-Level"), std::string::npos);  // no stars
  EXPECT_EQ(Decide({Spam(20, {})}, config, {"boss@anywhere.example", {}}).category,
            Category::kClean);

  Verdict denied = Decide({Spam(0.5, {})}, config, {"Promo@SPAMMER.example", {"a@b.c"}});
  EXPECT_EQ(denied.category, Category::kSpam);  // always spam
  EXPECT_NE(denied.added_headers.find("X-Spam-Flag: YES\r\n"), std::string::npos);
  EXPECT_NE(denied.added_headers.find(" BLACKLISTED\r\n"), std::string::npos);
  EXPECT_NE(denied.added_headers.find("X-Spam-Level: " + std::string(64, '*')), std::string::npos);
  EXPECT_EQ(Decide({Spam(0.5, {})}, config, {"y@bad.example", {}}).category,
            Category::kClean);  // only x@ is listed there
  EXPECT_EQ(Decide({Spam(0.5, {})}, config, {"p@sub.spammer.example", {}}).category,
            Category::kClean);  // "@domain" is the domain itself only

  config.spam.local_domains = {".example.net"};
  Verdict outbound = Decide({Spam(9, {})}, config, {"s@example.org", {"r@elsewhere.org"}});
  EXPECT_EQ(outbound.category, Category::kSpam);  // still SPAM (actions apply) …
  EXPECT_EQ(outbound.added_headers, "");          // … but no headers for non-local mail
  EXPECT_EQ(outbound.subject_tag, "");
  Verdict inbound =
      Decide({Spam(9, {})}, config, {"s@example.org", {"r@elsewhere.org", "u@mx.example.net"}});
  EXPECT_NE(inbound.added_headers.find("X-Spam-Flag: YES"), std::string::npos);
  EXPECT_EQ(inbound.subject_tag, "***SPAM*** ");
}

TEST(Verdict, HeaderSectionLosesIncomingSpamFieldsAndGetsTheSubjectTag) {
  std::string in =
      "From: a@example.com\r\n"
      "X-Spam-Status: No, score=-100\r\n"
      " tests=[FAKE]\r\n"
      "Subject: hello\r\n"
      "\tworld\r\n"
      "x-spam-flag: NO\r\n"
      "X-Spam-Other: kept\r\n";
  EXPECT_EQ(EditHeaderSection(in, "***SPAM*** "),
            "From: a@example.com\r\n"
            "Subject: ***SPAM*** hello\r\n"
            "\tworld\r\n"
            "X-Spam-Other: kept\r\n");
  EXPECT_EQ(EditHeaderSection("From: a\r\nSubject: x\r\n", ""), "From: a\r\nSubject: x\r\n");
}

}  // namespace
}  // namespace mailsift::scan
