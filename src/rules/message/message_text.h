// rules/message/message_text.h — one message as SpamAssassin 4.0.1's rules see it.
//
// MessageText derives, from a parsed message, every text a rule type matches against, with
// SpamAssassin's semantics (Mail::SpamAssassin::PerMsgStatus, Message, Message::Node):
//   - Get(): the value `header` rules match — decoded (folds become one space, trimmed, RFC 2047
//     words decoded except in Received, Date, Message-ID, MIME-Version, References, In-Reply-To
//     and List-*), or `:raw`; every instance, each ending in "\n", joined; the pseudo-headers
//     ALL, ALL:raw, ALL-TRUSTED/UNTRUSTED/INTERNAL/EXTERNAL, ToCc, MESSAGEID, EnvelopeFrom and
//     X-Spam-Relays-*; the modifiers :addr :name :first :last :ip :revip :host :domain.
//     Absent (std::nullopt) when SpamAssassin's get() finds nothing. As in SpamAssassin's
//     Message.pm, the decoded value of a field is made from at most 8,192 bytes of its value
//     (MAX_HEADER_VALUE_LENGTH, with its "\n"); `:raw` and ALL:raw read the header section
//     whole, as SpamAssassin's pristine headers.
//   - BodyLines(): the rendered body — the decoded Subject first, then every leaf part (text/plain
//     decoded to UTF-8, text/html and HTML-looking text/plain rendered), a line break between
//     parts, each part cut at 50,000 bytes, paragraphs made one line, runs of (Unicode)
//     whitespace one space, lines cut at 2,048 bytes at a space.
//   - RawBodyChunks(): transfer-decoded text/* and message/* leaves (text/calendar excepted),
//     cut at 500,000 bytes, split into 2,048–4,096 byte paragraphs.
//   - Full(): the message as received (without a leading mbox "From " line).
//   - Uris(): the canonicalised URIs of the text and HTML parts (uri rules).
//   - MimeParts(): every entity (root, containers, leaves) in SpamAssassin's find_parts order,
//     for mimeheader rules; each field's value cut at 8,192 bytes as Message.pm stores it.
//
// Everything is computed on first use and cached. Thread-safety: a MessageText belongs to one
// scan on one thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/envelope.h"
#include "mime/html.h"
#include "mime/message.h"
#include "mime/uri.h"
#include "rules/message/registry_boundaries.h"

namespace mailsift::rules {

// Per-ruleset inputs the texts depend on.
struct TextContext {
  const mime::TldSet* tlds = nullptr;
  const mime::RedirectorPatterns* redirectors = nullptr;
  const RegistryBoundaries* boundaries = nullptr;  // for :domain; none: two labels
};

// Relay facts computed by the Received parser (rules/message/received.h), as strings and indexes.
struct RelayStrings {
  std::string trusted, untrusted, internal, external;
  int last_trusted_relay_index = -1;
  int last_internal_relay_index = -1;
  // ALL-TRUSTED, ALL-UNTRUSTED, ALL-INTERNAL, ALL-EXTERNAL (decoded form).
  std::string all_trusted, all_untrusted, all_internal, all_external;
  // SpamAssassin's get_envelope_from guess (relays, then X-Envelope-From / Return-Path …).
  std::optional<std::string> envelope_from;
  bool computed = false;
};

// One SpamAssassin header field: name, raw value (after the colon, "\n" line ends, trailing
// "\n"), and decoded value (without the "\n").
struct SaHeader {
  std::string name;
  std::string raw;
  std::string decoded;
};

// A MIME entity's header fields, for mimeheader rules.
struct SaEntity {
  std::vector<SaHeader> headers;
};

class MessageText {
 public:
  MessageText(const mime::Message& message, const Envelope& envelope, const TextContext& context);

  const mime::Message& message() const { return message_; }
  const Envelope& envelope() const { return envelope_; }
  void SetRelays(RelayStrings relays) { relays_ = std::move(relays); }

  // SpamAssassin's get() as header rules use it (values joined), or nullopt when undefined.
  std::optional<std::string> Get(std::string_view request);
  // The same, without a copy: the reference stays valid as long as this MessageText.
  const std::optional<std::string>& GetRef(std::string_view request);
  // Every value get() found (list context).
  std::vector<std::string> GetAll(std::string_view request);

  const std::vector<SaHeader>& headers() const { return headers_; }
  const std::string& EnvelopeFrom();
  const std::string& Subject();  // decoded Subject with "\n", or "" when absent

  const std::vector<std::string>& BodyLines();
  const std::vector<std::string>& VisibleBodyLines();
  const std::vector<std::string>& RawBodyChunks();
  std::string_view Full();
  const std::vector<std::string>& Uris();
  // Rendered HTML of each text/html (or HTML-looking text/plain) leaf: (leaf index, result).
  const std::vector<std::pair<size_t, mime::HtmlResult>>& HtmlParts();
  // The RenderHtml result of a leaf whose input text is exactly `html`, or null (renders the
  // leaves first).
  const mime::HtmlResult* RenderedHtml(std::string_view html);
  const std::vector<SaEntity>& MimeParts();

 private:
  void Render();
  // Every instance of a header: decoded with "\n", or raw — as written (`unfold_raw` false,
  // raw_header) or with folds made one space (get_header's raw form).
  std::vector<std::string> GetHeaderValues(std::string_view name, bool raw,
                                           bool unfold_raw = true) const;

  const mime::Message& message_;
  Envelope envelope_;
  TextContext context_;
  RelayStrings relays_;
  std::vector<SaHeader> headers_;
  bool rendered_ = false;
  std::vector<std::pair<size_t, mime::HtmlResult>> html_;
  std::vector<std::string> part_rendered_;  // per leaf: rendered text ("" for non-text)
  std::vector<std::string> part_visible_;
  std::vector<bool> part_has_text_;
  std::optional<std::vector<std::string>> body_lines_, visible_lines_, rawbody_, uris_;
  std::optional<std::vector<SaEntity>> mime_parts_;
  std::optional<std::string> envelope_from_, subject_;
  std::unordered_map<std::string, std::optional<std::string>> get_cache_;
};

// The parts of SpamAssassin's body text pipeline, exposed for tests.
std::string SaDecodeHeaderValue(std::string_view name, std::string_view raw);
std::string SaNormalizeBodyWhitespace(std::string_view text);
std::vector<std::string> SplitIntoShortLines(std::string_view text);
std::vector<std::string> SplitIntoShortParagraphs(std::string_view text);
// Util::parse_header_addresses, simplified: (address, display name) per mailbox.
std::vector<std::pair<std::string, std::string>> SplitAddressList(std::string_view value);

}  // namespace mailsift::rules
