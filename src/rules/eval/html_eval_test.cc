// rules/eval/html_eval_test.cc — HTMLEval's evals: a hit and a no-hit per function.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

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

}  // namespace
}  // namespace mailsift::rules
