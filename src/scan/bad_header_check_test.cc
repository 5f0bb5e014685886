// Tests of the bad-header check: one message per amavisd sub-category, the texts amavisd
// writes for each, and which sub-category wins when several apply.
#include "scan/bad_header_check.h"

#include <gtest/gtest.h>

#include <string>

#include "mime/message.h"

namespace mailsift::scan {
namespace {

const std::string kGoodHeader =
    "Return-Path: <a@example.com>\n"
    "Received: from mx.example.com (mx.example.com [192.0.2.1])\n"
    "\tby mail.example.net with ESMTP id 123\n"
    "From: Alice <a@example.com>\n"
    "To: b@example.net\n"
    "Subject: =?UTF-8?Q?Caf=C3=A9?=\n"
    "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
    "Message-ID: <1@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n";

MessageInput Input(const std::string& text) {
  MessageInput input;
  input.raw = std::make_shared<const std::string>(text);
  return input;
}

CheckResult Check(const std::string& message, BadHeaderCheck::Options options = {},
                  bool smtputf8 = false) {
  auto check = BadHeaderCheck::Create(config::BadHeader{}, options);
  if (!smtputf8) return check->Run(Input(message));
  mime::Message parsed = mime::ParseMessage(message);
  return check->Inspect(message, parsed, smtputf8);
}

std::string Joined(const CheckResult& r) {
  std::string out;
  for (const auto& d : r.details) out += d + "\n";
  return out;
}

TEST(BadHeaderCheck, ACleanMessagePasses) {
  CheckResult r = Check(kGoodHeader + "\nHello.\n");
  EXPECT_TRUE(r.scanned);
  EXPECT_EQ(r.check, "bad_header");
  EXPECT_EQ(r.finding, Finding::kNothing) << Joined(r);
  EXPECT_EQ(r.subcategory, 0);
  EXPECT_TRUE(r.details.empty());
}

TEST(BadHeaderCheck, MimeErrorsAreSubcategory1) {
  CheckResult r = Check(kGoodHeader.substr(0, kGoodHeader.find("Content-Type")) +
                        "Content-Type: multipart/mixed\n\nno boundary here\n");
  EXPECT_EQ(r.finding, Finding::kBadHeader);
  EXPECT_EQ(r.subcategory, 1);
  EXPECT_EQ(r.details,
            std::vector<std::string>{
                "MIME error: error: multipart boundary is missing, or contains CR or LF"});

  r = Check(kGoodHeader.substr(0, kGoodHeader.find("Content-Type")) +
            "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n");
  EXPECT_EQ(r.subcategory, 1);
  EXPECT_EQ(r.details, (std::vector<std::string>{
                           "MIME error: error: part did not end with expected boundary",
                           "MIME error: error: unexpected end of parts before epilogue"}));

  // No delimiter at all is an error; a close delimiter alone only a warning.
  std::string head = kGoodHeader.substr(0, kGoodHeader.find("Content-Type"));
  r = Check(head + "Content-Type: multipart/mixed; boundary=b\n\npreamble only\n");
  EXPECT_EQ(r.details, std::vector<std::string>{"MIME error: error: unexpected end of preamble"});
  EXPECT_EQ(Check(head + "Content-Type: multipart/mixed; boundary=b\n\n--b--\n").finding,
            Finding::kNothing);
  // amavisd does not parse attached messages.
  r = Check(head +
            "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
            "Content-Type: message/rfc822\n\nFrom: x\nContent-Type: multipart/mixed\n\nbad\n"
            "--o--\n");
  EXPECT_EQ(r.finding, Finding::kNothing) << Joined(r);

  // A header section that never ends.
  r = Check(kGoodHeader);
  EXPECT_EQ(r.subcategory, 1);
  EXPECT_EQ(r.details, std::vector<std::string>{"MIME error: error: unexpected end of header"});
}

TEST(BadHeaderCheck, Non8BitDataIsSubcategory2) {
  std::string head = kGoodHeader;
  head.replace(head.find("=?UTF-8?Q?Caf=C3=A9?="), 21, "Caf\xE9 au lait");
  CheckResult r = Check(head + "\nbody\n");
  EXPECT_EQ(r.finding, Finding::kBadHeader);
  EXPECT_EQ(r.subcategory, 2);
  EXPECT_EQ(r.details, std::vector<std::string>{"Non-encoded non-ASCII data (and not UTF-8) "
                                                "(char E9 hex): Subject: Caf\\x{E9} au lait"});
}

TEST(BadHeaderCheck, Invalid8BitNearTheEndOfALongFieldIsShownShortened) {
  std::string head = kGoodHeader;
  head.replace(head.find("Subject: =?UTF-8?Q?Caf=C3=A9?="), 30,
               "Subject: " + std::string(60, 'a') + "\xE9" + "bc");
  CheckResult r = Check(head + "\nbody\n");
  EXPECT_EQ(r.subcategory, 2);
  EXPECT_EQ(r.details,
            std::vector<std::string>{
                "Non-encoded non-ASCII data (and not UTF-8) (char E9 hex): Subject: ..." +
                std::string(43, 'a') + "\\x{E9}bc"});
}

TEST(BadHeaderCheck, Utf8IsReportedOnlyWhenAskedAndNotWithSmtpUtf8) {
  std::string head = kGoodHeader;
  head.replace(head.find("=?UTF-8?Q?Caf=C3=A9?="), 21, "Caf\xC3\xA9");
  std::string message = head + "\nbody\n";
  // amavisd's 'utf8' test is off by default.
  EXPECT_EQ(Check(message).finding, Finding::kNothing);
  CheckResult r = Check(message, {.utf8 = true});
  EXPECT_EQ(r.subcategory, 2);
  EXPECT_EQ(r.details,
            std::vector<std::string>{"Non-encoded UTF-8 string in non-EAI mail (char C3 A9 hex): "
                                     "Subject: Caf\\x{C3}\\x{A9}"});
  EXPECT_EQ(Check(message, {.utf8 = true}, /*smtputf8=*/true).finding, Finding::kNothing);

  // C1 controls are reported whatever the envelope said (also as the first non-ASCII
  // character).
  r = Check(kGoodHeader + "X-C1: \xC2\x85\n\nbody\n", {}, /*smtputf8=*/true);
  EXPECT_EQ(r.details,
            std::vector<std::string>{
                "UTF-8 string contains C1 Controls (char C2 85 hex): X-C1: \\x{C2}\\x{85}"});
  head.replace(head.find("Caf\xC3\xA9"), 5, "Caf\xC3\xA9\xC2\x85x");
  r = Check(head + "\nbody\n", {}, /*smtputf8=*/true);
  EXPECT_EQ(r.subcategory, 2);
  EXPECT_EQ(r.details,
            std::vector<std::string>{"UTF-8 string contains C1 Controls (char C2 85 hex): "
                                     "Subject: Caf\\x{C3}\\x{A9}\\x{C2}\\x{85}x"});
}

TEST(BadHeaderCheck, ControlCharactersAreSubcategory3) {
  std::string head = kGoodHeader;
  head.replace(head.find("To: b@example.net"), 17, std::string("To: b@exa\rmple.net"));
  CheckResult r = Check(head + "\nbody\n");
  EXPECT_EQ(r.subcategory, 3);
  EXPECT_EQ(r.details,
            std::vector<std::string>{
                "Improper use of control character (char 0D hex): To: b@exa\\x{0D}mple.net"});
  head = kGoodHeader;
  head.replace(head.find("To: b@example.net"), 17, std::string("To: b@\0example.net", 18));
  r = Check(head + "\nbody\n");
  EXPECT_EQ(r.subcategory, 3);
  EXPECT_EQ(r.details[0],
            "Improper use of control character (char 00 hex): To: b@\\x{00}example.net");
}

TEST(BadHeaderCheck, AWhitespaceOnlyContinuationLineIsSubcategory4) {
  std::string head = kGoodHeader;
  head.replace(head.find("To: b@example.net\n"), 18, "To: b@example.net,\n   \n c@example.net\n");
  CheckResult r = Check(head + "\nbody\n");
  EXPECT_EQ(r.subcategory, 4);
  EXPECT_EQ(r.details,
            std::vector<std::string>{
                "Improper folded header field made up entirely of whitespace (char 20 20 20 hex): "
                "To: b@example.net,\\x{0A}   \\x{0A} c@example.net"});
}

TEST(BadHeaderCheck, ALineLongerThan998IsSubcategory5) {
  std::string head = kGoodHeader + "X-Long: " + std::string(1000, 'x') + "\n";
  CheckResult r = Check(head + "\nbody\n");
  EXPECT_EQ(r.subcategory, 5);
  EXPECT_EQ(r.details, std::vector<std::string>{"Header line longer than 998 characters: X-Long: " +
                                                std::string(42, 'x') + "[...]"});
  // 998 characters are allowed.
  EXPECT_EQ(Check(kGoodHeader + "X-Long: " + std::string(990, 'x') + "\n\nbody\n").finding,
            Finding::kNothing);
}

TEST(BadHeaderCheck, SyntaxErrorsAreSubcategory6) {
  CheckResult r = Check(kGoodHeader + "this line is no header field\n--bound: ary\n\nbody\n");
  EXPECT_EQ(r.subcategory, 6);
  EXPECT_EQ(r.details,
            (std::vector<std::string>{"Invalid header field syntax: this line is no header field",
                                      "Invalid header field syntax: --bound: ary"}));
  r = Check(kGoodHeader + "X-T\xE9st: v\n\nbody\n");
  EXPECT_EQ(r.subcategory, 6);
  // amavisd's text, as it builds it: the field, the character, the field again.
  EXPECT_EQ(r.details, std::vector<std::string>{
                           "Invalid header field name, contains non-ASCII char (char E9 hex): "
                           "X-T\\x{E9}st: v\\x{E9}X-T\\x{E9}st: v"});
}

TEST(BadHeaderCheck, MissingDateOrFromIsSubcategory7) {
  std::string head = kGoodHeader;
  head.erase(head.find("Date:"), head.find("Message-ID:") - head.find("Date:"));
  head.erase(head.find("From:"), head.find("To:") - head.find("From:"));
  CheckResult r = Check(head + "\nbody\n");
  EXPECT_EQ(r.subcategory, 7);
  EXPECT_EQ(r.details, (std::vector<std::string>{"Missing required header field: \"Date\"",
                                                 "Missing required header field: \"From\""}));
}

TEST(BadHeaderCheck, DuplicateFieldsAreSubcategory8AndWin) {
  std::string message = kGoodHeader + "Subject: again\nTo: c@example.net\nto: d@example.net\n" +
                        "X-Bad: \xFF\n\nbody\n";
  CheckResult r = Check(message);
  EXPECT_EQ(r.finding, Finding::kBadHeader);
  EXPECT_EQ(r.subcategory, 8);  // amavisd keeps the highest sub-category
  EXPECT_EQ(r.details,
            (std::vector<std::string>{
                "Non-encoded non-ASCII data (and not UTF-8) (char FF hex): X-Bad: \\x{FF}",
                "Header field occurs more than once: \"To\" occurs 3 times",
                "Duplicate header field: \"Subject\""}));
}

TEST(BadHeaderCheck, DisabledIsNotScanned) {
  config::BadHeader config;
  config.enabled = false;
  CheckResult r = BadHeaderCheck::Create(config)->Run(Input("no header at all"));
  EXPECT_FALSE(r.scanned);
  EXPECT_EQ(r.skipped_reason, "disabled");
  EXPECT_EQ(r.finding, Finding::kNothing);
}

}  // namespace
}  // namespace mailsift::scan
