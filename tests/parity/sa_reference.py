#!/usr/bin/python3
"""Helper of scripts/parity-reference.sh: the sample, the cache key, and a spamd client.

Python 3 standard library only. Sub-commands (the shell script calls them in this order):

  sample --corpus DIR --out FILE
      Picks the parity sample from the flat corpus directory of scripts/fetch-corpus.sh: the
      first 150 files by name of each of easy-ham-1, hard-ham-1 and spam-2 (as in the
      SpamAssassin public corpus, where file names are NNNNN.<md5>). Writes FILE with one line
      per message: "<reference name>\t<absolute path>", the reference name being
      "<group>/<NNNNN>.<md5>.txt" (the corpus file is "<group>.<NNNNN>.<md5>.eml").

  key --sample FILE --settings FILE
      Prints the cache key: a SHA-256 over the SpamAssassin version, the contents of every
      rule/config file SpamAssassin reads (the sa-update dir and /usr/share/spamassassin when
      present, /etc/spamassassin), the sample (reference names and SHA-256 of each message),
      the spamd settings and this helper's format version.

  free-port
      Prints a free TCP port on 127.0.0.1.

  wait --port P --pid PID [--timeout S]
      Waits until spamd answers PING with PONG (exit 0), or PID is gone / timeout (exit 1).

  scan --port P --sample FILE --out FILE [--concurrency 2]
      Sends every message with the SPAMC/1.5 HEADERS command and writes the reference TSV:
        file  score  rules_with_scores  subrules_hit(count)
      (the layout of the project's parity reference):
      score with two decimals (spamd's one-decimal score), scored rules "NAME=score" sorted by
      name, sub-rules "__NAME" or "__NAME(count)" sorted by name, empty field when none.
      The three values come from the "Spam:" response header and from the X-Spam-MsParity*
      headers that the settings ask spamd to add (see scripts/parity-reference.sh).
"""

import argparse
import hashlib
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time

FORMAT_VERSION = "mailsift-parity-reference/2"
GROUPS = ("easy-ham-1", "hard-ham-1", "spam-2")
PER_GROUP = 150
RULE_DIRS = ("/var/lib/spamassassin/4.000001", "/usr/share/spamassassin", "/etc/spamassassin")
SCAN_TIMEOUT = 120.0


def corpus_to_reference_name(name):
    """'easy-ham-1.00001.x.eml' -> 'easy-ham-1/00001.x.txt' (None for other names)."""
    for g in GROUPS:
        if name.startswith(g + ".") and name.endswith(".eml"):
            return g + "/" + name[len(g) + 1:-len(".eml")] + ".txt"
    return None


def cmd_sample(args):
    names = sorted(os.listdir(args.corpus))
    rows = []
    for g in GROUPS:
        picked = [n for n in names if n.startswith(g + ".") and n.endswith(".eml")]
        picked.sort(key=corpus_to_reference_name)
        if len(picked) < PER_GROUP:
            sys.exit("sa_reference: %s has only %d messages of %s" % (args.corpus, len(picked), g))
        for n in picked[:PER_GROUP]:
            rows.append("%s\t%s\n" % (corpus_to_reference_name(n),
                                      os.path.abspath(os.path.join(args.corpus, n))))
    with open(args.out, "w") as f:
        f.write("".join(rows))
    return 0


def read_sample(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                ref, p = line.split("\t", 1)
                out.append((ref, p))
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Optional Perl modules whose presence changes what SpamAssassin finds (Email::Address::XS, for
# one, changes how addresses are parsed, and so the envelope sender of some messages).
PERL_MODULES = ("Mail::SpamAssassin", "Email::Address::XS", "Mail::DKIM", "Mail::SPF",
                "Mail::DMARC::PurePerl", "Net::DNS", "HTML::Parser", "Encode::Detect::Detector",
                "Digest::SHA", "MIME::Base64", "Net::Patricia", "IP::Country::Fast",
                "Geo::IP", "GeoIP2::Database::Reader", "Archive::Zip", "IO::String",
                "Mail::SpamAssassin::CompiledRegexps::body_0")
PERL_VERSIONS = r"""
for my $m (@ARGV) {
  my $v = eval "require $m; 1" ? (eval "\$${m}::VERSION" // "present") : "none";
  print "$m $v\n";
}
print "perl $]\n";
"""


def sa_version():
    """SpamAssassin's version with those of Perl and the optional modules it uses."""
    try:
        p = subprocess.run(["perl", "-e", PERL_VERSIONS] + list(PERL_MODULES),
                           capture_output=True, text=True, timeout=60)
        v = p.stdout
    except OSError:
        v = ""
    try:
        p = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", "spamassassin",
                            "spamd"], capture_output=True, text=True, timeout=60)
        v += p.stdout
    except OSError:
        pass
    return v


def cmd_key(args):
    h = hashlib.sha256()
    h.update(FORMAT_VERSION.encode() + b"\n")
    h.update(b"version " + sa_version().encode() + b"\n")
    for d in RULE_DIRS:
        if not os.path.isdir(d):
            h.update(b"nodir " + d.encode() + b"\n")
            continue
        for root, dirs, files in os.walk(d):
            dirs.sort()
            for fn in sorted(files):
                p = os.path.join(root, fn)
                if os.path.isfile(p):
                    h.update(("file %s %s\n" % (p, sha256_file(p))).encode())
    for ref, p in read_sample(args.sample):
        h.update(("msg %s %s\n" % (ref, sha256_file(p))).encode())
    with open(args.settings, "rb") as f:
        h.update(b"settings\n" + f.read())
    print(h.hexdigest())
    return 0


def cmd_free_port(_args):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
    return 0


def _request(port, command, body=b"", timeout=SCAN_TIMEOUT):
    """One SPAMC/1.5 request; returns (status line, dict of response headers, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        head = "%s SPAMC/1.5\r\n" % command
        if command != "PING":
            head += "Content-length: %d\r\n" % len(body)
        head += "\r\n"
        s.sendall(head.encode("ascii") + body)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    data = b"".join(chunks)
    sep = data.find(b"\r\n\r\n")
    if sep < 0:
        head_part, rest = data, b""
    else:
        head_part, rest = data[:sep], data[sep + 4:]
    lines = head_part.decode("latin-1").split("\r\n")
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers, rest


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def cmd_wait(args):
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if args.pid and not _pid_alive(args.pid):
            print("sa_reference: spamd (pid %d) exited" % args.pid, file=sys.stderr)
            return 1
        try:
            status, _, _ = _request(args.port, "PING", timeout=5)
            if "PONG" in status:
                return 0
        except OSError:
            pass
        time.sleep(0.1)
    print("sa_reference: spamd did not answer PING within %.0fs" % args.timeout, file=sys.stderr)
    return 1


def _header_values(raw_headers, name):
    """All values of header `name` in a raw header block, unfolded."""
    text = raw_headers.decode("latin-1").replace("\r\n", "\n")
    out = []
    pat = re.compile(r"^" + re.escape(name) + r":[ \t]*(.*(?:\n[ \t].*)*)", re.I | re.M)
    for m in pat.finditer(text):
        out.append(m.group(1))
    return out


def _names(value):
    """'A=1,\\n\\tB=2' -> 'A=1,B=2'; 'none' -> ''."""
    v = re.sub(r"\s+", "", value or "")
    return "" if v == "none" else v


def scan_one(port, path):
    with open(path, "rb") as f:
        body = f.read()
    last_err = None
    for attempt in range(3):
        try:
            status, headers, rest = _request(port, "HEADERS", body)
            break
        except OSError as e:
            last_err = e
            time.sleep(0.5 * (attempt + 1))
    else:
        raise RuntimeError("%s: spamd request failed: %s" % (path, last_err))
    if not re.match(r"SPAMD/\S+ 0 ", status):
        raise RuntimeError("%s: spamd replied %r" % (path, status))
    m = re.match(r"(True|False|Yes|No)\s*;\s*(-?[0-9.]+)\s*/\s*(-?[0-9.]+)",
                 headers.get("spam", ""), re.I)
    if not m:
        raise RuntimeError("%s: no Spam: line in %r" % (path, headers))
    score = float(m.group(2))
    tests = _header_values(rest, "X-Spam-MsParityTests")
    subs = _header_values(rest, "X-Spam-MsParitySubtests")
    if len(tests) != 1 or len(subs) != 1:
        raise RuntimeError("%s: expected one X-Spam-MsParityTests/Subtests header, got %d/%d"
                           % (path, len(tests), len(subs)))
    return "%.2f" % score, _names(tests[0]), _names(subs[0])


def cmd_scan(args):
    sample = read_sample(args.sample)
    results = [None] * len(sample)
    errors = []
    q = queue.Queue()
    for i in range(len(sample)):
        q.put(i)

    def worker():
        while not errors:
            try:
                i = q.get_nowait()
            except queue.Empty:
                return
            try:
                results[i] = scan_one(args.port, sample[i][1])
            except Exception as e:  # reported below; stops the other workers
                errors.append(str(e))
                return

    start = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for e in errors:
            print("sa_reference: " + e, file=sys.stderr)
        return 1
    elapsed = time.monotonic() - start
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("file\tscore\trules_with_scores\tsubrules_hit(count)\n")
        for (ref, _), (score, tests, subs) in zip(sample, results):
            f.write("%s\t%s\t%s\t%s\n" % (ref, score, tests, subs))
    os.replace(tmp, args.out)
    print("sa_reference: scanned %d messages in %.1fs (%.1f msgs/s, concurrency %d)"
          % (len(sample), elapsed, len(sample) / elapsed if elapsed else 0.0, args.concurrency),
          file=sys.stderr)
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sample")
    p.add_argument("--corpus", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("key")
    p.add_argument("--sample", required=True)
    p.add_argument("--settings", required=True)
    sub.add_parser("free-port")
    p = sub.add_parser("wait")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120.0)
    p = sub.add_parser("scan")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sample", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--concurrency", type=int, default=2)
    args = ap.parse_args(argv)
    return {"sample": cmd_sample, "key": cmd_key, "free-port": cmd_free_port,
            "wait": cmd_wait, "scan": cmd_scan}[args.cmd](args)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("sa_reference: interrupted", file=sys.stderr)
        sys.exit(130)
