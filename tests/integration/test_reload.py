#!/usr/bin/env python3
"""Issue 2, must-show 5: SIGHUP adding and removing a trail while events flow.

Config A has trails t1 and t2; events flow from two clients; SIGHUP to config B (t1 kept but
with a changed delivery.max_events, t2 removed, t3 added); more events; SIGHUP with an
invalid config (an unknown key): refused and logged, config B keeps running; more events;
SIGTERM.  Then:
  t1  has every acked event exactly once;
  t3  has every event whose request started after the reload completed (READY=1 following
      RELOADING=1 on NOTIFY_SOCKET), none acked before the SIGHUP was sent, and each at most
      once (requests in flight during the reload may be in or out);
  t2  has no event whose request started after the reload completed, has the events acked
      well before it was removed, and no duplicates;
  no client request failed or went unanswered across the reloads."""

import re
import time

import htlib

PHASE = 5.0
LATE = 3.0           # events acked this long before the first SIGHUP must be in t2


def batch(name, seq):
    return [htlib.make_event("%s-%05d-%02d" % (name, seq, i)) for i in range(20)]


def wait_reload(notify, what, timeout=30):
    """RELOADING=1 then READY=1; returns the monotonic time READY arrived, or None with a
    message when notify did not say so."""
    try:
        notify.wait_for("RELOADING", "1", timeout)
        m = notify.wait_for("READY", "1", timeout)
        return m[0], None
    except AssertionError as e:
        return None, "%s: %s" % (what, e)


def test_sighup_add_remove_trail_and_invalid_config():
    with htlib.Env("reload") as env:
        notify = htlib.Notify(env.path("notify.sock"))
        buckets = ["spool-1", "spool-2", "spool-3"]
        doc_a = htlib.config_doc(env.root, buckets=buckets,
                                 trails=[htlib.trail("trail-1", "spool-1"),
                                         htlib.trail("trail-2", "spool-2")])
        doc_b = htlib.config_doc(env.root, buckets=buckets,
                                 trails=[htlib.trail("trail-1", "spool-1", max_events=5000),
                                         htlib.trail("trail-3", "spool-3")])
        cfg = env.write_config(doc_a)
        d = env.daemon(cfg, extra_env={"NOTIFY_SOCKET": notify.path}).start()
        notes = []
        try:
            notify.wait_for("READY", "1", 30)
        except AssertionError as e:
            notes.append("start: %s" % e)

        posters = [htlib.Poster(d.socket_path, batch, name="r%d" % i, pause=0.01)
                   for i in range(2)]
        for p in posters:
            p.start()
        try:
            time.sleep(PHASE)
            # Reload 1: t2 removed, t3 added, t1 changed.
            env.write_config(doc_b)
            t_hup1 = time.monotonic()
            d.hup()
            t_ready1, note = wait_reload(notify, "SIGHUP to config B")
            if note:
                notes.append(note)
                t_ready1 = t_hup1 + 10.0             # fall back to a generous bound
                time.sleep(10.0)
            htlib.log("reload 1 done %.2fs after SIGHUP" % (t_ready1 - t_hup1))
            time.sleep(PHASE)

            # Reload 2: invalid (unknown key) -> refused, config B keeps running.
            env.write_config(htlib.to_yaml(doc_b) + "bogus_key: 1\n")
            off = d.log_size()
            t_hup2 = time.monotonic()
            d.hup()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and "bogus_key" not in d.log_since(off):
                time.sleep(0.1)
            wait_reload(notify, "SIGHUP to an invalid config", timeout=5)  # drain; optional
            time.sleep(1.0)
            assert d.alive(), "the daemon exited (status %s) after SIGHUP with an invalid " \
                              "config" % d.proc.poll()
            refusal = d.log_since(off)
            assert "bogus_key" in refusal, (
                "the refused config is not logged (nothing mentions bogus_key within 15s); "
                "log since SIGHUP: %r" % refusal[-2000:])
            assert re.search(r"hosttrail\.yaml:\d+:\d+", refusal), (
                "the refusal does not name file:line:column: %r" % refusal[-2000:])
            time.sleep(PHASE)
        finally:
            htlib.stop_posters(posters)
        t_end = time.monotonic()
        rc = d.stop()
        assert rc == 0, "SIGTERM: exit status %s, want 0" % rc

        bad = [b for p in posters for b in p.bad]
        unanswered = [u for p in posters for u in p.unanswered]
        assert not bad, "%d requests failed, e.g. %s" % (len(bad), bad[0][3])
        assert not unanswered, "%d requests got no answer across the reloads, e.g. %s" % (
            len(unanswered), unanswered[0][3])

        acked = htlib.acked_ids(posters)
        after_ready = htlib.acked_ids(posters, lambda t0, t1: t0 >= t_ready1)
        before_hup = htlib.acked_ids(posters, lambda t0, t1: t1 <= t_hup1)
        well_before = htlib.acked_ids(posters, lambda t0, t1: t1 <= t_hup1 - LATE)
        after_hup2 = htlib.acked_ids(posters, lambda t0, t1: t0 >= t_hup2 + 2.0)
        htlib.log("acked %d events: %d before SIGHUP 1, %d after reload 1 completed, "
                  "%d after the invalid reload" % (len(acked), len(before_hup),
                                                   len(after_ready), len(after_hup2)))
        assert after_hup2, "no events were acked after the invalid reload"
        assert well_before, "no events were acked %.0fs before the first SIGHUP" % LATE
        assert t_end > t_hup2

        s1, s2, s3 = env.spool("spool-1"), env.spool("spool-2"), env.spool("spool-3")
        htlib.assert_exactly_once(s1, acked.keys(), "t1 (kept)")

        for name, s in (("t2", s2), ("t3", s3)):
            s.scan()
            dups = s.dup_ids()
            assert not dups, "%s: %d duplicated eventIDs, e.g. %s" % (name, len(dups),
                                                                      list(dups.items())[:3])
            unknown = set(s.event_ids()) - set(acked)
            assert not unknown, "%s: %d eventIDs never acked" % (name, len(unknown))

        htlib.log("delivered: trail-1 %d in %d files, trail-2 %d in %d files, trail-3 %d in "
                  "%d files" % (s1.count(), len(s1.files), s2.count(), len(s2.files),
                                s3.count(), len(s3.files)))
        htlib.log("refusal logged: %s" % " | ".join(
            l for l in refusal.splitlines() if "bogus_key" in l)[:500])
        got3 = set(s3.event_ids())
        missing = set(after_ready) - got3
        assert not missing, ("t3 (added): %d of %d events posted after its reload completed "
                             "are missing, e.g. %s" % (len(missing), len(after_ready),
                                                       [acked[m] for m in sorted(missing)[:3]]))
        early = set(before_hup) & got3
        assert not early, ("t3 (added): has %d events acked before the SIGHUP, e.g. %s "
                           "(an added trail starts at the end of history)"
                           % (len(early), [acked[m] for m in sorted(early)[:3]]))

        got2 = set(s2.event_ids())
        late2 = set(after_ready) & got2
        assert not late2, ("t2 (removed): still delivered %d events posted after the reload, "
                           "e.g. %s" % (len(late2), [acked[m] for m in sorted(late2)[:3]]))
        lost2 = set(well_before) - got2
        assert not lost2, ("t2: %d events acked %.0fs before it was removed were never "
                           "delivered, e.g. %s" % (len(lost2), LATE,
                                                   [acked[m] for m in sorted(lost2)[:3]]))
        assert not notes, "sd_notify during reloads: %s" % "; ".join(notes)
        notify.close()


if __name__ == "__main__":
    htlib.run([test_sighup_add_remove_trail_and_invalid_config])
