#!/usr/bin/env python3
"""make bench: S3 delivery throughput of hosttraild to a local Swift (s3api) on loopback.

Measures delivery alone, not ingest or building:
  1. starts OpenStack Swift with s3api (tests/integration/swift/swift.sh; exit 77 = skip when
     Swift is not available) and creates one bucket per trail;
  2. pre-loads the outboxes: a daemon with --trails `type: s3` trails (default 5, the
     daemon's maximum), each to its own bucket whose endpoint is a closed port on 127.0.0.1,
     is posted --events events; each trail builds them into files of --events-per-file
     records, which pile up in STATE/outbox/TRAIL/files/ because every upload is refused.
     Once every outbox holds every record (counted by gunzipping), the daemon is stopped;
  3. rewrites the config to point every bucket at Swift, starts the daemon again and times
     until every outbox directory is empty (polled every --poll seconds);
  4. checks Swift holds exactly the pre-loaded files: list_objects_v2 (paginated) of each
     bucket gives the same keys, sizes, and ETags equal to the MD5 of the pre-loaded bytes.
Prints files/s and MB/s (compressed bytes as uploaded, MB = 10^6 bytes) overall and per
trail, p50/p99 file size, CPU seconds of the daemon and of Swift during the drain.
Exit status: 0 done, 1 failed (an error or a check that does not hold), 77 Swift missing.
The daemon runs with no AWS_* or proxy variables in its environment."""

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import htlib  # noqa: E402

ACCESS_KEY = "test:tester"
SECRET = "testing"
S3_REGION = "us-east-1"
EVENT_ID_RE = re.compile(rb'"eventID":"([0-9a-f-]{36})"')


def clean_environ():
    """Drop AWS_* and proxy variables from this process (the daemons inherit it)."""
    for k in list(os.environ):
        if k.startswith("AWS_") or k.lower() in ("http_proxy", "https_proxy", "all_proxy",
                                                 "no_proxy", "ftp_proxy"):
            del os.environ[k]


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


def cpu_seconds(pid):
    """utime + stime of a live process (its threads included), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def socket_accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def outbox_files(files_dir):
    """{key: path} of the files waiting in one outbox (its .tmp staging area skipped)."""
    out = {}
    for dirpath, dirnames, names in os.walk(files_dir):
        if dirpath == files_dir:
            dirnames[:] = [d for d in dirnames if d != ".tmp"]
        for n in names:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, files_dir)] = p
    return out


def outbox_count(files_dir):
    n = 0
    for dirpath, dirnames, names in os.walk(files_dir):
        if dirpath == files_dir:
            dirnames[:] = [d for d in dirnames if d != ".tmp"]
        n += len(names)
    return n


class S3:
    """Bucket creation and listing on Swift: boto3 when importable, else the aws CLI."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.client = None
        self.aws = None
        try:
            import boto3
            import botocore.config
            self.client = boto3.client(
                "s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET, region_name=S3_REGION,
                config=botocore.config.Config(s3={"addressing_style": "path"},
                                              retries={"max_attempts": 5}))
            self.kind = "boto3 %s" % boto3.__version__
        except ImportError:
            self.aws = shutil.which("aws") or "/usr/bin/aws"
            if not os.access(self.aws, os.X_OK):
                raise SystemExit("bench: neither boto3 nor the aws CLI is available")
            self.kind = "aws CLI (%s)" % self.aws

    def _aws(self, args):
        env = dict(os.environ, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION=S3_REGION,
                   AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_PAGER="")
        r = subprocess.run([self.aws] + args + ["--endpoint-url", self.endpoint, "--output",
                                                "json"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=600)
        if r.returncode != 0:
            raise SystemExit("bench: aws %s failed: %s" % (" ".join(args),
                                                          r.stderr.decode()[-500:]))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def create_bucket(self, name):
        if self.client:
            self.client.create_bucket(Bucket=name)
        else:
            self._aws(["s3api", "create-bucket", "--bucket", name])

    def list_objects(self, name):
        """{key: (size, etag without quotes)}, every page."""
        out = {}
        if self.client:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=name)
            contents = (o for page in pages for o in page.get("Contents", []))
        else:
            contents = (self._aws(["s3api", "list-objects-v2", "--bucket", name]) or {}).get(
                "Contents", [])
        for o in contents:
            out[o["Key"]] = (int(o["Size"]), o["ETag"].strip('"'))
        return out


def make_bodies(n_events, batch, run_id):
    """PutAuditEvents requests of `batch` varied events each (built before posting)."""
    names = ["DescribeInstances", "GetObject", "PutObject", "ListBuckets", "AssumeRole",
             "CreateUser", "DeleteObject", "UpdateItem", "Decrypt", "PutLogEvents"]
    sources = ["ec2.amazonaws.com", "s3.amazonaws.com", "sts.amazonaws.com",
               "dynamodb.amazonaws.com", "kms.amazonaws.com", "logs.amazonaws.com"]
    now = htlib.utc_now_str()
    k = 0
    while k < n_events:
        evs = []
        for _ in range(min(batch, n_events - k)):
            marker = "%s-%07d" % (run_id, k)
            evs.append(htlib.make_event(
                marker, event_time=now, eventName=names[k % len(names)],
                eventSource=sources[k * 7 % len(sources)],
                sourceIPAddress="10.%d.%d.%d" % (k % 7, k // 7 % 250, k // 1750 % 250),
                userIdentity={"type": "IAMUser", "principalId": "AIDA%012d" % (k % 977),
                              "details": {"userName": "user-%d" % (k % 311)}},
                requestParameters={"marker": marker, "bucketName": "data-%d" % (k % 53),
                                   "key": "logs/%d/%08x.json" % (k % 17, k * 2654435761 %
                                                                 (1 << 32))}))
            k += 1
        yield evs


def post_all(daemon, n_events, batch, run_id):
    c = daemon.client(timeout=120)
    posted, throttled = 0, 0
    try:
        for evs in make_bodies(n_events, batch, run_id):
            for attempt in range(600):
                rep = c.post_events("default", evs)
                if rep.status == 200:
                    htlib.check_ok_reply(rep, evs)
                    posted += len(evs)
                    break
                if rep.error_type() == "ThrottlingException":
                    throttled += 1
                    time.sleep(0.2)
                    continue
                raise SystemExit("bench: PutAuditEvents: %r" % (rep,))
            else:
                raise SystemExit("bench: PutAuditEvents throttled for 120 s")
    finally:
        c.close()
    return posted, throttled


class Tally:
    """Incremental record count of the files in one outbox (gunzip, eventIDs)."""

    def __init__(self, files_dir):
        self.files_dir = files_dir
        self.seen = {}          # key -> (records, raw bytes)

    def scan(self):
        for key, p in outbox_files(self.files_dir).items():
            if key in self.seen:
                continue
            try:
                with open(p, "rb") as f:
                    raw = gzip.decompress(f.read())
            except (OSError, EOFError):
                continue
            self.seen[key] = (len(EVENT_ID_RE.findall(raw)), len(raw))
        return sum(r for r, _ in self.seen.values())


def inventory(files_dir):
    """{key: (size, md5 hex, records, eventIDs, uncompressed bytes)} of an outbox."""
    inv = {}
    for key, p in outbox_files(files_dir).items():
        with open(p, "rb") as f:
            data = f.read()
        raw = gzip.decompress(data)
        ids = EVENT_ID_RE.findall(raw)
        inv[key] = (len(data), hashlib.md5(data).hexdigest(), len(ids), ids, len(raw))
    return inv


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--daemon", default=htlib.HOSTTRAILD, help="hosttraild binary")
    ap.add_argument("--swift", default=os.path.join(here, "..", "integration", "swift",
                                                    "swift.sh"), help="swift.sh")
    ap.add_argument("--trails", type=int, default=5, help="trails, each to its own bucket (1-5)")
    ap.add_argument("--events", type=int, default=200000, help="events posted (every trail "
                    "delivers all of them)")
    ap.add_argument("--events-per-file", type=int, default=1000,
                    help="delivery.max_events of the trails")
    ap.add_argument("--concurrency", type=int, default=None,
                    help="buckets.NAME.concurrency (default: the daemon's, 4)")
    ap.add_argument("--preload-timeout", type=float, default=900.0,
                    help="max seconds for every outbox to hold every record")
    ap.add_argument("--drain-timeout", type=float, default=900.0,
                    help="max seconds for the outboxes to empty into Swift")
    ap.add_argument("--poll", type=float, default=0.05, help="outbox poll interval, s")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    a = ap.parse_args()
    if not 1 <= a.trails <= 5:
        sys.exit("bench: --trails must be 1-5")
    if not os.access(a.daemon, os.X_OK):
        sys.exit("bench: %s is not an executable hosttraild" % a.daemon)
    htlib.HOSTTRAILD = os.path.abspath(a.daemon)
    clean_environ()
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "*"   # for boto3 / the aws CLI only

    env = htlib.Env("bench-dlv")
    swift_dir = env.path("swift")
    swift_started = False
    ok = False
    try:
        # ---- Swift ----
        t0 = time.monotonic()
        r = subprocess.run(["bash", a.swift, "start", swift_dir], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, timeout=900)
        if r.returncode == 77:
            print("bench: Swift is not available (swift.sh exit 77): skipped")
            ok = True
            sys.exit(77)
        swift_started = True
        if r.returncode != 0:
            raise SystemExit("bench: swift.sh start failed (exit %d); logs in %s/log"
                             % (r.returncode, swift_dir))
        port = int(r.stdout.decode().split()[-1])
        endpoint = "http://127.0.0.1:%d" % port
        swift_start_s = time.monotonic() - t0
        s3 = S3(endpoint)
        names = ["trail-%d" % (i + 1) for i in range(a.trails)]
        buckets = ["bench-dlv-%d" % (i + 1) for i in range(a.trails)]
        for b in buckets:
            s3.create_bucket(b)

        # ---- config ----
        secret = env.path("s3.secret")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (SECRET + "\n").encode())
        os.close(fd)
        closed = htlib.free_port()          # nothing listens there: connection refused

        def doc_for(ep):
            trails = []
            for n, b in zip(names, buckets):
                t = htlib.trail(n, b, interval="1s", max_events=a.events_per_file,
                                outbox_max=1000000)
                # A transient error during the drain costs at most ~2 s, not minutes.
                t["delivery"].update({"retry_min": "100ms", "retry_max": "2s"})
                trails.append(t)
            doc = htlib.config_doc(env.root, trails=trails)
            doc["buckets"] = {}
            for b in buckets:
                bk = {"type": "s3", "bucket": b, "endpoint": ep, "region": S3_REGION,
                      "path_style": True}
                if a.concurrency is not None:
                    bk["concurrency"] = a.concurrency
                bk["credentials"] = {"access_key_id": ACCESS_KEY, "secret_file": secret}
                doc["buckets"][b] = bk
            return doc

        state = env.path("state")
        files_dirs = {n: os.path.join(state, "outbox", n, "files") for n in names}

        # ---- phase 1: pre-load the outboxes against a refusing endpoint ----
        cfg = env.write_config(doc_for("http://127.0.0.1:%d" % closed))
        d = env.daemon(cfg, binary=htlib.HOSTTRAILD).start()
        t_post = time.monotonic()
        run_id = "%x" % int(time.time())
        posted, throttled = post_all(d, a.events, 100, run_id)
        post_s = time.monotonic() - t_post
        tallies = {n: Tally(files_dirs[n]) for n in names}
        deadline = time.monotonic() + a.preload_timeout
        while True:
            counts = {n: tallies[n].scan() for n in names}
            if all(c >= posted for c in counts.values()):
                break
            if not d.alive():
                raise SystemExit("bench: hosttraild exited while building (status %s)"
                                 % d.proc.poll())
            if time.monotonic() > deadline:
                raise SystemExit("bench: outboxes hold %s of %d records after %.0f s"
                                 % (counts, posted, a.preload_timeout))
            time.sleep(0.5)
        preload_s = time.monotonic() - t_post
        rc1 = d.stop()
        if rc1 != 0:
            raise SystemExit("bench: the pre-loading daemon exited with status %s" % rc1)

        inv = {n: inventory(files_dirs[n]) for n in names}
        bad = []
        for n in names:
            ids = [i for v in inv[n].values() for i in v[3]]
            if len(ids) != posted or len(set(ids)) != posted:
                bad.append("%s: %d records, %d distinct (posted %d)"
                           % (n, len(ids), len(set(ids)), posted))
        if bad:
            raise SystemExit("bench: pre-loaded outboxes wrong: %s" % "; ".join(bad))
        total_files = sum(len(inv[n]) for n in names)
        total_bytes = sum(v[0] for n in names for v in inv[n].values())
        total_raw = sum(v[4] for n in names for v in inv[n].values())
        sizes = sorted(v[0] for n in names for v in inv[n].values())

        # ---- phase 2: the same state, every bucket at Swift; time the drain ----
        env.write_config(doc_for(endpoint))
        log_off = d.log_size()
        swift_pids = []
        for f in sorted(os.listdir(os.path.join(swift_dir, "pids"))):
            with open(os.path.join(swift_dir, "pids", f)) as fh:
                swift_pids.append(int(fh.read().strip()))
        swift_cpu0 = sum(cpu_seconds(p) or 0 for p in swift_pids)
        t_start = time.monotonic()
        d.start(wait=False)
        left = {n: len(inv[n]) for n in names}
        done_at = {}
        t_ready = None
        last_cpu = None
        deadline = t_start + a.drain_timeout
        while len(done_at) < len(names):
            now = time.monotonic()
            if t_ready is None and socket_accepts(d.socket_path):
                t_ready = now
            for n in names:
                if n in done_at:
                    continue
                left[n] = outbox_count(files_dirs[n])
                if left[n] == 0:
                    done_at[n] = now
            c = cpu_seconds(d.pid)
            if c is not None:
                last_cpu = c
            if not d.alive():
                raise SystemExit("bench: hosttraild exited during the drain (status %s)"
                                 % d.proc.poll())
            if now > deadline:
                break
            if len(done_at) < len(names):
                time.sleep(a.poll)
        t_end = max(done_at.values()) if len(done_at) == len(names) else None
        daemon_cpu = last_cpu
        swift_cpu = sum(cpu_seconds(p) or 0 for p in swift_pids) - swift_cpu0
        drain_log = d.log_since(log_off)
        failures = len(re.findall(r"delivering \S+ failed", drain_log))
        rc2 = d.stop()

        # ---- checks: Swift holds exactly what the outboxes held ----
        check_msgs = []
        listed = {}
        for n, b in zip(names, buckets):
            objs = s3.list_objects(b)
            listed[n] = len(objs)
            want = {k: (v[0], v[1]) for k, v in inv[n].items()}
            missing = set(want) - set(objs)
            extra = set(objs) - set(want)
            differ = [k for k in set(want) & set(objs) if objs[k] != want[k]]
            if missing or extra or differ:
                check_msgs.append("%s/%s: %d missing, %d unexpected, %d with another size or "
                                  "ETag" % (n, b, len(missing), len(extra), len(differ)))

        # ---- report ----
        mb = 1e6
        rows = [
            ("trails x buckets", "%d, each its own bucket on %s (path-style, concurrency %s)"
             % (a.trails, endpoint, a.concurrency if a.concurrency else "4 = default")),
            ("events", "%d posted in %.1f s (%d throttled replies); all in every outbox "
             "%.1f s after the first post" % (posted, post_s, throttled, preload_s)),
            ("pre-loaded files", "%d (%s per trail, max_events %d), %.1f MB gzip'd, "
             "%.1f MB JSON" % (total_files, "/".join(str(len(inv[n])) for n in names),
                               a.events_per_file,
                               total_bytes / mb, total_raw / mb)),
            ("file size p50 / p99", "%.1f KB / %.1f KB gzip'd (max %.1f KB)"
             % (pct(sizes, 50) / 1e3, pct(sizes, 99) / 1e3, sizes[-1] / 1e3)),
            ("daemon API socket up", "%.2f s after exec" % (t_ready - t_start)
             if t_ready else "n/a"),
        ]
        if t_end is not None:
            el = t_end - t_start
            rows += [
                ("all outboxes empty", "%.2f s after exec" % el),
                ("overall", "%.1f files/s, %.2f MB/s (%.2f MB/s of JSON)"
                 % (total_files / el, total_bytes / mb / el, total_raw / mb / el)),
            ]
        else:
            rows.append(("all outboxes empty", "NO: %s files left after %.0f s"
                         % (sum(left.values()), a.drain_timeout)))
        for n in names:
            nf = len(inv[n])
            nb = sum(v[0] for v in inv[n].values())
            if n in done_at:
                el = done_at[n] - t_start
                rows.append(("  " + n, "%d files in %.2f s: %.1f files/s, %.2f MB/s"
                             % (nf, el, nf / el, nb / mb / el)))
            else:
                rows.append(("  " + n, "%d of %d files left" % (left[n], nf)))
        rows += [
            ("CPU during the drain", "hosttraild %s s, Swift %.1f s (%d cores)"
             % ("%.1f" % daemon_cpu if daemon_cpu is not None else "?", swift_cpu,
                os.cpu_count())),
            ("failed uploads", "%d (log lines 'delivering ... failed')" % failures),
            ("Swift objects", " ".join("%s=%d" % (b, listed[n])
                                        for n, b in zip(names, buckets))),
            ("object check", "OK: keys, sizes and ETag=MD5 match the pre-loaded files"
             if not check_msgs else "FAILED: " + "; ".join(check_msgs)),
            ("daemon exits", "%s, %s" % (rc1, rc2)),
            ("setup", "Swift up in %.1f s; listing with %s" % (swift_start_s, s3.kind)),
        ]
        w = max(len(k) for k, _ in rows)
        print("hosttraild S3 delivery bench (%s, %d cores)" % (os.path.basename(a.daemon),
                                                               os.cpu_count()))
        print("-" * (w + 60))
        for k, v in rows:
            print("%-*s  %s" % (w, k, v))
        print("-" * (w + 60))
        ok = t_end is not None and not check_msgs and rc2 == 0
        if not ok:
            print("bench: FAILED")
    finally:
        if swift_started:
            subprocess.run(["bash", a.swift, "stop", swift_dir], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        if a.keep:
            for dmn in env.daemons:
                dmn.kill()
            print("kept %s" % env.root)
        else:
            env.__exit__(None if ok else AssertionError, None, None)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
