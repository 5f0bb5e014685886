// bayes/tokenizer_test.cc — the Bayes tokenizer against SpamAssassin 4.0.1's own token sets.
//
// testdata/bayes/tokens/*.tokens were made by scripts/bayes-golden.pl with the Debian
// spamassassin package: for each message, SpamAssassin's inputs (rendered lines, URIs, decoded
// headers, relay metadata) and the token set tokenize() made of them. Fed SpamAssassin's own
// inputs, the tokenizer must give exactly its set; fed the inputs mailsift makes from the
// message (message_input.h), the sets are compared and the differences counted.
#include "bayes/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bayes/golden_test_util.h"
#include "bayes/message_input.h"
#include "mime/message.h"
#include "mime/uri.h"

namespace mailsift::bayes {
namespace {

namespace fs = std::filesystem;
using golden::AllGoldens;
using golden::Golden;
using golden::kData;
using golden::ReadGolden;
using golden::SaOptions;

std::map<std::string, std::string> AsMap(const std::vector<Token>& tokens) {
  std::map<std::string, std::string> m;
  for (const Token& t : tokens) m[TokenIdHex(t.id)] = t.text;
  return m;
}

// A readable account of how two token sets differ (at most `limit` of each side).
std::string Diff(const std::map<std::string, std::string>& want,
                 const std::map<std::string, std::string>& got, size_t limit = 15) {
  std::ostringstream out;
  size_t missing = 0, extra = 0;
  for (const auto& [id, text] : want) {
    auto it = got.find(id);
    if (it == got.end() || it->second != text) {
      if (missing++ < limit) out << "  missing: " << text << "\n";
    }
  }
  for (const auto& [id, text] : got) {
    auto it = want.find(id);
    if (it == want.end() || it->second != text) {
      if (extra++ < limit) out << "  extra:   " << text << "\n";
    }
  }
  out << "  (" << missing << " missing, " << extra << " extra of " << want.size() << ")\n";
  return out.str();
}

TEST(BayesTokenId, LastFiveBytesOfSha1) {
  // SHA-1("hello") = aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d (next-capabilities Appendix A).
  EXPECT_EQ(TokenIdOf("hello"), 0xd9aea9434dULL);
  EXPECT_EQ(TokenIdHex(TokenIdOf("hello")), "d9aea9434d");
  EXPECT_EQ(TokenIdBytes(0xd9aea9434dULL), std::string("\xd9\xae\xa9\x43\x4d", 5));
}

TEST(BayesTokenizer, GoldenFilesAreThere) {
  std::vector<Golden> goldens = AllGoldens();
  EXPECT_GE(goldens.size(), 37u);
  size_t tokens = 0;
  for (const Golden& g : goldens) tokens += g.tokens.size();
  EXPECT_GT(tokens, 15000u);
}

// The tokenizer itself: SpamAssassin's inputs give SpamAssassin's token set, exactly.
TEST(BayesTokenizer, SpamAssassinInputsGiveSpamAssassinTokens) {
  Tokenizer tokenizer(SaOptions());
  size_t identical = 0, total = 0, tokens = 0;
  for (const Golden& g : AllGoldens()) {
    ++total;
    tokens += g.tokens.size();
    std::map<std::string, std::string> got = AsMap(tokenizer.Tokenize(g.input));
    if (got == g.tokens) {
      ++identical;
    } else {
      ADD_FAILURE() << g.name << " differs from SpamAssassin:\n" << Diff(g.tokens, got);
    }
  }
  std::printf("tokenizer on SpamAssassin's inputs: %zu of %zu messages identical (%zu tokens)\n",
              identical, total, tokens);
  EXPECT_EQ(identical, total);
}

TEST(BayesTokenizer, AppendixAVector) {
  Golden g = ReadGolden(kData / "tokens" / "appendix-a.tokens");
  ASSERT_EQ(g.tokens.size(), 84u);
  Tokenizer tokenizer(SaOptions());
  std::map<std::string, std::string> got = AsMap(tokenizer.Tokenize(g.input));
  EXPECT_EQ(got.at("d9aea9434d"), "hello");
  EXPECT_EQ(got.at("c39698ce9b"), "H*RU:sk:mail.ex");
  EXPECT_EQ(got.at("01544bfa92"), "bermig");  // bytes >= 0x80 are not \w
  EXPECT_EQ(got.count("8e46cdcb96"), 1u);     // "cheap": the Subject's Title Case lowered
}

TEST(BayesTokenizeLine, TitleCaseDotsDashesAndTrims) {
  Tokenizer tokenizer(SaOptions());
  std::vector<std::string> out;
  tokenizer.TokenizeLine("Hello Planet. Foo bar...baz--qux \"Quoted,\"", "", 1, &out);
  // "Hello " is lowered at the start and ". Foo ... " after the full stop (the match takes the
  // dot with it); "Planet" is not ([^A-Z]+ stops before it). "..." and "--" become tokens of
  // their own and are then trimmed away; a capitalised token also gives its lower case first.
  std::vector<std::string> want = {"hello", "planet", "Planet", "foo",   "bar",
                                   "baz",   "qux",    "quoted", "Quoted"};
  EXPECT_EQ(out, want);
}

TEST(BayesTokenizeLine, LongTokensSkipInBodyAndHeadersButNotInUris) {
  Tokenizer tokenizer(SaOptions());
  std::vector<std::string> body, header, uri;
  tokenizer.TokenizeLine("abcdefghijklmnopq", "", 1, &body);
  tokenizer.TokenizeLine("abcdefghijklmnopq", "HX:", 0, &header);
  tokenizer.TokenizeLine("abcdefghijklmnopq", "", 2, &uri);
  EXPECT_EQ(body, (std::vector<std::string>{"sk:abcdefg"}));
  EXPECT_EQ(header, (std::vector<std::string>{"HX:sk:abcdefg"}));
  EXPECT_EQ(uri, (std::vector<std::string>{"abcdefghijklmnopq"}));
  // Seven UTF-8 characters are kept (Bug 7141); in the body the decomposition without the
  // non-word bytes leaves "sk:".
  const std::string e8 = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
  const std::string e7 = e8.substr(0, 14);
  std::vector<std::string> h8, b8;
  tokenizer.TokenizeLine(e8, "", 0, &h8);
  tokenizer.TokenizeLine(e8, "", 1, &b8);
  EXPECT_EQ(h8, (std::vector<std::string>{"sk:" + e7}));
  EXPECT_EQ(b8, (std::vector<std::string>{"sk:", "sk:" + e7}));
  // Three-byte characters in a long token become u8: tokens instead.
  std::vector<std::string> cjk;
  tokenizer.TokenizeLine("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
                         "I*:", 1, &cjk);
  EXPECT_EQ(cjk, (std::vector<std::string>{"I*:u8:\xe6\x97\xa5", "I*:u8:\xe6\x9c\xac",
                                           "I*:u8:\xe8\xaa\x9e", "I*:u8:\xe6\x97\xa5",
                                           "I*:u8:\xe6\x9c\xac", "I*:u8:\xe8\xaa\x9e"}));
}

TEST(BayesTokenizeLine, StopwordsAndShortTokensAreDropped) {
  Tokenizer tokenizer(SaOptions());
  std::vector<std::string> out;
  tokenizer.TokenizeLine("the and THROUGH you're an ok xyz", "", 0, &out);
  EXPECT_EQ(out, (std::vector<std::string>{"xyz"}));
  TokenizerOptions none = SaOptions();
  none.stopwords.clear();
  Tokenizer plain(std::move(none));
  out.clear();
  plain.TokenizeLine("the and", "", 0, &out);
  EXPECT_EQ(out, (std::vector<std::string>{"the", "and"}));
}

TEST(BayesMsgid, GenerateMsgidOfAppendixA) {
  EXPECT_EQ(GenerateMsgid("bob@example.org\n", "Mon, 1 Jan 2024 00:00:00 +0000\n",
                          "Hello Bob. Buy cheap pills at http://www.pharma.example.com/buy "
                          "now!!!\nContact sales@pharma.example.com -- unbelievable... prices\n"
                          "\xc3\x9c"
                          "berm\xc3\xa4\xc3\x9fig g\xc3\xbcnstige Medikamente\n"),
            "78f3f9c52bb475a23857cdd77b1b4418b07076cb@sa_generated");
  EXPECT_EQ(MsgidFromHeader(" <abc@x>\n"), "abc@x");
  EXPECT_EQ(MsgidFromHeader("abc@x"), std::nullopt);
}

// ---- The inputs mailsift makes from the message ------------------------------------------------

// The util_rb_tld list of Debian's rule set (as the engine reads it), or a few TLDs without it.
mime::TldSet DebianTlds() {
  std::vector<std::string> tlds;
  std::ifstream in("/usr/share/spamassassin/20_aux_tlds.cf");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string word;
    if (!(words >> word) || word != "util_rb_tld") continue;
    while (words >> word) tlds.push_back(word);
  }
  if (tlds.empty()) tlds = {"com", "net", "org", "de", "uk", "biz", "info"};
  return mime::TldSet(tlds);
}

struct Parsed {
  explicit Parsed(std::string raw)
      : message(mime::ParseMessage(std::move(raw))),
        tlds(DebianTlds()),
        text(message, Envelope{}, rules::TextContext{&tlds, nullptr}) {}
  mime::Message message;
  mime::TldSet tlds;
  rules::MessageText text;
};

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Where the raw message of a golden file is: committed (testdata/bayes/messages) or in the
// corpus (MAILSIFT_CORPUS).
std::optional<std::string> RawMessage(const Golden& g) {
  if (auto raw = ReadFile(kData / "messages" / (g.name + ".eml"))) return raw;
  const char* corpus = std::getenv("MAILSIFT_CORPUS");
  if (corpus == nullptr) return std::nullopt;
  return ReadFile(fs::path(corpus) / (g.name + ".eml"));
}

TEST(BayesMessageInput, TokensFromMailsiftsTexts) {
  Tokenizer tokenizer(SaOptions());
  size_t compared = 0, identical = 0, want_total = 0, missing_total = 0, extra_total = 0;
  size_t msgids_ok = 0, scan_metadata_ok = 0;
  std::map<std::string, size_t> missing_by_kind;
  for (const Golden& g : AllGoldens()) {
    std::optional<std::string> raw = RawMessage(g);
    if (!raw) continue;
    Parsed p(*raw);
    BayesInput in = BayesInputFromMessage(p.text, rules::TrustOptions{});
    std::map<std::string, std::string> got = AsMap(tokenizer.Tokenize(in));
    ++compared;
    want_total += g.tokens.size();
    size_t missing = 0, extra = 0;
    for (const auto& [id, text] : g.tokens) {
      if (got.count(id) == 0) {
        ++missing;
        std::string kind = text.rfind("H", 0) == 0 ? "header" : "body/uri";
        ++missing_by_kind[kind];
      }
    }
    for (const auto& [id, text] : got) extra += g.tokens.count(id) == 0;
    missing_total += missing;
    extra_total += extra;
    if (missing == 0 && extra == 0) {
      ++identical;
    } else {
      std::printf("%s (mailsift's texts):\n%s", g.name.c_str(), Diff(g.tokens, got, 5).c_str());
    }
    // The scan's metadata (x-authordomain, x-senderdomain besides the relay strings).
    BayesInput scan = BayesInputFromMessage(p.text, rules::TrustOptions{}, BayesPass::kScan);
    auto sorted = [](std::vector<HeaderLine> m) {
      std::vector<std::string> lines;
      for (HeaderLine& h : m) lines.push_back(h.name + ": " + h.value);
      std::sort(lines.begin(), lines.end());
      return lines;
    };
    if (sorted(scan.metadata) == sorted(g.scan_metadata)) {
      ++scan_metadata_ok;
    } else {
      std::string want, have;
      for (const std::string& l : sorted(g.scan_metadata)) want += "  " + l.substr(0, 60) + "\n";
      for (const std::string& l : sorted(scan.metadata)) have += "  " + l.substr(0, 60) + "\n";
      std::printf("%s: scan metadata differs\nSpamAssassin:\n%smailsift:\n%s", g.name.c_str(),
                  want.c_str(), have.c_str());
    }
    std::vector<std::string> ids = MessageMsgids(p.text);
    if (!ids.empty() && ids[0] == g.msgid &&
        (g.getmsgid ? ids.size() == 2 && ids[1] == *g.getmsgid : ids.size() == 1)) {
      ++msgids_ok;
    } else {
      ADD_FAILURE() << g.name << ": msgids differ from SpamAssassin's (" << g.msgid << ")";
    }
  }
  if (std::getenv("MAILSIFT_CORPUS") == nullptr) {
    std::printf("MAILSIFT_CORPUS is not set: only the committed messages are compared\n");
  }
  std::printf(
      "tokenizer on mailsift's texts: %zu of %zu messages identical; of %zu SpamAssassin "
      "tokens %zu missing (%zu header, %zu body/uri), %zu extra\n",
      identical, compared, want_total, missing_total, missing_by_kind["header"],
      missing_by_kind["body/uri"], extra_total);
  std::printf("scan metadata as SpamAssassin's on %zu of %zu messages\n", scan_metadata_ok,
              compared);
  ASSERT_GE(compared, 3u);
  EXPECT_EQ(msgids_ok, compared);
  EXPECT_EQ(scan_metadata_ok, compared);
  // What differs comes from the texts, not the tokenizer. Measured when this test was written:
  // with the corpus, 34 of 37 identical, 9 of 16,931 tokens missing and 9 extra, all from
  // three spam messages whose From / X-MimeOLE carry raw 8-bit (Big5) bytes that SpamAssassin
  // and rules/message decode differently. Hold it to at most 0.1 %.
  EXPECT_LE(missing_total * 1000, want_total);
  EXPECT_LE(extra_total * 1000, want_total);
}

}  // namespace
}  // namespace mailsift::bayes
