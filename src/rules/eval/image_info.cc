// rules/eval/image_info.cc — see image_info.h. Written from the behaviour of SpamAssassin
// 4.0.1's Plugin/ImageInfo.pm and Util.pm (base64_decode).
#include "rules/eval/image_info.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <vector>

#include "base/strings.h"
#include "mime/codec.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_util.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {

namespace {

// ImageInfo::result_check.
bool ResultCheck(const std::string& min, const std::string* max, std::optional<double> value,
                 bool no_max_equal = false) {
  if (!value) return false;
  if (*value < PerlNumber(min)) return false;
  if (max != nullptr && *value > PerlNumber(*max)) return false;
  // `$value == $max` with $max undef is a comparison with 0.
  if (no_max_equal && *value == (max != nullptr ? PerlNumber(*max) : 0.0)) return false;
  return true;
}

// Perl's unpack for the numeric templates C, n, N, v: an item without enough bytes left
// yields nothing and consumes nothing, so later items read the remaining bytes.
std::vector<uint32_t> Unpack(std::string_view data, std::string_view format) {
  std::vector<uint32_t> out;
  size_t pos = 0;
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(data[i])); };
  for (char f : format) {
    size_t need = f == 'C' ? 1 : (f == 'n' || f == 'v') ? 2 : 4;
    if (data.size() - pos < need) continue;
    uint32_t v = 0;
    switch (f) {
      case 'C':
        v = byte(pos);
        break;
      case 'n':
        v = byte(pos) << 8 | byte(pos + 1);
        break;
      case 'v':
        v = byte(pos) | byte(pos + 1) << 8;
        break;
      default:  // 'N'
        v = byte(pos) << 24 | byte(pos + 1) << 16 | byte(pos + 2) << 8 | byte(pos + 3);
        break;
    }
    pos += need;
    out.push_back(v);
  }
  return out;
}

std::string_view Substr(std::string_view s, size_t pos, size_t len) {
  if (pos >= s.size()) return {};
  return s.substr(pos, len);
}

std::string FormatCount(double v) {
  // Perl prints integral values below 2^53 without a fraction; image sizes always are.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Util::base64_decode

std::string SaBase64Decode(std::string_view raw, size_t limit) {
  std::string s;
  s.reserve(raw.size());
  for (char c : raw) {
    if (!IsPerlSpace(c)) s.push_back(c);
  }
  auto value = [](char c) { return mime::Base64Value(static_cast<unsigned char>(c)); };
  bool clean = s.size() >= 2 && s.size() % 4 == 0 &&
               std::all_of(s.begin(), s.end(), [&](char c) { return value(c) >= 0 || c == '='; });
  // Both paths reduce to sextets decoded as one bit stream, whole bytes only:
  //   MIME::Base64 path: a run of '=' that is not at the end stands for 'A's (value 0);
  //   uudecode path: other bytes are dropped, trailing '=' removed, and an inner '=' is
  //   translated like '/' (tr maps it past the end of the uuencode range, to 63).
  size_t end = s.size();
  std::vector<int> sextets;
  sextets.reserve(s.size());
  if (clean) {
    while (end > 0 && s[end - 1] == '=') --end;
    for (size_t i = 0; i < end; ++i) sextets.push_back(s[i] == '=' ? 0 : value(s[i]));
  } else {
    std::string kept;
    for (char c : s) {
      if (value(c) >= 0 || c == '=') kept.push_back(c);
    }
    end = kept.size();
    while (end > 0 && kept[end - 1] == '=') --end;
    for (size_t i = 0; i < end; ++i) sextets.push_back(kept[i] == '=' ? 63 : value(kept[i]));
  }
  std::string out;
  out.reserve(sextets.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (int v : sextets) {
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
      if (limit != 0 && out.size() >= limit) break;
    }
  }
  if (limit != 0 && out.size() > limit) out.resize(limit);
  return out;
}

// ---------------------------------------------------------------------------------------------
// ImageInfo

std::pair<double, double> GifSize(std::string_view first13) {
  if (first13.size() < 6 || first13.substr(0, 4) != "GIF8" ||
      (first13[4] != '7' && first13[4] != '9') || first13[5] != 'a') {
    return {0, 0};
  }
  std::vector<uint32_t> v = Unpack(first13.substr(6), "vvCCC");
  double width = v.size() > 0 ? v[0] : 0, height = v.size() > 1 ? v[1] : 0;
  if (width == 0 || height == 0) return {0, 0};
  return {width, height};
}

std::pair<double, double> PngSize(std::string_view data) {
  if (data.substr(0, 8) != std::string_view("\x89PNG\x0d\x0a\x1a\x0a", 8)) return {0, 0};
  double width = 0, height = 0;
  size_t pos = 8;
  while (pos < data.size()) {
    std::string_view chunk = Substr(data, pos, 8);
    pos += 8;
    // unpack("Na4"): with fewer than 4 bytes the length fails and "a4" takes what is left, so
    // a type exists only with 8 bytes (IEND/IHDR need all four).
    if (chunk.size() < 8) continue;
    uint32_t len = Unpack(chunk, "N")[0];
    std::string_view type = chunk.substr(4, 4);
    if (type == "IEND") break;
    if (type != "IHDR" || len != 13) continue;
    std::string_view bytes = Substr(data, pos, 17);
    bytes.remove_suffix(std::min<size_t>(4, bytes.size()));  // the CRC
    std::vector<uint32_t> v = Unpack(bytes, "NNCCCCC");
    width = v.size() > 0 ? v[0] : 0;
    height = v.size() > 1 ? v[1] : 0;
    break;
  }
  if (width == 0 || height == 0) return {0, 0};
  return {width, height};
}

std::pair<double, double> JpegSize(std::string_view data) {
  if (data.substr(0, 2) != "\xFF\xD8") return {0, 0};
  double width = 0, height = 0;
  size_t pos = 2;
  for (;;) {
    std::vector<uint32_t> v = Unpack(Substr(data, pos, 4), "CCn");
    if (v.size() < 1 || v[0] != 0xFF) break;
    if (v.size() < 2 || v[1] == 0xDA || v[1] == 0xD9) break;
    if (v.size() < 3 || v[2] < 2) break;
    uint32_t mark = v[1];
    pos += 4;
    std::string_view block = Substr(data, pos, v[2] - 2);
    if ((mark >= 0xC0 && mark <= 0xC3) || (mark >= 0xC5 && mark <= 0xC7) ||
        (mark >= 0xC9 && mark <= 0xCB) || (mark >= 0xCD && mark <= 0xCF)) {
      std::vector<uint32_t> sof =
          Unpack(block.substr(0, std::min<size_t>(6, block.size())), "CnnC");
      height = sof.size() > 1 ? sof[1] : 0;
      width = sof.size() > 2 ? sof[2] : 0;
      break;
    }
    pos += block.size();
  }
  if (width == 0 || height == 0) return {0, 0};
  return {width, height};
}

ImageFacts ComputeImageFacts(const MessageFacts& facts) {
  ImageFacts out;
  for (const char* t : {"all", "gif", "png", "jpeg"}) out.types[t];
  for (const SaMimeNode& node : facts.nodes) {
    if (!node.leaf) continue;
    // find_parts(qr@^image/(?:gif|png|jpe?g)$@, 1)
    std::string_view type = node.type;
    if (type.substr(0, 6) != "image/") continue;
    std::string sub(type.substr(6));
    if (sub == "jpg") sub = "jpeg";
    if (sub != "gif" && sub != "png" && sub != "jpeg") continue;
    const std::string* cte = node.Header("content-transfer-encoding");
    if (cte == nullptr || ToLowerAscii(*cte) != "base64") continue;
    std::string raw;
    for (const std::string& line : node.raw_lines) raw += line;
    std::pair<double, double> size;
    if (sub == "gif") {
      size = GifSize(SaBase64Decode(raw, 13));
    } else if (sub == "png") {
      size = PngSize(SaBase64Decode(raw));
    } else {
      size = JpegSize(SaBase64Decode(raw));
    }
    ImageFacts::PerType& per = out.types[sub];
    per.count++;
    if (size.first > 0 && size.second > 0) {
      per.pixels += size.first * size.second;
      per.dims.insert(FormatCount(size.second) + "x" + FormatCount(size.first));
      if (!node.name.empty() && node.name != "0") out.names.insert(node.name);
    }
  }
  ImageFacts::PerType& all = out.types["all"];
  for (const char* t : {"gif", "png", "jpeg"}) {
    const ImageFacts::PerType& per = out.types[t];
    all.pixels += per.pixels;
    all.count += per.count;
    all.dims.insert(per.dims.begin(), per.dims.end());
  }
  return out;
}

namespace {

// Runs `fn` with the message's ImageFacts (cached by the caller or computed now).
template <typename Fn>
bool WithImages(EvalInput& in, Fn fn) {
  return fn(in.images());
}

const ImageFacts::PerType* ImageType(const ImageFacts& images, const std::string* type) {
  if (type == nullptr) return nullptr;
  auto it = images.types.find(*type);
  return it == images.types.end() ? nullptr : &it->second;
}

bool ImageCount(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = ArgOrNull(args, 0);
  const std::string* min = ArgOrNull(args, 1);
  if (min == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    return ResultCheck(*min, ArgOrNull(args, 2),
                       per ? std::optional<double>(static_cast<double>(per->count)) : std::nullopt);
  });
}

bool PixelCoverage(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = ArgOrNull(args, 0);
  const std::string* min = ArgOrNull(args, 1);
  if (type == nullptr || min == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    return ResultCheck(*min, ArgOrNull(args, 2),
                       per ? std::optional<double>(per->pixels) : std::nullopt);
  });
}

bool ImageToTextRatio(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = ArgOrNull(args, 0);
  const std::string* min = ArgOrNull(args, 1);
  const std::string* max = ArgOrNull(args, 2);
  if (type == nullptr || min == nullptr || max == nullptr) return false;
  size_t textlen = 0;
  for (const std::string& s : in.eval_text()) textlen += s.size();
  if (textlen == 0) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    if (per == nullptr || !(per->pixels > 0)) return false;
    return ResultCheck(*min, max, static_cast<double>(textlen) / per->pixels, true);
  });
}

bool ImageSizeExact(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = ArgOrNull(args, 0);
  const std::string* height = ArgOrNull(args, 1);
  const std::string* width = ArgOrNull(args, 2);
  if (type == nullptr || height == nullptr || width == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    return per != nullptr && per->dims.count(*height + "x" + *width) > 0;
  });
}

bool ImageSizeRange(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* type = ArgOrNull(args, 0);
  const std::string* minh = ArgOrNull(args, 1);
  const std::string* minw = ArgOrNull(args, 2);
  const std::string* maxh = ArgOrNull(args, 3);
  const std::string* maxw = ArgOrNull(args, 4);
  if (type == nullptr || minh == nullptr || minw == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) {
    const ImageFacts::PerType* per = ImageType(images, type);
    if (per == nullptr) return false;
    for (const std::string& dem : per->dims) {
      size_t x = dem.find('x');
      double h = PerlNumber(dem.substr(0, x)), w = PerlNumber(dem.substr(x + 1));
      if (h < PerlNumber(*minh) || w < PerlNumber(*minw)) continue;
      if (maxh != nullptr && h > PerlNumber(*maxh)) continue;
      if (maxw != nullptr && w > PerlNumber(*maxw)) continue;
      return true;
    }
    return false;
  });
}

bool ImageNamed(EvalInput& in, const std::vector<std::string>& args) {
  const std::string* name = ArgOrNull(args, 0);
  if (name == nullptr) return false;
  return WithImages(in, [&](const ImageFacts& images) { return images.names.count(*name) > 0; });
}

constexpr EvalEntry kEvals[] = {
    {"image_count", &ImageCount},
    {"pixel_coverage", &PixelCoverage},
    {"image_to_text_ratio", &ImageToTextRatio},
    {"image_size_exact", &ImageSizeExact},
    {"image_size_range", &ImageSizeRange},
    {"image_named", &ImageNamed},
};

}  // namespace

EvalTable ImageInfoEvals() { return kEvals; }

}  // namespace mailsift::rules
