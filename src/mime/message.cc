#include "mime/message.h"

#include <algorithm>
#include <utility>

#include "mime/charset.h"
#include "mime/codec.h"

namespace mailsift::mime {
namespace {

// The parser recurses once per nesting level; this bounds the stack whatever Limits say.
constexpr size_t kHardMaxDepth = 200;

using Buffer = std::shared_ptr<const std::string>;

enum class Delimiter { kNone, kPart, kClose };

// RFC 2046 §5.1.1: "--" boundary, optionally "--", then only blanks (transport padding).
Delimiter DelimiterKind(std::string_view line, std::string_view boundary) {
  if (line.size() < boundary.size() + 2 || line[0] != '-' || line[1] != '-') {
    return Delimiter::kNone;
  }
  if (line.substr(2, boundary.size()) != boundary) return Delimiter::kNone;
  std::string_view rest = line.substr(2 + boundary.size());
  Delimiter kind = Delimiter::kPart;
  if (rest.size() >= 2 && rest[0] == '-' && rest[1] == '-') {
    kind = Delimiter::kClose;
    rest.remove_prefix(2);
  }
  for (char c : rest) {
    if (c != ' ' && c != '\t') return Delimiter::kNone;
  }
  return kind;
}

struct Split {
  std::vector<std::string_view> parts;
  bool closed = false;         // a close delimiter ended the body
  size_t reused_boundary = 0;  // body parts that are multiparts with the same boundary
};

// True when the body part at the start of `part` is itself a multipart with `boundary`.
bool ReusesBoundary(std::string_view part, std::string_view boundary) {
  HeaderSection hs = ParseHeaderSection(part);
  const HeaderField* f = hs.headers.Get("Content-Type");
  if (f == nullptr) return false;
  ContentType ct = ParseContentType(f->value);
  return ct.IsMultipart() && ct.Param("boundary") == boundary;
}

// Splits a multipart body into its body parts. A body part that is a multipart with the same
// boundary (forbidden by RFC 2046 §5.1.2, but seen) owns the delimiters up to its own close
// delimiter; one such level is handled, as SpamAssassin does.
Split SplitMultipart(std::string_view body, std::string_view boundary) {
  Split split;
  size_t pos = 0;
  size_t part_begin = std::string_view::npos;
  bool nested = false;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    size_t next = nl == std::string_view::npos ? body.size() : nl + 1;
    size_t content_end = nl == std::string_view::npos ? body.size() : nl;
    if (content_end > pos && body[content_end - 1] == '\r') --content_end;
    Delimiter kind = DelimiterKind(body.substr(pos, content_end - pos), boundary);
    if (kind != Delimiter::kNone && nested) {
      if (kind == Delimiter::kClose) nested = false;
    } else if (kind != Delimiter::kNone) {
      if (part_begin != std::string_view::npos) {
        // The line break before a delimiter belongs to the delimiter.
        size_t end = pos;
        if (end > part_begin && body[end - 1] == '\n') --end;
        if (end > part_begin && body[end - 1] == '\r') --end;
        split.parts.push_back(body.substr(part_begin, end - part_begin));
      }
      if (kind == Delimiter::kClose) {
        split.closed = true;
        return split;
      }
      part_begin = next;
      nested = ReusesBoundary(body.substr(next), boundary);
      split.reused_boundary += nested ? 1 : 0;
    }
    pos = next;
  }
  if (part_begin != std::string_view::npos && part_begin < body.size()) {
    split.parts.push_back(body.substr(part_begin));
  }
  return split;
}

std::string ChildPath(const std::string& path, size_t index) {
  std::string n = std::to_string(index);
  return path.empty() ? n : path + "." + n;
}

bool StartsWithMboxFrom(std::string_view raw) { return raw.substr(0, 5) == "From "; }

}  // namespace

class Parser {
 public:
  Parser(const Limits& limits, Message& message)
      : limits_(limits), message_(message), stats_(message.stats_) {
    limits_.max_depth = std::min(limits_.max_depth, kHardMaxDepth);
    limits_.max_parts = std::max<size_t>(limits_.max_parts, 2);  // a container and a leaf
    message_.limits_ = limits_;
  }

  void Run(Buffer raw) {
    message_.buffer_ = std::move(raw);
    std::string_view bytes = *message_.buffer_;
    if (StartsWithMboxFrom(bytes)) {
      size_t nl = bytes.find('\n');
      bytes = nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
      stats_.mbox_from_line = true;
    }
    ParseEntity(message_.buffer_, bytes, "", 0, /*enclosed=*/true, /*in_digest=*/false,
                /*root=*/true);
  }

 private:
  // Parses one entity (headers and body) from `bytes`, which lies in `buffer`.
  // `enclosed`: `bytes` is a whole message and `path` is that message's path (its single body
  // is path.1); otherwise `bytes` is a body part whose own path is `path`.
  void ParseEntity(const Buffer& buffer, std::string_view bytes, const std::string& path,
                   size_t depth, bool enclosed, bool in_digest, bool root) {
    ++entities_;
    HeaderSection hs = ParseHeaderSection(bytes);
    if (hs.missing_separator) ++stats_.missing_separator;
    if (!enclosed && hs.headers.empty()) ++stats_.part_without_headers;
    std::string_view body = bytes.substr(std::min(hs.body_offset, bytes.size()));
    ContentType ct;
    if (const HeaderField* f = hs.headers.Get("Content-Type")) {
      ct = ParseContentType(f->value);
    } else if (in_digest) {
      ct.type = "message";
      ct.subtype = "rfc822";
    }
    TransferEncoding te = ParseTransferEncoding(hs.headers.Value("Content-Transfer-Encoding"));
    if (root) message_.headers_ = hs.headers;
    std::string own_path = enclosed ? ChildPath(path, 1) : path;
    if (ct.type == "multipart") {
      std::string_view boundary = ct.Param("boundary");
      if (boundary.empty()) {
        ++stats_.missing_boundary;
      } else if (depth >= limits_.max_depth) {
        ++stats_.depth_exceeded;
      } else if (entities_ >= limits_.max_parts) {
        ++stats_.parts_dropped;  // no room for its children: kept as one leaf
      } else {
        Split split = SplitMultipart(body, boundary);
        if (split.parts.empty()) {
          ++stats_.no_delimiter;
        } else {
          if (!split.closed) ++stats_.missing_close_delimiter;
          stats_.reused_boundary += split.reused_boundary;
          ParseMultipart(buffer, split, path, depth, std::move(hs.headers), std::move(ct));
          return;
        }
      }
    } else if (ct.type == "message" && (ct.subtype == "rfc822" || ct.subtype == "global")) {
      if (depth >= limits_.max_depth) {
        ++stats_.depth_exceeded;
      } else if (entities_ >= limits_.max_parts) {
        ++stats_.parts_dropped;  // no room for the enclosed message: kept as one leaf
      } else {
        ParseEnclosed(buffer, body, own_path, depth, te, std::move(hs.headers), std::move(ct));
        return;
      }
    }
    AddLeaf(buffer, body, own_path, depth, std::move(hs.headers), std::move(ct), te);
  }

  void ParseMultipart(const Buffer& buffer, const Split& split, const std::string& path,
                      size_t depth, Headers headers, ContentType ct) {
    size_t index = message_.containers_.size();
    bool digest = ct.subtype == "digest";
    message_.containers_.push_back(
        Container{path, depth, std::move(headers), std::move(ct), message_.parts_.size(), 0, 0});
    size_t children = 0;
    for (size_t i = 0; i < split.parts.size(); ++i) {
      if (entities_ >= limits_.max_parts) {
        stats_.parts_dropped += split.parts.size() - i;
        break;
      }
      ParseEntity(buffer, split.parts[i], ChildPath(path, i + 1), depth + 1, false, digest, false);
      ++children;
    }
    Container& c = message_.containers_[index];
    c.child_count = children;
    c.part_count = message_.parts_.size() - c.first_part;
  }

  void ParseEnclosed(const Buffer& buffer, std::string_view body, const std::string& own_path,
                     size_t depth, TransferEncoding te, Headers headers, ContentType ct) {
    size_t index = message_.containers_.size();
    message_.containers_.push_back(Container{own_path, depth, std::move(headers), std::move(ct),
                                             message_.parts_.size(), 0, 1});
    Buffer inner = buffer;
    std::string_view inner_bytes = body;
    if (te == TransferEncoding::kBase64 || te == TransferEncoding::kQuotedPrintable) {
      // Not allowed by RFC 2046 §5.2.1, but seen: decode, then parse the result.
      std::string decoded;
      bool cut = Decode(body, te, decoded);
      if (cut) ++stats_.enclosed_truncated;
      auto owned = std::make_shared<const std::string>(std::move(decoded));
      inner_bytes = *owned;
      inner = std::move(owned);
    }
    ParseEntity(inner, inner_bytes, own_path, depth + 1, /*enclosed=*/true, false, false);
    Container& c = message_.containers_[index];
    c.part_count = message_.parts_.size() - c.first_part;
  }

  // Decodes `body` under the size caps into `out`; true when it was cut.
  bool Decode(std::string_view body, TransferEncoding te, std::string& out) {
    size_t left = limits_.max_total_decoded_bytes > stats_.decoded_bytes
                      ? limits_.max_total_decoded_bytes - stats_.decoded_bytes
                      : 0;
    size_t cap = std::min(limits_.max_part_decoded_bytes, left);
    DecodeStats ds;
    bool cut = false;
    switch (te) {
      case TransferEncoding::kBase64:
        out.reserve(std::min(cap, body.size() / 4 * 3 + 3));
        cut = DecodeBase64(body, out, cap, &ds);
        stats_.bad_base64_bytes += ds.bad_bytes;
        break;
      case TransferEncoding::kQuotedPrintable:
        out.reserve(std::min(cap, body.size()));
        cut = DecodeQuotedPrintable(body, out, cap, &ds);
        stats_.bad_qp_escapes += ds.bad_bytes;
        break;
      default:
        cut = body.size() > cap;
        out.assign(body.substr(0, std::min(cap, body.size())));
        break;
    }
    stats_.decoded_bytes += out.size();
    return cut;
  }

  void AddLeaf(const Buffer& buffer, std::string_view body, const std::string& own_path,
               size_t depth, Headers headers, ContentType ct, TransferEncoding te) {
    Part p;
    p.buffer_ = buffer;
    p.path_ = own_path;
    p.depth_ = depth;
    if (const HeaderField* f = headers.Get("Content-Disposition")) {
      p.disposition_ = ParseContentDisposition(f->value);
    }
    p.headers_ = std::move(headers);
    p.content_type_ = std::move(ct);
    p.transfer_encoding_ = te;
    p.raw_body_ = body;
    p.decoded_truncated_ = Decode(body, te, p.decoded_);
    if (p.decoded_truncated_) ++stats_.decoded_truncated;
    p.is_text_ = p.content_type_.IsText() || p.content_type_.IsMultipart();
    if (p.is_text_) p.text_utf8_ = ToUtf8(p.decoded_, p.content_type_.Param("charset"));
    p.filename_ = FileName(p.disposition_.params, p.content_type_.params);
    message_.parts_.push_back(std::move(p));
  }

  static std::string FileName(const Parameters& disposition, const Parameters& type) {
    const Parameter* chosen = nullptr;
    for (const Parameters* list : {&disposition, &type}) {
      for (const Parameter& param : *list) {
        if (param.name == (list == &disposition ? "filename" : "name") && !param.value.empty()) {
          chosen = &param;
          break;
        }
      }
      if (chosen != nullptr) break;
    }
    if (chosen == nullptr) return "";
    if (chosen->extended) return chosen->value;  // already UTF-8 (RFC 2231)
    // Raw 8-bit names are read as UTF-8 or windows-1252; encoded words are ASCII, so they
    // survive that step and are decoded after it.
    return SanitizeUtf8(DecodeEncodedWords(ToUtf8(chosen->value, "")));
  }

  Limits limits_;
  Message& message_;
  ParseStats& stats_;
  size_t entities_ = 0;
};

Message ParseMessage(std::string_view raw, const Limits& limits) {
  return ParseMessage(std::make_shared<const std::string>(raw), limits);
}

Message ParseMessage(std::shared_ptr<const std::string> raw, const Limits& limits) {
  Message message;
  Parser parser(limits, message);
  parser.Run(raw ? std::move(raw) : std::make_shared<const std::string>());
  return message;
}

}  // namespace mailsift::mime
