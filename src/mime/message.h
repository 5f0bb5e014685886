// mime/message.h — the MIME parser: a raw RFC 5322 message to headers and a tree of parts.
//
// ParseMessage never fails and never stops on malformed input; what it had to tolerate and
// what it cut is counted in Message::stats(). It handles:
//   - the header section (mime/header.h), LF or CRLF line ends, a leading mbox "From " line;
//   - multipart/* at any depth up to Limits::max_depth (RFC 2046 §5.1): the preamble and
//     epilogue are ignored; a delimiter is "--boundary" at the start of a line followed only by
//     blanks, a close delimiter adds "--"; the line break before a delimiter belongs to it; a
//     missing close delimiter ends the last part at the end of its enclosing body; a body part
//     that is a multipart with its parent's boundary owns the delimiters up to its own close
//     delimiter (one level, as SpamAssassin handles it); a multipart without a boundary
//     parameter or without any body part is kept as one leaf whose body is treated as text;
//   - message/rfc822 (and message/global) parsed as a nested message, also when it is base64
//     or quoted-printable encoded; in multipart/digest a part without Content-Type is
//     message/rfc822 (RFC 2046 §5.1.5);
//   - every leaf: headers, content type, raw body bytes, body decoded from its transfer
//     encoding (mime/codec.h), and for text parts the decoded body converted to UTF-8 from its
//     charset (mime/charset.h). Decoded bodies keep the line ends of the message;
//     quoted-printable and base64 follow RFC 2045 (trailing blanks of QP lines dropped, "="
//     padding ends a base64 group), which SpamAssassin's decoders do nearly the same way;
//   - attachment file names from the Content-Disposition filename or Content-Type name
//     parameter, RFC 2231 and RFC 2047 decoded.
//
// Part paths follow IMAP body section numbers (RFC 3501 §6.4.5): a single-part message has one
// part "1"; the parts of a top-level multipart are "1", "2", …; the parts of part "2" are
// "2.1", "2.2", …; the body of a message/rfc822 part "3" is "3.1" when it is single-part, or
// "3.1", "3.2", … are the parts of its multipart body.
//
// Limits: at most max_parts entities (leaves and containers; at least 2) are created, the rest
// are dropped and counted (a container with no room for children becomes a leaf); a multipart or
// message/rfc822 at max_depth is kept as a leaf and counted; decoded bodies are cut at
// max_part_decoded_bytes each and at max_total_decoded_bytes for the whole message, and counted
// (an encoded message/rfc822 body that is cut is counted as enclosed_truncated: the message
// inside it is incomplete). A parse that hit a limit did not see all of the message: a check
// that must see every part (banned_check.h) reports it UNCHECKED, never clean. Message::limits()
// are the limits applied (max_depth at most 200, max_parts at least 2).
//
// Thread-safety: ParseMessage is reentrant. A Message is immutable after parsing and may be
// read from several threads; Parts keep the bytes they view alive (shared buffer), so a Part
// stays valid after its Message is gone.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mime/header.h"
#include "mime/params.h"

namespace mailsift::mime {

struct Limits {
  size_t max_parts = 1000;
  size_t max_depth = 20;  // nesting of multipart and message/rfc822 entities; the root is 0
  size_t max_part_decoded_bytes = 16 * 1024 * 1024;
  size_t max_total_decoded_bytes = 64 * 1024 * 1024;
};

// What the parser tolerated or cut. All counters start at zero.
struct ParseStats {
  // Limits.
  size_t parts_dropped = 0;       // entities not parsed because max_parts was reached
  size_t depth_exceeded = 0;      // containers at max_depth kept as leaves
  size_t decoded_truncated = 0;   // leaves whose decoded body was cut by a size cap
  size_t enclosed_truncated = 0;  // encoded message/rfc822 bodies cut by a size cap
  size_t decoded_bytes = 0;       // total decoded bytes of all leaves
  // Malformations.
  bool mbox_from_line = false;         // a leading "From " line was skipped
  size_t missing_separator = 0;        // header sections ended by a non-header line
  size_t missing_boundary = 0;         // multiparts without a boundary parameter
  size_t no_delimiter = 0;             // multiparts without any body part (no delimiter)
  size_t missing_close_delimiter = 0;  // multiparts without "--boundary--"
  size_t reused_boundary = 0;       // body parts that are multiparts with their parent's boundary
  size_t part_without_headers = 0;  // body parts with no header field
  size_t bad_base64_bytes = 0;      // bytes outside the base64 alphabet, skipped
  size_t bad_qp_escapes = 0;        // quoted-printable "=" not followed by hex, kept

  bool LimitHit() const {
    return parts_dropped + depth_exceeded + decoded_truncated + enclosed_truncated > 0;
  }
};

// A leaf of the MIME tree.
class Part {
 public:
  const std::string& path() const { return path_; }
  size_t depth() const { return depth_; }
  const Headers& headers() const { return headers_; }
  const ContentType& content_type() const { return content_type_; }
  const ContentDisposition& disposition() const { return disposition_; }
  TransferEncoding transfer_encoding() const { return transfer_encoding_; }

  // The body as it is in the message (still transfer-encoded).
  std::string_view raw_body() const { return raw_body_; }
  // The body decoded from its transfer encoding (bytes in the part's charset).
  const std::string& decoded() const { return decoded_; }
  bool decoded_truncated() const { return decoded_truncated_; }

  // text/* parts, and multiparts that could not be split (see the header comment).
  bool is_text() const { return is_text_; }
  // For text parts: decoded() converted to UTF-8 (line ends as in the message); else "".
  const std::string& text_utf8() const { return text_utf8_; }

  // UTF-8 file name from filename= (Content-Disposition) or name= (Content-Type), or "".
  const std::string& filename() const { return filename_; }
  // Content-Disposition "attachment", or a file name is given.
  bool is_attachment() const { return disposition_.type == "attachment" || !filename_.empty(); }

 private:
  friend class Parser;
  std::shared_ptr<const std::string> buffer_;  // keeps raw_body_ alive
  std::string path_;
  size_t depth_ = 0;
  Headers headers_;
  ContentType content_type_;
  ContentDisposition disposition_;
  TransferEncoding transfer_encoding_ = TransferEncoding::k7Bit;
  std::string_view raw_body_;
  std::string decoded_;
  bool decoded_truncated_ = false;
  bool is_text_ = false;
  std::string text_utf8_;
  std::string filename_;
};

// An inner node of the MIME tree: a multipart, or a message/rfc822 part.
struct Container {
  std::string path;  // "" for a top-level multipart
  size_t depth = 0;
  Headers headers;
  ContentType content_type;
  size_t first_part = 0;   // index in Message::parts() of its first leaf
  size_t part_count = 0;   // number of leaves below it
  size_t child_count = 0;  // direct children (body parts, or 1 for message/rfc822)
};

class Message {
 public:
  // The top-level header section.
  const Headers& headers() const { return headers_; }
  // Every leaf, in message order.
  const std::vector<Part>& parts() const { return parts_; }
  // Every inner node, in pre-order (a parent before its children).
  const std::vector<Container>& containers() const { return containers_; }
  const ParseStats& stats() const { return stats_; }
  // The limits the parse applied (ParseMessage's, max_depth and max_parts clamped).
  const Limits& limits() const { return limits_; }
  // The message as given (including a skipped "From " line).
  std::string_view raw() const { return *buffer_; }

 private:
  friend class Parser;
  std::shared_ptr<const std::string> buffer_ = std::make_shared<const std::string>();
  Headers headers_;
  std::vector<Part> parts_;
  std::vector<Container> containers_;
  ParseStats stats_;
  Limits limits_;
};

// Parses `raw` (one message, LF or CRLF line ends). Copies `raw`; never fails.
Message ParseMessage(std::string_view raw, const Limits& limits = {});
// The same without the copy: the Message and its Parts keep `raw` alive (it must not be null).
Message ParseMessage(std::shared_ptr<const std::string> raw, const Limits& limits = {});

}  // namespace mailsift::mime
