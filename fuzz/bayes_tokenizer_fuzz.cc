// libFuzzer target: SpamAssassin's Bayes tokenizer (bayes/tokenizer.h) on arbitrary bytes. The
// input's lines are the visible body; its "Name: value" lines, with a name a header parser
// could give, are also the headers (so that the pre-chew patterns of Message-Id, Received,
// Content-Type and the address headers see them); every third line is also a URI and every
// fifth an invisible line. For any input:
//   - Tokenize never crashes; its tokens are non-empty, sorted by strictly increasing id, and
//     each id is TokenIdOf(its text);
//   - no token holds a blank or control byte (the character filter made them blanks, and
//     tokens are split on blanks);
//   - TokenizeLine on the whole input, in each region, obeys the same byte rule.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bayes/message_input.h"
#include "bayes/tokenizer.h"

namespace bayes = mailsift::bayes;

namespace {

const bayes::Tokenizer& TheTokenizer() {
  static const bayes::Tokenizer* tokenizer = [] {
    bayes::TokenizerOptions options;
    options.parse_addresses = bayes::SaAddressParser();
    options.ignore_headers = {"precedence"};
    return new bayes::Tokenizer(std::move(options));
  }();
  return *tokenizer;
}

void CheckBytes(std::string_view token) {
  for (char c : token) {
    unsigned char b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7f) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  bayes::BayesInput in;
  size_t pos = 0, n = 0;
  while (pos <= input.size()) {
    size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) nl = input.size();
    std::string line(input.substr(pos, nl - pos));
    in.visible.push_back(line);
    if (n % 3 == 2) in.uris.push_back(line);
    if (n % 5 == 4) in.invisible.push_back(line);
    // A field name as a header parser gives it: no blank, control byte or colon.
    size_t colon = line.find(": ");
    bool name_ok = colon != std::string::npos && colon > 0;
    for (size_t k = 0; name_ok && k < colon; ++k) {
      unsigned char b = static_cast<unsigned char>(line[k]);
      name_ok = b > 0x20 && b != 0x7f && b != ':';
    }
    if (name_ok) {
      in.headers.push_back({line.substr(0, colon), line.substr(colon + 2)});
      if (n % 2 == 1) in.metadata.push_back({"x-spam-relays-untrusted", line.substr(colon + 2)});
    }
    ++n;
    pos = nl + 1;
  }
  const bayes::Tokenizer& tokenizer = TheTokenizer();
  std::vector<bayes::Token> tokens = tokenizer.Tokenize(in);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].text.empty()) std::abort();
    if (i > 0 && tokens[i - 1].id >= tokens[i].id) std::abort();
    if (bayes::TokenIdOf(tokens[i].text) != tokens[i].id) std::abort();
    CheckBytes(tokens[i].text);
  }
  for (int region = 0; region <= 2; ++region) {
    std::vector<std::string> out;
    tokenizer.TokenizeLine(input, region == 1 ? "I*:" : "", region, &out);
    for (const std::string& t : out) CheckBytes(t);
  }
  return 0;
}
