// rules/eval/image_info_test.cc — ImageInfo's evals (a hit and a no-hit per function, plus SA's
// quirks) and its building blocks: SA's base64 decoder, the GIF/PNG/JPEG size readers.
#include "rules/eval/image_info.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/eval/eval_registry.h"
#include "rules/eval/eval_test_message.h"

namespace mailsift::rules {
namespace {

using Fixture = EvalFixture;

std::string Base64(std::string_view in, size_t line = 76) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t col = 0;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
    col += 4;
    if (col >= line) {
      out += '\n';
      col = 0;
    }
  }
  if (col > 0) out += '\n';
  return out;
}

std::string Le16(unsigned v) { return {static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }
std::string Be16(unsigned v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}; }
std::string Be32(uint32_t v) { return Be16(v >> 16) + Be16(v & 0xFFFF); }

std::string Gif(unsigned w, unsigned h) {
  return "GIF89a" + Le16(w) + Le16(h) + std::string("\x80\x00\x00", 3) +
         std::string("\x00\x00\x00\xff\xff\xff", 6) + ",\x00\x00\x00\x00" + Le16(w) + Le16(h) +
         std::string("\x00\x02\x02\x44\x01\x00;", 8);
}

std::string Png(uint32_t w, uint32_t h) {
  return std::string("\x89PNG\r\n\x1a\n", 8) + Be32(13) + "IHDR" + Be32(w) + Be32(h) +
         std::string("\x08\x02\x00\x00\x00", 5) + "CRC!" + Be32(0) + "IEND" + "CRC!";
}

std::string Jpeg(unsigned w, unsigned h) {
  std::string app0 = std::string("\xFF\xE0", 2) + Be16(16) + std::string("JFIF\0\x01\x01\0", 8) +
                     std::string("\0\x01\0\x01\0\0", 6);
  std::string sof = std::string("\xFF\xC0", 2) + Be16(17) + "\x08" + Be16(h) + Be16(w) +
                    std::string("\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 10);
  return std::string("\xFF\xD8", 2) + app0 + sof + std::string("\xFF\xD9", 2);
}

struct ImagePart {
  ImagePart(std::string t, std::string b, std::string e = "base64", std::string n = "")
      : type(std::move(t)), bytes(std::move(b)), encoding(std::move(e)), name(std::move(n)) {}
  std::string type;  // "image/gif"
  std::string bytes;
  std::string encoding;
  std::string name;
};

std::string MultipartWith(const std::vector<ImagePart>& images, std::string text = "Hello.\n") {
  std::string m =
      "From: a@example.com\nTo: b@example.com\nSubject: pictures\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"BB\"\n\n--BB\n"
      "Content-Type: text/plain\n\n" +
      text;
  for (const ImagePart& p : images) {
    m += "--BB\nContent-Type: " + p.type;
    if (!p.name.empty()) m += "; name=\"" + p.name + "\"";
    m += "\nContent-Transfer-Encoding: " + p.encoding + "\n\n";
    m += p.encoding == "base64" ? Base64(p.bytes) : p.bytes + "\n";
  }
  return m + "--BB--\n";
}

TEST(ImageInfoTest, Base64DecodeBothPaths) {
  EXPECT_EQ(SaBase64Decode("SGVs\nbG8=\n"), "Hello");
  EXPECT_EQ(SaBase64Decode("SGVsbG8=", 3), "Hel");
  // MIME::Base64 path: an inner "=" run counts as 'A'.
  EXPECT_EQ(SaBase64Decode("QQ==QUJD"), std::string("A\0\0ABC", 6));
  // uudecode path (length not a multiple of 4): junk dropped, inner '=' is 63.
  EXPECT_EQ(SaBase64Decode("QU*JD"), "ABC");
  EXPECT_EQ(SaBase64Decode("QUJDRA"), "ABCD");
  EXPECT_EQ(SaBase64Decode(""), "");
}

TEST(ImageInfoTest, ImageSizes) {
  EXPECT_EQ(GifSize(Gif(500, 400).substr(0, 13)), std::make_pair(500.0, 400.0));
  EXPECT_EQ(GifSize("GIF88a\x10\x00\x20\x00"), std::make_pair(0.0, 0.0));
  // unpack("vvCCC") on 3 bytes: the second "v" fails, so the height comes from a "C".
  EXPECT_EQ(GifSize(std::string("GIF87a\x10\x00\x20", 9)), std::make_pair(16.0, 32.0));
  EXPECT_EQ(PngSize(Png(640, 480)), std::make_pair(640.0, 480.0));
  EXPECT_EQ(PngSize("\x89PNX"), std::make_pair(0.0, 0.0));
  EXPECT_EQ(JpegSize(Jpeg(300, 200)), std::make_pair(300.0, 200.0));
  EXPECT_EQ(JpegSize(std::string("\xFF\xD8\xFF\xDA\x00\x04", 6)), std::make_pair(0.0, 0.0));
}

TEST(ImageInfoTest, ImageCount) {
  Fixture f(MultipartWith({{"image/gif", Gif(10, 10)}, {"image/jpeg", Jpeg(20, 30)}}));
  EXPECT_TRUE(f.Call("image_count", {"gif", "1", "1"}));
  EXPECT_TRUE(f.Call("image_count", {"jpeg", "1", "1"}));
  EXPECT_TRUE(f.Call("image_count", {"all", "2"}));
  EXPECT_FALSE(f.Call("image_count", {"png", "1", "1"}));
  EXPECT_FALSE(f.Call("image_count", {"gif", "2"}));
  EXPECT_FALSE(f.Call("image_count", {"bmp", "0"}));  // unknown type: undef
  EXPECT_FALSE(f.Call("image_count", {"gif"}));       // no min
}

TEST(ImageInfoTest, ImageCountNeedsBase64AndImageType) {
  Fixture f(MultipartWith({{"image/gif", Gif(10, 10), "7bit"},
                           {"application/octet-stream", Gif(10, 10)},
                           {"image/jpg", Jpeg(5, 5)},
                           {"image/png", "not a png"}}));
  EXPECT_FALSE(f.Call("image_count", {"gif", "1"}));
  EXPECT_TRUE(f.Call("image_count", {"jpeg", "1", "1"}));  // image/jpg counts as jpeg
  // A part that does not parse still counts, but has no area.
  EXPECT_TRUE(f.Call("image_count", {"png", "1", "1"}));
  EXPECT_FALSE(f.Call("pixel_coverage", {"png", "1"}));
}

TEST(ImageInfoTest, PixelCoverage) {
  Fixture f(MultipartWith({{"image/gif", Gif(500, 400)}, {"image/png", Png(100, 100)}}));
  EXPECT_TRUE(f.Call("pixel_coverage", {"gif", "180000", "475000"}));
  EXPECT_FALSE(f.Call("pixel_coverage", {"png", "180000", "475000"}));
  EXPECT_TRUE(f.Call("pixel_coverage", {"all", "210000", "210000"}));
  EXPECT_FALSE(f.Call("pixel_coverage", {"all", "62500", "200000"}));
  EXPECT_TRUE(f.Call("image_size_exact", {"gif", "400", "500"}));
  EXPECT_FALSE(f.Call("image_size_exact", {"gif", "500", "400"}));
  EXPECT_TRUE(f.Call("image_size_range", {"all", "90", "90", "110", "110"}));
  EXPECT_FALSE(f.Call("image_size_range", {"png", "101", "1"}));
}

TEST(ImageInfoTest, ImageNamed) {
  Fixture f(MultipartWith(
      {{"image/png", Png(3, 3), "base64", "x.png"}, {"image/gif", "junk", "base64", "bad.gif"}}));
  EXPECT_TRUE(f.Call("image_named", {"x.png"}));
  EXPECT_FALSE(f.Call("image_named", {"bad.gif"}));  // only images whose size was found
}

TEST(ImageInfoTest, ImageToTextRatio) {
  Fixture f(MultipartWith({{"image/gif", Gif(100, 100)}}));
  f.eval_text = {std::string(50, 'x')};  // 50 / 10000 = 0.005
  EXPECT_TRUE(f.Call("image_to_text_ratio", {"all", "0.000", "0.008"}));
  EXPECT_FALSE(f.Call("image_to_text_ratio", {"all", "0.000", "0.004"}));
  EXPECT_FALSE(f.Call("image_to_text_ratio", {"all", "0.000", "0.005"}));  // max excluded
  EXPECT_FALSE(f.Call("image_to_text_ratio", {"png", "0.000", "1"}));      // no png area
  f.eval_text.clear();
  EXPECT_FALSE(f.Call("image_to_text_ratio", {"all", "0.000", "0.008"}));  // no text
}

}  // namespace
}  // namespace mailsift::rules
