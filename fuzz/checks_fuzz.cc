// libFuzzer target: the banned check's archive walker (libmagic, libarchive from memory) and
// the bad-header check. The first input byte chooses what the rest is:
//   odd: the bytes of one attachment (binary transfer encoding) of a small message, so that
//        zip, rar, 7z, tar, gzip … parsers see them directly;
//   even: a whole message.
// For any input both checks finish, and their results are consistent: a banned finding has
// %F and at least one part description, an unchecked one sub-category 1 or 2 and a reason, a
// bad-header one a sub-category from 1 to 8 and a detail per problem; nothing else has any.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "scan/bad_header_check.h"
#include "scan/banned_check.h"

namespace scan = mailsift::scan;

namespace {

const scan::BannedCheck& Banned() {
  static std::unique_ptr<scan::BannedCheck> check = [] {
    mailsift::config::Banned config;
    // Small limits so that bombs end quickly; depth small enough to reach.
    config.max_archive_depth = 6;
    config.max_archive_files = 200;
    config.max_expanded_size = 16 * 1024 * 1024;
    auto created = scan::BannedCheck::Create(config);
    if (!created) std::abort();
    return std::move(*created);
  }();
  return *check;
}

const scan::BadHeaderCheck& BadHeader() {
  static std::unique_ptr<scan::BadHeaderCheck> check =
      scan::BadHeaderCheck::Create(mailsift::config::BadHeader{});
  return *check;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string raw;
  if (data[0] & 1) {
    raw =
        "From: a@example.com\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMIME-Version: 1.0\n"
        "Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n"
        "Content-Disposition: attachment; filename=\"f.bin\"\n\n";
    raw.append(rest);
  } else {
    raw.assign(rest);
  }
  scan::MessageInput input;
  input.raw = std::make_shared<const std::string>(std::move(raw));

  scan::CheckResult banned = Banned().Run(input);
  if (!banned.scanned) std::abort();
  switch (banned.finding) {
    case scan::Finding::kNothing:
      if (!banned.details.empty() || banned.subcategory != 0) std::abort();
      break;
    case scan::Finding::kBanned:
      if (banned.details.size() < 2) std::abort();
      break;
    case scan::Finding::kUnchecked:
      if (banned.subcategory != 1 && banned.subcategory != 2) std::abort();
      if (banned.details.empty()) std::abort();
      break;
    default:
      std::abort();
  }

  scan::CheckResult header = BadHeader().Run(input);
  if (!header.scanned) std::abort();
  if (header.finding == scan::Finding::kBadHeader) {
    if (header.subcategory < 1 || header.subcategory > 8 || header.details.empty()) std::abort();
  } else if (header.finding != scan::Finding::kNothing || !header.details.empty() ||
             header.subcategory != 0) {
    std::abort();
  }
  return 0;
}
