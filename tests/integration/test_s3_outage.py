#!/usr/bin/env python3
"""Issue: S3 delivery through the outbox against a real, signature-checking S3 (OpenStack
Swift with s3api, tests/integration/swift/swift.sh), when that S3 goes away.

test_outage_60s_with_restart (must-show 3)
    Events flow at a steady pace into a 1 s trail whose bucket is on Swift.  Swift's proxy
    is stopped for 60 s; half-way through the outage hosttraild is restarted (SIGTERM,
    start).  After the proxy is back and the outbox has drained: the objects in the bucket
    are exactly the files hosttraild built (its debug log names each one) and every file a
    watcher ever saw in the outbox directory; each object holds the records its file was
    built with; every acked event is in exactly one object; nothing was delivered twice.
    The daemon logged the failed uploads in both runs, with retry delays growing from
    retry_min towards retry_max; GetTrailStatus showed a LatestDeliveryError during the
    outage (in both runs) and none after recovery.

test_five_trails_one_unreachable (must-show 4)
    Five 1 s trails, four to Swift buckets.  The fifth goes to Swift too (baseline), then to
    an endpoint that accepts TCP connections and never answers (timeout: 5s), then to a
    closed port.  In each phase, 3 rounds of 100 requests x 100 events (the most one
    PutAuditEvents takes) are posted as fast as one client can; with a broken fifth trail
    the best round's ingest rate stays >= 50% of the baseline's, the four healthy trails
    have every event in their buckets within interval + 5 s of the last ack and log no
    failure, and the fifth shows a LatestDeliveryError, logs its failures, delivers
    nothing, and its outbox holds every event (also after SIGTERM, which is not held up).

Swift is started once for the file; exit 77 (skip) when swift.sh says Swift cannot be had.
The daemon gets no AWS_* and no proxy variables; objects are read back with SigV4-signed
requests (htlib.sigv4_headers: botocore's signer, or the stdlib one).
"""

import atexit
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

import htlib

SWIFT_SH = os.path.join(htlib.HERE, "swift", "swift.sh")
S3_KEY = "test:tester"
S3_SECRET = "testing"
S3_REGION = "us-east-1"          # Swift's s3api location: the signing region

OUTAGE_S = 60.0                  # the "stopped for 60 s"
RESTART_AT_S = 25.0              # hosttraild is restarted this long into the outage
DRAIN_TIMEOUT = 60.0             # outbox empty after the proxy is back (retry_max is 3 s)

N_REQUESTS = 100
BATCH = 100             # PutAuditEvents takes at most 100 events
ROUNDS = 3
INTERVAL_S = 1.0
ON_TIME_S = INTERVAL_S + 5.0     # the "on time": interval + 5 s
MIN_RATE_RATIO = 0.5
HANG_TIMEOUT = "5s"

# The daemon must not inherit the runner's AWS_* or proxy settings (it would otherwise take
# credentials or a proxy from them); Daemon.start copies os.environ, so clean it here.
for _k in list(os.environ):
    if _k.startswith("AWS_") or _k.lower() in ("http_proxy", "https_proxy", "all_proxy",
                                                 "no_proxy", "ftp_proxy"):
        del os.environ[_k]

SWIFT = {"dir": None, "port": None}


# --------------------------------------------------------------------------- Swift

def swift_cmd(*args, timeout=120):
    return subprocess.run([SWIFT_SH] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def swift_start():
    d = tempfile.mkdtemp(prefix="ht-outage-swift.", dir="/tmp")
    r = swift_cmd("start", d, timeout=900)      # may apt-get install Swift first
    if r.returncode == 77:
        htlib.log("SKIP: Swift is not available: %s" % r.stderr.decode("utf-8", "replace"))
        shutil.rmtree(d, ignore_errors=True)
        sys.exit(77)
    if r.returncode != 0:
        htlib.log("swift.sh start failed (exit %d): %s" % (
            r.returncode, r.stderr.decode("utf-8", "replace")[-2000:]))
        swift_cmd("stop", d)
        sys.exit(99)
    SWIFT["dir"] = d
    SWIFT["port"] = int(r.stdout.decode().split()[-1])
    atexit.register(swift_stop)
    htlib.log("Swift s3api on 127.0.0.1:%d (state in %s)" % (SWIFT["port"], d))


def swift_stop(n_failed=0):
    d = SWIFT["dir"]
    if d is None:
        return
    SWIFT["dir"] = None
    swift_cmd("stop", d, timeout=120)
    if n_failed or os.environ.get("HT_KEEP"):
        htlib.log("Swift state and logs kept in %s" % d)
    else:
        shutil.rmtree(d, ignore_errors=True)


def swift_proxy(action):
    """stop-proxy / start-proxy; returns the seconds it took."""
    t0 = time.monotonic()
    r = swift_cmd(action, SWIFT["dir"], timeout=120)
    assert r.returncode == 0, "swift.sh %s failed (exit %d): %s" % (
        action, r.returncode, r.stderr.decode("utf-8", "replace")[-1000:])
    return time.monotonic() - t0


class S3:
    """Just enough S3 for reading buckets back: SigV4-signed requests to Swift's s3api."""

    def __init__(self, port):
        self.port = port
        self.endpoint = "http://127.0.0.1:%d" % port

    def request(self, method, path, query=(), body=b"", timeout=30):
        qs = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"),
                                 urllib.parse.quote(v, safe="-_.~")) for k, v in sorted(query))
        target = urllib.parse.quote(path, safe="/-_.~") + ("?" + qs if qs else "")
        headers = {"Host": "127.0.0.1:%d" % self.port,
                   "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
        signed = htlib.sigv4_headers(method, self.endpoint + target, body, headers, S3_KEY,
                                     S3_SECRET, region=S3_REGION, service="s3")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, target, body=body, headers=signed)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def create_bucket(self, bucket):
        st, body = self.request("PUT", "/" + bucket)
        assert st == 200 or b"BucketAlreadyOwnedByYou" in body, \
            "create bucket %s: HTTP %d %r" % (bucket, st, body[:300])

    def list_keys(self, bucket, prefix=""):
        """{key: size} of every object under prefix (ListObjectsV2, following pages)."""
        out, token = {}, None
        ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
        while True:
            q = [("list-type", "2"), ("prefix", prefix)]
            if token:
                q.append(("continuation-token", token))
            st, body = self.request("GET", "/" + bucket, q)
            assert st == 200, "list %s/%s: HTTP %d %r" % (bucket, prefix, st, body[:300])
            root = ET.fromstring(body)
            for c in root.iter(ns + "Contents"):
                out[c.find(ns + "Key").text] = int(c.find(ns + "Size").text)
            if (root.findtext(ns + "IsTruncated") or "false") != "true":
                return out
            token = root.findtext(ns + "NextContinuationToken")

    def get(self, bucket, key):
        st, body = self.request("GET", "/%s/%s" % (bucket, key))
        assert st == 200, "get %s/%s: HTTP %d %r" % (bucket, key, st, body[:300])
        return body


def parse_log_file(raw, what):
    """Records of a CloudTrail log file (gzip'd {"Records":[...]}), or AssertionError."""
    try:
        doc = json.loads(gzip.decompress(raw).decode("utf-8"))
    except (OSError, EOFError, ValueError) as e:
        raise AssertionError("%s: not a gzip'd JSON document: %s" % (what, e))
    if not isinstance(doc, dict) or list(doc) != ["Records"] or \
            not isinstance(doc["Records"], list) or not doc["Records"]:
        raise AssertionError("%s: not a non-empty {\"Records\":[...]}" % what)
    return doc["Records"]


class Bucket:
    """A bucket (under an optional key prefix) read back incrementally: every key is checked
    against CloudTrail's layout and every object gunzipped and parsed."""

    def __init__(self, s3, bucket, prefix=None):
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.layout = htlib.Spool("/nonexistent", prefix=prefix)   # only for its key check
        self.objects = {}       # key -> (size, records)
        self.first_seen = {}    # key -> monotonic time of the first listing that showed it

    def list(self):
        listed = self.s3.list_keys(self.bucket, (self.prefix + "/") if self.prefix else "")
        now = time.monotonic()
        for key in listed:
            self.first_seen.setdefault(key, now)
        return listed

    def fetch(self, listed):
        """Download and parse what list() showed that is new or changed."""
        for key, size in listed.items():
            old = self.objects.get(key)
            if old is not None and old[0] == size:
                continue
            self.layout._check_key(key)
            self.objects[key] = (size, parse_log_file(self.s3.get(self.bucket, key),
                                                      "s3://%s/%s" % (self.bucket, key)))

    def scan(self):
        listed = self.list()
        self.fetch(listed)
        return listed

    def delivered_at(self, ids):
        """When the last of ids was first listed (monotonic), or None if some are missing."""
        w = self.where()
        if not set(ids) <= set(w):
            return None
        return max(self.first_seen[k] for e in ids for k in w[e])

    def where(self):
        """{eventID: [keys of the objects holding it]}."""
        w = {}
        for key, (_s, recs) in self.objects.items():
            for r in recs:
                w.setdefault(r.get("eventID"), []).append(key)
        return w

    def wait_for_ids(self, ids, timeout, poll=0.2):
        ids = set(ids)
        t0 = time.monotonic()
        while True:
            self.scan()
            missing = ids - set(self.where())
            if not missing:
                return time.monotonic() - t0
            if time.monotonic() - t0 >= timeout:
                raise AssertionError("s3://%s/%s: %d of %d events not there within %.1fs "
                                     "(%d objects so far)" % (
                                         self.bucket, self.prefix or "", len(missing),
                                         len(ids), timeout, len(self.objects)))
            time.sleep(poll)


def s3_bucket_conf(bucket, secret_file, endpoint=None, **extra):
    b = {"type": "s3", "bucket": bucket,
         "endpoint": endpoint or "http://127.0.0.1:%d" % SWIFT["port"],
         "region": S3_REGION, "path_style": True, "timeout": "10s",
         "credentials": {"access_key_id": S3_KEY, "secret_file": secret_file}}
    b.update(extra)
    return b


def s3_trail(name, bucket, **extra):
    t = htlib.trail(name, bucket, interval="1s", **extra)
    t["delivery"].update({"retry_min": "%dms" % (RETRY_MIN * 1000),
                          "retry_max": "%ds" % RETRY_MAX})
    t["outbox_max"] = 10000
    return t


def trail_status(d, name):
    c = d.client(timeout=30)
    try:
        rep = c.call("GetTrailStatus", {"Name": name})
    finally:
        c.close()
    assert rep.status == 200 and isinstance(rep.json, dict), \
        "GetTrailStatus %s: %r" % (name, rep)
    return rep.json


def outbox_keys(files_dir):
    """Keys of the files in an outbox (state_dir/outbox/TRAIL/files), without .tmp/."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(files_dir):
        if dirpath == files_dir:
            dirnames[:] = [x for x in dirnames if x != ".tmp"]
        for fn in filenames:
            out.add(os.path.relpath(os.path.join(dirpath, fn), files_dir))
    return out


class OutboxWatcher(threading.Thread):
    """Lists an outbox every 50 ms; remembers every file it ever saw and the most at once."""

    def __init__(self, files_dir):
        super().__init__(daemon=True)
        self.files_dir = files_dir
        self.stop_event = threading.Event()
        self.seen = {}          # key -> monotonic time first seen
        self.most = 0
        self.scans = 0
        self.error = None

    def run(self):
        while not self.stop_event.is_set():
            try:
                now = outbox_keys(self.files_dir)
            except Exception as e:          # noqa: BLE001 - reported by the test
                self.error = "%s: %s" % (type(e).__name__, e)
                return
            t = time.monotonic()
            for k in now:
                self.seen.setdefault(k, t)
            self.most = max(self.most, len(now))
            self.scans += 1
            self.stop_event.wait(0.05)


def hold_port(port):
    """Bind (without listening) the stopped proxy's port, so that nothing else on the machine
    takes it during the outage; connections to it are still refused.  None if it cannot."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError as e:
        htlib.log("cannot hold port %d during the outage (%s); going on" % (port, e))
        s.close()
        return None
    return s


def events_by_marker(records):
    out = {}
    for r in records:
        out.setdefault(htlib.record_marker(r), []).append(r.get("eventID"))
    return out


# --------------------------------------------------------------------------- must-show 3

BUILT_RE = re.compile(r"trail trail-1: built (\S+) \((\d+) records\)")
FAILED_RE = re.compile(r"trail trail-1: delivering (\S+) failed: cannot reach .*, retrying "
                       r"in ([0-9.]+) s")
RETRY_MIN, RETRY_MAX = 0.2, 3.0  # s3_trail()'s retry_min / retry_max


def steady_batch(name, seq):
    return [htlib.make_event("%s-%05d-%02d" % (name, seq, i)) for i in range(10)]


def test_outage_60s_with_restart():
    s3 = S3(SWIFT["port"])
    s3.create_bucket("ht-outage")
    with htlib.Env("outage") as env:
        secret = htlib.write_secret(env.path("swift.secret"), S3_SECRET)
        doc = htlib.config_doc(env.root, trails=[s3_trail("trail-1", "swift")], buckets=[])
        doc["buckets"] = {"swift": s3_bucket_conf("ht-outage", secret)}
        # -d: the debug log names every file built ("built KEY (N records)").
        d = env.daemon(env.write_config(doc), extra_args=["-d"]).start()
        files_dir = os.path.join(doc["state_dir"], "outbox", "trail-1", "files")
        bucket = Bucket(s3, "ht-outage")
        watcher = OutboxWatcher(files_dir)
        watcher.start()
        # ~100 events/s from one client, 10 events every 0.1 s.
        poster = htlib.Poster(d.socket_path, steady_batch, name="p", pause=0.1, timeout=30)
        poster.start()
        statuses = []           # (phase, GetTrailStatus) during the outage
        proxy_down, guard = False, None
        try:
            # Delivery works before the outage.
            deadline = time.monotonic() + 20
            while not bucket.scan():
                assert time.monotonic() < deadline, "no object in the bucket within 20s"
                time.sleep(0.2)
            took = swift_proxy("stop-proxy")
            proxy_down = True
            t_down = time.monotonic()
            guard = hold_port(SWIFT["port"])
            htlib.log("proxy stopped (%.1fs); outage for %.0fs, %d objects before it"
                      % (took, OUTAGE_S, len(bucket.objects)))
            restarted = False
            while time.monotonic() - t_down < OUTAGE_S:
                if not restarted and time.monotonic() - t_down >= RESTART_AT_S:
                    n_files = len(outbox_keys(files_dir))
                    t0 = time.monotonic()
                    rc = d.stop()
                    assert rc == 0, "SIGTERM during the outage: exit status %s" % rc
                    d.start()
                    restarted = True
                    htlib.log("hosttraild restarted %.0fs into the outage (%d files in the "
                              "outbox; %.1fs)" % (time.monotonic() - t_down, n_files,
                                                  time.monotonic() - t0))
                    continue
                if d.alive():
                    try:
                        statuses.append(("after" if restarted else "before",
                                         trail_status(d, "trail-1")))
                    except (OSError, http.client.HTTPException):
                        pass
                time.sleep(1.0)
            assert restarted
            in_outbox = len(outbox_keys(files_dir))
            if guard is not None:
                guard.close()
            took = swift_proxy("start-proxy")
            proxy_down = False
            t_up = time.monotonic()
            htlib.log("proxy back after %.1fs (start-proxy took %.1fs); %d files in the "
                      "outbox" % (t_up - t_down, took, in_outbox))
            time.sleep(3.0)     # a few more events after the recovery
        finally:
            htlib.stop_posters([poster])
            if proxy_down:      # failed during the outage: the next test needs Swift
                if guard is not None:
                    guard.close()
                swift_proxy("start-proxy")

        assert not poster.bad, "replies other than full success or a dropped connection: " \
            "%s" % poster.bad[0][3]
        acked = htlib.acked_ids([poster])                   # eventID -> marker
        unanswered = {e["id"] for (_a, _b, evs, _e) in poster.unanswered for e in evs}
        assert any(t0 > t_up for t0, _t1, _i, _e in poster.acked), \
            "no request was acked after the proxy came back"
        assert any(t_down + RESTART_AT_S < t0 < t_up for t0, _t1, _i, _e in poster.acked), \
            "no request was acked between the restart and the end of the outage"

        # Wait until the outbox is empty and every acked event is in the bucket (or the
        # outbox has stayed empty for 10 s: the checks below then say what was lost).
        t0 = time.monotonic()
        empty_since = None
        while True:
            left = outbox_keys(files_dir)
            bucket.scan()
            missing = set(acked) - set(bucket.where())
            if left:
                empty_since = None
            elif empty_since is None:
                empty_since = time.monotonic()
            if not left and (not missing or time.monotonic() - empty_since > 10):
                break
            if time.monotonic() - t0 > DRAIN_TIMEOUT:
                raise AssertionError("%.0fs after the proxy came back: %d files still in the "
                                     "outbox (e.g. %s), %d acked events not in the bucket"
                                     % (DRAIN_TIMEOUT, len(left), sorted(left)[:2],
                                        len(missing)))
            time.sleep(0.3)
        htlib.log("outbox drained %.1fs after the proxy came back" % (time.monotonic() - t_up))
        time.sleep(1.5)         # anything late (a duplicate) would show up now
        watcher.stop_event.set()
        watcher.join(10)
        assert watcher.error is None, "outbox watcher: %s" % watcher.error
        final = trail_status(d, "trail-1")
        rc = d.stop()
        assert rc == 0, "SIGTERM after the recovery: exit status %s" % rc
        bucket.scan()
        log_text = d.log_text()

        # -- files: built == in the bucket; everything seen in the outbox is in the bucket --
        built = {}
        for m in BUILT_RE.finditer(log_text):
            if m.group(1) in built and built[m.group(1)] != int(m.group(2)):
                raise AssertionError("%s built twice with different record counts (%s, %s)"
                                     % (m.group(1), built[m.group(1)], m.group(2)))
            built[m.group(1)] = int(m.group(2))
        objects = bucket.objects
        htlib.log("%d files built, %d objects, watcher saw %d files in the outbox (at most %d "
                  "at once, %d scans)" % (len(built), len(objects), len(watcher.seen),
                                          watcher.most, watcher.scans))
        assert built, "no \"built\" line in the debug log"
        not_delivered = sorted(set(built) - set(objects))
        assert not not_delivered, "%d of %d files built are not in the bucket (lost), e.g. " \
            "%s" % (len(not_delivered), len(built), not_delivered[:3])
        unknown = sorted(set(objects) - set(built))
        assert not unknown, "%d objects in the bucket were never built by hosttraild, " \
            "e.g. %s" % (len(unknown), unknown[:3])
        lost = sorted(set(watcher.seen) - set(objects))
        assert not lost, "%d files seen in the outbox never reached the bucket, e.g. %s" % (
            len(lost), lost[:3])
        # A 60 s outage with a 1 s interval: dozens of files waited in the outbox.
        assert watcher.most >= OUTAGE_S / 3, "only %d files were in the outbox at once during " \
            "a %.0fs outage" % (watcher.most, OUTAGE_S)
        wrong = {k: (len(objects[k][1]), n) for k, n in built.items()
                 if len(objects[k][1]) != n}
        assert not wrong, "objects whose record count differs from the file built " \
            "(object, built): %s" % dict(list(wrong.items())[:5])

        # -- records: every acked event exactly once, nothing twice --
        where = bucket.where()
        dups = {e: ks for e, ks in where.items() if len(ks) > 1}
        assert not dups, "%d eventIDs are in more than one object (or twice in one), e.g. %s" \
            % (len(dups), list(dups.items())[:3])
        missing = set(acked) - set(where)
        assert not missing, "%d acked events are not in the bucket, e.g. %s" % (
            len(missing), [acked[m] for m in sorted(missing)[:3]])
        all_recs = [r for _s, recs in objects.values() for r in recs]
        problems = []
        for marker, eids in events_by_marker(all_recs).items():
            if len(eids) > 1:
                problems.append("event %s delivered %d times (eventIDs %s)"
                                % (marker, len(eids), eids))
        for r in all_recs:
            p = htlib.check_record(r)
            eid = r.get("eventID")
            if eid in acked and acked[eid] != htlib.record_marker(r):
                p.append("acked for %s, carries %s" % (acked[eid], htlib.record_marker(r)))
            if eid not in acked and htlib.record_marker(r) not in unanswered:
                p.append("neither acked nor posted without an answer (%s)"
                         % htlib.record_marker(r))
            if p:
                problems.append("%s: %s" % (eid, "; ".join(p)))
        assert not problems, "%d problems:\n  %s" % (len(problems), "\n  ".join(problems[:10]))
        total = sum(built.values())
        assert len(all_recs) == total, "%d records in the bucket, %d in the files built" % (
            len(all_recs), total)
        htlib.log("%d records in %d objects: %d acked + %d from %d unanswered requests"
                  % (len(all_recs), len(objects), len(acked), len(all_recs) - len(acked),
                     len(poster.unanswered)))

        # -- the daemon said so: log lines in both runs, GetTrailStatus during the outage --
        runs = log_text.split("==== htlib: start #")
        assert len(runs) == 3, "expected two daemon starts in the log, found %d" % (len(runs) - 1)
        for name, text in (("first run", runs[1]), ("second run (started during the "
                                                                 "outage)", runs[2])):
            delays = [float(m.group(2)) for m in FAILED_RE.finditer(text)]
            assert len(delays) >= 3, "%s: %d \"delivering ... failed: cannot reach ..., " \
                "retrying in\" lines, want a few" % (name, len(delays))
            # Exponential backoff from retry_min up to retry_max (+-20% jitter, one line per
            # pause): the first retry soon, later ones near the cap, no hammering.
            assert delays[0] <= 1.25 * RETRY_MIN + 0.05, "%s: first retry after %.1fs, " \
                "retry_min is %.1fs: %s" % (name, delays[0], RETRY_MIN, delays)
            assert max(delays) >= 0.75 * RETRY_MAX, "%s: the backoff never approached " \
                "retry_max %.0fs: %s" % (name, RETRY_MAX, delays)
            bad = [x for x in delays if not 0.75 * RETRY_MIN - 0.05 <= x <= 1.25 * RETRY_MAX]
            assert not bad, "%s: retry delays outside retry_min..retry_max (+jitter): %s" \
                % (name, delays)
            assert len(delays) <= OUTAGE_S / (0.75 * RETRY_MAX) + 8, \
                "%s: %d failed attempts logged in a %.0fs outage: retrying too often: %s" \
                % (name, len(delays), OUTAGE_S, delays)
        assert re.search(r"trail trail-1: \d+ file\(s\) \(\d+ bytes\) waiting in the outbox "
                         r"from before", runs[2]), \
            "the run started during the outage did not report the files waiting from before"
        assert "trail trail-1: delivery works again" in runs[2], \
            "no \"delivery works again\" after the proxy came back"
        for phase in ("before", "after"):
            errs = [s.get("LatestDeliveryError") for p, s in statuses if p == phase]
            with_err = [e for e in errs if e]
            assert with_err, "GetTrailStatus never showed a LatestDeliveryError during the " \
                "outage %s the restart (%d polls: %s)" % (phase, len(errs), errs[-3:])
            assert any("cannot reach" in e for e in with_err), with_err[-3:]
        htlib.log("GetTrailStatus during the outage: %r" % statuses[-1][1].get(
            "LatestDeliveryError"))
        assert "LatestDeliveryError" not in final, \
            "GetTrailStatus still shows a LatestDeliveryError after the recovery: %r" % final
        assert final.get("LatestDeliveryAttemptSucceeded"), final


# --------------------------------------------------------------------------- must-show 4

class BlackHole(threading.Thread):
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.held.append(c)

    def close(self):
        self.stop_event.set()
        self.join(5)
        for c in self.held:
            c.close()
        self.sock.close()


def post_fast(d, tag):
    """ROUNDS times N_REQUESTS x BATCH events, one request after the other on one
    connection, as fast as the daemon answers.  Returns ({eventID: marker}, the best
    round's events/s, the last ack's time).  The best of a few short rounds: a round is
    well under a second here, and one scheduling hiccup on a shared machine should not
    decide the comparison."""
    acked, rates = {}, []
    for rnd in range(ROUNDS):
        batches = [[htlib.make_event("%s-%d-%03d-%03d" % (tag, rnd, r, i))
                    for i in range(BATCH)] for r in range(N_REQUESTS)]
        c = d.client(timeout=60)
        try:
            t0 = time.monotonic()
            for b in batches:
                ids = htlib.check_ok_reply(c.post_events("default", b), b)
                for e in b:
                    acked[ids[e["id"]]] = e["id"]
            t1 = time.monotonic()
        finally:
            c.close()
        rates.append(N_REQUESTS * BATCH / (t1 - t0))
    htlib.log("%s: %d rounds of %d events: %s events/s" % (
        tag, ROUNDS, N_REQUESTS * BATCH, ", ".join("%.0f" % r for r in rates)))
    return acked, max(rates), t1


def five_trail_phase(s3, phase, fifth):
    """One daemon with five trails; fifth: None (to Swift) or an endpoint URL.  Returns the
    ingest rate."""
    with htlib.Env("five-" + phase) as env:
        secret = htlib.write_secret(env.path("swift.secret"), S3_SECRET)
        trails = [s3_trail("trail-%d" % i, "swift-%d" % i, s3_key_prefix=phase)
                  for i in range(1, 6)]
        doc = htlib.config_doc(env.root, trails=trails, buckets=[])
        doc["buckets"] = {"swift-%d" % i: s3_bucket_conf("ht-five-%d" % i, secret)
                          for i in range(1, 5)}
        doc["buckets"]["swift-5"] = s3_bucket_conf("ht-five-5", secret) if fifth is None \
            else s3_bucket_conf("ht-five-5", secret, endpoint=fifth, timeout=HANG_TIMEOUT)
        d = env.daemon(env.write_config(doc)).start()
        healthy = [Bucket(s3, "ht-five-%d" % i, prefix=phase)
                   for i in range(1, 6 if fifth is None else 5)]
        fifth_outbox = os.path.join(doc["state_dir"], "outbox", "trail-5", "files")

        # Warm up: every trail has built and tried to deliver once, so the measurement
        # below runs while the fifth trail is failing (a PUT hanging, or retrying).
        warm = post_warm_up(d, phase)
        for b in healthy:
            b.wait_for_ids(warm, timeout=ON_TIME_S + 5)
        if fifth is not None:
            deadline = time.monotonic() + 15
            while not trail_status(d, "trail-5").get("LatestDeliveryError") and \
                    not (phase == "hang" and BLACKHOLE.held):
                assert time.monotonic() < deadline, "%s: the fifth trail has not tried to " \
                    "deliver within 15s" % phase
                time.sleep(0.1)

        acked, rate, t_last = post_fast(d, phase)
        htlib.log("%s: %d events in %d requests at %.0f events/s" % (
            phase, len(acked), N_REQUESTS, rate))

        # On time: the healthy trails' buckets have every event within interval + 5 s.
        # Each poll lists every bucket first and only then downloads what is new, and an
        # object counts as delivered when a listing first showed it: the time spent here
        # parsing 10,000-record files does not count against the daemon.
        deadline = t_last + ON_TIME_S + 10
        while True:
            listed = [b.list() for b in healthy]
            for b, lst in zip(healthy, listed):
                b.fetch(lst)
            at = [b.delivered_at(acked) for b in healthy]
            if None not in at or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        late = ["s3://%s/%s: %s" % (b.bucket, phase, "%d of %d events missing after %.0fs" % (
            len(set(acked) - set(b.where())), len(acked), time.monotonic() - t_last)
            if a is None else "complete %.1fs after the last ack" % (a - t_last))
            for b, a in zip(healthy, at) if a is None or a - t_last > ON_TIME_S]
        assert not late, "%s: healthy trails not delivered within interval + 5 s = %.0fs: %s" \
            % (phase, ON_TIME_S, "; ".join(late))
        took = max(at) - t_last
        for b in healthy:
            w = b.where()
            dups = {e: ks for e, ks in w.items() if len(ks) > 1}
            assert not dups, "%s: s3://%s: %d events twice, e.g. %s" % (
                phase, b.bucket, len(dups), list(dups.items())[:2])
            extra = set(w) - set(acked) - set(warm)
            assert not extra, "%s: s3://%s: %d events never posted" % (phase, b.bucket,
                                                                        len(extra))
        htlib.log("%s: %d healthy trails had all events %.1fs after the last ack"
                  % (phase, len(healthy), took))

        if fifth is not None:
            # The fifth trail failed visibly, delivered nothing, and keeps its files.
            deadline = time.monotonic() + 15
            while True:
                st = trail_status(d, "trail-5")
                spool = htlib.Spool(fifth_outbox, prefix=phase)
                spool.scan()
                have = set(spool.event_ids())
                if st.get("LatestDeliveryError") and set(acked) <= have:
                    break
                assert time.monotonic() < deadline, \
                    "%s: after 15s the fifth trail shows LatestDeliveryError %r and its " \
                    "outbox holds %d of the %d events (%d files)" % (
                        phase, st.get("LatestDeliveryError"), len(set(acked) & have),
                        len(acked), len(spool.files))
                time.sleep(0.2)
            htlib.assert_exactly_once(spool, set(acked) | set(warm), phase + " fifth outbox")
            htlib.log("%s: fifth trail: %d files in its outbox, LatestDeliveryError %r"
                      % (phase, len(spool.files), st["LatestDeliveryError"]))
            assert "LatestDeliveryTime" not in st, \
                "%s: the fifth trail reports a delivery: %r" % (phase, st)
            if phase == "hang":
                assert BLACKHOLE.held, "the never-answering endpoint got no connection"
                assert re.search(r"(?i)time|timeout", st["LatestDeliveryError"]), st
            else:
                assert "cannot reach" in st["LatestDeliveryError"], st
            listed = s3.list_keys("ht-five-5", phase + "/")
            assert not listed, "%s: objects appeared in the fifth trail's bucket: %s" % (
                phase, sorted(listed)[:3])
            for i in range(1, 5):
                st = trail_status(d, "trail-%d" % i)
                assert "LatestDeliveryError" not in st, \
                    "%s: healthy trail-%d reports an error: %r" % (phase, i, st)
            text = d.log_text()
            assert re.search(r"trail trail-5: delivering \S+ failed: cannot reach ", text), \
                "%s: no failed delivery of trail-5 in the daemon's log" % phase
        bad = re.findall(r"trail trail-[1-%d]: delivering \S+ failed: .*" % len(healthy),
                         d.log_text())
        assert not bad, "%s: a healthy trail logged failures: %s" % (phase, bad[:2])

        # Shutdown is not held up by the broken trail (uploads in flight are cancelled;
        # its files stay in the outbox).
        t0 = time.monotonic()
        rc = d.stop()
        assert rc == 0, "%s: SIGTERM: exit status %s" % (phase, rc)
        assert time.monotonic() - t0 < 20, "%s: SIGTERM took %.1fs" % (
            phase, time.monotonic() - t0)
        if fifth is not None:
            assert outbox_keys(fifth_outbox), "%s: the fifth outbox is empty after SIGTERM" \
                % phase
        return rate


def post_warm_up(d, tag):
    """100 events in one request; {eventID: marker}."""
    c = d.client(timeout=60)
    try:
        b = [htlib.make_event("%s-warm-%03d" % (tag, i)) for i in range(100)]
        ids = htlib.check_ok_reply(c.post_events("default", b), b)
    finally:
        c.close()
    return {ids[e["id"]]: e["id"] for e in b}


BLACKHOLE = None


def test_five_trails_one_unreachable():
    global BLACKHOLE
    s3 = S3(SWIFT["port"])
    for i in range(1, 6):
        s3.create_bucket("ht-five-%d" % i)
    base = five_trail_phase(s3, "base", None)
    BLACKHOLE = BlackHole()
    BLACKHOLE.start()
    try:
        hang = five_trail_phase(s3, "hang", "http://127.0.0.1:%d" % BLACKHOLE.port)
    finally:
        BLACKHOLE.close()
    # A closed port: bound (so nobody else takes it) but not listening -> refused.
    closed_sock = socket.socket()
    closed_sock.bind(("127.0.0.1", 0))
    try:
        closed = five_trail_phase(s3, "closed", "http://127.0.0.1:%d"
                                  % closed_sock.getsockname()[1])
    finally:
        closed_sock.close()
    htlib.log("ingest: %.0f events/s with five healthy trails, %.0f with one hanging "
              "(%.0f%%), %.0f with one refused (%.0f%%)" % (
                  base, hang, 100 * hang / base, closed, 100 * closed / base))
    # Timed assertions are avoided elsewhere; this one is about not blocking, not speed.
    # Delivery runs beside ingest (its own S3 client per trail on the event loop), so a
    # trail stuck on an endpoint that never answers must not slow PutAuditEvents: if it
    # did (a blocking connect/upload on the loop, a lock held across an upload), the rate
    # would drop by orders of magnitude, not by a factor of two.  Half the baseline leaves
    # room for a shared two-core machine and ASan.
    for name, rate in (("hanging", hang), ("refusing", closed)):
        assert rate >= MIN_RATE_RATIO * base, \
            "ingest with a %s fifth trail: %.0f events/s, below %.0f%% of the %.0f events/s " \
            "with five healthy trails" % (name, rate, 100 * MIN_RATE_RATIO, base)


if __name__ == "__main__":
    if not os.access(htlib.HOSTTRAILD, os.X_OK):
        htlib.run([test_outage_60s_with_restart, test_five_trails_one_unreachable])
    swift_start()
    htlib.run([test_outage_60s_with_restart, test_five_trails_one_unreachable],
              teardown=swift_stop)
