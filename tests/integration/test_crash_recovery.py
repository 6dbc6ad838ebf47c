#!/usr/bin/env python3
"""Issue 2, must-show 3: kill -9 of the daemon while clients post, then restart on the same
state (three times in a row), keep posting a little, SIGTERM.  Then every event that got an
eventID back is in the spool exactly once; events that got no answer may be missing but are
never duplicated or half-written; no eventID appears twice anywhere; and at no moment (a
watcher scans the spool all along) does a file outside .tmp/ fail to be a complete gzip of
{"Records":[...]} with a CloudTrail key."""

import json
import random
import threading
import time

import htlib

CLIENTS = 4
CYCLES = 3
RUN_BEFORE_KILL = 2.0


class Watcher(threading.Thread):
    """Scans the spool every 50 ms and remembers the first invalid file it sees."""

    def __init__(self, spool):
        super().__init__(daemon=True)
        self.spool = spool
        self.stop_event = threading.Event()
        self.error = None
        self.scans = 0

    def run(self):
        while not self.stop_event.is_set() and self.error is None:
            try:
                self.spool.scan()
                self.scans += 1
            except htlib.SpoolError as e:
                self.error = str(e)
            except Exception as e:          # noqa: BLE001
                self.error = "watcher: %s: %s" % (type(e).__name__, e)
            self.stop_event.wait(0.05)


def make_batch(name, seq):
    n = 10 + (seq * 7) % 91              # 10..100 events per request
    return [htlib.make_event("%s-%05d-%03d" % (name, seq, i)) for i in range(n)]


def test_kill9_while_posting_three_times():
    with htlib.Env("crash") as env:
        doc = htlib.config_doc(env.root, trails=[htlib.trail("trail-1", "spool-1", interval="1s")])
        d = env.daemon(env.write_config(doc)).start()
        spool = env.spool("spool-1")
        watcher = Watcher(htlib.Spool(spool.path))
        watcher.start()
        posters = [htlib.Poster(d.socket_path, make_batch, name="c%d" % i)
                   for i in range(CLIENTS)]
        for p in posters:
            p.start()
        try:
            for cycle in range(CYCLES):
                time.sleep(RUN_BEFORE_KILL + random.uniform(-0.5, 0.5))   # vary the phase
                before = sum(len(p.acked) for p in posters)
                assert before > 0, "no request was acked before kill #%d" % (cycle + 1)
                d.kill9()
                htlib.log("cycle %d: killed -9 after %d acked requests" % (cycle + 1, before))
                time.sleep(0.3)
                d.start()
                t_last_start = time.monotonic()
            time.sleep(2.0)
        finally:
            htlib.stop_posters(posters)
        late = sum(1 for p in posters for a in p.acked if a[0] > t_last_start)
        assert late > 0, "no request was acked after the last restart"
        rc = d.stop()
        assert rc == 0, "SIGTERM after the kill cycles: exit status %s, want 0" % rc
        watcher.stop_event.set()
        watcher.join(30)
        assert watcher.error is None, "an invalid file appeared in the spool: %s" % watcher.error
        assert watcher.scans > 10, "the spool watcher hardly ran (%d scans)" % watcher.scans

        bad = [b for p in posters for b in p.bad]
        assert not bad, "%d replies were neither a full success nor a dropped connection, " \
                        "e.g. %s" % (len(bad), bad[0][3])
        acked = htlib.acked_ids(posters)             # eventID -> marker
        unanswered = {e["id"] for p in posters for (_a, _b, evs, _e) in p.unanswered
                      for e in evs}
        htlib.log("acked %d events in %d requests; %d events in %d requests got no answer"
                  % (len(acked), sum(len(p.acked) for p in posters), len(unanswered),
                     sum(len(p.unanswered) for p in posters)))

        spool.scan()
        counts = spool.event_ids()
        dups = {k: n for k, n in counts.items() if n > 1}
        assert not dups, "%d eventIDs appear more than once, e.g. %s" % (
            len(dups), list(dups.items())[:5])
        missing = set(acked) - set(counts)
        assert not missing, "%d acked events are missing from the spool, e.g. %s" % (
            len(missing), [(m, acked[m]) for m in sorted(missing)[:5]])

        by_marker = {}
        problems = []
        for r in spool.records():
            m = htlib.record_marker(r)
            p = htlib.check_record(r)
            eid = r.get("eventID")
            if eid in acked and acked[eid] != m:
                p.append("eventID was acked for %r but the record carries %r" % (acked[eid], m))
            if eid not in acked and m not in unanswered:
                p.append("neither acked nor in flight at a crash (marker %r)" % m)
            if m in by_marker:
                p.append("event %r delivered twice (eventIDs %s and %s)"
                         % (m, by_marker[m], eid))
            by_marker[m] = eid
            if p:
                problems.append("%s: %s" % (eid, "; ".join(p)))
        assert not problems, "%d bad records:\n  %s" % (len(problems),
                                                        "\n  ".join(problems[:10]))
        # Acked records carry what was posted.
        recs = {r["eventID"]: r for r in spool.records()}
        for p in posters:
            for _a, _b, ids, events in p.acked[::25]:
                for e in events:
                    data = json.loads(e["eventData"])
                    r = recs[ids[e["id"]]]
                    for f in ("eventTime", "eventName", "eventSource"):
                        assert r.get(f) == data[f], "record %s: %s %r, posted %r" % (
                            r["eventID"], f, r.get(f), data[f])
                    assert (r.get("userIdentity") or {}).get("principalId") == \
                        data["userIdentity"]["principalId"], r
        extra = len(counts) - len(acked)
        htlib.log("spool: %d files, %d records (%d acked + %d from unanswered requests)"
                  % (len(spool.files), len(counts), len(acked), extra))


if __name__ == "__main__":
    htlib.run([test_kill9_while_posting_three_times])
