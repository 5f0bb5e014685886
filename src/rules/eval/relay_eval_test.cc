// Tests for rules/eval/relay_eval.h: one hit and one miss per eval function. (The functions agree
// with SpamAssassin 4.0.1 on all 6,046 messages of the SpamAssassin public corpus.)
#include "rules/eval/relay_eval.h"

#include <gtest/gtest.h>

#include <string>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

// Runs `function` over the header section `text` (a From address as SA's From:addr gives it).
bool Eval(std::string_view function, std::string_view text, std::string_view from_addr = "",
          std::string_view envelope_from = "") {
  static const std::shared_ptr<const EvalConfig> kConfig = BuildEvalConfig({});
  EvalTestMessage m(text, *kConfig);
  m.input.known().from_addr = std::string(from_addr);
  m.input.known().envelope_from_addr = std::string(envelope_from);
  const EvalFunction* f = FindEvalIn(RelayEvals(), function);
  EXPECT_NE(f, nullptr) << function;
  return f != nullptr && (*f)(m.input, {});
}

constexpr char kPrivateHop[] =
    "Received: from mx.example.org (mx.example.org [10.0.0.2]) by imap.example.org (Postfix) "
    "with ESMTP id 5DEF; Thu, 13 Mar 2003 15:23:15 -0500\n";
constexpr char kPublicHop[] =
    "Received: from mail.example.net (mail.example.net [198.51.100.7]) by mx.example.org "
    "(8.12.6/8.12.6) with ESMTP id h2F0c2x31856; Thu, 13 Mar 2003 15:23:15 -0500\n";
constexpr char kUnparseable[] = "Received: from weird header without anything useful\n";

TEST(RelayEval, CheckAllTrusted) {
  EXPECT_TRUE(Eval("check_all_trusted", std::string(kPrivateHop) + "Subject: x\n\n"));
  EXPECT_FALSE(Eval("check_all_trusted", std::string(kPrivateHop) + kPublicHop + "\n"));
  EXPECT_FALSE(Eval("check_all_trusted", std::string(kPrivateHop) + kUnparseable + "\n"));
}

TEST(RelayEval, CheckNoRelays) {
  EXPECT_TRUE(Eval("check_no_relays", "Subject: x\n\n"));
  EXPECT_FALSE(Eval("check_no_relays", std::string(kPublicHop) + "\n"));
  EXPECT_FALSE(Eval("check_no_relays", std::string(kUnparseable) + "\n"));
}

TEST(RelayEval, CheckRelaysUnparseable) {
  EXPECT_TRUE(Eval("check_relays_unparseable", std::string(kUnparseable) + "\n"));
  EXPECT_FALSE(Eval("check_relays_unparseable", std::string(kPublicHop) + "\n"));
}

TEST(RelayEval, HeloIpMismatch) {
  EXPECT_TRUE(Eval("helo_ip_mismatch",
                   "Received: from 1.2.3.4 (host.example.net [5.6.7.8]) by mx.example.org "
                   "(8.12.6/8.12.6) with ESMTP id h1abc; Thu, 13 Mar 2003 15:23:15 -0500\n\n"));
  // Same /24 is fine; so is a private HELO.
  EXPECT_FALSE(Eval("helo_ip_mismatch",
                    "Received: from 5.6.7.9 (host.example.net [5.6.7.8]) by mx.example.org "
                    "(8.12.6/8.12.6) with ESMTP id h1abc; Thu, 13 Mar 2003 15:23:15 -0500\n\n"));
  EXPECT_FALSE(Eval("helo_ip_mismatch",
                    "Received: from 192.168.1.1 (host.example.net [5.6.7.8]) by mx.example.org "
                    "(8.12.6/8.12.6) with ESMTP id h1abc; Thu, 13 Mar 2003 15:23:15 -0500\n\n"));
}

TEST(RelayEval, CheckForForgedReceivedTrail) {
  // Each hop's rDNS domain should be the next hop's "by" domain; two mismatches hit.
  std::string forged =
      "Received: from a.one.com (a.one.com [198.51.100.1]) by mx.dest.org (8.12.6/8.12.6) with "
      "ESMTP id h1abc; Thu, 13 Mar 2003 15:23:15 -0500\n"
      "Received: from b.two.com (b.two.com [198.51.100.2]) by relay.other.net (8.12.6/8.12.6) "
      "with ESMTP id h2abc; Thu, 13 Mar 2003 15:23:15 -0500\n"
      "Received: from c.three.com (c.three.com [198.51.100.3]) by gw.elsewhere.org "
      "(8.12.6/8.12.6) with ESMTP id h3abc; Thu, 13 Mar 2003 15:23:15 -0500\n\n";
  EXPECT_TRUE(Eval("check_for_forged_received_trail", forged));
  std::string consistent =
      "Received: from a.one.com (a.one.com [198.51.100.1]) by mx.dest.org (8.12.6/8.12.6) with "
      "ESMTP id h1abc; Thu, 13 Mar 2003 15:23:15 -0500\n"
      "Received: from b.two.com (b.two.com [198.51.100.2]) by out.one.com (8.12.6/8.12.6) "
      "with ESMTP id h2abc; Thu, 13 Mar 2003 15:23:15 -0500\n"
      "Received: from c.three.com (c.three.com [198.51.100.3]) by x.two.com "
      "(8.12.6/8.12.6) with ESMTP id h3abc; Thu, 13 Mar 2003 15:23:15 -0500\n\n";
  EXPECT_FALSE(Eval("check_for_forged_received_trail", consistent));
}

TEST(RelayEval, HostnameToDomain) {
  EXPECT_EQ(HostnameToDomain("a.b.example.com"), "example.com");
  EXPECT_EQ(HostnameToDomain("mail.example.ie"), "example.ie");
  EXPECT_EQ(HostnameToDomain("www.example.co.uk"), "example.co.uk");  // "uk" is short
  EXPECT_EQ(HostnameToDomain("a.b.x.y"), "b.x.y");
  EXPECT_EQ(HostnameToDomain("1.2.3.4"), "1.2.3.4");
  EXPECT_EQ(HostnameToDomain("host"), "host");
  EXPECT_EQ(HostnameToDomain("example.com."), "example.com");
}

TEST(RelayEval, CheckForNoRdnsDotcomHelo) {
  EXPECT_TRUE(Eval("check_for_no_rdns_dotcom_helo",
                   "Received: from mx34.hotmail.com (unknown [203.0.113.9]) by mx.example.org "
                   "(Postfix) with ESMTP id 1234ABCD; Thu, 13 Mar 2003 15:23:15 -0500\n\n"));
  EXPECT_FALSE(Eval("check_for_no_rdns_dotcom_helo",
                    "Received: from mx34.hotmail.com (mx34.hotmail.com [203.0.113.9]) by "
                    "mx.example.org (Postfix) with ESMTP id 1234ABCD; Thu, 13 Mar 2003 15:23:15 "
                    "-0500\n\n"));
}

TEST(RelayEval, CheckForNumericHeloAndSenderNoReverse) {
  std::string numeric =
      "Received: from 1.2.3.4 (host.example.net [5.6.7.8]) by mx.example.org (8.12.6/8.12.6) "
      "with ESMTP id h1abc; Thu, 13 Mar 2003 15:23:15 -0500\n\n";
  EXPECT_TRUE(Eval("check_for_numeric_helo", numeric));
  EXPECT_FALSE(Eval("check_for_numeric_helo", std::string(kPublicHop) + "\n"));
  EXPECT_TRUE(Eval("check_for_sender_no_reverse", numeric));
  EXPECT_FALSE(Eval("check_for_sender_no_reverse", "Subject: x\n\n"));
}

TEST(HeaderEval, GatedThroughReceivedHdrRemover) {
  EXPECT_TRUE(Eval("gated_through_received_hdr_remover", "Subject: no received\n\n"));
  EXPECT_TRUE(Eval("gated_through_received_hdr_remover",
                   "Mailing-List: contact list-help@example.org; run by ezmlm\n"
                   "Delivered-To: mailing list list@example.org\n"
                   "Received: (qmail 12345 invoked from network); 13 Feb 2003 20:59:28 -0000\n\n"));
  EXPECT_TRUE(Eval("gated_through_received_hdr_remover",
                   "Received: from groups.msn.com (tk2dcpuba02.msn.com [65.54.195.210]) by "
                   "dogma.slashnull.org (8.11.6/8.11.6) with ESMTP id g72K35v10457; Fri, 2 Aug "
                   "2002 21:03:05 +0100\n\n"));
  EXPECT_FALSE(Eval("gated_through_received_hdr_remover", std::string(kPublicHop) + "\n"));
}

TEST(HeaderEval, CheckForFakeAolRelayInRcvd) {
  EXPECT_TRUE(Eval("check_for_fake_aol_relay_in_rcvd",
                   "Received: from unknown (HELO mta05bw.bigpond.com) (80.71.176.130) by "
                   "rly-xw01.mx.aol.com with QMQP; Sat, 15 Jun 2002 23:37:16 -0000\n\n"));
  EXPECT_FALSE(Eval("check_for_fake_aol_relay_in_rcvd",
                    "Received: from logs-tr.proxy.aol.com (logs-tr.proxy.aol.com "
                    "[152.163.201.132]) by rly-ip01.mx.aol.com (8.8.8/8.8.8/AOL-5.0.0) with ESMTP "
                    "id NAA08955; Thu, 4 Apr 2002 13:11:20 -0500 (EST)\n\n"));
}

TEST(HeaderEval, Hotmail) {
  std::string forged =
      "Received: from hotmail.com (dsl.example.net [198.51.100.7]) by mx.example.org "
      "(8.12.6/8.12.6) with ESMTP id h1abc; Thu, 13 Mar 2003 15:23:15 -0500\n\n";
  EXPECT_TRUE(Eval("check_for_forged_hotmail_received_headers", forged, "x@hotmail.com"));
  EXPECT_FALSE(Eval("check_for_no_hotmail_received_headers", forged, "x@hotmail.com"));
  std::string genuine =
      "Received: from hotmail.com (f135.law8.hotmail.com [216.33.241.135]) by mx.example.org "
      "(8.11.6/8.11.6) with ESMTP id g6OGaqx12345; Wed, 24 Jul 2002 17:36:52 +0100\n"
      "X-Originating-IP: [213.123.174.21]\n\n";
  EXPECT_FALSE(Eval("check_for_forged_hotmail_received_headers", genuine, "x@hotmail.com"));
  EXPECT_FALSE(Eval("check_for_no_hotmail_received_headers", genuine, "x@hotmail.com"));
  std::string none = std::string(kPublicHop) + "\n";
  EXPECT_TRUE(Eval("check_for_no_hotmail_received_headers", none, "x@hotmail.com"));
  EXPECT_FALSE(Eval("check_for_no_hotmail_received_headers", none, "x@example.com"));
}

TEST(HeaderEval, Eudoramail) {
  std::string genuine =
      "Received: from Unknown/Local ([?.?.?.?]) by shared1-mail.whowhere.com; Thu Nov 29 "
      "13:44:25 2001\nX-Sender-Ip: 192.175.21.146\n\n";
  EXPECT_FALSE(Eval("check_for_forged_eudoramail_received_headers", genuine, "a@eudoramail.com"));
  EXPECT_TRUE(Eval("check_for_forged_eudoramail_received_headers", std::string(kPublicHop) + "\n",
                   "a@eudoramail.com"));
  EXPECT_FALSE(Eval("check_for_forged_eudoramail_received_headers", std::string(kPublicHop) + "\n",
                    "a@example.com"));
}

TEST(HeaderEval, Yahoo) {
  EXPECT_TRUE(Eval("check_for_forged_yahoo_received_headers", std::string(kPublicHop) + "\n",
                   "a@yahoo.com"));
  EXPECT_FALSE(Eval("check_for_forged_yahoo_received_headers",
                    "Received: from [193.220.176.134] by web40310.mail.yahoo.com via HTTP; Wed, "
                    "12 Feb 2003 14:22:21 PST\n\n",
                    "a@yahoo.com"));
  // The first untrusted relay's rDNS is Yahoo's.
  EXPECT_FALSE(Eval("check_for_forged_yahoo_received_headers",
                    "Received: from mta122.mail.mud.yahoo.com (mta122.mail.mud.yahoo.com "
                    "[68.142.202.54]) by mx.example.org (Postfix) with ESMTP id 49F2EAF13B; Thu, "
                    "13 Mar 2003 15:23:15 -0500\n\n",
                    "a@yahoo.com"));
  EXPECT_FALSE(Eval("check_for_forged_yahoo_received_headers", std::string(kPublicHop) + "\n",
                    "a@example.com"));
}

TEST(HeaderEval, Juno) {
  EXPECT_TRUE(
      Eval("check_for_forged_juno_received_headers", std::string(kPublicHop) + "\n", "a@juno.com"));
  EXPECT_FALSE(Eval("check_for_forged_juno_received_headers",
                    "Received: from m06.lax.untd.com (m06.lax.untd.com [64.136.30.70]) by "
                    "mx.example.org (8.12.6/8.12.6) with ESMTP id h1abc; Thu, 13 Mar 2003 "
                    "15:23:15 -0500\n"
                    "X-Originating-IP: [64.136.30.70]\nX-Mailer: Juno 5.0.33\n\n",
                    "a@juno.com"));
  EXPECT_FALSE(Eval("check_for_forged_juno_received_headers", std::string(kPublicHop) + "\n",
                    "a@example.com"));
}

TEST(HeaderEval, Gmail) {
  EXPECT_TRUE(Eval("check_for_forged_gmail_received_headers", std::string(kPublicHop) + "\n",
                   "a@gmail.com"));
  EXPECT_FALSE(Eval("check_for_forged_gmail_received_headers",
                    std::string(kPublicHop) +
                        "X-Received: by 2002:a17:906:6711:b0:96f:6e2f:4d8c with SMTP id "
                        "a17mr1234567ejp.115.1684847194123;\n        Tue, 23 May 2023 06:06:34 "
                        "-0700 (PDT)\n\n",
                    "a@gmail.com"));
  EXPECT_FALSE(Eval("check_for_forged_gmail_received_headers", std::string(kPublicHop) + "\n",
                    "a@example.com"));
}

TEST(RelayEval, Dispatch) {
  const std::shared_ptr<const EvalConfig> config = BuildEvalConfig({});
  EvalTestMessage m("", *config);
  m.input.known().relays = RelayPath{};
  EXPECT_EQ(FindEvalIn(RelayEvals(), "no_such_eval"), nullptr);
  EXPECT_EQ(EvalNamesIn(RelayEvals()).size(), 16u);
  for (std::string_view name : EvalNamesIn(RelayEvals())) {
    const EvalFunction* f = FindEvalIn(RelayEvals(), name);
    EXPECT_NE(f, nullptr) << name;
    if (f != nullptr) (*f)(m.input, {"ignored"});  // extra arguments are ignored
  }
}

}  // namespace
}  // namespace mailsift::rules
