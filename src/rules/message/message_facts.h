// rules/message/message_facts.h — SpamAssassin 4.0.1's view of a message's MIME structure
// (Mail::SpamAssassin::Message and Message/Node.pm) and the facts its MIMEEval, BodyEval and
// HTMLEval plugins share.
//
// SpamAssassin computes its MIME evals over its own view of the message
// (Mail::SpamAssassin::Message): a MIME tree whose quirks the mime_* flags and the parse flags
// depend on (preamble handling, "missing MIME headers", boundary state, epilogue, lines cut at 2048
// bytes, the last line break before a delimiter dropped, message/rfc822 bodies re-parsed as
// messages). So ComputeMessageFacts rebuilds that tree from the raw message, exactly as Message.pm
// does
// (_parse_multipart, _parse_normal, the header loop of new()), and computes once what several
// evals share:
//   - the parse flags (check_msg_parse_flags), pristine body length (check_body_length);
//   - MIMEEval's _check_attachments results (check_for_mime and friends);
//   - the rendered text of every text/plain and text/html leaf (Node::rendered), and the
//     html results of the text/html ones in message order — SA's `$pms->{html_all}`, which the
//     HTMLEval functions iterate (SA 4 tests each html part separately; nothing is merged);
//   - MPART_ALT_DIFF's word comparison, the blank-line ratio, the stock-info count.
// `MessageFacts::html_all` is what the evaluator can use for body rendering too (text/html
// parts render once).
//
// Configuration assumed: SA defaults — ok_locales "all" (so check_for_faraway_charset,
// html_charset_faraway and mime_faraway_charset never hit: SA returns 0 before looking, and
// HTML.pm never even stores `charsets` in its results), normalize_charset on,
// body_part_scan_size 50000, rawbody_part_scan_size 500000.
//
// Nothing here throws or asserts on message content. The evals themselves are in rules/eval
// (html_eval.cc, mime_eval.cc, body_eval.cc).
//
// Thread-safety: all functions are reentrant; MessageFacts is immutable after construction and
// may be shared between threads.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mime/html.h"
#include "mime/message.h"

namespace mailsift::rules {

// One node of SpamAssassin's MIME tree (Mail::SpamAssassin::Message::Node).
struct SaMimeNode {
  std::string type;  // SA's node type (lowercase)
  // Headers of this entity: lowercase name (as SA keys it, "name" up to ':') → decoded value.
  std::vector<std::pair<std::string, std::string>> headers;
  bool leaf = true;
  std::vector<size_t> children;  // indices into MessageFacts::nodes
  // Leaves: body lines as SA keeps them (each with its "\n" except maybe the last).
  std::vector<std::string> raw_lines;
  std::optional<std::string> charset;  // from Content-Type, as written
  std::string name;                    // attachment name as _parse_normal finds it
  // Leaves of effective type text/plain or text/html: Node::rendered().
  bool rendered = false;
  std::string rendered_type;  // "text/plain" or "text/html"
  std::string rendered_text;  // UTF-8
  int html_index = -1;        // index into MessageFacts::html_all, or -1

  // The last value of header `lname` (lowercase), or nullptr.
  const std::string* Header(std::string_view lname) const;
};

// MIMEEval's _check_attachments results (SA's $pms->{mime_*} keys).
struct MimeFlags {
  double base64_count = 0, base64_encoded_text = 0, body_html_count = 0, body_text_count = 0;
  double faraway_charset = 0, missing_boundary = 0, multipart_alternative = 0;
  double multipart_ratio = 1.0, qp_count = 0, qp_long_line = 0, qp_ratio = 0;
  double ascii_text_illegal = 0, text_unicode_ratio = 0;
  std::optional<double> attachment, bad_iso_charset, qp_bytes;  // exist only when set
  std::string html_charsets;  // "mime_html_charsets": every charset seen, blank-separated

  // check_for_mime's view: the value of key `name` ("mime_qp_count", …) if it exists.
  std::optional<double> Get(std::string_view name) const;
};

struct MessageFacts {
  std::vector<SaMimeNode> nodes;  // nodes[0] is the message; pre-order = nodes in DFS order
  std::vector<size_t> dfs;        // SA's find_parts order (pre-order)

  // Message.pm parse flags (check_msg_parse_flags); names as in SA.
  std::map<std::string, bool> parse_flags;
  std::map<std::string, int> boundary_state;  // mime_boundary_state
  size_t pristine_body_length = 0;

  std::vector<mime::HtmlResult> html_all;  // $pms->{html_all}
  std::vector<double> html_ratio;          // html result key "ratio" per html_all entry (or NaN)

  MimeFlags mime;
  size_t base64_length = 0;  // longest raw line of a base64 leaf
  double madiff = 0;         // multipart_alternative_difference
  size_t madiff_html = 0, madiff_text = 0;
  double blank_line_ratio_1 = -1;  // blank line % of the decoded body (minlines 1)
  size_t decoded_body_lines = 0;   // lines counted for the blank-line ratio
  size_t stock_info = 0;
  std::string top_content_type;  // $pms->get('Content-Type'): every value + "\n", joined
  std::string subject;           // $pms->get('Subject') likewise
  // check_for_uppercase's share of upper-case letters in percent, computed by its first call
  // (the rules call it with several ranges); NaN when no range can hit (a charset likely to
  // false-positive, or too little text). The facts belong to one scan, so mutable is safe.
  mutable std::optional<double> uppercase_percent;
};

// Looks up an already rendered HTML text: the RenderHtml result of exactly `html`, or null.
// RenderHtml is pure, so a result rendered elsewhere from the same input can stand in for it.
using RenderedHtmlLookup = std::function<const mime::HtmlResult*(std::string_view html)>;

// Builds SA's tree and all shared facts from a parsed message (uses only message.raw()).
// `rendered` (optional) spares rendering an HTML leaf whose input was rendered before.
MessageFacts ComputeMessageFacts(const mime::Message& message,
                                 const RenderedHtmlLookup& rendered = {});

// SA's rendered body array (PerMsgStatus get_decoded_stripped_body_text_array): the last
// decoded Subject + "\n", then the rendered text of every leaf joined with "\n", blank-line
// runs made paragraph breaks and other whitespace runs one space, cut into lines of at most
// 2048 bytes. Offered to the evaluator; body_part_scan_size is applied in bytes, not characters.
std::vector<std::string> SaRenderedBodyLines(const MessageFacts& facts);

// UTF-8 text as code points, the way the rendered-text code reads it.
std::u32string Utf8ToU32(std::string_view s);

}  // namespace mailsift::rules
