// Tests for rules/misc_eval: ImageInfo, URIEval, HTTPSMismatch, VBounce, WLBLEval URI host
// lists and WelcomeListSubject — a hit and a no-hit per function, plus SA's quirks.
#include "rules/eval/misc_eval.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

std::string Base64(std::string_view in, size_t line = 76) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t col = 0;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
    col += 4;
    if (col >= line) {
      out += '\n';
      col = 0;
    }
  }
  if (col > 0) out += '\n';
  return out;
}

std::string Le16(unsigned v) { return {static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }
std::string Be16(unsigned v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}; }
std::string Be32(uint32_t v) { return Be16(v >> 16) + Be16(v & 0xFFFF); }

std::string Gif(unsigned w, unsigned h) {
  return "GIF89a" + Le16(w) + Le16(h) + std::string("\x80\x00\x00", 3) +
         std::string("\x00\x00\x00\xff\xff\xff", 6) + ",\x00\x00\x00\x00" + Le16(w) + Le16(h) +
         std::string("\x00\x02\x02\x44\x01\x00;", 8);
}

std::string Png(uint32_t w, uint32_t h) {
  return std::string("\x89PNG\r\n\x1a\n", 8) + Be32(13) + "IHDR" + Be32(w) + Be32(h) +
         std::string("\x08\x02\x00\x00\x00", 5) + "CRC!" + Be32(0) + "IEND" + "CRC!";
}

std::string Jpeg(unsigned w, unsigned h) {
  std::string app0 = std::string("\xFF\xE0", 2) + Be16(16) + std::string("JFIF\0\x01\x01\0", 8) +
                     std::string("\0\x01\0\x01\0\0", 6);
  std::string sof = std::string("\xFF\xC0", 2) + Be16(17) + "\x08" + Be16(h) + Be16(w) +
                    std::string("\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 10);
  return std::string("\xFF\xD8", 2) + app0 + sof + std::string("\xFF\xD9", 2);
}

struct ImagePart {
  ImagePart(std::string t, std::string b, std::string e = "base64", std::string n = "")
      : type(std::move(t)), bytes(std::move(b)), encoding(std::move(e)), name(std::move(n)) {}
  std::string type;  // "image/gif"
  std::string bytes;
  std::string encoding;
  std::string name;
};

std::string MultipartWith(const std::vector<ImagePart>& images, std::string text = "Hello.\n") {
  std::string m =
      "From: a@example.com\nTo: b@example.com\nSubject: pictures\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"BB\"\n\n--BB\n"
      "Content-Type: text/plain\n\n" +
      text;
  for (const ImagePart& p : images) {
    m += "--BB\nContent-Type: " + p.type;
    if (!p.name.empty()) m += "; name=\"" + p.name + "\"";
    m += "\nContent-Transfer-Encoding: " + p.encoding + "\n\n";
    m += p.encoding == "base64" ? Base64(p.bytes) : p.bytes + "\n";
  }
  return m + "--BB--\n";
}

struct Fixture {
  mime::Message message;
  MessageFacts facts;
  std::shared_ptr<const EvalConfig> config;
  std::vector<std::string> body_lines, eval_text, uris;
  std::vector<std::vector<HtmlAnchor>> anchors;
  std::string subject;
  std::optional<bool> cleaned_uri_truncated;
  // Where the URI hosts are kept between calls when set (else each call looks them up).
  std::optional<std::vector<std::string>>* uri_hosts = nullptr;

  explicit Fixture(const std::string& raw, const EvalSettings& settings = {})
      : message(mime::ParseMessage(raw)) {
    facts = ComputeMessageFacts(message);
    config = BuildEvalConfig(settings);
  }
  bool Call(std::string_view fn, std::vector<std::string> args = {}) {
    const EvalFunction* f = FindEvalIn(MiscEvals(), fn);
    EXPECT_NE(f, nullptr) << fn;
    if (f == nullptr) return false;
    EvalTestMessage m(message.raw(), *config);
    EvalInput::Known& known = m.input.known();
    known.facts = facts;
    known.subject = subject;
    known.uris = &uris;
    known.html_anchors = anchors;
    known.body_lines = &body_lines;
    known.eval_text = &eval_text;
    known.cleaned_uri_truncated = cleaned_uri_truncated;
    if (uri_hosts != nullptr) m.input.memo().uri_hosts = *uri_hosts;
    bool hit = (*f)(m.input, args);
    if (uri_hosts != nullptr) *uri_hosts = m.input.memo().uri_hosts;
    return hit;
  }
};

EvalSettings Tlds() {
  EvalSettings s;
  s.valid_tlds = {"com", "net", "org", "uk", "top", "us"};
  s.two_level_domains = {"co.uk"};
  return s;
}

// ---- building blocks

TEST(MiscEvalTest, Base64DecodeBothPaths) {
  EXPECT_EQ(SaBase64Decode("SGVs\nbG8=\n"), "Hello");
  EXPECT_EQ(SaBase64Decode("SGVsbG8=", 3), "Hel");
  // MIME::Base64 path: an inner "=" run counts as 'A'.
  EXPECT_EQ(SaBase64Decode("QQ==QUJD"), std::string("A\0\0ABC", 6));
  // uudecode path (length not a multiple of 4): junk dropped, inner '=' is 63.
  EXPECT_EQ(SaBase64Decode("QU*JD"), "ABC");
  EXPECT_EQ(SaBase64Decode("QUJDRA"), "ABCD");
  EXPECT_EQ(SaBase64Decode(""), "");
}

TEST(MiscEvalTest, ImageSizes) {
  EXPECT_EQ(GifSize(Gif(500, 400).substr(0, 13)), std::make_pair(500.0, 400.0));
  EXPECT_EQ(GifSize("GIF88a\x10\x00\x20\x00"), std::make_pair(0.0, 0.0));
  // unpack("vvCCC") on 3 bytes: the second "v" fails, so the height comes from a "C".
  EXPECT_EQ(GifSize(std::string("GIF87a\x10\x00\x20", 9)), std::make_pair(16.0, 32.0));
  EXPECT_EQ(PngSize(Png(640, 480)), std::make_pair(640.0, 480.0));
  EXPECT_EQ(PngSize("\x89PNX"), std::make_pair(0.0, 0.0));
  EXPECT_EQ(JpegSize(Jpeg(300, 200)), std::make_pair(300.0, 200.0));
  EXPECT_EQ(JpegSize(std::string("\xFF\xD8\xFF\xDA\x00\x04", 6)), std::make_pair(0.0, 0.0));
}

TEST(MiscEvalTest, RegistryBoundaries) {
  auto config = BuildEvalConfig(Tlds());
  EXPECT_EQ(TrimDomain(*config, "www.Example.co.uk"), "example.co.uk");
  EXPECT_EQ(TrimDomain(*config, "a.b.example.com"), "example.com");
  EXPECT_EQ(TrimDomain(*config, "x.city.ca.us"), "x.city.ca.us");
  EXPECT_TRUE(IsDomainValid(*config, "foo.com"));
  EXPECT_FALSE(IsDomainValid(*config, "foo.invalid"));
  auto d = UriToDomain(*config, "http://user@WWW.Foo.com:8080/path?q");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->first, "foo.com");
  EXPECT_EQ(d->second, "www.foo.com");
  EXPECT_FALSE(UriToDomain(*config, "http://www.foo.com%2e/"));
  d = UriToDomain(*config, "mailto:joe@mail.foo.com?subject=x");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->second, "mail.foo.com");
  d = UriToDomain(*config, "http://10.1.2.3/");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->second, "10.1.2.3");
  EXPECT_TRUE(IsIpAddress("10.1.2.3"));
  EXPECT_FALSE(IsIpAddress("10.01.2.3"));
  EXPECT_TRUE(IsIpAddress("IPv6:2001:db8::1"));
}

// ---- ImageInfo

TEST(MiscEvalTest, ImageCount) {
  Fixture f(MultipartWith({{"image/gif", Gif(10, 10)}, {"image/jpeg", Jpeg(20, 30)}}));
  EXPECT_TRUE(f.Call("image_count", {"gif", "1", "1"}));
  EXPECT_TRUE(f.Call("image_count", {"jpeg", "1", "1"}));
  EXPECT_TRUE(f.Call("image_count", {"all", "2"}));
  EXPECT_FALSE(f.Call("image_count", {"png", "1", "1"}));
  EXPECT_FALSE(f.Call("image_count", {"gif", "2"}));
  EXPECT_FALSE(f.Call("image_count", {"bmp", "0"}));  // unknown type: undef
  EXPECT_FALSE(f.Call("image_count", {"gif"}));       // no min
}

TEST(MiscEvalTest, ImageCountNeedsBase64AndImageType) {
  Fixture f(MultipartWith({{"image/gif", Gif(10, 10), "7bit"},
                           {"application/octet-stream", Gif(10, 10)},
                           {"image/jpg", Jpeg(5, 5)},
                           {"image/png", "not a png"}}));
  EXPECT_FALSE(f.Call("image_count", {"gif", "1"}));
  EXPECT_TRUE(f.Call("image_count", {"jpeg", "1", "1"}));  // image/jpg counts as jpeg
  // A part that does not parse still counts, but has no area.
  EXPECT_TRUE(f.Call("image_count", {"png", "1", "1"}));
  EXPECT_FALSE(f.Call("pixel_coverage", {"png", "1"}));
}

TEST(MiscEvalTest, PixelCoverage) {
  Fixture f(MultipartWith({{"image/gif", Gif(500, 400)}, {"image/png", Png(100, 100)}}));
  EXPECT_TRUE(f.Call("pixel_coverage", {"gif", "180000", "475000"}));
  EXPECT_FALSE(f.Call("pixel_coverage", {"png", "180000", "475000"}));
  EXPECT_TRUE(f.Call("pixel_coverage", {"all", "210000", "210000"}));
  EXPECT_FALSE(f.Call("pixel_coverage", {"all", "62500", "200000"}));
  EXPECT_TRUE(f.Call("image_size_exact", {"gif", "400", "500"}));
  EXPECT_FALSE(f.Call("image_size_exact", {"gif", "500", "400"}));
  EXPECT_TRUE(f.Call("image_size_range", {"all", "90", "90", "110", "110"}));
  EXPECT_FALSE(f.Call("image_size_range", {"png", "101", "1"}));
}

TEST(MiscEvalTest, ImageNamed) {
  Fixture f(MultipartWith(
      {{"image/png", Png(3, 3), "base64", "x.png"}, {"image/gif", "junk", "base64", "bad.gif"}}));
  EXPECT_TRUE(f.Call("image_named", {"x.png"}));
  EXPECT_FALSE(f.Call("image_named", {"bad.gif"}));  // only images whose size was found
}

TEST(MiscEvalTest, ImageToTextRatio) {
  Fixture f(MultipartWith({{"image/gif", Gif(100, 100)}}));
  f.eval_text = {std::string(50, 'x')};  // 50 / 10000 = 0.005
  EXPECT_TRUE(f.Call("image_to_text_ratio", {"all", "0.000", "0.008"}));
  EXPECT_FALSE(f.Call("image_to_text_ratio", {"all", "0.000", "0.004"}));
  EXPECT_FALSE(f.Call("image_to_text_ratio", {"all", "0.000", "0.005"}));  // max excluded
  EXPECT_FALSE(f.Call("image_to_text_ratio", {"png", "0.000", "1"}));      // no png area
  f.eval_text.clear();
  EXPECT_FALSE(f.Call("image_to_text_ratio", {"all", "0.000", "0.008"}));  // no text
}

// ---- URIEval / HTTPSMismatch

TEST(MiscEvalTest, UriTruncated) {
  std::string long_uri = "http://example.com/" + std::string(9000, 'a');
  Fixture html("Content-Type: text/html\n\n<a href=\"" + long_uri + "\">x</a>\n");
  EXPECT_TRUE(html.Call("check_uri_truncated"));
  Fixture plain("Subject: x\n\nSee http://example.com/\n");
  plain.uris = {"http://example.com/"};
  EXPECT_FALSE(plain.Call("check_uri_truncated"));
  plain.uris = {"http://example.com/" + std::string(8192 - 19, 'a')};
  EXPECT_TRUE(plain.Call("check_uri_truncated"));
  plain.cleaned_uri_truncated = false;  // exactly 8192 bytes, not cut
  EXPECT_FALSE(plain.Call("check_uri_truncated"));
}

TEST(MiscEvalTest, HttpsIpMismatch) {
  Fixture f("Subject: x\n\nbody\n");
  f.anchors = {{{"http://192.168.10.1/login", "https://www.bank.com/login"}}};
  EXPECT_TRUE(f.Call("check_https_ip_mismatch"));
  f.anchors = {{{"http://192.168.10.1/login", "https://192.168.10.1/login"}}};
  EXPECT_FALSE(f.Call("check_https_ip_mismatch"));
  f.anchors = {{{"http://www.bank.com/login", "https://www.bank.com/login"}}};
  EXPECT_FALSE(f.Call("check_https_ip_mismatch"));
}

TEST(MiscEvalTest, HttpsHttpMismatch) {
  Fixture f("Subject: x\n\nbody\n", Tlds());
  f.anchors = {{{"http://www.evil.com/x", "https://www.paypal.com/"}}};
  EXPECT_TRUE(f.Call("check_https_http_mismatch", {"1", "10"}));
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"2", "10"}));  // one anchor URI only
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"1", "1"}));   // anchors < max
  f.anchors = {{{"http://secure.paypal.com/x", "https://www.paypal.com/"}}};
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"1", "10"}));  // same domain
  f.anchors = {{{"http://1.2.3.4/x", "https://www.paypal.com/"}}};
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"1", "10"}));  // IP: other rule
  // Anchors are counted per distinct href, over the whole part.
  f.anchors = {{{"http://www.evil.com/x", "https://www.paypal.com/"},
                {"http://www.evil.com/x", "again"},
                {"http://www.other.net/", "plain"}}};
  EXPECT_TRUE(f.Call("check_https_http_mismatch", {"2", "3"}));
  EXPECT_FALSE(f.Call("check_https_http_mismatch", {"3", "10"}));
}

// ---- VBounce

TEST(MiscEvalTest, BounceRelays) {
  const std::string bounce =
      "From: MAILER-DAEMON@example.net\nSubject: Undelivered Mail\n"
      "Content-Type: multipart/report; boundary=\"R\"\n\n--R\nContent-Type: text/plain\n\n"
      "Delivery failed.\n--R\nContent-Type: message/rfc822\n\n"
      "Received: from client.example.org (client.example.org [10.0.0.1])\n"
      "\tby relay2.mydomain.com (Postfix) with ESMTP id 1234\n"
      "From: me@mydomain.com\nSubject: hi\n\nhi\n--R--\n";
  Fixture none(bounce);
  EXPECT_FALSE(none.Call("have_any_bounce_relays"));
  EXPECT_FALSE(none.Call("check_welcomelist_bounce_relays"));

  EvalSettings s;
  s.welcomelist_bounce_relays = {"relay*.MyDomain.com"};
  Fixture f(bounce, s);
  EXPECT_TRUE(f.Call("have_any_bounce_relays"));
  EXPECT_TRUE(f.Call("check_welcomelist_bounce_relays"));  // folded header, pristine body

  s.welcomelist_bounce_relays = {"mx.other.com"};
  Fixture g(bounce, s);
  EXPECT_FALSE(g.Call("check_welcomelist_bounce_relays"));
  // The rendered body: "Received:" lines quoted in text.
  g.body_lines = {"bounce\n", "> Received: from mx.other.com (x) by y"};
  EXPECT_TRUE(g.Call("check_whitelist_bounce_relays"));
  g.body_lines = {"> Received: from mx.other.com"};  // not followed by a space
  EXPECT_FALSE(g.Call("check_welcomelist_bounce_relays"));
}

// ---- WLBLEval URI host lists

TEST(MiscEvalTest, UriHostLists) {
  EvalSettings s = Tlds();
  s.uri_host_directives = {{false, "SUSP", {"top"}},
                           {false, "SUSP", {"!Good.top"}},
                           {false, "BLOCK", {"bad.com"}},
                           {false, "WELCOME", {"friend.org", "gone.org"}},
                           {true, "", {"!gone.org"}}};
  Fixture f("Subject: x\n\nbody\n", s);
  f.uris = {"http://www.shop.top/x"};
  EXPECT_TRUE(f.Call("check_uri_host_listed", {"SUSP"}));
  f.uris = {"http://www.good.top/", "mailto:x@evil.top"};
  EXPECT_FALSE(f.Call("check_uri_host_listed", {"SUSP"}));  // excluded; mailto skipped
  EXPECT_FALSE(f.Call("check_uri_host_listed", {"NOSUCH"}));
  f.uris = {"https://a.b.bad.com/"};
  EXPECT_TRUE(f.Call("check_uri_host_in_blocklist"));
  EXPECT_TRUE(f.Call("check_uri_host_in_blacklist"));
  EXPECT_FALSE(f.Call("check_uri_host_in_welcomelist"));
  f.uris = {"http://friend.org/"};
  EXPECT_TRUE(f.Call("check_uri_host_in_welcomelist"));
  f.uris = {"http://gone.org/"};
  EXPECT_FALSE(f.Call("check_uri_host_in_whitelist"));  // delisted
  f.uris = {"http://notbad.com/"};
  EXPECT_FALSE(f.Call("check_uri_host_in_blocklist"));
  // With a slot for the message, the hosts are looked up once (distinct, in order, no mailto:)
  // and the other lists read them from there.
  std::optional<std::vector<std::string>> hosts;
  f.uri_hosts = &hosts;
  f.uris = {"http://www.shop.top/x", "mailto:a@bad.com", "https://a.b.bad.com/",
            "http://www.shop.top/y"};
  EXPECT_TRUE(f.Call("check_uri_host_listed", {"SUSP"}));
  ASSERT_TRUE(hosts);
  EXPECT_EQ(*hosts, (std::vector<std::string>{"www.shop.top", "a.b.bad.com"}));
  EXPECT_TRUE(f.Call("check_uri_host_in_blocklist"));
  EXPECT_FALSE(f.Call("check_uri_host_in_welcomelist"));
}

// ---- WelcomeListSubject

TEST(MiscEvalTest, SubjectLists) {
  EvalSettings s;
  s.welcomelist_subject = {"[Bug *]"};
  s.blocklist_subject = {"Make Money Fast", "v?agra"};
  Fixture f("Subject: x\n\nbody\n", s);
  f.subject = "Re: [Bug 1234] crash on start\n";
  EXPECT_TRUE(f.Call("check_subject_in_welcomelist"));
  EXPECT_FALSE(f.Call("check_subject_in_blocklist"));
  f.subject = "MAKE MONEY FAST now\n";
  EXPECT_TRUE(f.Call("check_subject_in_blacklist"));
  EXPECT_FALSE(f.Call("check_subject_in_whitelist"));
  f.subject = "cheap v1agra\n";
  EXPECT_TRUE(f.Call("check_subject_in_blocklist"));
  f.subject = "Bug 1234\n";  // no brackets
  EXPECT_FALSE(f.Call("check_subject_in_welcomelist"));
  f.subject = "";
  EXPECT_FALSE(f.Call("check_subject_in_blocklist"));
}

TEST(MiscEvalTest, Names) {
  for (std::string_view n : EvalNamesIn(MiscEvals()))
    EXPECT_NE(FindEvalIn(MiscEvals(), n), nullptr) << n;
  EXPECT_EQ(FindEvalIn(MiscEvals(), "check_for_mime"), nullptr);
}

}  // namespace
}  // namespace mailsift::rules
