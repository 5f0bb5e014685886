// rules/eval/eval_registry.h — the one registry of SpamAssassin's eval functions, by name.
//
// Each plugin file (one per SpamAssassin plugin) exposes its table of SpamAssassin function names
// and EvalFunctions (eval_input.h); the registry joins them and FindEval looks a rule's function up
// there. Functions of the plugins that need DNS, a network service or Bayes data (check_rbl*,
// check_dkim*, check_bayes, …) are known as never hitting, as in SpamAssassin with local tests only
// (score set 0).
//
// Thread-safety: the tables and the joined registry are immutable (built once, thread-safely,
// on first use).
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "rules/eval/eval_input.h"

namespace mailsift::rules {

// One eval function of a plugin: SpamAssassin's name (as in `eval:check_for_mime(...)`).
struct EvalEntry {
  std::string_view name;
  EvalFunction function;
};
using EvalTable = std::span<const EvalEntry>;

// The plugins' tables (each defined in its plugin's .cc).
EvalTable HeaderEvals();              // header_eval.cc: HeaderEval
EvalTable FreeMailEvals();            // free_mail.cc: FreeMail
EvalTable HtmlEvals();                // html_eval.cc: HTMLEval
EvalTable MimeEvals();                // mime_eval.cc: MIMEEval
EvalTable BodyEvals();                // body_eval.cc: BodyEval
EvalTable ImageInfoEvals();           // image_info.cc: ImageInfo
EvalTable UriEvals();                 // uri_eval.cc: URIEval
EvalTable HttpsMismatchEvals();       // https_mismatch.cc: HTTPSMismatch
EvalTable VBounceEvals();             // vbounce.cc: VBounce
EvalTable WlblEvals();                // wlbl_eval.cc: WLBLEval
EvalTable WelcomeListSubjectEvals();  // welcome_list_subject.cc: WelcomeListSubject
EvalTable RelayEvals();               // relay_eval.cc: RelayEval and HeaderEval's Received checks

enum class EvalKind { kNative, kNeverHits, kUnknown };

// The function for `name` (nullptr when there is none); `kind` says which case applies.
EvalFunction FindEval(std::string_view name, EvalKind* kind);

// The function for `name` in one plugin's table, or nullptr.
const EvalFunction* FindEvalIn(EvalTable table, std::string_view name);

// The names of one table, in table order.
std::vector<std::string_view> EvalNamesIn(EvalTable table);

}  // namespace mailsift::rules
