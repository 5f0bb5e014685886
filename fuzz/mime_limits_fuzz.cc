// libFuzzer target: the MIME parser's limits and the banned check that relies on them. The
// input is not a message but a recipe for one: the first six bytes choose the parser's limits
// (nesting depth, entities, decoded bytes per part and per message), the rest a tree of
// multiparts, base64-encoded message/rfc822 layers, text leaves and banned leaves ("run.exe").
// For any recipe:
//   - the parse stays within its limits (entities, leaf depth);
//   - past a limit that hides structure (nesting, entities, a cut enclosed message) the banned
//     check never says clean (it is UNCHECKED, or BANNED when it saw a banned part), and a clean
//     result means no limit was hit at all;
//   - within the limits a banned leaf is always found, and a message without one is clean.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "mime/message.h"
#include "scan/banned_check.h"

namespace mime = mailsift::mime;
namespace scan = mailsift::scan;

namespace {

const scan::BannedCheck& Banned() {
  static std::unique_ptr<scan::BannedCheck> check = [] {
    auto created = scan::BannedCheck::Create(mailsift::config::Banned{});
    if (!created) std::abort();
    return std::move(*created);
  }();
  return *check;
}

std::string Base64(std::string_view data) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < data.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    if (i + 2 < data.size()) v |= static_cast<unsigned char>(data[i + 2]);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < data.size() ? alphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < data.size() ? alphabet[v & 63] : '=');
    if (i % 57 == 54) out.push_back('\n');
  }
  return out + "\n";
}

class Recipe {
 public:
  explicit Recipe(std::string_view bytes) : bytes_(bytes) {}

  uint8_t Next() { return pos_ < bytes_.size() ? static_cast<uint8_t>(bytes_[pos_++]) : 0; }
  bool done() const { return pos_ >= bytes_.size(); }
  bool banned() const { return banned_; }

  // One entity (headers and body) at `depth` below the top.
  std::string Entity(size_t depth) {
    uint8_t op = done() || depth > 60 ? 0 : Next();
    switch (op % 4) {
      case 1:
        banned_ = true;
        return "Content-Type: application/octet-stream; name=\"run.exe\"\n"
               "Content-Transfer-Encoding: base64\n\n" +
               Base64("x\n");
      case 2: {
        std::string b = "b" + std::to_string(boundaries_++);
        std::string out = "Content-Type: multipart/mixed; boundary=\"" + b + "\"\n\n";
        size_t children = 1 + (op >> 2) % 4;
        for (size_t i = 0; i < children; ++i) out += "--" + b + "\n" + Entity(depth + 1) + "\n";
        return out + "--" + b + "--\n";
      }
      case 3:
        return "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" +
               Base64("Subject: inner\n" + Entity(depth + 1));
      default:
        return "Content-Type: text/plain\n\n" + std::string(op >> 2, 'x') + "\n";
    }
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
  size_t boundaries_ = 0;
  bool banned_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Recipe recipe(std::string_view(reinterpret_cast<const char*>(data), size));
  mime::Limits limits;
  limits.max_depth = 1 + recipe.Next() % 24;
  limits.max_parts = 2 + recipe.Next() % 64;
  limits.max_part_decoded_bytes = 16 + (recipe.Next() << 8 | recipe.Next());
  limits.max_total_decoded_bytes = 16 + (recipe.Next() << 10 | recipe.Next() << 2);
  std::string raw = "From: a@example.com\nSubject: recipe\nMIME-Version: 1.0\n" + recipe.Entity(0);
  mime::Message message = mime::ParseMessage(raw, limits);

  const mime::ParseStats& st = message.stats();
  if (message.parts().size() + message.containers().size() > limits.max_parts) std::abort();
  for (const mime::Part& part : message.parts()) {
    if (part.depth() > limits.max_depth) std::abort();
  }

  scan::CheckResult r = Banned().Inspect(message);
  const bool unseen = st.depth_exceeded + st.parts_dropped + st.enclosed_truncated > 0;
  if (unseen && r.finding == scan::Finding::kNothing) std::abort();
  if (r.finding == scan::Finding::kNothing && st.LimitHit()) std::abort();
  if (!st.LimitHit()) {
    if (recipe.banned() && r.finding != scan::Finding::kBanned) std::abort();
    if (!recipe.banned() && r.finding != scan::Finding::kNothing) std::abort();
  }
  return 0;
}
