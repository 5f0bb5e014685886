// Tests for rules/message/received.h. Expected relay strings were produced by SpamAssassin 4.0.1
// (Debian 12 package) on the same header text.
#include "rules/message/received.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "mime/message.h"

namespace mailsift::rules {
namespace {

std::string Rel(std::string_view value) { return ParseReceivedLine(value).relay.as_string; }

mime::Headers Hdrs(std::string_view text) { return mime::ParseHeaderSection(text).headers; }

TEST(ReceivedLine, Sendmail) {
  EXPECT_EQ(Rel("from mail1.insuranceiq.com (host66.insuranceiq.com [65.217.159.66] (may be "
                "forged)) by dogma.slashnull.org (8.11.6/8.11.6) with ESMTP id h2F0c2x31856 for "
                "<jm@jmason.org>; Sat, 15 Mar 2003 00:38:03 GMT"),
            "[ ip=65.217.159.66 rdns=host66.insuranceiq.com helo=mail1.insuranceiq.com "
            "by=dogma.slashnull.org ident= envfrom= intl=0 id=h2F0c2x31856 auth= msa=0 ]");
  EXPECT_EQ(Rel("from ran-out.mx.develooper.com (IDENT:qmailr@one.develooper.com "
                "[64.81.84.115]) by dogma.slashnull.org (8.11.6/8.11.6) with SMTP id "
                "h381Vvf19860 for <jm-cpan@jmason.org>; Tue, 8 Apr 2003 02:31:57 +0100"),
            "[ ip=64.81.84.115 rdns=one.develooper.com helo=ran-out.mx.develooper.com "
            "by=dogma.slashnull.org ident=qmailr envfrom= intl=0 id=h381Vvf19860 auth= msa=0 ]");
  // Authenticated sendmail, folded.
  ParsedReceived p = ParseReceivedLine(
      "from roissy (p573.as1.exs.dublin.eircom.net [159.134.226.61])\n (authenticated bits=0) "
      "by slate.dublin.wbtsystems.com (8.12.6/8.12.6)\n with ESMTP id g9MFWcvb068860 for "
      "<jm@jmason.org>;\n Tue, 22 Oct 2002 16:32:39 +0100 (IST)");
  ASSERT_EQ(p.kind, ReceivedParse::kRelay);
  EXPECT_EQ(p.relay.as_string,
            "[ ip=159.134.226.61 rdns=p573.as1.exs.dublin.eircom.net helo=roissy "
            "by=slate.dublin.wbtsystems.com ident= envfrom= intl=0 id=g9MFWcvb068860 "
            "auth=Sendmail msa=0 ]");
  EXPECT_FALSE(p.relay.ip_private);
}

TEST(ReceivedLine, Postfix) {
  ParsedReceived p = ParseReceivedLine(
      "from mail-ej1-f54.google.com (mail-ej1-f54.google.com [209.85.218.54])\n\tby "
      "mx.example.org (Postfix) with ESMTPS id 4Q2kLm0Xyz2xYz\n\tfor <user@example.org>; Tue, "
      "23 May 2023 13:06:35 +0000 (UTC)");
  EXPECT_EQ(p.relay.as_string,
            "[ ip=209.85.218.54 rdns=mail-ej1-f54.google.com helo=mail-ej1-f54.google.com "
            "by=mx.example.org ident= envfrom= intl=0 id=4Q2kLm0Xyz2xYz auth= msa=0 ]");
  EXPECT_EQ(p.relay.lc_by, "mx.example.org");
  // "unknown" rDNS: Postfix looks names up, so no_reverse_dns.
  p = ParseReceivedLine(
      "from example.com (unknown [203.0.113.9]) by mx.example.org (Postfix) with ESMTP id "
      "1234ABCD for <jm@example.org>; Thu, 13 Mar 2003 15:23:15 -0500 (EST)");
  EXPECT_EQ(p.relay.as_string,
            "[ ip=203.0.113.9 rdns= helo=example.com by=mx.example.org ident= envfrom= intl=0 "
            "id=1234ABCD auth= msa=0 ]");
  EXPECT_TRUE(p.relay.no_reverse_dns);
  // smtpd_sasl_authenticated_header.
  p = ParseReceivedLine(
      "from laptop (dyn-5-6-7-8.isp.example [5.6.7.8])\n\t(Authenticated sender: bob)\n\tby "
      "mx.example.org (Postfix) with ESMTPSA id 7A1B2C3D\n\tfor <alice@example.org>; Thu, 13 "
      "Mar 2003 15:23:15 -0500");
  EXPECT_EQ(p.relay.as_string,
            "[ ip=5.6.7.8 rdns=dyn-5-6-7-8.isp.example helo=laptop by=mx.example.org ident= "
            "envfrom= intl=0 id=7A1B2C3D auth=ESMTPSA msa=0 ]");
}

TEST(ReceivedLine, Exim) {
  EXPECT_EQ(Rel("from sc8-sf-list1-b.sourceforge.net ([10.3.1.13] "
                "helo=sc8-sf-list1.sourceforge.net) by sc8-sf-list2.sourceforge.net with esmtp "
                "(Exim 3.31-VA-mm2 #1 (Debian)) id 18t301-0007Bh-00; Wed, 12 Mar 2003 01:58:13 "
                "-0800"),
            "[ ip=10.3.1.13 rdns=sc8-sf-list1-b.sourceforge.net helo=sc8-sf-list1.sourceforge.net "
            "by=sc8-sf-list2.sourceforge.net ident= envfrom= intl=0 id=18t301-0007Bh-00 auth= "
            "msa=0 ]");
  EXPECT_EQ(Rel("from [218.19.142.229] (helo=hotmail.com ident=yiuhyotp) by yzordderrex with "
                "smtp (Exim 3.35 #1 (Debian)) id 194BE5-0005Zh-00; Sat, 12 Apr 2003 03:58:53 "
                "+0100"),
            "[ ip=218.19.142.229 rdns= helo=hotmail.com by=yzordderrex ident=yiuhyotp envfrom= "
            "intl=0 id=194BE5-0005Zh-00 auth= msa=0 ]");
  EXPECT_EQ(Rel("from mail.example.net ([2001:db8::25]:41234 helo=mail.example.net) by "
                "mx.example.com with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) "
                "(envelope-from <bounce@example.net>) id 1q1abc-000DEF-2x for me@example.com; "
                "Tue, 23 May 2023 13:06:35 +0000"),
            "[ ip=2001:db8::25 rdns=mail.example.net helo=mail.example.net by=mx.example.com "
            "ident= envfrom=bounce@example.net intl=0 id=1q1abc-000DEF-2x auth= msa=0 ]");
  EXPECT_EQ(ParseReceivedLine("from andrew by trinity.supernews.net with local (Exim 4.12) id "
                              "18xeL6-000Dn1-00; Tue, 25 Mar 2003 02:39:00 +0000")
                .kind,
            ReceivedParse::kSkipped);
}

TEST(ReceivedLine, Qmail) {
  EXPECT_EQ(Rel("from unknown (HELO terpsichore.farfalle.com) (jdavid@[216.254.40.70]) "
                "(envelope-sender <jdavid@farfalle.com>) by mail13.speakeasy.net "
                "(qmail-ldap-1.03) with SMTP for <jm@jmason.org>; 12 Feb 2003 18:23:19 -0000"),
            "[ ip=216.254.40.70 rdns= helo=terpsichore.farfalle.com by=mail13.speakeasy.net "
            "ident=jdavid envfrom=jdavid@farfalle.com intl=0 id= auth= msa=0 ]");
  EXPECT_EQ(Rel("from postfix3-2.free.fr (HELO machine.domain.com) (foobar@213.228.0.169) by "
                "totor.bouissou.net with SMTP; 14 Nov 2003 08:05:50 -0000"),
            "[ ip=213.228.0.169 rdns=postfix3-2.free.fr helo=machine.domain.com "
            "by=totor.bouissou.net ident=foobar envfrom= intl=0 id= auth= msa=0 ]");
  EXPECT_EQ(
      ParseReceivedLine("(qmail 84907 invoked from network); 13 Feb 2003 20:59:28 -0000").kind,
      ReceivedParse::kSkipped);
}

TEST(ReceivedLine, Microsoft) {
  EXPECT_EQ(Rel("from inet-vrs-05.redmond.corp.microsoft.com ([157.54.6.157]) by "
                "INET-IMC-05.redmond.corp.microsoft.com with Microsoft SMTPSVC(5.0.2195.6624); "
                "Thu, 6 Mar 2003 12:02:35 -0800"),
            "[ ip=157.54.6.157 rdns= helo=inet-vrs-05.redmond.corp.microsoft.com "
            "by=INET-IMC-05.redmond.corp.microsoft.com ident= envfrom= intl=0 id= auth= msa=0 ]");
  EXPECT_EQ(ParseReceivedLine("from mail pickup service by mail1.insuranceiq.com with Microsoft "
                              "SMTPSVC; Thu, 13 Feb 2003 19:05:39 -0500")
                .kind,
            ReceivedParse::kSkipped);
  EXPECT_EQ(Rel("from EXC-DAG-02.global.net (10.45.252.152) by EXC-DAG-02.global.net\n "
                "(10.45.252.152) with Microsoft SMTP Server (version=TLS1_2,\n "
                "cipher=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) id 15.1.1261.35;\n Mon, 29 Oct "
                "2018 11:17:19 +0100"),
            "[ ip=10.45.252.152 rdns=EXC-DAG-02.global.net helo=EXC-DAG-02.global.net "
            "by=EXC-DAG-02.global.net ident= envfrom= intl=0 id=15.1.1261.35 auth= msa=0 ]");
  ParsedReceived p = ParseReceivedLine(
      "from AM5PR0402MB2836.eurprd04.prod.outlook.com\n ([fe80::19bd:c588:dd17:5226]) by "
      "AM5PR0402MB2836.eurprd04.prod.outlook.com\n ([fe80::19bd:c588:dd17:5226%6]) with mapi id "
      "15.20.1943.023;\n Wed, 5 Jun 2019 10:17:08 +0000");
  EXPECT_EQ(p.relay.as_string,
            "[ ip=fe80::19bd:c588:dd17:5226 rdns= helo=AM5PR0402MB2836.eurprd04.prod.outlook.com "
            "by=AM5PR0402MB2836.eurprd04.prod.outlook.com ident= envfrom= intl=0 id= auth= "
            "msa=0 ]");
  EXPECT_TRUE(p.relay.ip_private);  // fe80::/10
}

TEST(ReceivedLine, YahooHotmailGmail) {
  EXPECT_EQ(Rel("from [193.220.176.134] by web40310.mail.yahoo.com via HTTP; Wed, 12 Feb 2003 "
                "14:22:21 PST"),
            "[ ip=193.220.176.134 rdns= helo= by=web40310.mail.yahoo.com ident= envfrom= intl=0 "
            "id= auth= msa=0 ]");
  EXPECT_EQ(Rel("from 211.245.85.228  (EHLO ) (211.245.85.228) by mta232.mail.scd.yahoo.com "
                "with SMTP; Sun, 25 Jan 2004 00:24:37 -0800"),
            "[ ip=211.245.85.228 rdns=211.245.85.228 helo= by=mta232.mail.scd.yahoo.com ident= "
            "envfrom= intl=0 id= auth= msa=0 ]");
  EXPECT_EQ(Rel("from 213.123.174.21 by lw11fd.law11.hotmail.msn.com with HTTP;\n\tWed, 24 Jul "
                "2002 16:36:44 GMT"),
            "[ ip=213.123.174.21 rdns= helo= by=lw11fd.law11.hotmail.msn.com ident= envfrom= "
            "intl=0 id= auth=HTTP msa=0 ]");
  EXPECT_EQ(Rel("from [192.168.1.10] (host-1-2-3-4.example.net. [1.2.3.4])\n        by "
                "smtp.gmail.com with ESMTPSA id "
                "a17-20020a170906671100b0096f6e2f4d8csm4432316ejp.115.2023.05.23.06.06.33\n       "
                " (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\n        Tue, 23 "
                "May 2023 06:06:33 -0700 (PDT)"),
            "[ ip=1.2.3.4 rdns=host-1-2-3-4.example.net helo=!192.168.1.10! by=smtp.gmail.com "
            "ident= envfrom= intl=0 "
            "id=a17-20020a170906671100b0096f6e2f4d8csm4432316ejp.115.2023.05.23.06.06.33 "
            "auth=ESMTPSA msa=0 ]");
}

TEST(ReceivedLine, OtherFormatsAndUnparseable) {
  EXPECT_EQ(Rel("from list.brainbuzz.com (63.146.189.86:23198) by mx1.yourtech.net with [XMail "
                "1.20 ESMTP Server] id <S72E> for <jason@ellingson.org> from "
                "<bounce-cs-1@list.cramsession.com>; Sat, 18 Sep 2004 23:17:54 -0500"),
            "[ ip=63.146.189.86 rdns= helo=list.brainbuzz.com by=mx1.yourtech.net ident= "
            "envfrom=bounce-cs-1@list.cramsession.com intl=0 id=S72E auth= msa=0 ]");
  EXPECT_EQ(Rel("FROM hackers.mr.itd.umich.edu (smtp.mail.umich.edu [141.211.14.81]) BY "
                "madman.mr.itd.umich.edu ID 434B508E.174A6.13932 ; 11 Oct 2005 01:41:34 -0400"),
            "[ ip=141.211.14.81 rdns=smtp.mail.umich.edu helo=hackers.mr.itd.umich.edu "
            "by=madman.mr.itd.umich.edu ident= envfrom= intl=0 id=434B508E.174A6.13932 auth= "
            "msa=0 ]");
  EXPECT_EQ(Rel("from Agni (localhost [::ffff:127.0.0.1]) (TLS: TLSv1/SSLv3, "
                "168bits,DES-CBC3-SHA) by agni.forevermore.net with esmtp; Mon, 28 Oct 2002 "
                "14:48:52 -0800"),
            "[ ip=127.0.0.1 rdns=localhost helo=Agni by=agni.forevermore.net ident= envfrom= "
            "intl=0 id= auth= msa=0 ]");
  EXPECT_EQ(ParseReceivedLine("from virtual-access.org by bolero.conactive.com ; Thu, 20 Feb "
                              "2003 23:32:58 +0100")
                .kind,
            ReceivedParse::kSkipped);
  EXPECT_EQ(ParseReceivedLine("from weird header without anything useful").kind,
            ReceivedParse::kUnparseable);
  EXPECT_EQ(ParseReceivedLine("").kind, ReceivedParse::kSkipped);
  EXPECT_EQ(ParseReceivedLine("by x.example.org; Tue, 1 Jan 2002 00:00:00 +0000").kind,
            ReceivedParse::kSkipped);
}

TEST(ReceivedLine, MalformedInputNeverFails) {
  std::string junk = "from (((( [[[[ " + std::string(20000, '(') + " by ";
  EXPECT_NE(ParseReceivedLine(junk).kind, ReceivedParse::kRelay);
  static constexpr char kBinary[] = "from \0\xff\xfe [1.2.3.4] by \x80x";
  std::string binary(kBinary, sizeof kBinary - 1);
  ParseReceivedLine(binary);  // must not crash
}

TEST(IsPrivateIp, Ranges) {
  EXPECT_TRUE(IsPrivateIp("10.1.2.3"));
  EXPECT_TRUE(IsPrivateIp("172.31.0.1"));
  EXPECT_FALSE(IsPrivateIp("172.32.0.1"));
  EXPECT_TRUE(IsPrivateIp("192.168.0.1"));
  EXPECT_TRUE(IsPrivateIp("127.0.0.1"));
  EXPECT_TRUE(IsPrivateIp("100.64.0.1"));
  EXPECT_FALSE(IsPrivateIp("100.128.0.1"));
  EXPECT_TRUE(IsPrivateIp("::1"));
  EXPECT_TRUE(IsPrivateIp("::ffff:10.0.0.1"));
  EXPECT_TRUE(IsPrivateIp("fe80::1"));
  EXPECT_FALSE(IsPrivateIp("2001:db8::1"));
  EXPECT_FALSE(IsPrivateIp("8.8.8.8"));
}

// ---------------------------------------------------------------------------------------------
// Trust path.

TEST(TrustPath, InferredPrivateAndAuthAreTrusted) {
  mime::Headers h = Hdrs(
      "Received: from mx.example.org (mx.example.org [10.0.0.2])\n\tby imap.example.org "
      "(Postfix) with ESMTP id 5DEF;\n\tThu, 13 Mar 2003 15:23:15 -0500\n"
      "Received: from laptop (dyn-5-6-7-8.isp.example [5.6.7.8])\n\t(Authenticated sender: "
      "bob)\n\tby mx.example.org (Postfix) with ESMTPSA id 7A1B2C3D\n\tfor "
      "<alice@example.org>; Thu, 13 Mar 2003 15:23:15 -0500\n"
      "Received: from [10.1.1.1] by webmail.example.org with HTTP; Thu, 13 Mar 2003 15:23:15 "
      "-0500\n"
      "Subject: x\n\n");
  RelayPath p = AnalyzeReceivedHeaders(h, {});
  EXPECT_EQ(p.trusted_str,
            "[ ip=10.0.0.2 rdns=mx.example.org helo=mx.example.org by=imap.example.org ident= "
            "envfrom= intl=1 id=5DEF auth= msa=0 ] [ ip=5.6.7.8 rdns=dyn-5-6-7-8.isp.example "
            "helo=laptop by=mx.example.org ident= envfrom= intl=1 id=7A1B2C3D auth=ESMTPSA msa=0 "
            "] [ ip=10.1.1.1 rdns= helo= by=webmail.example.org ident= envfrom= intl=1 id= "
            "auth=HTTP msa=0 ]");
  EXPECT_EQ(p.untrusted_str, "");
  EXPECT_EQ(p.internal_str, p.trusted_str);
  EXPECT_EQ(p.external_str, "");
  EXPECT_EQ(p.last_trusted_relay_index, 2);
  EXPECT_EQ(p.last_internal_relay_index, 2);
}

TEST(TrustPath, FirstPublicRelayEndsTrust) {
  mime::Headers h = Hdrs(
      "Received: from localhost (unknown [127.0.0.1])\n\tby cabbage.jmason.org (Postfix) with "
      "ESMTP id A96E18BD97\n\tfor <jm@localhost>; Thu, 13 Mar 2003 15:23:15 -0500 (EST)\n"
      "Received: from example.com (unknown [203.0.113.9])\n\tby mx.example.org (Postfix) with "
      "ESMTP id 1234ABCD\n\tfor <jm@example.org>; Thu, 13 Mar 2003 15:23:15 -0500 (EST)\n"
      "Received: from inner (inner.example.com [192.168.9.9]) by example.com (8.12.6/8.12.6) "
      "with ESMTP id h9; Thu, 13 Mar 2003 15:23:15 -0500\n"
      "Subject: x\n\n");
  RelayPath p = AnalyzeReceivedHeaders(h, {});
  EXPECT_EQ(p.trusted_str,
            "[ ip=127.0.0.1 rdns= helo=localhost by=cabbage.jmason.org ident= envfrom= intl=1 "
            "id=A96E18BD97 auth= msa=0 ]");
  ASSERT_EQ(p.untrusted.size(), 2u);
  EXPECT_EQ(p.untrusted[0].as_string,
            "[ ip=203.0.113.9 rdns= helo=example.com by=mx.example.org ident= envfrom= intl=0 "
            "id=1234ABCD auth= msa=0 ]");
  EXPECT_TRUE(p.untrusted[1].ip_private);  // private, but after the boundary: untrusted
  EXPECT_EQ(p.last_trusted_relay_index, 0);
  EXPECT_EQ(ReceivedRangeText(h, p, ReceivedRange::kAllTrusted),
            "Received: from localhost (unknown [127.0.0.1]) by cabbage.jmason.org (Postfix) "
            "with ESMTP id A96E18BD97 for <jm@localhost>; Thu, 13 Mar 2003 15:23:15 -0500 "
            "(EST)\n"
            "Received: from example.com (unknown [203.0.113.9]) by mx.example.org (Postfix) with "
            "ESMTP id 1234ABCD for <jm@example.org>; Thu, 13 Mar 2003 15:23:15 -0500 (EST)\n");
  std::string untrusted = ReceivedRangeText(h, p, ReceivedRange::kAllUntrusted);
  EXPECT_EQ(untrusted.rfind("Received: from example.com", 0), 0u);
  EXPECT_NE(untrusted.find("Subject: x\n"), std::string::npos);
}

TEST(TrustPath, MailFetcherRestartsAndQmailScannerEnvfrom) {
  mime::Headers h = Hdrs(
      "Received: from localhost (localhost [127.0.0.1])\n\tby phobos.labs.netnoteinc.com "
      "(Postfix) with ESMTP id D03E543C36\n\tfor <zzzz@localhost>; Thu, 22 Aug 2002 07:36:16 "
      "-0400 (EDT)\n"
      "Received: from phobos [127.0.0.1]\n\tby localhost with IMAP (fetchmail-5.9.0)\n\tfor "
      "zzzz@localhost (single-drop); Thu, 22 Aug 2002 12:36:16 +0100 (IST)\n"
      "Received: from mx.example.org (mx.example.org [192.168.0.5]) by pop.example.org "
      "(8.12.6/8.12.6) with ESMTP id h1; Thu, 22 Aug 2002 12:36:16 +0100\n"
      "Received: from 156.56.111.196 by blazing.arsecandle.org (envelope-from "
      "<gentoo-announce@lists.gentoo.org>, uid 502) with qmail-scanner-1.24 (clamdscan: "
      "0.80/594. Clear:RC:0(156.56.111.196):. Processed in 0.288806 secs); 06 Feb 2005 21:11:38 "
      "-0000\n"
      "Received: from lists.gentoo.org (HELO lists.gentoo.org) (156.56.111.196) by "
      "blazing.arsecandle.org with SMTP; 6 Feb 2005 21:11:37 -0000\n"
      "Subject: x\n\n");
  RelayPath p = AnalyzeReceivedHeaders(h, {});
  EXPECT_EQ(p.trusted_str,
            "[ ip=192.168.0.5 rdns=mx.example.org helo=mx.example.org by=pop.example.org ident= "
            "envfrom= intl=1 id= auth= msa=0 ]");
  EXPECT_EQ(p.untrusted_str,
            "[ ip=156.56.111.196 rdns=lists.gentoo.org helo=lists.gentoo.org "
            "by=blazing.arsecandle.org ident= envfrom=gentoo-announce@lists.gentoo.org intl=0 "
            "id= auth= msa=0 ]");
  EXPECT_EQ(p.last_trusted_relay_index, 3);
  EXPECT_EQ(p.unparseable, 0u);
}

TEST(TrustPath, OriginatingIpHeadersAndUnparseable) {
  mime::Headers h = Hdrs(
      "Received: from 0 ([61.31.138.57] RDNS failed) by nccdi.com with Microsoft "
      "SMTPSVC(6.0.3790.0); Thu, 23 Sep 2004 08:51:06 -0700\n"
      "Received: from weird header without anything useful\n"
      "X-Originating-IP: [81.2.3.4]\n"
      "Subject: x\n\n");
  RelayPath p = AnalyzeReceivedHeaders(h, {});
  EXPECT_EQ(p.untrusted_str,
            "[ ip=61.31.138.57 rdns= helo=0 by=nccdi.com ident= envfrom= intl=0 id= auth= msa=0 "
            "] [ ip=81.2.3.4 rdns= helo= by= ident= envfrom= intl=0 id= auth= msa=0 ]");
  EXPECT_EQ(p.unparseable, 1u);
  EXPECT_EQ(p.last_trusted_relay_index, -1);
  TrustOptions none;
  none.originating_ip_headers.clear();
  EXPECT_EQ(AnalyzeReceivedHeaders(h, none).untrusted.size(), 1u);
}

TEST(TrustPath, ConfiguredNetworks) {
  mime::Headers h = Hdrs(
      "Received: from a (a.example.org [192.0.2.10]) by mx.example.org (8.12.6/8.12.6) with "
      "ESMTP id h1; Thu, 22 Aug 2002 12:36:16 +0100\n"
      "Received: from b (b.example.net [198.51.100.7]) by a.example.org (8.12.6/8.12.6) with "
      "ESMTP id h2; Thu, 22 Aug 2002 12:36:16 +0100\n"
      "Received: from c (c.example.com [203.0.113.5]) by b.example.net (8.12.6/8.12.6) with "
      "ESMTP id h3; Thu, 22 Aug 2002 12:36:16 +0100\n"
      "Subject: x\n\n");
  TrustOptions o;
  o.trusted_networks = {"192.0.2.0/24 198.51.100.7"};
  o.internal_networks = {"192.0.2.0/24"};
  RelayPath p = AnalyzeReceivedHeaders(h, o);
  EXPECT_EQ(p.trusted_str,
            "[ ip=192.0.2.10 rdns=a.example.org helo=a by=mx.example.org ident= envfrom= intl=1 "
            "id= auth= msa=0 ] [ ip=198.51.100.7 rdns=b.example.net helo=b by=a.example.org "
            "ident= envfrom= intl=0 id= auth= msa=0 ]");
  EXPECT_EQ(p.external_str,
            "[ ip=198.51.100.7 rdns=b.example.net helo=b by=a.example.org ident= envfrom= intl=0 "
            "id= auth= msa=0 ] [ ip=203.0.113.5 rdns=c.example.com helo=c by=b.example.net "
            "ident= envfrom= intl=0 id= auth= msa=0 ]");
  ASSERT_EQ(p.trusted.size(), 2u);
  EXPECT_TRUE(p.trusted[0].internal);
  EXPECT_FALSE(p.trusted[1].internal);
  EXPECT_NE(p.trusted_str.find("intl=1"), std::string::npos);
  ASSERT_EQ(p.untrusted.size(), 1u);
  EXPECT_EQ(p.internal.size(), 1u);
  EXPECT_EQ(p.external.size(), 2u);
  EXPECT_EQ(p.last_trusted_relay_index, 1);
  EXPECT_EQ(p.last_internal_relay_index, 0);

  // An exclusion wins over the wider network; an MSA makes the rest trusted.
  o.trusted_networks = {"192.0.2.0/24", "!192.0.2.10"};
  EXPECT_EQ(AnalyzeReceivedHeaders(h, o).trusted.size(), 0u);
  o.trusted_networks = {"192.0.2.0/24"};
  o.msa_networks = {"192.0.2.10"};
  p = AnalyzeReceivedHeaders(h, o);
  EXPECT_EQ(p.trusted.size(), 3u);
  EXPECT_TRUE(p.trusted[0].msa);
  EXPECT_EQ(p.trusted_str,
            "[ ip=192.0.2.10 rdns=a.example.org helo=a by=mx.example.org ident= envfrom= intl=1 "
            "id= auth= msa=1 ] [ ip=198.51.100.7 rdns=b.example.net helo=b by=a.example.org "
            "ident= envfrom= intl=1 id= auth= msa=0 ] [ ip=203.0.113.5 rdns=c.example.com helo=c "
            "by=b.example.net ident= envfrom= intl=1 id= auth= msa=0 ]");

  o.trusted_networks = {"not-a-network", "10/8", "10.", "2001:db8::/32"};
  EXPECT_EQ(AnalyzeReceivedHeaders(h, o).bad_networks, std::vector<std::string>{"not-a-network"});
}

TEST(TrustPath, NoReceivedHeaders) {
  RelayPath p = AnalyzeReceivedHeaders(Hdrs("Subject: x\n\n"), {});
  EXPECT_TRUE(p.trusted.empty());
  EXPECT_TRUE(p.untrusted.empty());
  EXPECT_EQ(p.untrusted_str, "");
  EXPECT_EQ(p.last_trusted_relay_index, -1);
}

// Smoke test over a corpus directory (MAILSIFT_CORPUS = directory of .eml files): every
// message is analysed, every relay string has SA's shape, and the partitions add up.
TEST(TrustPath, Corpus) {
  const char* dir = std::getenv("MAILSIFT_CORPUS");
  if (dir == nullptr) GTEST_SKIP() << "MAILSIFT_CORPUS not set";
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) GTEST_SKIP() << "cannot read " << dir;
  const std::regex shape(
      R"(\[ ip=\S* rdns=\S* helo=\S* by=\S* ident=\S* envfrom=\S* intl=[01] id=\S* )"
      R"(auth=.* msa=[01] \])");
  size_t messages = 0;
  for (const auto& entry : it) {
    if (entry.path().extension() != ".eml") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string raw = ss.str();
    mime::Message msg = mime::ParseMessage(raw);
    RelayPath p = AnalyzeReceivedHeaders(msg.headers(), {});
    EXPECT_EQ(p.trusted.size() + p.untrusted.size(), p.internal.size() + p.external.size());
    for (const Relay& r : p.untrusted) {
      EXPECT_TRUE(std::regex_match(r.as_string, shape)) << entry.path() << ": " << r.as_string;
    }
    ++messages;
  }
  EXPECT_GT(messages, 0u);
}

}  // namespace
}  // namespace mailsift::rules
