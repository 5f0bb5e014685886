// Tests for mime/uri.h: text URI extraction and canonicalisation as SpamAssassin 4.0.1 does them.
#include "mime/uri.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace mailsift::mime {
namespace {

const TldSet& Tlds() {
  static const TldSet* tlds = new TldSet(
      {"com", "org", "net", "uk", "de", "biz", "info", "io", "co", "xn--p1ai", "museum"});
  return *tlds;
}

std::vector<std::string> Uris(std::string_view text) {
  std::vector<std::string> out;
  for (const TextUri& u : ExtractTextUris(text, Tlds())) out.push_back(u.uri);
  return out;
}

std::vector<std::string> Raws(std::string_view text) {
  std::vector<std::string> out;
  for (const TextUri& u : ExtractTextUris(text, Tlds())) out.push_back(u.raw);
  return out;
}

using V = std::vector<std::string>;

bool Has(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::vector<std::string> Canon(std::string_view uri, const RedirectorPatterns* r = nullptr) {
  return CanonicalizeUri(uri, Tlds(), r);
}

// --- TLD set ---

TEST(TldSetTest, ContainsIsCaseInsensitiveAndIgnoresDottedNames) {
  TldSet t({"com", "CO.UK", "Org"});
  EXPECT_TRUE(t.Contains("COM"));
  EXPECT_TRUE(t.Contains("org"));
  EXPECT_FALSE(t.Contains("co.uk"));
  EXPECT_FALSE(t.Contains("uk"));
  EXPECT_TRUE(t.IsDomainValid("Example.COM"));
  EXPECT_FALSE(t.IsDomainValid("com"));
  EXPECT_FALSE(t.IsDomainValid("exa mple.com"));
  EXPECT_FALSE(t.IsDomainValid("example.invalid"));
  EXPECT_FALSE(t.IsDomainValid("example.com."));
}

TEST(FqdnTest, Labels) {
  EXPECT_TRUE(IsFqdnValid("www.example.com"));
  EXPECT_TRUE(IsFqdnValid("a_b.example.com."));
  EXPECT_FALSE(IsFqdnValid("a_b.com"));
  EXPECT_FALSE(IsFqdnValid("-a.com"));
  EXPECT_FALSE(IsFqdnValid("com"));
  EXPECT_FALSE(IsFqdnValid("a..com"));
  EXPECT_FALSE(IsFqdnValid(std::string(64, 'a') + ".com"));
}

// --- schemed URIs in text ---

TEST(ExtractTest, SchemedUris) {
  EXPECT_EQ(Uris("see http://example.com/a?b=c now"), V{"http://example.com/a?b=c"});
  EXPECT_EQ(Uris("HTTPS://Example.COM/x"), V{"HTTPS://Example.COM/x"});
  EXPECT_EQ(Uris("get ftp://ftp.example.org/pub/file.tgz"),
            V{"ftp://ftp.example.org/pub/file.tgz"});
  EXPECT_EQ(Uris("mail mailto:joe@example.com today"), V{"mailto:joe@example.com"});
}

TEST(ExtractTest, SchemeNeedsWordBoundary) {
  EXPECT_EQ(Uris("xhttp://example.com/"), V{});
  EXPECT_EQ(Uris("(http://example.com/)"), V{"http://example.com/"});
}

TEST(ExtractTest, EmptySchemeIgnored) { EXPECT_EQ(Uris("http:// and https://"), V{}); }

TEST(ExtractTest, TrailingPunctuationDropped) {
  EXPECT_EQ(Uris("Visit http://example.com/."), V{"http://example.com/"});
  EXPECT_EQ(Uris("Visit http://example.com/!!!"), V{"http://example.com/"});
  EXPECT_EQ(Uris("Visit http://example.com/page?,"), V{"http://example.com/page"});
  EXPECT_EQ(Uris("http://example.com/a_-"), V{"http://example.com/a"});
}

TEST(ExtractTest, ClosingParenthesis) {
  EXPECT_EQ(Uris("(see http://example.com/x)"), V{"http://example.com/x"});
  EXPECT_EQ(Uris("http://en.example.org/wiki/Foo_(bar)"), V{"http://en.example.org/wiki/Foo_(bar"});
  EXPECT_EQ(Uris("http://example.com/a)b)c"), V{"http://example.com/a)b"});
}

TEST(ExtractTest, Delimiters) {
  EXPECT_EQ(Uris("<http://example.com/a>"), V{"http://example.com/a"});
  EXPECT_EQ(Uris("\"http://example.com/a\""), V{"http://example.com/a"});
  EXPECT_EQ(Uris("'http://example.com/a'"), V{"http://example.com/a"});
  EXPECT_EQ(Uris("[http://example.com/a]"), V{"http://example.com/a"});
  EXPECT_EQ(Uris("{http://example.com/a}|x"), V{"http://example.com/a"});
  EXPECT_EQ(Uris("http://example.com/a\thttp://example.org/b"),
            (V{"http://example.com/a", "http://example.org/b"}));
  EXPECT_EQ(Uris("http://a.example.com/\xa0more"), V{"http://a.example.com/"});
}

TEST(ExtractTest, DuplicatesOnce) {
  EXPECT_EQ(Uris("http://example.com/ http://example.com/ http://example.com/."),
            V{"http://example.com/"});
  std::vector<std::string_view> texts = {"http://example.com/", "again http://example.com/"};
  EXPECT_EQ(ExtractTextUris(texts, Tlds()).size(), 1u);
}

TEST(ExtractTest, TooLongSchemedUriIsNotFound) {
  std::string s = "http://example.com/" + std::string(3000, 'a');
  EXPECT_EQ(Uris(s), V{});
  std::string ok = "http://example.com/" + std::string(2000, 'a');
  EXPECT_EQ(Uris(ok), V{ok});
}

// --- schemeless www. / ftp. ---

TEST(ExtractTest, WwwAndFtpPrefixes) {
  std::vector<TextUri> u = ExtractTextUris("go to www.example.com/x now", Tlds());
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].raw, "www.example.com/x");
  EXPECT_EQ(u[0].uri, "http://www.example.com/x");
  EXPECT_TRUE(u[0].schemeless);
  EXPECT_FALSE(u[0].unlinked);
  EXPECT_EQ(Uris("ftp.example.org/pub"), V{"ftp://ftp.example.org/pub"});
  EXPECT_EQ(Uris("WWW2.example.com"), V{"http://WWW2.example.com"});
  EXPECT_EQ(Uris("www.nowhere.invalid"), V{"http://www.nowhere.invalid"});
}

// --- bare host names ---

TEST(ExtractTest, BareHostWithKnownTld) {
  std::vector<TextUri> u = ExtractTextUris("go to example.com now", Tlds());
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].uri, "http://example.com");
  EXPECT_TRUE(u[0].schemeless);
  EXPECT_TRUE(u[0].unlinked);
  EXPECT_EQ(Uris("example.com:8080/path"), V{"http://example.com:8080/path"});
  EXPECT_EQ(Uris("Shop.Example.DE/x?y=1"), V{"http://Shop.Example.DE/x?y=1"});
  EXPECT_EQ(Uris("example.com."), V{"http://example.com"});
}

TEST(ExtractTest, BareHostRejected) {
  EXPECT_EQ(Uris("example.invalid"), V{});
  EXPECT_EQ(Uris("file.txt and setup.exe"), V{});
  EXPECT_EQ(Uris("example.community"), V{});      // "com" must be the whole label
  EXPECT_EQ(Uris("example.com.evil"), V{});       // followed by ".e"
  EXPECT_EQ(Uris("see example.com, then"), V{});  // "," is not an end delimiter here
  EXPECT_EQ(Uris("xexample.com"), V{"http://xexample.com"});
  EXPECT_EQ(Uris("a=example.com"), V{"http://example.com"});
  EXPECT_EQ(Uris("a%example.com"), V{});       // "%" is not a start delimiter
  EXPECT_EQ(Uris("example.com:123456"), V{});  // port over 5 digits
}

TEST(ExtractTest, NoTldsNoBareHosts) {
  TldSet none;
  EXPECT_TRUE(ExtractTextUris("example.com", none).empty());
  EXPECT_EQ(ExtractTextUris("http://example.com", none).size(), 1u);
}

TEST(ExtractTest, PunycodeTldLeftAsIs) {
  EXPECT_EQ(Uris("xn--80ak6aa92e.xn--p1ai"), V{"http://xn--80ak6aa92e.xn--p1ai"});
}

// --- e-mail addresses ---

TEST(ExtractTest, EmailBecomesMailto) {
  std::vector<TextUri> u = ExtractTextUris("write to joe.bloggs@example.co.uk today", Tlds());
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].raw, "joe.bloggs@example.co.uk");
  EXPECT_EQ(u[0].uri, "mailto:joe.bloggs@example.co.uk");
  EXPECT_TRUE(u[0].schemeless);
  EXPECT_EQ(Uris("<joe@example.com>"), V{"mailto:joe@example.com"});
  EXPECT_EQ(Uris("joe@example.com, ann@example.org"),
            (V{"mailto:joe@example.com", "mailto:ann@example.org"}));
}

TEST(ExtractTest, EmailRejected) {
  EXPECT_EQ(Uris("Vi@gra"), V{});
  EXPECT_EQ(Uris("joe@example.invalid"), V{});
  EXPECT_EQ(Uris("joe@localhost"), V{});
  EXPECT_EQ(Uris("[cid:image001.png@01D4986E.E3459640]"), V{});
  EXPECT_EQ(Uris("joe@exa&nbsp;mple.com"), V{});
}

TEST(ExtractTest, EmailMisparsesStripped) {
  EXPECT_EQ(Uris("e-mail:joe@example.com"), V{"mailto:joe@example.com"});
  EXPECT_EQ(Uris("skype:joe@example.com"), V{"mailto:joe@example.com"});
}

TEST(ExtractTest, EmailPercentDecoded) {
  EXPECT_EQ(Uris("joe%40example%2Ecom@example.com"), V{"mailto:joe@example.com@example.com"});
  // A mailto: match needs a literal "@" before decoding.
  EXPECT_EQ(Uris("mailto:joe%40example.com"), V{});
  EXPECT_EQ(Uris("mailto:joe@example%2Ecom"), V{"mailto:joe@example.com"});
}

TEST(ExtractTest, SlashBeforeAtIsHttp) {
  EXPECT_EQ(Uris("example.com/~joe@home"), V{"http://example.com/~joe@home"});
}

TEST(ExtractTest, Iso2022Shift) {
  EXPECT_EQ(Uris("\x1b(Bhttp://example.com/"), V{"http://example.com/"});
}

TEST(ExtractTest, ClosingBracketsAreNotStartDelimiters) {
  // "]" and "}" end a URI but do not start one: the match starts at the next word boundary.
  EXPECT_EQ(Uris("]%2eVi@gra.com,"), V{"mailto:2eVi@gra.com"});
  EXPECT_EQ(Uris("}.x.example.com/a"), V{});
  EXPECT_EQ(Uris("[x.example.com/a"), V{"http://x.example.com/a"});
}

TEST(ExtractTest, BareHostMustBeValidFqdn) {
  EXPECT_EQ(Uris("x a..example.com y"), V{});
  EXPECT_EQ(Uris("x b-.example.com y"), V{});
  EXPECT_EQ(Uris("x ex_ample.com y"), V{});
  EXPECT_EQ(Uris("x a_b.example.com y"), V{"http://a_b.example.com"});
  EXPECT_EQ(Uris("x " + std::string(63, 'a') + ".com y"),
            V{"http://" + std::string(63, 'a') + ".com"});
  EXPECT_EQ(Uris("x " + std::string(64, 'a') + ".com y"), V{});
}

TEST(ExtractTest, LengthLimits) {
  EXPECT_EQ(Uris(std::string(251, 'a') + "@example.com").size(), 1u);
  // Local part over 251 bytes: no address; the host after "@" is still found on its own.
  EXPECT_EQ(Uris(std::string(252, 'a') + "@example.com"), V{"http://example.com"});
  EXPECT_EQ(Uris("www." + std::string(2048, 'p')).size(), 1u);
  EXPECT_EQ(Uris("www." + std::string(2049, 'p')), V{});
}

TEST(CanonTest, AsciiHostWithOddCharsKeepsCase) {
  // SpamAssassin hands such hosts to libidn, which leaves ASCII labels (and their case) alone.
  EXPECT_TRUE(Has(Canon("http://u@A&B/x"), "http://A&B/x"));
  EXPECT_TRUE(Has(Canon("http://A&/"), "http://www.A&.com/"));
  EXPECT_TRUE(Has(Canon("http://Ab/"), "http://www.ab.com/"));
}

// --- canonicalisation ---

TEST(CanonTest, OriginalAlwaysFirst) {
  V c = Canon("http://example.com/");
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c[0], "http://example.com/");
  EXPECT_EQ(c.size(), 1u);
}

TEST(CanonTest, WhitespaceTrimmed) {
  V c = Canon("  http://exa\nmple.com/\r ");
  EXPECT_EQ(c[0], "http://example.com/");
}

TEST(CanonTest, SkipsFragmentsAndRelative) {
  EXPECT_EQ(Canon("#top"), V{"#top"});
  EXPECT_EQ(Canon("/img.gif"), V{"/img.gif"});
  EXPECT_EQ(Canon("?x"), V{"?x"});
  EXPECT_EQ(Canon("x"), V{"x"});
  EXPECT_TRUE(Has(Canon("//example.com/"), "http:////example.com/"));
}

TEST(CanonTest, PercentDecoded) {
  V c = Canon("http://%77%77%77.example.com/%7euser");
  EXPECT_TRUE(Has(c, "http://www.example.com/~user"));
  EXPECT_TRUE(Has(c, "http://%77%77%77.example.com/%7euser"));
  // Controls, blanks and %XX outside 0x21..0x7e stay encoded.
  EXPECT_TRUE(Has(Canon("http://example.com/a%20b%0a%41"), "http://example.com/a%20b%0aA"));
}

TEST(CanonTest, SchemeAdded) {
  EXPECT_TRUE(Has(Canon("www.example.com/"), "http://www.example.com/"));
  EXPECT_TRUE(Has(Canon("ftp.example.com/"), "ftp://ftp.example.com/"));
  EXPECT_TRUE(Has(Canon("http:www.example.com"), "http://www.example.com"));
  EXPECT_TRUE(Has(Canon("http:/www.example.com"), "http://www.example.com"));
  EXPECT_TRUE(Has(Canon("https:///www.example.com"), "https:///www.example.com"));
}

TEST(CanonTest, BackslashToSlash) {
  EXPECT_TRUE(Has(Canon("http:\\\\example.com\\a"), "http://example.com/a"));
}

TEST(CanonTest, SlashBeforeQuery) {
  EXPECT_TRUE(Has(Canon("http://example.com?id=3"), "http://example.com/?id=3"));
  EXPECT_TRUE(Has(Canon("http://example.com#frag"), "http://example.com/#frag"));
}

TEST(CanonTest, Entities) {
  EXPECT_TRUE(Has(Canon("http://example.com/a&#46;b&#x2e;c"), "http://example.com/a.b.c"));
  EXPECT_TRUE(Has(Canon("http://example.com/&#0046;&#12290;&#XFF0E;"), "http://example.com/..."));
  EXPECT_TRUE(Has(Canon("http://example.com/&#x61;&#x041;"), "http://example.com/aA"));
  // Decoded in separate passes: "&#38;" yields "&", which the hex pass then sees.
  EXPECT_TRUE(Has(Canon("http://example.com/&#38;#x61;"), "http://example.com/a"));
  // &#x2a; (0x2a) is not in SpamAssassin's hex range; &#32; (space) not in the decimal one.
  EXPECT_EQ(Canon("http://e.com/&#x2a;&#32;"), V{"http://e.com/&#x2a;&#32;"});
  // In the host, the "#" is taken as the start of a fragment first, as SpamAssassin does.
  EXPECT_TRUE(Has(Canon("http://www&#46;example.com/"), "http://www&/#46;example.com/"));
}

TEST(CanonTest, DefaultPortDropped) {
  EXPECT_TRUE(Has(Canon("http://example.com:80/x"), "http://example.com/x"));
  EXPECT_TRUE(Has(Canon("https://example.com:443/x"), "https://example.com/x"));
  EXPECT_FALSE(Has(Canon("http://example.com:8080/x"), "http://example.com80/x"));
  EXPECT_EQ(Canon("http://example.com:8080/x"), V{"http://example.com:8080/x"});
}

TEST(CanonTest, UserinfoStripped) {
  V c = Canon("http://www.bank.com@evil.example.com/");
  EXPECT_EQ(c, V{"http://www.bank.com@evil.example.com/"});  // only when the host keeps an "@"
  V d = Canon("http://a@www.bank.com@evil.example.com/");
  EXPECT_TRUE(Has(d, "http://evil.example.com/"));
  V e = Canon("http://user@example.com./");
  EXPECT_TRUE(Has(e, "http://example.com/"));
}

TEST(CanonTest, TrailingJunkInHostStripped) {
  EXPECT_TRUE(Has(Canon("http://example.com!!/x"), "http://example.com/x"));
  EXPECT_TRUE(Has(Canon("http://example.com./"), "http://example.com/"));
}

TEST(CanonTest, ControlCharsInHostRemoved) {
  EXPECT_TRUE(Has(Canon("http://exa\tmple.com/"), "http://example.com/"));
}

TEST(CanonTest, IpHosts) {
  EXPECT_TRUE(Has(Canon("http://0x7f000001/"), "http://127.0.0.1/"));
  EXPECT_TRUE(Has(Canon("http://2130706433/"), "http://127.0.0.1/"));
  EXPECT_TRUE(Has(Canon("http://0x7F.0.0.01/"), "http://127...1/"));
  EXPECT_TRUE(Has(Canon("http://0177.0x01.010.0001/"), "http://127.1.8.1/"));
  EXPECT_TRUE(Has(Canon("http://89.0x00000000000000000000068.0000000000000000000000160.0x11/"),
                  "http://89.104.112.17/"));
  EXPECT_TRUE(Has(Canon("http://0x1234567890/"), "http://52.86.120.144/"));
  EXPECT_TRUE(Has(Canon("http://4294967296/"), "http://16.0.0.0/"));
  EXPECT_TRUE(Has(Canon("http://99999999999999999999999/"), "http://255.255.255.255/"));
  EXPECT_TRUE(Has(Canon("http://192.168.1.1:80/"), "http://192.168.1.1/"));
}

TEST(CanonTest, FirefoxDotCom) {
  EXPECT_TRUE(Has(Canon("http://foobar/x"), "http://www.foobar.com/x"));
  EXPECT_TRUE(Has(Canon("http://www.FooBar/"), "http://www.foobar.com/"));
  EXPECT_FALSE(Has(Canon("http://localhost/"), "http://www.localhost.com/"));
  EXPECT_EQ(Canon("https://foobar/").size(), 1u);
  EXPECT_EQ(Canon("http://foobar:81/").size(), 1u);
  EXPECT_EQ(Canon("http://www.com/").size(), 1u);  // already a valid domain
}

TEST(CanonTest, GenericRedirector) {
  V c = Canon("http://redir.example.com/go?u=http://spam.example.org/x&y=1");
  EXPECT_TRUE(Has(c, "http://spam.example.org/x"));
  EXPECT_TRUE(
      Has(Canon("http://r.example.com/go/http:/spam.example.org/"), "http://spam.example.org/"));
  EXPECT_TRUE(Has(Canon("http://r.example.com/go?u=http%3A%2F%2Fspam.example.org%2F"),
                  "http://spam.example.org/"));
  EXPECT_EQ(Canon("http://r.example.com/go?u=http://nodot").size(), 1u);
}

TEST(CanonTest, RedirectorPatterns) {
  Result<RedirectorPatterns> r = RedirectorPatterns::Compile(
      {R"(/^https?:\/\/(?:opt\.)?chkpt\.zdnet\.com\/chkpt\/\w+\/(.*)$/i)",
       R"(m{^https?://(?:www\.)?google\.com/url\?.*?q=([^&]+)}i)"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->size(), 2u);
  V c = Canon("http://CHKPT.zdnet.com/chkpt/abc/spammer.example.com/yo", &*r);
  EXPECT_TRUE(Has(c, "spammer.example.com/yo"));
  EXPECT_TRUE(Has(c, "http://spammer.example.com/yo"));
  V g = Canon("https://www.google.com/url?sa=t&q=evil.example.net%2Fpath", &*r);
  EXPECT_TRUE(Has(g, "evil.example.net/path"));
  EXPECT_TRUE(Has(g, "http://evil.example.net/path"));
}

TEST(CanonTest, RedirectorPatternErrors) {
  EXPECT_FALSE(RedirectorPatterns::Compile({"/(unclosed/"}).has_value());
  EXPECT_FALSE(RedirectorPatterns::Compile({"/abc"}).has_value());
  EXPECT_FALSE(RedirectorPatterns::Compile({"/abc/q"}).has_value());
  EXPECT_TRUE(RedirectorPatterns::Compile({}).has_value());
}

TEST(CanonTest, NestedRedirectsAreBounded) {
  std::string u = "http://a.example.com/";
  for (int i = 0; i < 500; ++i) u += "?u=http://r" + std::to_string(i) + ".example.com/";
  V c = Canon(u);
  EXPECT_LE(c.size(), kMaxCanonicalUris);
  EXPECT_GT(c.size(), 3u);
}

TEST(CanonTest, Mailto) {
  V c = Canon("mailto:joe@example.com?subject=hi");
  EXPECT_TRUE(Has(c, "mailto:joe@example.com?subject=hi"));
  EXPECT_TRUE(Has(c, "mailto:joe@example.com"));
  EXPECT_TRUE(Has(Canon("mailto:joe@example.com&x.com"), "mailto:joe@example.com"));
  EXPECT_TRUE(Has(Canon("mailto:%20%20joe@example.com%20"), "mailto:joe@example.com"));
  EXPECT_TRUE(
      Has(Canon("mailto:\"Foo%20Bar\"%20<foo.bar@example.com>"), "mailto:foo.bar@example.com"));
  EXPECT_TRUE(Has(Canon("joe@example.com?x"), "joe@example.com"));
  EXPECT_EQ(Canon("mailto:joe@example.com"), V{"mailto:joe@example.com"});
}

TEST(CanonTest, IdnAndIpv6LeftAlone) {
  V c = Canon(
      "http://b\xc3\xbc"
      "cher.de/");
  EXPECT_EQ(c[0],
            "http://b\xc3\xbc"
            "cher.de/");
  V p = Canon("http://xn--bcher-kva.de/");
  EXPECT_EQ(p, V{"http://xn--bcher-kva.de/"});
  // IPv6 literal: the host stops at the first ":", nothing is rewritten into an IPv4 form.
  V v6 = Canon("http://[2001:db8::1]:8080/x");
  EXPECT_EQ(v6[0], "http://[2001:db8::1]:8080/x");
  for (const std::string& s : v6) EXPECT_EQ(s.find("0.0.0"), std::string::npos) << s;
}

TEST(CanonTest, VeryLongInput) {
  std::string u = "http://example.com/" + std::string(200000, '%');
  V c = Canon(u);
  ASSERT_FALSE(c.empty());
  for (const std::string& s : c) EXPECT_LE(s.size(), 3 * kMaxUriBytes);
  std::string text(100000, 'a');
  text += " http://example.com/ ";
  text += std::string(100000, '.');
  EXPECT_EQ(Uris(text), V{"http://example.com/"});
}

TEST(UrlDecodeTest, SpamAssassinRules) {
  EXPECT_EQ(SaUrlDecode("%41%2f%2F%3a"), "A//:");
  EXPECT_EQ(SaUrlDecode("%20%7f%7F%00%ff%1f"), "%20%7f%7F%00%ff%1f");
  EXPECT_EQ(SaUrlDecode("a b\"<>%zz"), "a%20b%22%3c%3e%25zz");
  EXPECT_EQ(SaUrlDecode("\xc3\xa9"), "%c3%a9");
}

TEST(ExtractTest, ObfuscationsRawKept) {
  V raws = Raws("http://www%2Eexample%2Ecom/ and hxxp://evil.example.com/");
  EXPECT_TRUE(Has(raws, "http://www%2Eexample%2Ecom/"));
  // "hxxp" is not a scheme, but the bare host after "//" has a known TLD.
  EXPECT_TRUE(Has(Uris("hxxp://evil.example.com/x"), "http://evil.example.com/x"));
  // A bare host followed by a lone "/" is not taken (the path needs a byte).
  EXPECT_EQ(Uris("evil.example.com/ x"), V{});
}

}  // namespace
}  // namespace mailsift::mime
