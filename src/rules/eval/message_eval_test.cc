// Tests for rules/message_eval: SA's MIME tree, the shared facts, and each eval (hit / no hit).
#include "rules/eval/message_eval.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

struct Evaluated {
  mime::Message message;
  MessageFacts facts;
  std::vector<std::string> lines;
};

Evaluated Eval(const std::string& raw, std::vector<std::string> lines = {}) {
  Evaluated e{mime::ParseMessage(raw), {}, std::move(lines)};
  e.facts = ComputeMessageFacts(e.message);
  return e;
}

bool Call(const Evaluated& e, std::string_view fn, std::vector<std::string> args = {}) {
  const EvalFunction* f = FindEvalIn(MessageEvals(), fn);
  EXPECT_NE(f, nullptr) << fn;
  if (f == nullptr) return false;
  static const std::shared_ptr<const EvalConfig> kConfig = BuildEvalConfig({});
  EvalTestMessage m(e.message.raw(), *kConfig);
  m.input.known().facts = e.facts;
  m.input.known().body_lines = &e.lines;
  return (*f)(m.input, args);
}

const char kPlain[] = "Subject: hello\nFrom: a@example.com\n\nJust a plain body.\n";

const char kHtmlOnly[] =
    "Subject: hi\nContent-Type: text/html\n\n"
    "<html><head><title>A title</title></head><body><center>x"
    "<!-- saved from url=(0022)http://internet.e-mail -->"
    "<font face=\"1bad\">hello</font><img src=\"a.gif\" width=\"300\" height=\"300\">"
    "<iframe src=\"http://example.com/x\"></iframe></body></html>\n";

const char kAlternative[] =
    "Subject: alt\nMIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"BB\"\n\n"
    "preamble\n"
    "--BB\nContent-Type: text/plain; charset=us-ascii\n\nhello world words\n"
    "--BB\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n"
    "<html><body>completely different text here =2C</body></html>\n"
    "--BB--\n"
    "epilogue text\n";

TEST(MessageEvalTree, BuildsSaTree) {
  Evaluated e = Eval(kAlternative);
  ASSERT_EQ(e.facts.nodes.size(), 3u);
  EXPECT_EQ(e.facts.nodes[0].type, "multipart/alternative");
  EXPECT_FALSE(e.facts.nodes[0].leaf);
  EXPECT_EQ(e.facts.nodes[1].type, "text/plain");
  EXPECT_EQ(e.facts.nodes[2].type, "text/html");
  // The line break before the delimiter belongs to it.
  ASSERT_EQ(e.facts.nodes[1].raw_lines.size(), 1u);
  EXPECT_EQ(e.facts.nodes[1].raw_lines[0], "hello world words");
  EXPECT_EQ(e.facts.html_all.size(), 1u);
}

TEST(MessageEvalTree, NestedRfc822IsParsed) {
  Evaluated e = Eval(
      "Subject: fwd\nContent-Type: multipart/mixed; boundary=X\n\n--X\n"
      "Content-Type: message/rfc822\n\nSubject: inner\nContent-Type: text/html\n\n<b>x</b>\n"
      "--X--\n");
  // The message/rfc822 part holds the inner message, itself a text/html leaf.
  ASSERT_EQ(e.facts.dfs.size(), 3u);
  EXPECT_EQ(e.facts.nodes[e.facts.dfs[1]].type, "message/rfc822");
  EXPECT_EQ(e.facts.nodes[e.facts.dfs[2]].type, "text/html");
  EXPECT_EQ(e.facts.html_all.size(), 1u);
}

TEST(HtmlEval, HtmlTest) {
  EXPECT_TRUE(Call(Eval(kHtmlOnly), "html_test", {"html"}));
  EXPECT_TRUE(Call(Eval(kHtmlOnly), "html_test", {"font_face_bad"}));
  EXPECT_FALSE(Call(Eval(kHtmlOnly), "html_test", {"embeds"}));
  EXPECT_FALSE(Call(Eval(kPlain), "html_test", {"html"}));
}

TEST(HtmlEval, TagExistsAndBalance) {
  Evaluated e = Eval(kHtmlOnly);
  EXPECT_TRUE(Call(e, "html_tag_exists", {"center"}));
  EXPECT_FALSE(Call(e, "html_tag_exists", {"bgsound"}));
  EXPECT_TRUE(Call(e, "html_tag_balance", {"center", "!= 0"}));
  EXPECT_FALSE(Call(e, "html_tag_balance", {"body", "!= 0"}));
  EXPECT_FALSE(Call(e, "html_tag_balance", {"center", "!= 0; system"}));  // bad expression
}

TEST(HtmlEval, TextMatch) {
  Evaluated e = Eval(kHtmlOnly);
  EXPECT_TRUE(Call(e, "html_text_match", {"comment", "<!-- saved from url=\\(\\d{4}\\)"}));
  EXPECT_TRUE(Call(e, "html_text_match", {"comment", "<!.*?>"}));
  EXPECT_FALSE(Call(e, "html_text_match", {"comment", "<!(?!-).{0,6}>"}));
  EXPECT_FALSE(Call(e, "html_text_match", {"title", ".{120}"}));
  EXPECT_FALSE(Call(e, "html_text_match", {"comment", "(unbalanced"}));
}

TEST(HtmlEval, RangeEvalImage) {
  Evaluated e = Eval(kHtmlOnly);
  EXPECT_TRUE(Call(e, "html_range", {"length", "0", "1024"}));
  EXPECT_FALSE(Call(e, "html_range", {"length", "1024", "1536"}));
  EXPECT_FALSE(Call(e, "html_range", {"max_size", "6", "inf"}));
  EXPECT_TRUE(Call(e, "html_eval", {"length", "< 384"}));
  EXPECT_FALSE(Call(e, "html_eval", {"length", "< 10"}));
  EXPECT_TRUE(Call(e, "html_image_only", {"0000", "0400"}));
  EXPECT_FALSE(Call(e, "html_image_only", {"0400", "0800"}));
  // non_space_len 6 ("xhello") / 90000.
  EXPECT_TRUE(Call(e, "html_image_ratio", {"0.000", "0.002"}));
  EXPECT_FALSE(Call(e, "html_image_ratio", {"0.002", "0.004"}));
  EXPECT_TRUE(Call(e, "check_iframe_src"));
  EXPECT_FALSE(Call(Eval(kAlternative), "check_iframe_src"));
}

TEST(HtmlEval, TitleSubjectRatio) {
  Evaluated e =
      Eval("Subject: s\nContent-Type: text/html\n\n<title>a long title here</title>text\n");
  EXPECT_TRUE(Call(e, "html_title_subject_ratio", {"3.5"}));
  EXPECT_FALSE(Call(Eval(kHtmlOnly), "html_title_subject_ratio", {"3.5"}));
  EXPECT_FALSE(Call(e, "html_charset_faraway"));
}

TEST(MimeEval, CheckForMime) {
  Evaluated alt = Eval(kAlternative);
  EXPECT_TRUE(Call(alt, "check_for_mime", {"mime_qp_count"}));
  // mime_qp_count ends up as the number of QP-escaped characters, and "=3D" is not counted.
  Evaluated eq = Eval("Subject: x\nContent-Transfer-Encoding: quoted-printable\n\na=3Db\n");
  EXPECT_FALSE(Call(eq, "check_for_mime", {"mime_qp_count"}));
  EXPECT_TRUE(Call(alt, "check_for_mime", {"mime_multipart_alternative"}));
  EXPECT_FALSE(Call(alt, "check_for_mime", {"mime_base64_count"}));
  EXPECT_FALSE(Call(alt, "check_for_mime", {"mime_attachment"}));
  EXPECT_FALSE(Call(alt, "check_for_mime", {"mimepart_limit_exceeded"}));
  Evaluated b64 = Eval(
      "Subject: x\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
      "aGVsbG8gd29ybGQ=\n");
  EXPECT_TRUE(Call(b64, "check_for_mime", {"mime_base64_count"}));
  EXPECT_TRUE(Call(b64, "check_for_mime", {"mime_base64_encoded_text"}));
  Evaluated qp = Eval("Subject: x\nContent-Transfer-Encoding: quoted-printable\n\n" +
                      std::string(90, 'a') + "\n");
  EXPECT_TRUE(Call(qp, "check_for_mime", {"mime_qp_long_line"}));
  EXPECT_FALSE(Call(alt, "check_for_mime", {"mime_qp_long_line"}));
}

TEST(MimeEval, HtmlOnlyAndRatio) {
  EXPECT_TRUE(Call(Eval(kHtmlOnly), "check_for_mime_html"));
  EXPECT_TRUE(Call(Eval(kHtmlOnly), "check_for_mime_html_only"));
  EXPECT_TRUE(Call(Eval(kAlternative), "check_for_mime_html"));
  EXPECT_FALSE(Call(Eval(kAlternative), "check_for_mime_html_only"));
  EXPECT_FALSE(Call(Eval(kPlain), "check_for_mime_html"));
  // text 17 bytes / html 60 bytes.
  EXPECT_TRUE(Call(Eval(kAlternative), "check_mime_multipart_ratio", {"0.00", "0.5"}));
  EXPECT_FALSE(Call(Eval(kAlternative), "check_mime_multipart_ratio", {"0.00", "0.01"}));
}

TEST(MimeEval, AsciiIllegalAndUnicode) {
  EXPECT_TRUE(Call(Eval("Subject: x\n\nna\xc3\xafve\n"), "check_for_ascii_text_illegal"));
  EXPECT_FALSE(Call(Eval(kPlain), "check_for_ascii_text_illegal"));
  EXPECT_TRUE(
      Call(Eval("Subject: x\n\n&#x4E2D;&#x6587;ab\n"), "check_abundant_unicode_ratio", {"0.05"}));
  EXPECT_FALSE(Call(Eval(kPlain), "check_abundant_unicode_ratio", {"0.05"}));
}

TEST(MimeEval, Uppercase) {
  std::vector<std::string> upper{"hi\n", std::string(30, ' ') + "\n"};
  std::string shout;
  for (int i = 0; i < 30; ++i) shout += "BUY NOW ";
  upper.push_back(shout + "\n");
  EXPECT_TRUE(Call(Eval(kPlain, upper), "check_for_uppercase", {"75", "100"}));
  EXPECT_FALSE(Call(Eval(kPlain, upper), "check_for_uppercase", {"25", "50"}));
  std::vector<std::string> shorty{"SHORT LINE\n"};
  EXPECT_FALSE(Call(Eval(kPlain, shorty), "check_for_uppercase", {"75", "100"}));
}

TEST(MimeEval, Base64LengthAndMaNonText) {
  std::string msg =
      "Subject: x\nContent-Type: multipart/alternative; boundary=Q\n\n--Q\n"
      "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" +
      std::string(78, 'A') + "\n" + std::string(76, 'A') + "\n--Q--\n";
  Evaluated e = Eval(msg);
  EXPECT_TRUE(Call(e, "check_base64_length", {"79"}));
  EXPECT_FALSE(Call(e, "check_base64_length", {"78", "78"}));
  EXPECT_TRUE(Call(e, "check_ma_non_text"));
  EXPECT_FALSE(Call(Eval(kAlternative), "check_ma_non_text"));
}

TEST(MimeEval, ParseFlags) {
  Evaluated alt = Eval(kAlternative);
  EXPECT_TRUE(Call(alt, "check_msg_parse_flags", {"mime_epilogue_exists"}));
  EXPECT_FALSE(Call(alt, "check_msg_parse_flags", {"missing_mime_headers"}));
  Evaluated bad = Eval(
      "Subject: x\nContent-Type: multipart/mixed; boundary=Z\n\n--Z\nno headers here\n--Z--\n");
  EXPECT_TRUE(Call(bad, "check_msg_parse_flags", {"missing_mime_headers"}));
  EXPECT_TRUE(
      Call(Eval("Subject: x\nFrom: y"), "check_msg_parse_flags", {"missing_head_body_separator"}));
  EXPECT_FALSE(Call(Eval(kPlain), "check_msg_parse_flags", {"missing_head_body_separator"}));
  EXPECT_TRUE(Call(Eval("Subject: x\nX-Long: " + std::string(9000, 'a') + "\n\nb\n"),
                   "check_msg_parse_flags", {"truncated_header"}));
  // A missing close delimiter: mime_missing_boundary.
  Evaluated open = Eval("Subject: x\nContent-Type: multipart/mixed; boundary=Z\n\n--Z\n\nb\n");
  EXPECT_TRUE(Call(open, "check_for_mime", {"mime_missing_boundary"}));
  EXPECT_FALSE(Call(alt, "check_for_mime", {"mime_missing_boundary"}));
  EXPECT_FALSE(Call(alt, "check_for_faraway_charset"));
}

TEST(BodyEval, BodyLength) {
  EXPECT_TRUE(Call(Eval(kPlain), "check_body_length", {"128"}));
  EXPECT_FALSE(Call(Eval(kAlternative), "check_body_length", {"128"}));
}

TEST(BodyEval, MultipartAlternativeDifference) {
  Evaluated e = Eval(kAlternative);
  EXPECT_DOUBLE_EQ(e.facts.madiff, 100.0);
  EXPECT_TRUE(Call(e, "multipart_alternative_difference", {"99", "100"}));
  EXPECT_FALSE(Call(e, "multipart_alternative_difference_count", {"3", "1"}));
  Evaluated same = Eval(
      "Subject: alt\nContent-Type: multipart/alternative; boundary=B\n\n"
      "--B\nContent-Type: text/plain\n\nsame words\n"
      "--B\nContent-Type: text/html\n\n<p>same words</p>\n--B--\n");
  EXPECT_FALSE(Call(same, "multipart_alternative_difference", {"99", "100"}));
}

TEST(BodyEval, BlankLineRatioAndVerticalWords) {
  Evaluated blank = Eval("Subject: x\n\na\n\n\n\n\n\n\n\n\nb\n");
  EXPECT_TRUE(Call(blank, "check_blank_line_ratio", {"70", "90", "4"}));
  EXPECT_FALSE(Call(Eval(kPlain), "check_blank_line_ratio", {"80", "90", "4"}));
  std::vector<std::string> vertical{"subject\n", "v e r t i c a l\n"};
  EXPECT_FALSE(Call(Eval(kPlain, vertical), "tvd_vertical_words", {"0", "10"}));
  std::vector<std::string> normal{"subject\n", "a normal sentence of words\n"};
  EXPECT_TRUE(Call(Eval(kPlain, normal), "tvd_vertical_words", {"0", "30"}));
}

TEST(BodyEval, RenderedBodyLines) {
  Evaluated e = Eval("Subject: subj\n\npara one\n  line two\n\n\n para\ttwo\n");
  std::vector<std::string> lines = SaRenderedBodyLines(e.facts);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "subj\n");
  EXPECT_EQ(lines[1], "para one line two\n");
  EXPECT_EQ(lines[2], " para two ");
}

TEST(BodyEval, StockInfo) {
  Evaluated stock =
      Eval("Subject: x\n\nCompany: Foo Corp\nSymbol: FOOC\nCurrent Price: $0.10\nTarget: $2\n");
  EXPECT_EQ(stock.facts.stock_info, 4u);
  EXPECT_TRUE(Call(stock, "check_stock_info", {"2"}));
  EXPECT_FALSE(Call(Eval(kPlain), "check_stock_info", {"2"}));
}

TEST(MessageEval, UnknownNameAndMalformedInput) {
  EXPECT_EQ(FindEvalIn(MessageEvals(), "no_such_eval"), nullptr);
  for (const std::string& raw : {std::string(), std::string("\n"), std::string("--x\n--x--\n"),
                                 std::string("Content-Type: multipart/mixed; boundary=\"\n\n--\n"),
                                 std::string("Content-Type: message/rfc822\n\n")}) {
    Evaluated e = Eval(raw);
    EXPECT_FALSE(e.facts.nodes.empty());
    Call(e, "check_for_mime", {"mime_base64_count"});
    Call(e, "html_range", {});
    Call(e, "check_for_uppercase", {});
  }
}

}  // namespace
}  // namespace mailsift::rules
