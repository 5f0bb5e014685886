#!/usr/bin/python3
"""Prometheus metrics (`[metrics] address`), scraped over HTTP while mail flows.

Usage: python3 tests/integration/test_metrics.py --mailsift PATH [-k NAME]

The supervisor serves the metrics, so its listener and its counters outlive every generation:
  - smtp-source sends N messages through mailsift to smtp-sink; /metrics then says N relayed,
    N sessions, N CLEAN/pass verdicts and N timings of each enabled check (the text parses as
    Prometheus's text format: TYPE before samples, cumulative histograms ending in +Inf equal
    to _count);
  - a reload while a scraper keeps scraping: every scrape is answered and no counter ever goes
    down; M more messages give N+M, also once the old generation has exited; reloads_total
    counts the good reload and, after a broken config, the failed one; an `upgrade` keeps the
    listener and the totals;
  - GET of another path is 404, POST is 405, HEAD has no body;
  - clients that connect and send nothing (or half a request) do not delay a concurrent scrape,
    and are closed by mailsift after a short deadline;
  - a reload that moves the metrics address serves on the new one and closes the old one; a
    reload to an address that cannot be bound is refused naming metrics.address (the old one
    keeps answering); at start, such an address is a start error naming the key.
"""

import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import check, check_eq  # noqa: E402

BIN = None


# --------------------------------------------------------------------------------------------
# Scraping and parsing

def scrape(port, path="/metrics", method="GET", timeout=5):
    """(status, headers dict with lower-case names, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        conn.close()


SAMPLE_RX = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RX = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse(text):
    """Parses Prometheus text format 0.0.4 strictly; returns {(name, ((label, value), ...)):
    float}. Raises AssertionError on anything Prometheus would refuse or that breaks the
    rules for counters and histograms."""
    types, samples, order = {}, {}, []
    current, finished = None, set()
    assert text.endswith("\n"), "the text must end with a line feed"
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert name not in types, "second TYPE for " + name
            types[name] = kind
            if current:
                finished.add(current)
            current = name
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE_RX.match(line)
        assert m, "bad sample line %r" % line
        name, labels_text, value = m.groups()
        labels = []
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = LABEL_RX.match(labels_text, pos)
                assert lm, "bad labels in %r" % line
                labels.append((lm.group(1), lm.group(2)))
                pos = lm.end()
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and types.get(base) == "histogram":
                family = base
        assert family in types, "sample before its TYPE: %r" % line
        assert family == current and family not in finished, "family split: %r" % line
        if types[family] == "counter":
            assert family.endswith("_total"), "counter without _total: " + family
        key = (name, tuple(labels))
        assert key not in samples, "repeated sample %r" % line
        samples[key] = float(value)
        order.append(key)
    # Histograms: per label set, ascending le, cumulative, last +Inf == _count.
    series = {}
    for name, labels in order:
        if name.endswith("_bucket") and types.get(name[:-7]) == "histogram":
            rest = tuple(l for l in labels if l[0] != "le")
            le = dict(labels)["le"]
            series.setdefault((name[:-7], rest), []).append(
                (float("inf") if le == "+Inf" else float(le), samples[(name, labels)]))
    for (family, rest), buckets in series.items():
        bounds = [b for b, _ in buckets]
        values = [v for _, v in buckets]
        assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), "le order"
        assert values == sorted(values), "buckets not cumulative in %s%r" % (family, rest)
        assert bounds[-1] == float("inf"), "no +Inf bucket in %s%r" % (family, rest)
        assert samples.get((family + "_count", rest)) == values[-1], "+Inf != _count"
    return samples


def value(samples, name, **labels):
    """A sample's value (0 when absent: a counter not yet seen)."""
    for (n, ls), v in samples.items():
        if n == name and dict(ls) == labels:
            return v
    return 0


def metrics(port):
    status, headers, body = scrape(port)
    check_eq(status, 200, "GET /metrics status")
    check(headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
          "Prometheus text format", headers.get("content-type"))
    return parse(body)


# --------------------------------------------------------------------------------------------
# Mail and control

def send(port, count, sessions=2):
    p = h.run_smtp_source(["-s", str(sessions), "-m", str(count), "-f", "sender@example.org",
                           "-t", "rcpt@example.net", "-M", "client.example",
                           "127.0.0.1:%d" % port])
    check_eq(p.returncode, 0, "smtp-source sent %d messages (%s)" % (count, p.stderr.strip()))


def ctl(ms, verb):
    return subprocess.run([BIN, verb, "--config", ms.config_path], capture_output=True,
                          text=True, timeout=60)


def metrics_config(sink, port):
    # The header and banned-file checks are cheap and need no daemon: each message then gets
    # a verdict and a timing per check.
    return h.base_config(sink.address, metrics={"address": "127.0.0.1:%d" % port},
                         bad_header={"enabled": True}, banned={"enabled": True})


def rewrite_metrics_port(ms, old, new):
    text = open(ms.config_path).read()
    assert "127.0.0.1:%d" % old in text
    open(ms.config_path, "w").write(text.replace("127.0.0.1:%d" % old, "127.0.0.1:%d" % new))


class Scraper:
    """Scrapes every few milliseconds in a thread; keeps each outcome."""

    def __init__(self, port):
        self.port = port
        self.results = []     # (relayed, sessions) per good scrape
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)

    def _run(self):
        while not self._stop.is_set():
            try:
                status, _, body = scrape(self.port, timeout=5)
                if status != 200:
                    self.errors.append("status %d" % status)
                else:
                    s = parse(body)
                    self.results.append((value(s, "mailsift_messages_relayed_total"),
                                         value(s, "mailsift_sessions_total")))
            except Exception as e:  # noqa: BLE001 — every failure is a finding
                self.errors.append(repr(e))
            time.sleep(0.02)


# --------------------------------------------------------------------------------------------
# Tests

def test_counts_across_reload_and_upgrade():
    N, M = 12, 8
    port = h.free_port()
    with h.SmtpSink() as sink, h.Mailsift(BIN, metrics_config(sink, port)) as ms:
        s = metrics(port)
        check_eq(value(s, "mailsift_up"), 1, "mailsift_up")
        check_eq(value(s, "mailsift_messages_relayed_total"), 0, "nothing relayed yet")
        check_eq(value(s, "mailsift_generations", state="serving"), 1, "one serving generation")

        send(ms.port, N)
        s = metrics(port)
        check_eq(value(s, "mailsift_messages_relayed_total"), N, "relayed = N")
        check_eq(value(s, "mailsift_sessions_total"), N, "sessions = N (one per message)")
        check_eq(value(s, "mailsift_messages_total", category="CLEAN", action="pass"), N,
                 "N CLEAN messages passed")
        for c in ("banned", "bad_header"):
            check_eq(value(s, "mailsift_check_duration_seconds_count", check=c), N,
                     "N timings of the %s check" % c)
            check(value(s, "mailsift_check_duration_seconds_bucket", check=c, le="+Inf") == N,
                  "its +Inf bucket holds them all")
        check_eq(value(s, "mailsift_messages_tempfailed_total"), 0, "nothing tempfailed")
        check_eq(value(s, "mailsift_relay_errors_total"), 0, "no next-hop errors")
        h.wait_until(lambda: value(metrics(port), "mailsift_sessions_active") == 0, 10,
                     what="sessions_active to drop to 0")

        with Scraper(port) as scraper:
            time.sleep(0.2)
            r = ctl(ms, "reload")
            check_eq(r.returncode, 0, "reload (%s)" % r.stderr.strip())
            time.sleep(0.2)
        check_eq(scraper.errors, [], "every scrape during the reload was answered")
        check(len(scraper.results) >= 5, "the scraper scraped throughout",
              str(len(scraper.results)))
        check(all(r == (N, N) for r in scraper.results), "no counter reset or gap",
              str(sorted(set(scraper.results))))

        send(ms.port, M)
        s = metrics(port)
        check_eq(value(s, "mailsift_messages_relayed_total"), N + M, "relayed = N + M")
        check_eq(value(s, "mailsift_sessions_total"), N + M, "sessions = N + M")
        check_eq(value(s, "mailsift_reloads_total", result="ok"), 1, "one good reload")
        check_eq(value(s, "mailsift_reloads_total", result="failed"), 0, "no failed reload")
        h.wait_until(lambda: value(metrics(port), "mailsift_generations", state="draining") == 0,
                     30, what="the old generation to exit")
        s = metrics(port)
        check_eq(value(s, "mailsift_messages_relayed_total"), N + M,
                 "still N + M once the old generation has gone")
        check_eq(value(s, "mailsift_messages_total", category="CLEAN", action="pass"), N + M,
                 "and N + M verdicts")
        check_eq(value(s, "mailsift_check_duration_seconds_count", check="banned"), N + M,
                 "and N + M check timings")

        good = open(ms.config_path).read()
        open(ms.config_path, "w").write(good + "\n[limits]\nmax_sessions = \"many\"\n")
        r = ctl(ms, "reload")
        check(r.returncode != 0, "a broken config is refused")
        open(ms.config_path, "w").write(good)
        s = metrics(port)
        check_eq(value(s, "mailsift_reloads_total", result="failed"), 1, "one failed reload")
        check_eq(value(s, "mailsift_reloads_total", result="ok"), 1, "still one good reload")

        r = ctl(ms, "upgrade")
        check_eq(r.returncode, 0, "upgrade (%s)" % r.stderr.strip())
        s = metrics(port)
        check_eq(value(s, "mailsift_messages_relayed_total"), N + M,
                 "after an upgrade: the same listener, the same totals")
        check_eq(value(s, "mailsift_reloads_total", result="ok"), 1, "and reload counts")


def test_http_answers():
    port = h.free_port()
    with h.SmtpSink() as sink, h.Mailsift(BIN, metrics_config(sink, port)):
        status, headers, body = scrape(port, "/")
        check_eq(status, 404, "GET / is 404")
        status, _, _ = scrape(port, "/metrics/other")
        check_eq(status, 404, "another path is 404")
        status, headers, _ = scrape(port, "/metrics", method="POST")
        check_eq(status, 405, "POST /metrics is 405")
        check_eq(headers.get("allow"), "GET, HEAD", "with Allow")
        status, headers, body = scrape(port, "/metrics", method="HEAD")
        check_eq((status, body), (200, ""), "HEAD: 200 without a body")
        check(int(headers["content-length"]) > 0, "but with the body's length")
        status, headers, body = scrape(port, "/metrics?name[]=x")
        check_eq(status, 200, "a query string is ignored")
        check_eq(headers.get("connection"), "close", "Connection: close")
        # A raw HTTP/1.0 request, as curl --http1.0 sends it.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        check(data.startswith(b"HTTP/1.0 200 OK\r\n") and b"\r\n\r\n# HELP" in data,
              "HTTP/1.0 request answered, then closed", data[:100].decode())


def test_silent_clients_do_not_block_a_scrape():
    port = h.free_port()
    with h.SmtpSink() as sink, h.Mailsift(BIN, metrics_config(sink, port)) as ms:
        silent = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
        partial = socket.create_connection(("127.0.0.1", port), timeout=5)
        partial.sendall(b"GET /metr")
        try:
            time.sleep(0.1)
            start = time.monotonic()
            s = metrics(port)
            took = time.monotonic() - start
            check(took < 0.5, "a scrape beside silent clients is answered at once",
                  "%.3f s" % took)
            check_eq(value(s, "mailsift_up"), 1, "and complete")
            # Mail flows meanwhile (the supervisor's loop is not held up either).
            send(ms.port, 2)
            for c in silent + [partial]:
                c.settimeout(5)
            start = time.monotonic()
            closed = all(c.recv(100) == b"" for c in silent + [partial])
            check(closed, "the silent clients were closed without an answer")
            check(time.monotonic() - start < 4, "after a short deadline",
                  "%.1f s" % (time.monotonic() - start))
        finally:
            for c in silent + [partial]:
                c.close()


def test_address_changes_and_bind_failures():
    port, moved = h.free_port(), h.free_port()
    with h.SmtpSink() as sink, h.Mailsift(BIN, metrics_config(sink, port)) as ms:
        send(ms.port, 3)
        rewrite_metrics_port(ms, port, moved)
        r = ctl(ms, "reload")
        check_eq(r.returncode, 0, "reload with a new metrics address (%s)" % r.stderr.strip())
        s = metrics(moved)
        check_eq(value(s, "mailsift_messages_relayed_total"), 3, "the new address serves")

        def old_closed():
            try:
                scrape(port, timeout=1)
                return False
            except OSError:
                return True
        h.wait_until(old_closed, 10, what="the old metrics address to close")
        check(old_closed(), "the old address is closed after the handoff")

        # An address that cannot be bound: the reload is refused, the metrics stay.
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        try:
            rewrite_metrics_port(ms, moved, busy)
            r = ctl(ms, "reload")
            check(r.returncode != 0, "a reload to a busy metrics address is refused")
            check("metrics.address" in r.stderr, "naming the key", r.stderr.strip())
            rewrite_metrics_port(ms, busy, moved)
            s = metrics(moved)
            check_eq(value(s, "mailsift_reloads_total", result="failed"), 1,
                     "the metrics keep answering, and count the failed reload")

            # At start, the same address is a start error naming the key.
            with h.SmtpSink() as sink2:
                cfg = h.base_config(sink2.address, metrics={"address": "127.0.0.1:%d" % busy})
                try:
                    with h.Mailsift(BIN, cfg) as other:
                        other.stop()
                        started = True
                except RuntimeError as e:
                    started = False
                    message = str(e)
                check(not started, "mailsift does not start on a busy metrics address")
                check("metrics.address" in message, "and names the key", message[-500:])
        finally:
            taken.close()


TESTS = [test_counts_across_reload_and_upgrade, test_http_answers,
         test_silent_clients_do_not_block_a_scrape, test_address_changes_and_bind_failures]

if __name__ == "__main__":
    BIN = h.mailsift_path()
    sys.exit(h.TestRunner("metrics").run(TESTS, only=h.only_args()))
