#!/usr/bin/python3
"""SMTP smuggling (ecosystem reference §2.5): end-of-data look-alikes must stay content.

Usage: python3 tests/integration/test_smuggling.py --mailsift PATH [-k NAME]

For every vector (LF.LF, LF.CRLF, CR.CR, CRLF.CR, CR.LF, CRLF NUL . CRLF, CRLF . NUL CRLF),
placed in the body and inside a header, a raw-socket client sends one message holding the
vector followed by the text of a second, smuggled transaction ("MAIL FROM:<evil@...>",
"RCPT TO", "DATA", a forged message), then the real CRLF.CRLF. The next hop is the harness's
RecordingServer, a Python TEST DOUBLE that records the exact bytes it receives (smtp-sink's
dump cannot show line ends), ending DATA only at CRLF.CRLF.

With bare_newline = "normalize": exactly one message reaches the next hop, with no second
transaction; its bytes are exactly mailsift's Received header plus the canonical form of what
was sent (every line CRLF-terminated, a bare LF ending a line, a bare CR turned into a space,
dot-stuffed), with no bare CR or LF; the vector's text is content. Two spots of the model are
left open because the reference does not settle them, and either exact form is accepted: a
"." that starts a line after a bare LF may be kept (it is not a line start in SMTP terms) or
removed as a transparency dot; a "." CR at a line start may lose its dot (RFC 5321 §4.5.2) or
keep it.
The default (no [smtp] section) is "normalize" (Postfix 3.9's), checked as above.
With bare_newline = "reject": vectors with a bare CR or LF get 550 5.5.2 and
nothing is relayed; the NUL vectors hold no bare CR or LF and must be relayed like above.
In both modes the client gets exactly one reply for the message, and the smuggled commands are
never executed (the next command's reply is the next reply).

BDAT (RFC 3030): the same vectors inside BDAT chunks are relayed as canonical DATA under
"normalize" and refused with 550 5.5.2 under "reject" (§2.5 rule 6). The end of data and the
vectors split over many small writes give the same result (rule 4).

Also: DATA with message bytes in the same write, before the 354, gets
554 5.5.0 and the connection is closed, with nothing relayed; MAIL+RCPT+DATA pipelined without
message bytes is fine.
"""

import itertools
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import check, check_eq  # noqa: E402

BIN = None

VECTORS = [
    ("LF.LF", b"\n.\n"),
    ("LF.CRLF", b"\n.\r\n"),
    ("CR.CR", b"\r.\r"),
    ("CRLF.CR", b"\r\n.\r"),
    ("CR.LF", b"\r.\n"),
    ("CRLF-NUL.CRLF", b"\r\n\x00.\r\n"),
    ("CRLF.NUL-CRLF", b"\r\n.\x00\r\n"),
]

SMUGGLED = (b"MAIL FROM:<evil@smuggle.test>\r\n"
            b"RCPT TO:<victim@dest.test>\r\n"
            b"DATA\r\n"
            b"From: CEO <ceo@bank.test>\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"wire the money\r\n")


def payload(name, vector, where):
    """The DATA bytes the client sends (including the real final ".\r\n")."""
    if where == "body":
        data = (b"From: Alice <alice@src.test>\r\nTo: Bob <bob@dest.test>\r\n"
                b"Subject: smuggling " + name.encode() + b"\r\n\r\nline one\r\nbefore" +
                vector + SMUGGLED)
    else:
        data = (b"From: Alice <alice@src.test>\r\nTo: Bob <bob@dest.test>\r\n"
                b"Subject: smuggling in header " + name.encode() + vector + SMUGGLED)
    return data + b".\r\n"


def canonical_candidates(data):
    """The exact bytes a correct proxy may send to the next hop for the DATA bytes `data` (which
    end with the real CRLF "." CRLF), excluding its own Received header: a set of candidates
    (see the module comment for the two open spots)."""
    body = data[:-3]            # strip ".\r\n"; body ends with the CRLF of its last line
    # Split into lines: (text, started_after_bare_lf, dot_then_stray_cr)
    lines = []
    cur = bytearray()
    start_bare = False
    i = 0
    first_cr_at = []            # positions in cur where a stray CR became a space

    def end(bare):
        nonlocal cur, start_bare, first_cr_at
        lines.append((bytes(cur), start_bare, 1 in first_cr_at and cur[:1] == b"."))
        cur = bytearray()
        start_bare = bare
        first_cr_at = []
    while i < len(body):
        c = body[i:i + 1]
        if c == b"\r":
            if body[i + 1:i + 2] == b"\n":
                end(False)
                i += 2
                continue
            first_cr_at.append(len(cur))
            cur += b" "
        elif c == b"\n":
            end(True)
        else:
            cur += c
        i += 1
    if cur:
        end(False)
    out = {}
    for strip_after_bare, strip_dot_cr in itertools.product((False, True), repeat=2):
        wire = bytearray()
        for text, after_bare, dot_cr in lines:
            if text.startswith(b"."):
                strip = True
                if after_bare and not strip_after_bare:
                    strip = False
                if dot_cr and not strip_dot_cr:
                    strip = False
                if strip:
                    text = text[1:]
            if text.startswith(b"."):
                text = b"." + text            # re-stuff for the next hop
            wire += text + b"\r\n"
        variant = "%s a dot after a bare LF, %s a dot before a stray CR" % (
            "removes" if strip_after_bare else "keeps", "removes" if strip_dot_cr else "keeps")
        out.setdefault(bytes(wire), []).append(variant)
    return out


def has_bare_newline(b):
    return b"\r" in b.replace(b"\r\n", b"") or b"\n" in b.replace(b"\r\n", b"")


def send_vector(port, data, sender):
    with h.SmtpClient(port) as c:
        c.greeting()
        c.cmd("EHLO client.test")
        r1 = c.cmd("MAIL FROM:<%s>" % sender)
        r2 = c.cmd("RCPT TO:<bob@dest.test>")
        r3 = c.cmd("DATA")
        if r3.code != 354:
            return [r1, r2, r3], None, None
        c.send(data)
        final = c.read_reply(timeout=30)
        # The smuggled commands must not have been executed: the next reply is NOOP's own.
        noop = c.cmd("NOOP")
        time.sleep(0.1)
        leftover = c.buf
        try:
            c.cmd("QUIT")
        except Exception:
            pass
        return [r1, r2, r3], final, (noop, leftover)


def run_vectors(bare_newline):
    cases = [(n, v, w) for w in ("body", "header") for n, v in VECTORS]
    with h.RecordingServer() as rec:
        smtp = {"bare_newline": bare_newline} if bare_newline else {}
        cfg = h.base_config(rec.address, smtp=smtp) if smtp else h.base_config(rec.address)
        with h.Mailsift(BIN, cfg) as ms:
            failures = []
            for k, (name, vector, where) in enumerate(cases):
                label = "%s in %s" % (name, where)
                sender = "s%02d@src.test" % k
                data = payload(name, vector, where)
                before = len(rec.wait_transactions(0, 0))
                pre, final, after = send_vector(ms.port, data, sender)
                expect_reject = bare_newline == "reject" and has_bare_newline(data)
                try:
                    check(final is not None, "%s: MAIL/RCPT/DATA accepted" % label,
                          repr([r.text for r in pre]))
                    noop, leftover = after
                    check(noop.code == 250 and leftover == b"",
                          "%s: exactly one reply to the message; the smuggled commands were "
                          "not executed (next reply is NOOP's 250)" % label,
                          "NOOP got %r, then unread %r" % (noop.text, leftover))
                    if expect_reject:
                        check(final.code == 550 and final.text.split()[1] == "5.5.2",
                              "%s: bare_newline=reject -> 550 5.5.2" % label, final.text)
                        time.sleep(0.3)
                        txs = rec.wait_transactions(0, 0)[before:]
                        check_eq(len(txs), 0, "%s: nothing relayed" % label)
                        continue
                    check(final.code == 250, "%s: accepted with 250" % label, final.text)
                    txs = rec.wait_transactions(before + 1, 10)[before:]
                    time.sleep(0.2)
                    txs = rec.wait_transactions(0, 0)[before:]
                    check_eq(len(txs), 1, "%s: exactly one transaction at the next hop" % label)
                    tx = txs[0]
                    check(b"<%s>" % sender.encode() in tx.mail and
                          b"evil" not in tx.mail and
                          all(b"victim" not in r for r in tx.rcpts),
                          "%s: it is the real envelope, not the smuggled one" % label,
                          "%r %r" % (tx.mail, tx.rcpts))
                    check(not has_bare_newline(tx.data) and tx.data.endswith(b"\r\n"),
                          "%s: every line at the next hop ends in CRLF, no bare CR or LF"
                          % label, repr(tx.data[-300:]))
                    header, rest = h.split_first_received(tx.data, b"\r\n")
                    check(header is not None, "%s: mailsift's Received header on top" % label,
                          repr(tx.data[:300]))
                    cands = canonical_candidates(data)
                    check(rest in cands, "%s: the next hop got exactly the canonical, "
                          "dot-stuffed content with the vector as content%s" % (
                              label, "" if rest not in cands or len(cands) == 1 else
                              " (model: %s)" % " / ".join(cands[rest])),
                          "got %r\n      expected one of %r" % (rest, sorted(cands)))
                    check(b"MAIL FROM:<evil@smuggle.test>" in rest,
                          "%s: the smuggled MAIL FROM is message text" % label)
                except AssertionError as e:
                    failures.append(str(e))
            rc = ms.stop()
            check_eq(rc, 0, "mailsift exits 0 on SIGTERM")
            all_tx = rec.wait_transactions(0, 0)
            evil = [t for t in all_tx if b"evil" in (t.mail or b"")]
            check_eq(evil, [], "no smuggled transaction ever reached the next hop")
            check(not failures, "all %d vector cases as expected" % len(cases),
                  "%d failed:\n    %s" % (len(failures), "\n    ".join(failures)))


def test_vectors_normalize():
    run_vectors("normalize")


def test_vectors_reject():
    run_vectors("reject")


def test_vectors_default_normalizes():
    run_vectors(None)


def canonical_bdat(content):
    """What a correct proxy sends (after its Received header) for BDAT content with
    bare_newline = "normalize": no transparency on input, a bare LF ends a line, a bare CR
    becomes a space, a last line without CRLF gets one, then dot-stuffing for DATA."""
    lines = []
    cur = bytearray()
    i = 0
    while i < len(content):
        c = content[i:i + 1]
        if c == b"\r" and content[i + 1:i + 2] == b"\n":
            lines.append(bytes(cur))
            cur = bytearray()
            i += 2
            continue
        if c == b"\r":
            cur += b" "
        elif c == b"\n":
            lines.append(bytes(cur))
            cur = bytearray()
        else:
            cur += c
        i += 1
    if cur:
        lines.append(bytes(cur))
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)


def run_bdat_vectors(bare_newline):
    with h.RecordingServer() as rec:
        cfg = h.base_config(rec.address, smtp={"bare_newline": bare_newline})
        with h.Mailsift(BIN, cfg) as ms:
            failures = []
            for k, (name, vector) in enumerate(VECTORS):
                label = "BDAT with %s" % name
                content = payload(name, vector, "body")[:-3]    # no ".\r\n" in BDAT
                before = len(rec.wait_transactions(0, 0))
                try:
                    with h.SmtpClient(ms.port) as c:
                        c.greeting()
                        c.cmd("EHLO client.test")
                        c.cmd("MAIL FROM:<b%02d@src.test>" % k)
                        c.cmd("RCPT TO:<bob@dest.test>")
                        half = len(content) // 2
                        c.send(b"BDAT %d\r\n" % half + content[:half])
                        r1 = c.read_reply()
                        c.send(b"BDAT %d LAST\r\n" % (len(content) - half) + content[half:])
                        r2 = c.read_reply(timeout=30)
                        noop = c.cmd("NOOP")
                    check(r1.code == 250, "%s: first chunk -> 250" % label, r1.text)
                    check_eq(noop.code, 250, "%s: one reply per chunk (next is NOOP's)" % label)
                    bare = has_bare_newline(content)
                    if bare_newline == "reject" and bare:
                        check(r2.code == 550 and r2.text.split()[1] == "5.5.2",
                              "%s: bare_newline=reject -> 550 5.5.2 at BDAT LAST" % label,
                              r2.text)
                        time.sleep(0.3)
                        check_eq(len(rec.wait_transactions(0, 0)) - before, 0,
                                 "%s: nothing relayed" % label)
                        continue
                    check(r2.code == 250, "%s: BDAT LAST -> 250" % label, r2.text)
                    txs = rec.wait_transactions(before + 1, 10)[before:]
                    check_eq(len(txs), 1, "%s: one transaction at the next hop" % label)
                    header, rest = h.split_first_received(txs[0].data, b"\r\n")
                    check(header is not None and not has_bare_newline(txs[0].data),
                          "%s: Received header on top, no bare CR or LF" % label,
                          repr(txs[0].data[:300]))
                    check_eq(rest, canonical_bdat(content),
                             "%s: relayed as canonical DATA, the vector as content" % label)
                except AssertionError as e:
                    failures.append(str(e))
            check_eq(ms.stop(), 0, "mailsift exits 0 on SIGTERM")
            check(not failures, "all %d BDAT cases as expected" % len(VECTORS),
                  "%d failed:\n    %s" % (len(failures), "\n    ".join(failures)))


def test_bdat_vectors_normalize():
    run_bdat_vectors("normalize")


def test_bdat_vectors_reject():
    run_bdat_vectors("reject")


def test_split_across_writes():
    """The end of data and the vectors split over many small writes (byte by byte, and the
    real CRLF.CRLF as CR | LF. | CR | LF) give the same result as one write."""
    with h.RecordingServer() as rec:
        cfg = h.base_config(rec.address, smtp={"bare_newline": "normalize"})
        with h.Mailsift(BIN, cfg) as ms:
            for k, (name, vector) in enumerate(VECTORS):
                data = payload(name, vector, "body")
                before = len(rec.wait_transactions(0, 0))
                with h.SmtpClient(ms.port) as c:
                    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    c.greeting()
                    c.cmd("EHLO client.test")
                    c.cmd("MAIL FROM:<w%02d@src.test>" % k)
                    c.cmd("RCPT TO:<bob@dest.test>")
                    r_data = c.cmd("DATA")
                    check_eq(r_data.code, 354, "%s: DATA" % name)
                    body = data[:-5]        # without the final CRLF.CRLF
                    if k % 2 == 0:
                        pieces = [body[i:i + 1] for i in range(len(body))]
                    else:
                        pieces = [body[i:i + 7] for i in range(0, len(body), 7)]
                    pieces += [b"\r", b"\n.", b"\r", b"\n"]
                    for p in pieces:
                        c.send(p)
                        time.sleep(0.001)
                    final = c.read_reply(timeout=30)
                    noop = c.cmd("NOOP")
                check(final.code == 250 and noop.code == 250,
                      "%s sent in %d writes: one 250, then NOOP's 250" % (name, len(pieces)),
                      "%r / %r" % (final.text, noop.text))
                txs = rec.wait_transactions(before + 1, 10)[before:]
                check_eq(len(txs), 1, "%s: one transaction at the next hop" % name)
                header, rest = h.split_first_received(txs[0].data, b"\r\n")
                check(header is not None and rest in canonical_candidates(data),
                      "%s: same canonical content as in one write" % name,
                      repr(txs[0].data[-400:]))
            check_eq(ms.stop(), 0, "mailsift exits 0 on SIGTERM")


def test_pipelined_data_before_354():
    with h.RecordingServer() as rec:
        with h.Mailsift(BIN, h.base_config(rec.address)) as ms:
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                c.cmd("EHLO client.test")
                c.cmd("MAIL FROM:<alice@src.test>")
                c.cmd("RCPT TO:<bob@dest.test>")
                c.send(b"DATA\r\nSubject: too early\r\n\r\nbody\r\n.\r\nQUIT\r\n")
                replies = []
                try:
                    while True:
                        replies.append(c.read_reply(timeout=5))
                except (h.ConnectionClosed, OSError):
                    pass
                texts = [r.text for r in replies]
                check(any(r.code == 554 and r.text.split()[1] == "5.5.0" for r in replies),
                      "message bytes sent with DATA before the 354 -> 554 5.5.0", repr(texts))
                check(not any(r.code in (250, 221) for r in replies),
                      "no end-of-data 250 and QUIT not executed", repr(texts))
                check(c.closed or c.wait_closed(5), "the connection is closed")
            time.sleep(0.5)
            check_eq(len(rec.wait_transactions(0, 0)), 0, "nothing relayed")
            # Legal pipelining (RFC 2920): MAIL, RCPT, DATA in one write, data after the 354.
            with h.SmtpClient(ms.port) as c:
                c.greeting()
                r = c.cmd("EHLO client.test")
                check(any(re.match(r"^250[ -]PIPELINING$", l) for l in r.lines),
                      "EHLO announces PIPELINING", r.text)
                c.send(b"MAIL FROM:<alice@src.test>\r\nRCPT TO:<bob@dest.test>\r\nDATA\r\n")
                rs = [c.read_reply() for _ in range(3)]
                check_eq([r.code for r in rs], [250, 250, 354],
                         "MAIL+RCPT+DATA pipelined -> 250 250 354")
                c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\n")
                r = c.read_reply(timeout=30)
                check_eq(r.code, 250, "and the message is accepted")
            txs = rec.wait_transactions(1, 10)
            check_eq(len(txs), 1, "one message relayed")
            check_eq(ms.stop(), 0, "mailsift exits 0 on SIGTERM")


TESTS = [test_vectors_normalize, test_vectors_reject, test_vectors_default_normalizes,
         test_bdat_vectors_normalize,
         test_bdat_vectors_reject, test_split_across_writes, test_pipelined_data_before_354]

if __name__ == "__main__":
    BIN = h.mailsift_path()
    sys.exit(h.TestRunner("smuggling").run(TESTS, only=h.only_args()))
