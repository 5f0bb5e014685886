// libFuzzer target: the HTML renderer (mime/html.h). For any input:
//   - RenderHtml returns, and text is exactly visible_text and invisible_text interleaved
//     (their sizes add up);
//   - the counters are consistent (elements <= tags, ratios in [0, 1], tag balances >= 0);
//   - on valid UTF-8 input the rendered text is valid UTF-8;
//   - every URI is non-empty and at most kMaxUriLength bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mime/charset.h"
#include "mime/html.h"

namespace mime = mailsift::mime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  mime::HtmlResult r = mime::RenderHtml(input);
  if (r.text.size() != r.visible_text.size() + r.invisible_text.size()) std::abort();
  if (r.elements > r.tags || r.elements_seen > r.tags_seen) std::abort();
  if (r.closed_extra > r.tags) std::abort();
  for (const auto& ratio : {r.closed_extra_ratio, r.bad_tag_ratio, r.non_element_ratio}) {
    if (ratio && (*ratio < 0 || *ratio > 1)) std::abort();
  }
  for (const auto& [tag, n] : r.inside) {
    if (n < 0 || tag.empty()) std::abort();
  }
  for (const mime::HtmlUri& u : r.uris) {
    if (u.uri.empty() || u.uri.size() > mime::kMaxUriLength) std::abort();
  }
  if (r.non_space_len > r.html_length) std::abort();
  if (mime::IsValidUtf8(input)) {
    if (!mime::IsValidUtf8(r.text)) std::abort();
  }
  mime::HtmlColorToRgb(input);
  return 0;
}
