// libFuzzer target: text URI extraction and canonicalisation (mime/uri.h). For any input:
//   - ExtractTextUris never crashes; every result is non-empty, its raw form occurs in the
//     input, and no raw URI is reported twice;
//   - CanonicalizeUri returns at least one URI, no duplicates, at most kMaxCanonicalUris;
//   - SaUrlDecode output holds no control, blank or non-ASCII byte (those stay escaped).
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "mime/uri.h"

namespace mime = mailsift::mime;

namespace {
const mime::TldSet& Tlds() {
  static const mime::TldSet* tlds =
      new mime::TldSet({"com", "org", "net", "uk", "de", "io", "co", "info", "xn--p1ai"});
  return *tlds;
}
const mime::RedirectorPatterns& Redirectors() {
  static const mime::RedirectorPatterns* r = [] {
    auto compiled = mime::RedirectorPatterns::Compile(
        {R"(/^https?:\/\/(?:www\.)?google\.com\/url\?.*?q=([^&]+)/i)",
         R"(m{^http://r\.example\.com/(.*)$})"});
    if (!compiled) std::abort();
    return new mime::RedirectorPatterns(std::move(*compiled));
  }();
  return *r;
}

void CheckCanon(std::string_view uri) {
  auto list = mime::CanonicalizeUri(uri, Tlds(), &Redirectors());
  if (list.empty() || list.size() > mime::kMaxCanonicalUris) std::abort();
  std::set<std::string> seen(list.begin(), list.end());
  if (seen.size() != list.size()) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::set<std::string> raws;
  for (const mime::TextUri& u : mime::ExtractTextUris(input, Tlds())) {
    if (u.raw.empty() || u.uri.empty()) std::abort();
    if (input.find(u.raw) == std::string_view::npos) std::abort();
    if (!raws.insert(u.raw).second) std::abort();
    CheckCanon(u.uri);
  }
  CheckCanon(input);
  std::string decoded = mime::SaUrlDecode(input);
  for (char c : decoded) {
    unsigned char b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f) std::abort();
  }
  return 0;
}
