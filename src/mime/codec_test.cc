#include "mime/codec.h"

#include <gtest/gtest.h>

namespace mailsift::mime {
namespace {

std::string B64(std::string_view in, DecodeStats* stats = nullptr) {
  std::string out;
  DecodeBase64(in, out, SIZE_MAX, stats);
  return out;
}

std::string Qp(std::string_view in, DecodeStats* stats = nullptr) {
  std::string out;
  DecodeQuotedPrintable(in, out, SIZE_MAX, stats);
  return out;
}

TEST(Base64, Basics) {
  EXPECT_EQ(B64(""), "");
  EXPECT_EQ(B64("aGVsbG8="), "hello");
  EXPECT_EQ(B64("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(B64("YQ=="), "a");
  EXPECT_EQ(B64("YWI="), "ab");
  EXPECT_EQ(B64("YWJj"), "abc");
  EXPECT_EQ(B64("/+8="), "\xff\xef");
}

TEST(Base64, WhitespaceAndGarbage) {
  DecodeStats stats;
  EXPECT_EQ(B64("aGVs\r\nbG8g\n d29y bGQ=\r\n", &stats), "hello world");
  EXPECT_EQ(stats.bad_bytes, 0u);
  EXPECT_EQ(B64("aG!Vs*bG8", &stats), "hello");
  EXPECT_EQ(stats.bad_bytes, 2u);
  EXPECT_EQ(B64("YQ"), "a");       // missing padding
  EXPECT_EQ(B64("YWJjZ"), "abc");  // a dangling sextet is dropped
}

TEST(Base64, ConcatenatedBlocksAfterPadding) {
  EXPECT_EQ(B64("YQ==YWI="), "aab");
  EXPECT_EQ(B64("YQ==\nYg=="), "ab");
  EXPECT_EQ(B64("===="), "");
}

TEST(Base64, Cap) {
  std::string out;
  EXPECT_TRUE(DecodeBase64("aGVsbG8gd29ybGQ=", out, 5));
  EXPECT_EQ(out, "hello");
  out.clear();
  EXPECT_FALSE(DecodeBase64("aGVsbG8=", out, 5));
  EXPECT_EQ(out, "hello");
}

TEST(QuotedPrintable, Basics) {
  EXPECT_EQ(Qp("caf=E9"), "caf\xe9");
  EXPECT_EQ(Qp("caf=e9"), "caf\xe9");
  EXPECT_EQ(Qp("a=3Db"), "a=b");
  EXPECT_EQ(Qp("line1\r\nline2\r\n"), "line1\r\nline2\r\n");
}

TEST(QuotedPrintable, SoftBreaks) {
  EXPECT_EQ(Qp("long=\r\nline"), "longline");
  EXPECT_EQ(Qp("long=\nline"), "longline");
  EXPECT_EQ(Qp("long=  \t\r\nline"), "longline");  // blanks after "="
  EXPECT_EQ(Qp("end="), "end");
  EXPECT_EQ(Qp("end=\r"), "end");
}

TEST(QuotedPrintable, TrailingBlanksDropped) {
  EXPECT_EQ(Qp("a  \r\nb\t\nc "), "a\r\nb\nc");
  EXPECT_EQ(Qp("a b"), "a b");
  EXPECT_EQ(Qp("a=20\r\n"), "a \r\n");  // encoded blanks stay
}

TEST(QuotedPrintable, BadEscapesKept) {
  DecodeStats stats;
  EXPECT_EQ(Qp("100% =ZZ =A =", &stats), "100% =ZZ =A ");
  EXPECT_EQ(stats.bad_bytes, 2u);
  EXPECT_EQ(Qp("=G1=4"), "=G1=4");
  EXPECT_EQ(Qp("a=\r=41"), "a=\rA");
}

TEST(QuotedPrintable, Cap) {
  std::string out;
  EXPECT_TRUE(DecodeQuotedPrintable("abc=41def", out, 4));
  EXPECT_EQ(out, "abcA");
}

TEST(QEncoding, UnderscoreAndEscapes) {
  EXPECT_EQ(DecodeQEncoding("a_b=5Fc=3d"), "a b_c=");
  EXPECT_EQ(DecodeQEncoding("=4"), "=4");
}

}  // namespace
}  // namespace mailsift::mime
