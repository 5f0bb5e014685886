// libFuzzer target: the DATA framer and the dot-stuffer, differentially (reference §2.5
// rule 7). For any input, split at a point the input chooses:
//   - the output is canonical (no bare CR or LF);
//   - feeding in two pieces gives the same result as feeding at once;
//   - stuffing the output and framing it again gives the same content and ends exactly at
//     the end mark we wrote.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/data_framer.h"

using mailsift::smtp::DataFramer;
using mailsift::smtp::DotStuffer;

namespace {
struct Outcome {
  std::string content;
  size_t consumed = 0;
  bool finished = false;
};

Outcome Run(std::string_view input, size_t split) {
  DataFramer framer(DataFramer::Mode::kDotTerminated);
  Outcome out;
  out.consumed = framer.Feed(input.substr(0, split), out.content);
  if (!framer.finished()) out.consumed += framer.Feed(input.substr(split), out.content);
  out.finished = framer.finished();
  return out;
}

void CheckCanonical(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) std::abort();
    if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t split = data[0] % (size);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  split = std::min(split, input.size());
  {
    Outcome whole = Run(input, input.size());
    Outcome parts = Run(input, split);
    if (whole.content != parts.content || whole.consumed != parts.consumed ||
        whole.finished != parts.finished) {
      std::abort();
    }
    CheckCanonical(whole.content);
    DotStuffer stuffer;
    std::string wire;
    stuffer.Stuff(whole.content, wire);
    std::string expected = whole.content;
    if (!stuffer.at_line_start()) {  // an unfinished last line: the relay completes it
      wire += "\r\n";
      expected += "\r\n";
    }
    wire += ".\r\n";
    Outcome again = Run(wire, wire.size() / 2);
    if (!again.finished || again.consumed != wire.size() || again.content != expected) {
      std::abort();
    }
  }
  return 0;
}
