#!/usr/bin/env python3
"""S3 delivery through the outbox, against a real signature-checking S3: a single-node
OpenStack Swift with s3api on 127.0.0.1 (tests/integration/swift/swift.sh, started once for
the whole file; exit 77 = skipped when Swift is missing and cannot be installed).  What is in
the bucket is read back with the stock aws CLI (the pip v1 on PATH, else Debian's v2; AWS=PATH
picks one, e.g. AWS=/usr/bin/aws for Debian's v2), never with the daemon's own code.

  must-show 1 (test_delivery_to_swift): 3000 events posted in 30 requests reach objects at
      exactly CloudTrail's keys; `aws s3 ls --recursive` lists them, `aws s3 cp --recursive`
      downloads them, each gunzips to {"Records":[...]} and together they hold every posted
      event exactly once (markers and the eventIDs the API returned); `aws s3api
      head-object` shows Content-Type application/json and Content-Encoding gzip; the
      outbox ends empty; GetTrailStatus has LatestDeliveryTime and no LatestDeliveryError;
      nothing more appears after SIGTERM.
  must-show 2 (test_wrong_secret_then_sighup): with a wrong secret Swift refuses the PUTs
      (403 SignatureDoesNotMatch), GetTrailStatus shows the error and
      LatestDeliveryAttemptSucceeded "", every event sits in state_dir/outbox/TRAIL/files,
      the bucket stays empty, neither secret is ever logged; with retry_max 1h only the
      SIGHUP after fixing the secret file can deliver promptly: every outbox file becomes
      the object of the same key, every event once, the error clears.
  must-show 6 (test_addressing_styles): a recording TCP proxy in front of Swift sees the
      request line and Host header of a path-style trail (PUT /BUCKET/KEY, Host
      127.0.0.1:PORT) and a virtual-hosted one (PUT /KEY, Host BUCKET.s3.localhost:PORT via
      resolve_to), each with Content-MD5 and x-amz-content-sha256 matching the body it
      forwarded and an AWS4-HMAC-SHA256 Authorization signing content-md5 and host; Swift
      answers every PUT 200 and the objects read back with the aws CLI."""

import base64
import collections
import gzip
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import htlib

SWIFT_SH = os.path.join(htlib.HERE, "swift", "swift.sh")
SWIFT_KEY = "test:tester"
SWIFT_SECRET = "testing"
SWIFT_REGION = os.environ.get("SWIFT_REGION") or "us-east-1"
ACCOUNT = htlib.ACCOUNT
REGION = htlib.REGION
PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
              "ALL_PROXY", "no_proxy", "NO_PROXY")

AWS_WANTED = os.environ.get("AWS")     # the aws CLI to use (as test_s3_swift.sh)

# Neither the daemons (htlib.Daemon copies os.environ) nor anything else started here may
# see the runner's AWS settings or proxies.
for _k in list(os.environ):
    if _k.startswith("AWS_") or _k in PROXY_VARS:
        del os.environ[_k]

KEY_RE = re.compile(
    r"^AWSLogs/%s/CloudTrail/%s/(\d{4})/(\d{2})/(\d{2})/%s_CloudTrail_%s_"
    r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_([A-Za-z0-9]{16})\.json\.gz$"
    % (ACCOUNT, re.escape(REGION), ACCOUNT, re.escape(REGION)))
AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/,]+)/(\d{8})/([^/,]+)/s3/aws4_request,"
                     r" ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")

SWIFT = {}          # dir, port, endpoint
_CLI = []


# --------------------------------------------------------------------------- Swift + aws CLI

def swift_start():
    d = tempfile.mkdtemp(prefix="ht-s3d-swift-")
    SWIFT["dir"] = d
    t0 = time.monotonic()
    r = subprocess.run([SWIFT_SH, "start", d], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    err = r.stderr.decode("utf-8", "replace")
    if r.returncode == 77:
        htlib.log("SKIP: Swift is not available: %s" % err.strip())
        shutil.rmtree(d, ignore_errors=True)
        sys.exit(77)
    if r.returncode != 0:
        htlib.log("swift.sh start failed (exit %d): %s" % (r.returncode, err[-2000:]))
        htlib.log("0 passed, 1 failed")
        sys.exit(1)
    # Stop it even if this process dies without unwinding (the runner's hard timeout
    # _exits): a watchdog in its own session waits for our end of a pipe to close.
    SWIFT["watchdog"] = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; sys.stdin.read(); "
         "subprocess.run([sys.argv[1], 'stop', sys.argv[2]], stdout=subprocess.DEVNULL, "
         "stderr=subprocess.DEVNULL, timeout=60)", SWIFT_SH, d],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    SWIFT["port"] = int(r.stdout.split()[-1])
    SWIFT["endpoint"] = "http://127.0.0.1:%d" % SWIFT["port"]
    htlib.log("Swift s3api on %s (started in %.1fs), state in %s"
              % (SWIFT["endpoint"], time.monotonic() - t0, d))


def swift_stop(n_failed=0):
    d = SWIFT.get("dir")
    if not d:
        return
    subprocess.run([SWIFT_SH, "stop", d], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)
    w = SWIFT.get("watchdog")
    if w is not None:
        w.stdin.close()
        try:
            w.wait(60)
        except subprocess.TimeoutExpired:
            w.kill()
    if n_failed:
        plog = os.path.join(d, "log", "proxy.log")
        try:
            with open(plog, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            lines = []
        htlib.log("---- Swift proxy log (%s), last %d lines ----" % (plog, min(len(lines), 40)))
        for line in lines[-40:]:
            htlib.log("  | " + line)
        htlib.log("---- Swift state kept: %s" % d)
    else:
        shutil.rmtree(d, ignore_errors=True)
    SWIFT.clear()


def aws_cli():
    """The aws CLI to read the bucket with: $AWS, else the pip v1 on PATH, else Debian's
    v2 (apt-get installed when there is none at all)."""
    if _CLI:
        return _CLI[0]
    if AWS_WANTED:
        v, why = htlib._aws_version(AWS_WANTED)
        if v is None:
            htlib.log("AWS=%s is not a usable aws CLI: %s" % (AWS_WANTED, why))
            swift_stop()
            sys.exit(1)
        found, notes = [htlib.AwsCli(AWS_WANTED, v)], []
    else:
        found, notes = htlib.find_aws_clis(install=False)
        if not found:
            found, notes = htlib.find_aws_clis(install=True)
    if not found:
        htlib.log("SKIP: no aws CLI: %s" % "; ".join(notes))
        swift_stop()
        sys.exit(77)
    _CLI.append(found[0])
    htlib.log("reading the bucket with %s" % found[0].label)
    return found[0]


class S3Cli:
    """The aws CLI against Swift directly, with Swift's tempauth key."""

    def __init__(self, endpoint=None):
        self.cli = aws_cli()
        self.endpoint = endpoint or SWIFT["endpoint"]

    def env(self):
        e = self.cli.env(key=SWIFT_KEY, secret=SWIFT_SECRET, region=SWIFT_REGION)
        for k in PROXY_VARS:
            e.pop(k, None)
        return e

    def run(self, args, check=True, timeout=120):
        cmd = [self.cli.path] + list(args) + ["--endpoint-url", self.endpoint]
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=self.env())
        r.stdout = r.stdout.decode("utf-8", "replace")
        r.stderr = r.stderr.decode("utf-8", "replace")
        if check and r.returncode != 0:
            raise AssertionError("%s: aws %s: exit %d: %s %s" % (
                self.cli.label, " ".join(args), r.returncode, r.stdout[-600:],
                r.stderr[-600:]))
        return r

    def create_bucket(self, name):
        self.run(["s3api", "create-bucket", "--bucket", name])

    def ls(self, bucket):
        """`aws s3 ls --recursive s3://bucket` -> {key: size}."""
        r = self.run(["s3", "ls", "--recursive", "s3://%s" % bucket])
        out = {}
        for line in r.stdout.splitlines():
            if not line.strip():
                continue
            parts = line.split(None, 3)
            assert len(parts) == 4 and parts[2].isdigit(), \
                "aws s3 ls printed an unexpected line: %r" % line
            out[parts[3]] = int(parts[2])
        return out

    def cp_all(self, bucket, dest):
        self.run(["s3", "cp", "--recursive", "--only-show-errors", "s3://%s" % bucket, dest])

    def sync(self, bucket, dest):
        self.run(["s3", "sync", "--only-show-errors", "s3://%s" % bucket, dest])

    def head(self, bucket, key):
        r = self.run(["s3api", "head-object", "--bucket", bucket, "--key", key,
                      "--output", "json"])
        return json.loads(r.stdout)


def fresh_bucket(s3, what):
    name = "ht-%s-%s" % (what, secrets.token_hex(4))
    s3.create_bucket(name)
    return name


# --------------------------------------------------------------------------- local helpers

def s3_config(env, trails, buckets):
    """config_doc() whose buckets are the given s3 bucket dicts."""
    doc = htlib.config_doc(env.root, trails=trails, buckets=[])
    doc["buckets"] = buckets
    return doc


def s3_bucket(real_name, endpoint, secret_file, path_style=True, resolve_to=None):
    b = {"type": "s3", "bucket": real_name, "endpoint": endpoint, "region": SWIFT_REGION,
         "path_style": path_style}
    if resolve_to:
        b["resolve_to"] = resolve_to
    b.update({"timeout": "30s", "concurrency": 4,
              "credentials": {"access_key_id": SWIFT_KEY, "secret_file": secret_file}})
    return b


def s3_trail(name, bucket, retry_min="200ms", retry_max="2s"):
    t = htlib.trail(name, bucket, interval="1s", max_events=10000, max_bytes="50MiB")
    t["delivery"]["retry_min"] = retry_min
    t["delivery"]["retry_max"] = retry_max
    t["outbox_max"] = 1000
    return t


def post(d, n_requests, per_request, tag, waves=1, pause=1.2):
    """PutAuditEvents n_requests times, in `waves` groups `pause` seconds apart (so that a
    1 s trail cuts several files); returns {marker: eventID}."""
    c = d.client(timeout=60)
    out = {}
    now = htlib.utc_now_str()
    try:
        for r in range(n_requests):
            if r and waves > 1 and r % -(-n_requests // waves) == 0:
                c.close()
                time.sleep(pause)
            evs = [htlib.make_event("%s-%03d-%03d" % (tag, r, i), event_time=now)
                   for i in range(per_request)]
            ids = htlib.check_ok_reply(c.post_events("default", evs), evs)
            out.update(ids)
    finally:
        c.close()
    return out


def trail_status(d, name):
    c = d.client(timeout=30)
    try:
        rep = c.call("GetTrailStatus", {"Name": name})
    finally:
        c.close()
    assert rep.status == 200 and isinstance(rep.json, dict), "GetTrailStatus: %r" % (rep,)
    return rep.json


def outbox_dir(doc, trail):
    return os.path.join(doc["state_dir"], "outbox", trail, "files")


def outbox_files(doc, trail):
    """{key: bytes} of every file under state_dir/outbox/TRAIL/files (staging included)."""
    root = outbox_dir(doc, trail)
    out = {}
    for dp, dn, fns in os.walk(root):
        for fn in fns:
            full = os.path.join(dp, fn)
            try:
                with open(full, "rb") as f:
                    out[os.path.relpath(full, root)] = f.read()
            except FileNotFoundError:
                pass
    return out


def read_log_file(data, key):
    """The Records of one gzip'd CloudTrail log file."""
    try:
        text = gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise AssertionError("%s: not a complete gzip (%d bytes): %s" % (key, len(data), e))
    try:
        doc = json.loads(text.decode("utf-8"))
    except ValueError as e:
        raise AssertionError("%s: not UTF-8 JSON: %s (starts %r)" % (key, e, text[:120]))
    assert isinstance(doc, dict) and list(doc) == ["Records"] and \
        isinstance(doc["Records"], list), "%s: not {\"Records\":[...]}: %r" % (key, text[:200])
    assert doc["Records"], "%s: empty Records" % key
    return doc["Records"]


def read_tree(root):
    """{key: Records} of every file under root (a download of a bucket)."""
    out = {}
    for dp, dn, fns in os.walk(root):
        for fn in fns:
            full = os.path.join(dp, fn)
            key = os.path.relpath(full, root)
            with open(full, "rb") as f:
                out[key] = read_log_file(f.read(), key)
    return out


def check_key(key, t0, t1):
    """key follows CloudTrail's layout, its date directories are its delivery minute's and
    that minute lies within [t0, t1]."""
    m = KEY_RE.match(key)
    assert m, "object key %r does not match CloudTrail's layout %s" % (key, KEY_RE.pattern)
    yy, mm, dd, fy, fm, fd, hh, mi, _u = m.groups()
    assert (yy, mm, dd) == (fy, fm, fd), "key %r: date directories differ from the file's " \
        "delivery date" % key
    import calendar
    minute = calendar.timegm(time.strptime(fy + fm + fd + hh + mi, "%Y%m%d%H%M"))
    assert int(t0) // 60 * 60 <= minute <= int(t1) // 60 * 60 + 60, \
        "key %r: delivery minute outside the test's run" % key


def check_exactly(files, posted, label):
    """files {key: Records}; posted {marker: eventID}: every posted event exactly once,
    nothing else, each record with the eventID the API gave its marker."""
    seen = collections.Counter()
    problems = []
    for key, recs in sorted(files.items()):
        for r in recs:
            mk = htlib.record_marker(r)
            seen[mk] += 1
            p = htlib.check_record(r)
            if mk in posted and r.get("eventID") != posted[mk]:
                p.append("eventID %r, the API gave %r" % (r.get("eventID"), posted[mk]))
            if p:
                problems.append("%s marker %s: %s" % (key, mk, "; ".join(p)))
    dups = {k: n for k, n in seen.items() if n > 1}
    missing = set(posted) - set(seen)
    extra = set(seen) - set(posted)
    msgs = []
    if dups:
        msgs.append("%d events more than once (e.g. %s)" % (len(dups), sorted(dups.items())[:3]))
    if missing:
        msgs.append("%d posted events missing (e.g. %s)" % (len(missing), sorted(missing)[:3]))
    if extra:
        msgs.append("%d records never posted (e.g. %s)" % (len(extra), sorted(extra, key=str)[:3]))
    if problems:
        msgs.append("%d bad records, e.g. %s" % (len(problems), problems[:3]))
    assert not msgs, "%s: %d files, %d records: %s" % (
        label, len(files), sum(seen.values()), "; ".join(msgs))


def wait_until(what, fn, timeout, poll=0.2, diag=None):
    """Call fn() until it returns a true value (returned); raise naming what on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
        except AssertionError as e:
            v, last = None, e
        if v:
            return v
        if time.monotonic() >= deadline:
            extra = diag() if diag else ""
            raise AssertionError("timed out after %.0fs waiting for %s%s%s" % (
                timeout, what, " (last: %s)" % last if last else "",
                "; " + extra if extra else ""))
        time.sleep(poll)


def sighup(d, timeout=30):
    """SIGHUP and wait for "reload done" in the log."""
    off = d.log_size()
    d.hup()
    deadline = time.monotonic() + timeout
    while True:
        text = d.log_since(off)
        assert "reload refused" not in text, "SIGHUP: reload refused: %s" % text[-600:]
        if "reload done" in text:
            return
        assert time.monotonic() < deadline, "SIGHUP: no \"reload done\" within %.0fs: %s" % (
            timeout, text[-600:])
        time.sleep(0.05)


def wait_bucket_has_all(s3, bucket, posted, dest, timeout, d, trail):
    """Poll with `aws s3 sync` until the objects hold every posted marker; returns the
    seconds it took."""
    t0 = time.monotonic()

    def have_all():
        s3.sync(bucket, dest)
        seen = set()
        for recs in read_tree(dest).values():
            seen.update(htlib.record_marker(r) for r in recs)
        return not (set(posted) - seen)

    def diag():
        n = sum(1 for _ in os.walk(dest))
        return "GetTrailStatus %s; outbox %d files; %d dirs downloaded" % (
            trail_status(d, trail), len(outbox_files(d.doc, trail)), n)

    wait_until("every posted event in s3://%s" % bucket, have_all, timeout, poll=0.3,
               diag=diag)
    return time.monotonic() - t0


# --------------------------------------------------------------------------- must-show 1

N_REQUESTS = 30
PER_REQUEST = 100


def test_delivery_to_swift():
    s3 = S3Cli()
    bucket = fresh_bucket(s3, "deliv")
    with htlib.Env("s3-deliv") as env:
        secret = htlib.write_secret(env.path("swift.secret"), SWIFT_SECRET)
        doc = s3_config(env, [s3_trail("trail-1", "swift")],
                        {"swift": s3_bucket(bucket, SWIFT["endpoint"], secret)})
        d = env.daemon(env.write_config(doc)).start()
        d.doc = doc
        with open("/proc/%d/environ" % d.pid, "rb") as f:
            leaked = sorted(v.split(b"=", 1)[0].decode() for v in f.read().split(b"\0")
                            if v.startswith(b"AWS_") or v.split(b"=", 1)[0].decode(
                                "latin-1") in PROXY_VARS)
        assert not leaked, "the daemon's environment has %s" % leaked
        t_start = time.time()
        posted = post(d, N_REQUESTS, PER_REQUEST, "dl", waves=3)
        assert len(posted) == N_REQUESTS * PER_REQUEST
        took = wait_bucket_has_all(s3, bucket, posted, env.path("poll"), 40, d, "trail-1")
        htlib.log("all %d events in s3://%s %.1fs after the last ack"
                  % (len(posted), bucket, took))
        wait_until("an empty outbox", lambda: not outbox_files(doc, "trail-1"), 10,
                   diag=lambda: "left: %s" % sorted(outbox_files(doc, "trail-1"))[:5])

        # The final word is the aws CLI's: list, download, compare.
        listed = s3.ls(bucket)
        dl = env.path("download")
        s3.cp_all(bucket, dl)
        files = read_tree(dl)
        assert set(files) == set(listed), "aws s3 ls lists %s but aws s3 cp downloaded %s" % (
            sorted(listed), sorted(files))
        for key in listed:
            check_key(key, t_start, time.time())
            size = os.path.getsize(os.path.join(dl, key))
            assert size == listed[key], "%s: listed %d bytes, downloaded %d" % (
                key, listed[key], size)
        check_exactly(files, posted, "s3://%s" % bucket)
        htlib.log("%d objects, %d records; keys e.g. %s" % (
            len(files), sum(len(r) for r in files.values()), sorted(files)[0]))
        for key in sorted(listed)[:4]:
            h = s3.head(bucket, key)
            assert h.get("ContentType") == "application/json" and \
                h.get("ContentEncoding") == "gzip", \
                "%s: head-object %r, want ContentType application/json and " \
                "ContentEncoding gzip (what CloudTrail sets)" % (key, h)

        st = trail_status(d, "trail-1")
        assert "LatestDeliveryError" not in st, "GetTrailStatus %r" % st
        ldt = st.get("LatestDeliveryTime")
        assert isinstance(ldt, (int, float)) and not isinstance(ldt, bool) and \
            t_start - 1 <= ldt <= time.time() + 1, \
            "GetTrailStatus LatestDeliveryTime %r not within the test's run: %r" % (ldt, st)
        assert st.get("LatestDeliveryAttemptSucceeded"), "GetTrailStatus %r" % st
        assert st.get("IsLogging") is True, "GetTrailStatus %r" % st

        rc = d.stop()
        assert rc == 0, "SIGTERM: exit status %s" % rc
        after = s3.ls(bucket)
        assert after == listed, "objects changed after SIGTERM: new %s, gone %s" % (
            sorted(set(after) - set(listed)), sorted(set(listed) - set(after)))
        assert not outbox_files(doc, "trail-1"), "outbox not empty after SIGTERM: %s" % (
            sorted(outbox_files(doc, "trail-1")))


# --------------------------------------------------------------------------- SIGTERM

def test_sigterm_delivers_the_open_batch():
    """SIGTERM flushes the open batch (a 5 minute interval would otherwise hold it) into the
    outbox and, the bucket working, on to the bucket before the daemon exits."""
    s3 = S3Cli()
    bucket = fresh_bucket(s3, "term")
    with htlib.Env("s3-term") as env:
        secret = htlib.write_secret(env.path("swift.secret"), SWIFT_SECRET)
        t = s3_trail("trail-1", "swift")
        t["delivery"]["interval"] = "5m"
        doc = s3_config(env, [t], {"swift": s3_bucket(bucket, SWIFT["endpoint"], secret)})
        d = env.daemon(env.write_config(doc)).start()
        posted = post(d, 2, 10, "term")
        time.sleep(0.5)
        assert not s3.ls(bucket), "delivered before the interval: %s" % s3.ls(bucket)
        t0 = time.time()
        rc = d.stop()
        took = time.time() - t0
        assert rc == 0, "SIGTERM: exit status %s" % rc
        assert not outbox_files(doc, "trail-1"), "outbox not empty after SIGTERM: %s" % (
            sorted(outbox_files(doc, "trail-1")))
        dl = env.path("download")
        s3.cp_all(bucket, dl)
        check_exactly(read_tree(dl), posted, "s3://%s" % bucket)
        htlib.log("SIGTERM delivered the open batch; the daemon exited in %.2fs" % took)


# --------------------------------------------------------------------------- must-show 2

def test_wrong_secret_then_sighup():
    s3 = S3Cli()
    bucket = fresh_bucket(s3, "secret")
    with htlib.Env("s3-secret") as env:
        wrong = "Wrong+" + secrets.token_urlsafe(24)
        secret = htlib.write_secret(env.path("swift.secret"), wrong)
        trail = "trail-1"
        # retry_max 1h: a refused signature pauses the outbox for ~1h, so only the SIGHUP
        # can make it deliver within the test.
        doc = s3_config(env, [s3_trail(trail, "swift", retry_min="200ms", retry_max="1h")],
                        {"swift": s3_bucket(bucket, SWIFT["endpoint"], secret)})
        d = env.daemon(env.write_config(doc)).start()
        d.doc = doc
        posted = post(d, 3, 100, "ws", waves=3)

        def refused():
            st = trail_status(d, trail)
            return st if "SignatureDoesNotMatch" in st.get("LatestDeliveryError", "") else None

        st = wait_until("LatestDeliveryError SignatureDoesNotMatch", refused, 20,
                        diag=lambda: "GetTrailStatus %r" % trail_status(d, trail))
        htlib.log("GetTrailStatus while refused: %s" % json.dumps(st))
        assert "403" in st["LatestDeliveryError"], "error lacks the HTTP status: %r" % st
        assert st.get("LatestDeliveryAttemptSucceeded") == "", \
            "LatestDeliveryAttemptSucceeded %r, want \"\" after a refused upload: %r" % (
                st.get("LatestDeliveryAttemptSucceeded"), st)
        assert st.get("LatestDeliveryAttemptTime"), "no LatestDeliveryAttemptTime: %r" % st
        assert "LatestDeliveryTime" not in st, "a delivery time with nothing delivered: %r" % st

        # Every posted event waits in the outbox (complete log files, CloudTrail's keys).
        def all_in_outbox():
            files = outbox_files(doc, trail)
            recs = {k: read_log_file(v, k) for k, v in files.items()
                    if not k.startswith(".tmp/")}
            seen = {htlib.record_marker(r) for rs in recs.values() for r in rs}
            return recs if set(posted) <= seen else None

        waiting = wait_until("every posted event in the outbox", all_in_outbox, 15,
                             diag=lambda: "outbox %s" % sorted(outbox_files(doc, trail)))
        check_exactly(waiting, posted, "outbox")
        t_now = time.time()
        for k in waiting:
            check_key(k, t_now - 120, t_now)
        assert s3.ls(bucket) == {}, "objects in the bucket although every PUT was refused"
        st = trail_status(d, trail)
        assert "SignatureDoesNotMatch" in st.get("LatestDeliveryError", "") and \
            st.get("LatestDeliveryAttemptSucceeded") == "", "GetTrailStatus %r" % st
        # Swift itself refused them (its access log, written as each request ends).
        plog = os.path.join(SWIFT["dir"], "log", "proxy.log")

        def swift_puts():
            with open(plog, "rb") as f:
                return [l for l in f.read().decode("utf-8", "replace").splitlines()
                        if " PUT /%s/AWSLogs/" % bucket in l]

        lines = wait_until("Swift's log of the refused PUT", swift_puts, 10)
        assert all(" 403 " in l for l in lines), \
            "Swift's log should show only refused (403) PUTs to %s: %s" % (bucket, lines[-5:])
        htlib.log("%d files (%d events) kept in the outbox; Swift refused %d PUTs"
                  % (len(waiting), len(posted), len(lines)))

        # Fix the secret, SIGHUP: everything goes out once, promptly.
        htlib.write_secret(secret, SWIFT_SECRET)
        t_hup = time.time()
        sighup(d)
        dest = env.path("poll")
        took = wait_bucket_has_all(s3, bucket, posted, dest, 15, d, trail)
        htlib.log("delivered %.1fs after SIGHUP" % took)
        wait_until("an empty outbox", lambda: not outbox_files(doc, trail), 10,
                   diag=lambda: "left: %s" % sorted(outbox_files(doc, trail)))
        listed = s3.ls(bucket)
        dl = env.path("download")
        s3.cp_all(bucket, dl)
        files = read_tree(dl)
        assert set(files) == set(listed) == set(waiting), (
            "objects %s; downloaded %s; the outbox held %s" % (
                sorted(listed), sorted(files), sorted(waiting)))
        check_exactly(files, posted, "s3://%s after SIGHUP" % bucket)
        st = trail_status(d, trail)
        assert "LatestDeliveryError" not in st, "error not cleared: %r" % st
        assert st.get("LatestDeliveryAttemptSucceeded"), "GetTrailStatus %r" % st
        ldt = st.get("LatestDeliveryTime")
        assert isinstance(ldt, (int, float)) and ldt >= int(t_hup), \
            "LatestDeliveryTime %r before the SIGHUP: %r" % (ldt, st)

        rc = d.stop()
        assert rc == 0, "SIGTERM: exit status %s" % rc
        assert s3.ls(bucket) == listed, "objects changed after SIGTERM"

        # Neither secret ever reached the log or the state directory in clear.
        text = d.log_text()
        for s, what in ((wrong, "the wrong secret"), (SWIFT_SECRET, "the right secret")):
            assert s not in text, "%s (%r) is in the daemon's log" % (what, s)
        for dp, dn, fns in os.walk(doc["state_dir"]):
            for fn in fns:
                with open(os.path.join(dp, fn), "rb") as f:
                    data = f.read()
                assert wrong.encode() not in data, "the wrong secret is in %s" % fn


# --------------------------------------------------------------------------- must-show 6

class RecordingProxy:
    """A TCP proxy to 127.0.0.1:target_port that parses the HTTP/1.1 requests and responses
    passing through (Content-Length bodies; chunked ones are forwarded raw), recording for
    each request its line, headers, body digests and the response status."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.requests = []
        self.errors = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.lsock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
            except OSError as e:
                self.errors.append("connect to Swift: %s" % e)
                c.close()
                continue
            s.settimeout(None)
            pending = collections.deque()
            threading.Thread(target=self._pump, args=(c, s, True, pending),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, False, pending),
                             daemon=True).start()

    @staticmethod
    def _parse_head(head):
        lines = head.decode("latin-1").split("\r\n")
        hdrs = []
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                hdrs.append((k.strip(), v.strip()))
        return lines[0], hdrs

    def _pump(self, src, dst, is_request, pending):
        buf = b""
        raw = False
        try:
            while True:
                if raw:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
                    continue
                while b"\r\n\r\n" not in buf:
                    data = src.recv(65536)
                    if not data:
                        if buf:
                            dst.sendall(buf)
                        raise EOFError
                    buf += data
                i = buf.index(b"\r\n\r\n") + 4
                head, buf = buf[:i], buf[i:]
                line, hdrs = self._parse_head(head)
                low = {k.lower(): v for k, v in hdrs}
                if is_request:
                    rec = {"line": line, "headers": hdrs}
                    with self.lock:
                        self.requests.append(rec)
                    pending.append(rec)
                else:
                    m = re.match(r"HTTP/1\.[01] (\d{3})", line)
                    code = int(m.group(1)) if m else 0
                    if 100 <= code < 200:
                        dst.sendall(head)
                        continue
                    rec = pending.popleft() if pending else {}
                    rec["status"] = code
                dst.sendall(head)
                if "chunked" in low.get("transfer-encoding", "").lower():
                    if is_request:
                        rec["chunked"] = True
                    dst.sendall(buf)
                    buf = b""
                    raw = True
                    continue
                if "content-length" in low:
                    n = int(low["content-length"])
                elif is_request:
                    n = 0
                else:
                    raw = True      # the body ends with the connection
                    dst.sendall(buf)
                    buf = b""
                    continue
                body = buf[:n]
                buf = buf[n:]
                dst.sendall(body)
                md5 = hashlib.md5(body)
                sha = hashlib.sha256(body)
                got = len(body)
                while got < n:
                    data = src.recv(min(65536, n - got))
                    if not data:
                        raise EOFError
                    dst.sendall(data)
                    md5.update(data)
                    sha.update(data)
                    got += len(data)
                if is_request:
                    rec["body_len"] = n
                    rec["body_md5"] = base64.b64encode(md5.digest()).decode()
                    rec["body_sha256"] = sha.hexdigest()
        except (EOFError, OSError):
            pass
        except Exception as e:      # noqa: BLE001 - reported by the test
            self.errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def puts(self):
        with self.lock:
            return [r for r in self.requests if r["line"].startswith("PUT ")]


def check_put(rec, want_line_re, want_host):
    """Problems with one recorded PUT (a list of strings)."""
    p = []
    line = rec["line"]
    m = want_line_re.match(line)
    if not m:
        p.append("request line %r does not match %s" % (line, want_line_re.pattern))
    hosts = [v for k, v in rec["headers"] if k.lower() == "host"]
    if hosts != [want_host]:
        p.append("Host header(s) %r, want exactly %r" % (hosts, want_host))
    h = {}
    for k, v in rec["headers"]:
        h.setdefault(k.lower(), v)
    if rec.get("status") != 200:
        p.append("Swift answered %r, want 200" % rec.get("status"))
    if rec.get("chunked"):
        p.append("chunked body: no Content-Length")
    md5 = h.get("content-md5")
    if md5 is None:
        p.append("no Content-MD5")
    elif rec.get("body_md5") is not None and md5 != rec["body_md5"]:
        p.append("Content-MD5 %r but the body's MD5 is %r" % (md5, rec["body_md5"]))
    sha = h.get("x-amz-content-sha256")
    if sha is None or not HEX64_RE.match(sha):
        p.append("x-amz-content-sha256 %r, want the body's SHA-256 (64 hex digits, not "
                 "UNSIGNED-PAYLOAD)" % sha)
    elif rec.get("body_sha256") is not None and sha != rec["body_sha256"]:
        p.append("x-amz-content-sha256 %s but the body's SHA-256 is %s"
                 % (sha, rec["body_sha256"]))
    if h.get("content-type") != "application/json":
        p.append("Content-Type %r" % h.get("content-type"))
    if h.get("content-encoding") != "gzip":
        p.append("Content-Encoding %r" % h.get("content-encoding"))
    if not re.match(r"^\d{8}T\d{6}Z$", h.get("x-amz-date", "")):
        p.append("X-Amz-Date %r" % h.get("x-amz-date"))
    auth = h.get("authorization", "")
    am = AUTH_RE.match(auth)
    if not am:
        p.append("Authorization %r is not AWS4-HMAC-SHA256 Credential=.../s3/aws4_request, "
                 "SignedHeaders=..., Signature=<64 hex>" % auth)
    else:
        key, day, region, signed, _sig = am.groups()
        if key != SWIFT_KEY or region != SWIFT_REGION or day != h.get("x-amz-date", "")[:8]:
            p.append("Authorization credential scope %s/%s/%s, want %s/<X-Amz-Date's day>/%s"
                     % (key, day, region, SWIFT_KEY, SWIFT_REGION))
        sh = signed.split(";")
        for need in ("content-md5", "host", "x-amz-content-sha256", "x-amz-date"):
            if need not in sh:
                p.append("SignedHeaders %s lacks %s" % (signed, need))
        if sh != sorted(sh):
            p.append("SignedHeaders %s not sorted" % signed)
        missing = [x for x in sh if x not in h]
        if missing:
            p.append("SignedHeaders names headers that were not sent: %s" % missing)
    if p:
        p.insert(0, line)
    return p


def test_addressing_styles():
    s3 = S3Cli()
    bp = fresh_bucket(s3, "path")
    bv = fresh_bucket(s3, "vhost")
    proxy = RecordingProxy(SWIFT["port"])
    pp = proxy.port
    try:
        with htlib.Env("s3-addr") as env:
            secret = htlib.write_secret(env.path("swift.secret"), SWIFT_SECRET)
            buckets = {
                "swift-path": s3_bucket(bp, "http://127.0.0.1:%d" % pp, secret,
                                        path_style=True),
                "swift-vhost": s3_bucket(bv, "http://s3.localhost:%d" % pp, secret,
                                         path_style=False, resolve_to="127.0.0.1"),
            }
            trails = [s3_trail("path-trail", "swift-path"), s3_trail("vhost-trail", "swift-vhost")]
            doc = s3_config(env, trails, buckets)
            d = env.daemon(env.write_config(doc)).start()
            d.doc = doc
            posted = post(d, 2, 20, "as")
            for t, b in (("path-trail", bp), ("vhost-trail", bv)):
                wait_bucket_has_all(s3, b, posted, env.path("poll-" + t), 20, d, t)
                wait_until("an empty outbox for %s" % t, lambda t=t: not outbox_files(doc, t),
                           10, diag=lambda t=t: "left %s" % sorted(outbox_files(doc, t)))
            assert not proxy.errors, "recording proxy: %s" % proxy.errors

            key_pat = (r"AWSLogs/%s/CloudTrail/%s/\d{4}/\d{2}/\d{2}/[A-Za-z0-9_.-]+\.json\.gz"
                       % (ACCOUNT, re.escape(REGION)))
            styles = {
                "path-trail": (bp, re.compile(r"^PUT /%s/(%s) HTTP/1\.1$" % (re.escape(bp),
                                                                            key_pat)),
                               "127.0.0.1:%d" % pp),
                "vhost-trail": (bv, re.compile(r"^PUT /(%s) HTTP/1\.1$" % key_pat),
                                "%s.s3.localhost:%d" % (bv, pp)),
            }
            puts = proxy.puts()
            others = [r["line"] for r in proxy.requests if not r["line"].startswith("PUT ")]
            assert not others, "requests other than PUT went through the proxy: %s" % others
            for t, (bucket, line_re, host) in styles.items():
                # This trail's PUTs: the bucket in the Host header or in the path.
                mine = [r for r in puts if r["line"].startswith("PUT /%s/" % bucket) or
                        any(k.lower() == "host" and bucket in v for k, v in r["headers"])]
                assert mine, "no PUT for %s (bucket %s) went through the proxy; saw %s" % (
                    t, bucket, [(r["line"], r["headers"]) for r in puts][:4])
                problems = []
                for r in mine:
                    problems.extend(check_put(r, line_re, host))
                assert not problems, "%s: %s" % (t, "\n  ".join(problems))
                keys = {line_re.match(r["line"]).group(1) for r in mine}
                # Swift stored them: the aws CLI, straight at Swift, reads them back.
                listed = s3.ls(bucket)
                assert set(listed) == keys, "%s: s3://%s holds %s, the PUTs were for %s" % (
                    t, bucket, sorted(listed), sorted(keys))
                dl = env.path("download-" + t)
                s3.cp_all(bucket, dl)
                files = read_tree(dl)
                for k in files:
                    check_key(k, time.time() - 120, time.time())
                check_exactly(files, posted, "%s s3://%s" % (t, bucket))
                sample = mine[0]
                htlib.log("%s: %d PUT(s), e.g. %r Host %r, SignedHeaders %s" % (
                    t, len(mine), sample["line"][:70] + "...", host,
                    AUTH_RE.match(dict((k.lower(), v) for k, v in sample["headers"])
                                  ["authorization"]).group(4)))
                st = trail_status(d, t)
                assert "LatestDeliveryError" not in st and st.get("LatestDeliveryTime"), \
                    "%s: GetTrailStatus %r" % (t, st)
            assert len(puts) == sum(1 for r in puts if r.get("status") == 200), \
                "not every PUT answered 200: %s" % [(r["line"], r.get("status")) for r in puts]
            rc = d.stop()
            assert rc == 0, "SIGTERM: exit status %s" % rc
    finally:
        proxy.close()


if __name__ == "__main__":
    swift_start()
    try:
        aws_cli()
        htlib.run([test_delivery_to_swift, test_sigterm_delivers_the_open_batch,
                   test_wrong_secret_then_sighup, test_addressing_styles],
                  teardown=swift_stop)
    finally:
        swift_stop()
