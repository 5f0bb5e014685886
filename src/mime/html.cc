// mime/html.cc — see html.h. Behaviour follows SpamAssassin 4.0 HTML.pm over HTML::Parser 3.8x.
#include "mime/html.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/strings.h"

namespace mailsift::mime {
namespace {

// ---------------------------------------------------------------------------------------------
// Character helpers (ASCII only; bytes >= 0x80 are never blanks, letters or digits here).

bool IsBlank(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(unsigned char c) { return IsAlpha(c) || IsDigit(c); }
bool IsHex(unsigned char c) { return IsDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
bool IsWordChar(unsigned char c) { return IsAlnum(c) || c == '_'; }

size_t IFind(std::string_view hay, std::string_view needle, size_t from = 0) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (size_t i = from; i + needle.size() <= hay.size(); ++i)
    if (EqualsIgnoreCase(hay.substr(i, needle.size()), needle)) return i;
  return std::string_view::npos;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// ---------------------------------------------------------------------------------------------
// Entities: HTML 4.01 (HTMLlat1, HTMLsymbol, HTMLspecial) and &apos;.

const std::unordered_map<std::string_view, uint32_t>& EntityTable() {
  static const auto* table = [] {
    auto* t = new std::unordered_map<std::string_view, uint32_t>();
    // ISO 8859-1 characters 160..255 in order.
    static constexpr std::string_view kLatin1[] = {
        "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",
        "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn",
        "sup2",   "sup3",   "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",
        "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde",
        "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave",
        "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde",
        "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",
        "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
        "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",   "eth",
        "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
        "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};
    for (size_t i = 0; i < std::size(kLatin1); ++i) (*t)[kLatin1[i]] = 160 + i;
    // Greek letters.
    static constexpr std::string_view kGreekUpper[] = {
        "Alpha", "Beta",   "Gamma",   "Delta", "Epsilon", "Zeta",    "Eta",  "Theta", "Iota",
        "Kappa", "Lambda", "Mu",      "Nu",    "Xi",      "Omicron", "Pi",   "Rho",   "",
        "Sigma", "Tau",    "Upsilon", "Phi",   "Chi",     "Psi",     "Omega"};
    static constexpr std::string_view kGreekLower[] = {
        "alpha", "beta",   "gamma",   "delta", "epsilon", "zeta",    "eta",  "theta", "iota",
        "kappa", "lambda", "mu",      "nu",    "xi",      "omicron", "pi",   "rho",   "sigmaf",
        "sigma", "tau",    "upsilon", "phi",   "chi",     "psi",     "omega"};
    for (size_t i = 0; i < std::size(kGreekUpper); ++i) {
      if (!kGreekUpper[i].empty()) (*t)[kGreekUpper[i]] = 913 + i;
      (*t)[kGreekLower[i]] = 945 + i;
    }
    static constexpr std::pair<std::string_view, uint32_t> kOther[] = {
        {"quot", 34},     {"amp", 38},      {"apos", 39},      {"lt", 60},        {"gt", 62},
        {"OElig", 338},   {"oelig", 339},   {"Scaron", 352},   {"scaron", 353},   {"Yuml", 376},
        {"fnof", 402},    {"circ", 710},    {"tilde", 732},    {"thetasym", 977}, {"upsih", 978},
        {"piv", 982},     {"ensp", 8194},   {"emsp", 8195},    {"thinsp", 8201},  {"zwnj", 8204},
        {"zwj", 8205},    {"lrm", 8206},    {"rlm", 8207},     {"ndash", 8211},   {"mdash", 8212},
        {"lsquo", 8216},  {"rsquo", 8217},  {"sbquo", 8218},   {"ldquo", 8220},   {"rdquo", 8221},
        {"bdquo", 8222},  {"dagger", 8224}, {"Dagger", 8225},  {"bull", 8226},    {"hellip", 8230},
        {"permil", 8240}, {"prime", 8242},  {"Prime", 8243},   {"lsaquo", 8249},  {"rsaquo", 8250},
        {"oline", 8254},  {"frasl", 8260},  {"euro", 8364},    {"image", 8465},   {"weierp", 8472},
        {"real", 8476},   {"trade", 8482},  {"alefsym", 8501}, {"larr", 8592},    {"uarr", 8593},
        {"rarr", 8594},   {"darr", 8595},   {"harr", 8596},    {"crarr", 8629},   {"lArr", 8656},
        {"uArr", 8657},   {"rArr", 8658},   {"dArr", 8659},    {"hArr", 8660},    {"forall", 8704},
        {"part", 8706},   {"exist", 8707},  {"empty", 8709},   {"nabla", 8711},   {"isin", 8712},
        {"notin", 8713},  {"ni", 8715},     {"prod", 8719},    {"sum", 8721},     {"minus", 8722},
        {"lowast", 8727}, {"radic", 8730},  {"prop", 8733},    {"infin", 8734},   {"ang", 8736},
        {"and", 8743},    {"or", 8744},     {"cap", 8745},     {"cup", 8746},     {"int", 8747},
        {"there4", 8756}, {"sim", 8764},    {"cong", 8773},    {"asymp", 8776},   {"ne", 8800},
        {"equiv", 8801},  {"le", 8804},     {"ge", 8805},      {"sub", 8834},     {"sup", 8835},
        {"nsub", 8836},   {"sube", 8838},   {"supe", 8839},    {"oplus", 8853},   {"otimes", 8855},
        {"perp", 8869},   {"sdot", 8901},   {"lceil", 8968},   {"rceil", 8969},   {"lfloor", 8970},
        {"rfloor", 8971}, {"lang", 9001},   {"rang", 9002},    {"loz", 9674},     {"spades", 9824},
        {"clubs", 9827},  {"hearts", 9829}, {"diams", 9830}};
    for (const auto& [name, cp] : kOther) (*t)[name] = cp;
    return t;
  }();
  return *table;
}

constexpr size_t kMaxEntityName = 8;  // longest name in the table ("thetasym")

// Decodes entities in `in`, appending to `out`.
void DecodeEntities(std::string_view in, std::string& out) {
  const auto& table = EntityTable();
  size_t i = 0;
  while (i < in.size()) {
    size_t amp = in.find('&', i);
    if (amp == std::string_view::npos) {
      out.append(in.substr(i));
      return;
    }
    out.append(in.substr(i, amp - i));
    i = amp + 1;
    if (i < in.size() && in[i] == '#') {
      size_t j = i + 1;
      bool hex = j < in.size() && (in[j] == 'x' || in[j] == 'X');
      if (hex) ++j;
      size_t start = j;
      uint64_t value = 0;
      while (j < in.size() && (hex ? IsHex(in[j]) : IsDigit(in[j]))) {
        unsigned char c = in[j];
        unsigned d = IsDigit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
        if (value <= 0x10FFFF) value = value * (hex ? 16 : 10) + d;
        ++j;
      }
      if (j > start && value != 0 && value <= 0x10FFFF) {
        if (value >= 0xD800 && value <= 0xDFFF) value = 0xFFFD;
        AppendUtf8(out, static_cast<uint32_t>(value));
        if (j < in.size() && in[j] == ';') ++j;
        i = j;
      } else {
        out += '&';
      }
      continue;
    }
    size_t j = i;
    while (j < in.size() && IsAlnum(in[j])) ++j;
    std::string_view name = in.substr(i, j - i);
    if (j < in.size() && in[j] == ';') {
      auto it = table.find(name);
      if (it != table.end()) {
        AppendUtf8(out, it->second);
        i = j + 1;
        continue;
      }
    }
    // No ';' (or unknown with ';'): the longest known prefix, as HTML::Parser does.
    bool done = false;
    for (size_t len = std::min(name.size(), kMaxEntityName); len > 0 && !done; --len) {
      if (len == name.size() && j < in.size() && in[j] == ';') continue;  // handled above
      auto it = table.find(name.substr(0, len));
      if (it != table.end()) {
        AppendUtf8(out, it->second);
        i += len;
        done = true;
      }
    }
    if (!done) out += '&';
  }
}

std::string Decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  DecodeEntities(in, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tag tables (HTML.pm).

bool InList(std::string_view tag, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), tag) != list.end();
}

bool IsElement(std::string_view t) {
  static const std::set<std::string_view> kElements = {
      "a",      "abbr",       "acronym",  "address",  "area",     "b",       "base",     "bdo",
      "big",    "blockquote", "body",     "br",       "button",   "caption", "cite",     "code",
      "col",    "colgroup",   "dd",       "del",      "dfn",      "div",     "dl",       "dt",
      "em",     "fieldset",   "form",     "h1",       "h2",       "h3",      "h4",       "h5",
      "h6",     "head",       "hr",       "html",     "i",        "img",     "input",    "ins",
      "kbd",    "label",      "legend",   "li",       "link",     "map",     "meta",     "noscript",
      "object", "ol",         "optgroup", "option",   "p",        "param",   "pre",      "q",
      "samp",   "script",     "select",   "small",    "span",     "strong",  "style",    "sub",
      "sup",    "table",      "tbody",    "td",       "textarea", "tfoot",   "th",       "thead",
      "title",  "tr",         "tt",       "ul",       "var",      "applet",  "basefont", "center",
      "dir",    "font",       "frame",    "frameset", "iframe",   "isindex", "menu",     "noframes",
      "s",      "strike",     "u",        "nobr",     "x-sigsep", "x-tab"};
  return kElements.count(t) > 0;
}

bool IsTrick(std::string_view t) {
  return InList(t, {"bgsound", "embed", "listing", "plaintext", "xmp"});
}

bool IsTextStyleTag(std::string_view t) {
  return InList(t, {"body", "font", "table", "tr", "th", "td", "big", "small", "basefont",
                    "marquee", "span", "p", "div", "a"});
}

bool IsOkAttribute(std::string_view tag, std::string_view name) {
  if (tag == "basefont" || tag == "font") return InList(name, {"color", "face", "size"});
  if (tag == "body")
    return InList(name, {"text", "bgcolor", "link", "alink", "vlink", "background"});
  if (tag == "marquee") return InList(name, {"bgcolor", "background"});
  if (tag == "table" || tag == "td" || tag == "th" || tag == "tr")
    return InList(name, {"bgcolor", "style"});
  if (tag == "span" || tag == "p" || tag == "div" || tag == "a") return name == "style";
  return false;
}

// "o:foo" / "st1:bar" (optionally ending in '/'): Office namespace tags.
bool IsMaybeNamespace(std::string_view t) {
  size_t colon = t.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view prefix = t.substr(0, colon);
  bool ok_prefix =
      prefix == "o" || (prefix.size() == 3 && prefix.substr(0, 2) == "st" && IsDigit(prefix[2]));
  if (!ok_prefix) return false;
  std::string_view rest = t.substr(colon + 1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return false;
  for (unsigned char c : rest)
    if (!IsWordChar(c) && c != '-') return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Colours.

const std::unordered_map<std::string_view, uint32_t>& ColorTable() {
  static const auto* table =
      new std::unordered_map<std::string_view, uint32_t>{{"aliceblue", 0xf0f8ff},
                                                         {"antiquewhite", 0xfaebd7},
                                                         {"aqua", 0x00ffff},
                                                         {"aquamarine", 0x7fffd4},
                                                         {"azure", 0xf0ffff},
                                                         {"beige", 0xf5f5dc},
                                                         {"bisque", 0xffe4c4},
                                                         {"black", 0x000000},
                                                         {"blanchedalmond", 0xffebcd},
                                                         {"blue", 0x0000ff},
                                                         {"blueviolet", 0x8a2be2},
                                                         {"brown", 0xa52a2a},
                                                         {"burlywood", 0xdeb887},
                                                         {"cadetblue", 0x5f9ea0},
                                                         {"chartreuse", 0x7fff00},
                                                         {"chocolate", 0xd2691e},
                                                         {"coral", 0xff7f50},
                                                         {"cornflowerblue", 0x6495ed},
                                                         {"cornsilk", 0xfff8dc},
                                                         {"crimson", 0xdc143c},
                                                         {"cyan", 0x00ffff},
                                                         {"darkblue", 0x00008b},
                                                         {"darkcyan", 0x008b8b},
                                                         {"darkgoldenrod", 0xb8860b},
                                                         {"darkgray", 0xa9a9a9},
                                                         {"darkgreen", 0x006400},
                                                         {"darkgrey", 0xa9a9a9},
                                                         {"darkkhaki", 0xbdb76b},
                                                         {"darkmagenta", 0x8b008b},
                                                         {"darkolivegreen", 0x556b2f},
                                                         {"darkorange", 0xff8c00},
                                                         {"darkorchid", 0x9932cc},
                                                         {"darkred", 0x8b0000},
                                                         {"darksalmon", 0xe9967a},
                                                         {"darkseagreen", 0x8fbc8f},
                                                         {"darkslateblue", 0x483d8b},
                                                         {"darkslategray", 0x2f4f4f},
                                                         {"darkslategrey", 0x2f4f4f},
                                                         {"darkturquoise", 0x00ced1},
                                                         {"darkviolet", 0x9400d3},
                                                         {"deeppink", 0xff1493},
                                                         {"deepskyblue", 0x00bfff},
                                                         {"dimgray", 0x696969},
                                                         {"dimgrey", 0x696969},
                                                         {"dodgerblue", 0x1e90ff},
                                                         {"firebrick", 0xb22222},
                                                         {"floralwhite", 0xfffaf0},
                                                         {"forestgreen", 0x228b22},
                                                         {"fuchsia", 0xff00ff},
                                                         {"gainsboro", 0xdcdcdc},
                                                         {"ghostwhite", 0xf8f8ff},
                                                         {"gold", 0xffd700},
                                                         {"goldenrod", 0xdaa520},
                                                         {"gray", 0x808080},
                                                         {"green", 0x008000},
                                                         {"greenyellow", 0xadff2f},
                                                         {"grey", 0x808080},
                                                         {"honeydew", 0xf0fff0},
                                                         {"hotpink", 0xff69b4},
                                                         {"indianred", 0xcd5c5c},
                                                         {"indigo", 0x4b0082},
                                                         {"ivory", 0xfffff0},
                                                         {"khaki", 0xf0e68c},
                                                         {"lavender", 0xe6e6fa},
                                                         {"lavenderblush", 0xfff0f5},
                                                         {"lawngreen", 0x7cfc00},
                                                         {"lemonchiffon", 0xfffacd},
                                                         {"lightblue", 0xadd8e6},
                                                         {"lightcoral", 0xf08080},
                                                         {"lightcyan", 0xe0ffff},
                                                         {"lightgoldenrodyellow", 0xfafad2},
                                                         {"lightgray", 0xd3d3d3},
                                                         {"lightgreen", 0x90ee90},
                                                         {"lightgrey", 0xd3d3d3},
                                                         {"lightpink", 0xffb6c1},
                                                         {"lightsalmon", 0xffa07a},
                                                         {"lightseagreen", 0x20b2aa},
                                                         {"lightskyblue", 0x87cefa},
                                                         {"lightslategray", 0x778899},
                                                         {"lightslategrey", 0x778899},
                                                         {"lightsteelblue", 0xb0c4de},
                                                         {"lightyellow", 0xffffe0},
                                                         {"lime", 0x00ff00},
                                                         {"limegreen", 0x32cd32},
                                                         {"linen", 0xfaf0e6},
                                                         {"magenta", 0xff00ff},
                                                         {"maroon", 0x800000},
                                                         {"mediumaquamarine", 0x66cdaa},
                                                         {"mediumblue", 0x0000cd},
                                                         {"mediumorchid", 0xba55d3},
                                                         {"mediumpurple", 0x9370db},
                                                         {"mediumseagreen", 0x3cb371},
                                                         {"mediumslateblue", 0x7b68ee},
                                                         {"mediumspringgreen", 0x00fa9a},
                                                         {"mediumturquoise", 0x48d1cc},
                                                         {"mediumvioletred", 0xc71585},
                                                         {"midnightblue", 0x191970},
                                                         {"mintcream", 0xf5fffa},
                                                         {"mistyrose", 0xffe4e1},
                                                         {"moccasin", 0xffe4b5},
                                                         {"navajowhite", 0xffdead},
                                                         {"navy", 0x000080},
                                                         {"oldlace", 0xfdf5e6},
                                                         {"olive", 0x808000},
                                                         {"olivedrab", 0x6b8e23},
                                                         {"orange", 0xffa500},
                                                         {"orangered", 0xff4500},
                                                         {"orchid", 0xda70d6},
                                                         {"palegoldenrod", 0xeee8aa},
                                                         {"palegreen", 0x98fb98},
                                                         {"paleturquoise", 0xafeeee},
                                                         {"palevioletred", 0xdb7093},
                                                         {"papayawhip", 0xffefd5},
                                                         {"peachpuff", 0xffdab9},
                                                         {"peru", 0xcd853f},
                                                         {"pink", 0xffc0cb},
                                                         {"plum", 0xdda0dd},
                                                         {"powderblue", 0xb0e0e6},
                                                         {"purple", 0x800080},
                                                         {"red", 0xff0000},
                                                         {"rosybrown", 0xbc8f8f},
                                                         {"royalblue", 0x4169e1},
                                                         {"saddlebrown", 0x8b4513},
                                                         {"salmon", 0xfa8072},
                                                         {"sandybrown", 0xf4a460},
                                                         {"seagreen", 0x2e8b57},
                                                         {"seashell", 0xfff5ee},
                                                         {"sienna", 0xa0522d},
                                                         {"silver", 0xc0c0c0},
                                                         {"skyblue", 0x87ceeb},
                                                         {"slateblue", 0x6a5acd},
                                                         {"slategray", 0x708090},
                                                         {"slategrey", 0x708090},
                                                         {"snow", 0xfffafa},
                                                         {"springgreen", 0x00ff7f},
                                                         {"steelblue", 0x4682b4},
                                                         {"tan", 0xd2b48c},
                                                         {"teal", 0x008080},
                                                         {"thistle", 0xd8bfd8},
                                                         {"tomato", 0xff6347},
                                                         {"turquoise", 0x40e0d0},
                                                         {"violet", 0xee82ee},
                                                         {"wheat", 0xf5deb3},
                                                         {"white", 0xffffff},
                                                         {"whitesmoke", 0xf5f5f5},
                                                         {"yellow", 0xffff00},
                                                         {"yellowgreen", 0x9acd32}};
  return *table;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Hex of a decimal number, at least two digits (SA's dec2hex).
std::string DecToHex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02llx", static_cast<unsigned long long>(v));
  return buf;
}

// Parses up to three "N" or "N%" numbers inside "rgb(…)" at `s`; returns false if the text
// does not have the form rgb(D,\s*D,\s*D\s*) (percent: all three with '%').
bool ParseRgbFunction(std::string_view s, bool percent, uint64_t out[3]) {
  size_t pos = 0;
  while ((pos = IFind(s, "rgb(", pos)) != std::string_view::npos) {
    size_t i = pos + 4;
    bool ok = true;
    for (int k = 0; k < 3 && ok; ++k) {
      if (k > 0) {
        if (i >= s.size() || s[i] != ',') {
          ok = false;
          break;
        }
        ++i;
        while (i < s.size() && IsBlank(s[i])) ++i;
      }
      size_t start = i;
      uint64_t v = 0;
      while (i < s.size() && IsDigit(s[i])) {
        if (v < 1000000000) v = v * 10 + (s[i] - '0');
        ++i;
      }
      if (i == start) {
        ok = false;
        break;
      }
      if (percent) {
        if (i >= s.size() || s[i] != '%') {
          ok = false;
          break;
        }
        ++i;
      }
      out[k] = v;
    }
    if (ok) {
      while (i < s.size() && IsBlank(s[i])) ++i;
      if (i < s.size() && s[i] == ')') return true;
    }
    pos += 4;
  }
  return false;
}

}  // namespace

std::string HtmlColorToRgb(std::string_view raw) {
  std::string color = ToLowerAscii(Trim(raw));
  const auto& table = ColorTable();
  if (auto it = table.find(color); it != table.end()) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%06x", it->second);
    return buf;
  }
  bool plain =
      std::all_of(color.begin(), color.end(), [](unsigned char c) { return c == '#' || IsHex(c); });
  bool rgb_like = false;
  for (size_t p = 0; !plain && (p = color.find("rgb(", p)) != std::string::npos; p += 4) {
    size_t q = p + 4;
    while (q < color.size() &&
           (IsDigit(color[q]) || color[q] == '%' || color[q] == ',' || color[q] == ' '))
      ++q;
    if (q < color.size() && color[q] == ')') rgb_like = true;
  }
  if (!plain && !rgb_like) return "invalid";
  uint64_t v[3];
  if (ParseRgbFunction(color, true, v)) {
    color = "#";
    for (uint64_t x : v) color += DecToHex(static_cast<uint64_t>(x / 100.0 * 255));
  }
  if (ParseRgbFunction(color, false, v)) {
    color = "#";
    for (uint64_t x : v) color += DecToHex(x);
  }
  if (color.empty() || color[0] != '#') return "invalid";
  std::string hex;
  for (char c : color)
    if (IsHex(c)) hex += c;
  if (hex.size() > 6) hex.resize(6);
  if (hex.size() > 3 && hex.size() < 6) hex.resize(3);
  if (hex.size() % 3) hex.append(3 - hex.size() % 3, '0');
  if (hex.size() == 3) hex = {hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]};
  return "#" + hex;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The renderer: SA's handlers over a tokenizer that mimics HTML::Parser.

struct Style {
  std::string tag;
  std::string fgcolor = "#000000";
  std::string bgcolor = "#ffffff";
  long long size = 3;
  std::string display;     // style_display
  std::string visibility;  // style_visibility
};

struct Chunk {
  std::string text;
  bool whitespace = false;
  bool invisible = false;
};

using Attrs = std::vector<std::pair<std::string, std::string>>;

const std::string* FindAttr(const Attrs& attrs, std::string_view name) {
  for (const auto& [k, v] : attrs)
    if (k == name) return &v;
  return nullptr;
}

// Perl's "$" matches at the end or before a final newline.
std::string_view ChompOne(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}

// /^(\d+)(\%)?$/ → value and whether '%' was present.
bool ParseDimension(std::string_view s, double& value, bool& percent) {
  s = ChompOne(s);
  percent = !s.empty() && s.back() == '%';
  if (percent) s.remove_suffix(1);
  if (s.empty()) return false;
  value = 0;
  for (unsigned char c : s) {
    if (!IsDigit(c)) return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

// Leading optional-sign integer after blanks: /^\s*([+-]?\d+)/ style helpers.
bool LeadingInt(std::string_view s, bool allow_sign, long long& out) {
  size_t i = 0;
  while (i < s.size() && IsBlank(s[i])) ++i;
  bool neg = false;
  if (allow_sign) {
    if (i >= s.size() || (s[i] != '+' && s[i] != '-')) return false;
    neg = s[i] == '-';
    ++i;
  }
  size_t start = i;
  long long v = 0;
  while (i < s.size() && IsDigit(s[i])) {
    if (v < 1000000000000LL) v = v * 10 + (s[i] - '0');
    ++i;
  }
  if (i == start) return false;
  out = neg ? -v : v;
  return true;
}

// SA's check of a <font face=…> value:
// ^\s*["'.]?[a-z ][a-z -]*[a-z]\d?["']?(?:,\s*["']?[a-z][a-z -]*[a-z]\d?["']?)*;?$ (/i)
bool FontFaceOk(std::string_view s) {
  s = ChompOne(s);
  size_t i = 0;
  while (i < s.size() && IsBlank(s[i])) ++i;
  auto is_name_char = [](unsigned char c) { return IsAlpha(c) || c == ' ' || c == '-'; };
  bool first = true;
  while (true) {
    if (first) {
      if (i < s.size() && (s[i] == '"' || s[i] == '\'' || s[i] == '.')) ++i;
      if (i >= s.size() || !(IsAlpha(s[i]) || s[i] == ' ')) return false;
    } else {
      if (i < s.size() && (s[i] == '"' || s[i] == '\'')) ++i;
      if (i >= s.size() || !IsAlpha(s[i])) return false;
    }
    size_t start = i++;
    while (i < s.size() && is_name_char(s[i])) ++i;
    if (i - start < 2 || !IsAlpha(s[i - 1])) return false;
    if (i < s.size() && IsDigit(s[i])) ++i;
    if (i < s.size() && (s[i] == '"' || s[i] == '\'')) ++i;
    first = false;
    if (i < s.size() && s[i] == ',') {
      ++i;
      while (i < s.size() && IsBlank(s[i])) ++i;
      continue;
    }
    if (i < s.size() && s[i] == ';') ++i;
    return i == s.size();
  }
}

// "[\s\xA0]" trimming of URIs (U+00A0 as UTF-8 too).
std::string_view TrimUri(std::string_view s) {
  for (bool changed = true; changed;) {
    changed = false;
    if (!s.empty() && (IsBlank(s.front()) || static_cast<unsigned char>(s.front()) == 0xA0)) {
      s.remove_prefix(1);
      changed = true;
    } else if (s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0xC2 &&
               static_cast<unsigned char>(s[1]) == 0xA0) {
      s.remove_prefix(2);
      changed = true;
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    if (!s.empty() && (IsBlank(s.back()) || static_cast<unsigned char>(s.back()) == 0xA0)) {
      s.remove_suffix(1);
      if (!s.empty() && static_cast<unsigned char>(s.back()) == 0xC2) s.remove_suffix(1);
      changed = true;
    }
  }
  return s;
}

// Perl's "[\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]" (blank or ASCII punctuation).
bool IsPunctOrBlank(unsigned char c) {
  return IsBlank(c) || (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
         (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

// Decodes one UTF-8 sequence at s[i] (advancing i); invalid bytes decode as themselves.
uint32_t NextCodePoint(std::string_view s, size_t& i) {
  unsigned char c = s[i++];
  int extra = c >= 0xF0 && c < 0xF8 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  if (c >= 0xF8) extra = 0;
  uint32_t cp = extra == 3 ? c & 0x07 : extra == 2 ? c & 0x0F : extra == 1 ? c & 0x1F : c;
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return c;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

std::vector<uint32_t> FirstCodePoints(std::string_view s, size_t n) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size() && out.size() < n;) out.push_back(NextCodePoint(s, i));
  return out;
}

std::vector<uint32_t> LastCodePoints(std::string_view s, size_t n) {
  size_t i = s.size();
  size_t count = 0;
  while (i > 0 && count < n) {
    --i;
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++count;
  }
  return FirstCodePoints(s.substr(i), n);
}

bool IsUnicodeSpace(uint32_t c) {
  return IsBlank(c < 0x80 ? static_cast<unsigned char>(c) : 0) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Perl's [\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e] on characters.
bool IsPunctOrSpace(uint32_t c) {
  return IsUnicodeSpace(c) || (c < 0x80 && IsPunctOrBlank(static_cast<unsigned char>(c)));
}

// An approximation of Perl's Unicode \w: ASCII word characters, and non-ASCII characters
// other than Latin-1 symbols, general punctuation, CJK punctuation and U+FFFD.
bool IsPerlWord(uint32_t c) {
  if (c < 0x80) return IsWordChar(static_cast<unsigned char>(c));
  if (c < 0xC0) return c == 0xAA || c == 0xB5 || c == 0xBA;
  if (c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2000 && c <= 0x206F) return false;
  if (c >= 0x3000 && c <= 0x303F) return false;
  if (c >= 0xFFF0) return false;
  return true;
}

class Renderer {
 public:
  explicit Renderer(HtmlResult& r) : r_(r) {
    Style def;
    def.tag = "default";
    styles_.push_back(def);
  }

  void Tag(const std::string& tag, Attrs& attrs, int num);
  void Text(std::string_view text);
  void Comment(std::string_view text) { r_.comments.emplace_back(text); }
  void Declaration(std::string_view text) {
    if (text.size() >= 9 && EqualsIgnoreCase(text.substr(0, 9), "<!doctype")) {
      r_.elements++;
      r_.tags++;
      r_.inside["!doctype"] = 0;
    }
  }
  bool Inside(const char* tag) const {
    auto it = r_.inside.find(tag);
    return it != r_.inside.end() && it->second > 0;
  }
  void Finish();

 private:
  void TextStyle(std::string tag, const Attrs& attrs, int num);
  void Whitespace(std::string_view tag);
  void Uri(const std::string& tag, const Attrs& attrs);
  void Tests(const std::string& tag, const Attrs& attrs);
  void PushUri(const std::string& tag, std::string_view uri);
  bool FontInvisible();
  void Display(std::string text, bool whitespace, bool invisible);
  void CloseTableTag(const std::string& tag);
  void CloseTag(const std::string& tag);
  bool InStack(const std::string& tag) const {
    auto it = stack_count_.find(tag);
    return it != stack_count_.end() && it->second > 0;
  }
  void Push(Style s) {
    stack_count_[s.tag]++;
    styles_.push_back(std::move(s));
  }
  void Pop() {
    stack_count_[styles_.back().tag]--;
    styles_.pop_back();
  }

  HtmlResult& r_;
  std::vector<Style> styles_;
  std::unordered_map<std::string, int> stack_count_;  // tags on styles_, for O(1) lookups
  std::vector<Chunk> chunks_;
  long long basefont_ = 3;
  int title_index_ = -1;
  std::set<std::string> backhair_;
};

void Renderer::Tag(const std::string& tag, Attrs& attrs, int num) {
  bool maybe_ns = IsMaybeNamespace(tag);
  bool element = IsElement(tag);
  bool seen = r_.inside.count(tag) > 0;
  if (element || maybe_ns) {
    r_.elements++;
    if (!seen) r_.elements_seen++;
  }
  r_.tags++;
  if (!seen) r_.tags_seen++;
  int& in = r_.inside[tag];
  in += num;
  if (in < 0) {
    in = 0;
    r_.closed_extra++;
  }
  if (num == 1) r_.start_tag_count[tag]++;
  if (maybe_ns) return;
  if (!element && !IsTrick(tag)) return;
  if (IsTextStyleTag(tag)) TextStyle(tag, attrs, num);
  Whitespace(tag);
  if (num == 1) {
    Uri(tag, attrs);
    Tests(tag, attrs);
  } else {
    if (tag == "html") r_.closed_html = true;
    if (tag == "body") r_.closed_body = true;
  }
}

void Renderer::Whitespace(std::string_view tag) {
  if (tag == "br" || tag == "div") {
    Display("\n", true, false);
  } else if (InList(tag,
                    {"li", "th", "td", "dt", "dd", "embed", "h1", "h2", "h3", "h4", "h5", "h6"})) {
    Display(" ", true, false);
  } else if (InList(tag,
                    {"p", "hr", "blockquote", "pre", "listing", "plaintext", "xmp", "title"})) {
    Display("\n\n", true, false);
  }
}

void Renderer::CloseTableTag(const std::string& tag) {
  if (!InStack(tag)) return;
  while (styles_.size() > 1) {
    const std::string& top = styles_.back().tag;
    bool pop = (tag == "td" && (top == "font" || top == "td")) ||
               (tag == "tr" && (top == "font" || top == "td" || top == "tr"));
    if (!pop) break;
    Pop();
  }
}

void Renderer::CloseTag(const std::string& tag) {
  if (!InStack(tag)) return;
  while (styles_.size() > 1) {
    bool match = styles_.back().tag == tag;
    Pop();
    if (match) break;
  }
}

void Renderer::TextStyle(std::string tag, const Attrs& attrs, int num) {
  if (tag == "th") tag = "td";
  if (num != 1) {
    if (tag != "body") CloseTag(tag);
    return;
  }
  if (tag == "basefont") {
    if (const std::string* size = FindAttr(attrs, "size")) {
      long long v;
      if (LeadingInt(*size, false, v)) {
        basefont_ = v;
        return;
      }
    }
  }
  if (tag == "td" || tag == "tr") CloseTableTag(tag);
  Style s = styles_.back();
  s.tag = tag;
  if (tag == "big" || tag == "small") {
    s.size += tag == "big" ? 1 : -1;
  } else {
    for (const auto& [name, value] : attrs) {
      if (!IsOkAttribute(tag, name)) continue;
      if (name == "text" || name == "color") {
        s.fgcolor = HtmlColorToRgb(value);
      } else if (name == "size") {
        long long v;
        if (LeadingInt(value, true, v)) {
          s.size = basefont_ + v;
        } else if (LeadingInt(value, false, v)) {
          s.size = v;
        }
      } else if (name == "style") {
        size_t start = 0;
        std::string_view style = value;
        while (start <= style.size()) {
          size_t semi = style.find(';', start);
          std::string_view part = style.substr(
              start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
          start = semi == std::string_view::npos ? style.size() + 1 : semi + 1;
          std::string_view p = part;
          while (!p.empty() && IsBlank(p.front())) p.remove_prefix(1);
          bool bg_prefix = p.size() >= 11 && EqualsIgnoreCase(p.substr(0, 11), "background-");
          std::string_view after = bg_prefix ? p.substr(11) : p;
          if (after.size() >= 6 && EqualsIgnoreCase(after.substr(0, 6), "color:") &&
              !Trim(after.substr(6)).empty()) {
            std::string v = ToLowerAscii(Trim(after.substr(6)));
            // s/\s*!\s*important$//
            if (v.size() >= 9 && v.compare(v.size() - 9, 9, "important") == 0) {
              std::string_view head = std::string_view(v).substr(0, v.size() - 9);
              while (!head.empty() && IsBlank(head.back())) head.remove_suffix(1);
              if (!head.empty() && head.back() == '!') {
                head.remove_suffix(1);
                while (!head.empty() && IsBlank(head.back())) head.remove_suffix(1);
                v = std::string(head);
              }
            }
            std::string& target = bg_prefix ? s.bgcolor : s.fgcolor;
            if (v.find("rgb") != std::string::npos) {
              std::vector<long long> rgb;
              std::string digits;
              for (char c : v)
                if (IsDigit(c) || c == ',') digits += c;
              size_t b = 0;
              while (rgb.size() < 3 && b <= digits.size()) {
                size_t comma = digits.find(',', b);
                std::string_view item = std::string_view(digits).substr(
                    b, comma == std::string::npos ? std::string::npos : comma - b);
                long long x = 0;
                for (char c : item)
                  if (x < 100000) x = x * 10 + (c - '0');
                rgb.push_back(x);
                if (comma == std::string::npos) break;
                b = comma + 1;
              }
              while (rgb.size() < 3) rgb.push_back(0);
              char buf[16];
              std::snprintf(buf, sizeof buf, "#%02llx%02llx%02llx", std::min(rgb[0], 255LL),
                            std::min(rgb[1], 255LL), std::min(rgb[2], 255LL));
              target = buf;
            } else if (v == "inherit") {
            } else if (v == "transparent") {
              target = v;
            } else {
              target = HtmlColorToRgb(v);
            }
          } else if (p.size() >= 11 && p.substr(0, 11) == "background:" &&
                     !Trim(p.substr(11)).empty()) {
            // The last comma-separated layer; its first token that is a valid colour.
            std::string bg = ToLowerAscii(Trim(p.substr(11)));
            std::vector<std::vector<std::string>> layers;
            std::vector<std::string> tokens;
            std::string token;
            std::vector<char> stack;  // closing characters awaited
            for (char ch : bg) {
              if (stack.empty()) {
                if (ch == ' ') {
                  if (!token.empty()) tokens.push_back(token);
                  token.clear();
                } else if (ch == ',') {
                  if (!token.empty()) tokens.push_back(token);
                  token.clear();
                  layers.push_back(tokens);
                  tokens.clear();
                } else {
                  token += ch;
                  if (ch == '(') stack.push_back(')');
                  if (ch == '"' || ch == '\'') stack.push_back(ch);
                }
              } else if (stack.back() == ')') {
                token += ch;
                if (ch == ')') {
                  tokens.push_back(token);
                  token.clear();
                  stack.pop_back();
                } else if (ch == '"' || ch == '\'') {
                  stack.push_back(ch);
                }
              } else {
                token += ch;
                if (ch == stack.back()) stack.pop_back();
              }
            }
            if (!token.empty()) tokens.push_back(token);
            if (!tokens.empty()) layers.push_back(tokens);
            if (!layers.empty()) {
              for (const std::string& t : layers.back()) {
                std::string c = HtmlColorToRgb(t);
                if (c != "invalid") {
                  s.bgcolor = c;
                  break;
                }
              }
            }
          } else {
            // /^\s*([a-z_-]+)\s*:\s*(\S.*?)\s*$/i
            size_t k = 0;
            while (k < p.size() && (IsAlpha(p[k]) || p[k] == '_' || p[k] == '-')) ++k;
            std::string_view key = p.substr(0, k);
            size_t c = k;
            while (c < p.size() && IsBlank(p[c])) ++c;
            if (k > 0 && c < p.size() && p[c] == ':') {
              std::string_view val = Trim(p.substr(c + 1));
              if (!val.empty()) {
                if (key == "display") s.display = std::string(val);
                if (key == "visibility") s.visibility = std::string(val);
              }
            }
          }
        }
        if (s.bgcolor == "transparent") s.bgcolor = styles_.back().bgcolor;
        if (s.fgcolor == "transparent") s.fgcolor = s.bgcolor;
      }
      // "bgcolor" and other names: SA stores them elsewhere; no effect on the colours.
      if (s.size > r_.max_size) {
        r_.max_size = s.size;
      } else if (s.size < r_.min_size) {
        r_.min_size = s.size;
      }
    }
  }
  if (styles_.size() < kMaxStyleDepth) Push(std::move(s));
}

void Renderer::PushUri(const std::string& tag, std::string_view uri) {
  uri = TrimUri(uri);
  if (uri.size() > kMaxUriLength) {
    r_.uri_truncated = true;
    uri = uri.substr(0, kMaxUriLength);
  }
  if (uri.empty()) return;
  r_.uris.push_back({std::string(uri), tag});
}

// An attribute named "<1-8 word chars>/<suffix>" stands for `suffix` (SA's \w{1,8}\/href).
const std::string* FindAliasedAttr(const Attrs& attrs, std::string_view name) {
  for (const auto& [k, v] : attrs) {
    size_t slash = k.find('/');
    while (slash != std::string::npos) {
      size_t w = 0;
      while (w < slash && IsWordChar(k[slash - 1 - w])) ++w;
      if (w >= 1 && k.compare(slash + 1, name.size(), name) == 0) return &v;
      slash = k.find('/', slash + 1);
    }
  }
  return FindAttr(attrs, name);
}

void Renderer::Uri(const std::string& tag, const Attrs& attrs) {
  if (InList(tag, {"body", "table", "tr", "td"})) {
    if (const std::string* v = FindAttr(attrs, "background")) PushUri(tag, *v);
  } else if (InList(tag, {"a", "area", "link"})) {
    if (const std::string* v = FindAliasedAttr(attrs, "href")) {
      std::string href = *v;
      for (size_t p; (p = href.find("\xEF\xBB\xBF")) != std::string::npos;) href.erase(p, 3);
      PushUri(tag, href);
    }
    if (const std::string* v = FindAttr(attrs, "data-saferedirecturl")) PushUri(tag, *v);
  } else if (InList(tag, {"img", "frame", "iframe", "embed", "script", "bgsound"})) {
    if (const std::string* v = FindAliasedAttr(attrs, "src")) PushUri(tag, *v);
  } else if (tag == "form") {
    if (const std::string* v = FindAttr(attrs, "action")) PushUri(tag, *v);
  } else if (tag == "base") {
    const std::string* v = FindAttr(attrs, "href");
    if (v && !v->empty() && *v != "0") {
      std::string uri(TrimUri(*v));
      if (uri.size() > kMaxUriLength) uri.resize(kMaxUriLength);
      PushUri(tag, uri);
      // m@^(?:https?|ftp):/{0,2}@i, then drop a trailing "name.ext" and end with '/'.
      size_t colon = uri.find(':');
      std::string scheme = colon == std::string::npos ? "" : ToLowerAscii(uri.substr(0, colon));
      if (scheme == "http" || scheme == "https" || scheme == "ftp") {
        size_t p = colon + 1;
        for (int k = 0; k < 2 && p < uri.size() && uri[p] == '/'; ++k) ++p;
        size_t host_slash = uri.find('/', p + 1);
        if (p < uri.size() && uri[p] != '/' && host_slash != std::string::npos) {
          size_t last = uri.rfind('/');
          std::string_view seg = std::string_view(uri).substr(last + 1);
          size_t dot = seg.find('.');
          bool bad =
              seg.find('.', dot == std::string_view::npos ? 0 : dot + 1) != std::string_view::npos;
          if (dot != std::string_view::npos && !bad && dot >= 1 && seg.size() - dot - 1 >= 2 &&
              seg.size() - dot - 1 <= 4) {
            uri.resize(last + 1);
          }
        }
        if (uri.empty() || uri.back() != '/') uri += '/';
        r_.base_href = uri;
      }
    }
  } else if (tag == "meta") {
    const std::string* equiv = FindAttr(attrs, "http-equiv");
    const std::string* content = FindAttr(attrs, "content");
    if (equiv && content && IFind(*equiv, "refresh") != std::string::npos) {
      // The last "url\s*=" with a word boundary before it.
      std::string_view c = *content;
      size_t found = std::string_view::npos;
      for (size_t p = 0; (p = IFind(c, "url", p)) != std::string_view::npos; ++p) {
        if (p > 0 && IsWordChar(c[p - 1])) continue;
        size_t q = p + 3;
        while (q < c.size() && IsBlank(c[q])) ++q;
        if (q < c.size() && c[q] == '=') found = q + 1;
      }
      if (found != std::string_view::npos) {
        std::string_view u = c.substr(found);
        while (!u.empty() && IsBlank(u.front())) u.remove_prefix(1);
        size_t semi = u.find(';');
        if (semi != std::string_view::npos) {
          u = u.substr(0, semi);
          while (!u.empty() && IsBlank(u.back())) u.remove_suffix(1);
        }
        PushUri(tag, u);
      }
    }
  }
}

void Renderer::Tests(const std::string& tag, const Attrs& attrs) {
  if (tag == "font") {
    if (const std::string* face = FindAttr(attrs, "face"); face && !FontFaceOk(*face))
      r_.font_face_bad = true;
  }
  if (tag == "img") {
    r_.image_count++;
    if (Inside("a") && !r_.anchors.empty()) r_.anchors.back() += "<img>\n";
    const std::string* w = FindAttr(attrs, "width");
    const std::string* h = FindAttr(attrs, "height");
    if (w && h) {
      double width = 0, height = 0, v;
      bool pct;
      if (ParseDimension(*w, v, pct)) width = pct ? v * 8 : v;
      if (ParseDimension(*h, v, pct)) height = pct ? v * 6 : v;
      if (width <= 0) width = 200;
      if (height <= 0) height = 200;
      r_.image_area += width * height;
    }
  }
  if (tag == "form") {
    r_.has_form = true;
    if (const std::string* action = FindAttr(attrs, "action");
        action && IFind(*action, "mailto:") != std::string::npos)
      r_.form_action_mailto = true;
  }
  if (tag == "object" || tag == "embed") r_.embeds = true;
  if (tag == "a") {
    r_.anchors.emplace_back();
    // The href as PushUri records it (BOMs removed, trimmed, cut), "" when there is none.
    std::string href;
    if (const std::string* v = FindAliasedAttr(attrs, "href")) {
      href = *v;
      for (size_t p; (p = href.find("\xEF\xBB\xBF")) != std::string::npos;) href.erase(p, 3);
      href = std::string(TrimUri(href).substr(0, kMaxUriLength));
    }
    r_.anchor_hrefs.push_back(std::move(href));
  }
  if (tag == "title") {
    title_index_++;
    r_.titles.emplace_back();
  }
  if (tag == "meta") {
    const std::string* equiv = FindAttr(attrs, "http-equiv");
    const std::string* content = FindAttr(attrs, "content");
    if (equiv && content && IFind(*equiv, "content-type") != std::string::npos) {
      size_t p = IFind(*content, "charset");
      while (p != std::string::npos) {
        bool boundary = p == 0 || !IsWordChar((*content)[p - 1]);
        size_t q = p + 7;
        while (q < content->size() && IsBlank((*content)[q])) ++q;
        if (boundary && q < content->size() && (*content)[q] == '=') {
          ++q;
          while (q < content->size() && IsBlank((*content)[q])) ++q;
          if (q < content->size() && ((*content)[q] == '"' || (*content)[q] == '\'')) ++q;
          size_t e = q;
          while (e < content->size() && (*content)[e] != '"' && (*content)[e] != '\'') ++e;
          if (e > q) {
            if (!r_.charsets.empty()) r_.charsets += ' ';
            r_.charsets += content->substr(q, e - q);
            break;
          }
        }
        p = IFind(*content, "charset", p + 1);
      }
    }
  }
}

bool Renderer::FontInvisible() {
  const Style& s = styles_.back();
  auto last6 = [](const std::string& c) {
    return c.size() > 6 ? std::string_view(c).substr(c.size() - 6) : std::string_view(c);
  };
  if (last6(s.fgcolor) == last6(s.bgcolor)) {
    r_.font_low_contrast = true;
    return true;
  }
  auto parse = [](const std::string& c, int rgb[3]) {
    std::string_view v = c;
    if (!v.empty() && v[0] == '#') v.remove_prefix(1);
    if (v.size() != 6) return false;
    for (int k = 0; k < 3; ++k) {
      char lo0 = v[2 * k], lo1 = v[2 * k + 1];
      auto hv = [](char x) -> int {
        if (IsDigit(x)) return x - '0';
        if (x >= 'a' && x <= 'f') return x - 'a' + 10;
        return -1;
      };
      if (hv(lo0) < 0 || hv(lo1) < 0) return false;
      rgb[k] = hv(lo0) * 16 + hv(lo1);
    }
    return true;
  };
  int fg[3], bg[3];
  if (parse(s.fgcolor, fg) && parse(s.bgcolor, bg)) {
    double r = fg[0] - bg[0], g = fg[1] - bg[1], b = fg[2] - bg[2];
    double distance =
        std::sqrt(std::pow(0.2126 * r, 2) + std::pow(0.7152 * g, 2) + std::pow(0.0722 * b, 2));
    if (distance < 12) {
      r_.font_low_contrast = true;
      return true;
    }
  }
  if (s.fgcolor == "invalid" || s.bgcolor == "invalid") {
    r_.font_invalid_color = true;
    return true;
  }
  if (s.size <= 1) return true;
  if (EqualsIgnoreCase(s.display, "none")) return true;
  if (EqualsIgnoreCase(s.visibility, "hidden")) return true;
  return false;
}

void Renderer::Display(std::string text, bool whitespace, bool invisible) {
  if (whitespace) {
    if (!chunks_.empty() && !chunks_.back().whitespace && !chunks_.back().invisible &&
        !chunks_.back().text.empty() && chunks_.back().text.back() == ' ')
      chunks_.back().text.pop_back();
  } else {
    std::string collapsed;
    collapsed.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      if (IsBlank(text[i])) {
        collapsed += ' ';
        while (i < text.size() && IsBlank(text[i])) ++i;
      } else {
        collapsed += text[i++];
      }
    }
    text = std::move(collapsed);
    if (!chunks_.empty() && !invisible && chunks_.back().whitespace && !text.empty() &&
        text[0] == ' ')
      text.erase(0, 1);
  }
  chunks_.push_back({std::move(text), whitespace, invisible});
}

void Renderer::Text(std::string_view text) {
  if (text.empty()) return;
  if (Inside("script")) {
    r_.scripts.emplace_back(text);
    return;
  }
  if (Inside("style")) return;
  if (Inside("a") && !r_.anchors.empty()) r_.anchors.back() += text;
  if (Inside("title") && title_index_ >= 0 && static_cast<size_t>(title_index_) < r_.titles.size())
    r_.titles[title_index_] += text;
  bool has_content =
      std::any_of(text.begin(), text.end(), [](unsigned char c) { return !IsBlank(c); });
  bool invisible = has_content && FontInvisible();
  if (!chunks_.empty()) {
    // Up to 8 code points at the end of the previous chunk and at the start of this one.
    std::vector<uint32_t> tail = LastCodePoints(chunks_.back().text, 8);
    std::vector<uint32_t> head = FirstCodePoints(text, 8);
    auto np = [](uint32_t c) { return !IsPunctOrSpace(c); };
    if (!tail.empty() && !head.empty() && np(head.front()) && np(tail.back())) r_.obfuscation++;
    // prev =~ /\b([^P]{1,7})\z/ (leftmost start) and text =~ /^([^P]{1,7})\b/ (longest).
    size_t start = 0;
    for (size_t s = tail.size() > 7 ? tail.size() - 7 : 0; s < tail.size(); ++s) {
      bool all_np = std::all_of(tail.begin() + s, tail.end(), np);
      bool before = s > 0 && IsPerlWord(tail[s - 1]);
      if (all_np && before != IsPerlWord(tail[s])) {
        start = tail.size() - s;
        break;
      }
    }
    if (start > 0) {
      size_t n = 0;
      while (n < head.size() && n < 7 && np(head[n])) ++n;
      for (size_t len = n; len > 0; --len) {
        bool after = len < head.size() && IsPerlWord(head[len]);
        if (IsPerlWord(head[len - 1]) != after) {
          backhair_.insert(std::to_string(start) + "_" + std::to_string(len));
          break;
        }
      }
    }
  }
  Display(std::string(text), false, invisible);
}

void Renderer::Finish() {
  for (const Chunk& c : chunks_) {
    r_.text += c.text;
    (c.invisible ? r_.invisible_text : r_.visible_text) += c.text;
  }
  r_.html_length = Utf8Length(r_.text);
  size_t space = 0;
  for (unsigned char c : r_.text)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v') space++;
  r_.non_space_len = r_.html_length - space;
  if (!backhair_.empty()) r_.backhair_count = backhair_.size();
  if (r_.tags > 0) {
    r_.closed_extra_ratio = static_cast<double>(r_.closed_extra) / r_.tags;
    if (r_.elements > 0) r_.bad_tag_ratio = (static_cast<double>(r_.tags) - r_.elements) / r_.tags;
    if (r_.obfuscation > 0) r_.obfuscation_ratio = static_cast<double>(r_.obfuscation) / r_.tags;
  }
  if (r_.tags_seen > 0 && r_.elements_seen > 0)
    r_.non_element_ratio = (static_cast<double>(r_.tags_seen) - r_.elements_seen) / r_.tags_seen;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer.

// SA's pre-pass: "&nbsp;" → " ", <tag/> and <tag /> → <tag>, U+201C/U+201D → '"'.
std::string Prepass(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    if (in[i] == '&' && in.compare(i, 6, "&nbsp;") == 0) {
      out += ' ';
      i += 6;
    } else if (in[i] == '<' && i + 1 < in.size() && IsWordChar(in[i + 1])) {
      size_t j = i + 1;
      while (j < in.size() && IsWordChar(in[j])) ++j;
      size_t k = j;
      while (k < in.size() && IsBlank(in[k])) ++k;
      if (k + 1 < in.size() && in[k] == '/' && in[k + 1] == '>') {
        out.append(in.substr(i, j - i));
        out += '>';
        i = k + 2;
      } else {
        out.append(in.substr(i, j - i));
        i = j;
      }
    } else if (in[i] == '\xE2' && i + 2 < in.size() && in[i + 1] == '\x80' &&
               (in[i + 2] == '\x9C' || in[i + 2] == '\x9D')) {
      out += '"';
      i += 3;
    } else {
      out += in[i++];
    }
  }
  return out;
}

// Where the last run of blanks in `s` starts, or npos if there is none.
size_t LastBlankRun(std::string_view s) {
  size_t i = s.size();
  while (i > 0 && !IsBlank(s[i - 1])) --i;
  if (i == 0) return std::string_view::npos;
  while (i > 0 && IsBlank(s[i - 1])) --i;
  return i;
}

class Tokenizer {
 public:
  Tokenizer(std::string_view in, Renderer& r) : in_(in), r_(r) {}
  void Run();

 private:
  void FlushText(size_t end) {
    if (end > text_start_) r_.Text(Decode(in_.substr(text_start_, end - text_start_)));
  }
  // Parses a start tag at pos_ ('<' + letter). Returns false if it does not close.
  bool StartTag();
  // The end of a well-formed "<!DOCTYPE token…>" at `lt` (tokens are names or quoted strings),
  // or npos: HTML::Parser reports anything else as a comment.
  size_t DeclarationEnd(size_t lt) {
    size_t i = lt + 9;  // HTML::Parser reports only "<!DOCTYPE …>" of these as a declaration
    if (i > in_.size() || !EqualsIgnoreCase(in_.substr(lt + 2, 7), "doctype"))
      return std::string_view::npos;
    if (i < in_.size() && !IsBlank(in_[i]) && in_[i] != '>') return std::string_view::npos;
    while (true) {
      while (i < in_.size() && IsBlank(in_[i])) ++i;
      if (i >= in_.size()) return std::string_view::npos;
      char c = in_[i];
      if (c == '>') return i + 1;
      if (c == '"' || c == '\'') {
        bool& none = c == '"' ? no_dquote_ : no_squote_;
        size_t close = none ? std::string_view::npos : in_.find(c, i + 1);
        if (close == std::string_view::npos) {
          none = true;  // and none later either: keeps malformed input linear
          return std::string_view::npos;
        }
        i = close + 1;
      } else if (IsAlnum(c)) {
        while (i < in_.size() && !IsBlank(in_[i]) && in_[i] != '>' && in_[i] != '"' &&
               in_[i] != '\'')
          ++i;
      } else {
        return std::string_view::npos;
      }
    }
  }
  // Literal content of script/style/xmp/title/textarea up to "</tag".
  void Literal(const std::string& tag, bool decode);

  std::string_view in_;
  Renderer& r_;
  size_t pos_ = 0;
  size_t text_start_ = 0;
  bool no_comment_end_ = false;  // no "-->" after some earlier position
  bool no_dquote_ = false, no_squote_ = false;
};

bool Tokenizer::StartTag() {
  size_t i = pos_ + 1;
  size_t name_start = i;
  while (i < in_.size() && !IsBlank(in_[i]) && in_[i] != '>') ++i;
  std::string name = ToLowerAscii(in_.substr(name_start, i - name_start));
  Attrs attrs;
  while (true) {
    while (i < in_.size() && IsBlank(in_[i])) ++i;
    if (i >= in_.size()) return false;
    if (in_[i] == '>') break;
    size_t ks = i;
    ++i;  // the first character may be anything but a blank or '>' (even '=')
    while (i < in_.size() && !IsBlank(in_[i]) && in_[i] != '>' && in_[i] != '=') ++i;
    std::string key = ToLowerAscii(in_.substr(ks, i - ks));
    size_t j = i;
    while (j < in_.size() && IsBlank(in_[j])) ++j;
    std::string value;
    if (j < in_.size() && in_[j] == '=') {
      ++j;
      while (j < in_.size() && IsBlank(in_[j])) ++j;
      if (j >= in_.size()) return false;
      if (in_[j] == '"' || in_[j] == '\'') {
        size_t close = in_.find(in_[j], j + 1);
        if (close == std::string_view::npos) return false;
        value = Decode(in_.substr(j + 1, close - j - 1));
        i = close + 1;
      } else {
        size_t e = j;
        while (e < in_.size() && !IsBlank(in_[e]) && in_[e] != '>') ++e;
        value = Decode(in_.substr(j, e - j));
        i = e;
      }
    } else {
      value = key;
    }
    if (!FindAttr(attrs, key)) attrs.emplace_back(std::move(key), std::move(value));
  }
  pos_ = i + 1;
  r_.Tag(name, attrs, 1);
  if (name == "script" || name == "style" || name == "xmp" || name == "iframe") {
    Literal(name, false);
  } else if (name == "title" || name == "textarea") {
    Literal(name, true);
  } else if (name == "plaintext") {
    std::string_view rest = in_.substr(pos_);
    if (!rest.empty()) r_.Text(rest);
    pos_ = in_.size();
  }
  return true;
}

void Tokenizer::Literal(const std::string& tag, bool decode) {
  size_t p = pos_;
  while (true) {
    size_t lt = in_.find("</", p);
    if (lt == std::string_view::npos) {
      // Unclosed. SA closes script and style itself, so their content is consumed by them;
      // title and textarea content is flushed as text; HTML::Parser reports title's end.
      std::string_view rest = in_.substr(pos_);
      size_t split = tag == "title" ? LastBlankRun(rest) : std::string_view::npos;
      if (split != 0 && split != std::string_view::npos) {
        r_.Text(Decode(rest.substr(0, split)));
        r_.Text(Decode(rest.substr(split)));
      } else if (!rest.empty()) {
        r_.Text(decode ? Decode(rest) : std::string(rest));
      }
      if (tag == "script" || tag == "style" || tag == "title") {
        Attrs none;
        r_.Tag(tag, none, -1);
      }
      pos_ = in_.size();
      return;
    }
    size_t n = lt + 2;
    if (n + tag.size() <= in_.size() && EqualsIgnoreCase(in_.substr(n, tag.size()), tag)) {
      size_t after = n + tag.size();
      if (after >= in_.size() || IsBlank(in_[after]) || in_[after] == '>') {
        size_t close = in_.find('>', after);
        if (close == std::string_view::npos) {
          // No '>' anywhere after: treat like unclosed.
          std::string_view rest = in_.substr(pos_);
          if (!rest.empty()) r_.Text(decode ? Decode(rest) : std::string(rest));
          Attrs none;
          if (tag == "script" || tag == "style" || tag == "title") r_.Tag(tag, none, -1);
          pos_ = in_.size();
          return;
        }
        std::string_view body = in_.substr(pos_, lt - pos_);
        if (!body.empty()) r_.Text(decode ? Decode(body) : std::string(body));
        Attrs none;
        r_.Tag(tag, none, -1);
        pos_ = close + 1;
        return;
      }
    }
    p = lt + 2;
  }
}

void Tokenizer::Run() {
  while (pos_ < in_.size()) {
    size_t lt = in_.find('<', pos_);
    if (lt == std::string_view::npos || lt + 1 >= in_.size()) {
      // A lone '<' at the very end stays text.
      pos_ = in_.size();
      break;
    }
    pos_ = lt;
    char c = in_[lt + 1];
    if (IsAlpha(c)) {
      FlushText(lt);
      if (!StartTag()) {
        r_.Comment(in_.substr(lt));  // cut by the end of input
        pos_ = in_.size();
        text_start_ = pos_;
        return;
      }
      text_start_ = pos_;
    } else if (c == '/') {
      FlushText(lt);
      size_t close = in_.find('>', lt + 2);
      if (close == std::string_view::npos) {
        r_.Comment(in_.substr(lt));
        pos_ = text_start_ = in_.size();
        return;
      }
      if (lt + 2 < in_.size() && IsAlpha(in_[lt + 2])) {
        size_t e = lt + 2;
        while (e < close && !IsBlank(in_[e])) ++e;
        Attrs none;
        r_.Tag(ToLowerAscii(in_.substr(lt + 2, e - lt - 2)), none, -1);
      } else {
        r_.Comment(in_.substr(lt, close + 1 - lt));
      }
      pos_ = text_start_ = close + 1;
    } else if (c == '!') {
      FlushText(lt);
      if (in_.compare(lt, 4, "<!--") == 0) {
        // An unterminated comment ends at the next '>' (HTML::Parser), else at the end.
        size_t end = no_comment_end_ ? std::string_view::npos : in_.find("-->", lt + 4);
        if (end == std::string_view::npos) no_comment_end_ = true;  // none later either
        size_t stop = end + 3;
        if (end == std::string_view::npos) {
          size_t gt = in_.find('>', lt + 4);
          stop = gt == std::string_view::npos ? in_.size() : gt + 1;
        }
        r_.Comment(in_.substr(lt, stop - lt));
        pos_ = text_start_ = stop;
      } else if (in_.compare(lt, 9, "<![CDATA[") == 0) {
        size_t end = in_.find("]]>", lt + 9);
        size_t stop = end == std::string_view::npos ? in_.size() : end;
        if (stop > lt + 9) r_.Text(in_.substr(lt + 9, stop - lt - 9));
        pos_ = text_start_ = end == std::string_view::npos ? in_.size() : end + 3;
      } else {
        size_t decl_end = DeclarationEnd(lt);
        if (decl_end != std::string_view::npos) {
          r_.Declaration(in_.substr(lt, decl_end - lt));
          pos_ = text_start_ = decl_end;
        } else {
          size_t close = in_.find('>', lt + 2);
          size_t stop = close == std::string_view::npos ? in_.size() : close + 1;
          r_.Comment(in_.substr(lt, stop - lt));
          pos_ = text_start_ = stop;
        }
      }
    } else if (c == '?') {
      FlushText(lt);
      size_t close = in_.find('>', lt + 2);
      pos_ = text_start_ = close == std::string_view::npos ? in_.size() : close + 1;
    } else {
      // '<' that starts no markup is text, but HTML::Parser starts a new text event there.
      FlushText(lt);
      text_start_ = lt;
      pos_ = lt + 1;
    }
  }
  // HTML::Parser reports the text at the end of the input in two events, split where its last
  // run of blanks starts (the event boundaries matter to SA's chunk-based rendering).
  std::string_view tail = in_.substr(std::min(text_start_, in_.size()));
  size_t split = LastBlankRun(tail);
  if (split != 0 && split != std::string_view::npos) {
    r_.Text(Decode(tail.substr(0, split)));
    r_.Text(Decode(tail.substr(split)));
  } else if (!tail.empty()) {
    r_.Text(Decode(tail));
  }
  text_start_ = in_.size();
}

}  // namespace

HtmlResult RenderHtml(std::string_view html) {
  HtmlResult result;
  result.length = Utf8Length(html);
  std::string input = Prepass(html);
  Renderer renderer(result);
  Tokenizer tokenizer(input, renderer);
  tokenizer.Run();
  renderer.Finish();
  return result;
}

}  // namespace mailsift::mime
