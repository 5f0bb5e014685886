// rules/eval/image_info.h — SpamAssassin 4.0.1's ImageInfo plugin (Plugin/ImageInfo.pm): the
// image facts of a message and the readers of image sizes.
//
// Evals (table ImageInfoEvals, eval_registry.h): image_count, pixel_coverage,
// image_to_text_ratio, image_size_exact, image_size_range, image_named (image_name_regex is not
// implemented). Semantics follow the Perl, quirks included: only base64-encoded leaves of type
// image/gif, image/png, image/jpeg or image/jpg count, decoded with SA's base64 decoder
// (Util::base64_decode, both of its paths), their dimensions read with SA's unpack() walks (a
// PNG chunk walk that steps 8 bytes at a time, JPEG SOF markers C0-CF but C4/C8/CC, short data
// read the way Perl's unpack reads it). image_to_text_ratio divides the byte length of the text
// SA hands the eval (rendered body for `body` rules, decoded body for `rawbody`) by the pixel
// area. Nothing here throws or asserts on message content.
//
// Thread-safety: ImageFacts is immutable after construction; all functions are reentrant.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "rules/message/message_facts.h"

namespace mailsift::rules {

// ImageInfo's $pms->{imageinfo}: per type ("all", "gif", "png", "jpeg").
struct ImageFacts {
  struct PerType {
    double pixels = 0;           // pc_<type>: sum of width*height of images with both > 0
    size_t count = 0;            // count_<type>: base64 image leaves, parsed or not
    std::set<std::string> dims;  // dems_<type>: "HEIGHTxWIDTH"
  };
  std::map<std::string, PerType, std::less<>> types;  // always has the four keys
  std::set<std::string> names;  // names_all: file names of images whose size was found
};

// _get_images over SA's MIME tree.
ImageFacts ComputeImageFacts(const MessageFacts& facts);

// Util::base64_decode($raw, $limit): SA's two paths (MIME::Base64 for clean input, the
// uudecode fallback otherwise); `limit` 0 means everything.
std::string SaBase64Decode(std::string_view raw, size_t limit = 0);

// Width and height as ImageInfo's get_details reads them from decoded bytes; {0, 0} when the
// data is not such an image or the size is not found.
std::pair<double, double> GifSize(std::string_view first13);
std::pair<double, double> PngSize(std::string_view data);
std::pair<double, double> JpegSize(std::string_view data);

}  // namespace mailsift::rules
