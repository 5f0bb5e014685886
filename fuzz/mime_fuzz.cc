// libFuzzer target: the MIME parser and its decoders. For any input:
//   - ParseMessage returns at least one part, under small limits as well as the defaults;
//   - every text_utf8() and filename() is valid UTF-8;
//   - decoded sizes respect the limits, and the counters add up;
//   - the header, parameter, encoded-word and transfer decoders never crash on the input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mime/charset.h"
#include "mime/codec.h"
#include "mime/header.h"
#include "mime/message.h"
#include "mime/params.h"

namespace mime = mailsift::mime;

namespace {
void Check(std::string_view input, const mime::Limits& limits) {
  mime::Message m = mime::ParseMessage(input, limits);
  if (m.parts().empty()) std::abort();
  size_t total = 0;
  for (const mime::Part& p : m.parts()) {
    if (p.path().empty()) std::abort();
    if (p.decoded().size() > limits.max_part_decoded_bytes) std::abort();
    total += p.decoded().size();
    if (!mime::IsValidUtf8(p.text_utf8())) std::abort();
    if (!mime::IsValidUtf8(p.filename())) std::abort();
    if (!p.is_text() && !p.text_utf8().empty()) std::abort();
    volatile size_t n = 0;  // touch the viewed bytes: ASan checks they are alive
    for (char c : p.raw_body()) n = n + static_cast<unsigned char>(c);
  }
  if (total > limits.max_total_decoded_bytes || total > m.stats().decoded_bytes) std::abort();
  if (m.parts().size() + m.containers().size() > limits.max_parts) std::abort();
  for (const mime::Container& c : m.containers()) {
    if (c.first_part + c.part_count > m.parts().size()) std::abort();
    if (c.depth > limits.max_depth) std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Check(input, mime::Limits{});
  mime::Limits small;
  small.max_parts = 8;
  small.max_depth = 3;
  small.max_part_decoded_bytes = 64;
  small.max_total_decoded_bytes = 200;
  Check(input, small);

  std::string out;
  mime::DecodeBase64(input, out);
  out.clear();
  mime::DecodeQuotedPrintable(input, out);
  mime::DecodeEncodedWords(input);
  mime::ParseContentType(input);
  mime::ParseContentDisposition(input);
  mime::ParseParameters(input);
  // The charset name comes from the first line, the bytes from the rest.
  size_t nl = input.find('\n');
  if (nl != std::string_view::npos) {
    std::string utf8 = mime::ToUtf8(input.substr(nl + 1), input.substr(0, nl));
    if (!mime::IsValidUtf8(utf8)) std::abort();
  }
  return 0;
}
