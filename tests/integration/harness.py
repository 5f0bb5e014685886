#!/usr/bin/python3
"""Reusable helpers for mailsift's integration tests (Python 3 standard library only).

Everything runs on 127.0.0.1 with ports picked at run time; every process started here is
stopped by its context manager (try/finally), and every wait has a bounded timeout.

Pieces:
  free_port()              a free loopback TCP port
  SmtpSink                 runs Postfix's smtp-sink with a dump file, optional LMTP and
                           reject/delay flags; parse_dump() reads its dump into transactions
  Mailsift                 writes a TOML config from a dict and runs `mailsift foreground`
  SmtpClient               a raw-socket SMTP client for scripted dialogues
  RecordingServer          a tiny SMTP/LMTP server written in Python that records the raw bytes it
                           receives. It is a TEST DOUBLE ONLY, used where a test must assert the
                           exact bytes (line ends, dot-stuffing, commands) that reach the next
                           hop, which smtp-sink's dump cannot show (the dump drops every CR).
  run_smtp_source()        runs Postfix's smtp-source
  corpus_dir(), corpus_index()  the SpamAssassin corpus from scripts/fetch-corpus.sh
  TestRunner               a tiny runner that prints each check and ends with "N passed, N failed"

Typical use:
  with SmtpSink(reject=["."], reject_reply="554 5.7.1 no") as sink:
      cfg = base_config(sink.address, smtp={"bare_newline": "normalize"})
      with Mailsift(mailsift_path(), cfg) as ms, SmtpClient(ms.port) as c:
          c.greeting(); c.cmd("EHLO me"); ...
      for t in sink.transactions(): t.mail_from, t.rcpt_to, t.split_mailsift_received()

Facts about the Postfix 3.7 test tools that the helpers rely on (checked by experiment):
  * smtp-source -F FILE sends each LF-terminated line of FILE followed by CRLF (a CR before the LF
    stays in the line, so "x\\r\\n" in the file goes out as "x\\r\\r\\n"; a bare CR inside a line
    is sent as it is; a last line without LF gets CRLF too), prepends "." to lines starting with
    ".", and then sends one extra empty line (CRLF) before the final ".".
    On a non-2xx reply it exits 1 ("fatal: ..."), or with -A it prints
    "smtp-source: warning: end of data rejected: REPLY" and goes on.
  * smtp-sink -D FILE appends each transaction to FILE: the -S start string (we use a unique
    marker line), the lines X-Client-Addr, X-Client-Proto, X-Helo-Args (if HELO/EHLO/LHLO was
    seen), X-Mail-Args (the MAIL FROM arguments, e.g. "<a@x> RET=HDRS ENVID=e"), one X-Rcpt-Args
    per RCPT (e.g. "<b@y> NOTIFY=NEVER ORCPT=rfc822;b@y"), a 3-line "Received: ... (smtp-sink)
    with PROTO id HEX; DATE" header, then the message lines after de-stuffing, each ended by LF
    with every CR byte removed, then one empty line. XFORWARD is NOT in the dump: smtp-sink -v
    logs every command (XFORWARD included) on stderr, which SmtpSink.commands() parses.
    smtp-sink announces "XFORWARD NAME ADDR PROTO HELO" only, and has no BDAT.
  * smtp-sink running as root must be given -u USER; it opens the dump file after dropping
    privileges, so the dump directory must be writable by that user.
"""

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

DEFAULT_TIMEOUT = 10.0


# --------------------------------------------------------------------------------------------
# Ports and waiting

def free_port():
    """Returns a loopback TCP port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(")") + 2:].split()[0] not in ("Z", "X")


def port_is_listening(port):
    """True when something listens on 127.0.0.1:port (or the wildcard), read from /proc so that
    no connection (and so no SMTP session) is made."""
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                local, state = parts[1], parts[3]
                addr, p = local.split(":")
                if int(p, 16) == port and state == "0A" and addr in ("0100007F", "00000000"):
                    return True
        return False
    except OSError:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))


def _stop_process(proc, timeout=DEFAULT_TIMEOUT, sig=signal.SIGTERM):
    """Sends sig to proc and waits; kills it if it does not stop in time. Returns its exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode


# --------------------------------------------------------------------------------------------
# smtp-sink

def _sink_user_args():
    return ["-u", "nobody"] if os.geteuid() == 0 else []


class SinkTransaction:
    """One transaction from smtp-sink's dump file."""

    def __init__(self, client_addr, client_proto, helo, mail_args, rcpt_args, sink_received,
                 text):
        self.client_addr = client_addr      # X-Client-Addr
        self.client_proto = client_proto    # X-Client-Proto: SMTP, ESMTP or LMTP
        self.helo = helo                    # X-Helo-Args or None
        self.mail_args = mail_args          # X-Mail-Args, e.g. "<a@x> RET=HDRS"
        self.rcpt_args = rcpt_args          # list of X-Rcpt-Args
        self.sink_received = sink_received  # smtp-sink's own Received header (bytes)
        self.text = text                    # message bytes, lines ended by LF, CRs removed

    @property
    def mail_from(self):
        m = re.match(r"<([^>]*)>", self.mail_args or "")
        return m.group(1) if m else None

    @property
    def rcpt_to(self):
        out = []
        for a in self.rcpt_args:
            m = re.match(r"<([^>]*)>", a)
            out.append(m.group(1) if m else a)
        return out

    def split_mailsift_received(self):
        """Returns (received_header_bytes, rest) when the message starts with one Received
        header containing "(mailsift, port", else (None, text)."""
        return split_first_received(self.text, b"\n")

    def __repr__(self):
        return "<SinkTransaction from=%r rcpt=%r %d bytes>" % (self.mail_args, self.rcpt_args,
                                                                len(self.text))


def split_first_received(text, eol=b"\n"):
    """If text starts with a 'Received: from' header containing '(mailsift, port', returns
    (that header including its line ends, the rest); else (None, text)."""
    if not text.startswith(b"Received: from"):
        return None, text
    pos = text.find(eol)
    while pos >= 0:
        nxt = pos + len(eol)
        if nxt < len(text) and text[nxt:nxt + 1] in (b" ", b"\t"):
            pos = text.find(eol, nxt)
            continue
        header, rest = text[:nxt], text[nxt:]
        if b"(mailsift, port" not in header:
            return None, text
        return header, rest
    return None, text


def received_id(header):
    """The 'id X' of a Received header (bytes or str), or None."""
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    m = re.search(r"\bid\s+([^\s;]+)", header)
    return m.group(1) if m else None


def parse_dump(data, marker):
    """Parses smtp-sink -D dump bytes written with -S marker (a line) into SinkTransactions."""
    sep = marker.encode() + b"\n"
    if not data:
        return []
    if not data.startswith(sep):
        raise ValueError("dump does not start with the marker")
    parts = data.split(sep)
    if parts[0] != b"":
        raise ValueError("dump does not start with the marker")
    out = []
    for k, chunk in enumerate(parts[1:]):
        try:
            out.append(_parse_dump_chunk(chunk))
        except ValueError:
            if k == len(parts) - 2:
                break       # the last entry may still be being written
            raise
    return out


def _parse_dump_chunk(chunk):
    fields = {"X-Client-Addr": None, "X-Client-Proto": None, "X-Helo-Args": None,
              "X-Mail-Args": None}
    rcpts = []
    pos = 0
    while True:
        nl = chunk.find(b"\n", pos)
        if nl < 0:
            raise ValueError("truncated smtp-sink dump entry: %r" % chunk[:200])
        line = chunk[pos:nl].decode("latin-1")
        if line.startswith("Received: "):
            break
        name, _, value = line.partition(": ")
        if name == "X-Rcpt-Args":
            rcpts.append(value)
        elif name in fields:
            fields[name] = value
        else:
            raise ValueError("unexpected smtp-sink dump line %r" % line)
        pos = nl + 1
    # smtp-sink's own Received header: first line plus TAB-continued lines.
    start = pos
    pos = chunk.find(b"\n", pos) + 1
    while chunk[pos:pos + 1] == b"\t":
        pos = chunk.find(b"\n", pos) + 1
    received = chunk[start:pos]
    body = chunk[pos:]
    if not body.endswith(b"\n"):
        raise ValueError("smtp-sink dump entry does not end with its empty line")
    text = body[:-1]
    return SinkTransaction(fields["X-Client-Addr"], fields["X-Client-Proto"],
                           fields["X-Helo-Args"], fields["X-Mail-Args"], rcpts, received, text)


def expected_dump_text(file_bytes):
    """What smtp-sink's dump shows for a file sent with `smtp-source -F file` (through a relay that
    changes nothing): every line of the file (split at LF) followed by LF, every CR removed,
    plus the empty line smtp-source adds before the final dot."""
    lines = file_bytes.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join(l.replace(b"\r", b"") + b"\n" for l in lines) + b"\n"


def smtp_source_wire_data(file_bytes):
    """The DATA bytes smtp-source -F puts on the wire for file_bytes, up to and including the
    final CRLF.CRLF."""
    lines = file_bytes.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for l in lines:
        if l.startswith(b"."):
            l = b"." + l
        out.append(l + b"\r\n")
    return b"".join(out) + b"\r\n.\r\n"


class SmtpSink:
    """Postfix smtp-sink on 127.0.0.1:<free port>, dumping every transaction.

    flags: extra smtp-sink options, e.g. ["-f", "."] or ["-W", ".:5"]. The keyword shortcuts
    add the same options: reject=["RCPT"] (-f, 5xx; text with reject_reply="550 5.1.1 ..."),
    tempfail=["."] (-r, 4xx; text with tempfail_reply=...), disconnect=["."] (-q, close
    without reply), close_421=["."] (-Q), data_delay=SECONDS (-w, before answering DATA),
    delays=[(".", SECONDS)] (-W command:delay).
    verbose: run with -v; commands() then returns the commands it received."""

    def __init__(self, lmtp=False, flags=(), verbose=False, hostname="sinkhost", dump=True,
                 backlog=1024, max_conn=256, timeout=DEFAULT_TIMEOUT, reject=(),
                 reject_reply=None, tempfail=(), tempfail_reply=None, disconnect=(),
                 close_421=(), data_delay=None, delays=()):
        self.lmtp = lmtp
        self.flags = []
        for opt, cmds in (("-f", reject), ("-r", tempfail), ("-q", disconnect),
                          ("-Q", close_421)):
            if cmds:
                self.flags += [opt, ",".join(cmds)]
        if reject_reply:
            self.flags += ["-B", reject_reply]
        if tempfail_reply:
            self.flags += ["-b", tempfail_reply]
        if data_delay is not None:
            self.flags += ["-w", str(data_delay)]
        for cmd, secs in delays:
            self.flags += ["-W", "%s:%s" % (cmd, secs)]
        self.flags += list(flags)
        self.verbose = verbose
        self.hostname = hostname
        self.dump = dump
        self.backlog = backlog
        self.max_conn = max_conn
        self.timeout = timeout
        self.port = None
        self.proc = None
        self.dir = None
        self.marker = "=smtp-sink-dump-%s=" % secrets.token_hex(8)
        self.stderr_text = ""

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    @property
    def dump_path(self):
        return os.path.join(self.dir, "dump")

    def start(self):
        if shutil.which("smtp-sink") is None and not os.path.exists("/usr/sbin/smtp-sink"):
            raise RuntimeError("smtp-sink not found (install postfix)")
        exe = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        self.dir = tempfile.mkdtemp(prefix="mailsift-sink-")
        os.chmod(self.dir, 0o777)   # smtp-sink opens the dump after dropping privileges
        for attempt in range(5):
            self.port = free_port()
            args = [exe] + _sink_user_args() + ["-m", str(self.max_conn), "-h", self.hostname]
            if self.lmtp:
                args.append("-L")
            if self.verbose:
                args.append("-v")
            if self.dump:
                args += ["-D", self.dump_path, "-S", self.marker + "\\n"]
            args += self.flags
            args += ["127.0.0.1:%d" % self.port, str(self.backlog)]
            self._stderr_file = open(os.path.join(self.dir, "stderr"), "w+b")
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=self._stderr_file)
            try:
                wait_until(lambda: port_is_listening(self.port) or self.proc.poll() is not None,
                           self.timeout, what="smtp-sink to listen")
            except TimeoutError:
                self.stop()
                raise
            if self.proc.poll() is None:
                return self
            self._stderr_file.close()   # port taken in the meantime: try another one
        raise RuntimeError("smtp-sink did not start: %s" % self._read_stderr())

    def _read_stderr(self):
        try:
            with open(os.path.join(self.dir, "stderr"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            _stop_process(self.proc, self.timeout)
            self.stderr_text = self._read_stderr()
            self._stderr_file.close()

    def cleanup(self):
        self.stop()
        if self.dir and os.environ.get("MAILSIFT_KEEP_TMP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()

    def dump_bytes(self):
        try:
            with open(self.dump_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def transactions(self):
        """Transactions dumped so far (a transaction appears once its final dot was seen)."""
        return parse_dump(self.dump_bytes(), self.marker)

    def wait_transactions(self, n, timeout=DEFAULT_TIMEOUT):
        """Waits until at least n transactions are in the dump; returns them all."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.transactions()
            if len(t) >= n or time.monotonic() >= deadline:
                return t
            time.sleep(0.05)

    def commands(self):
        """With verbose=True: the SMTP commands smtp-sink received, in order (from its -v
        log), grouped per connection: a list of lists of command strings."""
        text = self._read_stderr() if self.proc and self.proc.poll() is None else \
            (self.stderr_text or self._read_stderr())
        sessions, cur = [], None
        for line in text.splitlines():
            m = re.match(r"^(?:\S*/)?smtp-sink: (.*)$", line)
            if not m:
                continue
            s = m.group(1)
            if s.startswith("connect ("):
                cur = []
                sessions.append(cur)
            elif s == "disconnect" or s.startswith("disconnect"):
                cur = None
            elif cur is not None and re.match(r"^[A-Za-z]+( |$)|^\.$", s) and not any(
                    s.startswith(p) for p in ("name_mask", "trying", "vstream_", "fd=",
                                              "smtp_stream_setup", "connect", "warning",
                                              "fatal", "panic")):
                cur.append(s)
        return sessions


# --------------------------------------------------------------------------------------------
# mailsift

def mailsift_path(argv=None):
    """The mailsift binary: --mailsift PATH on the command line, else $MAILSIFT_BIN, else
    build/release/mailsift in the repository."""
    argv = sys.argv[1:] if argv is None else argv
    for i, a in enumerate(argv):
        if a == "--mailsift" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--mailsift="):
            return a.split("=", 1)[1]
    if os.environ.get("MAILSIFT_BIN"):
        return os.environ["MAILSIFT_BIN"]
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "build", "release", "mailsift")


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError("cannot write %r as TOML" % (v,))


def to_toml(config):
    """Writes {"server": {...}, "listen": [{...}, ...], ...} as TOML: dict values become
    [tables], lists of dicts become [[arrays of tables]], others top-level keys."""
    out = []
    for k, v in config.items():
        if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict)):
            out.append("%s = %s" % (k, _toml_value(v)))
    for k, v in config.items():
        if isinstance(v, dict):
            out.append("\n[%s]" % k)
            for kk, vv in v.items():
                out.append("%s = %s" % (kk, _toml_value(vv)))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                out.append("\n[[%s]]" % k)
                for kk, vv in item.items():
                    out.append("%s = %s" % (kk, _toml_value(vv)))
    return "\n".join(out) + "\n"


class Mailsift:
    """`mailsift foreground --config FILE` with a config written from a dict.

    config: the dict for to_toml(); [[listen]] addresses whose port is 0 (or that are missing)
    get a free port, [relay] next_hop is taken as given, [spool] directory defaults to a temp
    directory. After start(), .ports holds the listening ports in [[listen]] order (for a
    "unix:/path" listener, its path).

    mode, the ways a user runs the supervisor:
      "foreground"  `mailsift foreground` as a child of the test (stderr to a file);
      "start"       `mailsift start` (daemonized, pid file; [log] file is set to the same file
                    that read_stderr() reads, so the log is there in every mode);
      "notify"      `mailsift foreground` as systemd runs a Type=notify unit: NOTIFY_SOCKET
                    names a datagram socket of ours, whose messages notify_messages() returns;
      "socket"      "notify" plus socket activation: systemd-socket-activate (systemd's own
                    tool) binds the TCP listeners and execs mailsift with LISTEN_FDS once the
                    first connection arrives (start() makes that connection).
    relative_config: run the command from the config's directory with `--config mailsift.toml`.
    """

    MODES = ("foreground", "start", "notify", "socket")

    def __init__(self, binary, config, timeout=DEFAULT_TIMEOUT, stop_timeout=30.0,
                 mode="foreground", relative_config=False):
        if mode not in self.MODES:
            raise ValueError("mode must be one of %s" % (self.MODES,))
        self.mode = mode
        self.relative_config = relative_config
        self.start_result = None      # mode "start": the CompletedProcess of `mailsift start`
        self._daemon_pid = None
        self._notify = None
        self._notify_messages = []
        self.binary = binary
        self.config = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict)
                           else v) for k, v in config.items()}
        self.timeout = timeout
        # mailsift drains open sessions for a while after SIGTERM: wait longer than that.
        self.stop_timeout = stop_timeout
        self.proc = None
        self.dir = None
        self.ports = []
        self.stderr_text = ""
        self.returncode = None

    @property
    def port(self):
        return self.ports[0]

    @property
    def config_path(self):
        return os.path.join(self.dir, "mailsift.toml")

    @property
    def supervisor_pid(self):
        """The supervisor's pid: our child's, or the daemon's (from its pid file)."""
        if self.mode == "start":
            return self._daemon_pid
        return self.proc.pid if self.proc is not None else None

    def pid_file_pid(self):
        """The pid in the pid file, or None."""
        try:
            with open(self.config["control"]["pid_file"]) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError, KeyError):
            return None

    def notify_messages(self):
        """Every sd_notify datagram received so far (modes "notify" and "socket")."""
        time.sleep(0.05)  # what was sent just now is read by the thread
        with self._notify_lock:
            return list(self._notify_messages)

    def _read_notify(self):
        # Read at once, as systemd does: a full datagram queue would block sd_notify.
        sock = self._notify
        while True:
            try:
                data = sock.recv(4096)
            except socket.timeout:
                if self._notify is None:
                    return
                continue
            except OSError:
                return
            with self._notify_lock:
                self._notify_messages.append(data.decode())

    def _command(self, verb):
        config = "mailsift.toml" if self.relative_config else self.config_path
        return [self.binary, verb, "--config", config]

    def start(self):
        if not os.path.isfile(self.binary) or not os.access(self.binary, os.X_OK):
            raise RuntimeError("mailsift binary not found or not executable: %s" % self.binary)
        self.dir = tempfile.mkdtemp(prefix="mailsift-test-")
        listens = [dict(l) for l in self.config.get("listen", [{}])]
        self.ports = []
        for l in listens:
            addr = l.get("address")
            if addr is not None and addr.startswith("unix:"):
                self.ports.append(addr[len("unix:"):])     # a Unix socket: its path
                continue
            if addr is None or addr.endswith(":0"):
                port = free_port()
                l["address"] = "127.0.0.1:%d" % port
            else:
                port = int(addr.rsplit(":", 1)[1])
            self.ports.append(port)
        self.config["listen"] = listens
        spool = dict(self.config.get("spool", {}))
        spool.setdefault("directory", os.path.join(self.dir, "spool"))
        os.makedirs(spool["directory"], exist_ok=True)
        self.config["spool"] = spool
        # The supervisor's control socket and pid file live in the test's own directory, so
        # tests never meet each other (or a system instance) there.
        control = dict(self.config.get("control", {}))
        control.setdefault("socket", os.path.join(self.dir, "control.sock"))
        control.setdefault("pid_file", os.path.join(self.dir, "mailsift.pid"))
        self.config["control"] = control
        # Content checks are off unless the test asks for them: the proxy tests measure the
        # proxy (tests/integration/test_scan.py runs the checks).
        self.config.setdefault("spam", {"enabled": False})
        self.config.setdefault("banned", {"enabled": False})
        self.config.setdefault("bad_header", {"enabled": False})
        quarantine = dict(self.config.get("quarantine", {}))
        quarantine.setdefault("directory", os.path.join(self.dir, "quarantine"))
        self.config["quarantine"] = quarantine
        self._stderr_path = os.path.join(self.dir, "stderr")
        if self.mode == "start":
            self.config["log"] = dict(self.config.get("log", {}), file=self._stderr_path)
        with open(self.config_path, "w") as f:
            f.write(to_toml(self.config))
        self._stderr_file = open(self._stderr_path, "w+b")
        cwd = self.dir if self.relative_config else None
        if self.mode == "start":
            self.start_result = subprocess.run(self._command("start"), cwd=cwd,
                                               stdin=subprocess.DEVNULL, capture_output=True,
                                               text=True, timeout=self.timeout + 30)
            if self.start_result.returncode != 0:
                self.stop()
                raise RuntimeError("mailsift start exited %s: %s%s\nlog:\n%s" % (
                    self.start_result.returncode, self.start_result.stdout,
                    self.start_result.stderr, self.read_stderr()))
            self._daemon_pid = self.pid_file_pid()
            return self
        env = dict(os.environ)
        command = self._command("foreground")
        if self.mode in ("notify", "socket"):
            notify_path = os.path.join(self.dir, "notify")
            self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._notify.bind(notify_path)
            self._notify.settimeout(0.2)
            self._notify_lock = threading.Lock()
            self._notify_thread = threading.Thread(target=self._read_notify, daemon=True)
            self._notify_thread.start()
            env["NOTIFY_SOCKET"] = notify_path
        if self.mode == "socket":
            activate = shutil.which("systemd-socket-activate")
            if activate is None:
                raise RuntimeError("systemd-socket-activate is not installed")
            names = []
            prefix = [activate]
            for l in listens:
                addr = l["address"]
                if addr.startswith("unix:"):
                    raise ValueError("mode 'socket' binds TCP listeners only")
                names.append(l.get("name") or addr.replace(":", "_"))
                prefix.append("--listen=" + addr)
            prefix += ["--fdname=" + ":".join(names), "-E", "NOTIFY_SOCKET=" + notify_path]
            for key in ("MAILSIFT_PREFILTER", "MAILSIFT_PREFILTER_CACHE", "MAILSIFT_LOG"):
                if key in env:
                    prefix += ["-E", "%s=%s" % (key, env[key])]
            command = prefix + command
        self.proc = subprocess.Popen(command, cwd=cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr_file)
        if self.mode == "socket":
            # systemd-socket-activate execs mailsift when the first connection arrives; that
            # connection waits in the queue and is served once mailsift is up.
            def bound():
                return self.proc.poll() is not None or all(port_is_listening(p)
                                                           for p in self.ports)
            wait_until(bound, self.timeout, what="systemd-socket-activate's listeners")
            try:
                first = socket.create_connection(("127.0.0.1", self.ports[0]), timeout=1)
                first.close()
            except OSError:
                pass

        def ready():
            if self.proc.poll() is not None:
                return True
            return self.read_stderr().count("listening on") >= len(listens)
        try:
            wait_until(ready, self.timeout, what="mailsift's 'listening on' line")
        except TimeoutError:
            self.stop()
            raise RuntimeError("mailsift did not report listening; stderr:\n" + self.stderr_text)
        if self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("mailsift exited with %s at start; config:\n%s\nstderr:\n%s" % (
                self.returncode, to_toml(self.config), self.stderr_text))
        return self

    def read_stderr(self):
        try:
            with open(self._stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        if self.mode == "start":
            return self._daemon_pid is not None and pid_alive(self._daemon_pid)
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM (mode "start": `mailsift stop`), wait, collect stderr. Returns the exit code
        (of `mailsift stop` in mode "start")."""
        if self.mode == "start" and self.returncode is None and self.dir is not None:
            self.returncode = 0
            if self.alive():
                p = subprocess.run(self._command("stop"), cwd=self.dir,
                                   stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=self.stop_timeout + 10)
                self.returncode = p.returncode
                try:
                    wait_until(lambda: not self.alive(), self.stop_timeout, what="daemon exit")
                except TimeoutError:
                    os.kill(self._daemon_pid, signal.SIGKILL)
                    self.returncode = "killed"
            self.stderr_text = self.read_stderr()
            self._stderr_file.close()
        if self.proc is not None and self.returncode is None:
            self.returncode = _stop_process(self.proc, self.stop_timeout)
            self.stderr_text = self.read_stderr()
            self._stderr_file.close()
        if self._notify is not None:
            sock, self._notify = self._notify, None
            self._notify_thread.join(timeout=2)
            sock.close()
        return self.returncode

    def cleanup(self):
        self.stop()
        if self.dir and os.environ.get("MAILSIFT_KEEP_TMP") is None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()

    def log_lines(self, kind=None):
        """Per-message log lines (Passed / Blocked / Tempfailed ...), optionally one kind."""
        text = self.stderr_text or self.read_stderr()
        out = []
        for line in text.splitlines():
            if "mail_id: " not in line:
                continue
            if kind is None or re.search(r"\b%s\b" % re.escape(kind), line):
                out.append(line)
        return out

    def wait_log_lines(self, n, kind=None, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log_lines(kind)
            if len(lines) >= n or time.monotonic() >= deadline:
                return lines
            time.sleep(0.05)


def log_mail_id(line):
    m = re.search(r"mail_id: ([^,\s]+)", line)
    return m.group(1) if m else None


def log_sender(line):
    m = re.search(r"\] *:?\d* <([^>]*)> ->", line) or re.search(r"<([^>]*)> ->", line)
    return m.group(1) if m else None


def base_config(next_hop, protocol="smtp", relay_protocol="smtp", **sections):
    """A config dict: one listener (free port) speaking protocol, relaying to next_hop.
    Keyword arguments add or override whole sections, e.g. smtp={"bare_newline": "normalize"}."""
    cfg = {
        "server": {"hostname": "mailsift.test"},
        "listen": [{"address": "127.0.0.1:0", "protocol": protocol}],
        "relay": {"next_hop": next_hop, "protocol": relay_protocol},
    }
    for k, v in sections.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = dict(cfg[k], **v)
        else:
            cfg[k] = v
    return cfg


# --------------------------------------------------------------------------------------------
# Corpus (scripts/fetch-corpus.sh)

def corpus_dir(override=None, timeout=600):
    """The directory of raw corpus messages: override, else $MAILSIFT_CORPUS, else what
    scripts/fetch-corpus.sh prints (it fetches the corpus into the cache the first time)."""
    d = override or os.environ.get("MAILSIFT_CORPUS")
    if d:
        return d
    repo = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    p = subprocess.run(["bash", os.path.join(repo, "scripts", "fetch-corpus.sh")],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("scripts/fetch-corpus.sh failed: %s" % p.stderr)
    return p.stdout.strip().splitlines()[-1]


def corpus_index(d):
    """The corpus index next to directory d: a list of (file name, group, size, set of
    flags), flags as described in scripts/fetch-corpus.sh (empty set: an ordinary message)."""
    rows = []
    with open(os.path.join(d, "..", "index.tsv")) as f:
        for line in f:
            name, group, size, flags = line.rstrip("\n").split("\t")
            rows.append((name, group, int(size),
                         set() if flags == "-" else set(flags.split(","))))
    return rows


# --------------------------------------------------------------------------------------------
# Raw SMTP client

class Reply:
    def __init__(self, lines):
        self.lines = lines                      # list of str, without CRLF
        self.code = int(lines[-1][:3]) if lines and lines[-1][:3].isdigit() else None

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%r)" % (self.text,)


class ConnectionClosed(Exception):
    pass


class SmtpClient:
    """A raw-socket SMTP client: send exactly the bytes you want, read whole replies."""

    def __init__(self, port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.closed = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.closed = True
            raise ConnectionClosed("connection closed by server")
        self.buf += d

    def read_line(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no reply line within %.1fs" % timeout)
            self._fill(left)
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def read_reply(self, timeout=None):
        """Reads one complete (possibly multi-line) reply."""
        lines = []
        while True:
            line = self.read_line(timeout)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return Reply(lines)

    def cmd(self, line, timeout=None):
        """Sends line + CRLF (line may be str or bytes) and returns the reply."""
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.read_reply(timeout)

    def greeting(self):
        return self.read_reply()

    def wait_closed(self, timeout=None):
        """True when the server closes the connection within timeout (data read is kept in
        self.buf)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._fill(left)
        except ConnectionClosed:
            return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def send_message(self, sender, rcpts, data, helo="EHLO client.test", mail_params="",
                     rcpt_params=""):
        """HELO/EHLO (when helo is not None), MAIL, RCPT..., DATA, data (bytes sent as is,
        must include the final CRLF.CRLF). Returns the list of replies; stops at the first
        unexpected one."""
        replies = []
        if helo:
            r = self.cmd(helo)
            replies.append(r)
        r = self.cmd("MAIL FROM:<%s>%s" % (sender, (" " + mail_params) if mail_params else ""))
        replies.append(r)
        if r.code != 250:
            return replies
        ok = 0
        for rc in rcpts:
            r = self.cmd("RCPT TO:<%s>%s" % (rc, (" " + rcpt_params) if rcpt_params else ""))
            replies.append(r)
            ok += r.code in (250, 251)
        if not ok:
            return replies
        r = self.cmd("DATA")
        replies.append(r)
        if r.code != 354:
            return replies
        self.send(data)
        replies.append(self.read_reply())
        return replies


def dot_stuff(lines):
    """CRLF-terminated, dot-stuffed DATA bytes (with the final dot) for a list of byte lines."""
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


# --------------------------------------------------------------------------------------------
# Recording server (TEST DOUBLE)

class RecordedTransaction:
    def __init__(self):
        self.commands = []        # raw command lines (bytes, without CRLF) before DATA's end
        self.mail = None          # raw MAIL line
        self.rcpts = []           # raw RCPT lines
        self.data = None          # raw DATA bytes, excluding the final ".\r\n" (so it ends
                                  # with the CRLF of the last line), still dot-stuffed
        self.xforward = []        # raw XFORWARD lines seen in the session before this MAIL


class RecordingServer:
    """TEST DOUBLE, not a real MTA: a minimal SMTP/LMTP server in Python that records the exact
    bytes it receives, so tests can assert line ends and dot-stuffing at the next hop (smtp-sink's
    dump rewrites line ends). It ends DATA only at CRLF "." CRLF, answers 250 to everything else
    it knows, announces the ESMTP extensions given, and in LMTP mode sends one reply per
    accepted recipient after the final dot."""

    def __init__(self, lmtp=False, extensions=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
                                                 "DSN", "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE"),
                 data_reply=b"250 2.0.0 Ok: queued as RECORDED", rcpt_data_replies=None,
                 timeout=DEFAULT_TIMEOUT):
        """rcpt_data_replies: LMTP only, {address: reply bytes} for the per-recipient replies
        after the final dot (others get data_reply)."""
        self.lmtp = lmtp
        self.rcpt_data_replies = {k.lower(): v for k, v in (rcpt_data_replies or {}).items()}
        self.extensions = list(extensions)
        self.data_reply = data_reply
        self.timeout = timeout
        self.port = None
        self.sessions = []          # per connection: list of raw bytes chunks joined -> raw
        self.transactions = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout)
        try:
            self.lsock.close()
        except OSError:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def raw_sessions(self):
        with self.lock:
            return [bytes(s) for s in self.sessions]

    def wait_transactions(self, n, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.transactions) >= n:
                    break
            time.sleep(0.02)
        with self.lock:
            return list(self.transactions)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, c):
        raw = bytearray()
        with self.lock:
            self.sessions.append(raw)
        c.settimeout(0.2)
        buf = b""
        state = "cmd"
        tx = RecordedTransaction()
        xforward = []
        deadline = time.monotonic() + 60

        def reply(b):
            try:
                c.sendall(b + b"\r\n")
            except OSError:
                pass
        reply(b"220 recorder.test ESMTP test double")
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    d = c.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not d:
                    break
                with self.lock:
                    raw += d
                buf += d
                while True:
                    if state == "data":
                        # Only CRLF.CRLF ends DATA; the data starts right after the 354, so a
                        # "." CRLF at its very start ends it too.
                        probe = b"\r\n" + buf
                        i = probe.find(b"\r\n.\r\n")
                        if i < 0:
                            break
                        tx.data = probe[2:i + 2] if i > 0 else b""
                        buf = probe[i + 5:]
                        with self.lock:
                            self.transactions.append(tx)
                        if self.lmtp:
                            for r in tx.rcpts:
                                m = re.search(rb"<([^>]*)>", r)
                                addr = m.group(1).decode("latin-1").lower() if m else ""
                                reply(self.rcpt_data_replies.get(addr, self.data_reply))
                        else:
                            reply(self.data_reply)
                        tx = RecordedTransaction()
                        state = "cmd"
                        continue
                    i = buf.find(b"\r\n")
                    if i < 0:
                        break
                    line, buf = buf[:i], buf[i + 2:]
                    verb = line.split(b" ", 1)[0].upper()
                    tx.commands.append(line)
                    if verb in (b"EHLO", b"LHLO"):
                        exts = [b"recorder.test"] + [e.encode() for e in self.extensions]
                        for k, e in enumerate(exts):
                            reply(b"250" + (b" " if k == len(exts) - 1 else b"-") + e)
                    elif verb == b"HELO":
                        reply(b"250 recorder.test")
                    elif verb == b"XFORWARD":
                        xforward.append(line)
                        reply(b"250 2.0.0 Ok")
                    elif verb == b"MAIL":
                        tx.mail = line
                        tx.xforward = list(xforward)
                        reply(b"250 2.1.0 Ok")
                    elif verb == b"RCPT":
                        tx.rcpts.append(line)
                        reply(b"250 2.1.5 Ok")
                    elif verb == b"DATA":
                        reply(b"354 End data with <CR><LF>.<CR><LF>")
                        state = "data"
                    elif verb == b"RSET":
                        tx = RecordedTransaction()
                        reply(b"250 2.0.0 Ok")
                    elif verb == b"QUIT":
                        reply(b"221 2.0.0 Bye")
                        return
                    else:
                        reply(b"250 2.0.0 Ok")
        finally:
            try:
                c.close()
            except OSError:
                pass


def parse_xforward(lines):
    """Attributes from raw XFORWARD command lines (bytes or str) -> dict NAME -> value."""
    attrs = {}
    for l in lines:
        if isinstance(l, bytes):
            l = l.decode("latin-1")
        for item in l.split()[1:]:
            k, _, v = item.partition("=")
            attrs[k.upper()] = v
    return attrs


# --------------------------------------------------------------------------------------------
# smtp-source

def run_smtp_source(args, timeout=120):
    """Runs smtp-source with args (list); returns CompletedProcess (stdout/stderr as text)."""
    exe = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    return subprocess.run([exe] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=timeout)


# --------------------------------------------------------------------------------------------
# Tiny runner

class TestFailure(AssertionError):
    pass


class TestRunner:
    """Runs test functions; each prints what it checked. check() records one assertion."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.failures = []

    def run(self, tests, only=None):
        for fn in tests:
            if only and not any(o in fn.__name__ for o in only):
                continue
            start = time.monotonic()
            print("== %s" % fn.__name__, flush=True)
            try:
                fn()
            except Exception as e:
                self.failed += 1
                self.failures.append(fn.__name__)
                print("FAIL %s (%.1fs): %s" % (fn.__name__, time.monotonic() - start, e),
                      flush=True)
                if not isinstance(e, AssertionError):
                    traceback.print_exc(file=sys.stdout)
            else:
                self.passed += 1
                print("ok   %s (%.1fs)" % (fn.__name__, time.monotonic() - start), flush=True)
        if self.failures:
            print("failed: " + ", ".join(self.failures))
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


def check(cond, what, detail=""):
    """Asserts cond; prints the check either way."""
    if cond:
        print("  check: %s" % what, flush=True)
    else:
        msg = "%s%s" % (what, (": " + detail) if detail else "")
        print("  FAILED: %s" % msg, flush=True)
        raise TestFailure(msg)


def check_eq(got, expected, what):
    check(got == expected, what, "expected %r, got %r" % (expected, got))


def only_args(argv=None):
    """Test names given with -k NAME (may repeat)."""
    argv = sys.argv[1:] if argv is None else argv
    return [argv[i + 1] for i, a in enumerate(argv) if a == "-k" and i + 1 < len(argv)]
