// rules/message/message_text_test.cc — the texts rules match, on hand-written messages: get() with
// its modifiers and pseudo-headers, the rendered body lines, rawbody chunks, full, URIs.
//
// Header values were checked with SpamAssassin 4.0.1 (`spamassassin -L -t` with header rules
// anchored on the exact expected value, e.g. `header T Subject:raw =~ /^ =\?utf-8…\?=\n\z/`),
// relay strings with `spamassassin -D metadata`.
#include "rules/message/message_text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mime/message.h"
#include "rules/cf/ruleset.h"
#include "rules/eval/eval_input.h"

namespace mailsift::rules {
namespace {

using Lines = std::vector<std::string>;

// A parsed message and its MessageText (with com/net/org as known TLDs). With `relays`, the
// Received parser's strings are computed as the evaluator does (no trusted_networks).
class Text {
 public:
  explicit Text(std::string_view raw, Envelope envelope = {}, bool relays = false)
      : message_(mime::ParseMessage(raw)),
        tlds_(std::vector<std::string>{"com", "net", "org"}),
        text_(message_, envelope, TextContext{&tlds_, nullptr}) {
    if (relays) {
      auto config = EvalConfigFromRuleset(ruleset_);
      EvalInput eval_input(text_, *config);
      text_.SetRelays(ComputeRelayStrings(eval_input));
    }
  }
  MessageText* operator->() { return &text_; }

 private:
  mime::Message message_;
  mime::TldSet tlds_;
  Ruleset ruleset_;
  MessageText text_;
};

std::optional<std::string> S(std::string s) { return s; }

// ---- get(): plain headers -------------------------------------------------------------------

TEST(MessageTextGet, DecodesRfc2047AndKeepsRawOnRequest) {
  Text t("Subject: =?utf-8?q?caf=C3=A9_ol=C3=A9?=\n\nx\n");
  EXPECT_EQ(t->Get("Subject"), S("caf\xC3\xA9 ol\xC3\xA9\n"));
  EXPECT_EQ(t->Get("subject"), S("caf\xC3\xA9 ol\xC3\xA9\n"));  // names are case-insensitive
  EXPECT_EQ(t->Get("Subject:raw"), S(" =?utf-8?q?caf=C3=A9_ol=C3=A9?=\n"));
  EXPECT_EQ(t->Subject(), "caf\xC3\xA9 ol\xC3\xA9\n");
}

TEST(MessageTextGet, LongFieldsAreDecodedFromTheirFirst8kAsSpamAssassinStoresThem) {
  // Message.pm: header() keeps MAX_HEADER_VALUE_LENGTH (8192) bytes of the value with its line
  // end, and the decoded get() is made from them; :raw reads the pristine header, whole.
  std::string value(1 << 20, 'a');
  Text t("Subject: short\nX-Long: " + value + "\n\nx\n");
  EXPECT_EQ(t->Get("X-Long"), S(value.substr(0, 8191) + "\n"));
  EXPECT_EQ(t->Get("X-Long:raw"), S(" " + value + "\n"));
  EXPECT_EQ(t->Get("Subject"), S("short\n"));
  // Exactly 8192 bytes with the line end: decoded whole.
  Text fits("X-Fits:" + std::string(8190, 'b') + "c\n\nx\n");
  EXPECT_EQ(fits->Get("X-Fits"), S(std::string(8190, 'b') + "c\n"));
}

TEST(MessageTextGet, NoRfc2047DecodingInReceivedAndMessageId) {
  Text t(
      "Received: from =?utf-8?q?host?= by mx.example.org; Mon, 1 Jan 2024 10:00:00 +0000\n"
      "Message-ID: <=?utf-8?q?abc?=@example.com>\n"
      "X-Other: =?utf-8?q?abc?=\n"
      "\nx\n");
  EXPECT_EQ(t->Get("Received"),
            S("from =?utf-8?q?host?= by mx.example.org; Mon, 1 Jan 2024 10:00:00 +0000\n"));
  EXPECT_EQ(t->Get("Message-ID"), S("<=?utf-8?q?abc?=@example.com>\n"));
  EXPECT_EQ(t->Get("X-Other"), S("abc\n"));
}

// `Name:raw` is Node::raw_header, the value exactly as written (folds kept); ToCc:raw and
// MESSAGEID:raw go through get_header($name, 1), which unfolds. Checked with SpamAssassin:
// `header T X-Fold:raw =~ /^ Hello\n   world\n\tagain\n\z/` hits.
TEST(MessageTextGet, FoldingBecomesOneSpaceAndRawKeepsIt) {
  Text t("X-Fold: Hello\n   world\n\tagain\nTo: a@example.com,\n b@example.org\n\nx\n");
  EXPECT_EQ(t->Get("X-Fold"), S("Hello world again\n"));
  EXPECT_EQ(t->Get("X-Fold:raw"), S(" Hello\n   world\n\tagain\n"));
  EXPECT_EQ(t->Get("ToCc:raw"), S(" a@example.com, b@example.org\n"));
}

TEST(MessageTextGet, MultipleInstancesJoinedEachEndingInNewline) {
  Text t("X-Tag: a\nX-Other: z\nX-Tag: b\n\nx\n");
  EXPECT_EQ(t->Get("X-Tag"), S("a\nb\n"));
  EXPECT_EQ(t->GetAll("X-Tag"), (Lines{"a\n", "b\n"}));
  EXPECT_EQ(t->Get("X-Tag:first"), S("a\n"));
  EXPECT_EQ(t->Get("X-Tag:last"), S("b\n"));
  EXPECT_EQ(t->Get("X-Missing"), std::nullopt);
  EXPECT_EQ(t->Get("X-Missing:first"), std::nullopt);
}

TEST(MessageTextGet, EmptyHeaderIsDefined) {
  Text t("X-Empty:\n\nx\n");
  EXPECT_EQ(t->Get("X-Empty"), S("\n"));
}

// ---- get(): modifiers -----------------------------------------------------------------------

TEST(MessageTextGet, AddrAndName) {
  Text t(
      "From: \"Alice Smith\" <alice@example.com>\n"
      "To: a@x.com, \"B\" <b@y.org>\n"
      "Cc: =?utf-8?q?Caf=C3=A9?= <cafe@example.net>\n"
      "\nx\n");
  EXPECT_EQ(t->Get("From:addr"), S("alice@example.com"));
  EXPECT_EQ(t->Get("From:name"), S("Alice Smith"));
  // Values without a final newline are joined with one.
  EXPECT_EQ(t->Get("To:addr"), S("a@x.com\nb@y.org"));
  EXPECT_EQ(t->GetAll("To:addr"), (Lines{"a@x.com", "b@y.org"}));
  EXPECT_EQ(t->Get("To:name"), S("B"));
  EXPECT_EQ(t->Get("Cc:name"), S("Caf\xC3\xA9"));
  EXPECT_EQ(t->Get("Reply-To:addr"), std::nullopt);
}

TEST(MessageTextGet, FirstAndLastPickOneInstanceBeforeAddr) {
  Text t("Resent-From: first@example.com\nResent-From: last@example.org\n\nx\n");
  EXPECT_EQ(t->Get("Resent-From:first:addr"), S("first@example.com"));
  EXPECT_EQ(t->Get("Resent-From:last:addr"), S("last@example.org"));
  EXPECT_EQ(t->Get("Resent-From:addr"), S("first@example.com\nlast@example.org"));
}

TEST(MessageTextGet, IpAndRevip) {
  Text t("X-Originating-IP: [203.0.113.5]\nX-None: no address here\n\nx\n");
  EXPECT_EQ(t->Get("X-Originating-IP:ip"), S("203.0.113.5"));
  EXPECT_EQ(t->Get("X-Originating-IP:revip"), S("5.113.0.203"));
  EXPECT_EQ(t->Get("X-None:ip"), std::nullopt);
}

// SpamAssassin 4.0.1: :host is the host as written (`/.*\@(\S+)/` after :addr), :domain the
// registrable domain from RegistryBoundaries::trim_domain (lower case). Checked with
// `header T_HOST From:addr:host =~ /^Mail\.Example\.co\.uk$/` (hits) and
// `header T_DOM From:addr:domain =~ /^example\.co\.uk$/` (hits) on
// From: "Alice Smith" <alice@Mail.Example.co.uk>.
TEST(MessageTextGet, HostAndDomain) {
  Text t("From: \"Alice Smith\" <alice@Mail.Example.com>\n\nx\n");
  EXPECT_EQ(t->Get("From:addr:host"), S("Mail.Example.com"));
  EXPECT_EQ(t->Get("From:addr:domain"), S("example.com"));
}

// ---- get(): pseudo-headers ------------------------------------------------------------------

constexpr std::string_view kRelayed =
    "X-Pre: 1\n"
    "Received: from mail.example.com (mail.example.com [203.0.113.5])\n"
    "\tby mx.example.org (Postfix) with ESMTP id ABC123\n"
    "\tfor <bob@example.org>; Mon, 1 Jan 2024 10:00:00 +0000 (UTC)\n"
    "From: Alice <alice@example.com>\n"
    "To: bob@example.org\n"
    "Cc: Carol <carol@example.net>\n"
    "Subject: =?utf-8?q?Hello_world?=\n"
    "Message-ID: <abc123@example.com>\n"
    "\n"
    "x\n";

TEST(MessageTextPseudo, All) {
  Text t(kRelayed);
  std::optional<std::string> all = t->Get("ALL");
  ASSERT_TRUE(all);
  EXPECT_EQ(*all,
            "X-Pre: 1\n"
            "Received: from mail.example.com (mail.example.com [203.0.113.5]) by mx.example.org "
            "(Postfix) with ESMTP id ABC123 for <bob@example.org>; Mon, 1 Jan 2024 10:00:00 "
            "+0000 (UTC)\n"
            "From: Alice <alice@example.com>\n"
            "To: bob@example.org\n"
            "Cc: Carol <carol@example.net>\n"
            "Subject: Hello world\n"
            "Message-ID: <abc123@example.com>\n");
  EXPECT_EQ(t->GetAll("ALL").size(), 7u);
}

TEST(MessageTextPseudo, AllRawKeepsFoldsAndEncodedWords) {
  Text t(kRelayed);
  std::optional<std::string> raw = t->Get("ALL:raw");
  ASSERT_TRUE(raw);
  EXPECT_NE(raw->find("Received: from mail.example.com (mail.example.com [203.0.113.5])\n"
                      "\tby mx.example.org"),
            std::string::npos)
      << *raw;
  EXPECT_NE(raw->find("Subject: =?utf-8?q?Hello_world?=\n"), std::string::npos) << *raw;
}

TEST(MessageTextPseudo, ToCcAndMessageId) {
  Text t(
      "To: bob@example.org\nCc: Carol <carol@example.net>\n"
      "Message-Id: <m@example.com>\nX-Message-Id: <x@example.com>\n\nx\n");
  EXPECT_EQ(t->Get("ToCc"), S("bob@example.org\nCarol <carol@example.net>\n"));
  EXPECT_EQ(t->Get("ToCc:addr"), S("bob@example.org\ncarol@example.net"));
  // X-Message-Id, Resent-Message-Id, X-Original-Message-ID, then Message-Id.
  EXPECT_EQ(t->Get("MESSAGEID"), S("<x@example.com>\n<m@example.com>\n"));
  Text none("Subject: x\n\nx\n");
  EXPECT_EQ(none->Get("ToCc"), std::nullopt);
  EXPECT_EQ(none->Get("MESSAGEID"), std::nullopt);
}

TEST(MessageTextPseudo, EnvelopeFrom) {
  // The SMTP envelope when known.
  Envelope env;
  env.mail_from = "sender@example.net";
  Text from_env("Return-Path: <bounce@example.com>\nSubject: x\n\nx\n", env, true);
  EXPECT_EQ(from_env->Get("EnvelopeFrom"), S("sender@example.net"));
  // Else Return-Path, when no Received header comes before it…
  Text from_header("Return-Path: <bounce@example.com>\nSubject: x\n\nx\n", {}, true);
  EXPECT_EQ(from_header->Get("EnvelopeFrom"), S("bounce@example.com"));
  // …and nothing when it was added after a Received (SpamAssassin does not trust it).
  Text after_received(std::string(kRelayed.substr(0, kRelayed.find("From:"))) +
                          "Return-Path: <bounce@example.com>\nSubject: x\n\nx\n",
                      {}, true);
  EXPECT_EQ(after_received->Get("EnvelopeFrom"), std::nullopt);
}

TEST(MessageTextPseudo, RelaysUntrustedString) {
  Text t(kRelayed, {}, true);
  EXPECT_EQ(t->Get("X-Spam-Relays-Untrusted"),
            S("[ ip=203.0.113.5 rdns=mail.example.com helo=mail.example.com by=mx.example.org "
              "ident= envfrom= intl=0 id=ABC123 auth= msa=0 ]"));
  EXPECT_EQ(t->Get("X-Spam-Relays-External"), t->Get("X-Spam-Relays-Untrusted"));
  EXPECT_EQ(t->Get("X-Spam-Relays-Trusted"), S(""));
}

TEST(MessageTextPseudo, AllUntrustedStartsAtTheFirstUntrustedReceived) {
  Text t(kRelayed, {}, true);
  std::optional<std::string> untrusted = t->Get("ALL-UNTRUSTED");
  ASSERT_TRUE(untrusted);
  EXPECT_EQ(untrusted->rfind("Received: from mail.example.com", 0), 0u) << *untrusted;
  EXPECT_EQ(untrusted->find("X-Pre:"), std::string::npos);
  EXPECT_NE(untrusted->find("\nSubject: Hello world\n"), std::string::npos);
  // Nothing is trusted (last_trusted_relay_index -1): get_all_hdrs_in_rcvd_index_range(undef, 0)
  // gives the headers above the first Received and that Received itself. Checked with
  // SpamAssassin: `header T ALL-TRUSTED =~ /^X-Pre: 1\nReturn-Path: <…>\nReceived: …\n\z/`.
  EXPECT_EQ(t->Get("ALL-TRUSTED"),
            S("X-Pre: 1\n"
              "Received: from mail.example.com (mail.example.com [203.0.113.5]) by "
              "mx.example.org (Postfix) with ESMTP id ABC123 for <bob@example.org>; Mon, 1 Jan "
              "2024 10:00:00 +0000 (UTC)\n"));
}

// ---- rendered body --------------------------------------------------------------------------

TEST(MessageTextBody, WhitespaceNormalisation) {
  EXPECT_EQ(SaNormalizeBodyWhitespace("a\nb"), "a b");
  EXPECT_EQ(SaNormalizeBodyWhitespace("a\n\nb"), "a\nb");
  EXPECT_EQ(SaNormalizeBodyWhitespace("a\n \t\n\n\nb"), "a\nb");
  EXPECT_EQ(SaNormalizeBodyWhitespace("a \n \n b"), "a \n b");
  EXPECT_EQ(SaNormalizeBodyWhitespace("a  \t b"), "a b");
  // U+00A0 (and other Unicode blanks) count as whitespace.
  EXPECT_EQ(SaNormalizeBodyWhitespace("a\xC2\xA0\xC2\xA0 b"), "a b");
  EXPECT_EQ(SaNormalizeBodyWhitespace("a\xE2\x80\x83"
                                      "b"),
            "a b");  // U+2003 EM SPACE
  // Other non-ASCII bytes are left alone.
  EXPECT_EQ(SaNormalizeBodyWhitespace("caf\xC3\xA9  x"), "caf\xC3\xA9 x");
}

TEST(MessageTextBody, SubjectFirstThenNormalisedParts) {
  Text t(
      "Subject: Hello\nContent-Type: text/plain; charset=utf-8\n\n"
      "cheap\xC2\xA0\xC2\xA0 pills\n\npara   two\t\tx\n");
  EXPECT_EQ(t->BodyLines(), (Lines{"Hello\n", "cheap pills\n", "para two x "}));
  Text no_subject("From: a@example.com\n\nbody\n");
  EXPECT_EQ(no_subject->BodyLines(), (Lines{"\n", "body "}));
}

TEST(MessageTextBody, HtmlIsRendered) {
  Text t(
      "Subject: s\nContent-Type: text/html\n\n"
      "<html><body><p>Buy <b>cheap</b> pills</p></body></html>\n");
  // <p> starts a paragraph: SpamAssassin's lines are "s\n", "\n", "Buy cheap pills\n" too
  // (checked with body rules anchored /^…\n\z/).
  EXPECT_EQ(t->BodyLines(), (Lines{"s\n", "\n", "Buy cheap pills\n"}));
}

TEST(MessageTextBody, EnrichedIsPlainTextAndHtmlNamedPartIsHtml) {
  Text t(
      "Subject: s\n"
      "Content-Type: multipart/mixed; boundary=\"XX\"\n\n"
      "--XX\n"
      "Content-Type: text/enriched\n\n"
      "<bold>enriched</bold> text\n"
      "--XX\n"
      "Content-Type: application/octet-stream; name=\"page.html\"\n\n"
      "<p>named <i>html</i> part</p>\n"
      "--XX\n"
      "Content-Type: application/octet-stream\n\n"
      "binary stuff\n"
      "--XX--\n");
  std::string joined;
  for (const std::string& l : t->BodyLines()) joined += l;
  EXPECT_NE(joined.find("<bold>enriched</bold> text"), std::string::npos) << joined;
  EXPECT_NE(joined.find("named html part"), std::string::npos) << joined;
  EXPECT_EQ(joined.find("<i>"), std::string::npos) << joined;
  EXPECT_EQ(joined.find("binary"), std::string::npos) << joined;
  ASSERT_EQ(t->HtmlParts().size(), 1u);
  EXPECT_EQ(t->HtmlParts()[0].first, 1u);
  // rawbody takes the text parts by effective type too (checked with SpamAssassin).
  EXPECT_EQ(t->RawBodyChunks(),
            (Lines{"<bold>enriched</bold> text", "<p>named <i>html</i> part</p>"}));
}

TEST(MessageTextBody, LongLinesSplitAtASpaceWithin2048Bytes) {
  const std::string a(2047, 'a'), b(1000, 'b');
  EXPECT_EQ(SplitIntoShortLines(a + " " + b), (Lines{a + " ", b}));
  // rindex(line, ' ', 2048): a space at offset 2048 still counts, giving 2,049 bytes.
  const std::string a8(2048, 'a');
  EXPECT_EQ(SplitIntoShortLines(a8 + " " + b), (Lines{a8 + " ", b}));
  // No space: cut at 2,048 bytes.
  const std::string x(5000, 'x');
  EXPECT_EQ(SplitIntoShortLines(x),
            (Lines{x.substr(0, 2048), x.substr(2048, 2048), x.substr(4096)}));
  EXPECT_EQ(SplitIntoShortLines("one\ntwo\n"), (Lines{"one\n", "two\n"}));

  Text t("Subject: s\n\n" + a + " " + b + "\n");
  EXPECT_EQ(t->BodyLines(), (Lines{"s\n", a + " ", b + " "}));
}

// ---- rawbody, full --------------------------------------------------------------------------

TEST(MessageTextRawBody, ParagraphSplitting) {
  EXPECT_EQ(SplitIntoShortParagraphs("short\ntext\n"), Lines{"short\ntext\n"});
  std::string text;
  for (int i = 0; i < 100; ++i) text += std::string(99, 'a' + i % 26) + "\n";  // 10,000 bytes
  Lines chunks = SplitIntoShortParagraphs(text);
  // The first "\n" at or after 2,048 bytes into each chunk ends it, while more than 4,096
  // bytes remain.
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].size(), 2100u);
  EXPECT_EQ(chunks[1].size(), 2100u);
  EXPECT_EQ(chunks[2].size(), 2100u);
  EXPECT_EQ(chunks[3].size(), 3700u);
  std::string joined;
  for (const std::string& c : chunks) joined += c;
  EXPECT_EQ(joined, text);
  // Without line breaks, ">" (HTML) and then a space are tried.
  std::string html;
  while (html.size() < 6000) html += "<td>cell</td>";
  Lines html_chunks = SplitIntoShortParagraphs(html);
  ASSERT_GE(html_chunks.size(), 2u);
  EXPECT_EQ(html_chunks[0].back(), '>');
}

TEST(MessageTextRawBody, TransferDecodedTextPartsOnly) {
  Text t(
      "Subject: Hello\n"
      "Content-Type: multipart/mixed; boundary=\"XX\"\n\n"
      "--XX\n"
      "Content-Type: text/plain\n"
      "Content-Transfer-Encoding: quoted-printable\n\n"
      "cheap=20pills=\n now\n"
      "--XX\n"
      "Content-Type: text/html\n"
      "Content-Transfer-Encoding: base64\n\n"
      "PGI+aGk8L2I+Cg==\n"
      "--XX\n"
      "Content-Type: application/octet-stream\n\n"
      "binary stuff\n"
      "--XX--\n");
  // The line break before a boundary belongs to the delimiter, so the first part's body ends
  // without one.
  EXPECT_EQ(t->RawBodyChunks(), (Lines{"cheap pills now", "<b>hi</b>\n"}));
}

TEST(MessageTextFull, IsTheMessageWithoutMboxFromLine) {
  const std::string message = "Subject: s\nContent-Transfer-Encoding: quoted-printable\n\na=20b\n";
  Text t("From sender@example.com Mon Jan  1 10:00:00 2024\n" + message);
  EXPECT_EQ(t->Full(), message);
}

// ---- uris -----------------------------------------------------------------------------------

TEST(MessageTextUris, TextAndHtmlCanonicalised) {
  Text t(
      "Subject: s\n"
      "Content-Type: multipart/alternative; boundary=\"XX\"\n\n"
      "--XX\n"
      "Content-Type: text/plain\n\n"
      "see www.example.com and nothing.invalid\n"
      "--XX\n"
      "Content-Type: text/html\n\n"
      "<a href=\"http://evil.example.net/%7Euser\">x</a>\n"
      "--XX--\n");
  const Lines& uris = t->Uris();
  auto has = [&](std::string_view u) {
    return std::find(uris.begin(), uris.end(), u) != uris.end();
  };
  EXPECT_TRUE(has("http://evil.example.net/%7Euser")) << ::testing::PrintToString(uris);
  EXPECT_TRUE(has("http://evil.example.net/~user")) << ::testing::PrintToString(uris);
  // A schemeless host is listed with "http://" only (SpamAssassin: `uri T /^www\.example\.com$/`
  // does not hit, `uri T m{^http://www\.example\.com$}` does).
  EXPECT_TRUE(has("http://www.example.com")) << ::testing::PrintToString(uris);
  EXPECT_FALSE(has("www.example.com")) << ::testing::PrintToString(uris);
  for (const std::string& u : uris) EXPECT_EQ(u.find("invalid"), std::string::npos) << u;
}

// ---- mime parts -----------------------------------------------------------------------------

TEST(MessageTextMimeParts, EveryEntityInOrderWithRawAndDecoded) {
  Text t(
      "Subject: s\n"
      "Content-Type: multipart/mixed; boundary=\"XX\"\n\n"
      "--XX\n"
      "Content-Type: text/plain\n\n"
      "a\n"
      "--XX\n"
      "Content-Type: application/pdf;\n name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\n\n"
      "AAAA\n"
      "--XX--\n");
  const std::vector<SaEntity>& parts = t->MimeParts();
  ASSERT_EQ(parts.size(), 3u);  // the root multipart, then its two leaves
  auto header = [](const SaEntity& e, std::string_view name) -> const SaHeader* {
    for (const SaHeader& h : e.headers) {
      if (h.name == name) return &h;
    }
    return nullptr;
  };
  ASSERT_NE(header(parts[0], "Subject"), nullptr);
  ASSERT_NE(header(parts[1], "Content-Type"), nullptr);
  EXPECT_EQ(header(parts[1], "Content-Type")->decoded, "text/plain");
  const SaHeader* pdf = header(parts[2], "Content-Type");
  ASSERT_NE(pdf, nullptr);
  // Below the root, SpamAssassin splits part headers with /:\s*/, so the raw value has no
  // leading blanks (checked: `mimeheader T Content-Type:raw =~ /^application\/pdf;\n name=/`
  // hits); the root keeps them (`Subject:raw` starts with the space after the colon).
  EXPECT_EQ(pdf->raw, "application/pdf;\n name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\n");
  EXPECT_EQ(header(parts[0], "Subject")->raw, " s\n");
  EXPECT_EQ(pdf->decoded, "application/pdf; name=\"r\xC3\xA9sum\xC3\xA9.pdf\"");
}

}  // namespace
}  // namespace mailsift::rules
