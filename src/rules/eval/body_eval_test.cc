// rules/eval/body_eval_test.cc — BodyEval's evals: a hit and a no-hit per function.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

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

TEST(BodyEval, StockInfo) {
  Evaluated stock =
      Eval("Subject: x\n\nCompany: Foo Corp\nSymbol: FOOC\nCurrent Price: $0.10\nTarget: $2\n");
  EXPECT_EQ(stock.facts.stock_info, 4u);
  EXPECT_TRUE(Call(stock, "check_stock_info", {"2"}));
  EXPECT_FALSE(Call(Eval(kPlain), "check_stock_info", {"2"}));
}

}  // namespace
}  // namespace mailsift::rules
