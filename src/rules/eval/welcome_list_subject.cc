// rules/eval/welcome_list_subject.cc — SpamAssassin 4.0.1's WelcomeListSubject plugin
// (Plugin/WelcomeListSubject.pm), natively.
//
// check_subject_in_welcomelist and check_subject_in_blocklist (with their 4.0
// whitelist/blacklist aliases; table WelcomeListSubjectEvals): the Subject against the rule
// set's welcomelist_subject / blocklist_subject globs (EvalConfig), case-insensitively, each
// glob found anywhere in a line of the Subject.
//
// Thread-safety: pure functions of the EvalInput (which belongs to one scan) and the immutable
// EvalConfig.
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "rules/eval/eval_input.h"
#include "rules/eval/eval_registry.h"
#include "rules/regex/perl_text.h"

namespace mailsift::rules {
namespace {

// The glob as an unanchored Perl regex: `?` is `.` and `*` is `.*`, neither crossing a newline.
// True when it matches somewhere in `line` (which has no newline).
bool GlobFoundIn(std::string_view glob, std::string_view line) {
  // Equivalent to a full match of "*" glob "*".
  return WildcardMatches("*" + std::string(glob) + "*", line);
}

bool SubjectListed(EvalInput& in, const std::vector<std::string>& globs) {
  if (in.subject().empty()) return false;
  std::string subject = ToLowerAscii(in.subject());
  for (const std::string& glob : globs) {
    if (glob == subject) return true;
    size_t pos = 0;
    for (;;) {
      size_t nl = subject.find('\n', pos);
      std::string_view line = std::string_view(subject).substr(
          pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (GlobFoundIn(glob, line)) return true;
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  }
  return false;
}

bool CheckSubjectInWelcomelist(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig& c = in.config();
  return SubjectListed(in, c.welcomelist_subject);
}
bool CheckSubjectInBlocklist(EvalInput& in, const std::vector<std::string>&) {
  const EvalConfig& c = in.config();
  return SubjectListed(in, c.blocklist_subject);
}

constexpr EvalEntry kEvals[] = {
    {"check_subject_in_welcomelist", &CheckSubjectInWelcomelist},
    {"check_subject_in_whitelist", &CheckSubjectInWelcomelist},
    {"check_subject_in_blocklist", &CheckSubjectInBlocklist},
    {"check_subject_in_blacklist", &CheckSubjectInBlocklist},
};

}  // namespace

EvalTable WelcomeListSubjectEvals() { return kEvals; }

}  // namespace mailsift::rules
