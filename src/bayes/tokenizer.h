// bayes/tokenizer.h — SpamAssassin 4.0.1's Bayes tokenizer (Plugin/Bayes.pm tokenize()).
//
// Tokenize() turns the texts of one message into SpamAssassin's Bayes token set, byte for byte:
//   - the visible rendered body lines (the decoded Subject first), region 1, no prefix, at most
//     50,000 tokens (checked after each line);
//   - the URI list, region 2, at most 10,000;
//   - the invisible rendered text (hidden HTML), region 1, prefix "I*:", at most 50,000;
//   - the header texts of _tokenize_headers, region 0, prefix "H<name>:", at most 10,000: every
//     header but the ignored ones (IGNORED_HDRS, bayes_ignore_header), only the last two
//     Received fields, the metadata pseudo-headers (X-Spam-Relays-*), the per-header pre-chewing
//     (Message-Id, address headers, Received, Content-Type, MIME-Version, presence-only headers),
//     the *MI, *Ad and *UA aggregates and the case-sensitive header-name compression;
//   - each line through _tokenize_line: the Bug 7130 character filter, "..." and "--" splits,
//     Title-Case lowering (regions 1 and 2), the trims, the 3-byte minimum, the stopwords, the
//     U*/D*/UD: breakouts, the long-token rules (u8: characters, sk: skips; URIs keep long
//     tokens) and the decompositions;
//   - the token id: the last 5 bytes of the SHA-1 of the whole token (prefix included), the set
//     de-duplicated by id.
// As in Perl on byte strings, every class (\w, \s, [A-Z], lc) is ASCII-only: bytes >= 0x80 are
// never word characters.
//
// The input is a plain BayesInput, so the tokenizer does not depend on how the texts are made
// (bayes/message_input.h builds one from rules/message's MessageText). Known differences from
// SpamAssassin that are not the tokenizer's: SpamAssassin takes the header groups and the URI
// list in Perl hash order, so which tokens fall beyond the 10,000-token caps differs (only for
// messages with that many header or URI tokens); tokens whose SHA-1 ids collide keep one text.
//
// Thread-safety: a Tokenizer is immutable after construction; Tokenize() may run on several
// threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailsift::bayes {

// A token id: the last 5 bytes of SHA-1(token), big-endian, in the low 40 bits (so that
// printing it as 10 hex digits gives SpamAssassin's unpack("H*", $id)).
using TokenId = uint64_t;
TokenId TokenIdOf(std::string_view token);
std::string TokenIdHex(TokenId id);
// The 5 raw bytes SpamAssassin stores as the key (DBM key, Redis "w:<5 bytes>").
std::string TokenIdBytes(TokenId id);

// One header field as SpamAssassin's get_all_headers() gives it: the name as written, the
// decoded value (unfolded, trimmed, RFC 2047 words decoded to UTF-8) without the final "\n".
// Metadata pseudo-headers use SpamAssassin's lower-case keys ("x-spam-relays-untrusted").
struct HeaderLine {
  std::string name;
  std::string value;
};

// What SpamAssassin's Bayes reads from a message (_get_msgdata_from_permsgstatus plus the
// message's headers and metadata).
struct BayesInput {
  std::vector<std::string> visible;    // get_visible_rendered_body_text_array (Subject first)
  std::vector<std::string> invisible;  // get_invisible_rendered_body_text_array
  std::vector<std::string> uris;       // PerMsgStatus::get_uri_list
  std::vector<HeaderLine> headers;     // get_all_headers(), in header order
  std::vector<HeaderLine> metadata;    // get_all_metadata() (SpamAssassin sorts it by key)
};

// One address of Util::parse_header_addresses, as _pre_chew_addr_header uses it.
struct HeaderAddress {
  std::optional<std::string> phrase;
  std::optional<std::string> address;
};
using AddressParser = std::function<std::vector<HeaderAddress>(std::string_view value)>;

struct Token {
  TokenId id = 0;
  std::string text;
  bool operator==(const Token&) const = default;
};

// SpamAssassin's English stopword pattern (60_bayes_stopwords.cf, and Bayes.pm's fallback).
inline constexpr std::string_view kEnglishStopwords =
    R"((?:a(?:ble|l(?:ready|l)|n[dy]|re)|b(?:ecause|oth)|c(?:an|ome)|e(?:ach|mail|ven)|)"
    R"(f(?:ew|irst|or|rom)|give|h(?:a(?:ve|s)|ttp)|i(?:n(?:formation|to)|t\'s)|just|know|)"
    R"(l(?:ike|o(?:ng|ok))|m(?:a(?:de|il(?:(?:ing|to))?|ke|ny)|o(?:re|st)|uch)|)"
    R"(n(?:eed|o[tw]|umber)|o(?:ff|n(?:ly|e)|ut|wn)|p(?:eople|lace)|right|s(?:ame|ee|uch)|)"
    R"(t(?:h(?:at|is|rough|e)|ime)|using|w(?:eb|h(?:ere|y)|ith(?:out)?|or(?:ld|k))|)"
    R"(y(?:ears?|ou(?:(?:\'re|r))?)))";

// Bayes settings of SpamAssassin's configuration that change the token set.
struct TokenizerOptions {
  // bayes_token_sources (default: header visible invisible uri; mimepart is not supported).
  bool use_header = true, use_visible = true, use_invisible = true, use_uri = true;
  size_t max_token_length = 15;  // bayes_max_token_length
  // Stopword regexes, one per enabled language of bayes_stopword_languages, as Perl patterns
  // (matched anchored and case-insensitively, as `^(?i)RE$`). Default: SpamAssassin's English
  // list; empty: `bayes_stopword_languages disable`.
  std::vector<std::string> stopwords{std::string(kEnglishStopwords)};
  std::set<std::string> ignore_headers;  // bayes_ignore_header, lower-case
  // Util::parse_header_addresses for From/To/Cc/Reply-To/... . Without one, address headers
  // give no tokens (the tokenizer itself does not parse RFC 5322 addresses).
  AddressParser parse_addresses;
};

class Tokenizer {
 public:
  explicit Tokenizer(TokenizerOptions options);  // not copyable (it owns compiled patterns)
  ~Tokenizer();

  // SpamAssassin's tokenize(): the token set, sorted by id (one text per id; when two texts
  // share an id, the one SpamAssassin keeps: the last in its order of sources).
  std::vector<Token> Tokenize(const BayesInput& input) const;

  // The pieces, exposed for tests.
  // _tokenize_line: appends to `out` the tokens of `line`; region 0 headers, 1 body, 2 URIs.
  void TokenizeLine(std::string_view line, std::string_view prefix, int region,
                    std::vector<std::string>* out) const;
  // _tokenize_headers: (name after compression, value) in first-appearance order.
  std::vector<std::pair<std::string, std::string>> HeaderTexts(const BayesInput& input) const;

 private:
  struct Impl;
  class StopwordCache;
  void TokenizeLineCached(std::string_view line, std::string_view prefix, int region,
                          StopwordCache* cache, std::vector<std::string>* out) const;
  std::string PreChewAddresses(std::string_view value) const;

  TokenizerOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Message::generate_msgid: SHA-1 hex of To "\0" Date "\0" SHA-1 hex of the body, then
// "@sa_generated". `to` and `date` are get_header()'s scalar values: the last instance, decoded,
// with "\n" appended ("" when the header is absent); `body` is the raw body with CRLF made LF.
std::string GenerateMsgid(std::string_view to, std::string_view date, std::string_view body);
// Message::get_msgid: the Message-Id (last instance, decoded) between its angle brackets, or
// nullopt when it is not of the form "<...>".
std::optional<std::string> MsgidFromHeader(std::string_view message_id);

}  // namespace mailsift::bayes
