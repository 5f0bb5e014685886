#include "mime/message.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace mailsift::mime {
namespace {

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(MAILSIFT_SOURCE_DIR) + "/testdata/mime/" + name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> Paths(const Message& m) {
  std::vector<std::string> out;
  for (const Part& p : m.parts()) out.push_back(p.path());
  return out;
}

TEST(Message, SinglePartDefaults) {
  Message m = ParseMessage("Subject: hi\r\n\r\nHello\r\n");
  EXPECT_EQ(m.headers().Value("subject"), "hi");
  ASSERT_EQ(m.parts().size(), 1u);
  const Part& p = m.parts()[0];
  EXPECT_EQ(p.path(), "1");
  EXPECT_EQ(p.content_type().MimeType(), "text/plain");
  EXPECT_FALSE(p.content_type().present);
  EXPECT_TRUE(p.is_text());
  EXPECT_EQ(p.raw_body(), "Hello\r\n");
  EXPECT_EQ(p.decoded(), "Hello\r\n");
  EXPECT_EQ(p.text_utf8(), "Hello\r\n");
  EXPECT_EQ(p.headers().Value("Subject"), "hi");
  EXPECT_TRUE(m.containers().empty());
  EXPECT_FALSE(m.stats().LimitHit());
}

TEST(Message, EmptyAndHeaderOnly) {
  Message empty = ParseMessage("");
  ASSERT_EQ(empty.parts().size(), 1u);
  EXPECT_EQ(empty.parts()[0].decoded(), "");
  Message header_only = ParseMessage("Subject: x");
  ASSERT_EQ(header_only.parts().size(), 1u);
  EXPECT_EQ(header_only.headers().Value("Subject"), "x");
}

TEST(Message, SinglePartBase64Latin1) {
  Message m = ParseMessage(
      "Content-Type: text/plain; charset=ISO-8859-1\n"
      "Content-Transfer-Encoding: base64\n\n"
      "Y2Fm6Q==\n");
  const Part& p = m.parts()[0];
  EXPECT_EQ(p.transfer_encoding(), TransferEncoding::kBase64);
  EXPECT_EQ(p.decoded(), "caf\xe9");
  EXPECT_EQ(p.text_utf8(), "caf\xc3\xa9");
}

TEST(Message, NestedMultipartWithRfc822) {
  std::string raw = ReadTestdata("nested.eml");
  ASSERT_FALSE(raw.empty());
  Message m = ParseMessage(raw);
  EXPECT_EQ(m.headers().Get("Subject")->Decoded(),
            "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 nested");
  EXPECT_EQ(Paths(m), (std::vector<std::string>{"1.1", "1.2", "2.1", "2.2", "3"}));
  const auto& parts = m.parts();
  EXPECT_EQ(parts[0].content_type().MimeType(), "text/plain");
  EXPECT_EQ(parts[0].text_utf8(), "Caf\xc3\xa9 cr\xc3\xa8me, soft break.");
  EXPECT_EQ(parts[0].depth(), 2u);
  EXPECT_EQ(parts[1].content_type().MimeType(), "text/html");
  EXPECT_EQ(parts[1].text_utf8(), "<p>Caf\xc3\xa9</p>");
  EXPECT_EQ(parts[2].text_utf8(), "Smart quotes: \xe2\x80\x9chi\xe2\x80\x9d");
  EXPECT_EQ(parts[2].headers().Value("content-type"), "text/plain; charset=windows-1252");
  EXPECT_EQ(parts[3].filename(), "\xe2\x82\xac.exe");
  EXPECT_TRUE(parts[3].is_attachment());
  EXPECT_FALSE(parts[3].is_text());
  EXPECT_EQ(parts[3].text_utf8(), "");
  EXPECT_EQ(parts[3].decoded().substr(0, 2), "MZ");
  EXPECT_EQ(parts[4].filename(), "r\xc3\xa9sum\xc3\xa9.pdf");
  EXPECT_EQ(parts[4].decoded(), "%PDF-1.4\n");
  EXPECT_EQ(parts[4].raw_body(), "JVBERi0xLjQK");

  // Containers in pre-order: the top multipart, the alternative, the rfc822 part, its multipart.
  const auto& c = m.containers();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].path, "");
  EXPECT_EQ(c[0].content_type.MimeType(), "multipart/mixed");
  EXPECT_EQ(c[0].child_count, 3u);
  EXPECT_EQ(c[0].part_count, 5u);
  EXPECT_EQ(c[1].path, "1");
  EXPECT_EQ(c[1].content_type.MimeType(), "multipart/alternative");
  EXPECT_EQ(c[2].path, "2");
  EXPECT_EQ(c[2].content_type.MimeType(), "message/rfc822");
  EXPECT_EQ(c[3].path, "2");
  EXPECT_EQ(c[3].headers.Value("Subject"), "forwarded");
  EXPECT_EQ(c[3].first_part, 2u);
  EXPECT_EQ(c[3].part_count, 2u);
  EXPECT_EQ(m.stats().missing_close_delimiter, 0u);
}

TEST(Message, MissingCloseDelimiterAndCharsets) {
  Message m = ParseMessage(ReadTestdata("no_close.eml"));
  ASSERT_EQ(m.parts().size(), 3u);
  EXPECT_EQ(m.parts()[0].text_utf8(), "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x81");  // 你好！
  EXPECT_EQ(m.parts()[1].text_utf8(), "bad bytes: \xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_EQ(m.parts()[2].text_utf8(), "last part, no close delimiter\n");
  EXPECT_EQ(m.stats().missing_close_delimiter, 1u);
}

TEST(Message, MboxFromLineSkipped) {
  Message m = ParseMessage(ReadTestdata("mbox_from.eml"));
  EXPECT_TRUE(m.stats().mbox_from_line);
  EXPECT_EQ(m.headers().Value("Subject"), "plain");
  EXPECT_EQ(m.parts()[0].decoded(), "Just text.\n");
  EXPECT_EQ(m.raw().substr(0, 5), "From ");
}

TEST(Message, BoundaryDetails) {
  // Trailing blanks after a delimiter are allowed; a boundary that is a prefix of a longer
  // line is not a delimiter; the CRLF before a delimiter belongs to it.
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=abc\r\n\r\n"
      "--abc  \r\n\r\none\r\n"
      "--abcd\r\nstill one\r\n\r\n"
      "--abc\r\n\r\ntwo\r\n"
      "--abc--  \r\nepilogue\r\n--abc\r\n\r\nignored\r\n");
  ASSERT_EQ(m.parts().size(), 2u);
  EXPECT_EQ(m.parts()[0].decoded(), "one\r\n--abcd\r\nstill one\r\n");
  EXPECT_EQ(m.parts()[1].decoded(), "two");
}

TEST(Message, EmptyPartsAndPartWithoutHeaders) {
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\nNot-A-Header line\n\n"
      "text\n--b\n\nno headers\n--b--\n");
  ASSERT_EQ(m.parts().size(), 3u);
  EXPECT_EQ(m.parts()[0].decoded(), "");
  EXPECT_EQ(m.parts()[1].decoded(), "Not-A-Header line\n\ntext");
  EXPECT_EQ(m.stats().missing_separator, 1u);
  EXPECT_EQ(m.parts()[2].decoded(), "no headers");
  EXPECT_EQ(m.parts()[2].content_type().MimeType(), "text/plain");
}

TEST(Message, MultipartWithoutBoundaryOrDelimiterIsOneTextLeaf) {
  Message no_param = ParseMessage("Content-Type: multipart/mixed\n\nhidden text\n");
  ASSERT_EQ(no_param.parts().size(), 1u);
  EXPECT_TRUE(no_param.parts()[0].is_text());
  EXPECT_EQ(no_param.parts()[0].text_utf8(), "hidden text\n");
  EXPECT_EQ(no_param.stats().missing_boundary, 1u);
  Message no_delim =
      ParseMessage("Content-Type: multipart/mixed; boundary=zzz\n\n--yyy\n\nhidden\n");
  ASSERT_EQ(no_delim.parts().size(), 1u);
  EXPECT_EQ(no_delim.stats().no_delimiter, 1u);
  EXPECT_EQ(no_delim.parts()[0].path(), "1");
}

TEST(Message, NestedUnclosedInnerMultipart) {
  // The inner multipart never closes; the outer delimiter still ends it.
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=out\n\n"
      "--out\nContent-Type: multipart/alternative; boundary=in\n\n"
      "--in\n\nA\n--in\n\nB\n"
      "--out\n\nC\n--out--\n");
  EXPECT_EQ(Paths(m), (std::vector<std::string>{"1.1", "1.2", "2"}));
  EXPECT_EQ(m.parts()[1].decoded(), "B");
  EXPECT_EQ(m.parts()[2].decoded(), "C");
  EXPECT_EQ(m.stats().missing_close_delimiter, 1u);
}

TEST(Message, Rfc822SinglePartAndTopLevel) {
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n"
      "--b\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n--b--\n");
  EXPECT_EQ(Paths(m), (std::vector<std::string>{"1", "2.1"}));
  EXPECT_EQ(m.parts()[1].headers().Value("Subject"), "inner");
  EXPECT_EQ(m.parts()[1].decoded(), "inner body");
  Message top = ParseMessage("Content-Type: message/rfc822\n\nSubject: in\n\nbody\n");
  EXPECT_EQ(Paths(top), (std::vector<std::string>{"1.1"}));
}

TEST(Message, Rfc822Base64Encoded) {
  // "Subject: x\n\nhello\n"
  Message m = ParseMessage(
      "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
      "U3ViamVjdDogeAoKaGVsbG8K\n");
  ASSERT_EQ(m.parts().size(), 1u);
  EXPECT_EQ(m.parts()[0].headers().Value("Subject"), "x");
  EXPECT_EQ(m.parts()[0].decoded(), "hello\n");
  Message copy = m;
  Part part = m.parts()[0];
  m = Message();
  EXPECT_EQ(part.raw_body(), "hello\n");  // the decoded buffer is kept alive by the part
}

TEST(Message, DigestDefaultsToRfc822) {
  Message m = ParseMessage(
      "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody one\n"
      "--d\nContent-Type: text/plain\n\nplain\n--d--\n");
  EXPECT_EQ(Paths(m), (std::vector<std::string>{"1.1", "2"}));
  EXPECT_EQ(m.parts()[0].headers().Value("Subject"), "one");
}

TEST(Message, QuotedPrintableEdgeCases) {
  Message m = ParseMessage(
      "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
      "a=C3=A9 =\nb =ZZ c=  \nd   \n=E2=82=AC");
  EXPECT_EQ(m.parts()[0].text_utf8(), "a\xc3\xa9 b =ZZ cd\n\xe2\x82\xac");
  EXPECT_EQ(m.stats().bad_qp_escapes, 1u);
}

TEST(Message, Base64Garbage) {
  Message m = ParseMessage(
      "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
      "aGVs bG8g!!\nd29y\tbGQ=\n\n-- \nsignature garbage");
  EXPECT_EQ(m.parts()[0].decoded().substr(0, 11), "hello world");
  EXPECT_GT(m.stats().bad_base64_bytes, 0u);
}

TEST(Message, UnknownCharsetFallsBack) {
  Message m = ParseMessage("Content-Type: text/plain; charset=x-bogus\n\ncaf\xe9\n");
  EXPECT_EQ(m.parts()[0].text_utf8(), "caf\xc3\xa9\n");
}

TEST(Message, FilenameSources) {
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: application/zip; name=\"from-name.zip\"\n\nx\n"
      "--b\nContent-Type: application/zip; name=\"ignored.zip\"\n"
      "Content-Disposition: attachment; filename=\"=?UTF-8?B?w6kuemlw?=\"\n\nx\n"
      "--b\nContent-Type: image/png\nContent-Disposition: inline; filename=na\xefve.png\n\nx\n"
      "--b\nContent-Type: text/plain\nContent-Disposition: attachment\n\nx\n"
      "--b--\n");
  ASSERT_EQ(m.parts().size(), 4u);
  EXPECT_EQ(m.parts()[0].filename(), "from-name.zip");
  EXPECT_EQ(m.parts()[1].filename(), "\xc3\xa9.zip");
  EXPECT_EQ(m.parts()[2].filename(), "na\xc3\xafve.png");
  EXPECT_EQ(m.parts()[3].filename(), "");
  EXPECT_TRUE(m.parts()[3].is_attachment());
}

std::string Nest(int depth) {
  std::string raw;
  for (int i = 0; i < depth; ++i) {
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
           std::to_string(i) + "\n";
  }
  raw += "Content-Type: text/plain\n\ndeep\n";
  return raw;
}

TEST(Message, DepthLimit) {
  Limits limits;
  limits.max_depth = 5;
  Message ok = ParseMessage(Nest(5), limits);
  ASSERT_EQ(ok.parts().size(), 1u);
  EXPECT_EQ(ok.parts()[0].decoded(), "deep\n");
  EXPECT_EQ(ok.parts()[0].path(), "1.1.1.1.1");
  EXPECT_EQ(ok.stats().depth_exceeded, 0u);
  Message cut = ParseMessage(Nest(6), limits);
  ASSERT_EQ(cut.parts().size(), 1u);
  EXPECT_EQ(cut.stats().depth_exceeded, 1u);
  EXPECT_TRUE(cut.parts()[0].is_text());
  EXPECT_TRUE(cut.stats().LimitHit());
  // The default limit copes with absurd nesting.
  Message deep = ParseMessage(Nest(5000));
  EXPECT_EQ(deep.stats().depth_exceeded, 1u);
}

TEST(Message, PartLimit) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 50; ++i) raw += "--b\n\npart\n";
  raw += "--b--\n";
  Limits limits;
  limits.max_parts = 10;  // the top-level multipart counts as one
  Message m = ParseMessage(raw, limits);
  EXPECT_EQ(m.parts().size(), 9u);
  EXPECT_EQ(m.stats().parts_dropped, 41u);
  EXPECT_TRUE(m.stats().LimitHit());
}

TEST(Message, DecodedSizeLimits) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 3; ++i) raw += "--b\n\n" + std::string(100, 'x') + "\n";
  raw += "--b--\n";
  Limits limits;
  limits.max_part_decoded_bytes = 60;
  limits.max_total_decoded_bytes = 150;
  Message m = ParseMessage(raw, limits);
  ASSERT_EQ(m.parts().size(), 3u);
  EXPECT_EQ(m.parts()[0].decoded().size(), 60u);
  EXPECT_EQ(m.parts()[1].decoded().size(), 60u);
  EXPECT_EQ(m.parts()[2].decoded().size(), 30u);
  EXPECT_TRUE(m.parts()[2].decoded_truncated());
  EXPECT_EQ(m.stats().decoded_truncated, 3u);
  EXPECT_EQ(m.stats().decoded_bytes, 150u);
  EXPECT_EQ(m.parts()[2].raw_body().size(), 100u);
}

TEST(Message, EncodedEnclosedMessageCutIsCountedApart) {
  std::string inner = "Subject: inner\n\n" + std::string(200, 'y') + "\n";
  std::string raw =
      "Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n" + inner;
  Limits limits;
  limits.max_part_decoded_bytes = 100;
  Message m = ParseMessage(raw, limits);
  EXPECT_EQ(m.stats().enclosed_truncated, 1u);
  EXPECT_TRUE(m.stats().LimitHit());
  EXPECT_EQ(ParseMessage(raw).stats().enclosed_truncated, 0u);
}

TEST(Message, LimitsAppliedAreKept) {
  Limits limits;
  limits.max_depth = 100000;
  limits.max_parts = 0;
  Message m = ParseMessage("Subject: x\n\nbody\n", limits);
  EXPECT_EQ(m.limits().max_depth, 200u);  // the parser's recursion bound
  EXPECT_EQ(m.limits().max_parts, 2u);
  EXPECT_EQ(ParseMessage("").limits().max_depth, 20u);
}

TEST(Message, OnlyACloseDelimiter) {
  // Found by the fuzzer: a multipart with no body part must still give a leaf.
  Message m = ParseMessage("Content-Type: multipart/digest; boundary=d\n\ntext\n--d--\n");
  ASSERT_EQ(m.parts().size(), 1u);
  EXPECT_EQ(m.stats().no_delimiter, 1u);
  Limits limits;
  limits.max_parts = 1;  // raised to 2: a container and a leaf
  Message tight = ParseMessage("Content-Type: message/rfc822\n\nSubject: x\n\nbody\n", limits);
  ASSERT_EQ(tight.parts().size(), 1u);
  EXPECT_EQ(tight.parts()[0].decoded(), "body\n");
}

TEST(Message, NestedMultipartReusingTheBoundary) {
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=same\n\n"
      "--same\nContent-Type: multipart/alternative; boundary=same\n\n"
      "--same\n\nA\n--same\n\nB\n--same--\n"
      "--same\n\nC\n--same--\n");
  EXPECT_EQ(Paths(m), (std::vector<std::string>{"1.1", "1.2", "2"}));
  EXPECT_EQ(m.parts()[1].decoded(), "B");
  EXPECT_EQ(m.parts()[2].decoded(), "C");
  EXPECT_EQ(m.stats().reused_boundary, 1u);
  EXPECT_EQ(m.stats().part_without_headers, 3u);
}

TEST(Message, CrlfAndLfMixed) {
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\n\nlf part\r\n--b\r\n\r\ncrlf\n--b--");
  ASSERT_EQ(m.parts().size(), 2u);
  EXPECT_EQ(m.parts()[0].decoded(), "lf part");
  EXPECT_EQ(m.parts()[1].decoded(), "crlf");
}

}  // namespace
}  // namespace mailsift::mime
