#!/usr/bin/env python3
"""Issue 5, must-show 5: SNS-style webhooks.  A receiver on 127.0.0.1 (sns/receiver.js) checks
every notification with the npm package sns-validator, the signing certificate being served
over HTTPS from loopback with a throwaway test CA (sns/mkcert.sh, NODE_EXTRA_CA_CERTS):

  test_one_signed_notification_per_file   several delivered files, one /ok subscription:
      each spool file gets exactly one notification naming exactly its key and the bucket;
      every signature validates; headers agree with the body; SNS's shape (Type, MessageId
      a UUID, TopicArn, SignatureVersion "2", Timestamp, SigningCertURL, UnsubscribeURL,
      subscription ARN); the queue empties; GetTrailStatus reports the success.
  test_failing_receiver_retries_per_policy   a subscription answering 500 with policy
      num_retries 3, exponential backoff 1 s..4 s: exactly 1 + 3 attempts per notification,
      one MessageId on all of them, gaps of 1, 2, 4 s (SNS's arithmetic, sns.h
      ht_sns_retry_delay) within tolerance, then nothing more; the entry is dropped;
      GetTrailStatus shows LatestNotificationError and LatestNotificationAttemptSucceeded "".
  test_hanging_receiver_does_not_stall   a subscription that never answers (topic timeout 2 s)
      next to an /ok one on the same topic: each batch of events reaches the spool within
      interval + 3 s of its ack, the /ok subscription is notified of every file promptly,
      the hanging POSTs are abandoned after ~2 s and retried per policy; SIGTERM still exits
      at once.
  test_queue_survives_receiver_down_and_restart   notifications pile up in
      state_dir/outbox/TRAIL/notify/ while the receiver is down, survive a restart of
      hosttraild with their MessageIds, and are all delivered (at least once, one MessageId
      per file) once the receiver is back.

Needs node, npm and openssl.  sns-validator is looked up in $SNS_VALIDATOR_DIR/node_modules,
then in $HT_BUILDDIR/tests/integration/sns/npm/node_modules, where `npm install` puts it when
missing (needs the registry once).  If it cannot be had the tests FAIL, saying so."""

import atexit
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import uuid

import htlib

VALIDATOR_VERSION = "0.3.5"
SNS_DIR = os.path.join(htlib.HERE, "sns")
RECEIVER_JS = os.path.join(SNS_DIR, "receiver.js")
CERT_PATH = "/SimpleNotificationService-test.pem"
TOPIC = "delivered"
TOPIC_ARN = "arn:aws:sns:%s:%s:%s" % (htlib.REGION, htlib.ACCOUNT, TOPIC)
INTERVAL = 1.0                  # the trails' delivery.interval
DELIVERY_BOUND = INTERVAL + 3.0  # a batch is in the spool this long after its ack
OK_PROMPT = 1.5                 # a healthy subscriber is notified this soon after delivery
ANY_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# MessageId -> the Timestamp of its first attempt seen (retries must repeat it).
FIRST_TIMESTAMP = {}
BODY_KEYS = ["Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion",
             "Signature", "SigningCertURL", "UnsubscribeURL"]


# --------------------------------------------------------------------------- set-up

_SETUP = {}


def _find_validator(d):
    return os.path.isfile(os.path.join(d, "node_modules", "sns-validator", "index.js"))


def setup():
    """(npm_dir, pki_dir), made once per run; raises AssertionError with the reason (also on
    every later call) when node/npm/openssl or sns-validator are missing."""
    if "error" in _SETUP:
        raise AssertionError(_SETUP["error"])
    if "npm" in _SETUP:
        return _SETUP["npm"], _SETUP["pki"]
    try:
        for cmd in ("node", "npm", "openssl"):
            if shutil.which(cmd) is None:
                raise AssertionError("%s is not installed; this test needs node, npm and openssl"
                                     % cmd)
        env_dir = os.environ.get("SNS_VALIDATOR_DIR")
        if env_dir and _find_validator(env_dir):
            npm_dir = env_dir
        else:
            npm_dir = os.path.join(htlib.BUILDDIR, "tests", "integration", "sns", "npm")
            if not _find_validator(npm_dir):
                htlib.log("# installing sns-validator@%s into %s" % (VALIDATOR_VERSION, npm_dir))
                os.makedirs(npm_dir, exist_ok=True)
                try:
                    p = subprocess.run(
                        ["npm", "install", "--prefix", npm_dir, "--no-audit", "--no-fund",
                         "--no-save", "--loglevel=error", "sns-validator@" + VALIDATOR_VERSION],
                        capture_output=True, timeout=180)
                    out = (p.stdout + p.stderr).decode("utf-8", "replace")
                except subprocess.TimeoutExpired:
                    out = "npm install timed out after 180s"
                if not _find_validator(npm_dir):
                    for line in out.splitlines():
                        htlib.log("#   npm: " + line)
                    raise AssertionError(
                        "sns-validator is not installed and npm could not fetch it (offline, "
                        "or the registry is unreachable).  Install it by hand: npm install "
                        "--prefix '%s' sns-validator@%s, or point SNS_VALIDATOR_DIR at a "
                        "directory whose node_modules has it." % (npm_dir, VALIDATOR_VERSION))
        pki = tempfile.mkdtemp(prefix="ht-webhook-pki-")
        atexit.register(shutil.rmtree, pki, True)
        p = subprocess.run(["sh", os.path.join(SNS_DIR, "mkcert.sh"), pki],
                           capture_output=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError("could not make the test certificates with openssl: %s"
                                 % (p.stdout + p.stderr).decode("utf-8", "replace")[-2000:])
    except AssertionError as e:
        _SETUP["error"] = str(e)
        raise
    _SETUP["npm"], _SETUP["pki"] = npm_dir, pki
    return npm_dir, pki


# --------------------------------------------------------------------------- receiver

class Receiver:
    """sns/receiver.js: HTTP on http_port (notifications), HTTPS on https_port (the signing
    certificate); every request is one JSON line in log_path."""

    def __init__(self, env, http_port=0, https_port=0):
        self.npm_dir, self.pki = setup()
        self.log_path = env.path("receiver.jsonl")
        self.err_path = env.path("receiver.stderr")
        self.http_port = http_port
        self.https_port = https_port
        self.proc = None
        self.starts = 0

    def start(self, timeout=20):
        assert self.proc is None or self.proc.poll() is not None, "receiver already running"
        self.starts += 1
        cmd = ["node", RECEIVER_JS, self.pki, self.log_path, str(self.http_port),
               str(self.https_port)]
        if shutil.which("setpriv"):
            cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
        env = dict(os.environ)
        env["NODE_PATH"] = os.path.join(self.npm_dir, "node_modules")
        env["NODE_EXTRA_CA_CERTS"] = os.path.join(self.pki, "ca.pem")
        with open(self.err_path, "ab") as ef:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=ef, env=env, close_fds=True)
        htlib._ALL_PROCS.append(self.proc)      # killed after each test like the daemons
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError("receiver.js did not start within %.0fs (status %s): %s"
                                     % (timeout, self.proc.poll(), self.stderr()[-2000:]))
            r, _w, _x = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if r:
                c = os.read(self.proc.stdout.fileno(), 1)
                if not c:
                    continue
                line += c
        ready = json.loads(line)
        self.http_port, self.https_port = ready["http"], ready["https"]
        htlib.log("receiver #%d: http 127.0.0.1:%d, https 127.0.0.1:%d"
                  % (self.starts, self.http_port, self.https_port))
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)

    @property
    def cert_url(self):
        return "https://127.0.0.1:%d%s" % (self.https_port, CERT_PATH)

    def entries(self, kind=None):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        out = []
        for line in data.split("\n")[:-1]:      # a last line without "\n" is still being written
            e = json.loads(line)
            if kind is None or e["kind"] == kind:
                if e["kind"] == "post":
                    e.update(parse_notification(e))
                out.append(e)
        return out

    def posts(self, prefix):
        return sorted((e for e in self.entries("post") if e["path"].startswith(prefix)),
                      key=lambda e: (e["t"], e["seq"]))

    def summary(self, limit=60):
        lines = []
        for e in self.entries()[-limit:]:
            if e["kind"] == "post":
                lines.append("  #%d %.3f %s valid=%s%s answered=%s id=%s keys=%s"
                             % (e["seq"], e["t"] / 1000.0, e["path"], e["valid"],
                                " (%s)" % e["error"] if e["error"] else "", e["answered"],
                                e.get("message_id"), [k[-30:] for k in e.get("keys") or []]))
            else:
                lines.append("  %s %s" % (e["kind"], {k: v for k, v in e.items() if k != "kind"}))
        return "\n".join(lines)


def parse_notification(e):
    """message_id, keys, bucket, json (the body), problem (text or None) of one logged POST."""
    out = {"message_id": None, "keys": None, "bucket": None, "json": None, "problem": None}
    try:
        j = json.loads(e["body"])
        out["json"] = j
        out["message_id"] = j.get("MessageId")
        m = json.loads(j["Message"])
        out["keys"] = m.get("s3ObjectKey")
        out["bucket"] = m.get("s3Bucket")
    except (ValueError, KeyError, TypeError, AttributeError) as x:
        out["problem"] = "body is not an SNS notification with CloudTrail's Message: %s: %r" % (
            x, e["body"][:300])
    return out


def subscription_arn(url):
    """SNS-style subscription ARN hosttrail gives url (sns.h ht_sns_subscription_arn)."""
    return "%s:%s" % (TOPIC_ARN, uuid.uuid5(uuid.NAMESPACE_URL, "%s %s" % (TOPIC_ARN, url)))


def notification_problems(e, rcv, bucket, url, t_lo, t_hi):
    """What is wrong with one logged POST (list of strings)."""
    p = []
    if e["problem"]:
        return [e["problem"]]
    j, h = e["json"], e["headers"]
    if e["method"] != "POST":
        p.append("method %s" % e["method"])
    if not e["valid"]:
        p.append("sns-validator refused it: %s" % e["error"])
    if list(j.keys()) != BODY_KEYS:
        p.append("body keys %s, want %s" % (list(j.keys()), BODY_KEYS))
    if j.get("Type") != "Notification":
        p.append("Type %r" % j.get("Type"))
    if not ANY_UUID_RE.match(str(j.get("MessageId"))):
        p.append("MessageId %r is not a UUID" % j.get("MessageId"))
    if j.get("TopicArn") != TOPIC_ARN:
        p.append("TopicArn %r, want %r" % (j.get("TopicArn"), TOPIC_ARN))
    if j.get("SignatureVersion") != "2":
        p.append("SignatureVersion %r, want \"2\"" % j.get("SignatureVersion"))
    if j.get("SigningCertURL") != rcv.cert_url:
        p.append("SigningCertURL %r, want %r" % (j.get("SigningCertURL"), rcv.cert_url))
    ts = j.get("Timestamp")
    if not isinstance(ts, str) or not TIMESTAMP_RE.match(ts):
        p.append("Timestamp %r" % ts)
    else:
        sec = htlib.iso_to_epoch(ts[:19] + "Z") + int(ts[20:23]) / 1000.0
        if not t_lo - 2 <= sec <= t_hi + 2:
            p.append("Timestamp %s is outside the test's run" % ts)
        # Timestamp is when the message was published (the file delivered):
        # never after the arrival, and retries keep the first attempt's.
        if sec - e["t"] / 1000.0 > 2:
            p.append("Timestamp %s is %.1fs after the arrival" % (ts, sec - e["t"] / 1000.0))
        first = FIRST_TIMESTAMP.setdefault(j.get("MessageId"), ts)
        if first != ts:
            p.append("Timestamp %s differs from the first attempt's %s (same MessageId)"
                     % (ts, first))
    sub = subscription_arn(url)
    want_h = {"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": j.get("MessageId"),
              "x-amz-sns-topic-arn": TOPIC_ARN, "x-amz-sns-subscription-arn": sub,
              "content-type": "text/plain; charset=UTF-8",
              "user-agent": "Amazon Simple Notification Service Agent"}
    for k, v in want_h.items():
        if h.get(k) != v:
            p.append("header %s: %r, want %r" % (k, h.get(k), v))
    unsub = "https://sns.%s.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=%s" % (
        htlib.REGION, sub)
    if j.get("UnsubscribeURL") != unsub:
        p.append("UnsubscribeURL %r, want %r" % (j.get("UnsubscribeURL"), unsub))
    if e["bucket"] != bucket:
        p.append("s3Bucket %r, want %r" % (e["bucket"], bucket))
    if not isinstance(e["keys"], list) or len(e["keys"]) != 1:
        p.append("s3ObjectKey %r: want exactly one key" % (e["keys"],))
    want_msg = json.dumps({"s3Bucket": bucket, "s3ObjectKey": e["keys"]}, separators=(",", ":"),
                          ensure_ascii=False)
    if j.get("Message") != want_msg:
        p.append("Message %r is not CloudTrail's compact JSON %r" % (j.get("Message"), want_msg))
    return p


# --------------------------------------------------------------------------- helpers

def policy(num_retries, min_delay, max_delay, backoff="linear", no_delay=0, min_phase=0,
           max_phase=0):
    return {"num_retries": num_retries, "num_no_delay_retries": no_delay,
            "num_min_delay_retries": min_phase, "num_max_delay_retries": max_phase,
            "min_delay": min_delay, "max_delay": max_delay, "backoff": backoff}


def retry_delays_ms(num_retries, min_ms, max_ms, backoff="linear", no_delay=0, min_phase=0,
                    max_phase=0):
    """SNS's HTTP/S retry schedule (delay before retry 1..num_retries), as sns.h documents it:
    no-delay retries, then min_phase retries min apart, then the backoff phase from min to
    max, then max_phase retries max apart."""
    left = num_retries
    nd = min(no_delay, left)
    left -= nd
    mn = min(min_phase, left)
    left -= mn
    mx = min(max_phase, left)
    n = left - mx
    lo, hi = float(min_ms), float(max(max_ms, min_ms))
    out = [0] * nd + [min_ms] * mn
    for i in range(n):
        if n <= 1:
            d = lo
        elif backoff == "linear":
            d = lo + (hi - lo) * i / (n - 1)
        elif backoff == "arithmetic":
            d = lo + (hi - lo) * i * (i + 1) / (n * (n - 1))
        elif backoff == "geometric":
            d = lo * (hi / lo) ** (i / (n - 1))
        elif backoff == "exponential":
            d = lo + (hi - lo) * (2 ** i - 1) / (2 ** (n - 1) - 1)
        else:
            raise ValueError(backoff)
        out.append(int(round(d)))
    return out + [int(hi)] * mx


def topic_doc(rcv, subscriptions, timeout="3s"):
    return {TOPIC: {"signing_key_file": os.path.join(rcv.pki, "signing.key"),
                    "signing_cert_url": rcv.cert_url,
                    "signature_version": 2,
                    "timeout": timeout,
                    "subscriptions": subscriptions}}


def start_daemon(env, rcv, subscriptions, timeout="3s", trail_name="trail-1", bucket="spool-1"):
    doc = htlib.config_doc(env.root, trails=[htlib.trail(trail_name, bucket, interval="1s",
                                                         sns_topic_name=TOPIC)])
    doc["topics"] = topic_doc(rcv, subscriptions, timeout)
    return env.daemon(env.write_config(doc)).start()


def sighup(d, timeout=20):
    """SIGHUP and wait for "reload done" in the daemon's log."""
    off = d.log_size()
    d.hup()
    wait_until(lambda: "reload done" in d.log_since(off) or "reload refused" in d.log_since(off),
               timeout, "reload after SIGHUP", lambda: d.log_since(off)[-1000:], poll=0.05)
    assert "reload refused" not in d.log_since(off), d.log_since(off)[-1000:]
    assert d.alive(), "hosttraild died on SIGHUP"


def post_batch(client, tag, n=5):
    evs = [htlib.make_event("%s-%02d" % (tag, i)) for i in range(n)]
    ids = htlib.check_ok_reply(client.post_events("default", evs), evs)
    return set(ids.values())


def wait_until(pred, timeout, what, diag=None, poll=0.1):
    """Poll pred() until it returns a true value (returned); AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("%s: not within %.1fs%s" % (what, timeout,
                                                              ("\n" + diag()) if diag else ""))
        time.sleep(poll)


def queue_dir(env, trail="trail-1"):
    return env.path("state", "outbox", trail, "notify")


def queued(env, trail="trail-1"):
    try:
        return sorted(f for f in os.listdir(queue_dir(env, trail)) if f.endswith(".json"))
    except FileNotFoundError:
        return []


def by_key(posts):
    out = {}
    for e in posts:
        for k in e["keys"] or []:
            out.setdefault(k, []).append(e)
    return out


def trail_status(d, name="trail-1"):
    c = d.client()
    try:
        rep = c.call("GetTrailStatus", {"Name": name})
    finally:
        c.close()
    assert rep.status == 200 and isinstance(rep.json, dict), "GetTrailStatus: %r" % (rep,)
    return rep.json


def with_receiver_diag(rcv, fn):
    try:
        return fn()
    except BaseException:
        htlib.log("---- receiver log (%s), last entries ----\n%s"
                  % (rcv.log_path, rcv.summary()))
        err = rcv.stderr()
        if err:
            htlib.log("---- receiver stderr ----\n" + err[-3000:])
        raise


# --------------------------------------------------------------------------- tests

def test_one_signed_notification_per_file():
    with htlib.Env("webhook-ok") as env:
        rcv = Receiver(env).start()
        with_receiver_diag(rcv, lambda: _one_per_file(env, rcv))


def _one_per_file(env, rcv):
    url = rcv.url("/ok")
    d = start_daemon(env, rcv, [{"url": url, "delivery_policy": policy(3, "1s", "1s")}])
    spool = env.spool("spool-1")
    t0 = time.time()
    c = d.client()
    acked = set()
    for r in range(4):          # over ~4 s: several files at a 1 s interval
        acked |= post_batch(c, "ok%d" % r)
        time.sleep(1.2)
    c.close()
    spool.wait_for_ids(acked, timeout=DELIVERY_BOUND + 2)
    htlib.assert_exactly_once(spool, acked)
    keys = set(spool.files)
    htlib.log("%d events in %d spool files" % (len(acked), len(keys)))
    assert len(keys) >= 2, "wanted several delivered files, got %d" % len(keys)

    wait_until(lambda: keys <= set(by_key(rcv.posts("/ok"))), 10,
               "a notification for each of %d delivered files" % len(keys),
               lambda: "missing: %s\n%s" % (sorted(keys - set(by_key(rcv.posts("/ok")))),
                                            rcv.summary()))
    wait_until(lambda: not queued(env), 5, "the notification queue emptying",
               lambda: "still queued: %s" % queued(env))
    time.sleep(1.5)             # nothing more may come (no duplicates)
    posts = rcv.posts("/ok")
    t1 = time.time()
    problems = []
    for e in posts:
        problems += ["#%d: %s" % (e["seq"], x) for x in
                     notification_problems(e, rcv, "spool-1", url, t0, t1)]
    assert not problems, "%d problems in %d notifications:\n  %s" % (
        len(problems), len(posts), "\n  ".join(problems[:20]))
    bk = by_key(posts)
    extra = sorted(set(bk) - keys)
    assert not extra, "notifications for keys that are not in the spool: %s" % extra
    twice = {k: [e["seq"] for e in v] for k, v in bk.items() if len(v) != 1}
    assert not twice, "keys notified more than once: %s" % twice
    assert len(posts) == len(keys), "%d notifications for %d files" % (len(posts), len(keys))
    ids = [e["message_id"] for e in posts]
    assert len(set(ids)) == len(ids), "MessageIds repeat across files: %s" % ids
    assert all(htlib.UUID4_RE.match(i) for i in ids), "MessageIds not UUID v4: %s" % ids
    certs = rcv.entries("cert")
    assert certs, "sns-validator never fetched the signing certificate over HTTPS"
    htlib.log("%d notifications, all valid (certificate fetched %d time(s))"
              % (len(posts), len(certs)))

    st = trail_status(d)
    htlib.log("GetTrailStatus: %s" % {k: v for k, v in st.items() if "Notification" in k})
    assert "LatestNotificationError" not in st, st
    assert st.get("LatestNotificationAttemptSucceeded"), st
    assert st.get("LatestNotificationAttemptSucceeded") == st.get(
        "LatestNotificationAttemptTime"), st
    assert d.stop() == 0


def test_failing_receiver_retries_per_policy():
    with htlib.Env("webhook-fail") as env:
        rcv = Receiver(env).start()
        with_receiver_diag(rcv, lambda: _retries(env, rcv))


def _retries(env, rcv):
    url = rcv.url("/fail")
    n_retries = 3
    want = retry_delays_ms(n_retries, 1000, 4000, "exponential")
    assert want == [1000, 2000, 4000], want     # SNS: exponential from min to max
    d = start_daemon(env, rcv, [{"url": url, "delivery_policy":
                                 policy(n_retries, "1s", "4s", "exponential")}])
    spool = env.spool("spool-1")
    c = d.client()
    acked = post_batch(c, "fail0")
    time.sleep(1.6)
    acked |= post_batch(c, "fail1")
    c.close()
    spool.wait_for_ids(acked, timeout=DELIVERY_BOUND + 2)
    keys = set(spool.files)
    htlib.log("%d spool files; expecting %d attempts each, gaps %s ms"
              % (len(keys), 1 + n_retries, want))

    def all_attempts():
        bk = by_key(rcv.posts("/fail"))
        return all(len(bk.get(k, [])) >= 1 + n_retries for k in keys)
    wait_until(all_attempts, sum(want) / 1000.0 + 10, "%d attempts per file" % (1 + n_retries),
               rcv.summary)
    wait_until(lambda: not queued(env), 5,
               "the queue emptying once the policy is used up (SNS drops the message)",
               lambda: "still queued: %s" % queued(env))
    # Longer than the longest gap: a 5th attempt would have come by now.
    time.sleep(want[-1] / 1000.0 + 1.0)
    bk = by_key(rcv.posts("/fail"))
    assert set(bk) == keys, "notified keys %s, spool keys %s" % (sorted(bk), sorted(keys))
    problems = []
    for k, attempts in sorted(bk.items()):
        ts = [e["t"] for e in attempts]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        htlib.log("%s: %d attempts, gaps %s ms" % (k[-40:], len(attempts), gaps))
        if len(attempts) != 1 + n_retries:
            problems.append("%s: %d attempts, want exactly %d" % (k, len(attempts),
                                                                 1 + n_retries))
        mids = {e["message_id"] for e in attempts}
        if len(mids) != 1:
            problems.append("%s: MessageId changed between attempts: %s" % (k, mids))
        for e in attempts:
            problems += ["%s #%d: %s" % (k[-30:], e["seq"], x) for x in
                         notification_problems(e, rcv, "spool-1", url, 0, time.time() + 60)
                         if "outside the test" not in x]
            if e["answered"] != 500:
                problems.append("#%d answered %s" % (e["seq"], e["answered"]))
        for i, (g, w) in enumerate(zip(gaps, want)):
            if g < 0.9 * w or g < w - 500 or g > w + 500:
                problems.append("%s: gap before retry %d is %d ms, want %d ms (-10%%/+500 ms)"
                                % (k[-30:], i + 1, g, w))
    assert not problems, "\n  ".join(["%d problems:" % len(problems)] + problems[:20])

    st = trail_status(d)
    htlib.log("GetTrailStatus: %s" % {k: v for k, v in st.items() if "Notification" in k})
    err = st.get("LatestNotificationError", "")
    assert url in err and "500" in err, \
        "LatestNotificationError %r should name %s and HTTP 500" % (err, url)
    assert st.get("LatestNotificationAttemptSucceeded") == "", st
    assert st.get("LatestNotificationAttemptTime"), st
    assert "LatestNotificationTime" not in st or not st["LatestNotificationTime"], st
    log = d.log_text()
    drops = log.count("dropped after %d attempt(s)" % (1 + n_retries))
    assert drops == len(keys), "daemon log: %d 'dropped after %d attempt(s)' lines, want %d" % (
        drops, 1 + n_retries, len(keys))
    assert d.stop() == 0


def test_hanging_receiver_does_not_stall():
    with htlib.Env("webhook-hang") as env:
        rcv = Receiver(env).start()
        with_receiver_diag(rcv, lambda: _hang(env, rcv))


def _hang(env, rcv):
    # Two dead endpoints, each retried twice, tie up 2 x 3 x 2 s of POSTs per file: far more
    # than a few at a time, so a per-trail limit on POSTs in flight would starve /ok.
    hangs = [rcv.url("/hang-a"), rcv.url("/hang-b")]
    ok = rcv.url("/ok")
    timeout = 2.0
    hang_retries = 2
    d = start_daemon(env, rcv, [
        {"url": hangs[0], "delivery_policy": policy(hang_retries, "1s", "1s")},
        {"url": hangs[1], "delivery_policy": policy(hang_retries, "1s", "1s")},
        {"url": ok, "delivery_policy": policy(3, "1s", "1s")},
    ], timeout="2s")
    spool = env.spool("spool-1")
    seen = {}                   # key -> wall time the test first saw it in the spool
    c = d.client()
    lat = []
    for r in range(6):
        ids = post_batch(c, "hang%d" % r)
        t_ack = time.monotonic()

        def arrived():
            for k in spool.scan():
                seen.setdefault(k, time.time())
            return ids <= set(x.get("eventID") for x in spool.records())
        wait_until(arrived, DELIVERY_BOUND,
                   "batch %d in the spool within interval + 3 s of its ack, with a hanging "
                   "subscriber" % r, rcv.summary, poll=0.05)
        lat.append(time.monotonic() - t_ack)
        if r == 2:
            # A reload while POSTs hang: the new topic takes over the ones in flight.
            busy = [e["seq"] for e in rcv.posts("/hang")
                    if e["seq"] not in {x["seq"] for x in rcv.entries("closed")}]
            htlib.log("SIGHUP with %d hanging POSTs" % len(busy))
            sighup(d)
        time.sleep(0.3)
    c.close()
    htlib.log("batches reached the spool %s s after their acks"
              % ["%.2f" % x for x in lat])
    keys = set(spool.files)
    assert len(keys) >= 3, "wanted several files, got %d" % len(keys)

    wait_until(lambda: keys <= set(by_key(rcv.posts("/ok"))), 8,
               "/ok notified of every file despite /hang",
               lambda: "missing %s" % sorted(keys - set(by_key(rcv.posts("/ok")))))
    okb = by_key(rcv.posts("/ok"))
    slow = {}
    for k in keys:
        first = min(e["t"] for e in okb[k]) / 1000.0
        delay = first - seen[k]
        if delay > OK_PROMPT:
            slow[k[-40:]] = round(delay, 2)
    htlib.log("/ok notified %s s after the test saw each file"
              % sorted(round(min(e["t"] for e in okb[k]) / 1000.0 - seen[k], 2) for k in keys))
    assert not slow, "/ok notifications held up by the hanging subscribers (> %.1fs after the " \
        "file was in the spool): %s" % (OK_PROMPT, slow)
    problems = []
    for e in rcv.posts("/ok"):
        problems += ["/ok #%d: %s" % (e["seq"], x) for x in
                     notification_problems(e, rcv, "spool-1", ok, 0, time.time() + 60)
                     if "outside the test" not in x]
    for k, v in okb.items():
        if len(v) != 1:
            problems.append("/ok got %d notifications of %s" % (len(v), k))

    # The hanging subscribers get each file too; their POSTs are given up after the timeout.
    for h in ("/hang-a", "/hang-b"):
        wait_until(lambda: keys <= set(by_key(rcv.posts(h))), 10, "%s was sent every file" % h,
                   lambda: "missing %s" % sorted(keys - set(by_key(rcv.posts(h)))))
    time.sleep(timeout + 1.0)
    closed = {e["seq"]: e["t"] for e in rcv.entries("closed")}
    hposts = rcv.posts("/hang")
    holds = []
    for e in hposts:
        url = rcv.url(e["path"])
        problems += ["%s #%d: %s" % (e["path"], e["seq"], x) for x in
                     notification_problems(e, rcv, "spool-1", url, 0, time.time() + 60)
                     if "outside the test" not in x]
        if e["seq"] in closed:
            holds.append((closed[e["seq"]] - e["t"]) / 1000.0)
        elif time.time() - e["t"] / 1000.0 > timeout + 1.0:
            problems.append("/hang #%d: the connection is still open %.1fs later (timeout %ss)"
                            % (e["seq"], time.time() - e["t"] / 1000.0, timeout))
    htlib.log("%d /hang POSTs, abandoned after %s s" % (len(hposts),
                                                         ["%.2f" % x for x in holds]))
    for x in holds:
        if not timeout - 0.2 <= x <= timeout + 1.0:
            problems.append("/hang: a POST was abandoned after %.2fs, timeout is %ss"
                            % (x, timeout))
    more = 0
    for h in ("/hang-a", "/hang-b"):
        for k, v in by_key(rcv.posts(h)).items():
            if len({e["message_id"] for e in v}) != 1:
                problems.append("%s %s: MessageId changed between attempts" % (h, k))
            if len(v) > 1 + hang_retries:
                problems.append("%s %s: %d attempts, policy allows %d"
                                % (h, k, len(v), 1 + hang_retries))
            more += len(v) > 1
    if not more:
        problems.append("/hang-*: no POST was retried after timing out")
    assert not problems, "\n  ".join(["%d problems:" % len(problems)] + problems[:20])

    # POSTs still hanging must not hold up shutdown.
    t = time.monotonic()
    rc = d.stop(timeout=20)
    took = time.monotonic() - t
    htlib.log("SIGTERM with hanging POSTs: exit %s after %.2fs" % (rc, took))
    assert rc == 0 and took < 10, "SIGTERM: exit %s after %.1fs" % (rc, took)


def test_queue_survives_receiver_down_and_restart():
    with htlib.Env("webhook-durable") as env:
        rcv = Receiver(env, http_port=htlib.free_port(), https_port=htlib.free_port()).start()
        with_receiver_diag(rcv, lambda: _durable(env, rcv))


def _durable(env, rcv):
    url = rcv.url("/ok")
    # Retries every second for 100 s: the entries outlive the outage below.
    d = start_daemon(env, rcv, [{"url": url, "delivery_policy": policy(100, "1s", "1s")}])
    spool = env.spool("spool-1")
    c = d.client()
    acked = post_batch(c, "up0")
    spool.wait_for_ids(acked, timeout=DELIVERY_BOUND)
    before = set(spool.files)
    wait_until(lambda: before <= set(by_key(rcv.posts("/ok"))), 8,
               "notifications while the receiver is up")

    rcv.stop()
    n_before = len(rcv.posts("/ok"))
    for r in range(3):
        acked |= post_batch(c, "down%d" % r)
        time.sleep(1.2)
    c.close()
    spool.wait_for_ids(acked, timeout=DELIVERY_BOUND)
    down = set(spool.files) - before
    htlib.log("%d files delivered while the receiver was down" % len(down))
    assert len(down) >= 2, "wanted several files while the receiver was down, got %d" % len(down)
    wait_until(lambda: len(queued(env)) >= len(down), 5,
               "%d entries in %s" % (len(down), queue_dir(env)),
               lambda: "queued: %s" % queued(env))
    names = queued(env)
    ids = {}
    for n in names:
        with open(os.path.join(queue_dir(env), n)) as f:
            j = json.load(f)
        ids[j["key"]] = j["messageId"]
    assert set(ids) == down, "queued keys %s, files delivered while down %s" % (
        sorted(ids), sorted(down))
    def fails():
        return d.log_text().count("trail trail-1: notifying %s failed" % url)
    wait_until(lambda: fails() >= len(down), 5,
               "a failed attempt (receiver down) logged for each queued notification",
               lambda: "%d logged" % fails())
    htlib.log("%d entries queued; %d failed attempts logged" % (len(names), fails()))

    assert d.stop() == 0
    assert queued(env) == names, "the queue changed across SIGTERM: %s -> %s" % (
        names, queued(env))
    off = d.log_size()
    d.start()
    wait_until(lambda: "%d notification(s) waiting from before" % len(names) in d.log_since(off),
               10, "the restarted daemon reporting its waiting notifications",
               lambda: d.log_since(off)[-2000:])
    time.sleep(1.0)             # it retries against a closed port for a moment
    rcv.start()
    wait_until(lambda: down <= set(by_key(rcv.posts("/ok"))), 10,
               "every file delivered while the receiver was down notified after it is back")
    wait_until(lambda: not queued(env), 5, "the queue emptying",
               lambda: "still queued: %s" % queued(env))
    time.sleep(1.0)
    posts = rcv.posts("/ok")
    problems = []
    for e in posts:
        problems += ["#%d: %s" % (e["seq"], x) for x in
                     notification_problems(e, rcv, "spool-1", url, 0, time.time() + 60)
                     if "outside the test" not in x]
    bk = by_key(posts)
    assert set(bk) == before | down, "notified %s, delivered %s" % (sorted(bk),
                                                                    sorted(before | down))
    for k in down:
        mids = {e["message_id"] for e in bk[k]}
        if mids != {ids[k]}:
            problems.append("%s: MessageIds %s, queued with %s" % (k, mids, ids[k]))
    htlib.log("after the outage: %d notifications (%d before it) for %d files"
              % (len(posts) - n_before, n_before, len(bk)))
    assert not problems, "\n  ".join(["%d problems:" % len(problems)] + problems[:20])
    assert d.stop() == 0


if __name__ == "__main__":
    htlib.run([test_one_signed_notification_per_file, test_failing_receiver_retries_per_policy,
               test_hanging_receiver_does_not_stall, test_queue_survives_receiver_down_and_restart])
