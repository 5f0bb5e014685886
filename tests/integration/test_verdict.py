#!/usr/bin/python3
"""The verdict in the proxy: clamd, banned files, bad headers, actions, quarantine, logs.

Usage: python3 tests/integration/test_verdict.py --mailsift PATH [-k NAME]

Real components only: a clamd (Debian's clamav-daemon) that the test starts with a signature
database it writes itself (EICAR and a custom signature, no download), smtp-sink as the next
hop, a private Postfix for the before-queue reject, logwatch's own amavis analyser for the log
line.
  - after-queue: EICAR as plain text, as a base64 attachment and inside a zip is INFECTED:
    discarded (250 2.7.0), quarantined, nothing reaches the next hop; a clean message passes
    with X-Virus-Scanned; `mailsift quarantine release` delivers the original bytes;
  - clamd stopped: 451, nothing relayed (the MTA keeps the message);
  - before-queue through Postfix (smtpd_proxy_filter): the sending client sees 554 5.7.0 for
    EICAR and for a corpus spam above kill_level with [actions] spam = "reject";
  - banned: an .exe inside a zip, a double extension, a declared type that lies;
  - bad header: a duplicated Subject passes as BAD-HEADER-8 and is quarantined;
  - the main log lines are read by logwatch's amavis service with the counts of what was sent.
"""

import base64
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import postfix_instance as pfi  # noqa: E402
from harness import check, check_eq  # noqa: E402

BIN = None
CLAMD = "/usr/sbin/clamd"
LOGWATCH_AMAVIS = "/usr/share/logwatch/scripts/services/amavis"
SPAM = "spam-2.00003.590eff932f8704d8b0fcbe69d023b54d.eml"

# The EICAR test file, put together at run time so that this file is not itself a hit.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
CUSTOM = b"mailsift custom test signature 7f3e9a"


class Clamd:
    """A private clamd on a Unix socket in a temp dir, with a database this test writes."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailsift-clamd-")
        self.socket = os.path.join(self.dir, "clamd.sock")
        self.proc = None

    def start(self, timeout=60):
        db = os.path.join(self.dir, "db")
        os.makedirs(db, exist_ok=True)
        with open(os.path.join(db, "mailsift-test.ndb"), "w") as f:
            f.write("Eicar-Test-Signature:0:*:%s\n" % EICAR.hex())
            f.write("Mailsift.Test.Custom:0:*:%s\n" % CUSTOM.hex())
        conf = os.path.join(self.dir, "clamd.conf")
        with open(conf, "w") as f:
            f.write("Foreground yes\nLocalSocket %s\nDatabaseDirectory %s\n"
                    "LogFile %s/clamd.log\nPidFile %s/clamd.pid\n"
                    % (self.socket, db, self.dir, self.dir))
        self.proc = subprocess.Popen([CLAMD, "--config-file=" + conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr"), "wb"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("clamd exited: " + self.log())
            if self.ping():
                return self
            time.sleep(0.1)
        raise RuntimeError("clamd did not answer PING: " + self.log())

    def ping(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.socket)
                s.sendall(b"zPING\0")
                return s.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def log(self):
        out = ""
        for name in ("stderr", "clamd.log"):
            try:
                out += open(os.path.join(self.dir, name), errors="replace").read()[-2000:]
            except OSError:
                pass
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __exit__(self, *exc):
        self.cleanup()


# ---- messages ------------------------------------------------------------------------------

def message(subject, body_lines, extra_headers=()):
    """CRLF message bytes (not dot-stuffed)."""
    head = ["From: Sender <sender@example.com>", "To: <rcpt@example.net>",
            "Subject: " + subject, "Date: Mon, 30 Nov 2026 01:00:00 +0000",
            "Message-ID: <%s@example.com>" % re.sub(r"\W", "", subject), "MIME-Version: 1.0"]
    head += list(extra_headers)
    return b"".join(l.encode() + b"\r\n" for l in head) + b"\r\n" + b"".join(
        (l if isinstance(l, bytes) else l.encode()) + b"\r\n" for l in body_lines)


def with_attachment(subject, filename, payload, content_type="application/octet-stream"):
    encoded = base64.encodebytes(payload).decode().splitlines()
    return message(subject, [
        "--b1", "Content-Type: text/plain", "", "see the attachment", "",
        "--b1", 'Content-Type: %s; name="%s"' % (content_type, filename),
        "Content-Transfer-Encoding: base64",
        'Content-Disposition: attachment; filename="%s"' % filename, ""] + encoded + [
        "--b1--"], ['Content-Type: multipart/mixed; boundary="b1"'])


def zipped(name, payload):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, payload)
    return out.getvalue()


# A minimal Windows PE file: the MZ header pointing at a "PE\0\0" signature, enough for
# file(1)/libmagic to say "PE32 executable … MS Windows".
def pe_executable():
    mz = bytearray(512)
    mz[0:2] = b"MZ"
    mz[0x3C:0x40] = (0x80).to_bytes(4, "little")
    mz[0x80:0x84] = b"PE\0\0"
    mz[0x84:0x86] = (0x14C).to_bytes(2, "little")    # i386
    mz[0x86:0x88] = (1).to_bytes(2, "little")        # one section
    mz[0x94:0x96] = (0xE0).to_bytes(2, "little")     # optional header size
    mz[0x96:0x98] = (0x0102).to_bytes(2, "little")   # executable, 32-bit
    mz[0x98:0x9A] = (0x10B).to_bytes(2, "little")    # PE32 magic
    mz[0xDC:0xDE] = (2).to_bytes(2, "little")        # subsystem: Windows GUI
    return bytes(mz)


def data_of(raw):
    return h.dot_stuff(raw.rstrip(b"\r\n").split(b"\r\n"))


def send(port, raw, rcpts=("rcpt@example.net",)):
    with h.SmtpClient(port) as c:
        c.greeting()
        replies = c.send_message("sender@example.com", list(rcpts), data_of(raw))
        c.cmd("QUIT")
    return replies[-1]


def verdict_config(next_hop, clamd=None, **sections):
    cfg = h.base_config(next_hop, **sections)
    cfg.setdefault("virus", {})
    if clamd is not None:
        cfg["virus"] = dict(cfg["virus"], clamd="unix:" + clamd.socket, timeout=10)
    return cfg


def run_cli(ms, *args):
    return subprocess.run([BIN, *args, "--config", ms.config_path], capture_output=True,
                          timeout=60)


# ---- tests ---------------------------------------------------------------------------------

LOG_LINES = []  # every main log line written in this run, for the logwatch test


def test_viruses_after_queue_are_discarded_quarantined_and_released():
    service_log = tempfile.NamedTemporaryFile(prefix="mailsift-log-", suffix=".log")
    with Clamd() as clamd, h.SmtpSink() as sink, h.Mailsift(
            BIN, verdict_config(sink.address, clamd, log={"file": service_log.name})) as ms:
        infected = {
            "plain": message("eicar plain", ["look:", EICAR]),
            "base64": with_attachment("eicar base64", "eicar.com", EICAR),
            "zip": with_attachment("eicar zip", "eicar.zip", zipped("eicar.com", EICAR),
                                   "application/zip"),
            "custom": message("custom signature", [b"text " + CUSTOM + b" more"]),
        }
        for name, raw in infected.items():
            final = send(ms.port, raw)
            check(final.code == 250 and "2.7.0" in final.text and "discarded" in final.text,
                  "%s: 250 2.7.0 discarded (Debian's $final_virus_destiny)" % name, final.text)
        clean = message("clean", ["nothing to see"])
        final = send(ms.port, clean)
        check(final.code == 250 and "2.0.0" in final.text, "the clean message passes",
              final.text)
        time.sleep(0.3)
        ts = sink.transactions()
        check_eq(len(ts), 1, "only the clean message reached the next hop")
        check(re.search(rb"^X-Virus-Scanned: mailsift at test$", ts[0].text, re.M) is not None,
              "the clean message carries X-Virus-Scanned", ts[0].text[:300].decode())
        lines = ms.wait_log_lines(5)
        LOG_LINES.extend(lines)
        blocked = [l for l in lines if "Blocked INFECTED" in l]
        check_eq(len(blocked), 4, "four Blocked INFECTED log lines")
        check(all("{DiscardedInbound,Quarantined}" in l for l in blocked),
              "each {DiscardedInbound,Quarantined}", "\n".join(blocked))
        check(sum("INFECTED (Eicar-Test-Signature" in l for l in blocked) == 3 and
              sum("INFECTED (Mailsift.Test.Custom" in l for l in blocked) == 1,
              "the log names the viruses", "\n".join(blocked))
        check(any("Passed CLEAN {RelayedInbound}" in l for l in lines), "the clean one: CLEAN",
              "\n".join(lines))

        listed = run_cli(ms, "quarantine", "list")
        check(listed.returncode == 0 and len(listed.stdout.splitlines()) == 4,
              "quarantine list shows the four", (listed.stdout + listed.stderr).decode())
        mail_id = h.log_mail_id([l for l in blocked if "eicarzip@" in l][0])
        shown = run_cli(ms, "quarantine", "show", mail_id)
        check(shown.returncode == 0 and infected["zip"] in shown.stdout,
              "quarantine show prints the message as received", shown.stderr.decode())
        released = run_cli(ms, "quarantine", "release", mail_id)
        check(released.returncode == 0 and b"released" in released.stdout,
              "quarantine release succeeds", (released.stdout + released.stderr).decode())
        h.wait_until(lambda: len(sink.transactions()) == 2, 10, what="the release at the sink")
        ts = sink.transactions()
        check_eq(len(ts), 2, "the released message reached the next hop")
        trace, _, rest = ts[1].text.partition(b"\n ")
        trace_re = rb"^Received: by mailsift.test \(mailsift, quarantine release\) id %s$" % mail_id.encode()
        check(re.match(trace_re, trace) is not None and
              re.match(rb"^for <rcpt@example.net>;\n [A-Z][a-z]{2}, \d+ \w{3} \d{4} ", rest)
              is not None, "the released copy carries the release's Received: header on top",
              ts[1].text[:300].decode())
        original = rest.split(b"\n", 2)[2] if rest.count(b"\n") >= 2 else b""
        check_eq(original, infected["zip"].replace(b"\r\n", b"\n"),
                 "under it, the original bytes, unchanged")
        check_eq(ts[1].rcpt_to, ["rcpt@example.net"], "for the original recipient")
        again = run_cli(ms, "quarantine", "list")
        check(b"released" in again.stdout, "the index records the release", again.stdout.decode())
        logged = open(service_log.name).read()
        check(re.search(r"mailsift\[\d+\]: \(%s\) quarantine release: <sender@example.com> -> "
                        r"<rcpt@example.net>, file \S+, category INFECTED \(Eicar-Test-Signature\S*\), "
                        r"by root, next hop: 250 " % mail_id, logged) is not None,
              "the release is logged where the service logs ([log] file), with who did it",
              logged)
        second = run_cli(ms, "quarantine", "release", mail_id)
        check(second.returncode == 0 and
              b"warning: %s was already released at 20" % mail_id.encode() in second.stderr,
              "a second release warns that it was released before, and when",
              (second.stdout + second.stderr).decode())
        h.wait_until(lambda: len(sink.transactions()) == 3, 10, what="the second release")
        logged = open(service_log.name).read()
        check("warning: (%s) quarantine release by root: %s was already released" %
              (mail_id, mail_id) in logged and "(%s) quarantine release #2: " % mail_id in logged,
              "the log warns too, and counts the release", logged)


def test_clamd_stopped_tempfails():
    with h.SmtpSink() as sink:
        clamd = Clamd().start()
        try:
            with h.Mailsift(BIN, verdict_config(sink.address, clamd)) as ms:
                clamd.stop()
                final = send(ms.port, message("while clamd is down", ["hello"]))
                check(final.code == 451, "clamd down: 451, the MTA keeps the message",
                      final.text)
                time.sleep(0.3)
                check_eq(len(sink.transactions()), 0, "nothing reached the next hop")
                lines = ms.wait_log_lines(1, "Blocked")
                LOG_LINES.extend(lines)
                check(len(lines) == 1 and "Blocked UNCHECKED {TempFailedInbound}" in lines[0],
                      "log: Blocked UNCHECKED {TempFailedInbound}", "\n".join(lines))
                check("clamd" in ms.read_stderr() and "warning" in ms.read_stderr(),
                      "a warning names clamd")
        finally:
            clamd.cleanup()


def test_banned_files_are_blocked():
    with h.SmtpSink() as sink, h.Mailsift(
            BIN, verdict_config(sink.address, banned={"enabled": True})) as ms:
        cases = {
            "exe in zip": with_attachment("exe in zip", "invoice.zip",
                                          zipped("setup.exe", pe_executable()),
                                          "application/zip"),
            "double extension": with_attachment("double extension", "invoice.pdf.exe",
                                                b"%PDF-1.4 not really\n"),
            "lying type": with_attachment("lying type", "photo.jpg", pe_executable(),
                                          "image/jpeg"),
        }
        for name, raw in cases.items():
            final = send(ms.port, raw)
            check(final.code == 250 and "2.7.0" in final.text,
                  "%s: discarded (250 2.7.0)" % name, final.text)
        final = send(ms.port, with_attachment("harmless", "notes.txt", b"just text\n",
                                              "text/plain"))
        check(final.code == 250 and "2.0.0" in final.text, "a text attachment passes",
              final.text)
        time.sleep(0.3)
        check_eq(len(sink.transactions()), 1, "only the harmless message was relayed")
        lines = ms.wait_log_lines(4)
        LOG_LINES.extend(lines)
        banned = [l for l in lines if "Blocked BANNED (" in l]
        check_eq(len(banned), 3, "three Blocked BANNED lines")
        for l in banned:
            check("{DiscardedInbound,Quarantined}" in l, "banned: discarded and quarantined", l)


def test_policy_bank_by_listener_bypasses_banned_checks():
    cfg = verdict_config(
        None, banned={"enabled": True},
        listen=[{"address": "127.0.0.1:0"}, {"address": "127.0.0.1:0", "name": "outbound"}],
        policy_bank=[{"name": "ORIGINATING", "listeners": ["outbound"],
                      "bypass": ["banned"]}])
    with h.SmtpSink() as sink:
        cfg["relay"]["next_hop"] = sink.address
        with h.Mailsift(BIN, cfg) as ms:
            raw = with_attachment("double extension again", "invoice.pdf.exe", b"%PDF-1.4\n")
            inbound = send(ms.ports[0], raw)
            check(inbound.code == 250 and "2.7.0" in inbound.text,
                  "on the inbound listener the banned file is discarded", inbound.text)
            outbound = send(ms.ports[1], raw)
            check(outbound.code == 250 and "2.0.0" in outbound.text,
                  "on the bank's listener banned checks are bypassed: relayed", outbound.text)
            time.sleep(0.3)
            check_eq(len(sink.transactions()), 1, "one message reached the next hop")
            lines = ms.wait_log_lines(2)
            LOG_LINES.extend(lines)
            passed = [l for l in lines if "Passed" in l]
            check(len(passed) == 1 and re.search(r"\}, ORIGINATING \[127\.0\.0\.1\]", passed[0]),
                  "the log line names the policy bank before the client, as amavisd's",
                  "\n".join(lines))


def test_bad_header_passes_tagged_and_quarantined():
    with h.SmtpSink() as sink, h.Mailsift(
            BIN, verdict_config(sink.address, bad_header={"enabled": True})) as ms:
        raw = message("first", ["body"], ["Subject: second"])
        final = send(ms.port, raw)
        check(final.code == 250, "BAD-HEADER passes (Debian's $final_bad_header_destiny)",
              final.text)
        lines = ms.wait_log_lines(1)
        LOG_LINES.extend(lines)
        check(len(lines) == 1 and "Passed BAD-HEADER-8 {RelayedInbound,Quarantined}" in lines[0],
              "log: Passed BAD-HEADER-8 {RelayedInbound,Quarantined}", "\n".join(lines))
        ts = sink.transactions()
        check(len(ts) == 1 and re.search(rb"^X-Quarantine-ID: <", ts[0].text, re.M),
              "the relayed message carries X-Quarantine-ID")


def test_before_queue_rejects_reach_the_sending_client_through_postfix():
    corpus = h.corpus_dir()
    with open(os.path.join(corpus, SPAM), "rb") as f:
        spam = f.read()
    if spam.startswith(b"From "):
        spam = spam.split(b"\n", 1)[1]
    spam = spam.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with Clamd() as clamd, pfi.PostfixInstance("before-queue", log=lambda *a: None) as pf:
        P = pf.ports
        cfg = verdict_config("127.0.0.1:%d" % P["reinject"], clamd=clamd,
                             listen=[{"address": "127.0.0.1:%d" % P["filter"]}],
                             relay={"mode": "before-queue"},
                             spam={"enabled": True},
                             actions={"virus": "reject", "spam": "reject"})
        with h.Mailsift(BIN, cfg) as ms:
            for name, raw, reason in (
                    ("EICAR", with_attachment("eicar bq", "eicar.com", EICAR),
                     "INFECTED: Eicar-Test-Signature"),
                    ("corpus spam", spam, "- spam")):
                final = send(P["public"], raw)
                check(final.code == 554 and "5.7.0" in final.text and reason in final.text,
                      "%s: the sending client sees 554 5.7.0 ... %s" % (name, reason),
                      final.text)
            final = send(P["public"], message("clean bq", ["hello"]))
            check(final.code == 250, "a clean message is accepted through Postfix", final.text)
            pf.wait_log(r"status=sent", timeout=30)
            check_eq(len(pf.sink_transactions()), 1, "only the clean message was delivered")
            lines = ms.wait_log_lines(3)
            LOG_LINES.extend(lines)
            check(sum("{RejectedInbound,Quarantined}" in l for l in lines) == 2,
                  "both rejects logged {RejectedInbound,Quarantined}", "\n".join(lines))


def test_logwatch_amavis_reads_the_log_lines():
    main_lines = [l for l in LOG_LINES if re.search(r"\]: (Passed|Blocked) ", l)]
    check(len(main_lines) > 0, "log lines were collected by the tests before")
    # syslog's "date host ident[pid]: " is what logwatch removes before its amavis service.
    text = "".join(re.sub(r"^\S+ mailsift\[\d+\]: ", "", l) + "\n" for l in main_lines)
    r = subprocess.run(["perl", LOGWATCH_AMAVIS], input=text.encode(), capture_output=True,
                       env=dict(os.environ, LOGWATCH_DETAIL_LEVEL="10"), timeout=60)
    out = r.stdout.decode(errors="replace")
    check(r.returncode == 0, "logwatch's amavis service runs", r.stderr.decode())
    unmatched = re.search(r"Unmatched Entries", out)
    check(unmatched is None, "logwatch matched every line", out[-3000:])
    expected = {
        "Malware blocked": sum("Blocked INFECTED" in l for l in main_lines),
        "Banned name blocked": sum("Blocked BANNED" in l for l in main_lines),
        "Unchecked blocked": sum("Blocked UNCHECKED" in l for l in main_lines),
        "Spam blocked": sum("Blocked SPAM" in l for l in main_lines),
        "Clean passed": sum("Passed CLEAN" in l for l in main_lines),
        "Bad header passed": sum("Passed BAD-HEADER" in l for l in main_lines),
    }
    for label, n in expected.items():
        if n == 0:
            continue
        m = re.search(r"^\s*(\d+)\s+%s\b" % re.escape(label), out, re.M)
        check(m is not None and int(m.group(1)) == n,
              "logwatch counts %d %s" % (n, label), out[:3000])


TESTS = [
    test_viruses_after_queue_are_discarded_quarantined_and_released,
    test_clamd_stopped_tempfails,
    test_banned_files_are_blocked,
    test_bad_header_passes_tagged_and_quarantined,
    test_policy_bank_by_listener_bypasses_banned_checks,
    test_before_queue_rejects_reach_the_sending_client_through_postfix,
    test_logwatch_amavis_reads_the_log_lines,
]

if __name__ == "__main__":
    BIN = h.mailsift_path()
    for need in (CLAMD, LOGWATCH_AMAVIS):
        if not os.path.exists(need):
            print("%s is missing: run scripts/install-deps.sh" % need)
            sys.exit(1)
    sys.exit(h.TestRunner("verdict").run(TESTS, only=h.only_args()))
