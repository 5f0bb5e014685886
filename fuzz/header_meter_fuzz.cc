// libFuzzer target: the header-size meter (smtp/header_meter.h) on the canonical content the
// DATA framer makes of any input. For any input, a limit and a split that the input chooses:
//   - fed in two pieces it says what it says fed at once (exceeded, done, largest);
//   - largest() never passes limit + 1, and exceeded() is exactly largest() > limit;
//   - with a limit of the content's size it is never exceeded (no field outgrows its text).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/data_framer.h"
#include "smtp/header_meter.h"

using mailsift::smtp::DataFramer;
using mailsift::smtp::HeaderMeter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint64_t limit = 1 + data[0] * 8u;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const size_t split = input.empty() ? 0 : data[1] % (input.size() + 1);
  std::string canonical;
  DataFramer framer(DataFramer::Mode::kRaw);
  framer.Feed(input, canonical);
  framer.Finish(canonical);
  const size_t cut = std::min(split, canonical.size());

  HeaderMeter whole(limit);
  whole.Feed(canonical);
  HeaderMeter pieces(limit);
  pieces.Feed(std::string_view(canonical).substr(0, cut));
  pieces.Feed(std::string_view(canonical).substr(cut));
  if (whole.exceeded() != pieces.exceeded() || whole.done() != pieces.done() ||
      whole.largest() != pieces.largest()) {
    std::abort();
  }
  if (whole.largest() > limit + 1 || whole.exceeded() != (whole.largest() > limit)) std::abort();
  HeaderMeter roomy(canonical.size());
  roomy.Feed(canonical);
  if (roomy.exceeded()) std::abort();
  return 0;
}
