// rules/cf/cf_parser_test.cc — .cf lines, directives, rules and the diagnostics that name file
// and line.
#include "rules/cf/cf_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mailsift::rules {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kReplaceTags = "Mail::SpamAssassin::Plugin::ReplaceTags";
constexpr const char* kMimeHeader = "Mail::SpamAssassin::Plugin::MIMEHeader";

LoadResult Parse(std::string_view text, std::set<std::string, std::less<>> plugins = {}) {
  ParserOptions options;
  options.plugins = std::move(plugins);
  CfParser parser(std::move(options));
  parser.ParseText(text, "test.cf");
  return parser.Finish();
}

std::vector<std::string> Messages(const std::vector<Diagnostic>& diagnostics) {
  std::vector<std::string> out;
  for (const Diagnostic& d : diagnostics) out.push_back(d.ToString());
  return out;
}

const Rule& Get(const LoadResult& r, std::string_view name) {
  const Rule* rule = r.ruleset.Find(name);
  if (!rule) {
    ADD_FAILURE() << "no rule " << name;
    static const Rule kNone;
    return kNone;
  }
  return *rule;
}

// ---- line syntax -----------------------------------------------------------------------------

TEST(CfLines, CommentsWhitespaceAndEscapedHash) {
  auto r = Parse(
      "# a comment\n"
      "   \t\n"
      "  body   HASH_RULE   /a\\#b/i   # trailing comment\n"
      "body CRLF_RULE /x/\r\n");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  EXPECT_EQ(Get(r, "HASH_RULE").regex.pattern, "a#b");
  EXPECT_EQ(Get(r, "HASH_RULE").regex.flags, "i");
  EXPECT_EQ(Get(r, "CRLF_RULE").regex.pattern, "x");
  EXPECT_EQ(Get(r, "HASH_RULE").where.line, 3);
}

TEST(CfLines, NoLineContinuations) {
  // SA reads each line on its own: a trailing backslash continues nothing.
  auto r = Parse("body CONT /abc\\\n/\n");
  EXPECT_EQ(r.ruleset.Find("CONT"), nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where.line, 1);
  EXPECT_EQ(r.warnings.size(), 1u);  // "/" read as an unknown directive
}

TEST(CfLines, DirectiveNamesAreCaseInsensitiveWithDashes) {
  auto r = Parse("BODY UPPER /x/\nfreemail-domains a.example b.example\n");
  EXPECT_NE(r.ruleset.Find("UPPER"), nullptr);
  EXPECT_THAT(r.ruleset.SettingWords("freemail_domains"), ElementsAre("a.example", "b.example"));
}

TEST(CfLines, LangLinesCountOnlyForTheirLanguage) {
  auto r = Parse("body L /x/\ndescribe L English\nlang de describe L Deutsch\n");
  EXPECT_EQ(Get(r, "L").describe, "English");
  ParserOptions options;
  options.language = "de_DE";
  CfParser parser(options);
  parser.ParseText("body L /x/\ndescribe L English\nlang de describe L Deutsch\n", "t.cf");
  auto de = parser.Finish();
  EXPECT_EQ(Get(de, "L").describe, "Deutsch");
}

// ---- rule types ------------------------------------------------------------------------------

TEST(CfRules, BodyRawbodyFullUriWithDelimiters) {
  auto r = Parse(
      "body B1 /foo bar/i\n"
      "body B2 m{a/b}s\n"
      "rawbody R1 m!x/y!\n"
      "full F1 qr<z>m\n"
      "uri U1 m(^https?://x)\n"
      "uri U2 m|a\\|b|\n");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  const Rule& b1 = Get(r, "B1");
  EXPECT_EQ(b1.type, RuleType::kBody);
  EXPECT_FALSE(b1.is_eval);
  EXPECT_EQ(b1.regex.pattern, "foo bar");
  EXPECT_EQ(b1.regex.flags, "i");
  EXPECT_EQ(Get(r, "B2").regex.pattern, "a/b");
  EXPECT_EQ(Get(r, "B2").regex.open_delimiter, '{');
  EXPECT_EQ(Get(r, "R1").type, RuleType::kRawBody);
  EXPECT_EQ(Get(r, "R1").regex.pattern, "x/y");
  EXPECT_EQ(Get(r, "F1").type, RuleType::kFull);
  EXPECT_EQ(Get(r, "F1").regex.close_delimiter, '>');
  EXPECT_EQ(Get(r, "U1").type, RuleType::kUri);
  EXPECT_EQ(Get(r, "U1").regex.pattern, "^https?://x");
  EXPECT_EQ(Get(r, "U2").regex.pattern, "a\\|b");
}

TEST(CfRules, DelimiterErrors) {
  EXPECT_FALSE(ParseDelimitedRegex("foo").has_value());
  EXPECT_FALSE(ParseDelimitedRegex("/foo").has_value());
  EXPECT_FALSE(ParseDelimitedRegex("/foo/e").has_value());  // 'e' is not an allowed flag
  EXPECT_FALSE(ParseDelimitedRegex("/a/b/").has_value());   // unquoted delimiter
  EXPECT_FALSE(ParseDelimitedRegex("m\\a\\").has_value());  // backslash delimiter
  EXPECT_FALSE(ParseDelimitedRegex("m{a").has_value());
  EXPECT_FALSE(ParseDelimitedRegex("/(?{ 1 })/").has_value());
  EXPECT_FALSE(ParseDelimitedRegex("mx").has_value());
  EXPECT_FALSE(ParseDelimitedRegex("").has_value());
  EXPECT_FALSE(ParseDelimitedRegex("/").has_value());
  auto ok = ParseDelimitedRegex("/a\\/b\\\\/is");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->pattern, "a\\/b\\\\");
  EXPECT_EQ(ok->flags, "is");
  auto braces = ParseDelimitedRegex("m{a{2}}");  // bracket delimiters: no inner check
  ASSERT_TRUE(braces.has_value());
  EXPECT_EQ(braces->pattern, "a{2}");
}

TEST(CfRules, EvalRules) {
  auto r = Parse(
      "body E1 eval:check_for_mime('mime_attachment')\n"
      "rawbody E2 eval:check_something()\n"
      "full E3 eval:check_razor2_range('','51','100')\n"
      "header E4 eval:check_header_count_range('To', 2, \"10\")\n"
      "header E5 eval:check_rbl('zen-lastexternal', 'zen.spamhaus.org.', '127.0.0.[2-8]')\n"
      "header E6 rbleval:check_rbl_sub('zen', '127.0.0.2')\n");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  const Rule& e1 = Get(r, "E1");
  EXPECT_TRUE(e1.is_eval);
  EXPECT_EQ(e1.type, RuleType::kBody);
  EXPECT_EQ(e1.eval.function, "check_for_mime");
  EXPECT_THAT(e1.eval.args, ElementsAre("mime_attachment"));
  EXPECT_TRUE(Get(r, "E2").eval.args.empty());
  EXPECT_THAT(Get(r, "E3").eval.args, ElementsAre("", "51", "100"));
  EXPECT_THAT(Get(r, "E4").eval.args, ElementsAre("To", "2", "10"));
  EXPECT_FALSE(Get(r, "E4").is_rbl_eval);
  EXPECT_TRUE(Get(r, "E5").is_rbl_eval);
  EXPECT_EQ(Get(r, "E6").eval.function, "check_rbl_sub");
}

TEST(CfRules, EvalArgumentSplitting) {
  EXPECT_THAT(*ParseEvalArgs(" 'a b' , 1.5,x-y:z "), ElementsAre("a b", "1.5", "x-y:z"));
  EXPECT_THAT(*ParseEvalArgs("'it''s'"), ElementsAre("it''s"));
  EXPECT_TRUE(ParseEvalArgs("   ")->empty());
  EXPECT_FALSE(ParseEvalArgs("a b").has_value());
  EXPECT_FALSE(ParseEvalArgs("'open").has_value());
  EXPECT_FALSE(ParseEvalArgs("$x").has_value());
  auto r = Parse("body BAD_ARGS eval:check_x(a b)\nbody BAD_FN eval:check_x\n");
  EXPECT_EQ(r.ruleset.Find("BAD_ARGS"), nullptr);
  EXPECT_EQ(r.errors.size(), 2u);
}

TEST(CfRules, HeaderModifiersAndPseudoHeaders) {
  auto r = Parse(
      "header H_ADDR From:addr =~ /@example\\.com$/i\n"
      "header H_RAW Subject:raw =~ /=\\?utf-8\\?/\n"
      "header H_NAME From:name =~ /^bob$/\n"
      "header H_TWO EnvelopeFrom:first:addr =~ /x/\n"
      "header H_NEG Message-Id !~ /^<.*>$/ [if-unset: <none>]\n"
      "header H_ALL ALL =~ /^X-Foo:/m\n"
      "header H_TOCC ToCc =~ /x/\n"
      "header H_MSGID MESSAGEID =~ /y/\n"
      "header H_RELAYS X-Spam-Relays-External =~ /^\\[ ip=10\\./\n"
      "header H_EXISTS exists:X-Mailer\n"
      "header H_EXISTS2 exists:List-Id:\n"
      "header H_TIGHT Subject=~/tight/\n");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  EXPECT_EQ(Get(r, "H_ADDR").header.name, "From");
  EXPECT_THAT(Get(r, "H_ADDR").header.modifiers, ElementsAre("addr"));
  EXPECT_EQ(Get(r, "H_ADDR").regex.pattern, "@example\\.com$");
  EXPECT_TRUE(Get(r, "H_RAW").header.HasModifier("raw"));
  EXPECT_TRUE(Get(r, "H_NAME").header.HasModifier("name"));
  EXPECT_THAT(Get(r, "H_TWO").header.modifiers, ElementsAre("first", "addr"));
  const Rule& neg = Get(r, "H_NEG");
  EXPECT_TRUE(neg.header.negated);
  ASSERT_TRUE(neg.header.if_unset.has_value());
  EXPECT_EQ(*neg.header.if_unset, "<none>");
  EXPECT_EQ(neg.regex.pattern, "^<.*>$");
  EXPECT_TRUE(IsPseudoHeader(Get(r, "H_ALL").header.name));
  EXPECT_TRUE(IsPseudoHeader(Get(r, "H_TOCC").header.name));
  EXPECT_TRUE(IsPseudoHeader(Get(r, "H_MSGID").header.name));
  EXPECT_TRUE(IsPseudoHeader(Get(r, "H_RELAYS").header.name));
  EXPECT_TRUE(IsPseudoHeader("EnvelopeFrom"));
  EXPECT_FALSE(IsPseudoHeader("Subject"));
  EXPECT_TRUE(Get(r, "H_EXISTS").header.exists);
  EXPECT_EQ(Get(r, "H_EXISTS").header.name, "X-Mailer");
  EXPECT_EQ(Get(r, "H_EXISTS2").header.name, "List-Id");
  EXPECT_EQ(Get(r, "H_TIGHT").regex.pattern, "tight");
}

TEST(CfRules, HeaderErrors) {
  auto r = Parse(
      "header BAD_MOD From:bogus =~ /x/\n"
      "header BAD_OP Subject ~ /x/\n"
      "header BAD_EXISTS exists:Bad Name\n"
      "header NO_PATTERN Subject =~\n"
      "header 9BAD Subject =~ /x/\n"
      "header ONLYNAME\n");
  EXPECT_TRUE(r.ruleset.rules().empty());
  ASSERT_EQ(r.errors.size(), 6u);
  for (size_t i = 0; i < r.errors.size(); ++i) {
    EXPECT_EQ(r.errors[i].where.file, "test.cf");
    EXPECT_EQ(r.errors[i].where.line, static_cast<int>(i + 1));
  }
  EXPECT_THAT(r.errors[0].message, HasSubstr("modifier"));
}

TEST(CfRules, MimeHeaderNeedsPlugin) {
  const char* text =
      "mimeheader MH_CT Content-Type =~ /application\\/zip/i\n"
      "mimeheader MH_RAW Content-Type:raw !~ /x/\n";
  auto without = Parse(text);
  EXPECT_TRUE(without.ruleset.rules().empty());
  EXPECT_EQ(without.warnings.size(), 1u);
  auto with = Parse(text, {kMimeHeader});
  EXPECT_TRUE(with.errors.empty());
  EXPECT_EQ(Get(with, "MH_CT").type, RuleType::kMimeHeader);
  EXPECT_EQ(Get(with, "MH_CT").header.name, "Content-Type");
  EXPECT_EQ(Get(with, "MH_CT").regex.pattern, "application\\/zip");
  EXPECT_TRUE(Get(with, "MH_RAW").header.HasModifier("raw"));
  EXPECT_TRUE(Get(with, "MH_RAW").header.negated);
}

TEST(CfRules, MetaExpressionAndReferences) {
  auto r = Parse(
      "meta M1 (__A || __B) && !__C\n"
      "meta M2 __A + __B + B_3 > 1\n"
      "meta M3 __E_LIKE_LETTER > ((__LOWER_E * 14) / 10)\n"
      "meta M4 rules_matching(__FOO_*) && !local_tests_only\n"
      "meta BAD1 (__A\n"
      "meta BAD2 __A ** 2\n"
      "meta BAD3 __A; system()\n");
  EXPECT_EQ(Get(r, "M1").meta_expression, "(__A || __B) && !__C");
  EXPECT_THAT(Get(r, "M1").meta_refs, ElementsAre("__A", "__B", "__C"));
  EXPECT_THAT(Get(r, "M2").meta_refs, ElementsAre("__A", "__B", "B_3"));
  EXPECT_THAT(Get(r, "M3").meta_refs, ElementsAre("__E_LIKE_LETTER", "__LOWER_E"));
  EXPECT_TRUE(Get(r, "M4").meta_refs.empty());
  EXPECT_THAT(Get(r, "M4").meta_rules_matching, ElementsAre("__FOO_*"));
  EXPECT_EQ(r.ruleset.Find("BAD1"), nullptr);
  EXPECT_EQ(r.errors.size(), 3u);
}

// ---- attributes ------------------------------------------------------------------------------

TEST(CfAttributes, DescribeScoreTflagsPriority) {
  auto r = Parse(
      "score S4 0 1.5 -2 3.25\n"  // before the rule, as in 50_scores.cf
      "body S4 /x/\n"
      "body S1 /x/\n"
      "score S1 2.5\n"
      "describe S1 First description\n"
      "describe S1 Second description\n"
      "body MULTI /x/\n"
      "tflags MULTI multiple maxhits=5 nosubject\n"
      "priority MULTI -500\n"
      "body REL /x/\n"
      "score REL 1\n"
      "score REL (0.5)\n");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  const Rule& s4 = Get(r, "S4");
  EXPECT_EQ(s4.scores, (std::array<double, 4>{0, 1.5, -2, 3.25}));
  EXPECT_TRUE(s4.has_explicit_score);
  EXPECT_EQ(Get(r, "S1").scores, (std::array<double, 4>{2.5, 2.5, 2.5, 2.5}));
  EXPECT_EQ(Get(r, "S1").describe, "Second description");
  const Rule& multi = Get(r, "MULTI");
  EXPECT_TRUE(multi.HasTflag("multiple"));
  EXPECT_TRUE(multi.HasTflag("nosubject"));
  EXPECT_EQ(multi.MaxHits(), 5);
  EXPECT_EQ(multi.priority, -500);
  EXPECT_EQ(Get(r, "REL").scores[0], 1.5);
}

TEST(CfAttributes, DefaultScores) {
  auto r = Parse(
      "body PLAIN /x/\n"
      "body T_TESTING /x/\n"
      "body NICE /x/\n"
      "tflags NICE nice\n"
      "body T_NICE /x/\n"
      "tflags T_NICE nice userconf\n"
      "body __SUB /x/\n"
      "body ZERO /x/\n"
      "score ZERO 0\n");
  EXPECT_EQ(Get(r, "PLAIN").scores[0], 1.0);
  EXPECT_FALSE(Get(r, "PLAIN").has_explicit_score);
  EXPECT_EQ(Get(r, "T_TESTING").scores[0], 0.01);
  EXPECT_EQ(Get(r, "NICE").scores[0], -1.0);
  EXPECT_EQ(Get(r, "T_NICE").scores[3], -0.01);
  // SA gives __ rules the default 1.0 too; they never add to a message's score.
  EXPECT_EQ(Get(r, "__SUB").scores[0], 1.0);
  EXPECT_TRUE(Get(r, "__SUB").IsSubRule());
  EXPECT_EQ(Get(r, "ZERO").scores[0], 0.0);
}

TEST(CfAttributes, ScoreAndPriorityErrors) {
  auto r = Parse(
      "score A 1 2\n"
      "score B abc\n"
      "score C (1)\n"
      "priority D x\n"
      "describe E\n"
      "tflags F\n");
  EXPECT_EQ(r.errors.size(), 6u);
}

TEST(CfAttributes, NetInheritanceAndPriorityFixups) {
  auto r = Parse(
      "header NET_EVAL eval:check_rbl('x', 'y.')\n"
      "tflags NET_EVAL net\n"
      "meta __M1 NET_EVAL && __LOCAL\n"
      "meta M2 __M1\n"
      "body __LOCAL /x/\n"
      "meta EARLY __LOCAL\n"
      "priority EARLY -200\n"
      "header CAPTURE To:addr =~ /(?<TO_ADDR>.*)/\n"
      "uri USES_CAPTURE /x=%{TO_ADDR}/\n");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  EXPECT_TRUE(Get(r, "__M1").HasTflag("net"));
  EXPECT_TRUE(Get(r, "M2").HasTflag("net"));
  EXPECT_FALSE(Get(r, "__LOCAL").HasTflag("net"));
  EXPECT_EQ(Get(r, "__LOCAL").priority, -200);  // pulled down by EARLY
  EXPECT_TRUE(Get(r, "CAPTURE").defines_captures);
  EXPECT_EQ(Get(r, "CAPTURE").priority, -10000);
  EXPECT_EQ(Get(r, "NET_EVAL").priority, 0);
  EXPECT_EQ(Get(r, "NET_EVAL").RunPriority(), -100);
  EXPECT_THAT(Get(r, "USES_CAPTURE").capture_templates, ElementsAre("TO_ADDR"));
}

// ---- redefinition, reuse, settings -----------------------------------------------------------

TEST(CfRedefinition, LaterDefinitionWinsAndKeepsAttributes) {
  auto r = Parse(
      "header REDEF Subject !~ /old/ [if-unset: x]\n"
      "score REDEF 3\n"
      "describe REDEF Kept\n"
      "body OTHER /x/\n"
      "header REDEF From =~ /new/\n"
      "body BROKEN /good/\n"
      "body BROKEN /bad\n");
  const Rule& redef = Get(r, "REDEF");
  EXPECT_EQ(redef.header.name, "From");
  EXPECT_FALSE(redef.header.negated);
  EXPECT_FALSE(redef.header.if_unset.has_value());
  EXPECT_EQ(redef.regex.pattern, "new");
  EXPECT_EQ(redef.scores[0], 3.0);
  EXPECT_EQ(redef.describe, "Kept");
  EXPECT_EQ(redef.where.line, 5);
  EXPECT_EQ(r.ruleset.rules().front().name, "REDEF");  // keeps its place
  // A broken redefinition leaves the earlier one (as SA does) and is reported.
  EXPECT_EQ(Get(r, "BROKEN").regex.pattern, "good");
  EXPECT_EQ(r.errors.size(), 1u);
}

TEST(CfRedefinition, ReuseAndAskdnsCreateEmptyRules) {
  auto r = Parse(
      "reuse ONLY_REUSED\n"
      "body DEFINED /x/\n"
      "reuse DEFINED OLD_NAME\n"
      "askdns ASKED _AUTHORDOMAIN_.example.com A 127.0.0.2\n");
  EXPECT_EQ(Get(r, "ONLY_REUSED").type, RuleType::kEmpty);
  EXPECT_EQ(Get(r, "DEFINED").type, RuleType::kBody);
  EXPECT_EQ(Get(r, "ASKED").type, RuleType::kEmpty);
}

TEST(CfSettings, ListsKeptInOrderAndUnknownWarnedOnce) {
  auto r = Parse(
      "freemail_domains a.example b.example\n"
      "freemail_domains c.example\n"
      "welcomelist_from *@good.example\n"
      "redirector_pattern /^https?:\\/\\/x\\/(.*)$/i\n"
      "util_rb_tld com net\n"
      "no_such_directive 1\n"
      "no_such_directive 2\n"
      "other_unknown\n");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_THAT(r.ruleset.SettingWords("freemail_domains"),
              ElementsAre("a.example", "b.example", "c.example"));
  EXPECT_THAT(r.ruleset.Setting("welcomelist_from"), ElementsAre("*@good.example"));
  EXPECT_EQ(r.ruleset.Setting("redirector_pattern").size(), 1u);
  EXPECT_THAT(r.ruleset.SettingWords("util_rb_tld"), ElementsAre("com", "net"));
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].where.line, 6);
  EXPECT_THAT(r.warnings[0].message, HasSubstr("no_such_directive"));
  EXPECT_TRUE(r.ruleset.Setting("no_such_directive").empty());
}

// ---- conditionals ----------------------------------------------------------------------------

TEST(CfConditionals, IfIfpluginElseNested) {
  auto r = Parse(
      "loadplugin Mail::SpamAssassin::Plugin::Loaded\n"
      "ifplugin Mail::SpamAssassin::Plugin::Loaded\n"
      "  body IN_LOADED /x/\n"
      "  if (version >= 4.001000)\n"
      "    body TOO_NEW /x/\n"
      "  else\n"
      "    body NOT_TOO_NEW /x/\n"
      "  endif\n"
      "endif\n"
      "ifplugin Mail::SpamAssassin::Plugin::Missing\n"
      "  body IN_MISSING /x/\n"
      "  if (version >= 3.000000)\n"
      "    body NESTED_IN_MISSING /x/\n"
      "  else\n"
      "    body ELSE_IN_MISSING /x/\n"
      "  endif\n"
      "else\n"
      "  body MISSING_ELSE /x/\n"
      "endif\n"
      "if can(Mail::SpamAssassin::Conf::feature_bug6558_free)\n"
      "  body FEATURE /x/\n"
      "endif\n"
      "if !plugin(Mail::SpamAssassin::Plugin::Loaded)\n"
      "  body NOT_LOADED /x/\n"
      "endif\n");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  EXPECT_NE(r.ruleset.Find("IN_LOADED"), nullptr);
  EXPECT_EQ(r.ruleset.Find("TOO_NEW"), nullptr);
  EXPECT_NE(r.ruleset.Find("NOT_TOO_NEW"), nullptr);
  EXPECT_EQ(r.ruleset.Find("IN_MISSING"), nullptr);
  EXPECT_EQ(r.ruleset.Find("NESTED_IN_MISSING"), nullptr);
  EXPECT_EQ(r.ruleset.Find("ELSE_IN_MISSING"), nullptr);
  EXPECT_NE(r.ruleset.Find("MISSING_ELSE"), nullptr);
  EXPECT_NE(r.ruleset.Find("FEATURE"), nullptr);
  EXPECT_EQ(r.ruleset.Find("NOT_LOADED"), nullptr);
  EXPECT_TRUE(r.ruleset.plugins().count("Mail::SpamAssassin::Plugin::Loaded"));
}

TEST(CfConditionals, UnbalancedAreErrorsWithFileAndLine) {
  auto r = Parse(
      "endif\n"
      "else\n"
      "if (version >= 3.0)\n"
      "endif extra\n"
      "if version >=\n"
      "endif\n"
      "ifplugin Mail::SpamAssassin::Plugin::X\n");
  std::vector<std::string> m = Messages(r.errors);
  ASSERT_EQ(m.size(), 6u) << ::testing::PrintToString(m);
  EXPECT_THAT(m[0], HasSubstr("test.cf:1:"));
  EXPECT_THAT(m[1], HasSubstr("test.cf:2:"));
  EXPECT_THAT(m[2], HasSubstr("test.cf:4:"));
  EXPECT_THAT(m[3], HasSubstr("test.cf:5:"));
  // The if of line 3 is still open (its endif had a value); so is the ifplugin of line 7.
  EXPECT_THAT(m[4], HasSubstr("test.cf:3:"));
  EXPECT_THAT(m[5], HasSubstr("test.cf:7:"));
}

TEST(CfConditionals, RequireVersionSkipsRestOfFile) {
  auto r = Parse("body BEFORE /x/\nrequire_version 3.002000\nbody AFTER /x/\n");
  EXPECT_NE(r.ruleset.Find("BEFORE"), nullptr);
  EXPECT_EQ(r.ruleset.Find("AFTER"), nullptr);
  EXPECT_EQ(r.warnings.size(), 1u);
  auto same = Parse("require_version 4.000001\nbody AFTER /x/\n");
  EXPECT_NE(same.ruleset.Find("AFTER"), nullptr);
}

// ---- replace_tag / replace_rules -------------------------------------------------------------

TEST(CfReplaceTags, AppliedToListedRulesOnly) {
  const char* text =
      "replace_tag A (?:a|4)\n"
      "replace_tag B (?:b|8)\n"
      "replace_tag AB <A><B>\n"
      "replace_inter W1 \\W?\n"
      "replace_pre P1 \\b\n"
      "replace_post P2 \\s*\n"
      "body R1 /<A><B>c/i\n"
      "body R2 /<inter W1><A><B>/\n"
      "body R3 /<pre P1><A>x<post P2><B>/\n"
      "body R4 /<AB>/\n"
      "body R5 /<A><UNKNOWN>/\n"
      "body NOT_LISTED /<A>/\n"
      "header H1 Subject =~ /<A>/\n"
      "meta M1 R1\n"
      "replace_rules R1 R2 R3\n"
      "replace_rules R4 R5 H1 M1 UNDEFINED\n";
  auto r = Parse(text, {kReplaceTags});
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  EXPECT_EQ(Get(r, "R1").regex.pattern, "(?:a|4)(?:b|8)c");
  EXPECT_EQ(Get(r, "R1").regex.original_pattern, "<A><B>c");
  EXPECT_TRUE(Get(r, "R1").replaced);
  EXPECT_EQ(Get(r, "R1").regex.flags, "i");
  EXPECT_EQ(Get(r, "R2").regex.pattern, "(?:a|4)\\W?(?:b|8)");
  EXPECT_EQ(Get(r, "R3").regex.pattern, "\\b(?:a|4)\\s*x\\b(?:b|8)\\s*");
  EXPECT_EQ(Get(r, "R4").regex.pattern, "(?:a|4)(?:b|8)");  // nested tags: another pass
  EXPECT_EQ(Get(r, "R5").regex.pattern, "(?:a|4)<UNKNOWN>");
  EXPECT_EQ(Get(r, "NOT_LISTED").regex.pattern, "<A>");
  EXPECT_FALSE(Get(r, "NOT_LISTED").replaced);
  EXPECT_EQ(Get(r, "H1").regex.pattern, "(?:a|4)");
  EXPECT_EQ(r.ruleset.replace_tags().at("A"), "(?:a|4)");
  // Without the ReplaceTags plugin nothing is replaced.
  auto off = Parse(text);
  EXPECT_EQ(Get(off, "R1").regex.pattern, "<A><B>c");
}

// ---- files, directories, include -------------------------------------------------------------

const std::string kRulesDir = std::string(MAILSIFT_SOURCE_DIR) + "/testdata/rules";

TEST(CfFiles, DirectoryOrderIncludeAndPreFiles) {
  RulePaths paths;
  paths.pre_paths.push_back(kRulesDir + "/site");
  paths.rule_paths.push_back(kRulesDir + "/dir");
  paths.rule_paths.push_back(kRulesDir + "/does-not-exist");
  auto r = LoadRules(paths);
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  const Rule& first = Get(r, "FIRST_RULE");
  EXPECT_EQ(first.regex.pattern, "second definition");  // 20_second.cf after 10_first.cf
  EXPECT_EQ(first.scores[0], 2.5);
  EXPECT_THAT(first.where.file, HasSubstr("20_second.cf"));
  const Rule& included = Get(r, "INCLUDED_RULE");
  EXPECT_THAT(included.where.file, HasSubstr("sub/extra.inc"));
  EXPECT_EQ(included.where.line, 2);
  EXPECT_NE(r.ruleset.Find("ONLY_WITH_TEST_PLUGIN"), nullptr);  // plugin from init.pre
  EXPECT_EQ(r.ruleset.Find("NOT_READ"), nullptr);
}

TEST(CfFiles, WithoutPreFilesPluginBlocksAreSkipped) {
  RulePaths paths;
  paths.rule_paths.push_back(kRulesDir + "/dir");
  auto r = LoadRules(paths);
  EXPECT_EQ(r.ruleset.Find("ONLY_WITH_TEST_PLUGIN"), nullptr);
}

TEST(CfFiles, ErrorsNameFileAndLineAndRefuseTheRuleset) {
  RulePaths paths;
  paths.rule_paths.push_back(kRulesDir + "/errors.cf");
  auto r = LoadRules(paths);
  std::vector<std::string> m = Messages(r.errors);
  ASSERT_EQ(m.size(), 4u) << ::testing::PrintToString(m);
  EXPECT_THAT(m[0], HasSubstr("errors.cf:3: rule BAD_DELIM"));
  EXPECT_THAT(m[1], HasSubstr("errors.cf:4: rule BAD_HEADER"));
  EXPECT_THAT(m[2], HasSubstr("errors.cf:5: 'endif' without 'if'"));
  EXPECT_THAT(m[3], HasSubstr("errors.cf:6: unclosed"));
  EXPECT_NE(r.ruleset.Find("GOOD_ONE"), nullptr);
  auto strict = LoadRuleset(paths);
  ASSERT_FALSE(strict.has_value());
  EXPECT_THAT(strict.error().message, HasSubstr("4 error(s)"));
  EXPECT_THAT(strict.error().message, HasSubstr("errors.cf:3:"));
}

TEST(CfFiles, IncludeErrors) {
  CfParser parser;
  parser.ParseText("include missing.cf\ninclude\n", kRulesDir + "/virtual.cf");
  auto r = parser.Finish();
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].where.line, 1);
  EXPECT_THAT(r.errors[0].message, HasSubstr("missing.cf"));
}

TEST(CfFiles, SaUpdateDirectoryTakesPrecedence) {
  RulePaths p = StandardRulePaths({kRulesDir + "/saupdate/4.000001", kRulesDir + "/dir"},
                                  kRulesDir + "/site");
  auto r = LoadRules(p);
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(Messages(r.errors));
  ASSERT_NE(r.ruleset.Find("FROM_SA_UPDATE"), nullptr);
  EXPECT_EQ(r.ruleset.Find("FROM_SA_UPDATE")->scores[0], 0.5);
  EXPECT_EQ(r.ruleset.Find("FIRST_RULE"), nullptr);  // the packaged rules are not read
  EXPECT_THAT(r.ruleset.Setting("required_score"), ElementsAre("5.0"));
}

TEST(CfFiles, StandardPathsPreferTheFirstExistingDefaultDir) {
  RulePaths p = StandardRulePaths({kRulesDir + "/nope", kRulesDir + "/dir"}, kRulesDir + "/site");
  ASSERT_EQ(p.rule_paths.size(), 2u);
  EXPECT_EQ(p.rule_paths[0], kRulesDir + "/dir");
  EXPECT_EQ(p.rule_paths[1], kRulesDir + "/site");
  EXPECT_EQ(p.pre_paths.front(), kRulesDir + "/site");
}

}  // namespace
}  // namespace mailsift::rules
