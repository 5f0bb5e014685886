// rules/engine_test.cc — the evaluator on hand-written rules and messages: every rule type, with
// a hit and a miss each, metas, evals, scores and settings; and the proof that Debian's shipped
// ruleset loses none of its huge patterns (the eight that libpcre2-8 with link size 2 refuses).
// Every scan here runs twice, without and with the vectorscan prefilter, and must give the same
// hits; the prefilter also has tests of its own (rules it cannot compile, repeated groups, a
// ruleset used before its background build is ready).
//
// Expected results were checked with SpamAssassin 4.0.1 itself (Debian's package): the same
// rules as `--cf` lines and the same message through `spamassassin -L -t`.
#include "rules/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mime/message.h"
#include "rules/cf/cf_parser.h"
#include "rules/regex/pattern.h"

namespace mailsift::rules {
namespace {

CompileOptions PrefilterOff() {
  CompileOptions o;
  o.prefilter.mode = PrefilterMode::kOff;
  return o;
}

// The prefilter built before Compile returns, no cache; the library self-test skipped so that the
// prefilter's logic is tested whatever vectorscan is installed.
CompileOptions PrefilterSync() {
  CompileOptions o;
  o.prefilter.mode = PrefilterMode::kSync;
  o.prefilter.cache_dir.clear();
  o.prefilter.check_library = false;
  return o;
}

// Each ruleset CompileCf returns (compiled without the prefilter) and its twin with the
// prefilter ready; Scan() runs both. The entry keeps a weak reference to the ruleset it was made
// for: a ruleset compiled later at the address of a freed one is not that one's twin.
struct Twin {
  std::weak_ptr<const CompiledRuleset> of;
  std::shared_ptr<const CompiledRuleset> twin;
};
std::mutex twins_mutex;
std::map<const CompiledRuleset*, Twin>& Twins() {
  static auto* twins = new std::map<const CompiledRuleset*, Twin>;
  return *twins;
}

Ruleset ParseCf(std::string_view cf) {
  CfParser parser;
  parser.ParseText(cf, "test.cf");
  LoadResult loaded = parser.Finish();
  for (const Diagnostic& d : loaded.errors) ADD_FAILURE() << d.ToString();
  for (const Diagnostic& d : loaded.warnings) ADD_FAILURE() << d.ToString();
  return std::move(loaded.ruleset);
}

// Parses `cf` as one .cf file and compiles it; the test fails on any error.
std::shared_ptr<const CompiledRuleset> CompileCf(std::string_view cf) {
  Ruleset ruleset = ParseCf(cf);
  auto with_prefilter = CompiledRuleset::Compile(ruleset, PrefilterSync());
  auto compiled = CompiledRuleset::Compile(std::move(ruleset), PrefilterOff());
  if (!compiled || !with_prefilter) {
    ADD_FAILURE() << (compiled ? with_prefilter.error().message : compiled.error().message);
    return nullptr;
  }
  EXPECT_EQ((*with_prefilter)->prefilter().state(), PrefilterSlot::State::kReady)
      << (*with_prefilter)->prefilter().Describe();
  std::lock_guard<std::mutex> lock(twins_mutex);
  Twins()[compiled->get()] = Twin{*compiled, *with_prefilter};
  return *compiled;
}

constexpr std::string_view kHead =
    "From: Alice <alice@example.com>\n"
    "To: bob@example.org\n"
    "Subject: Hello world\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
    "Message-ID: <abc123@example.com>\n";

// A message: header lines (each ending in "\n"), a blank line, the body.
std::string Msg(std::string_view head, std::string_view body) {
  return std::string(head) + "\n" + std::string(body);
}

struct Scanned {
  ScanResult result;
  std::map<std::string, int> counts;
  int Count(const std::string& name) const {
    auto it = counts.find(name);
    return it == counts.end() ? 0 : it->second;
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const RuleHit& h : result.hits) names.push_back(h.name);
    return names;
  }
};

std::string HitList(const ScanResult& r) {
  std::string out;
  for (const RuleHit& h : r.hits) out += h.name + "=" + std::to_string(h.count) + " ";
  return out;
}

Scanned Scan(const CompiledRuleset& rules, const std::string& raw, const Envelope& env = {}) {
  mime::Message message = mime::ParseMessage(raw);
  Scanned s;
  s.result = rules.Scan(message, env);
  for (const RuleHit& h : s.result.hits) s.counts[h.name] = h.count;
  std::shared_ptr<const CompiledRuleset> twin;
  {
    std::lock_guard<std::mutex> lock(twins_mutex);
    auto it = Twins().find(&rules);
    if (it != Twins().end() && !it->second.of.expired()) twin = it->second.twin;
  }
  if (twin) {
    ScanResult with_prefilter = twin->Scan(message, env);
    EXPECT_EQ(HitList(with_prefilter), HitList(s.result)) << "the prefilter changed the hits";
    EXPECT_EQ(with_prefilter.score, s.result.score);
  }
  return s;
}

// ---- header rules ---------------------------------------------------------------------------

TEST(EngineHeader, RegexHitAndMiss) {
  auto rules = CompileCf(
      "header T_SUBJ Subject =~ /\\bhello\\b/i\n"
      "score T_SUBJ 1.5\n"
      "header T_LOWERNAME subject =~ /world/\n"
      "score T_LOWERNAME 0.5\n");
  ASSERT_TRUE(rules);
  Scanned hit = Scan(*rules, Msg(kHead, "body\n"));
  EXPECT_EQ(hit.Names(), (std::vector<std::string>{"T_SUBJ", "T_LOWERNAME"}));
  EXPECT_DOUBLE_EQ(hit.result.score, 2.0);
  Scanned miss = Scan(*rules, Msg("From: a@example.com\nSubject: goodbye\n", "hello world\n"));
  EXPECT_TRUE(miss.result.hits.empty());
  EXPECT_DOUBLE_EQ(miss.result.score, 0);
}

TEST(EngineHeader, NegatedMatchHitsWhenAbsentOrNotMatching) {
  auto rules = CompileCf("header T_NOT_OUTLOOK X-Mailer !~ /Outlook/\nscore T_NOT_OUTLOOK 1\n");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Scan(*rules, Msg(kHead, "x\n")).Count("T_NOT_OUTLOOK"), 1);  // absent: undef !~
  EXPECT_EQ(
      Scan(*rules, Msg(std::string(kHead) + "X-Mailer: Mutt\n", "x\n")).Count("T_NOT_OUTLOOK"), 1);
  EXPECT_EQ(Scan(*rules, Msg(std::string(kHead) + "X-Mailer: Microsoft Outlook 16\n", "x\n"))
                .Count("T_NOT_OUTLOOK"),
            0);
}

TEST(EngineHeader, Exists) {
  auto rules = CompileCf("header T_HAS_LIST exists:List-Id\nscore T_HAS_LIST 1\n");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Scan(*rules, Msg(std::string(kHead) + "List-Id: <l.example.com>\n", "x\n"))
                .Count("T_HAS_LIST"),
            1);
  // Present but empty still exists (get() returns "\n").
  EXPECT_EQ(Scan(*rules, Msg(std::string(kHead) + "list-id:\n", "x\n")).Count("T_HAS_LIST"), 1);
  EXPECT_EQ(Scan(*rules, Msg(kHead, "x\n")).Count("T_HAS_LIST"), 0);
}

TEST(EngineHeader, IfUnsetValueIsMatchedWhenAbsent) {
  auto rules = CompileCf(
      "header T_NOPRIO X-Priority =~ /^UNSET$/ [if-unset: UNSET]\n"
      "score T_NOPRIO 1\n");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Scan(*rules, Msg(kHead, "x\n")).Count("T_NOPRIO"), 1);
  EXPECT_EQ(Scan(*rules, Msg(std::string(kHead) + "X-Priority: 3\n", "x\n")).Count("T_NOPRIO"), 0);
}

TEST(EngineHeader, ModifiersAndPseudoHeadersInRules) {
  auto rules = CompileCf(
      "header T_FROM_ADDR From:addr =~ /^alice\\@example\\.com$/\n"
      "header T_FROM_NAME From:name =~ /^Alice$/\n"
      "header T_TOCC ToCc =~ /carol\\@example\\.net/\n"
      "header T_MSGID MESSAGEID =~ /abc123/\n"
      "header T_ALL ALL =~ /^Subject: Hello world$/m\n"
      "header T_SUBJ_RAW Subject:raw =~ /=\\?utf-8\\?/i\n"
      "score T_FROM_ADDR 1\nscore T_FROM_NAME 1\nscore T_TOCC 1\nscore T_MSGID 1\n"
      "score T_ALL 1\nscore T_SUBJ_RAW 1\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(std::string(kHead) + "Cc: Carol <carol@example.net>\n", "x\n"));
  EXPECT_EQ(s.Names(),
            (std::vector<std::string>{"T_FROM_ADDR", "T_FROM_NAME", "T_TOCC", "T_MSGID", "T_ALL"}));
  Scanned encoded =
      Scan(*rules, Msg("From: x@example.com\nSubject: =?utf-8?q?Hello_world?=\n", "x\n"));
  EXPECT_EQ(encoded.Names(), (std::vector<std::string>{"T_ALL", "T_SUBJ_RAW"}));
}

TEST(EngineHeader, MultipleCountsEveryMatchUpToMaxhits) {
  auto rules = CompileCf(
      "header __RCVD_COUNT ALL =~ /^Received:/m\n"
      "tflags __RCVD_COUNT multiple maxhits=3\n"
      "meta T_MANY_RCVD __RCVD_COUNT > 2\n"
      "score T_MANY_RCVD 1\n");
  ASSERT_TRUE(rules);
  std::string four;
  for (int i = 0; i < 4; ++i) four += "Received: from h" + std::to_string(i) + " by x; now\n";
  Scanned s = Scan(*rules, Msg(four + std::string(kHead), "x\n"));
  EXPECT_EQ(s.Count("__RCVD_COUNT"), 3);
  EXPECT_EQ(s.Count("T_MANY_RCVD"), 1);
  Scanned two = Scan(
      *rules,
      Msg("Received: from a by x; now\nReceived: from b by x; now\n" + std::string(kHead), "x\n"));
  EXPECT_EQ(two.Count("__RCVD_COUNT"), 2);
  EXPECT_EQ(two.Count("T_MANY_RCVD"), 0);
}

// ---- body, rawbody, full --------------------------------------------------------------------

TEST(EngineBody, SubjectIsTheFirstLineUnlessNosubject) {
  auto rules = CompileCf(
      "body T_SUBJ_IN_BODY /Hello world/\n"
      "body T_SUBJ_NOSUBJ /Hello world/\n"
      "tflags T_SUBJ_NOSUBJ nosubject\n"
      "score T_SUBJ_IN_BODY 1\nscore T_SUBJ_NOSUBJ 1\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(kHead, "nothing to see\n"));
  EXPECT_EQ(s.Names(), std::vector<std::string>{"T_SUBJ_IN_BODY"});
  Scanned other = Scan(*rules, Msg("From: a@example.com\nSubject: other\n", "nothing\n"));
  EXPECT_TRUE(other.result.hits.empty());
  // nosubject skips only the first line: the same text in the body still hits.
  Scanned in_body = Scan(*rules, Msg("From: a@example.com\nSubject: other\n", "Hello world\n"));
  EXPECT_EQ(in_body.Names(), (std::vector<std::string>{"T_SUBJ_IN_BODY", "T_SUBJ_NOSUBJ"}));
}

TEST(EngineBody, HtmlIsRenderedForBodyButNotForRawbody) {
  auto rules = CompileCf(
      "body T_BODY_TEXT /Buy cheap pills now/\n"
      "body T_BODY_TAG /<b>/\n"
      "rawbody T_RAW_TEXT /Buy cheap pills now/\n"
      "rawbody T_RAW_TAG /<b>cheap<\\/b>/\n"
      "score T_BODY_TEXT 1\nscore T_BODY_TAG 1\nscore T_RAW_TEXT 1\nscore T_RAW_TAG 1\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(std::string(kHead) + "Content-Type: text/html\n",
                               "<html><body><p>Buy <b>cheap</b> pills now</p></body></html>\n"));
  EXPECT_EQ(s.Names(), (std::vector<std::string>{"T_BODY_TEXT", "T_RAW_TAG"}));
}

TEST(EngineBody, MultipleAndMaxhits) {
  auto rules = CompileCf(
      "body __FOO_ALL /foo/\n"
      "tflags __FOO_ALL multiple\n"
      "body __FOO_MAX2 /foo/\n"
      "tflags __FOO_MAX2 multiple maxhits=2\n"
      "body __FOO_ONCE /foo/\n");
  ASSERT_TRUE(rules);
  // Matches on several lines add up.
  Scanned s = Scan(*rules, Msg(kHead, "foo foo\n\nfoo bar\n"));
  EXPECT_EQ(s.Count("__FOO_ALL"), 3);
  EXPECT_EQ(s.Count("__FOO_MAX2"), 2);
  EXPECT_EQ(s.Count("__FOO_ONCE"), 1);
  EXPECT_DOUBLE_EQ(s.result.score, 0);  // sub-rules score nothing
  Scanned none = Scan(*rules, Msg(kHead, "bar\n"));
  EXPECT_TRUE(none.result.hits.empty());
}

// SpamAssassin calls got_hit once per match of a `tflags multiple` rule, and each call adds the
// rule's score: `spamassassin -L -t --cf 'body T_MULTI /foo/' --cf 'tflags T_MULTI multiple'
// --cf 'score T_MULTI 1.5'` on "foo foo foo" lists T_MULTI three times and scores 4.5.
TEST(EngineBody, MultipleRuleScoresEachHit) {
  auto rules = CompileCf(
      "body T_MULTI /foo/\n"
      "tflags T_MULTI multiple\n"
      "score T_MULTI 1.5\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(kHead, "foo foo foo alpha beta\n"));
  EXPECT_EQ(s.Count("T_MULTI"), 3);
  EXPECT_DOUBLE_EQ(s.result.score, 4.5);
}

TEST(EngineBody, WhitespaceIsNormalisedAcrossLines) {
  auto rules = CompileCf(
      "body T_JOINED /cheap pills online/\n"
      "body T_PARA_BREAK /online order/\n"
      "score T_JOINED 1\nscore T_PARA_BREAK 1\n");
  ASSERT_TRUE(rules);
  // One line break and runs of blanks become one space; a blank line separates paragraphs.
  Scanned s = Scan(*rules, Msg(kHead, "cheap   pills\n\tonline\n\norder now\n"));
  EXPECT_EQ(s.Names(), std::vector<std::string>{"T_JOINED"});
}

TEST(EngineRawbody, DecodedQuotedPrintableAndBase64NotSubject) {
  auto rules = CompileCf(
      "rawbody T_RAW_QP /cheap pills now/\n"
      "rawbody T_RAW_B64 /secret offer/\n"
      "rawbody T_RAW_SUBJ /Hello world/\n"
      "rawbody T_RAW_ESCAPE /=20/\n"
      "score T_RAW_QP 1\nscore T_RAW_B64 1\nscore T_RAW_SUBJ 1\nscore T_RAW_ESCAPE 1\n");
  ASSERT_TRUE(rules);
  Scanned qp =
      Scan(*rules, Msg(std::string(kHead) + "Content-Type: text/plain\n"
                                            "Content-Transfer-Encoding: quoted-printable\n",
                       "cheap=20pills=\n now\n"));
  EXPECT_EQ(qp.Names(), std::vector<std::string>{"T_RAW_QP"});
  // "secret offer\n" in base64.
  Scanned b64 = Scan(*rules, Msg(std::string(kHead) + "Content-Type: text/plain\n"
                                                      "Content-Transfer-Encoding: base64\n",
                                 "c2VjcmV0IG9mZmVyCg==\n"));
  EXPECT_EQ(b64.Names(), std::vector<std::string>{"T_RAW_B64"});
}

TEST(EngineFull, MatchesTheRawMessage) {
  auto rules = CompileCf(
      "full T_FULL_HDR /^X-Custom: yes$/m\n"
      "full T_FULL_QP /cheap=20pills/\n"
      "full T_FULL_DECODED /cheap pills/\n"
      "score T_FULL_HDR 1\nscore T_FULL_QP 1\nscore T_FULL_DECODED 1\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(std::string(kHead) + "X-Custom: yes\n"
                                                    "Content-Transfer-Encoding: quoted-printable\n",
                               "cheap=20pills\n"));
  EXPECT_EQ(s.Names(), (std::vector<std::string>{"T_FULL_HDR", "T_FULL_QP"}));
  EXPECT_TRUE(Scan(*rules, Msg(kHead, "x\n")).result.hits.empty());
}

// ---- uri ------------------------------------------------------------------------------------

constexpr std::string_view kTlds = "util_rb_tld com net org\n";

TEST(EngineUri, FromTextAndFromHtml) {
  auto rules = CompileCf(std::string(kTlds) +
                         "uri T_URI_TEXT m{^https?://www\\.example\\.com/path}\n"
                         "uri T_URI_HREF /evil\\.example\\.net/\n"
                         "uri T_URI_NONE /nowhere\\.example/\n"
                         "score T_URI_TEXT 1\nscore T_URI_HREF 1\nscore T_URI_NONE 1\n");
  ASSERT_TRUE(rules);
  Scanned text = Scan(*rules, Msg(kHead, "Visit http://www.example.com/path today\n"));
  EXPECT_EQ(text.Names(), std::vector<std::string>{"T_URI_TEXT"});
  Scanned html = Scan(*rules, Msg(std::string(kHead) + "Content-Type: text/html\n",
                                  "<p><a href=\"http://evil.example.net/x\">click</a></p>\n"));
  EXPECT_EQ(html.Names(), std::vector<std::string>{"T_URI_HREF"});
  // Body text that is not a URI (no known TLD) gives none.
  EXPECT_TRUE(Scan(*rules, Msg(kHead, "evil.example.invalid www\n")).result.hits.empty());
}

TEST(EngineUri, CaptureTemplatesRequiredOptionalAndInAlternatives) {
  // SpamAssassin's capture tags: a header rule captures the recipient, uri rules use it. A
  // template outside groups must be in the URI (the rule is skipped when no URI holds a value);
  // one in an optional group or beside an alternative need not.
  auto rules = CompileCf(std::string(kTlds) +
                         "header __TO_ADDR To =~ /(?<TO_ADDR>[^\\s<>@]+\\@[^\\s<>]+)/\n"
                         "uri T_REQ m{^https?://www\\.example\\.com/\\?e=%{TO_ADDR}}i\n"
                         "uri T_CASE m{e=%{TO_ADDR}}\n"
                         "uri T_OPT m{^https?://www\\.example\\.com/(?:x%{TO_ADDR})?done}\n"
                         "uri T_ALT /%{TO_ADDR}|www\\.example\\.net/\n");
  ASSERT_TRUE(rules);
  const std::string body =
      "http://www.example.com/?e=BOB@example.org and http://www.example.com/done and "
      "http://www.example.net/\n";
  Scanned hit = Scan(*rules, Msg(kHead, body));
  EXPECT_EQ(hit.Count("__TO_ADDR"), 1);
  EXPECT_EQ(hit.Count("T_REQ"), 1);   // /i: the value in another case
  EXPECT_EQ(hit.Count("T_CASE"), 0);  // without /i it does not match
  EXPECT_EQ(hit.Count("T_OPT"), 1);
  EXPECT_EQ(hit.Count("T_ALT"), 1);
  const std::string other =
      std::string(kHead).replace(kHead.find("bob@example.org"), 15, "eve@example.org");
  Scanned miss = Scan(*rules, Msg(other, body));
  EXPECT_EQ(miss.Count("T_REQ"), 0);
  EXPECT_EQ(miss.Count("T_OPT"), 1);
  EXPECT_EQ(miss.Count("T_ALT"), 1);
  Scanned exact = Scan(*rules, Msg(other, "http://www.example.com/?e=eve@example.org\n"));
  EXPECT_EQ(exact.Count("T_REQ"), 1);
  EXPECT_EQ(exact.Count("T_CASE"), 1);
}

TEST(EngineUri, CanonicalisedVariants) {
  auto rules = CompileCf(std::string(kTlds) +
                         "uri T_URI_SCHEME m{^http://www\\.example\\.com}\n"
                         "uri T_URI_DECODED m{^http://decoded\\.example\\.com/}\n"
                         "uri T_URI_AS_WRITTEN /%64ecoded/\n"
                         "score T_URI_SCHEME 1\nscore T_URI_DECODED 1\nscore T_URI_AS_WRITTEN 1\n");
  ASSERT_TRUE(rules);
  // A schemeless "www." host gets "http://"; %-escapes are decoded in a variant, and the URI as
  // written is kept as well.
  Scanned s = Scan(*rules, Msg(kHead, "see www.example.com and http://%64ecoded.example.com/\n"));
  EXPECT_EQ(s.Names(),
            (std::vector<std::string>{"T_URI_SCHEME", "T_URI_DECODED", "T_URI_AS_WRITTEN"}));
}

// ---- mimeheader -----------------------------------------------------------------------------

constexpr std::string_view kMultipart =
    "Content-Type: multipart/mixed; boundary=\"XX\"\n"
    "MIME-Version: 1.0\n";

std::string MultipartBody(std::string_view second_part_headers) {
  return "--XX\n"
         "Content-Type: text/plain\n"
         "\n"
         "hello\n"
         "--XX\n" +
         std::string(second_part_headers) +
         "\n"
         "AAAA\n"
         "--XX--\n";
}

TEST(EngineMimeHeader, PerPartAndRaw) {
  auto rules = CompileCf(
      "loadplugin Mail::SpamAssassin::Plugin::MIMEHeader\n"
      "mimeheader T_MH_EXE Content-Type =~ /name=\"?[^\"]*\\.exe/i\n"
      "mimeheader T_MH_RAW Content-Disposition:raw =~ /=\\?utf-8\\?/i\n"
      "mimeheader T_MH_DECODED Content-Disposition =~ /=\\?utf-8\\?/i\n"
      "mimeheader T_MH_PLAIN Content-Type =~ /^text\\/plain/\n"
      "score T_MH_EXE 1\nscore T_MH_RAW 1\nscore T_MH_DECODED 1\nscore T_MH_PLAIN 1\n");
  ASSERT_TRUE(rules);
  Scanned s =
      Scan(*rules,
           Msg(std::string(kHead) + std::string(kMultipart),
               MultipartBody("Content-Type: application/octet-stream; name=\"setup.exe\"\n"
                             "Content-Disposition: attachment; filename=\"=?utf-8?q?caf=C3=A9?=\"\n"
                             "Content-Transfer-Encoding: base64\n")));
  EXPECT_EQ(s.Names(), (std::vector<std::string>{"T_MH_EXE", "T_MH_RAW", "T_MH_PLAIN"}));
  Scanned miss = Scan(*rules, Msg(std::string(kHead) + std::string(kMultipart),
                                  MultipartBody("Content-Type: image/png; name=\"a.png\"\n"
                                                "Content-Transfer-Encoding: base64\n")));
  EXPECT_EQ(miss.Names(), std::vector<std::string>{"T_MH_PLAIN"});
}

// ---- meta -----------------------------------------------------------------------------------

constexpr std::string_view kMetaRules =
    "body __A /alpha/\n"
    "body __B /beta/\n"
    "body __C /gamma/\n"
    "meta T_AND __A && !__B\n"
    "meta T_TWO_OF_THREE (__A + __B + __C) > 1\n"
    "meta T_EXACTLY_ONE (__A + __B + __C) == 1\n"
    "meta T_UNKNOWN_OR NO_SUCH_RULE || __C\n"
    "meta T_NOT_UNKNOWN !NO_SUCH_RULE\n"
    "meta T_META_OF_META T_TWO_OF_THREE && !T_AND\n"
    "meta T_ARITH (__A * 2 - __B) >= 2\n"
    "score T_AND 1\nscore T_TWO_OF_THREE 2\nscore T_EXACTLY_ONE 0.5\n"
    "score T_UNKNOWN_OR 0.25\nscore T_NOT_UNKNOWN 0.125\nscore T_META_OF_META 4\n"
    "score T_ARITH 8\n";

TEST(EngineMeta, BooleansArithmeticComparisonsUnknownNames) {
  auto rules = CompileCf(kMetaRules);
  ASSERT_TRUE(rules);
  Scanned a = Scan(*rules, Msg(kHead, "alpha\n"));
  EXPECT_EQ(a.Names(), (std::vector<std::string>{"__A", "T_AND", "T_EXACTLY_ONE", "T_NOT_UNKNOWN",
                                                 "T_ARITH"}));
  EXPECT_DOUBLE_EQ(a.result.score, 1 + 0.5 + 0.125 + 8);

  Scanned ab = Scan(*rules, Msg(kHead, "alpha beta\n"));
  EXPECT_EQ(ab.Names(), (std::vector<std::string>{"__A", "__B", "T_TWO_OF_THREE", "T_NOT_UNKNOWN",
                                                  "T_META_OF_META"}));
  EXPECT_DOUBLE_EQ(ab.result.score, 2 + 0.125 + 4);

  Scanned ac = Scan(*rules, Msg(kHead, "alpha gamma\n"));
  EXPECT_EQ(ac.Names(), (std::vector<std::string>{"__A", "__C", "T_AND", "T_TWO_OF_THREE",
                                                  "T_UNKNOWN_OR", "T_NOT_UNKNOWN", "T_ARITH"}));

  Scanned none = Scan(*rules, Msg(kHead, "nothing\n"));
  EXPECT_EQ(none.Names(), std::vector<std::string>{"T_NOT_UNKNOWN"});
}

// A meta's hit value is its expression's value (got_hit(..., value => $result)), so a meta over
// a meta sees that value, not 1: checked with `spamassassin -L -t` — `meta T_SUM __TA + __TB`,
// `meta T_OVER T_SUM > 1` on "alpha beta" hits T_OVER.
TEST(EngineMeta, MetaOverMetaSeesTheValue) {
  auto rules = CompileCf(
      "body __TA /alpha/\n"
      "body __TB /beta/\n"
      "meta T_SUM __TA + __TB\n"
      "meta T_OVER T_SUM > 1\n"
      "score T_SUM 0.1\nscore T_OVER 1\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(kHead, "alpha beta\n"));
  EXPECT_EQ(s.Count("T_SUM"), 1);
  EXPECT_EQ(s.Count("T_OVER"), 1);
}

TEST(EngineMeta, MultipleCountsFeedMetas) {
  auto rules = CompileCf(
      "body __WORD /\\bfree\\b/i\n"
      "tflags __WORD multiple maxhits=4\n"
      "meta T_FREE_3 __WORD >= 3\n"
      "score T_FREE_3 1\n");
  ASSERT_TRUE(rules);
  EXPECT_EQ(Scan(*rules, Msg(kHead, "free FREE Free\n")).Count("T_FREE_3"), 1);
  EXPECT_EQ(Scan(*rules, Msg(kHead, "free free\n")).Count("T_FREE_3"), 0);
}

TEST(EngineMeta, AndOrGiveTheDecidingOperandAsPerlDoes) {
  // Perl's && and || return an operand, not 0/1: the count of a `multiple` rule passes through
  // to the arithmetic around it, whichever operand decides.
  auto rules = CompileCf(
      "body __FREE /\\bfree\\b/i\n"
      "tflags __FREE multiple maxhits=5\n"
      "body __MONEY /\\bmoney\\b/i\n"
      "body __NEVER /\\bnever-seen\\b/\n"
      "meta T_OR_FIRST (__FREE || __MONEY) >= 3\n"
      "meta T_OR_SECOND (__NEVER || __FREE) == 3\n"
      "meta T_AND_LAST (__MONEY && __FREE) == 3\n"
      "meta T_AND_ZERO (__NEVER && __FREE) + 1 == 1\n"
      "meta T_NESTED ((__NEVER || __MONEY) && (__NEVER || __FREE)) * 2 == 6\n"
      "meta T_NOT_AND !(__NEVER && __FREE) && !__NEVER\n"
      "score T_OR_FIRST 1\nscore T_OR_SECOND 1\nscore T_AND_LAST 1\nscore T_AND_ZERO 1\n"
      "score T_NESTED 1\nscore T_NOT_AND 1\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(kHead, "free money, free FREE\n"));
  EXPECT_EQ(s.Count("__FREE"), 3);
  for (const char* name :
       {"T_OR_FIRST", "T_OR_SECOND", "T_AND_LAST", "T_AND_ZERO", "T_NESTED", "T_NOT_AND"}) {
    EXPECT_EQ(s.Count(name), 1) << name;
  }
  Scanned none = Scan(*rules, Msg(kHead, "nothing\n"));
  EXPECT_EQ(none.Count("T_AND_ZERO"), 1);
  EXPECT_EQ(none.Count("T_NOT_AND"), 1);
  EXPECT_EQ(none.Count("T_OR_FIRST"), 0);
  EXPECT_EQ(none.Count("T_NESTED"), 0);
}

// ---- eval -----------------------------------------------------------------------------------

TEST(EngineEval, HeaderEvalHitAndMiss) {
  auto rules = CompileCf(
      "header T_MISSING_TO eval:check_for_missing_to_header()\n"
      "score T_MISSING_TO 1.25\n"
      "header T_NET_ONLY eval:check_rbl('x', 'zen.example.')\n"
      "score T_NET_ONLY 1\n");
  ASSERT_TRUE(rules);
  Scanned no_to = Scan(*rules, Msg("From: a@example.com\nSubject: hi\n", "x\n"));
  EXPECT_EQ(no_to.Names(), std::vector<std::string>{"T_MISSING_TO"});
  EXPECT_DOUBLE_EQ(no_to.result.score, 1.25);
  EXPECT_TRUE(Scan(*rules, Msg(kHead, "x\n")).result.hits.empty());
  EXPECT_EQ(rules->stats().evals_native, 1u);
  EXPECT_EQ(rules->stats().evals_never_hit, 1u);
}

// ---- scores and settings --------------------------------------------------------------------

TEST(EngineScore, ZeroScoreDisablesRuleAndMetasSeeZero) {
  auto rules = CompileCf(
      "body T_OFF /foo/\n"
      "score T_OFF 0\n"
      "body T_ON /foo/\n"
      "score T_ON 1\n"
      "meta T_SEES_OFF T_OFF\n"
      "meta T_NOT_OFF !T_OFF && T_ON\n"
      "score T_SEES_OFF 1\nscore T_NOT_OFF 1\n"
      // Only score set 0 counts (no Bayes, no network).
      "body T_SET0_OFF /foo/\n"
      "score T_SET0_OFF 0 1 1 1\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(kHead, "foo\n"));
  EXPECT_EQ(s.Names(), (std::vector<std::string>{"T_ON", "T_NOT_OFF"}));
  EXPECT_DOUBLE_EQ(s.result.score, 2);
  EXPECT_EQ(rules->stats().rules, 5u);
  EXPECT_EQ(rules->stats().enabled, 3u);  // T_ON, T_SEES_OFF, T_NOT_OFF
}

TEST(EngineScore, SubRulesHitButScoreNothing) {
  auto rules = CompileCf(
      "body __SUB /foo/\n"
      "score __SUB 3\n"  // ignored: sub-rules never add to the score
      "meta T_FROM_SUB __SUB\n"
      "score T_FROM_SUB 0.5\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(kHead, "foo\n"));
  ASSERT_EQ(s.result.hits.size(), 2u);
  EXPECT_EQ(s.result.hits[0].name, "__SUB");
  EXPECT_DOUBLE_EQ(s.result.hits[0].score, 0);
  EXPECT_EQ(s.result.hits[1].name, "T_FROM_SUB");
  EXPECT_DOUBLE_EQ(s.result.hits[1].score, 0.5);
  EXPECT_DOUBLE_EQ(s.result.score, 0.5);
}

TEST(EngineScore, DefaultScoresAndNegativeScores) {
  auto rules = CompileCf(
      "body FOO_DEFAULT /foo/\n"    // no score: 1.0
      "body T_FOO_TESTING /foo/\n"  // T_ rule without score: 0.01
      "body FOO_NICE /foo/\n"
      "score FOO_NICE -2.5\n");
  ASSERT_TRUE(rules);
  Scanned s = Scan(*rules, Msg(kHead, "foo\n"));
  EXPECT_EQ(s.Names(), (std::vector<std::string>{"FOO_DEFAULT", "T_FOO_TESTING", "FOO_NICE"}));
  EXPECT_DOUBLE_EQ(s.result.score, 1.0 + 0.01 - 2.5);
}

TEST(EngineScore, RequiredScoreSetting) {
  auto defaults = CompileCf("body T_X /foo/\nscore T_X 4\n");
  ASSERT_TRUE(defaults);
  EXPECT_DOUBLE_EQ(defaults->required_score(), 5.0);
  EXPECT_FALSE(Scan(*defaults, Msg(kHead, "foo\n")).result.IsSpam());

  auto rules = CompileCf("required_score 3.5\nbody T_X /foo/\nscore T_X 4\n");
  ASSERT_TRUE(rules);
  EXPECT_DOUBLE_EQ(rules->required_score(), 3.5);
  Scanned spam = Scan(*rules, Msg(kHead, "foo\n"));
  EXPECT_DOUBLE_EQ(spam.result.required, 3.5);
  EXPECT_TRUE(spam.result.IsSpam());
  EXPECT_FALSE(Scan(*rules, Msg(kHead, "bar\n")).result.IsSpam());
}

TEST(EngineCompile, InvalidRegexRefusesTheRulesetNamingRuleAndLine) {
  CfParser parser;
  parser.ParseText("body T_OK /fine/\nbody T_BAD /a(b/\n", "bad.cf");
  LoadResult loaded = parser.Finish();
  ASSERT_TRUE(loaded.errors.empty());
  auto compiled = CompiledRuleset::Compile(std::move(loaded.ruleset), PrefilterOff());
  ASSERT_FALSE(compiled);
  EXPECT_NE(compiled.error().message.find("bad.cf:2"), std::string::npos)
      << compiled.error().message;
  EXPECT_NE(compiled.error().message.find("T_BAD"), std::string::npos);
}

// ---- the vectorscan prefilter -----------------------------------------------------------------

// Rules of every kind the prefilter takes, some it cannot compile (a conditional, a Unicode
// property, a pattern that matches the empty string), a negated header rule and a repeated group
// too large for Hyperscan as a whole (checked group by group).
std::string PrefilterCf() {
  std::string field = "(?:";
  for (int i = 0; i < 120; ++i) field += (i ? "|" : "") + std::string("field") + std::to_string(i);
  field += "|name|address|phone)";
  return "body T_FREE /\\bfree money\\b/i\n"
         "body T_VIAGRA /v[i1!|]agra/i\n"
         "body T_COND /(?(?=x)xy|ab)c/\n"
         "body T_PROP /\\p{Lu}{3}ZZ/\n"
         "body T_EMPTY /z*/\n"
         "body T_LOOK /price(?!less)/\n"
         "body T_BACKREF /(\\w)\\1\\1/\n"
         "body T_NOSUBJ /^Hello/\n"
         "tflags T_NOSUBJ nosubject\n"
         "body T_MULTI /\\bwin\\b/i\n"
         "tflags T_MULTI multiple maxhits=3\n"
         "body __T_FORM /(?:" +
         field +
         "[:,]\\s*(?:and\\s)?){3}/i\n"
         "rawbody T_RAW /<b>bold<\\/b>/i\n"
         "uri T_URI /^https?:\\/\\/[^\\/]*example\\.com\\//i\n"
         "uri T_URI_IP /^https?:\\/\\/\\d+\\.\\d+\\.\\d+\\.\\d+/\n"
         "header T_SUBJ1 Subject =~ /hello/i\n"
         "header T_SUBJ2 Subject =~ /^Re:/\n"
         "header T_SUBJ3 Subject =~ /world$/\n"
         "header T_SUBJ4 Subject !~ /unlikely/\n"
         "header T_SUBJ5 Subject =~ /(?(?=h)hello|x)/i\n"
         "header T_FROM1 From =~ /alice/i\n"
         "header T_FROM2 From =~ /\\@example\\.com/\n"
         "header T_FROM3 From !~ /\\@example\\.com/\n"
         "header T_XM1 X-Mailer =~ /Outlook/ [if-unset: Outlook Express]\n"
         "header T_XM2 X-Mailer =~ /Mutt/\n"
         "header T_XM3 X-Mailer !~ /Mutt/\n"
         "header T_TO1 To =~ /bob/\n"
         "header T_TO2 To =~ /example/\n";
}

std::vector<std::string> PrefilterMessages() {
  return {
      Msg(kHead,
          "Get free money now, viagra and v1agra!\nprice 10, priceless\n"
          "win win WIN win\naaa bbb\nname: address, and phone:\n"
          "field1, field2, field3\nhttp://www.example.com/x and http://10.1.2.3/\n"),
      Msg("From: bob@other.org\nTo: x@y\nSubject: Re: Hello world\nX-Mailer: Mutt 2\n",
          "Hello there\nabc\nABCZZ\nnothing special\n"),
      Msg("From: x@y\nSubject: unlikely\nMIME-Version: 1.0\n"
          "Content-Type: text/html\n",
          "<html><body><b>bold</b> <a href=\"http://example.com/\">x</a> FREE MONEY "
          "field7: field8, and field9, </body></html>\n"),
      Msg("Subject: hi\n", ""),
  };
}

TEST(EnginePrefilter, SameHitsAsWithoutOnCraftedMessages) {
  Ruleset ruleset = ParseCf(PrefilterCf());
  auto off = CompiledRuleset::Compile(ruleset, PrefilterOff());
  auto on = CompiledRuleset::Compile(ruleset, PrefilterSync());
  ASSERT_TRUE(off && on);
  const PrefilterSlot& slot = (*on)->prefilter();
  ASSERT_EQ(slot.state(), PrefilterSlot::State::kReady) << slot.Describe();
  auto db = slot.Get();
  ASSERT_NE(db, nullptr);
  auto index = [&](const char* name) {
    const auto& rules = (*on)->ruleset().rules();
    for (size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].name == name) return static_cast<uint32_t>(i);
    }
    ADD_FAILURE() << name;
    return uint32_t{0};
  };
  // In a database: ordinary rules, the relaxed ones, the repeated group; not: what vectorscan
  // cannot be given, header requests with too few rules, URI rules.
  for (const char* name : {"T_FREE", "T_LOOK", "T_BACKREF", "T_NOSUBJ", "T_MULTI", "__T_FORM",
                           "T_RAW", "T_SUBJ1", "T_SUBJ4", "T_FROM3"}) {
    EXPECT_GE(db->GroupOf(index(name)), 0) << name;
  }
  for (const char* name : {"T_COND", "T_PROP", "T_EMPTY", "T_SUBJ5", "T_TO1", "T_TO2", "T_URI"}) {
    EXPECT_EQ(db->GroupOf(index(name)), -1) << name;
  }
  int hits = 0;
  for (const std::string& raw : PrefilterMessages()) {
    mime::Message message = mime::ParseMessage(raw);
    ScanResult a = (*off)->Scan(message), b = (*on)->Scan(message);
    EXPECT_EQ(HitList(b), HitList(a));
    EXPECT_EQ(b.score, a.score);
    hits += static_cast<int>(a.hits.size());
  }
  EXPECT_GT(hits, 20);  // the messages do hit: the comparison is not between empty lists
  Scanned first = Scan(**off, PrefilterMessages()[0]);
  EXPECT_EQ(first.Count("T_MULTI"), 3);
  EXPECT_EQ(first.Count("__T_FORM"), 1);
  EXPECT_EQ(first.Count("T_COND"), 0);
  EXPECT_EQ(first.Count("T_BACKREF"), 1);
  Scanned second = Scan(**off, PrefilterMessages()[1]);
  EXPECT_EQ(second.Count("T_PROP"), 1);
  EXPECT_EQ(second.Count("T_NOSUBJ"), 1);
  EXPECT_EQ(second.Count("T_FROM3"), 1);
}

// A ReplaceTags-style rule: every letter of `word` with look-alikes in UTF-8 and as a character
// reference, more than a kilobyte written out.
std::string LookAlikeWord(std::string_view word) {
  std::string p = "\\b";
  for (char c : word) {
    const char upper = static_cast<char>(c - 'a' + 'A');
    p += std::string("(?:[") + c + upper +
         "]|\\xd0[\\x80-\\x8f]|\\xf0\\x9d\\x90[\\x80-\\xbf]|&\\#" +
         std::to_string(static_cast<int>(c)) + ";)";
  }
  return p + "\\b";
}

TEST(EnginePrefilter, LookAlikeRulesHaveADatabaseForAsciiBodies) {
  const std::string look_alike = LookAlikeWord("unsubscribeimmediately");
  ASSERT_GT(look_alike.size(), 1000u);
  Ruleset ruleset = ParseCf(
      "body T_FREE /\\bfree money\\b/i\n"
      "body T_FUZZY /" +
      look_alike + "/\n");
  auto off = CompiledRuleset::Compile(ruleset, PrefilterOff());
  auto on = CompiledRuleset::Compile(ruleset, PrefilterSync());
  ASSERT_TRUE(off && on);
  auto db = (*on)->prefilter().Get();
  ASSERT_NE(db, nullptr) << (*on)->prefilter().Describe();
  // Not in the body's database: in one of its own.
  EXPECT_GE(db->GroupOf(1), 0);
  EXPECT_NE(db->GroupOf(1), db->GroupOf(0));
  // ASCII bodies (scanned by that database), and bodies with UTF-8 look-alikes (the rule then
  // runs as without a prefilter): the same hits either way.
  const std::vector<std::pair<std::string, int>> bodies = {
      {"please unsubscribeimmediately now\n", 1}, {"please UNSUBSCRIBEIMMEDIATELY now\n", 1},
      {"un&#115;ubscribeimmediately\n", 1},       {"please unsubscribe immediately\n", 0},
      {"free money\nnothing here\n", 0},          {"caf\xc3\xa9 unsubscribeimmediately\n", 1},
      {"u\xd0\x80subscribeimmediately\n", 1},     {"caf\xc3\xa9 unsubscribe\n", 0},
  };
  for (const auto& [body, expected] : bodies) {
    mime::Message message = mime::ParseMessage(Msg(kHead, body));
    ScanResult a = (*off)->Scan(message), b = (*on)->Scan(message);
    EXPECT_EQ(HitList(b), HitList(a)) << body;
    EXPECT_EQ(Scan(**on, Msg(kHead, body)).Count("T_FUZZY"), expected) << body;
  }
}

TEST(EnginePrefilter, RulesetWorksBeforeTheBackgroundBuildIsReady) {
  Ruleset ruleset = ParseCf(PrefilterCf());
  auto off = CompiledRuleset::Compile(ruleset, PrefilterOff());
  std::promise<void> gate;
  CompileOptions background = PrefilterSync();
  background.prefilter.mode = PrefilterMode::kBackground;
  background.prefilter.start_gate = gate.get_future().share();
  const auto start = std::chrono::steady_clock::now();
  auto on = CompiledRuleset::Compile(ruleset, background);
  ASSERT_TRUE(off && on);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  const PrefilterSlot& slot = (*on)->prefilter();
  EXPECT_EQ(slot.state(), PrefilterSlot::State::kBuilding);
  EXPECT_EQ(slot.Get(), nullptr);
  for (const std::string& raw : PrefilterMessages()) {
    mime::Message message = mime::ParseMessage(raw);
    EXPECT_EQ(HitList((*on)->Scan(message)), HitList((*off)->Scan(message)));
  }
  gate.set_value();
  ASSERT_TRUE(slot.Wait(std::chrono::seconds(60)));
  EXPECT_EQ(slot.state(), PrefilterSlot::State::kReady) << slot.Describe();
  EXPECT_NE(slot.Get(), nullptr);
  for (const std::string& raw : PrefilterMessages()) {
    mime::Message message = mime::ParseMessage(raw);
    EXPECT_EQ(HitList((*on)->Scan(message)), HitList((*off)->Scan(message)));
  }
}

TEST(EnginePrefilter, ARulesetDestroyedDuringItsBuildCancelsIt) {
  std::promise<void> gate;
  CompileOptions background = PrefilterSync();
  background.prefilter.mode = PrefilterMode::kBackground;
  background.prefilter.start_gate = gate.get_future().share();
  auto on = CompiledRuleset::Compile(ParseCf(PrefilterCf()), background);
  ASSERT_TRUE(on);
  std::weak_ptr<const CompiledRuleset> weak = *on;
  on = Fail("dropped");
  EXPECT_TRUE(weak.expired());
  gate.set_value();  // the build thread wakes up, sees the cancellation and ends
}

// ---- Debian's ruleset: no pattern lost ------------------------------------------------------

constexpr const char* kWideRules[] = {"__FILL_THIS_FORM_LONG1",
                                      "__FILL_THIS_FORM_LONG2",
                                      "__HOURS_DEADLINE",
                                      "__MY_MALWARE",
                                      "__PAY_ME",
                                      "__YOUR_ONAN",
                                      "__YOUR_PERSONAL",
                                      "__YOUR_WEBCAM"};

class DebianEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists("/usr/share/spamassassin/50_scores.cf")) return;
    RulePaths paths = StandardRulePaths(
        {"/var/lib/spamassassin/4.000001", "/usr/share/spamassassin"}, "/etc/spamassassin");
    ParserOptions options;
    options.local_tests_only = true;
    auto ruleset = LoadRuleset(paths, options);
    if (!ruleset) {
      load_error_ = new std::string(ruleset.error().message);
      return;
    }
    auto compiled = CompiledRuleset::Compile(std::move(*ruleset), PrefilterOff());
    if (!compiled) {
      load_error_ = new std::string(compiled.error().message);
      return;
    }
    compiled_ = new std::shared_ptr<const CompiledRuleset>(*compiled);
  }
  static void TearDownTestSuite() {
    delete compiled_;
    compiled_ = nullptr;
    delete load_error_;
    load_error_ = nullptr;
  }
  void SetUp() override {
    if (!std::filesystem::exists("/usr/share/spamassassin/50_scores.cf")) {
      GTEST_SKIP() << "Debian's spamassassin package is not installed";
    }
    ASSERT_EQ(load_error_, nullptr) << *load_error_;
    ASSERT_NE(compiled_, nullptr);
  }
  const CompiledRuleset& rules() { return **compiled_; }

  static std::shared_ptr<const CompiledRuleset>* compiled_;
  static std::string* load_error_;
};
std::shared_ptr<const CompiledRuleset>* DebianEngineTest::compiled_ = nullptr;
std::string* DebianEngineTest::load_error_ = nullptr;

TEST_F(DebianEngineTest, EveryEnabledRegexRuleCompiles) {
  const CompileStats& st = rules().stats();
  size_t expected_regexes = 0;
  for (const Rule& r : rules().ruleset().rules()) {
    const bool enabled = r.scores[0] != 0 && r.type != RuleType::kEmpty;
    if (!enabled || r.is_eval || r.type == RuleType::kMeta || !r.capture_templates.empty()) {
      continue;
    }
    if (r.type == RuleType::kHeader && r.header.exists) continue;
    ++expected_regexes;
  }
  // Compile() refuses a ruleset with any pattern that does not compile, so reaching here
  // already proves it; the counts make it explicit.
  EXPECT_EQ(st.regexes, expected_regexes);
  EXPECT_EQ(st.wide_regexes, 8u);
  EXPECT_GT(st.regexes, 1000u);
}

TEST_F(DebianEngineTest, TheEightHugePatternsCompileWide) {
  for (const char* name : kWideRules) {
    SCOPED_TRACE(name);
    const Rule* r = rules().ruleset().Find(name);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->replaced);
    auto p = Pattern::Compile(r->regex.pattern, r->regex.flags);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(p->wide());
  }
}

TEST_F(DebianEngineTest, AHugePatternMatchesAMessageWrittenForIt) {
  // 72_active.cf __HOURS_DEADLINE: "<Y><O><U>\s<H><A><V><E>\s(?:\d+|…)\s?(?:<H><O><U><R><S>?|…)",
  // where the ReplaceTags letters also accept look-alike characters; BITCOIN_DEADLINE is
  // __BITCOIN_ID && __HOURS_DEADLINE && !BITCOIN_EXTORT_01.
  const Rule* r = rules().ruleset().Find("__HOURS_DEADLINE");
  ASSERT_NE(r, nullptr);
  auto p = Pattern::Compile(r->regex.pattern, r->regex.flags);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->wide());
  EXPECT_TRUE(p->Matches("I recorded you. You have 48 hours to pay."));
  EXPECT_FALSE(p->Matches("The meeting is in 48 hours from now."));

  Scanned s = Scan(rules(), Msg("From: x@example.com\nTo: y@example.org\nSubject: notice\n"
                                "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
                                "Message-ID: <1@example.com>\n",
                                "I recorded you. You have 48 hours to pay.\n"));
  EXPECT_EQ(s.Count("__HOURS_DEADLINE"), 1);
  Scanned miss = Scan(rules(), Msg("From: x@example.com\nTo: y@example.org\nSubject: notice\n",
                                   "The meeting is in 48 hours from now.\n"));
  EXPECT_EQ(miss.Count("__HOURS_DEADLINE"), 0);
}

}  // namespace
}  // namespace mailsift::rules
