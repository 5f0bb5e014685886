// libFuzzer target: the Received-header parser and trust path (rules/message/received.h). The first
// input byte chooses the trust options (inferred, or trusted/internal/MSA networks configured,
// originating or not), the rest is a header section. For any input:
//   - AnalyzeReceivedHeaders finishes and its relay lists are consistent: trusted + untrusted
//     and internal + external are the same relays, an internal relay is always trusted, and
//     each X-Spam-Relays-* string is its relays' strings joined by one space;
//   - every relay's string is RelayAsString of it ("[ ip=… msa=… ]");
//   - the Received indexes stay within the Received fields, and the four ALL-* ranges are built;
//   - ParseReceivedLine on each field's value gives a relay string of the same form.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mime/header.h"
#include "rules/message/received.h"

namespace mime = mailsift::mime;
namespace rules = mailsift::rules;

namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

void RequireRelayString(const rules::Relay& relay) {
  Require(relay.as_string == rules::RelayAsString(relay));
  Require(relay.as_string.starts_with("[ ip=") && relay.as_string.ends_with(" ]"));
}

std::string Joined(const std::vector<rules::Relay>& relays) {
  std::string out;
  for (const rules::Relay& relay : relays) {
    RequireRelayString(relay);
    if (!out.empty()) out += ' ';
    out += relay.as_string;
  }
  return out;
}

rules::TrustOptions OptionsFrom(uint8_t choice) {
  rules::TrustOptions options;
  if (choice & 1) options.trusted_networks = {"10.0.0.0/8", "192.0.2.0/24", "!10.9.9.9"};
  if (choice & 2) options.internal_networks = {"10.0.0.0/8", "2001:db8::/32"};
  if (choice & 4) options.msa_networks = {"192.0.2.25"};
  options.originating = (choice & 8) != 0;
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const rules::TrustOptions options = OptionsFrom(data[0]);
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  mime::HeaderSection section = mime::ParseHeaderSection(text);
  const mime::Headers& headers = section.headers;

  rules::RelayPath path = rules::AnalyzeReceivedHeaders(headers, options);
  Require(path.trusted.size() + path.untrusted.size() ==
          path.internal.size() + path.external.size());
  Require(path.internal.size() <= path.trusted.size());
  for (const rules::Relay& relay : path.internal) Require(relay.internal);
  for (const rules::Relay& relay : path.external) Require(!relay.internal);
  Require(path.trusted_str == Joined(path.trusted));
  Require(path.untrusted_str == Joined(path.untrusted));
  Require(path.internal_str == Joined(path.internal));
  Require(path.external_str == Joined(path.external));
  Require(path.bad_networks.empty());  // the networks above are all valid

  const std::vector<const mime::HeaderField*> received = headers.GetAll("Received");
  // The originating-IP headers add one line each after the Received fields.
  const int lines = static_cast<int>(received.size() + options.originating_ip_headers.size());
  Require(path.last_trusted_relay_index >= -1 && path.last_trusted_relay_index < lines);
  Require(path.last_internal_relay_index >= -1 && path.last_internal_relay_index < lines);
  Require(path.last_internal_relay_index <= path.last_trusted_relay_index);
  for (rules::ReceivedRange range :
       {rules::ReceivedRange::kAllTrusted, rules::ReceivedRange::kAllUntrusted,
        rules::ReceivedRange::kAllInternal, rules::ReceivedRange::kAllExternal}) {
    (void)rules::ReceivedRangeText(headers, path, range);
  }

  for (const mime::HeaderField* field : received) {
    rules::ParsedReceived parsed = rules::ParseReceivedLine(rules::SaHeaderValue(*field));
    if (parsed.kind == rules::ReceivedParse::kRelay) RequireRelayString(parsed.relay);
  }
  return 0;
}
