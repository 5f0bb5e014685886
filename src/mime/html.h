// mime/html.h — an HTML part to the text SpamAssassin's body rules see, plus the HTML facts its
// HTMLEval plugin reads.
//
// RenderHtml reproduces the behaviour of SpamAssassin 4.0's Mail::SpamAssassin::HTML on top of
// HTML::Parser, with character semantics (normalize_charset 1, the default): input is UTF-8.
//   - Tokenizing as HTML::Parser does: start and end tags with attributes (quoted or not, names
//     lowercased, values entity-decoded, a bare attribute's value is its name, the first of a
//     duplicated attribute wins), comments "<!-- … -->" and other "<!…>" / "</ …>" markup as
//     comments, <!DOCTYPE> as a declaration, <![CDATA[…]]> as text, "<?…>" dropped, a tag cut
//     by the end of input reported as a comment; script, style, xmp, iframe (raw) and title,
//     textarea (entity-decoded) content as literal text; plaintext makes the rest of the input
//     text.
//   - Entities: the HTML 4 set plus &apos;, with or without ';' (longest known prefix when
//     there is none), and numeric &#N; / &#xH; (0 and values above U+10FFFF kept as written,
//     surrogates become U+FFFD).
//   - Before parsing, "&nbsp;" becomes a space, "<tag/>" and "<tag />" become "<tag>", and
//     U+201C / U+201D become '"' (as SpamAssassin does).
//   - Rendering: text chunks with runs of ASCII blanks collapsed to one space; br and div add
//     "\n", li/th/td/dt/dd/embed/h1-h6 add " ", p/hr/blockquote/pre/listing/plaintext/xmp/title
//     add "\n\n"; script and style text is dropped (script text kept in `scripts`); image alt text
//     is not rendered (SpamAssassin ignores it). A text chunk is invisible when its colour is
//     (nearly) its background, a colour is invalid, the font size is <= 1, or display:none /
//     visibility:hidden, following SpamAssassin's text-style stack (body, font, table, tr, th,
//     td, big, small, basefont, marquee, span, p, div, a). `text` holds all chunks (what body
//     rules match), `visible_text` and `invisible_text` the two subsets.
//   - URIs from href/src/action/background attributes and meta refresh, as raw strings (blanks
//     trimmed, cut at 8192 bytes); `base_href` lets the URI component resolve relative ones.
//
// Also: the text events HTML::Parser delivers are reproduced where SA's chunk-based rendering
// depends on them (a '<' that starts no markup starts a new event; the text at the end of the
// input is split where its last run of blanks starts).
//
// Malformed input never fails: every byte string renders to something, in time linear in the
// input. Unlike SA, the text-style stack is capped at kMaxStyleDepth entries (deeper tags of
// that kind are counted but do not change the style).
//
// Measured: on 401 text/html parts of the SpamAssassin public corpus, text, visible and
// invisible text, comments, titles, anchors, scripts, tag balance, image area, sizes and the
// font_* flags agree with SA 4.0.1 on all parts; backhair_count on 400 of 401.
//
// Thread-safety: RenderHtml is a pure, reentrant function.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsift::mime {

inline constexpr size_t kMaxStyleDepth = 1024;
inline constexpr size_t kMaxUriLength = 8192;  // SpamAssassin's MAX_URI_LENGTH

struct HtmlUri {
  std::string uri;  // raw attribute value (entity-decoded, blanks trimmed)
  std::string tag;  // the tag it came from: a, area, link, img, frame, iframe, embed, script,
                    // bgsound, form, base, meta, body, table, tr, td
};

// The facts SpamAssassin's HTML.pm puts in html_results, under the same names.
struct HtmlResult {
  std::string text;            // rendered text, visible and invisible chunks (body rules)
  std::string visible_text;    // visible chunks only
  std::string invisible_text;  // invisible chunks only

  // Tag balance: for each tag name seen, start tags minus end tags, floored at 0 (SA "inside").
  // A tag that was seen has an entry, even at 0; "!doctype" is present after a DOCTYPE.
  std::map<std::string, int> inside;
  std::map<std::string, int> start_tag_count;  // start tags per name (not in SA; convenience)
  size_t tags = 0, elements = 0, tags_seen = 0, elements_seen = 0, closed_extra = 0;
  size_t obfuscation = 0;
  size_t backhair_count = 0;  // distinct "start_length" pairs of words split across chunks
  std::optional<double> closed_extra_ratio, bad_tag_ratio, non_element_ratio, obfuscation_ratio;

  size_t length = 0;                     // input length in characters (UTF-8 code points)
  size_t html_length = 0;                // length of `text` in characters
  size_t non_space_len = 0;              // html_length minus ASCII blanks (space, \t, \n, \r, \v)
  double image_area = 0;                 // sum of width*height of <img> with both attributes
  size_t image_count = 0;                // <img> start tags
  long long min_size = 3, max_size = 3;  // font sizes met (SA's size bookkeeping)

  bool font_low_contrast = false;
  bool font_invalid_color = false;
  bool font_face_bad = false;
  bool form_action_mailto = false;
  bool embeds = false;  // <object> or <embed>
  bool has_form = false;
  bool closed_html = false, closed_body = false;
  bool uri_truncated = false;

  std::vector<std::string> comments;      // full comment markup, "<!-- … -->" included
  std::vector<std::string> scripts;       // text inside <script>
  std::vector<std::string> titles;        // text of each <title>
  std::vector<std::string> anchors;       // text of each <a>, "<img>\n" for images inside
  std::vector<std::string> anchor_hrefs;  // href of each <a> (same order), "" when none
  std::vector<HtmlUri> uris;              // in document order, duplicates kept
  std::string base_href;                  // from <base href>, as SA derives it; empty if none
  std::string charsets;  // charsets of <meta http-equiv=Content-Type>, blank-separated
};

// Renders `html` (UTF-8; invalid bytes are passed through) the way SpamAssassin does.
HtmlResult RenderHtml(std::string_view html);

// SpamAssassin's colour normalisation: a colour name or value to "#rrggbb", or "invalid".
// Exposed for tests.
std::string HtmlColorToRgb(std::string_view color);

}  // namespace mailsift::mime
