// scan/banned_check.cc — see banned_check.h.
#include "scan/banned_check.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <magic.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include "mime/header.h"
#include "mime/message.h"
#include "mime/params.h"
#include "rules/regex/pattern.h"

namespace mailsift::scan {
namespace {

// libmagic looks at this much of each part and member (its MAGIC_PARAM_BYTES_MAX is set to
// it); a member is kept whole in memory only when its type says it is to be opened.
constexpr size_t kSniffBytes = 1024 * 1024;
// Archives inside archives are opened at most this deep even when max_archive_depth is 0
// (amavisd's "no limit"): a zip that contains itself must end.
constexpr int kHardMaxLevel = 64;
// Banned leaves listed in details (amavisd's macros show two and "...").
constexpr size_t kMaxBannedDetails = 20;

// amavisd-new 2.13's $map_full_type_to_short_type_re (Amavis/Conf.pm), in order: the first
// regex matching libmagic's description gives the short types.
struct TypeRule {
  const char* regex;
  const char* flags;
  std::vector<std::string> types;
};

const std::vector<TypeRule>& TypeRules() {
  static const std::vector<TypeRule> rules = {
      {R"(^empty\z)", "", {"empty"}},
      {R"(^directory\z)", "", {"dir"}},
      {R"(^can't (stat|read)\b)", "", {"dat"}},
      {R"(^cannot open\b)", "", {"dat"}},
      {R"(^ERROR:)", "", {"dat"}},
      {R"(can't read magic file|couldn't find any magic files)", "", {"dat"}},
      {R"(^data\z)", "", {"dat"}},
      {R"(^ISO-8859.*\btext\b)", "", {"txt"}},
      {R"(^Non-ISO.*ASCII\b.*\btext\b)", "", {"txt"}},
      {R"(^Unicode\b.*\btext\b)", "i", {"txt"}},
      {R"(^UTF.* Unicode text\b)", "i", {"txt"}},
      {R"(^'diff' output text\b)", "", {"txt"}},
      {R"(^GNU message catalog\b)", "", {"mo"}},
      {R"(^PGP message [Ss]ignature\b)", "", {"pgp", "pgp.asc"}},
      {R"(^PGP message.*[Ee]ncrypted\b)", "", {"pgp", "pgp.enc"}},
      {R"(^PGP message\z)", "", {"pgp", "pgp.enc"}},
      {R"(^(?:PGP|GPG) encrypted data\b)", "", {"pgp", "pgp.enc"}},
      {R"(^PGP public key\b)", "", {"pgp", "pgp.asc"}},
      {R"(^PGP armored data( signed)? message\b)", "", {"pgp", "pgp.asc"}},
      {R"(^PGP armored\b)", "", {"pgp", "pgp.asc"}},
      {R"(^PGP\b)", "", {"pgp"}},
      {R"(^(ASCII|smtp|RFC 822) mail text\b)", "", {"txt"}},
      {R"(^JPEG image data\b)", "", {"image", "jpg"}},
      {R"(^GIF image data\b)", "", {"image", "gif"}},
      {R"(^PNG image data\b)", "", {"image", "png"}},
      {R"(^TIFF image data\b)", "", {"image", "tif"}},
      {R"(^PCX\b.*\bimage data\b)", "", {"image", "pcx"}},
      {R"(^PC bitmap data\b)", "", {"image", "bmp"}},
      {R"(^SVG Scalable Vector Graphics image\b)", "", {"image", "svg"}},
      {R"(^MP2\b)", "", {"audio", "mpa", "mp2"}},
      {R"(^MP3\b)", "", {"audio", "mpa", "mp3"}},
      {R"(\bMPEG ADTS, layer III\b)", "", {"audio", "mpa", "mp3"}},
      {R"(^ISO Media, MPEG v4 system, 3GPP\b)", "", {"audio", "mpa", "3gpp"}},
      {R"(^ISO Media, MPEG v4 system\b)", "", {"audio", "mpa", "m4a", "m4b"}},
      {R"(^FLAC audio bitstream data\b)", "", {"audio", "flac"}},
      {R"(^Ogg data, FLAC audio\b)", "", {"audio", "oga"}},
      {R"(^Ogg data\b)", "", {"audio", "ogg"}},
      {R"(^MPEG video stream data\b)", "", {"movie", "mpv"}},
      {R"(^MPEG system stream data\b)", "", {"movie", "mpg"}},
      {R"(^MPEG\b)", "", {"movie", "mpg"}},
      {R"(^Matroska data\b)", "", {"movie", "mkv"}},
      {R"(^Microsoft ASF\b)", "", {"movie", "wmv"}},
      {R"(^RIFF\b.*\bAVI\b)", "", {"movie", "avi"}},
      {R"(^RIFF\b.*\banimated cursor\b)", "", {"movie", "ani"}},
      {R"(^RIFF\b.*\bWAVE audio\b)", "", {"audio", "wav"}},
      {R"(^Macromedia Flash data\b)", "", {"swf"}},
      {R"(^HTML document text\b)", "", {"html"}},
      {R"(^XML document text\b)", "", {"xml"}},
      {R"(^exported SGML document text\b)", "", {"sgml"}},
      {R"(^PostScript document text\b)", "", {"ps"}},
      {R"(^PDF document\b)", "", {"pdf"}},
      {R"(^Rich Text Format data\b)", "", {"rtf"}},
      {R"(^Microsoft Office Document\b)", "i", {"doc"}},
      {R"(^Microsoft Word\b)", "i", {"doc"}},
      {R"(^Microsoft Installer\b)", "i", {"doc"}},
      {R"(^Composite Document File V2 Document\b)", "i", {"cdf-ms"}},
      {R"(^ms-windows meta(file|font)\b)", "i", {"wmf"}},
      {R"(^LaTeX\b.*\bdocument text\b)", "", {"lat"}},
      {R"(^TeX DVI file\b)", "", {"dvi"}},
      {R"(\bdocument text\b)", "", {"txt"}},
      {R"(^compiled Java class data\b)", "", {"java"}},
      {R"(^MS Windows 95 Internet shortcut text\b)", "", {"url"}},
      {R"(^Compressed Google KML Document\b)", "", {"kmz"}},
      {R"(^frozen\b)", "", {"F"}},
      {R"(^gzip compressed\b)", "", {"gz"}},
      {R"(^bzip compressed\b)", "", {"bz"}},
      {R"(^bzip2 compressed\b)", "", {"bz2"}},
      {R"(^xz compressed\b)", "", {"xz"}},
      {R"(^lzma compressed\b)", "", {"lzma"}},
      {R"(^lrz compressed\b)", "", {"lrz"}},
      {R"(^lzop compressed\b)", "", {"lzo"}},
      {R"(^LZ4 compressed\b)", "", {"lz4"}},
      {R"(^compress'd)", "", {"Z"}},
      {R"(^Zip archive\b)", "i", {"zip"}},
      {R"(^7-zip archive\b)", "i", {"7z"}},
      {R"(^RAR archive\b)", "i", {"rar"}},
      {R"(^LHa.*\barchive\b)", "i", {"lha"}},
      {R"(^ARC archive\b)", "i", {"arc"}},
      {R"(^ARJ archive\b)", "i", {"arj"}},
      {R"(^ACE archive\b)", "i", {"ace"}},
      {R"(^Zoo archive\b)", "i", {"zoo"}},
      {R"(^(\S+\s+)?tar archive\b)", "i", {"tar"}},
      {R"(^(\S+\s+)?cpio archive\b)", "i", {"cpio"}},
      {R"(^StuffIt Archive\b)", "i", {"sit"}},
      {R"(^Debian binary package\b)", "i", {"deb"}},
      {R"(^current ar archive\b)", "i", {"a"}},
      {R"(^RPM\b)", "", {"rpm"}},
      {R"(^(Transport Neutral Encapsulation Format|TNEF)\b)", "i", {"tnef"}},
      {R"(^Microsoft Cabinet (file|archive)\b)", "i", {"cab"}},
      {R"(^InstallShield Cabinet file\b)", "", {"installshield"}},
      {R"(^ISO 9660 CD-ROM filesystem\b)", "i", {"iso"}},
      {R"(^(uuencoded|xxencoded)\b)", "i", {"uue"}},
      {R"(^binhex\b)", "i", {"hqx"}},
      {R"(^(ASCII|text)\b)", "i", {"asc"}},
      {R"(^Emacs.*byte-compiled Lisp data)", "i", {"asc"}},
      {R"(\bscript\b.* text executable\b)", "", {"txt"}},
      {R"(^MS Windows\b.*\bDLL\b)", "", {"exe", "dll"}},
      {R"(\bexecutable for MS Windows\b.*\bDLL\b)", "", {"exe", "dll"}},
      {R"(^MS-DOS executable \(built-in\))", "", {"asc"}},
      {R"(^(MS-)?DOS executable\b.*\bDLL\b)", "", {"exe", "dll"}},
      {R"(^MS Windows\b.*\bexecutable\b)", "", {"exe", "exe-ms"}},
      {R"(\bexecutable\b.*\bfor MS Windows\b)", "", {"exe", "exe-ms"}},
      {R"(^COM executable for DOS\b)", "", {"asc"}},
      {R"(^DOS executable \(COM\))", "", {"asc"}},
      {R"(^(MS-)?DOS executable\b(?!.*\(COM\)))", "", {"exe", "exe-ms"}},
      {R"(^PA-RISC.*\bexecutable\b)", "", {"exe", "exe-unix"}},
      {R"(^ELF .*\bexecutable\b)", "", {"exe", "exe-unix"}},
      {R"(^COFF format .*\bexecutable\b)", "", {"exe", "exe-unix"}},
      {R"(^executable \(RISC System\b)", "", {"exe", "exe-unix"}},
      {R"(^VMS\b.*\bexecutable\b)", "", {"exe", "exe-vms"}},
      {R"(\bexecutable\b)", "i", {"exe"}},
      {R"(\bshared object, )", "i", {"so"}},
      {R"(\brelocatable, )", "i", {"o"}},
      {R"(\btext\b)", "i", {"asc"}},
      {R"(^Zstandard compressed\b)", "", {"zst"}},
      {R"(^)", "", {"dat"}},
  };
  return rules;
}

// How a part of a short type is opened (amavisd's @decoders, as far as libarchive reads the
// formats without external programs).
enum class Unpack {
  kNone,
  kArchive,  // members: zip, 7z, rar, tar, cpio, ar (deb), cab, lha, iso
  kStream,   // one decompressed child: gz, bz2, xz, lzma, Z, zst, lz4, rpm (→ cpio)
  kSfx,      // an executable that may be a RAR self-extracting archive (do_executable)
};

Unpack UnpackFor(const std::vector<std::string>& types) {
  static const std::string_view archives[] = {"zip", "kmz", "7z",  "rar", "tar", "cpio",
                                              "deb", "cab", "lha", "iso", "jar"};
  static const std::string_view streams[] = {"gz", "bz2", "xz", "lzma", "Z", "zst", "lz4", "rpm"};
  // amavisd's first matching decoder wins, in @decoders order; its streams come before the
  // archives, and the executable test last.
  for (const std::string& t : types) {
    if (std::find(std::begin(streams), std::end(streams), t) != std::end(streams)) {
      return Unpack::kStream;
    }
  }
  for (const std::string& t : types) {
    if (std::find(std::begin(archives), std::end(archives), t) != std::end(archives)) {
      return Unpack::kArchive;
    }
  }
  for (const std::string& t : types) {
    if (t == "exe") return Unpack::kSfx;
  }
  return Unpack::kNone;
}

// The name amavisd's do_uncompress gives the decompressed child of a part named `name` with
// short types `types` (case-sensitive suffixes, as there).
std::string UncompressedName(std::string name, const std::vector<std::string>& types) {
  auto strip = [&name](std::string_view suffix, std::string_view replacement) {
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      name.replace(name.size() - suffix.size(), suffix.size(), replacement);
      return true;
    }
    return false;
  };
  for (const std::string& t : types) {
    if (t == "F") {
      strip(".F", "");
    } else if (t == "Z") {
      strip(".Z", "") || strip(".tgz", ".tar") || strip(".tz", ".tar");
    } else if (t == "gz") {
      strip(".gz", "") || strip(".tgz", ".tar");
    } else if (t == "bz") {
      strip(".bz", "") || strip(".tbz", ".tar");
    } else if (t == "bz2") {
      strip(".bz2", "") || strip(".bz", "") || strip(".tbz2", ".tar") || strip(".tbz", ".tar");
    } else if (t == "xz") {
      strip(".xz", "") || strip(".txz", ".tar");
    } else if (t == "lzma") {
      strip(".lzma", "") || strip(".tlz", ".tar");
    } else if (t == "lrz") {
      strip(".lrz", "");
    } else if (t == "lzo") {
      strip(".lzo", "");
    } else if (t == "lz4") {
      strip(".lz4", "");
    } else if (t == "rpm") {
      strip(".rpm", ".cpio");
    } else if (t == "zst") {
      strip(".zst", "");
    }
  }
  return name;
}

// Short types that only libmagic's binary tests give (so fast mode finds them as exactly as
// one full call): a pattern that can match "." + any other type needs exact mode.
bool OnlyFromBinaryTests(std::string_view type) {
  // clang-format off
  static const std::string_view types[] = {
      "empty", "dir", "mo", "jpg", "gif", "png", "tif", "pcx", "bmp", "mp2", "mp3", "mpa",
      "audio", "3gpp", "m4a", "m4b", "flac", "oga", "ogg", "movie", "mpv", "mpg", "mkv", "wmv",
      "avi", "ani", "wav", "swf", "pdf", "cdf-ms", "wmf", "dvi", "java", "kmz", "F", "gz", "bz",
      "bz2", "xz", "lzma", "lrz", "lzo", "lz4", "Z", "zip", "7z", "rar", "lha", "arc", "arj",
      "ace", "zoo", "tar", "cpio", "sit", "deb", "a", "rpm", "tnef", "cab", "installshield",
      "iso", "dll", "exe-ms", "exe-unix", "exe-vms"};
  // clang-format on
  return std::find(std::begin(types), std::end(types), type) != std::end(types);
}

void AddUnique(std::vector<std::string>& list, std::string value) {
  if (value.empty()) return;
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

// Keeps valid UTF-8 and printable ASCII; other bytes become \x{XX} (amavisd's notation), so
// a detail never carries a control character or broken UTF-8 into a log line.
std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = 0;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4;
    bool valid = len > 0 && i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (valid && len == 3) {
      unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      valid = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 > 0x9F);
    } else if (valid && len == 4) {
      unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      valid = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 > 0x8F);
    }
    if (valid) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += fmt::format("\\x{{{:02X}}}", c);
      ++i;
    }
  }
  return out;
}

// amavisd's pretty-printing of part descriptions: runs of 6+ blanks become " ... ".
std::string CompactBlanks(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    if (j - i >= 6) {
      out += " ... ";
      i = j;
    } else if (j > i) {
      out.append(text.substr(i, j - i));
      i = j;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

std::string TabsToSpaces(std::string value) {
  std::replace_if(
      value.begin(), value.end(), [](char c) { return c == '\t' || c == '\n'; }, ' ');
  return value;
}

// One node of amavisd's parts tree (Amavis::Unpackers::Part).
struct Node {
  int parent = -1;
  std::vector<int> children;
  int number = 0;                     // P=pNNN
  std::string placement;              // L=
  std::vector<std::string> declared;  // M= (MIME parts only)
  std::vector<std::string> types;     // T= short types
  std::vector<std::string> names;     // N=
  std::string attributes;             // A= letters: U undecipherable, C crypted

  void AddAttribute(char a) {
    if (attributes.find(a) == std::string::npos) attributes.push_back(a);
  }
};

}  // namespace

// libmagic cookies loaded from one in-memory copy of the compiled database.
//
// Exact mode asks libmagic once, as File::LibMagic does for amavisd. libmagic 5.44 spends most
// of its time (~0.5 ms a part) on its text-only tests (HTML, PGP armour, scripts, source
// code…), which recompile their regexes on every call. When no pattern can match a type
// those tests give, fast mode asks without the text tests first (libmagic's binary tests run
// first anyway, so any answer but "data" is the exact one) and, for "data", asks for the
// encoding only ("ASCII text", "ISO-8859 text", …): binary types are as exact, text parts get
// "asc"/"txt" from the encoding where amavisd might have had "pgp", "svg", "url", ….
class MagicPool {
 public:
  enum class Mode { kExact, kFast };

  static Result<std::unique_ptr<MagicPool>> Load(Mode mode) {
    auto pool = std::unique_ptr<MagicPool>(new MagicPool());
    pool->mode_ = mode;
    const char* path = magic_getpath(nullptr, 0);
    std::string paths = path != nullptr ? path : "";
    size_t start = 0;
    while (start <= paths.size()) {
      size_t colon = paths.find(':', start);
      std::string item =
          paths.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      start = colon == std::string::npos ? paths.size() + 1 : colon + 1;
      if (item.empty()) continue;
      for (const std::string& file : {item + ".mgc", item}) {
        struct stat st;
        if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        std::ifstream in(file, std::ios::binary);
        std::ostringstream bytes;
        bytes << in.rdbuf();
        std::string data = bytes.str();
        // A compiled database starts with its magic number 0xF11E041C in native byte order
        // (libmagic would byte-swap a foreign one in place, which a shared buffer must not).
        uint32_t magic_number = 0;
        if (data.size() >= sizeof(magic_number)) {
          std::memcpy(&magic_number, data.data(), sizeof(magic_number));
        }
        if (magic_number != 0xF11E041Cu) continue;
        pool->buffers_.push_back(std::move(data));
        break;
      }
    }
    if (pool->buffers_.empty()) {
      return Fail(
          fmt::format("banned: no compiled libmagic database (.mgc) on libmagic's path "
                      "\"{}\"; install libmagic-mgc or set MAGIC",
                      paths));
    }
    std::optional<Cookies> probe = pool->NewCookies();
    if (!probe) return Fail("banned: libmagic refused its compiled database on \"" + paths + "\"");
    pool->free_.push_back(*probe);
    return pool;
  }

  ~MagicPool() {
    for (Cookies& c : free_) c.Close();
  }

  std::string Describe(std::string_view content) const {
    std::optional<Cookies> cookies;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        cookies = free_.back();
        free_.pop_back();
      }
    }
    if (!cookies) cookies = NewCookies();
    if (!cookies) return "";
    content = content.substr(0, std::min(content.size(), kSniffBytes));
    auto ask = [&content](magic_t cookie) {
      const char* text = magic_buffer(cookie, content.data(), content.size());
      return std::string(text != nullptr ? text : "");
    };
    std::string description;
    if (mode_ == Mode::kExact) {
      description = ask(cookies->full);
    } else {
      description = ask(cookies->binary);
      if (description == "data") description = ask(cookies->text);
    }
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(*cookies);
    return description;
  }

  Mode mode() const { return mode_; }

 private:
  struct Cookies {
    magic_t full = nullptr;    // exact mode
    magic_t binary = nullptr;  // fast mode: without the text tests
    magic_t text = nullptr;    // fast mode: the encoding only
    void Close() {
      for (magic_t c : {full, binary, text}) {
        if (c != nullptr) magic_close(c);
      }
    }
  };

  MagicPool() = default;

  std::optional<Cookies> NewCookies() const {
    Cookies c;
    bool ok;
    if (mode_ == Mode::kExact) {
      ok = (c.full = NewCookie(MAGIC_NONE)) != nullptr;
    } else {
      ok = (c.binary = NewCookie(MAGIC_NO_CHECK_TEXT)) != nullptr &&
           (c.text = NewCookie(MAGIC_NO_CHECK_SOFT)) != nullptr;
    }
    if (!ok) {
      c.Close();
      return std::nullopt;
    }
    return c;
  }

  magic_t NewCookie(int flags) const {
    magic_t cookie = magic_open(flags);
    if (cookie == nullptr) return nullptr;
    std::vector<void*> pointers;
    std::vector<size_t> sizes;
    for (const std::string& b : buffers_) {
      // libmagic reads the buffers in place (native byte order: never swapped, never
      // written); they outlive every cookie.
      pointers.push_back(const_cast<char*>(b.data()));
      sizes.push_back(b.size());
    }
    if (magic_load_buffers(cookie, pointers.data(), sizes.data(), pointers.size()) != 0) {
      magic_close(cookie);
      return nullptr;
    }
    size_t bytes_max = kSniffBytes;
    magic_setparam(cookie, MAGIC_PARAM_BYTES_MAX, &bytes_max);
    return cookie;
  }

  Mode mode_ = Mode::kExact;
  std::vector<std::string> buffers_;
  mutable std::mutex mu_;
  mutable std::vector<Cookies> free_;
};

struct BannedCheck::Impl {
  config::Banned config;
  struct BanPattern {
    std::string source;
    rules::Pattern pattern;
    std::string comment;  // (?#…) texts, joined by a blank
  };
  std::vector<BanPattern> patterns;
  std::vector<std::pair<rules::Pattern, const TypeRule*>> type_rules;
  std::unique_ptr<MagicPool> magic;
  // The libarchive filters that decompress in-process (the others would run a program).
  std::vector<int (*)(struct archive*)> filters;

  std::vector<std::string> ShortTypes(std::string_view description) const {
    for (const auto& [pattern, rule] : type_rules) {
      if (pattern.Matches(description)) return rule->types;
    }
    return {};
  }
};

namespace {

// Walks one message: builds amavisd's parts tree, opening archives within the limits.
class Walker {
 public:
  Walker(const BannedCheck::Impl& impl) : impl_(impl), config_(impl.config) {}

  void AddMessage(const mime::Message& message) {
    const auto& parts = message.parts();
    const auto& containers = message.containers();
    // Entities in pre-order: a container comes before the leaves it holds.
    struct Entity {
      bool leaf;
      size_t index;
      size_t depth;
    };
    std::vector<Entity> order;
    size_t c = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      while (c < containers.size() && containers[c].first_part <= i) {
        order.push_back({false, c, containers[c].depth});
        ++c;
      }
      order.push_back({true, i, parts[i].depth()});
    }
    for (; c < containers.size(); ++c) order.push_back({false, c, containers[c].depth});

    std::vector<int> last_container_at_depth;
    std::vector<int> leaf_nodes;
    std::vector<int> container_nodes;
    for (const Entity& e : order) {
      int parent = -1;
      if (e.depth > 0 && e.depth - 1 < last_container_at_depth.size()) {
        parent = last_container_at_depth[e.depth - 1];
      }
      int id = NewNode(parent);
      Node& node = nodes_[id];
      const mime::Headers& headers =
          e.leaf ? parts[e.index].headers() : containers[e.index].headers;
      const mime::ContentType& ct =
          e.leaf ? parts[e.index].content_type() : containers[e.index].content_type;
      node.declared.push_back(ct.MimeType());
      if (e.leaf) {
        const mime::Part& part = parts[e.index];
        // MIME::Parser's effective type, when it differs from the declared one.
        if (ct.IsMultipart() && ct.Param("boundary").empty()) {
          AddUnique(node.declared, "application/x-unparseable-multipart");
        } else if (part.transfer_encoding() == mime::TransferEncoding::kOther) {
          AddUnique(node.declared, "application/octet-stream");
        }
      }
      AddMimeNames(node, headers, ct);
      if (e.leaf) {
        if (!parts[e.index].filename().empty()) AddUnique(node.names, parts[e.index].filename());
        leaf_nodes.push_back(id);
      } else {
        container_nodes.push_back(id);
        if (last_container_at_depth.size() <= e.depth) last_container_at_depth.resize(e.depth + 1);
        last_container_at_depth[e.depth] = id;
      }
    }
    // amavisd numbers the MIME bodies first, then the containers' pseudo parts.
    for (int id : leaf_nodes) nodes_[id].number = ++next_number_;
    for (int id : container_nodes) nodes_[id].number = ++next_number_;

    // What the MIME parser could not see (mime/message.h's limits): never clean.
    const mime::ParseStats& stats = message.stats();
    const mime::Limits& limits = message.limits();
    if (stats.depth_exceeded > 0) {
      Limit(fmt::format("MIME nesting deeper than {} levels", limits.max_depth));
    }
    if (stats.parts_dropped > 0) Limit(fmt::format("More than {} MIME parts", limits.max_parts));
    if (stats.enclosed_truncated > 0) {
      Limit(
          fmt::format("Enclosed message not fully decoded (limits: {} bytes per part, {} per "
                      "message)",
                      limits.max_part_decoded_bytes, limits.max_total_decoded_bytes));
    }

    for (size_t i = 0; i < leaf_nodes.size() && !stopped_; ++i) {
      const mime::Part& part = parts[i];
      const std::string& body = part.decoded();
      if (body.empty()) {
        nodes_[leaf_nodes[i]].types = {"empty"};
        if (part.decoded_truncated()) NoteTruncated(part, limits);
        continue;
      }
      std::string description = impl_.magic->Describe(body);
      SetTypes(leaf_nodes[i], description);
      // A cut body still has its type when libmagic saw all it reads (kSniffBytes) and the
      // type is not one that is opened; otherwise what was cut may hide a banned file.
      if (part.decoded_truncated() &&
          (body.size() < kSniffBytes || UnpackFor(nodes_[leaf_nodes[i]].types) != Unpack::kNone)) {
        NoteTruncated(part, limits);
      }
      Decompose(leaf_nodes[i], body, description, 1);
    }
  }

  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<std::string>& limits() const { return limits_; }
  const std::vector<int>& encrypted() const { return encrypted_; }

 private:
  int NewNode(int parent) {
    int id = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
    nodes_[id].parent = parent;
    if (parent >= 0) {
      nodes_[parent].children.push_back(id);
      nodes_[id].placement =
          nodes_[parent].placement + "/" + std::to_string(nodes_[parent].children.size());
    } else {
      roots_.push_back(id);
      nodes_[id].placement = std::to_string(roots_.size());
    }
    return id;
  }

  // determine_file_types: the short types, and attribute C for PGP-encrypted content (which
  // amavisd then counts as encrypted; here it is only shown).
  void SetTypes(int id, std::string_view description) {
    if (description.empty()) return;  // libmagic failed: no type, as in amavisd
    nodes_[id].types = impl_.ShortTypes(description);
    const auto& t = nodes_[id].types;
    if (std::find(t.begin(), t.end(), "pgp.enc") != t.end()) nodes_[id].AddAttribute('C');
  }

  // amavisd's mime_traverse: Content-Disposition filename, then Content-Type name, each
  // decoded and as written.
  static void AddMimeNames(Node& node, const mime::Headers& headers, const mime::ContentType& ct) {
    mime::ContentDisposition disposition;
    if (const mime::HeaderField* f = headers.Get("Content-Disposition")) {
      disposition = mime::ParseContentDisposition(f->value);
    }
    using Source = std::pair<const mime::Parameters*, std::string_view>;
    for (const auto& [params, name] :
         {Source{&disposition.params, "filename"}, Source{&ct.params, "name"}}) {
      for (const mime::Parameter& p : *params) {
        if (p.name != name || p.value.empty()) continue;
        AddUnique(node.names, p.extended ? p.value : mime::DecodeEncodedWords(p.value));
        AddUnique(node.names, p.value);
        break;
      }
    }
  }

  // Notes a MIME part whose decoded body the parser cut (the first such part is named).
  void NoteTruncated(const mime::Part& part, const mime::Limits& limits) {
    if (truncated_noted_) return;
    truncated_noted_ = true;
    Limit(fmt::format("MIME part {} not fully decoded (limits: {} bytes per part, {} per message)",
                      part.path(), limits.max_part_decoded_bytes, limits.max_total_decoded_bytes));
  }

  bool OverFiles() {
    if (config_.max_archive_files > 0 &&
        files_ > static_cast<uint64_t>(config_.max_archive_files)) {
      Stop(fmt::format("Maximum number of files ({}) exceeded", config_.max_archive_files));
      return true;
    }
    return false;
  }

  // Notes a limit; files and bytes also stop the walk (amavisd's $hold), depth only stops
  // the descent where it was reached.
  void Limit(std::string text) { AddUnique(limits_, std::move(text)); }
  void Stop(std::string text) {
    Limit(std::move(text));
    stopped_ = true;
  }

  // Opens the content of node `id` (at `level`; MIME parts are level 1) when its types say so.
  void Decompose(int id, std::string_view content, std::string_view description, int level) {
    if (stopped_) return;
    Unpack how = UnpackFor(nodes_[id].types);
    if (how == Unpack::kNone) return;
    if (level >= kHardMaxLevel) {
      // Whatever max_archive_depth says (0 = none), a nesting this deep is not opened.
      Limit(fmt::format("Maximum decoding depth ({}) exceeded", kHardMaxLevel));
      return;
    }
    struct archive* a = archive_read_new();
    if (a == nullptr) return;
    switch (how) {
      case Unpack::kArchive:
        archive_read_support_format_zip(a);
        archive_read_support_format_7zip(a);
        archive_read_support_format_rar(a);
        archive_read_support_format_rar5(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_cpio(a);
        archive_read_support_format_ar(a);
        archive_read_support_format_cab(a);
        archive_read_support_format_lha(a);
        archive_read_support_format_iso9660(a);
        break;
      case Unpack::kStream:
        for (auto support : impl_.filters) support(a);
        archive_read_support_format_raw(a);
        break;
      case Unpack::kSfx:
        archive_read_support_format_rar(a);
        archive_read_support_format_rar5(a);
        break;
      case Unpack::kNone:
        break;
    }
    if (archive_read_open_memory(a, content.data(), content.size()) != ARCHIVE_OK) {
      NoteEncryptedArchive(id, a);
      archive_read_free(a);
      return;  // not an archive after all, or a corrupt one: the part stays whole
    }
    // The names a decompressed stream's child gets (do_uncompress): the name gzip stored, as
    // libmagic shows it, then the part's names without the compression suffix.
    std::vector<std::string> stream_names;
    if (how == Unpack::kStream) {
      static const rules::Pattern was = *rules::Pattern::Compile(
          R"re(^\S+\s+compressed data, was "(?<name>.+)"(\z|, from\b))re", "");
      std::vector<std::pair<std::string, std::string>> captures;
      if (was.SearchCaptures(description, &captures)) {
        for (auto& [key, value] : captures) {
          if (key == "name") AddUnique(stream_names, value);
        }
      }
      for (const std::string& n : nodes_[id].names) {
        AddUnique(stream_names, UncompressedName(n, nodes_[id].types));
      }
    }
    // Members past the depth limit are listed (their names are checked) but not read, as
    // amavisd creates them and then stops at the level.
    bool over_depth = config_.max_archive_depth > 0 && level + 1 > config_.max_archive_depth;
    struct archive_entry* entry = nullptr;
    int members = 0;
    while (!stopped_) {
      int rc = archive_read_next_header(a, &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) {  // RETRY, FAILED or FATAL: stop reading this archive
        NoteEncryptedArchive(id, a);
        break;
      }
      // Raw bytes that no decompressor took: a corrupt stream, not a child.
      if (how == Unpack::kStream && archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE) break;
      // Every entry counts against the file limit (amavisd numbers directories too).
      ++files_;
      if (OverFiles()) break;
      if (how != Unpack::kStream && archive_entry_filetype(entry) != AE_IFREG) {
        continue;  // directories, links, devices
      }
      ++members;
      int child = NewNode(id);
      nodes_[child].number = ++next_number_;
      if (how == Unpack::kStream) {
        nodes_[child].names = stream_names;
      } else {
        const char* name = archive_entry_pathname_utf8(entry);
        if (name == nullptr) name = archive_entry_pathname(entry);
        if (name != nullptr) AddUnique(nodes_[child].names, name);
      }
      if (over_depth) continue;
      if (archive_entry_is_encrypted(entry)) {
        nodes_[child].AddAttribute('U');
        nodes_[child].AddAttribute('C');
        encrypted_.push_back(child);
        continue;
      }
      ReadMember(a, child, level + 1);
    }
    archive_read_free(a);
    if (over_depth && members > 0) {
      Limit(fmt::format("Maximum decoding depth ({}) exceeded", config_.max_archive_depth));
    }
  }

  // An archive whose headers are encrypted cannot be listed: amavisd marks the part itself
  // undecipherable and crypted (do_7zip: "Can not open encrypted archive").
  void NoteEncryptedArchive(int id, struct archive* a) {
    const char* error = archive_error_string(a);
    if (error == nullptr) return;
    std::string text = error;
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (text.find("encrypt") == std::string::npos && text.find("passphrase") == std::string::npos) {
      return;
    }
    if (nodes_[id].attributes.find('C') != std::string::npos) return;
    nodes_[id].AddAttribute('U');
    nodes_[id].AddAttribute('C');
    encrypted_.push_back(id);
  }

  // Reads the current member's data into node `child`: every byte counts against the
  // expansion quota; the member is kept whole only when its type says it is to be opened.
  void ReadMember(struct archive* a, int child, int level) {
    std::string content;
    std::string description;
    bool typed = false;
    bool keep = true;
    auto type_it = [&] {
      typed = true;
      if (content.empty()) {
        nodes_[child].types = {"empty"};
        keep = false;
        return;
      }
      description = impl_.magic->Describe(content);
      SetTypes(child, description);
      keep = UnpackFor(nodes_[child].types) != Unpack::kNone;
    };
    while (true) {
      la_ssize_t n = archive_read_data(a, buffer_.data(), buffer_.size());
      if (n <= 0) break;  // the end, or a member that cannot be read (corrupt, unsupported)
      expanded_ += static_cast<uint64_t>(n);
      if (config_.max_expanded_size > 0 && expanded_ > config_.max_expanded_size) {
        Stop(fmt::format("Exceeded storage quota {} bytes", config_.max_expanded_size));
        break;
      }
      if (!typed || keep) content.append(buffer_.data(), static_cast<size_t>(n));
      if (!typed && content.size() >= kSniffBytes) type_it();
    }
    if (!typed) type_it();
    if (stopped_ || !keep) return;
    Decompose(child, content, description, level);
  }

  const BannedCheck::Impl& impl_;
  const config::Banned& config_;
  std::vector<Node> nodes_;
  std::vector<int> roots_;
  int next_number_ = 0;
  uint64_t files_ = 0;
  uint64_t expanded_ = 0;
  std::vector<std::string> limits_;  // amavisd's $hold texts, one per limit reached
  bool stopped_ = false;
  bool truncated_noted_ = false;
  std::vector<int> encrypted_;
  std::vector<char> buffer_ = std::vector<char>(64 * 1024);  // one read at a time
};

// amavisd's part description, attribute form: "P=p002,L=1/2,M=…,T=…,N=…,A=U".
std::string AttrForm(const Node& node) {
  std::vector<std::string> keys;
  keys.push_back(fmt::format("P=p{:03d}", node.number));
  keys.push_back("L=" + TabsToSpaces(node.placement));
  for (const auto& m : node.declared) keys.push_back("M=" + TabsToSpaces(m));
  for (const auto& t : node.types) keys.push_back("T=" + TabsToSpaces(t));
  for (const auto& n : node.names) keys.push_back("N=" + TabsToSpaces(n));
  for (char a : node.attributes) keys.push_back(std::string("A=") + a);
  return fmt::to_string(fmt::join(keys, ","));
}

// The traditional keys matched against the patterns: M and N values, "." + T, and
// UNDECIPHERABLE for A=U (check_for_banned_names' @descr_trad).
std::vector<std::string> TradKeys(const Node& node) {
  std::vector<std::string> keys;
  for (const auto& m : node.declared) keys.push_back(TabsToSpaces(m));
  for (const auto& t : node.types) keys.push_back("." + TabsToSpaces(t));
  for (const auto& n : node.names) keys.push_back(TabsToSpaces(n));
  if (node.attributes.find('U') != std::string::npos) keys.push_back("UNDECIPHERABLE");
  return keys;
}

std::vector<int> PathTo(const std::vector<Node>& nodes, int id) {
  std::vector<int> path;
  for (int p = id; p >= 0; p = nodes[p].parent) path.push_back(p);
  std::reverse(path.begin(), path.end());
  return path;
}

std::string PathAttrForm(const std::vector<Node>& nodes, int id) {
  std::vector<std::string> items;
  for (int p : PathTo(nodes, id)) items.push_back(AttrForm(nodes[p]));
  return Printable(CompactBlanks(fmt::to_string(fmt::join(items, " | "))));
}

}  // namespace

Result<std::unique_ptr<BannedCheck>> BannedCheck::Create(const config::Banned& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  static const rules::Pattern comment_re = *rules::Pattern::Compile(R"(\(\?#\s*)", "");
  for (size_t i = 0; i < config.patterns.size(); ++i) {
    const std::string& source = config.patterns[i];
    auto compiled = rules::Pattern::Compile(source, "i", {}, /*jit=*/true);
    if (!compiled) {
      return Fail(
          fmt::format("banned.patterns[{}] \"{}\": {}", i, source, compiled.error().message));
    }
    // amavisd's banning_rule_comment: the texts of (?# … ) groups in the matching pattern.
    std::vector<std::string> comments;
    size_t from = 0, b = 0, e = 0;
    while (from < source.size() && comment_re.Search(source, from, &b, &e)) {
      size_t close = source.find(')', e);
      if (close == std::string::npos) break;
      std::string text = source.substr(e, close - e);
      while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
      comments.push_back(text);
      from = close + 1;
    }
    impl->patterns.push_back(
        {source, std::move(*compiled), fmt::to_string(fmt::join(comments, " "))});
  }
  for (const TypeRule& rule : TypeRules()) {
    auto compiled = rules::Pattern::Compile(rule.regex, rule.flags);
    if (!compiled)
      return Fail(
          fmt::format("banned: type map regex {}: {}", rule.regex, compiled.error().message));
    impl->type_rules.emplace_back(std::move(*compiled), &rule);
  }
  // Fast mode when no pattern can match a type that libmagic's text tests may give.
  MagicPool::Mode mode = MagicPool::Mode::kFast;
  for (const TypeRule& rule : TypeRules()) {
    for (const std::string& type : rule.types) {
      if (OnlyFromBinaryTests(type)) continue;
      for (const Impl::BanPattern& p : impl->patterns) {
        if (p.pattern.Matches("." + type)) mode = MagicPool::Mode::kExact;
      }
    }
  }
  auto magic = MagicPool::Load(mode);
  if (!magic) return tl::unexpected(magic.error());
  impl->magic = std::move(*magic);
  // Decompression filters that libarchive runs in-process (ARCHIVE_WARN: an external program).
  for (auto support : {archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
                       archive_read_support_filter_compress, archive_read_support_filter_xz,
                       archive_read_support_filter_lzma, archive_read_support_filter_zstd,
                       archive_read_support_filter_lz4, archive_read_support_filter_rpm}) {
    struct archive* a = archive_read_new();
    if (a != nullptr && support(a) == ARCHIVE_OK) impl->filters.push_back(support);
    if (a != nullptr) archive_read_free(a);
  }
  std::unique_ptr<BannedCheck> check(new BannedCheck());
  check->impl_ = std::move(impl);
  return check;
}

BannedCheck::~BannedCheck() = default;

std::vector<std::string> BannedCheck::ShortTypes(std::string_view description) const {
  return impl_->ShortTypes(description);
}

bool BannedCheck::exact_libmagic() const { return impl_->magic->mode() == MagicPool::Mode::kExact; }

std::string BannedCheck::Describe(std::string_view content) const {
  return impl_->magic->Describe(content);
}

CheckResult BannedCheck::Run(const MessageInput& message) const {
  if (!impl_->config.enabled) {
    CheckResult result;
    result.check = "banned";
    result.kind = CheckKind::kBanned;
    result.skipped_reason = "disabled";
    return result;
  }
  return Inspect(message.Parsed());
}

CheckResult BannedCheck::Inspect(const mime::Message& message) const {
  CheckResult result;
  result.check = "banned";
  result.kind = CheckKind::kBanned;
  result.scanned = true;
  Walker walker(*impl_);
  walker.AddMessage(message);
  const std::vector<Node>& nodes = walker.nodes();

  // check_for_banned_names: the leaves, breadth-first, each with its ancestors' keys.
  std::string reason_short;
  std::vector<std::string> banned;
  std::deque<int> queue;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].parent < 0) queue.push_back(static_cast<int>(i));
  }
  while (!queue.empty()) {
    int id = queue.front();
    queue.pop_front();
    const Node& node = nodes[id];
    if (!node.children.empty()) {
      for (int c : node.children) queue.push_back(c);
      continue;
    }
    std::vector<std::string> keys;
    for (int p : PathTo(nodes, id)) {
      for (std::string& k : TradKeys(nodes[p])) keys.push_back(std::move(k));
    }
    const Impl::BanPattern* hit = nullptr;
    for (const Impl::BanPattern& pattern : impl_->patterns) {
      for (const std::string& key : keys) {
        if (pattern.pattern.Matches(key)) {
          hit = &pattern;
          break;
        }
      }
      if (hit != nullptr) break;
    }
    if (hit == nullptr) continue;
    if (reason_short.empty()) {
      std::string leaf = fmt::to_string(fmt::join(TradKeys(node), ","));
      reason_short = CompactBlanks(leaf);
      if (!hit->comment.empty()) reason_short = hit->comment + ":" + reason_short;
      reason_short = Printable(reason_short);
    }
    if (banned.size() < kMaxBannedDetails) banned.push_back(PathAttrForm(nodes, id));
  }

  if (!banned.empty()) {
    result.finding = Finding::kBanned;
    result.details.push_back(reason_short);
    for (std::string& b : banned) result.details.push_back(std::move(b));
    return result;
  }
  if (!walker.limits().empty()) {
    result.finding = Finding::kUnchecked;
    result.subcategory = 2;
    result.details = walker.limits();
  }
  if (!walker.encrypted().empty()) {
    if (result.finding == Finding::kNothing) {
      result.finding = Finding::kUnchecked;
      result.subcategory = 1;
    }
    for (int id : walker.encrypted()) {
      if (result.details.size() >= kMaxBannedDetails) break;
      result.details.push_back("Encrypted: " + PathAttrForm(nodes, id));
    }
  }
  return result;
}

}  // namespace mailsift::scan
