#include "smtp/reply.h"

#include <fmt/format.h>

namespace mailsift::smtp {

std::string_view LeadingEnhancedCode(std::string_view text) {
  // class "." subject "." detail, class in 2/4/5, subject 1-3 digits, detail 1-3 digits.
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') {
    return {};
  }
  size_t i = 2;
  auto digits = [&](size_t max) {
    size_t start = i;
    while (i < text.size() && i - start < max && text[i] >= '0' && text[i] <= '9') ++i;
    return i > start && (i >= text.size() || text[i] < '0' || text[i] > '9');
  };
  if (!digits(3) || i >= text.size() || text[i] != '.') return {};
  ++i;
  if (!digits(3)) return {};
  if (i < text.size() && text[i] != ' ') return {};
  return text.substr(0, i);
}

std::string Reply::Enhanced() const {
  if (lines.empty()) return {};
  return std::string(LeadingEnhancedCode(lines.front()));
}

std::string Reply::WireWithEnhanced(std::string_view fallback) const {
  std::string out;
  std::string enhanced = Enhanced();
  if (enhanced.empty() || enhanced[0] - '0' != Class()) {
    enhanced = std::string(fallback);
  }
  for (size_t i = 0; i < lines.size() || i == 0; ++i) {
    std::string_view text = i < lines.size() ? std::string_view(lines[i]) : std::string_view();
    std::string_view own = LeadingEnhancedCode(text);
    if (!own.empty()) {
      text.remove_prefix(own.size());
      if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    }
    bool last = i + 1 >= lines.size();
    out += fmt::format("{}{}{} {}\r\n", code, last ? ' ' : '-', enhanced, text);
  }
  return out;
}

std::string Reply::OneLine() const {
  std::string out = std::to_string(code);
  for (const auto& line : lines) {
    out += ' ';
    out += line;
  }
  return out;
}

ReplyAssembler::Status ReplyAssembler::AddLine(std::string_view line, Reply& reply) {
  if (line.size() < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
      line[2] < '0' || line[2] > '9' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
    partial_ = Reply{};
    return Status::kMalformed;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (!partial_.lines.empty() && partial_.code != code) {
    partial_ = Reply{};
    return Status::kMalformed;
  }
  partial_.code = code;
  partial_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
  if (line.size() > 3 && line[3] == '-') return Status::kNeedMore;
  reply = std::move(partial_);
  partial_ = Reply{};
  return Status::kComplete;
}

}  // namespace mailsift::smtp
