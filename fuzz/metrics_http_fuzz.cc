// libFuzzer target: the supervisor's HTTP request parsing for the metrics listener
// (supervisor/metrics.h), the one parser of peer bytes that runs in the root supervisor. For
// any bytes received:
//   - RequestHeadComplete is true exactly when they hold an empty line (CRLF CRLF or LF LF) or
//     are longer than kMaxRequestHead;
//   - AnswerMetricsRequest never crashes and gives one whole HTTP/1.0 response: a status of 200,
//     400, 404 or 405, a Content-Length, Connection: close, and the head's end; the body is
//     the metrics text only for a 200 to a GET, empty for a HEAD;
//   - the metrics text is rendered only for a 200, and at most once.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "supervisor/metrics.h"

namespace supervisor = mailsift::supervisor;

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view received(reinterpret_cast<const char*>(data), size);
  bool has_end = received.find("\r\n\r\n") != std::string_view::npos ||
                 received.find("\n\n") != std::string_view::npos;
  Require(supervisor::RequestHeadComplete(received) ==
          (has_end || size > supervisor::kMaxRequestHead));

  const std::string metrics = "mailsift_up 1\n";
  int rendered = 0;
  std::string answer = supervisor::AnswerMetricsRequest(received, [&] {
    ++rendered;
    return metrics;
  });
  Require(answer.starts_with("HTTP/1.0 "));
  size_t head_end = answer.find("\r\n\r\n");
  Require(head_end != std::string::npos);
  std::string_view head = std::string_view(answer).substr(0, head_end + 2);
  std::string_view body = std::string_view(answer).substr(head_end + 4);
  std::string_view status = head.substr(9, 3);
  Require(status == "200" || status == "400" || status == "404" || status == "405");
  Require(head.find("\r\nConnection: close\r\n") != std::string_view::npos);
  size_t length_at = head.find("\r\nContent-Length: ");
  Require(length_at != std::string_view::npos);
  long length = std::strtol(head.data() + length_at + 18, nullptr, 10);
  Require(body.empty() || static_cast<size_t>(length) == body.size());
  Require(rendered <= 1);
  Require((rendered == 1) == (status == "200"));
  if (status == "200" && !body.empty()) Require(body == metrics);
  if (status == "400") Require(body == "bad request\n");
  return 0;
}
