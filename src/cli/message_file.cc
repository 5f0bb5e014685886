#include "cli/message_file.h"

#include <fstream>
#include <sstream>

namespace mailsift::cli {

bool ReadMessageFile(const std::string& file, std::string& out) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const std::streamoff size = in.tellg();
  if (size >= 0) {
    out.resize(static_cast<size_t>(size));
    in.seekg(0);
    in.read(out.data(), size);
    out.resize(static_cast<size_t>(in.gcount()));
    if (in.gcount() == size && in.peek() == std::char_traits<char>::eof()) return true;
    in.clear();
  }
  std::ostringstream buffer;  // not a regular file, or it grew: read what there is
  in.seekg(0);
  buffer << in.rdbuf();
  out = std::move(buffer).str();
  return true;
}

void AsFromSmtp(std::string& text) {
  if (text.compare(0, 5, "From ") == 0) {
    size_t nl = text.find('\n');
    text.erase(0, nl == std::string::npos ? text.size() : nl + 1);
  }
  size_t out = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    text[out++] = text[i];
  }
  text.resize(out);
}

}  // namespace mailsift::cli
