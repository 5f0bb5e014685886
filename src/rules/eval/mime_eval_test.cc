// rules/eval/mime_eval_test.cc — MIMEEval's evals: a hit and a no-hit per function; malformed
// MIME never fails an eval.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

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

TEST(MessageEval, UnknownNameAndMalformedInput) {
  EvalKind kind;
  EXPECT_EQ(FindEval("no_such_eval", &kind), nullptr);
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
