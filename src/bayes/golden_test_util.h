// bayes/golden_test_util.h — reading the golden files of scripts/bayes-golden.pl in tests:
// testdata/bayes/tokens/*.tokens (SpamAssassin's inputs and token set per message) and
// sa-config.tsv (the Bayes settings of the rule set they were made with). Test-only, header-only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bayes/message_input.h"
#include "bayes/tokenizer.h"

namespace mailsift::bayes::golden {

namespace fs = std::filesystem;

inline const fs::path kData = fs::path(MAILSIFT_SOURCE_DIR) / "testdata" / "bayes";

inline std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x') {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 2, 2)), nullptr, 16)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// One golden file: SpamAssassin's inputs and its token set (hex id → text).
struct Golden {
  std::string name;
  BayesInput input;
  std::string msgid;
  std::optional<std::string> getmsgid;
  std::vector<HeaderLine> scan_metadata;  // get_all_metadata() of a scan
  std::map<std::string, std::string> tokens;
};

inline HeaderLine SplitHeader(const std::string& line) {
  size_t colon = line.find(':');
  std::string value = line.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.erase(0, 1);  // get_all_headers joins with ": "
  return HeaderLine{line.substr(0, colon), value};
}

inline Golden ReadGolden(const fs::path& path) {
  Golden g;
  g.name = path.stem().string();
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    std::string kind = line.substr(0, tab);
    std::string rest = tab == std::string::npos ? "" : line.substr(tab + 1);
    if (kind == "visible") {
      g.input.visible.push_back(Unescape(rest));
    } else if (kind == "invisible") {
      g.input.invisible.push_back(Unescape(rest));
    } else if (kind == "uri") {
      g.input.uris.push_back(Unescape(rest));
    } else if (kind == "header") {
      g.input.headers.push_back(SplitHeader(Unescape(rest)));
    } else if (kind == "meta") {
      g.input.metadata.push_back(SplitHeader(Unescape(rest)));
    } else if (kind == "scanmeta") {
      g.scan_metadata.push_back(SplitHeader(Unescape(rest)));
    } else if (kind == "msgid") {
      g.msgid = Unescape(rest);
    } else if (kind == "getmsgid") {
      g.getmsgid = Unescape(rest);
    } else if (kind == "token") {
      size_t t2 = rest.find('\t');
      g.tokens[rest.substr(0, t2)] = Unescape(rest.substr(t2 + 1));
    }
  }
  return g;
}

inline std::vector<Golden> AllGoldens() {
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(kData / "tokens")) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  std::vector<Golden> out;
  for (const fs::path& p : paths) out.push_back(ReadGolden(p));
  return out;
}

// The settings of the rule set the golden files were made with (testdata/bayes/sa-config.tsv:
// Debian's 72_active.cf ignores some 300 headers with bayes_ignore_header).
inline TokenizerOptions SaOptions() {
  TokenizerOptions o;
  o.parse_addresses = SaAddressParser();
  std::ifstream in(kData / "sa-config.tsv");
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    if (line.empty() || line[0] == '#' || tab == std::string::npos) continue;
    std::string key = line.substr(0, tab), value = line.substr(tab + 1);
    if (key == "ignore_header") o.ignore_headers.insert(value);
    if (key == "max_token_length") o.max_token_length = std::stoul(value);
  }
  EXPECT_GT(o.ignore_headers.size(), 300u) << "testdata/bayes/sa-config.tsv";
  return o;
}

}  // namespace mailsift::bayes::golden
