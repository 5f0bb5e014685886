// bayes/message_input.h — the Bayes tokenizer's input made from a parsed message.
//
// BayesInputFromMessage fills a BayesInput (tokenizer.h) from rules/message's MessageText, the
// texts SpamAssassin's Bayes reads (Plugin/Bayes.pm _get_msgdata_from_permsgstatus and
// _tokenize_headers):
//   visible    MessageText::VisibleBodyLines (get_visible_rendered_body_text_array);
//   invisible  the invisible text of each HTML leaf, joined and folded as Message.pm's
//              get_body_text_array_common('invisible_rendered') does (no Subject line);
//   uris       MessageText::Uris (get_uri_list);
//   headers    every field with SpamAssassin's decoded value (get_all_headers, which leaves
//              out what passes 64 KiB);
//   metadata   x-spam-relays-{external,internal,trusted,untrusted} from the Received parser
//              (rules/message/received.h) with the given trust settings.
// SpamAssassin's metadata differs between learning and scanning: sa-learn (get_body_from_msg)
// has only the relay strings, a scan (PerMsgStatus::extract_message_metadata) adds
// x-authordomain (the From hosts) and x-senderdomain (the envelope sender's host), so a scan's
// token set has Hx-authordomain: and Hx-senderdomain: tokens that learning does not. `pass`
// says which to make. (Hosts are taken as they are: SpamAssassin's idn_to_ascii of non-ASCII
// hosts is not applied.)
//
// SaAddressParser is Util::parse_header_addresses with SpamAssassin's internal parser
// (rules/eval/header_access.h), for TokenizerOptions::parse_addresses. MessageMsgids gives the
// seen-table ids SpamAssassin uses (generate_msgid, get_msgid).
//
// Thread-safety: functions of their arguments; a MessageText belongs to one thread.
#pragma once

#include <string>
#include <vector>

#include "bayes/tokenizer.h"
#include "rules/message/message_text.h"
#include "rules/message/received.h"

namespace mailsift::bayes {

enum class BayesPass { kLearn, kScan };
BayesInput BayesInputFromMessage(rules::MessageText& text, const rules::TrustOptions& trust,
                                 BayesPass pass = BayesPass::kLearn);

AddressParser SaAddressParser();

// generate_msgid() and, when the message has one, get_msgid(), in SpamAssassin's order.
std::vector<std::string> MessageMsgids(rules::MessageText& text);

}  // namespace mailsift::bayes
