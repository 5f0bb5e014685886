#include "smtp/command.h"

#include <fmt/format.h>

#include "base/strings.h"

namespace mailsift::smtp {
namespace {

struct VerbName {
  std::string_view name;
  Verb verb;
};
constexpr VerbName kVerbs[] = {
    {"HELO", Verb::kHelo}, {"EHLO", Verb::kEhlo},         {"LHLO", Verb::kLhlo},
    {"MAIL", Verb::kMail}, {"RCPT", Verb::kRcpt},         {"DATA", Verb::kData},
    {"BDAT", Verb::kBdat}, {"RSET", Verb::kRset},         {"NOOP", Verb::kNoop},
    {"QUIT", Verb::kQuit}, {"VRFY", Verb::kVrfy},         {"EXPN", Verb::kExpn},
    {"HELP", Verb::kHelp}, {"XFORWARD", Verb::kXforward}, {"STARTTLS", Verb::kStarttls},
    {"AUTH", Verb::kAuth}, {"ETRN", Verb::kEtrn},         {"TURN", Verb::kTurn},
};

bool IsKeywordChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// RFC 3461 §4: xtext is printable ASCII 33..126 except '+' and '=', with "+HH" escapes.
bool IsXtext(std::string_view text) { return DecodeXtext(text).has_value(); }

// Parses "<address>" or a bare address at the start of `text`; the rest goes to `rest`.
std::optional<std::string> ParsePath(std::string_view text, std::string_view& rest) {
  text = TrimSpaces(text);
  if (text.empty()) return std::nullopt;
  if (text.front() != '<') {
    // Bare address (RFC 821 leniency, as Postfix's strict_rfc821_envelopes = no).
    size_t end = text.find(' ');
    std::string_view address = text.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : text.substr(end);
    if (address.find_first_of("<>\"") != std::string_view::npos) return std::nullopt;
    return std::string(address);
  }
  bool quoted = false;
  for (size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\' && i + 1 < text.size()) {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '<') {
      return std::nullopt;
    } else if (c == '>') {
      rest = text.substr(i + 1);
      if (!rest.empty() && rest.front() != ' ') return std::nullopt;
      return std::string(text.substr(1, i - 1));
    }
  }
  return std::nullopt;
}

bool ValidAddressText(std::string_view address) {
  if (address.size() > 256) return false;  // RFC 5321 §4.5.3.1.3 path length
  for (unsigned char c : address) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool ParseParameters(std::string_view text, std::vector<Parameter>& out, CommandError& error) {
  for (std::string_view piece : SplitSpaces(text)) {
    Parameter parameter;
    size_t equals = piece.find('=');
    std::string_view keyword = piece.substr(0, equals);
    if (keyword.empty()) {
      error = {ReplyId::kBadParameterValue, std::string(piece)};
      return false;
    }
    for (char c : keyword) {
      if (!IsKeywordChar(c)) {
        error = {ReplyId::kBadParameterValue, std::string(piece)};
        return false;
      }
    }
    parameter.keyword = ToUpperAscii(keyword);
    if (equals != std::string_view::npos) {
      parameter.has_value = true;
      parameter.value = std::string(piece.substr(equals + 1));
    }
    out.push_back(std::move(parameter));
  }
  return true;
}

bool CheckMailParameter(const Parameter& p, CommandError& error) {
  auto bad = [&] {
    error = {ReplyId::kBadParameterValue, p.keyword};
    return false;
  };
  if (p.keyword == "SIZE") {
    if (!p.has_value || !ParseUnsigned(p.value)) return bad();
  } else if (p.keyword == "BODY") {
    if (!p.has_value ||
        !(EqualsIgnoreCase(p.value, "7BIT") || EqualsIgnoreCase(p.value, "8BITMIME"))) {
      return bad();
    }
  } else if (p.keyword == "SMTPUTF8") {
    if (p.has_value) return bad();
  } else if (p.keyword == "RET") {
    if (!p.has_value || !(EqualsIgnoreCase(p.value, "FULL") || EqualsIgnoreCase(p.value, "HDRS"))) {
      return bad();
    }
  } else if (p.keyword == "ENVID" || p.keyword == "AUTH") {
    if (!p.has_value || p.value.size() > 500 || !IsXtext(p.value)) return bad();
  } else {
    error = {ReplyId::kUnsupportedParameter, p.keyword};
    return false;
  }
  return true;
}

bool CheckRcptParameter(const Parameter& p, CommandError& error) {
  auto bad = [&] {
    error = {ReplyId::kBadParameterValue, p.keyword};
    return false;
  };
  if (p.keyword == "NOTIFY") {
    if (!p.has_value) return bad();
    std::string value = ToUpperAscii(p.value);
    if (value == "NEVER") return true;
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      std::string_view item = std::string_view(value).substr(
          start, comma == std::string::npos ? std::string::npos : comma - start);
      if (item != "SUCCESS" && item != "FAILURE" && item != "DELAY") return bad();
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else if (p.keyword == "ORCPT") {
    // addr-type ";" xtext (RFC 3461 §4.2)
    if (!p.has_value) return bad();
    size_t semicolon = p.value.find(';');
    if (semicolon == std::string::npos || semicolon == 0 || p.value.size() > 500 ||
        !IsXtext(std::string_view(p.value).substr(semicolon + 1))) {
      return bad();
    }
  } else {
    error = {ReplyId::kUnsupportedParameter, p.keyword};
    return false;
  }
  return true;
}

std::optional<PathArgument> ParsePathArgument(std::string_view argument, std::string_view prefix,
                                              ReplyId syntax_reply, ReplyId address_reply,
                                              bool (*check)(const Parameter&, CommandError&),
                                              CommandError& error) {
  if (!StartsWithIgnoreCase(argument, prefix)) {
    error = {syntax_reply, {}};
    return std::nullopt;
  }
  std::string_view rest;
  auto address = ParsePath(argument.substr(prefix.size()), rest);
  if (!address) {
    error = {syntax_reply, {}};
    return std::nullopt;
  }
  if (!ValidAddressText(*address)) {
    error = {address_reply, {}};
    return std::nullopt;
  }
  PathArgument result;
  result.address = std::move(*address);
  if (!ParseParameters(rest, result.parameters, error)) return std::nullopt;
  for (size_t i = 0; i < result.parameters.size(); ++i) {
    if (!check(result.parameters[i], error)) return std::nullopt;
    for (size_t j = 0; j < i; ++j) {
      if (result.parameters[j].keyword == result.parameters[i].keyword) {
        error = {ReplyId::kBadParameterValue, result.parameters[i].keyword};
        return std::nullopt;
      }
    }
  }
  return result;
}

}  // namespace

Command SplitCommand(std::string_view line) {
  Command command;
  size_t space = line.find(' ');
  command.verb_text = line.substr(0, space);
  if (space != std::string_view::npos) {
    command.argument = TrimSpaces(line.substr(space + 1));
  }
  for (const auto& entry : kVerbs) {
    if (EqualsIgnoreCase(command.verb_text, entry.name)) {
      command.verb = entry.verb;
      break;
    }
  }
  // "MAIL FROM:" and "RCPT TO:" are parsed by their argument parsers.
  return command;
}

bool IsCleanCommandLine(std::string_view line) {
  for (unsigned char c : line) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

const Parameter* PathArgument::Find(std::string_view keyword) const {
  for (const auto& p : parameters) {
    if (p.keyword == keyword) return &p;
  }
  return nullptr;
}

std::optional<PathArgument> ParseMailArgument(std::string_view argument, CommandError& error) {
  return ParsePathArgument(argument, "FROM:", ReplyId::kSyntaxMail, ReplyId::kBadSenderAddress,
                           CheckMailParameter, error);
}

std::optional<PathArgument> ParseRcptArgument(std::string_view argument, CommandError& error) {
  auto result = ParsePathArgument(argument, "TO:", ReplyId::kSyntaxRcpt,
                                  ReplyId::kBadRecipientAddress, CheckRcptParameter, error);
  if (result && result->address.empty()) {
    error = {ReplyId::kBadRecipientAddress, {}};
    return std::nullopt;
  }
  return result;
}

bool ParseXforward(std::string_view argument, XforwardAttributes& attributes, CommandError& error) {
  auto pieces = SplitSpaces(argument);
  if (pieces.empty()) {
    error = {ReplyId::kSyntaxXforward, {}};
    return false;
  }
  XforwardAttributes updated = attributes;
  for (std::string_view piece : pieces) {
    size_t equals = piece.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      error = {ReplyId::kSyntaxXforward, {}};
      return false;
    }
    std::string name = ToUpperAscii(piece.substr(0, equals));
    auto value = DecodeXtext(piece.substr(equals + 1));
    if (!value || value->size() > 255) {
      error = {ReplyId::kBadParameterValue, name};
      return false;
    }
    std::optional<std::string>* slot = name == "NAME"     ? &updated.name
                                       : name == "ADDR"   ? &updated.addr
                                       : name == "PORT"   ? &updated.port
                                       : name == "PROTO"  ? &updated.proto
                                       : name == "HELO"   ? &updated.helo
                                       : name == "IDENT"  ? &updated.ident
                                       : name == "SOURCE" ? &updated.source
                                                          : nullptr;
    if (slot == nullptr) {
      error = {ReplyId::kUnsupportedParameter, name};
      return false;
    }
    *slot = std::move(*value);
  }
  attributes = std::move(updated);
  return true;
}

std::vector<std::string> FormatXforward(const XforwardAttributes& attributes,
                                        const std::vector<std::string>& announced_names) {
  std::vector<std::string> commands;
  std::string current = "XFORWARD";
  auto add = [&](std::string_view name, const std::optional<std::string>& value) {
    if (!value) return;
    bool announced = false;
    for (const auto& n : announced_names) announced |= EqualsIgnoreCase(n, name);
    if (!announced) return;
    std::string item = fmt::format(" {}={}", name, EncodeXtext(*value));
    // Postfix keeps each command within 512 octets (smtpd_proxy.c PAYLOAD_LIMIT).
    if (current.size() + item.size() > 500 && current != "XFORWARD") {
      commands.push_back(std::move(current));
      current = "XFORWARD";
    }
    current += item;
  };
  add("NAME", attributes.name);
  add("ADDR", attributes.addr);
  add("PORT", attributes.port);
  add("PROTO", attributes.proto);
  add("HELO", attributes.helo);
  add("IDENT", attributes.ident);
  add("SOURCE", attributes.source);
  if (current != "XFORWARD") commands.push_back(std::move(current));
  return commands;
}

std::optional<BdatArgument> ParseBdatArgument(std::string_view argument) {
  auto pieces = SplitSpaces(argument);
  if (pieces.empty() || pieces.size() > 2) return std::nullopt;
  auto size = ParseUnsigned(pieces[0]);
  if (!size) return std::nullopt;
  BdatArgument result{*size, false};
  if (pieces.size() == 2) {
    if (!EqualsIgnoreCase(pieces[1], "LAST")) return std::nullopt;
    result.last = true;
  }
  return result;
}

std::optional<std::string> DecodeXtext(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '+') {
      if (i + 2 >= text.size()) return std::nullopt;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        return -1;
      };
      int high = hex(text[i + 1]);
      int low = hex(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c >= 33 && c <= 126 && c != '=') {
      out.push_back(static_cast<char>(c));
    } else if (c >= 0x80) {
      out.push_back(static_cast<char>(c));  // UTF-8 (RFC 6533 utf-8-xtext leniency)
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string EncodeXtext(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("+{:02X}", c);
    }
  }
  return out;
}

}  // namespace mailsift::smtp
