// rules/message/message_facts_test_messages.h — for the tests of the MIME facts and the evals
// over them: a plain message, an HTML-only one, and a multipart/alternative one with a preamble
// and an epilogue.
//
// Thread-safety: constants.
#pragma once

namespace mailsift::rules {

inline constexpr char kPlain[] = "Subject: hello\nFrom: a@example.com\n\nJust a plain body.\n";

inline constexpr char kHtmlOnly[] =
    "Subject: hi\nContent-Type: text/html\n\n"
    "<html><head><title>A title</title></head><body><center>x"
    "<!-- saved from url=(0022)http://internet.e-mail -->"
    "<font face=\"1bad\">hello</font><img src=\"a.gif\" width=\"300\" height=\"300\">"
    "<iframe src=\"http://example.com/x\"></iframe></body></html>\n";

inline constexpr char kAlternative[] =
    "Subject: alt\nMIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"BB\"\n\n"
    "preamble\n"
    "--BB\nContent-Type: text/plain; charset=us-ascii\n\nhello world words\n"
    "--BB\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n"
    "<html><body>completely different text here =2C</body></html>\n"
    "--BB--\n"
    "epilogue text\n";

}  // namespace mailsift::rules
