#include "mime/charset.h"

#include <gtest/gtest.h>

namespace mailsift::mime {
namespace {

TEST(Charset, Utf8PassesAndInvalidBytesAreReplaced) {
  EXPECT_EQ(ToUtf8("caf\xc3\xa9", "UTF-8"), "caf\xc3\xa9");
  EXPECT_EQ(ToUtf8("a\xff"
                   "b",
                   "utf-8"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(ToUtf8("\xc3", "utf8"), "\xef\xbf\xbd");                                   // truncated
  EXPECT_EQ(ToUtf8("\xc0\xaf", "utf-8"), "\xef\xbf\xbd\xef\xbf\xbd");                  // overlong
  EXPECT_EQ(ToUtf8("\xed\xa0\x80", "utf-8"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
}

TEST(Charset, Latin1IsReadAsWindows1252) {
  EXPECT_EQ(ToUtf8("caf\xe9", "iso-8859-1"), "caf\xc3\xa9");
  EXPECT_EQ(ToUtf8("\x93quoted\x94", "ISO-8859-1"), "\xe2\x80\x9cquoted\xe2\x80\x9d");
  EXPECT_EQ(ToUtf8("\x80", "windows-1252"), "\xe2\x82\xac");
  EXPECT_EQ(ToUtf8("\"\x80\"", "\"cp1252\""), "\"\xe2\x82\xac\"");
}

TEST(Charset, Koi8r) {
  EXPECT_EQ(ToUtf8("\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r"),
            "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");  // Привет
}

TEST(Charset, Gb2312) {
  EXPECT_EQ(ToUtf8("\xc4\xe3\xba\xc3", "gb2312"), "\xe4\xbd\xa0\xe5\xa5\xbd");  // 你好
  EXPECT_EQ(ToUtf8("\xc4\xe3\xba\xc3", "GBK"), "\xe4\xbd\xa0\xe5\xa5\xbd");
}

TEST(Charset, OtherIcuCharsets) {
  EXPECT_EQ(ToUtf8("\xe9", "iso-8859-2"), "\xc3\xa9");
  EXPECT_EQ(ToUtf8("\x82\xa0", "shift_jis"), "\xe3\x81\x82");  // あ
  EXPECT_EQ(ToUtf8("\x1b$B$\"\x1b(B", "iso-2022-jp"), "\xe3\x81\x82");
  EXPECT_EQ(ToUtf8(std::string_view("a\0b\0", 4), "utf-16le"), "ab");
}

TEST(Charset, UnknownOrMissingCharset) {
  EXPECT_EQ(ToUtf8("caf\xe9", "x-no-such-charset"), "caf\xc3\xa9");
  EXPECT_EQ(ToUtf8("caf\xe9", ""), "caf\xc3\xa9");
  EXPECT_EQ(ToUtf8("caf\xc3\xa9", ""), "caf\xc3\xa9");  // valid UTF-8 stays
  EXPECT_EQ(ToUtf8("caf\xc3\xa9", "us-ascii"), "caf\xc3\xa9");
  EXPECT_EQ(ToUtf8("caf\xe9", "us-ascii"), "caf\xc3\xa9");
  EXPECT_EQ(ToUtf8("x", std::string(500, 'a')), "x");
  EXPECT_EQ(ToUtf8("x\xe9", "\x01\xff"), "x\xc3\xa9");
}

TEST(Charset, InvalidBytesInMultibyteCharsetReplaced) {
  std::string out = ToUtf8(
      "a\xff\xff"
      "b",
      "shift_jis");
  EXPECT_EQ(out.front(), 'a');
  EXPECT_EQ(out.back(), 'b');
  EXPECT_TRUE(IsValidUtf8(out));
  EXPECT_NE(out.find("\xef\xbf\xbd"), std::string::npos);
}

TEST(Charset, Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_EQ(SanitizeUtf8("ok\x80"), "ok\xef\xbf\xbd");
}

}  // namespace
}  // namespace mailsift::mime
