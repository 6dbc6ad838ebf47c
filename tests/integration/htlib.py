"""htlib - shared helpers for hosttrail's integration tests (Python 3 stdlib only).

What is here:
  Env           a temp directory + every daemon started in it; kills them all on exit and,
                when the block failed, prints their logs and keeps the directory.
  config_yaml   a hosttrail.yaml from Python values (block-style YAML, no PyYAML).
  Daemon        one hosttraild process: start (stderr to a log file), wait for the API
                socket, SIGHUP/SIGTERM/SIGKILL, exit status, log text.
  Client        HTTP/1.1 over the API unix socket (http.client with an AF_UNIX connection),
                keep-alive, post_events() for PutAuditEvents, call() for CloudTrail's
                AWS JSON 1.1 operations (lookup_events()).
  raw_exchange  send arbitrary bytes on the socket and read whatever comes back.
  make_event    an audit event {"id","eventData","eventDataChecksum"} with a unique marker.
  Spool         reads a spool bucket: walks it (skipping .tmp), checks every key against
                CloudTrail's layout, gunzips, parses {"Records":[...]}; incremental.
  Notify        a unix datagram socket standing in for systemd's NOTIFY_SOCKET.
  run           a tiny test runner: PASS/FAIL per test, then "N passed, N failed".
  lookup_*      LookupEvents: follow NextToken, the expected Event of a posted event,
                brute-force filtering and ordering, hosttrailctl runs.
  ApiDaemon     a daemon with a TCP listener (api_config_doc: admin and read keys, rate
                limits, trail_defaults), restart(), sighup() that waits for "reload done".
  TcpApi        SigV4-signed (sigv4_headers: botocore's SigV4Auth, clock patchable) or raw
                requests on the TCP listener, tampering after signing.
  AwsCli        find_aws_clis() (pip v1, Debian v2, apt-get install when missing) and runs
                with an isolated environment; CliResult parses JSON and "An error occurred".
  state_snapshot  size + SHA-256 of every file under a directory, for "nothing changed".
  socket_call_as  a request on the unix socket from another uid (setpriv).

Every wait has a timeout.  Daemons are started through `setpriv --pdeathsig KILL` (when
available) so that even a test process killed by its hard timeout takes its daemons with it.
"""

import atexit
import base64
import faulthandler
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import zlib

ACCOUNT = "123456789012"
REGION = "us-test-1"
CT_TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("HT_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("HT_BUILDDIR") or SRCDIR
HOSTTRAILD = os.environ.get("HOSTTRAILD") or os.path.join(BUILDDIR, "hosttraild")
HOSTTRAILCTL = os.environ.get("HOSTTRAILCTL") or os.path.join(BUILDDIR, "hosttrailctl")

# Generous defaults: the tests share two cores and may run under ASan.
START_TIMEOUT = float(os.environ.get("HT_START_TIMEOUT", "30"))
STOP_TIMEOUT = float(os.environ.get("HT_STOP_TIMEOUT", "60"))
TEST_TIMEOUT = float(os.environ.get("HT_TEST_TIMEOUT", "300"))

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
REQUIRED_RECORD_FIELDS = ("eventVersion", "userIdentity", "eventTime", "eventSource",
                          "eventName", "awsRegion", "eventID", "eventType",
                          "recipientAccountId", "eventCategory")


def log(*args):
    print(*args, flush=True)


def utc_now_str(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def channel_arn(name, region=REGION, account=ACCOUNT):
    return "arn:aws:cloudtrail:%s:%s:channel/%s" % (region, account, name)


# --------------------------------------------------------------------------- config

_PLAIN_RE = re.compile(r"^[A-Za-z_/.][-A-Za-z0-9_./]*$")
_YAML_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if _PLAIN_RE.match(s) and s.lower() not in _YAML_SPECIAL:
        return s
    if re.match(r"^[0-9][0-9.]*[A-Za-z]+$", s):      # 1s, 200ms, 50MiB: plain like the docs
        return s
    return json.dumps(s)                               # a valid YAML double-quoted scalar


def _emit(v, indent, out):
    pad = "  " * indent
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append("%s%s:" % (pad, k))
                _emit(x, indent + 1, out)
            elif isinstance(x, dict):
                out.append("%s%s: {}" % (pad, k))
            elif isinstance(x, list):
                out.append("%s%s: []" % (pad, k))
            else:
                out.append("%s%s: %s" % (pad, k, _scalar(x)))
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, dict) and x:
                sub = []
                _emit(x, indent + 1, sub)
                sub[0] = pad + "- " + sub[0][len(pad) + 2:]
                out.extend(sub)
            elif isinstance(x, list):
                raise ValueError("nested lists are not used in hosttrail.yaml")
            else:
                out.append("%s- %s" % (pad, _scalar(x)))
    else:
        raise ValueError("top level must be a mapping")


def to_yaml(doc):
    out = []
    _emit(doc, 0, out)
    return "\n".join(out) + "\n"


def trail(name, bucket, interval="1s", max_events=10000, max_bytes="50MiB", **extra):
    t = {"name": name, "s3_bucket_name": bucket}
    t.update(extra)
    t["delivery"] = {"interval": interval, "max_events": max_events, "max_bytes": max_bytes}
    return t


def config_doc(root, trails=None, buckets=None, channels=("default", "other"),
               fsync="interval", fsync_interval="200ms", account=ACCOUNT, region=REGION):
    """A config as a dict.  buckets: bucket names, each a spool dir root/spool/NAME (default:
    the trails' buckets).  trails: list of trail() dicts (default one trail "trail-1" into
    bucket "spool-1").  Names follow the daemon's rules (trails and buckets >= 3 chars)."""
    if trails is None:
        trails = [trail("trail-1", "spool-1")]
    if buckets is None:
        buckets = sorted({t["s3_bucket_name"] for t in trails})
    hist = {"fsync": fsync}
    if fsync == "interval" and fsync_interval:
        hist["fsync_interval"] = fsync_interval
    return {
        "account_id": account,
        "region": region,
        "state_dir": os.path.join(root, "state"),
        "history": hist,
        "api": {"socket": os.path.join(root, "api.sock")},
        "buckets": {b: {"type": "spool", "path": os.path.join(root, "spool", b)}
                    for b in buckets},
        "sources": [{"type": "ingest", "channels": list(channels)}],
        "trails": trails,
    }


def write_file_atomic(path, text):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


# --------------------------------------------------------------------------- processes

_ALL_PROCS = []
_USE_SETPRIV = shutil.which("setpriv") is not None


def _kill_all_procs():
    for p in _ALL_PROCS:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(5)
            except Exception:
                pass


atexit.register(_kill_all_procs)


class DaemonError(AssertionError):
    pass


class Daemon:
    """One hosttraild.  Start it from the main thread (its death signal is tied to the
    starting thread).  Logs from every start are appended to one file."""

    def __init__(self, env, config_path, name="hosttraild", extra_args=(), extra_env=None,
                 binary=None, socket_path=None):
        self.env = env
        self.config_path = config_path
        self.name = name
        self.extra_args = list(extra_args)
        self.extra_env = dict(extra_env or {})
        self.binary = binary or HOSTTRAILD
        self.log_path = os.path.join(env.root, name + ".log")
        self.proc = None
        self.starts = 0
        self.socket_path = socket_path or env.path("api.sock")
        env.daemons.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def start(self, wait=True, timeout=START_TIMEOUT):
        assert self.proc is None or self.proc.poll() is not None, "daemon already running"
        self.starts += 1
        cmd = [self.binary, "-f", "-c", self.config_path] + self.extra_args
        if _USE_SETPRIV:
            cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        env.update(self.extra_env)
        with open(self.log_path, "ab") as lf:
            lf.write(("==== htlib: start #%d at %s: %s\n" % (self.starts, utc_now_str(),
                                                           " ".join(cmd))).encode())
            lf.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                         env=env, close_fds=True)
        _ALL_PROCS.append(self.proc)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        """Wait until the API socket accepts a connection; fail if the daemon exits."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise DaemonError("%s exited with status %s during start-up (see log)"
                                  % (self.name, rc))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect(self.socket_path)
                return
            except OSError as e:
                last = e
            finally:
                s.close()
            time.sleep(0.05)
        raise DaemonError("%s: API socket %s not accepting after %.0fs (last error: %s)"
                          % (self.name, self.socket_path, timeout, last))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        assert self.alive(), "%s is not running (status %s)" % (self.name, self.proc.poll())
        os.kill(self.proc.pid, sig)

    def hup(self):
        self.send_signal(signal.SIGHUP)

    def kill9(self, timeout=10):
        self.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout)

    def stop(self, timeout=STOP_TIMEOUT, sig=signal.SIGTERM):
        """SIGTERM and wait; returns the exit status (kills and fails on timeout)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise DaemonError("%s did not exit within %.0fs of %s; killed"
                              % (self.name, timeout, signal.Signals(sig).name))

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, offset=0, timeout=30):
        """The first match of the regex pattern in the log written since offset; fails
        after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_since(offset)
            m = re.search(pattern, text)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError("no %r in the daemon log within %ds; log since: %s"
                                     % (pattern, timeout, text[-2000:]))
            time.sleep(0.1)

    def history_records(self):
        """Every record LookupEvents shows (data events too when the config has
        history.lookup_data_events), newest first, as dicts."""
        c = self.client()
        try:
            events, _ = lookup_walk(c, {})
        finally:
            c.close()
        return [json.loads(e["CloudTrailEvent"]) for e in events]

    def vm_hwm_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def client(self, timeout=30):
        return Client(self.socket_path, timeout=timeout)


class Env:
    """with Env("name") as env: a temp dir, daemons, cleanup.  On failure the logs of every
    daemon are printed and the directory is kept for inspection."""

    def __init__(self, name="test"):
        base = None
        tmp = os.environ.get("TMPDIR") or "/tmp"
        if len(tmp) > 60:                 # keep unix socket paths far below 108 bytes
            base = "/tmp"
        self.root = tempfile.mkdtemp(prefix="ht-%s-" % name[:20], dir=base)
        self.daemons = []

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def write_config(self, doc_or_text, name="hosttrail.yaml"):
        p = self.path(name)
        write_file_atomic(p, doc_or_text if isinstance(doc_or_text, str) else to_yaml(doc_or_text))
        return p

    def daemon(self, config_path, **kw):
        return Daemon(self, config_path, **kw)

    def spool(self, bucket, **kw):
        return Spool(self.path("spool", bucket), **kw)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        for d in self.daemons:
            d.kill()
        if et is not None:
            for d in self.daemons:
                text = d.log_text()
                lines = text.splitlines()
                log("---- %s log (%s), last %d of %d lines ----"
                    % (d.name, d.log_path, min(len(lines), 150), len(lines)))
                for line in lines[-150:]:
                    log("  | " + line)
            log("---- test directory kept: %s" % self.root)
        elif not os.environ.get("HT_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)
        return False


# --------------------------------------------------------------------------- HTTP

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except BaseException:
            s.close()
            raise
        self.sock = s


class Reply:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        b = self.body[:600]
        return "<HTTP %s %r%s>" % (self.status, b, "..." if len(self.body) > 600 else "")

    def error_type(self):
        return self.json.get("__type") if isinstance(self.json, dict) else None


class Client:
    """Keep-alive HTTP/1.1 over the API socket.  Never retries a request (a retry could
    post the same events twice); a broken connection raises and the next call reconnects."""

    def __init__(self, socket_path, timeout=30):
        self.socket_path = socket_path
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=b"", headers=None):
        if self.conn is None:
            self.conn = UnixHTTPConnection(self.socket_path, self.timeout)
        h = {"Host": "localhost"}
        if body or method == "POST":
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        t0 = time.monotonic()
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except BaseException:
            self.close()
            raise
        rep = Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data,
                    time.monotonic() - t0)
        if r.will_close:
            self.close()
        return rep

    def post_events(self, channel, events, quote=False, raw_body=None):
        """PutAuditEvents.  channel: a name (made into this account's ARN) or a full ARN /
        arbitrary string when it contains ':'.  quote=True percent-encodes the ARN as the AWS
        SDKs do."""
        arn = channel if (":" in channel or channel == "") else channel_arn(channel)
        q = urllib.parse.quote(arn, safe="") if quote else arn
        body = raw_body if raw_body is not None else json.dumps(
            {"auditEvents": events}, separators=(",", ":")).encode()
        return self.request("POST", "/PutAuditEvents?channelArn=" + q, body)

    def call(self, operation, params=None, raw_body=None, target=None):
        """A CloudTrail operation as the AWS CLI sends it: POST / with X-Amz-Target and
        Content-Type application/x-amz-json-1.1.  target overrides the whole header."""
        body = raw_body if raw_body is not None else json.dumps(
            params if params is not None else {}, separators=(",", ":")).encode()
        headers = {"X-Amz-Target": target if target is not None else CT_TARGET_PREFIX + operation,
                   "Content-Type": "application/x-amz-json-1.1"}
        if operation != "LookupEvents" or self.conn is None:
            return self.request("POST", "/", body, headers=headers)
        # A read-only operation may be repeated once when the daemon had closed the idle
        # keep-alive connection (HT_API_TIMEOUT_S) before this request reached it.
        try:
            return self.request("POST", "/", body, headers=headers)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            return self.request("POST", "/", body, headers=headers)

    def lookup_events(self, params=None, **kw):
        """LookupEvents with params (a dict of request members) or keyword members."""
        p = dict(params or {})
        p.update(kw)
        return self.call("LookupEvents", p)


def raw_exchange(socket_path, data, read_timeout=5.0, close_write=False, pause=0.0):
    """Send bytes (a list of chunks with `pause` seconds between them, or one bytes), ignore
    EPIPE/ECONNRESET on the way, then read until EOF or read_timeout.  Returns the bytes read
    (b'' if nothing)."""
    chunks = data if isinstance(data, list) else [data]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(read_timeout)
    s.connect(socket_path)
    got = b""
    try:
        for i, c in enumerate(chunks):
            if i and pause:
                time.sleep(pause)
            try:
                s.sendall(c)
            except (BrokenPipeError, ConnectionResetError):
                break
        if close_write:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        deadline = time.monotonic() + read_timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            got += b
            st = parse_http_response(got)
            if st is not None:
                break
    finally:
        s.close()
    return got


def parse_http_response(data):
    """(status, headers, body) once a complete response with Content-Length is in data,
    else None."""
    i = data.find(b"\r\n\r\n")
    if i < 0:
        return None
    head = data[:i].decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
    if not m:
        return None
    hdrs = {}
    for line in head[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    if len(data) - i - 4 < n:
        return None
    return int(m.group(1)), hdrs, data[i + 4:i + 4 + n]


def http_request_bytes(path, body, extra_headers=""):
    return (("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\n%s\r\n") % (path, len(body), extra_headers)).encode() + body


# --------------------------------------------------------------------------- events

def checksum(event_data):
    return base64.b64encode(hashlib.sha256(event_data.encode()).digest()).decode()


def event_data(marker, account=ACCOUNT, event_time=None, drop=(), **fields):
    d = {
        "version": "1.0",
        "userIdentity": {"type": "IAMUser", "principalId": "p-" + marker},
        "userAgent": "htlib/1.0",
        "eventSource": "test.hosttrail.example",
        "eventName": "TestAction",
        "eventTime": event_time or utc_now_str(),
        "UID": marker,
        "requestParameters": {"marker": marker},
        "responseElements": {"ok": True},
        "sourceIPAddress": "192.0.2.7",
        "recipientAccountId": account,
    }
    d.update(fields)
    for k in drop:
        if "." in k:
            a, b = k.split(".", 1)
            d[a].pop(b, None)
        else:
            d.pop(k, None)
    return d


def make_event(marker, id=None, with_checksum=True, data=None, **kw):
    """An AuditEvent for marker.  data: an eventData dict or string to use as is."""
    if data is None:
        data = event_data(marker, **kw)
    s = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    ev = {"id": id or marker, "eventData": s}
    if with_checksum:
        ev["eventDataChecksum"] = checksum(s)
    return ev


def check_ok_reply(rep, events):
    """Assert a 200 where every event succeeded; returns {id: eventID}."""
    if rep.status != 200 or not isinstance(rep.json, dict):
        raise AssertionError("expected 200 with JSON, got %r" % (rep,))
    succ = rep.json.get("successful")
    failed = rep.json.get("failed")
    if not isinstance(succ, list) or not isinstance(failed, list):
        raise AssertionError("reply lacks successful/failed lists: %r" % (rep,))
    if failed:
        raise AssertionError("events failed unexpectedly: %r" % (failed[:5],))
    ids = {}
    for s in succ:
        eid = s.get("eventID")
        if not isinstance(eid, str) or not UUID4_RE.match(eid):
            raise AssertionError("eventID %r is not a UUID v4 (reply %r)" % (eid, rep))
        if s.get("id") in ids:
            raise AssertionError("id %r twice in successful" % s.get("id"))
        ids[s.get("id")] = eid
    want = {e["id"] for e in events}
    if set(ids) != want:
        raise AssertionError("successful ids differ from posted: missing %s, extra %s"
                             % (sorted(want - set(ids))[:5], sorted(set(ids) - want)[:5]))
    return ids


def check_record(rec, region=REGION, account=ACCOUNT):
    """Problems with one delivered ingest record (a list of strings, empty if fine)."""
    p = []
    for f in REQUIRED_RECORD_FIELDS:
        if f not in rec:
            p.append("missing " + f)
    if rec.get("eventVersion") != "1.11":
        p.append("eventVersion %r" % rec.get("eventVersion"))
    if rec.get("eventCategory") != "ActivityAuditLog":
        p.append("eventCategory %r" % rec.get("eventCategory"))
    if rec.get("eventType") != "ActivityLog":
        p.append("eventType %r" % rec.get("eventType"))
    if rec.get("awsRegion") != region:
        p.append("awsRegion %r" % rec.get("awsRegion"))
    if rec.get("recipientAccountId") != account:
        p.append("recipientAccountId %r" % rec.get("recipientAccountId"))
    if not isinstance(rec.get("eventID"), str) or not UUID4_RE.match(rec.get("eventID")):
        p.append("eventID %r not a UUID v4" % rec.get("eventID"))
    if not isinstance(rec.get("eventTime"), str) or not TIME_RE.match(rec.get("eventTime")):
        p.append("eventTime %r" % rec.get("eventTime"))
    ui = rec.get("userIdentity")
    if not isinstance(ui, dict) or "type" not in ui:
        p.append("userIdentity %r" % (ui,))
    md = rec.get("metadata")
    if not isinstance(md, dict) or "channelARN" not in md or "ingestionTime" not in md:
        p.append("metadata %r lacks channelARN/ingestionTime" % (md,))
    return p


def record_marker(rec):
    rp = rec.get("requestParameters")
    return rp.get("marker") if isinstance(rp, dict) else None


# --------------------------------------------------------------------------- spool

class SpoolError(AssertionError):
    pass


class Spool:
    """A spool bucket directory laid out like S3.  scan() reads new or changed files and
    raises SpoolError on anything that is not a CloudTrail log file: a key outside the
    pattern, a date directory different from the file's delivery minute, bad gzip, bad JSON,
    a document other than {"Records":[...]}.  .tmp/ at the top is ignored."""

    def __init__(self, path, account=ACCOUNT, region=REGION, prefix=None, allow_empty=False):
        self.path = path
        self.account = account
        self.region = region
        self.allow_empty = allow_empty
        pre = (re.escape(prefix) + "/") if prefix else ""
        a, r = re.escape(account), re.escape(region)
        self.key_re = re.compile(
            r"^%sAWSLogs/%s/CloudTrail/%s/(\d{4})/(\d{2})/(\d{2})/%s_CloudTrail_%s_"
            r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_([A-Za-z0-9]{16})\.json\.gz$"
            % (pre, a, r, a, r))
        self.files = {}   # key -> (stat signature, records, minute epoch)

    def _check_key(self, key):
        m = self.key_re.match(key)
        if not m:
            raise SpoolError("spool %s: key %r does not match CloudTrail's layout"
                             % (self.path, key))
        yy, mm, dd, fy, fm, fd, hh, mi, _u = m.groups()
        if (yy, mm, dd) != (fy, fm, fd):
            raise SpoolError("spool key %r: date directories %s/%s/%s differ from the file's "
                             "delivery date %s%s%s" % (key, yy, mm, dd, fy, fm, fd))
        try:
            t = time.strptime("%s%s%s%s%s" % (fy, fm, fd, hh, mi), "%Y%m%d%H%M")
        except ValueError:
            raise SpoolError("spool key %r: invalid delivery minute" % key)
        import calendar
        return calendar.timegm(t)

    def _read(self, full, key):
        with open(full, "rb") as f:
            raw = f.read()
        try:
            text = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise SpoolError("spool file %s: not a complete gzip (%d bytes): %s"
                             % (key, len(raw), e))
        try:
            doc = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise SpoolError("spool file %s: not UTF-8 JSON: %s (starts %r)"
                             % (key, e, text[:120]))
        if not isinstance(doc, dict) or list(doc.keys()) != ["Records"] \
                or not isinstance(doc["Records"], list):
            raise SpoolError("spool file %s: document is not {\"Records\":[...]}: %r"
                             % (key, text[:200]))
        for r in doc["Records"]:
            if not isinstance(r, dict):
                raise SpoolError("spool file %s: a record is not an object: %r" % (key, r))
        if not doc["Records"] and not self.allow_empty:
            raise SpoolError("spool file %s: empty Records (a log file with no events)" % key)
        return doc["Records"]

    def scan(self):
        """Read new/changed files; returns the list of keys read in this call."""
        new = []
        if not os.path.isdir(self.path):
            return new
        for dirpath, dirnames, filenames in os.walk(self.path):
            rel = os.path.relpath(dirpath, self.path)
            if rel == ".":
                dirnames[:] = [d for d in dirnames if d != ".tmp"]
            dirnames.sort()
            for fn in sorted(filenames):
                full = os.path.join(dirpath, fn)
                key = fn if rel == "." else os.path.join(rel, fn)
                try:
                    st = os.stat(full)
                except FileNotFoundError:
                    continue
                sig = (st.st_ino, st.st_size, st.st_mtime_ns)
                old = self.files.get(key)
                if old is not None and old[0] == sig:
                    continue
                minute = self._check_key(key)
                try:
                    recs = self._read(full, key)
                except FileNotFoundError:
                    continue
                self.files[key] = (sig, recs, minute)
                new.append(key)
        return new

    def records(self):
        out = []
        for k in sorted(self.files):
            out.extend(self.files[k][1])
        return out

    def count(self):
        return sum(len(v[1]) for v in self.files.values())

    def event_ids(self):
        """{eventID: number of occurrences} over every file."""
        c = {}
        for r in self.records():
            c[r.get("eventID")] = c.get(r.get("eventID"), 0) + 1
        return c

    def dup_ids(self):
        return {k: n for k, n in self.event_ids().items() if n > 1}

    def wait_for_ids(self, ids, timeout, poll=0.1):
        """Scan until every eventID in ids is present; returns the time it took.  Raises with
        the number missing on timeout."""
        ids = set(ids)
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            self.scan()
            have = set(r.get("eventID") for r in self.records())
            missing = ids - have
            if not missing:
                return time.monotonic() - t0
            if time.monotonic() >= deadline:
                raise AssertionError("spool %s: %d of %d acked events not delivered within "
                                     "%.1fs (e.g. %s); %d files, %d records"
                                     % (self.path, len(missing), len(ids), timeout,
                                        sorted(missing)[:3], len(self.files), self.count()))
            time.sleep(poll)


def assert_exactly_once(spool, acked_ids, label=""):
    """Every acked eventID appears exactly once and nothing else appears."""
    spool.scan()
    c = spool.event_ids()
    dups = {k: n for k, n in c.items() if n > 1}
    missing = set(acked_ids) - set(c)
    extra = set(c) - set(acked_ids)
    msgs = []
    if dups:
        msgs.append("%d duplicated eventIDs (e.g. %s)" % (len(dups), list(dups.items())[:3]))
    if missing:
        msgs.append("%d acked eventIDs missing (e.g. %s)" % (len(missing), sorted(missing)[:3]))
    if extra:
        msgs.append("%d eventIDs that were never acked (e.g. %s)"
                    % (len(extra), sorted(extra, key=str)[:3]))
    if msgs:
        raise AssertionError("%s%s: %s" % (label + ": " if label else "", spool.path,
                                           "; ".join(msgs)))


# --------------------------------------------------------------------------- sd_notify

class Notify:
    """A datagram socket for NOTIFY_SOCKET.  path starting with '@' = abstract namespace."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + path[1:] if path.startswith("@") else path)
        self.messages = []      # (monotonic time, {key: value}, raw text)

    def close(self):
        self.sock.close()

    def recv(self, timeout):
        """One message or None after timeout."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        text = data.decode("utf-8", "replace")
        kv = {}
        for line in text.split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                kv[k] = v
        m = (time.monotonic(), kv, text)
        self.messages.append(m)
        return m

    def wait_for(self, key, value=None, timeout=10.0):
        """Receive until a message has key (=value); returns it, or raises."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s%s on NOTIFY_SOCKET within %.0fs; got %r"
                                     % (key, "=" + value if value is not None else "", timeout,
                                        [m[2] for m in self.messages]))
            m = self.recv(left)
            if m and key in m[1] and (value is None or m[1][key] == value):
                return m


# --------------------------------------------------------------------------- runner

class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test exceeded %.0fs (HT_TEST_TIMEOUT)" % TEST_TIMEOUT)


def run(tests, teardown=None, shared=False):
    """Run test functions in order (argv may name a subset).  Prints PASS/FAIL for each,
    then exactly "N passed, N failed"; exits 1 if any failed.  Daemons are killed after each
    test unless shared=True (tests that share one daemon); teardown(n_failed) runs at the
    end in any case."""
    faulthandler.enable()
    only = set(sys.argv[1:])
    if not os.access(HOSTTRAILD, os.X_OK):
        log("hosttraild not found or not executable: %s (set HOSTTRAILD)" % HOSTTRAILD)
        log("0 passed, %d failed" % len(tests))
        sys.exit(1)
    signal.signal(signal.SIGALRM, _alarm)
    passed = failed = 0
    for t in tests:
        if only and t.__name__ not in only:
            continue
        log("==== %s" % t.__name__)
        t0 = time.monotonic()
        # Hard stop if even the soft timeout cannot unwind (e.g. stuck in C code).
        faulthandler.dump_traceback_later(TEST_TIMEOUT + 120, exit=True)
        signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
        try:
            t()
            signal.setitimer(signal.ITIMER_REAL, 0)
            passed += 1
            log("PASS %s (%.1fs)" % (t.__name__, time.monotonic() - t0))
        except BaseException as e:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            traceback.print_exc(file=sys.stdout)
            log("FAIL %s (%.1fs): %s: %s" % (t.__name__, time.monotonic() - t0,
                                            type(e).__name__, str(e)[:2000]))
        finally:
            faulthandler.cancel_dump_traceback_later()
            if not shared:
                _kill_all_procs()
    if teardown is not None:
        try:
            teardown(failed)
        except Exception:
            traceback.print_exc(file=sys.stdout)
            log("FAIL teardown")
            failed += 1
    _kill_all_procs()
    log("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


# --------------------------------------------------------------------------- posters

class Poster(threading.Thread):
    """A client thread that posts batches from make_batch(seq) until stop is set, recording
    for every request (t_send, t_ack, events, reply-or-exception).  Connection errors are
    recorded as unanswered and the thread backs off briefly and reconnects."""

    def __init__(self, socket_path, make_batch, channel="default", name="poster", pause=0.0,
                 timeout=30, max_requests=None):
        super().__init__(name=name, daemon=True)
        self.socket_path = socket_path
        self.make_batch = make_batch
        self.channel = channel
        self.pause = pause
        self.timeout = timeout
        self.max_requests = max_requests
        self.stop_event = threading.Event()
        self.acked = []          # (t_send, t_ack, {id: eventID}, events)
        self.unanswered = []     # (t_send, t_fail, events, error text)
        self.bad = []            # replies that were neither 200-all-ok nor a connection error
        self.seq = 0

    def run(self):
        c = Client(self.socket_path, timeout=self.timeout)
        while not self.stop_event.is_set():
            if self.max_requests is not None and self.seq >= self.max_requests:
                break
            events = self.make_batch(self.name, self.seq)
            self.seq += 1
            t0 = time.monotonic()
            try:
                rep = c.post_events(self.channel, events)
            except (OSError, http.client.HTTPException) as e:
                self.unanswered.append((t0, time.monotonic(), events, repr(e)))
                c.close()
                self.stop_event.wait(0.05)
                continue
            t1 = time.monotonic()
            try:
                ids = check_ok_reply(rep, events)
            except AssertionError as e:
                self.bad.append((t0, t1, events, str(e)))
                continue
            self.acked.append((t0, t1, ids, events))
            if self.pause:
                self.stop_event.wait(self.pause)
        c.close()

    def stop(self):
        self.stop_event.set()


def stop_posters(posters, timeout=60):
    for p in posters:
        p.stop()
    for p in posters:
        p.join(timeout)
        if p.is_alive():
            raise AssertionError("poster %s did not stop within %.0fs" % (p.name, timeout))


def acked_ids(posters, pred=None):
    """{eventID: marker} of every acked event (optionally only requests pred(t_send, t_ack))."""
    out = {}
    for p in posters:
        for t0, t1, ids, events in p.acked:
            if pred is None or pred(t0, t1):
                for e in events:
                    out[ids[e["id"]]] = e["id"]
    return out


# --------------------------------------------------------------------------- LookupEvents

LOOKUP_KEYS = ("EventId", "EventName", "ReadOnly", "Username", "ResourceType",
               "ResourceName", "EventSource", "AccessKeyId")
EVENT_MEMBERS = {"EventId", "EventName", "ReadOnly", "AccessKeyId", "EventTime",
                 "EventSource", "Username", "Resources", "CloudTrailEvent"}


def iso_to_epoch(s):
    """"YYYY-MM-DDTHH:MM:SSZ" -> epoch seconds."""
    import calendar
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def lookup_username(ui):
    """LookupEvents' Username for a record's userIdentity: userName, else the last part of
    arn (after the last '/', else the last ':'), else principalId; None if none."""
    if not isinstance(ui, dict):
        return None
    if isinstance(ui.get("userName"), str) and ui["userName"]:
        return ui["userName"]
    arn = ui.get("arn")
    if isinstance(arn, str) and arn:
        cut = arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]
        if cut:
            return cut
    p = ui.get("principalId")
    return p if isinstance(p, str) and p else None


class LookupModel:
    """What was posted, for brute-force answers.  add() in the order the daemon appended
    the events (one poster at a time: the order of the requests, then of the events in a
    request); expected() gives LookupEvents' answer: matching events in the window (default:
    the last 90 days up to now), newest first (eventTime descending, later-appended first
    among equal times)."""

    def __init__(self):
        self.entries = []       # dicts: eid, order, time, data (the eventData dict)
        self.by_eid = {}

    def add(self, eid, data):
        if isinstance(data, str):
            data = json.loads(data)
        e = {"eid": eid, "order": len(self.entries), "time": iso_to_epoch(data["eventTime"]),
             "data": data}
        assert eid not in self.by_eid, "eventID %s added twice" % eid
        self.entries.append(e)
        self.by_eid[eid] = e
        return e

    def add_reply(self, events, ids):
        """Events of one acked PutAuditEvents request, {id: eventID} from check_ok_reply."""
        for ev in events:
            self.add(ids[ev["id"]], ev["eventData"])

    @staticmethod
    def values(e, key):
        """The values of lookup attribute key that entry e can be found by."""
        d = e["data"]
        ui = d.get("userIdentity") or {}
        if key == "EventId":
            return [e["eid"]]
        if key == "EventName":
            return [d["eventName"]]
        if key == "EventSource":
            return [d["eventSource"]]
        if key == "Username":
            u = lookup_username(ui)
            return [u] if u else []
        if key == "AccessKeyId":
            a = ui.get("accessKeyId")
            return [a] if isinstance(a, str) and a else []
        if key == "ReadOnly":
            r = d.get("readOnly")
            return [("true" if r else "false")] if isinstance(r, bool) else []
        return []               # ResourceType / ResourceName: the ingest schema has none

    def expected(self, key=None, value=None, start=None, end=None, now=None):
        """LookupEvents' answer; without start / end, CloudTrail's defaults: 90 days before
        now (default: the current time) / now."""
        now = time.time() if now is None else now
        start = now - 90 * 86400 if start is None else start
        end = now if end is None else end
        out = [e for e in self.entries
               if (start is None or e["time"] >= start) and (end is None or e["time"] <= end)
               and (key is None or value in self.values(e, key))]
        out.sort(key=lambda e: (e["time"], e["order"]), reverse=True)
        return out


def lookup_params(key=None, value=None, start=None, end=None, page_size=None, **extra):
    p = {}
    if key is not None:
        p["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
    if start is not None:
        p["StartTime"] = start
    if end is not None:
        p["EndTime"] = end
    if page_size is not None:
        p["MaxResults"] = page_size
    p.update(extra)
    return p


def lookup_walk(client, params, max_pages=100000, on_page=None):
    """Follow NextToken from a first request with params, re-sending the same params.
    Returns (events, page sizes).  A reply other than 200 {"Events":[...]} raises with the
    page number and the reply.  on_page(n, reply) is called after each page."""
    events, sizes = [], []
    p = dict(params)
    for n in range(max_pages):
        rep = client.call("LookupEvents", p)
        if rep.status != 200 or not isinstance(rep.json, dict) \
                or not isinstance(rep.json.get("Events"), list):
            raise AssertionError("LookupEvents %s, page %d: %r" % (params, n + 1, rep))
        events.extend(rep.json["Events"])
        sizes.append(len(rep.json["Events"]))
        if on_page:
            on_page(n, rep)
        tok = rep.json.get("NextToken")
        if tok is None:
            return events, sizes
        if not isinstance(tok, str) or not tok:
            raise AssertionError("NextToken %r is not a non-empty string" % (tok,))
        p["NextToken"] = tok
    raise AssertionError("LookupEvents %s: still a NextToken after %d pages" % (params, max_pages))


def check_lookup_event(ev, entry, record=None):
    """Problems with one Event of a LookupEvents reply against the posted entry (and the
    record delivered to a trail, when given): a list of strings, empty if fine."""
    p = []
    d = entry["data"]
    ui = d.get("userIdentity") or {}
    extra = set(ev) - EVENT_MEMBERS
    if extra:
        p.append("unknown members %s" % sorted(extra))
    want = {"EventId": entry["eid"], "EventName": d["eventName"],
            "EventSource": d["eventSource"], "Username": lookup_username(ui),
            "AccessKeyId": LookupModel.values(entry, "AccessKeyId")[0]
            if LookupModel.values(entry, "AccessKeyId") else None,
            "ReadOnly": LookupModel.values(entry, "ReadOnly")[0]
            if LookupModel.values(entry, "ReadOnly") else None}
    for k, v in want.items():
        if ev.get(k) != v:
            p.append("%s %r, want %r%s" % (k, ev.get(k), v, "" if v is not None else
                                           " (absent)"))
    t = ev.get("EventTime")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t != entry["time"]:
        p.append("EventTime %r, want the number %d (%s)" % (t, entry["time"], d["eventTime"]))
    if ev.get("Resources", []) != []:
        p.append("Resources %r, want none (the ingest schema has no resources)"
                 % (ev.get("Resources"),))
    ct = ev.get("CloudTrailEvent")
    try:
        rec = json.loads(ct) if isinstance(ct, str) else None
    except ValueError:
        rec = None
    if not isinstance(rec, dict):
        p.append("CloudTrailEvent is not a JSON object as a string: %r" % (ct,)[:200])
        return p
    if rec.get("eventID") != entry["eid"]:
        p.append("CloudTrailEvent.eventID %r" % rec.get("eventID"))
    for f in ("eventName", "eventSource", "eventTime", "userIdentity"):
        if rec.get(f) != d.get(f):
            p.append("CloudTrailEvent.%s %r, posted %r" % (f, rec.get(f), d.get(f)))
    if record_marker(rec) != (d.get("requestParameters") or {}).get("marker"):
        p.append("CloudTrailEvent.requestParameters %r, posted %r"
                 % (rec.get("requestParameters"), d.get("requestParameters")))
    if record is not None and rec != record:
        diff = sorted(k for k in set(rec) | set(record) if rec.get(k) != record.get(k))
        p.append("CloudTrailEvent differs from the delivered record in %s" % diff)
    return p


def compare_lookup(got, want, label, records=None, check_fields=True):
    """got: Events from LookupEvents; want: LookupModel entries.  Raises AssertionError
    naming the first difference: missing, duplicated or unexpected events, the order, and
    (check_fields) the members of each Event."""
    gids = [e.get("EventId") for e in got]
    wids = [e["eid"] for e in want]
    if gids != wids:
        msgs = []
        counts = {}
        for g in gids:
            counts[g] = counts.get(g, 0) + 1
        dups = {g: n for g, n in counts.items() if n > 1}
        missing = [w for w in wids if w not in counts]
        unexpected = [g for g in counts if g not in set(wids)]
        if dups:
            msgs.append("%d duplicated (e.g. %s)" % (len(dups), list(dups.items())[:3]))
        if missing:
            msgs.append("%d missing (e.g. %s)" % (len(missing), missing[:3]))
        if unexpected:
            msgs.append("%d unexpected (e.g. %s)" % (len(unexpected), unexpected[:3]))
        if not msgs:
            i = next(i for i, (a, b) in enumerate(zip(gids, wids)) if a != b)
            gt = [e.get("EventTime") for e in got[max(0, i - 1):i + 3]]
            wt = [e["time"] for e in want[max(0, i - 1):i + 3]]
            msgs.append("same events, different order from position %d: got %s (times %s), "
                        "want %s (times %s)%s" % (
                            i, gids[i:i + 3], gt, wids[i:i + 3], wt,
                            "; only the order among equal eventTimes differs"
                            if [e.get("EventTime") for e in got] == [e["time"] for e in want]
                            else ""))
        raise AssertionError("%s: %d events, want %d: %s"
                             % (label, len(gids), len(wids), "; ".join(msgs)))
    if check_fields:
        bad = []
        for ev, entry in zip(got, want):
            pr = check_lookup_event(ev, entry, (records or {}).get(entry["eid"]))
            if pr:
                bad.append("%s: %s" % (entry["eid"], "; ".join(pr)))
        if bad:
            raise AssertionError("%s: %d events have wrong members, e.g.:\n  %s"
                                 % (label, len(bad), "\n  ".join(bad[:5])))


def run_ctl(socket_path, *args, timeout=120, stdout=subprocess.PIPE, **kw):
    """hosttrailctl -s socket_path ARGS; returns the CompletedProcess with stdout and stderr
    decoded as UTF-8 but with line ends kept as they were (CSV's CRLF stays CRLF)."""
    cmd = [HOSTTRAILCTL, "-s", socket_path] + [str(a) for a in args]
    r = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout, **kw)
    if isinstance(r.stdout, bytes):
        r.stdout = r.stdout.decode("utf-8", "replace")
    r.stderr = r.stderr.decode("utf-8", "replace")
    return r


# ------------------------------------------------------------------ TCP API, SigV4, aws CLI
#
# The TCP listener (api.listen) speaks the same operations as the unix socket, but every
# request must carry an AWS Signature V4.  These helpers build a config with a listener and
# access keys, sign requests with botocore's own SigV4Auth (an independent signer; botocore
# is in the python that runs the tests; a stdlib signer otherwise), and run the stock aws
# CLIs against the daemon.

API_REGION = "us-east-1"        # what the aws CLI is told (AWS_DEFAULT_REGION)
ADMIN_KEY = "AKIAHOSTTRAILADMIN01"
ADMIN_SECRET = "hosttrail/admin+Secret0123456789abcdefGHIJ"
READ_KEY = "AKIAHOSTTRAILREAD001"
READ_SECRET = "hosttrail/read+Secret0123456789abcdefGHIJKL"
EXCEPTION_RE = re.compile(r"An error occurred \(([A-Za-z0-9_.]+)\)"
                          r"(?: when calling the (\w+) operation)?"
                          r"(?: \(reached max retries: \d+\))?: ?(.*)")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def write_secret(path, secret):
    """A secret_file: the secret, mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
    return path


def api_config_doc(root, port, buckets=("my-bucket",), trails=(), credentials=None,
                   rate_limits=None, interval="1s", channels=("default",), region=API_REGION,
                   account=ACCOUNT):
    """config_doc() plus a TCP listener on 127.0.0.1:port, access keys (default: ADMIN_KEY
    admin and READ_KEY read, secret files written under root), rate limits, and
    trail_defaults.delivery.interval for trails created through the API."""
    doc = config_doc(root, trails=list(trails), buckets=list(buckets), channels=channels,
                     region=region, account=account)
    if credentials is None:
        credentials = [(ADMIN_KEY, ADMIN_SECRET, "admin"), (READ_KEY, READ_SECRET, "read")]
    creds = []
    for i, (key, secret, access) in enumerate(credentials):
        creds.append({"access_key_id": key,
                      "secret_file": write_secret(os.path.join(root, "key%d.secret" % i),
                                                  secret),
                      "access": access})
    doc["api"]["listen"] = "127.0.0.1:%d" % port
    doc["api"]["credentials"] = creds
    if rate_limits is not None:
        doc["api"]["rate_limits"] = dict(rate_limits)
    doc["trail_defaults"] = {"delivery": {"interval": interval}}
    return doc


def _sigv4_stdlib(method, url, body, headers, key, secret, region, service, when):
    """SigV4 (header form) without botocore, canonicalized as botocore's SigV4Auth does
    for these requests: every header but user-agent/expect/authorization signed."""
    import hmac
    u = urllib.parse.urlsplit(url)
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if when is None
                                                           else when))
    h = {k: v for k, v in headers.items() if k.lower() not in ("x-amz-date", "authorization")}
    h["X-Amz-Date"] = amz_date
    if not any(k.lower() == "host" for k in h):
        h["Host"] = u.netloc
    signed = sorted((k.lower(), " ".join(str(v).split())) for k, v in h.items()
                    if k.lower() not in ("user-agent", "expect", "x-amzn-trace-id"))
    q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    cq = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                             urllib.parse.quote(v, safe="-_.~")) for k, v in sorted(q))
    body = body or b""
    if isinstance(body, str):
        body = body.encode()
    creq = "\n".join([method, urllib.parse.quote(u.path or "/", safe="/~"), cq,
                      "".join("%s:%s\n" % kv for kv in signed),
                      ";".join(k for k, _ in signed), hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    h["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        key, scope, ";".join(k for k, _ in signed), sig)
    return h


def sigv4_headers(method, url, body, headers, key, secret, region=API_REGION,
                  service="cloudtrail", when=None):
    """The headers of a request signed with botocore's SigV4Auth (Authorization and
    X-Amz-Date added); a stdlib signer when botocore is not installed (HT_SIGNER=stdlib
    forces it).  when: a time.time() value to sign at instead of now."""
    import datetime
    from unittest import mock
    try:
        if os.environ.get("HT_SIGNER") == "stdlib":
            raise ImportError("HT_SIGNER=stdlib")
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError:
        return _sigv4_stdlib(method, url, body, headers, key, secret, region, service, when)
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    auth = SigV4Auth(Credentials(key, secret), service, region)
    if when is None:
        auth.add_auth(req)
    else:
        at = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).replace(tzinfo=None)
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            auth.add_auth(req)
    return dict(req.headers.items())


class TcpApi:
    """The API's TCP listener: raw or SigV4-signed requests, one connection each."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.host = host
        self.port = port
        self.timeout = timeout

    @property
    def endpoint(self):
        return "http://%s:%d" % (self.host, self.port)

    def request(self, method, path, body=b"", headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        h = {"Host": "%s:%d" % (self.host, self.port)}
        h.update(headers or {})
        t0 = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data,
                     time.monotonic() - t0)

    def signed(self, method, path, body, headers, key=ADMIN_KEY, secret=ADMIN_SECRET,
               region=API_REGION, service="cloudtrail", when=None, send_body=None,
               send_headers=None):
        """Sign (method, path, body, headers) and send it; send_body replaces the body and
        send_headers override headers after signing (a tampered request)."""
        h = {"Host": "%s:%d" % (self.host, self.port)}
        h.update(headers)
        signed = sigv4_headers(method, self.endpoint + path, body, h, key, secret,
                               region=region, service=service, when=when)
        for k, v in (send_headers or {}).items():
            for old in [x for x in signed if x.lower() == k.lower()]:
                del signed[old]
            signed[k] = v
        return self.request(method, path, body if send_body is None else send_body, signed)

    def call(self, operation, params=None, sign=True, raw_body=None, **kw):
        """A CloudTrail operation as the CLI sends it (POST /, X-Amz-Target, JSON 1.1),
        signed with kw (key, secret, region, service, when, send_body) unless sign=False."""
        body = raw_body if raw_body is not None else json.dumps(
            params if params is not None else {}).encode()
        headers = {"X-Amz-Target": CT_TARGET_PREFIX + operation,
                   "Content-Type": "application/x-amz-json-1.1"}
        if not sign:
            return self.request("POST", "/", body, headers)
        return self.signed("POST", "/", body, headers, **kw)

    def post_events(self, arn, events, sign=True, **kw):
        """PutAuditEvents (cloudtrail-data, REST-JSON) as botocore sends it."""
        path = "/PutAuditEvents?channelArn=" + urllib.parse.quote(arn, safe="")
        body = json.dumps({"auditEvents": events}).encode()
        headers = {"Content-Type": "application/json"}
        if not sign:
            return self.request("POST", path, body, headers)
        kw.setdefault("service", "cloudtrail-data")
        return self.signed("POST", path, body, headers, **kw)


def state_snapshot(state_dir):
    """{relative path: (size, sha256)} of every regular file under state_dir."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(state_dir):
        dirnames.sort()
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            try:
                st = os.lstat(full)
                if not os.path.isfile(full) or os.path.islink(full):
                    continue
                with open(full, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            except FileNotFoundError:
                continue
            out[os.path.relpath(full, state_dir)] = (st.st_size, digest)
    return out


def snapshot_diff(before, after):
    """A short description of how two state_snapshot()s differ ('' if equal)."""
    msgs = []
    for k in sorted(set(before) | set(after)):
        if k not in after:
            msgs.append("%s removed" % k)
        elif k not in before:
            msgs.append("%s created (%d bytes)" % (k, after[k][0]))
        elif before[k] != after[k]:
            msgs.append("%s changed (%d -> %d bytes)" % (k, before[k][0], after[k][0]))
    return "; ".join(msgs)


def cli_time(v):
    """A timestamp as an aws CLI prints it -> epoch seconds (float).  v1 prints the wire
    value (an epoch number); v2 prints ISO 8601 ("2026-01-02T03:04:05+00:00", maybe with
    fractions).  ISO strings ending in Z (CloudTrail's string members) work too."""
    import datetime
    if isinstance(v, bool):
        raise ValueError("a boolean is not a timestamp: %r" % (v,))
    if isinstance(v, (int, float)):
        return float(v)
    if not isinstance(v, str):
        raise ValueError("not a timestamp: %r" % (v,))
    s = v.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


class CliResult:
    def __init__(self, args, rc, out, err, elapsed):
        self.args = args
        self.rc = rc
        self.out = out
        self.err = err
        self.elapsed = elapsed
        try:
            self.json = json.loads(out) if out.strip() else None
        except ValueError:
            self.json = None
        m = EXCEPTION_RE.search(err)
        self.error_code = m.group(1) if m else None
        self.error_op = m.group(2) if m else None
        self.error_message = m.group(3).strip() if m else None

    def __repr__(self):
        return "<aws %s: rc %s, stdout %r, stderr %r>" % (
            " ".join(self.args)[:300], self.rc, self.out[:600], self.err[:600])


class AwsCli:
    """One aws CLI binary (pip v1 or Debian's v2), run with an isolated environment: no
    config or credentials file, no instance metadata, region API_REGION, the given key."""

    def __init__(self, path, version):
        self.path = path
        self.version = version                       # "1.45.11"
        self.major = int(version.split(".")[0])
        self.label = "aws-cli v%s (%s)" % (version, path)

    def env(self, key=ADMIN_KEY, secret=ADMIN_SECRET, region=API_REGION, extra_env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        e.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                  "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": region,
                  "AWS_PAGER": ""})
        if key is not None:
            e["AWS_ACCESS_KEY_ID"] = key
            e["AWS_SECRET_ACCESS_KEY"] = secret
        e.update(extra_env or {})
        return e

    def popen_args(self, args, endpoint):
        return [self.path] + list(args) + ["--endpoint-url", endpoint, "--output", "json"]

    def run(self, args, endpoint, key=ADMIN_KEY, secret=ADMIN_SECRET, region=API_REGION,
            extra_env=None, timeout=90):
        """aws ARGS --endpoint-url endpoint --output json -> CliResult."""
        cmd = self.popen_args(args, endpoint)
        t0 = time.monotonic()
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout,
                           env=self.env(key, secret, region, extra_env))
        return CliResult(list(args), r.returncode, r.stdout.decode("utf-8", "replace"),
                         r.stderr.decode("utf-8", "replace"), time.monotonic() - t0)

    def ok(self, args, endpoint, **kw):
        """Run; assert exit 0 and return the printed JSON (None when nothing printed)."""
        r = self.run(args, endpoint, **kw)
        if r.rc != 0:
            raise AssertionError("%s: %r failed" % (self.label, r))
        if r.out.strip() and r.json is None:
            raise AssertionError("%s: %r printed something that is not JSON" % (self.label, r))
        return r.json

    def error(self, args, endpoint, code, operation=None, **kw):
        """Run; assert it fails with CloudTrail's exception name code (and the operation
        name, when given) on stderr; returns the CliResult."""
        r = self.run(args, endpoint, **kw)
        if r.rc == 0 or r.error_code != code:
            raise AssertionError("%s: want exception %s, got %r" % (self.label, code, r))
        if operation is not None and r.error_op != operation:
            raise AssertionError("%s: the error names operation %r, want %s: %r"
                                 % (self.label, r.error_op, operation, r))
        if r.rc not in (254, 255):
            raise AssertionError("%s: exit status %d for a service error, want 254 (v2) or "
                                 "255 (v1): %r" % (self.label, r.rc, r))
        return r


def _aws_version(path):
    try:
        r = subprocess.run([path, "--version"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                           env={k: v for k, v in os.environ.items()
                                if not k.startswith("AWS_")})
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "%s --version: %s" % (path, e)
    m = re.search(r"aws-cli/(\d+\.\d+\.\d+)", r.stdout.decode("utf-8", "replace"))
    if r.returncode != 0 or not m:
        return None, "%s --version: exit %d, %r" % (path, r.returncode, r.stdout[:200])
    return m.group(1), None


def find_aws_clis(install=True):
    """The aws CLIs on this machine: the one on PATH (the pip v1 here) and Debian's v2 at
    /usr/bin/aws.  When no v2 is found and install is true, running as root and HT_NO_APT
    is not set, `apt-get install -y awscli` first.  Returns ([AwsCli, v1 first], notes)."""
    notes = []

    def scan():
        found = {}
        for p in (shutil.which("aws"), "/usr/bin/aws"):
            if not p or not os.access(p, os.X_OK):
                continue
            v, why = _aws_version(p)
            if v is None:
                notes.append(why)
                continue
            found.setdefault(v.split(".")[0], AwsCli(p, v))
        return found

    found = scan()
    if "2" not in found:
        if not install:
            notes.append("no aws CLI v2 (not installing)")
        elif os.environ.get("HT_NO_APT"):
            notes.append("no aws CLI v2 and HT_NO_APT is set: not running apt-get")
        elif os.geteuid() != 0:
            notes.append("no aws CLI v2 and not root: apt-get install -y awscli to test v2")
        else:
            log("no aws CLI v2: apt-get install -y awscli")
            try:
                r = subprocess.run(["apt-get", "install", "-y", "awscli"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=600,
                                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
                if r.returncode != 0:
                    notes.append("apt-get install -y awscli failed (exit %d): %s"
                                 % (r.returncode, r.stdout.decode("utf-8", "replace")[-400:]))
            except (OSError, subprocess.TimeoutExpired) as e:
                notes.append("apt-get install -y awscli: %s" % e)
            found = scan()
            if "2" not in found:
                notes.append("no aws CLI v2 even after apt-get install -y awscli")
    if "1" not in found:
        notes.append("no aws CLI v1 on PATH (the pip awscli): v1-only checks "
                     "(cloudtrail-data put-audit-events) cannot run")
    return [found[k] for k in sorted(found)], notes


API_GENEROUS_RATES = {"lookup_events": 200, "read": 200, "write": 200}


class ApiDaemon:
    """One hosttraild with its unix socket and a TCP listener on a free 127.0.0.1 port
    (api_config_doc: ADMIN_KEY admin, READ_KEY read), spool buckets root/spool/NAME,
    trails created through the API delivering every second.  .d is the Daemon, .sock a
    unix-socket Client, .tcp a TcpApi, .endpoint the URL for --endpoint-url."""

    def __init__(self, env, buckets=("my-bucket", "other-bucket"),
                 rate_limits=API_GENEROUS_RATES, notify=False, region=API_REGION,
                 account=ACCOUNT, **doc_kw):
        self.env = env
        self.region = region
        self.account = account
        self.channel = channel_arn("default", region=region, account=account)
        self.notify = Notify(env.path("notify.sock")) if notify else None
        extra_env = {"NOTIFY_SOCKET": self.notify.path} if notify else None
        for attempt in range(3):
            self.port = free_port()
            self.doc = api_config_doc(env.root, self.port, buckets=buckets,
                                      rate_limits=rate_limits, region=region,
                                      account=account, **doc_kw)
            self.config = env.write_config(self.doc)
            self.d = env.daemon(self.config, extra_env=extra_env)
            try:
                self.d.start()
                self.wait_tcp()
                break
            except DaemonError:
                self.d.kill()
                if attempt == 2 or "in use" not in self.d.log_text():
                    raise
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.tcp = TcpApi(self.port)
        self.sock = self.d.client()
        self.state_dir = self.doc["state_dir"]

    def wait_tcp(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if not self.d.alive():
                raise DaemonError("hosttraild exited (status %s)" % self.d.proc.poll())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
                return
            except OSError as e:
                if time.monotonic() > deadline:
                    raise DaemonError("TCP listener 127.0.0.1:%d not accepting after %.0fs: "
                                      "%s" % (self.port, timeout, e))
            time.sleep(0.05)

    def restart(self):
        """SIGTERM (must exit 0), start again, wait for both listeners."""
        rc = self.d.stop()
        assert rc == 0, "SIGTERM: hosttraild exited with status %s" % rc
        self.sock.close()
        self.d.start()
        self.wait_tcp()

    def sighup(self, timeout=30):
        """SIGHUP and wait for the reload to finish ("reload done" in the log, and
        RELOADING=1 / READY=1 when started with notify=True)."""
        off = self.d.log_size()
        self.d.hup()
        if self.notify:
            self.notify.wait_for("RELOADING", "1", timeout)
            self.notify.wait_for("READY", "1", timeout)
        deadline = time.monotonic() + timeout
        while True:
            text = self.d.log_since(off)
            if "reload refused" in text:
                raise AssertionError("SIGHUP: reload refused: %s" % text[-600:])
            if "reload done" in text:
                break
            if time.monotonic() > deadline:
                raise AssertionError("SIGHUP: no \"reload done\" in the log within %.0fs: %s"
                                     % (timeout, text[-600:]))
            time.sleep(0.05)
        assert self.d.alive(), "hosttraild died on SIGHUP"

    def spool(self, bucket):
        return Spool(os.path.join(self.env.root, "spool", bucket), account=self.account,
                     region=self.region)

    def post(self, events):
        """PutAuditEvents on the unix socket; {id: eventID}."""
        self.sock.close()       # a fresh connection: the daemon closes idle ones
        return check_ok_reply(self.sock.post_events(self.channel, events), events)

    def sock_call(self, op, params=None):
        """A CloudTrail operation on the unix socket that must succeed; its JSON."""
        self.sock.close()       # a fresh connection: the daemon closes idle ones
        rep = self.sock.call(op, params or {})
        assert rep.status == 200, "%s %s over the socket: %r" % (op, params, rep)
        return rep.json


_AS_UID_SCRIPT = r"""
import http.client, json, socket, sys
path, target, body = sys.argv[1], sys.argv[2], sys.argv[3].encode()
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(path)
c = C("localhost", timeout=20)
if target.startswith("/"):
    c.request("POST", target, body=body, headers={"Content-Type": "application/json"})
else:
    c.request("POST", "/", body=body, headers={"X-Amz-Target": target,
              "Content-Type": "application/x-amz-json-1.1"})
r = c.getresponse()
print(json.dumps({"status": r.status, "headers": dict((k.lower(), v) for k, v in r.getheaders()),
                  "body": r.read().decode("utf-8", "replace")}))
"""


def socket_call_as(socket_path, uid, gid, operation, params=None, path=None, body=None,
                   timeout=60):
    """A request on the API unix socket from another process running as uid/gid (through
    setpriv, no supplementary groups, Debian's /usr/bin/python3 which any user may run).
    operation: a CloudTrail operation (POST / with X-Amz-Target), or path: a POST path such
    as /PutAuditEvents?channelArn=... with body.  The socket and every directory above it
    must be reachable by uid.  Returns a Reply."""
    target = path if path is not None else CT_TARGET_PREFIX + operation
    data = body if body is not None else json.dumps(params or {})
    if isinstance(data, bytes):
        data = data.decode()
    cmd = ["/usr/bin/python3", "-I", "-c", _AS_UID_SCRIPT, socket_path, target, data]
    if uid is not None:
        cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"] + cmd
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, cwd="/")
    if r.returncode != 0:
        raise AssertionError("%s: exit %d: %s" % (" ".join(cmd[:5]), r.returncode,
                                                 r.stderr.decode("utf-8", "replace")[-800:]))
    o = json.loads(r.stdout)
    return Reply(o["status"], o["headers"], o["body"].encode(), 0.0)
