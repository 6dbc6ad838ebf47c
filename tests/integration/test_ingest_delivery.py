#!/usr/bin/env python3
"""Issue 2, must-show 2: a daemon with a 1 s spool trail; 10,000 events posted (100 requests
of 100 events from 4 client threads); within 5 s of the last ack the spool holds gzip files
whose keys follow CloudTrail's layout and whose Records are exactly those 10,000 events, each
once, each carrying the required fields, with the eventIDs the API returned."""

import gzip
import json
import os
import queue
import subprocess
import threading
import time

import htlib

N_BATCHES = 100
BATCH = 100
THREADS = 4
DELIVERY_BOUND = 5.0        # the "within 5 s"


def post_all(daemon, batches):
    """Post every batch from THREADS threads; returns ({eventID: event}, last ack time)."""
    q = queue.Queue()
    for b in batches:
        q.put(b)
    results, errors = [], []
    lock = threading.Lock()

    def worker():
        c = daemon.client(timeout=60)
        try:
            while True:
                try:
                    events = q.get_nowait()
                except queue.Empty:
                    return
                try:
                    rep = c.post_events("default", events)
                    ids = htlib.check_ok_reply(rep, events)
                except Exception as e:          # noqa: BLE001 - reported below
                    with lock:
                        errors.append("%s: %s" % (type(e).__name__, e))
                    return
                with lock:
                    results.append((time.monotonic(), ids, events))
        finally:
            c.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
        assert not t.is_alive(), "a client thread hung for 300s"
    assert not errors, "posting failed: %s" % errors[:3]
    by_eid = {}
    for _t, ids, events in results:
        for e in events:
            eid = ids[e["id"]]
            assert eid not in by_eid, "eventID %s returned twice by the API" % eid
            by_eid[eid] = e
    return by_eid, max(t for t, _i, _e in results)


def check_keys(spool, t_start, t_end):
    """Every file's delivery minute lies within the test's run (date dirs are checked by
    Spool already)."""
    lo = int(t_start) // 60 * 60
    hi = int(t_end) // 60 * 60 + 60
    for key, (_sig, _recs, minute) in spool.files.items():
        assert lo <= minute <= hi, (
            "file %s: delivery minute %s is outside the test's run [%s, %s]"
            % (key, time.strftime("%Y%m%dT%H%MZ", time.gmtime(minute)),
               time.strftime("%H:%M", time.gmtime(lo)), time.strftime("%H:%M", time.gmtime(hi))))


def check_records(spool, by_eid):
    arn = htlib.channel_arn("default")
    problems = []
    for r in spool.records():
        p = htlib.check_record(r)
        ev = by_eid.get(r.get("eventID"))
        if ev is None:
            p.append("eventID not among the acked ones")
        else:
            d = json.loads(ev["eventData"])
            if htlib.record_marker(r) != d["UID"]:
                p.append("requestParameters.marker %r but the API gave this eventID to %r"
                         % (htlib.record_marker(r), d["UID"]))
            for f in ("eventSource", "eventName", "eventTime", "userAgent",
                      "sourceIPAddress", "responseElements"):
                if r.get(f) != d[f]:
                    p.append("%s %r, posted %r" % (f, r.get(f), d[f]))
            ui = r.get("userIdentity") or {}
            if ui.get("type") != d["userIdentity"]["type"] or \
                    ui.get("principalId") != d["userIdentity"]["principalId"]:
                p.append("userIdentity %r, posted %r" % (ui, d["userIdentity"]))
            if (r.get("metadata") or {}).get("channelARN") != arn:
                p.append("metadata.channelARN %r, want %r"
                         % ((r.get("metadata") or {}).get("channelARN"), arn))
        if p:
            problems.append("%s: %s" % (r.get("eventID"), "; ".join(p)))
    assert not problems, "%d records are wrong, e.g.:\n  %s" % (
        len(problems), "\n  ".join(problems[:10]))


def test_10k_events_delivered_within_5s():
    with htlib.Env("delivery") as env:
        doc = htlib.config_doc(env.root, trails=[htlib.trail("trail-1", "spool-1", interval="1s")])
        d = env.daemon(env.write_config(doc)).start()
        spool = env.spool("spool-1")
        now = htlib.utc_now_str()
        batches = [[htlib.make_event("d%03d-%03d" % (b, i), event_time=now)
                    for i in range(BATCH)] for b in range(N_BATCHES)]
        t_wall0 = time.time()
        t0 = time.monotonic()
        by_eid, t_last_ack = post_all(d, batches)
        htlib.log("posted %d events in %.2fs" % (len(by_eid), t_last_ack - t0))
        assert len(by_eid) == N_BATCHES * BATCH

        # Within 5 s of the last ack every acked event is in a spool file.
        left = DELIVERY_BOUND - (time.monotonic() - t_last_ack)
        try:
            spool.wait_for_ids(by_eid.keys(), timeout=max(left, 0.01), poll=0.1)
        except AssertionError as e:
            raise AssertionError("not delivered within %.0fs of the last ack: %s"
                                 % (DELIVERY_BOUND, e))
        took = time.monotonic() - t_last_ack
        htlib.log("all %d events in %d spool files %.2fs after the last ack"
                  % (len(by_eid), len(spool.files), took))
        htlib.assert_exactly_once(spool, by_eid.keys(), "at %.1fs" % took)
        check_records(spool, by_eid)
        check_keys(spool, t_wall0, time.time())

        # Nothing more may show up later (no late duplicate), nor at shutdown.
        time.sleep(2.5)
        htlib.assert_exactly_once(spool, by_eid.keys(), "2.5s later")
        rc = d.stop()
        assert rc == 0, "SIGTERM: exit status %s, want 0" % rc
        htlib.assert_exactly_once(spool, by_eid.keys(), "after SIGTERM")
        check_records(spool, by_eid)
        check_keys(spool, t_wall0, time.time())


def test_interval_and_size_limits_cut_batches():
    """A partial batch is delivered once delivery.interval passes (no SIGTERM needed);
    max_events and max_bytes bound every file."""
    with htlib.Env("limits") as env:
        trails = [htlib.trail("by-interval", "spool-a", interval="1s"),
                  htlib.trail("by-count", "spool-b", interval="1s", max_events=100),
                  htlib.trail("by-bytes", "spool-c", interval="1s", max_bytes="64KiB")]
        d = env.daemon(env.write_config(htlib.config_doc(env.root, trails=trails))).start()
        c = d.client()
        acked = {}
        for b in range(10):
            evs = [htlib.make_event("lim%02d-%02d" % (b, i)) for i in range(100)]
            acked.update({v: k for k, v in htlib.check_ok_reply(
                c.post_events("default", evs), evs).items()})
        c.close()
        t_ack = time.monotonic()
        for bucket in ("spool-a", "spool-b", "spool-c"):
            s = env.spool(bucket)
            left = max(0.1, 5.0 - (time.monotonic() - t_ack))
            try:
                s.wait_for_ids(acked, timeout=left)
            except AssertionError as e:
                raise AssertionError("%s: 1000 events (under max_events) not delivered within "
                                     "5s of the last ack by the 1s interval: %s" % (bucket, e))
            htlib.assert_exactly_once(s, acked, bucket)
        sb = env.spool("spool-b")
        sb.scan()
        big = {k: len(v[1]) for k, v in sb.files.items() if len(v[1]) > 100}
        assert not big, "max_events 100: files with more records: %s" % big
        assert len(sb.files) >= 10, "max_events 100, 1000 events: only %d files" % len(
            sb.files)
        sc = env.spool("spool-c")
        sc.scan()
        sizes = {}
        for key in sc.files:
            with open(os.path.join(sc.path, key), "rb") as f:
                sizes[key] = len(gzip.decompress(f.read()))
        over = {k: n for k, n in sizes.items() if n > 64 * 1024}
        if over:
            k = sorted(over)[0]
            raise AssertionError(
                "max_bytes 64KiB (65536): %d of %d files hold more uncompressed JSON, e.g. "
                "%s: %d bytes in %d records" % (len(over), len(sizes), k, over[k],
                                                len(sc.files[k][1])))
        total = sum(sizes.values())
        assert len(sc.files) >= total // (64 * 1024), (len(sc.files), total)
        sa = env.spool("spool-a")
        sa.scan()
        htlib.log("by-interval %d files, by-count %d files, by-bytes %d files (%d bytes)"
                  % (len(sa.files), len(sb.files), len(sc.files), total))
        assert d.stop() == 0


def test_hosttrailctl_put_audit_events():
    """hosttrailctl put-audit-events --channel NAME --file F|- posts and prints the reply."""
    with htlib.Env("ctl") as env:
        doc = htlib.config_doc(env.root, trails=[htlib.trail("trail-1", "spool-1", interval="1s")])
        d = env.daemon(env.write_config(doc)).start()
        evs = [htlib.make_event("ctl-%d" % i) for i in range(3)]
        f = env.path("events.json")
        with open(f, "w") as fh:
            json.dump(evs, fh)
        acked = {}
        for args, stdin in ((["--file", f], None), (["--file", "-"], json.dumps(evs).encode())):
            cmd = [htlib.HOSTTRAILCTL, "-s", d.socket_path, "put-audit-events",
                   "--channel", "other"] + args
            p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60)
            assert p.returncode == 0, "%s: status %d, stderr %r" % (cmd, p.returncode, p.stderr)
            rep = json.loads(p.stdout)
            assert not rep.get("failed") and len(rep.get("successful", [])) == 3, rep
            for s in rep["successful"]:
                assert htlib.UUID4_RE.match(s["eventID"]), s
                acked[s["eventID"]] = s["id"]
        assert len(acked) == 6, "6 distinct eventIDs expected, got %r" % acked
        assert d.stop() == 0
        spool = env.spool("spool-1")
        htlib.assert_exactly_once(spool, acked.keys())
        for r in spool.records():
            assert r["metadata"]["channelARN"] == htlib.channel_arn("other"), r["metadata"]


if __name__ == "__main__":
    htlib.run([test_10k_events_delivered_within_5s, test_interval_and_size_limits_cut_batches,
               test_hosttrailctl_put_audit_events])
