#include "mime/params.h"

#include <gtest/gtest.h>

namespace mailsift::mime {
namespace {

TEST(ContentType, TypeSubtypeAndParameters) {
  ContentType ct = ParseContentType("Multipart/Mixed; boundary=\"=_abc; def\"; CHARSET=utf-8");
  EXPECT_EQ(ct.MimeType(), "multipart/mixed");
  EXPECT_TRUE(ct.IsMultipart());
  EXPECT_EQ(ct.Param("boundary"), "=_abc; def");
  EXPECT_EQ(ct.Param("charset"), "utf-8");
  EXPECT_FALSE(ct.malformed);
}

TEST(ContentType, Defaults) {
  ContentType none;
  EXPECT_EQ(none.MimeType(), "text/plain");
  EXPECT_FALSE(none.present);
  ContentType bad = ParseContentType("garbage; charset=koi8-r");
  EXPECT_TRUE(bad.malformed);
  EXPECT_EQ(bad.MimeType(), "text/plain");
  EXPECT_EQ(bad.Param("charset"), "koi8-r");
  EXPECT_TRUE(ParseContentType("").malformed);
  EXPECT_TRUE(ParseContentType("text/").malformed);
}

TEST(ContentType, Lenient) {
  ContentType ct = ParseContentType("text / html ;charset = \"iso-8859-1\" ;;");
  EXPECT_EQ(ct.MimeType(), "text/html");
  EXPECT_EQ(ct.Param("charset"), "iso-8859-1");
  ContentType no_semi = ParseContentType("multipart/alternative boundary=xyz");
  EXPECT_EQ(no_semi.MimeType(), "multipart/alternative");
  EXPECT_EQ(no_semi.Param("boundary"), "xyz");
  ContentType unquoted = ParseContentType("application/pdf; name=my file.pdf");
  EXPECT_EQ(unquoted.Param("name"), "my file.pdf");
  ContentType open_quote = ParseContentType("text/plain; name=\"abc");
  EXPECT_EQ(open_quote.Param("name"), "abc");
  ContentType escaped = ParseContentType(R"(text/plain; name="a\"b\\c")");
  EXPECT_EQ(escaped.Param("name"), "a\"b\\c");
  ContentType first_wins = ParseContentType("text/plain; charset=a; charset=b");
  EXPECT_EQ(first_wins.Param("charset"), "a");
}

TEST(Rfc2231, CharsetAndLanguage) {
  Parameters p = ParseParameters("; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].name, "title");
  EXPECT_EQ(p[0].value, "This is ***fun***");
  EXPECT_TRUE(p[0].extended);
  Parameters latin = ParseParameters("filename*=iso-8859-1''caf%E9.txt");
  EXPECT_EQ(*FindParameter(latin, "filename"), "caf\xc3\xa9.txt");
  Parameters utf8 = ParseParameters("filename*=UTF-8''%E2%82%AC.pdf");
  EXPECT_EQ(*FindParameter(utf8, "filename"), "\xe2\x82\xac.pdf");
}

TEST(Rfc2231, Continuations) {
  Parameters p = ParseParameters(
      "; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"; "
      "URL*0=\"ftp://\"");
  EXPECT_EQ(*FindParameter(p, "url"), "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
  Parameters mixed = ParseParameters(
      "title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; "
      "title*2=\"isn't it!\"");
  EXPECT_EQ(*FindParameter(mixed, "title"), "This is even more ***fun*** isn't it!");
  Parameters koi = ParseParameters("filename*0*=koi8-r''%C1; filename*1*=%C2");
  EXPECT_EQ(*FindParameter(koi, "filename"), "\xd0\xb0\xd0\xb1");  // аб
}

TEST(Rfc2231, ExtendedWinsOverPlain) {
  Parameters p = ParseParameters("filename=\"plain.txt\"; filename*=utf-8''fancy.txt");
  EXPECT_EQ(*FindParameter(p, "filename"), "fancy.txt");
}

TEST(Rfc2231, Malformed) {
  Parameters p = ParseParameters("a*=nocharset%41; b*x=1; c*99999=2; d*0*=utf-8'%41; =novalue; e");
  EXPECT_EQ(*FindParameter(p, "a"), "nocharsetA");
  EXPECT_EQ(FindParameter(p, "b"), nullptr);
  EXPECT_EQ(FindParameter(p, "c"), nullptr);
  EXPECT_NE(FindParameter(p, "d"), nullptr);
  EXPECT_EQ(FindParameter(p, "e"), nullptr);
  Parameters bad_pct = ParseParameters("f*=utf-8''%zz%4");
  EXPECT_EQ(*FindParameter(bad_pct, "f"), "%zz%4");
}

TEST(Rfc2231, SegmentsWithoutZeroOrCharset) {
  // Found by the fuzzer: the value must still be UTF-8.
  Parameters p = ParseParameters("name*5*=utf-8''%E2%82; name*7*=%AC");
  EXPECT_EQ(*FindParameter(p, "name"), "\xe2\x82\xac");
  Parameters no_charset = ParseParameters("name*0*=%E9t%E9");
  EXPECT_EQ(*FindParameter(no_charset, "name"), "\xc3\xa9t\xc3\xa9");  // windows-1252
}

TEST(ContentDisposition, TypeAndFilename) {
  ContentDisposition cd = ParseContentDisposition("Attachment; filename=\"x.zip\"; size=3");
  EXPECT_EQ(cd.type, "attachment");
  EXPECT_EQ(*FindParameter(cd.params, "filename"), "x.zip");
  EXPECT_EQ(ParseContentDisposition("inline").type, "inline");
  EXPECT_EQ(ParseContentDisposition("").type, "");
}

TEST(TransferEncoding, Tokens) {
  EXPECT_EQ(ParseTransferEncoding(""), TransferEncoding::k7Bit);
  EXPECT_EQ(ParseTransferEncoding(" BASE64 "), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("base64 (comment)"), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("Quoted-Printable"), TransferEncoding::kQuotedPrintable);
  EXPECT_EQ(ParseTransferEncoding("8bit"), TransferEncoding::k8Bit);
  EXPECT_EQ(ParseTransferEncoding("binary"), TransferEncoding::kBinary);
  EXPECT_EQ(ParseTransferEncoding("\"base64\""), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("x-uuencode"), TransferEncoding::kOther);
}

}  // namespace
}  // namespace mailsift::mime
