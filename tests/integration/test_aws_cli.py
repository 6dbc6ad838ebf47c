#!/usr/bin/env python3
"""Issue 4, the stock aws CLI against hosttraild's TCP listener (SigV4, a configured key).

Runs with every aws CLI on the machine: the pip CLI v1 on PATH and Debian's v2 at
/usr/bin/aws (installed with `apt-get install -y awscli` when missing, unless HT_NO_APT=1 or
not root; then v2 is left out and the reason printed).  Each CLI runs with an isolated
environment (no config or credentials file, no instance metadata, region us-east-1, the
daemon's admin key) and --endpoint-url http://127.0.0.1:PORT; its JSON output is checked
member by member (v1 prints timestamps as the epoch numbers on the wire, v2 as ISO 8601).

  must-show 1 (test_seed_cli_section_*): every command of the seed's CLI section as written
      there: create-trail --name my-trail --s3-bucket-name my-bucket; start-logging; events
      posted while logging reach my-trail's spool, events posted after stop-logging do not
      (while a trail still logging on another bucket gets them), not even when SIGTERM
      flushes, and get-trail-status still reports the last delivery after the restart;
      create-trail
      --is-multi-region-trail; update-trail --is-multi-region-trail /
      --no-is-multi-region-trail / --no-include-global-service-events; describe-trails;
      get-trail-status --name; stop-logging / get-trail-status / delete-trail --name
      awscloudtrail-example; lookup-events alone, with --max-results, --start-time/--end-time
      and --lookup-attributes, compared with what was posted.
  must-show 2 (test_exception_names_*, test_throttling): CloudTrail's exception names for a
      6th trail, a duplicate name, bad names, an unknown trail, an unknown bucket, 6 event
      selectors, 251 data resources, two lookup attributes, a bad time range, throttling.
  must-show 5 (test_cloudtrail_data_put_audit_events): `aws cloudtrail-data
      put-audit-events` (v1 only) ingests events that `aws cloudtrail lookup-events` (every
      CLI) finds and a logging trail delivers.
  must-show 6 (test_persistence_*): trails made with the CLI, with basic and advanced
      selectors, tags and logging on/off, are the same after SIGTERM + start and after
      SIGHUP, and still deliver (or not) accordingly."""

import json
import os
import subprocess
import time

import htlib

REGION = htlib.API_REGION
ACCOUNT = htlib.ACCOUNT
ARN = "arn:aws:cloudtrail:%s:%s:trail/%%s" % (REGION, ACCOUNT)
CHANNEL = htlib.channel_arn("default", region=REGION)
N_HAMMER = 6                    # concurrent CLIs against a 1/s rate
DELIVERY_WAIT = 30.0            # bound on a 1 s-interval trail delivering
QUIET = 4.0                     # how long a stopped trail must stay silent after a post
                                # (4 delivery intervals)

STATUS_MEMBERS = {"IsLogging", "LatestDeliveryError", "LatestNotificationError",
                  "LatestDeliveryTime", "LatestNotificationTime", "StartLoggingTime",
                  "StopLoggingTime", "LatestCloudWatchLogsDeliveryError",
                  "LatestCloudWatchLogsDeliveryTime", "LatestDigestDeliveryTime",
                  "LatestDigestDeliveryError", "LatestDeliveryAttemptTime",
                  "LatestNotificationAttemptTime", "LatestNotificationAttemptSucceeded",
                  "LatestDeliveryAttemptSucceeded", "TimeLoggingStarted", "TimeLoggingStopped"}

_CLIS = []
_NOTES = []


def clis():
    if not _CLIS and not _NOTES:
        found, notes = htlib.find_aws_clis(install=True)
        _CLIS.extend(found)
        _NOTES.extend(notes or ["(none)"])
        for c in found:
            htlib.log("using %s" % c.label)
        for n in notes:
            htlib.log("NOTE: %s" % n)
    return _CLIS


def cli(major):
    for c in clis():
        if c.major == major:
            return c
    return None


# --------------------------------------------------------------------------- the daemon

# --------------------------------------------------------------------------- expectations

def trail_shape(name, bucket="my-bucket", multi=False, glob=True, full=False, custom=False):
    """CreateTrail/UpdateTrail's response (full=False) or DescribeTrails' Trail (True)."""
    t = {"Name": name, "S3BucketName": bucket, "IncludeGlobalServiceEvents": glob,
         "IsMultiRegionTrail": multi, "TrailARN": ARN % name,
         "LogFileValidationEnabled": False, "IsOrganizationTrail": False}
    if full:
        t.update({"HomeRegion": REGION, "HasCustomEventSelectors": custom,
                  "HasInsightSelectors": False})
    return t


def same(got, want, what):
    if got != want:
        diff = []
        if isinstance(got, dict) and isinstance(want, dict):
            for k in sorted(set(got) | set(want)):
                if got.get(k, "<absent>") != want.get(k, "<absent>"):
                    diff.append("%s: got %r, want %r" % (k, got.get(k, "<absent>"),
                                                        want.get(k, "<absent>")))
        raise AssertionError("%s: %s" % (what, "; ".join(diff) if diff else
                                         "got %r, want %r" % (got, want)))


def check_ts_type(c, v, what):
    """v1 prints the wire value (an epoch number), v2 an ISO 8601 string."""
    if c.major == 1:
        assert isinstance(v, (int, float)) and not isinstance(v, bool), \
            "%s: %s %r is not an epoch number (v1 prints the wire value)" % (c.label, what, v)
    else:
        assert isinstance(v, str) and "T" in v, \
            "%s: %s %r is not an ISO 8601 time (v2 formats timestamps)" % (c.label, what, v)
    return htlib.cli_time(v)


def iso_z(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def check_status(c, st, logging, started=None, stopped=None, delivered=False):
    """get-trail-status output.  started/stopped: (lo, hi) bounds of StartLoggingTime /
    StopLoggingTime, or None for absent, or True for "present, any time"."""
    what = "%s get-trail-status" % c.label
    assert isinstance(st, dict), "%s printed %r" % (what, st)
    extra = set(st) - STATUS_MEMBERS
    assert not extra, "%s: members not in CloudTrail's model: %s" % (what, sorted(extra))
    assert st.get("IsLogging") is logging, "%s: IsLogging %r, want %r (%r)" % (
        what, st.get("IsLogging"), logging, st)
    for member, iso, bounds in (("StartLoggingTime", "TimeLoggingStarted", started),
                                ("StopLoggingTime", "TimeLoggingStopped", stopped)):
        if bounds is None:
            assert member not in st and iso not in st, \
                "%s: %s/%s present, want absent: %r" % (what, member, iso, st)
            continue
        assert member in st, "%s: no %s: %r" % (what, member, st)
        t = check_ts_type(c, st[member], member)
        if bounds is not True:
            lo, hi = bounds
            assert lo - 2 <= t <= hi + 2, "%s: %s %s not within [%s, %s]" % (
                what, member, st[member], iso_z(lo), iso_z(hi))
        # The "no longer in use" string twins are ISO 8601 strings (reference §5).
        assert st.get(iso) == iso_z(t), "%s: %s %r, want %r (= %s)" % (
            what, iso, st.get(iso), iso_z(t), member)
    if delivered:
        assert "LatestDeliveryTime" in st, "%s: no LatestDeliveryTime after a delivery: %r" \
            % (what, st)
        ld = check_ts_type(c, st["LatestDeliveryTime"], "LatestDeliveryTime")
        if started not in (None, True):
            assert ld >= started[0] - 2, "%s: LatestDeliveryTime %s before logging started" \
                % (what, st["LatestDeliveryTime"])
        assert ld <= time.time() + 2, "%s: LatestDeliveryTime in the future" % what
        assert "LatestDeliveryError" not in st, "%s: LatestDeliveryError %r" % (
            what, st["LatestDeliveryError"])
        for m in ("LatestDeliveryAttemptTime", "LatestDeliveryAttemptSucceeded"):
            v = st.get(m)
            assert isinstance(v, str) and htlib.TIME_RE.match(v), \
                "%s: %s %r is not an ISO 8601 string" % (what, m, v)
        assert htlib.cli_time(st["LatestDeliveryAttemptTime"]) >= int(ld) - 1, \
            "%s: LatestDeliveryAttemptTime before LatestDeliveryTime: %r" % (what, st)


def normalize_events(c, events):
    """Events as the CLI printed them -> with EventTime an epoch int (for htlib's checks),
    after checking the printed type."""
    out = []
    for ev in events:
        ev = dict(ev)
        if "EventTime" in ev:
            t = check_ts_type(c, ev["EventTime"], "EventTime")
            ev["EventTime"] = int(t) if t == int(t) else t
        out.append(ev)
    return out


def new_events(tag, times, names):
    events = []
    for i, (t, name) in enumerate(zip(times, names)):
        events.append(htlib.make_event("%s-%02d" % (tag, i), account=ACCOUNT,
                                       event_time=htlib.utc_now_str(t), eventName=name,
                                       eventSource="seed.hosttrail.example",
                                       userIdentity={"type": "IAMUser",
                                                     "principalId": "user-%s" % tag}))
    return events


def post_to_model(api, model, events):
    ids = api.post(events)
    model.add_reply(events, ids)
    return ids


def aws(c, api, *args, **kw):
    return c.ok(list(args), api.endpoint, **kw)


# --------------------------------------------------------------------------- must-show 1

def seed_cli_section(c):
    with htlib.Env("awscli-v%d" % c.major) as env:
        api = htlib.ApiDaemon(env)
        my_spool, other_spool = api.spool("my-bucket"), api.spool("other-bucket")
        model = htlib.LookupModel()
        base = (int(time.time()) // 60) * 60 - 3 * 3600

        # aws cloudtrail create-trail --name my-trail --s3-bucket-name my-bucket
        out = aws(c, api, "cloudtrail", "create-trail", "--name", "my-trail",
                  "--s3-bucket-name", "my-bucket")
        same(out, trail_shape("my-trail"), "%s create-trail my-trail" % c.label)
        check_status(c, aws(c, api, "cloudtrail", "get-trail-status", "--name", "my-trail"),
                     logging=False)

        # The seed's awscloudtrail-example, on another bucket, logging all along: the
        # control that shows events posted after my-trail stopped were delivered somewhere.
        same(aws(c, api, "cloudtrail", "create-trail", "--name", "awscloudtrail-example",
                 "--s3-bucket-name", "other-bucket"),
             trail_shape("awscloudtrail-example", "other-bucket"),
             "%s create-trail awscloudtrail-example" % c.label)
        assert aws(c, api, "cloudtrail", "start-logging", "--name",
                   "awscloudtrail-example") is None

        # aws cloudtrail start-logging --name my-trail
        t0 = time.time()
        out = aws(c, api, "cloudtrail", "start-logging", "--name", "my-trail")
        t1 = time.time()
        assert out is None, "%s start-logging printed %r (StartLogging returns {})" % (
            c.label, out)
        st = aws(c, api, "cloudtrail", "get-trail-status", "--name", "my-trail")
        check_status(c, st, logging=True, started=(t0, t1))
        started_at = htlib.cli_time(st["StartLoggingTime"])

        # Events posted while logging reach my-trail's spool (and the control's).
        ev1 = new_events("logging", [base + 60 * i for i in range(5)],
                         ["SeedLogin", "SeedLogout", "SeedLogin", "SeedRead", "SeedLogin"])
        ids1 = post_to_model(api, model, ev1)
        my_spool.wait_for_ids(ids1.values(), DELIVERY_WAIT)
        other_spool.wait_for_ids(ids1.values(), DELIVERY_WAIT)
        htlib.assert_exactly_once(my_spool, ids1.values(), "my-trail while logging")
        for r in my_spool.records():
            p = htlib.check_record(r, region=REGION, account=ACCOUNT)
            assert not p, "my-trail record %s: %s" % (r.get("eventID"), p)
        st = aws(c, api, "cloudtrail", "get-trail-status", "--name", "my-trail")
        check_status(c, st, logging=True, started=(t0, t1), delivered=True)

        # aws cloudtrail stop-logging (the seed names awscloudtrail-example; my-trail here)
        t2 = time.time()
        assert aws(c, api, "cloudtrail", "stop-logging", "--name", "my-trail") is None
        t3 = time.time()
        st = aws(c, api, "cloudtrail", "get-trail-status", "--name", "my-trail")
        check_status(c, st, logging=False, started=True, stopped=(t2, t3), delivered=True)
        assert htlib.cli_time(st["StartLoggingTime"]) == started_at, \
            "%s: StartLoggingTime changed by stop-logging: %r" % (c.label, st)

        ev2 = new_events("stopped", [base + 600 + 60 * i for i in range(5)],
                         ["SeedLogout", "SeedLogin", "SeedRead", "SeedLogout", "SeedRead"])
        t_post = time.monotonic()
        ids2 = post_to_model(api, model, ev2)
        other_spool.wait_for_ids(ids2.values(), DELIVERY_WAIT)
        time.sleep(max(0.0, QUIET - (time.monotonic() - t_post)))
        my_spool.scan()
        leaked = set(ids2.values()) & set(my_spool.event_ids())
        assert not leaked, "%s: %d events posted after stop-logging reached my-trail's " \
            "spool (e.g. %s)" % (c.label, len(leaked), sorted(leaked)[:2])
        htlib.assert_exactly_once(my_spool, ids1.values(), "my-trail after stop-logging")
        htlib.assert_exactly_once(other_spool, list(ids1.values()) + list(ids2.values()),
                                  "awscloudtrail-example (logging throughout)")
        # Nor at shutdown, when SIGTERM delivers everything pending.  GetTrailStatus
        # still reports the last delivery afterwards (checked at the end, so that a
        # failure there does not hide the rest of the seed's commands).
        status_before = {n: api.sock_call("GetTrailStatus", {"Name": n})
                         for n in ("my-trail", "awscloudtrail-example")}
        api.restart()
        my_spool.scan()
        htlib.assert_exactly_once(my_spool, ids1.values(),
                                  "my-trail after stop-logging and a SIGTERM flush")
        htlib.assert_exactly_once(other_spool, list(ids1.values()) + list(ids2.values()),
                                  "awscloudtrail-example after a SIGTERM flush")
        deferred = []
        for n, before in status_before.items():
            after = api.sock_call("GetTrailStatus", {"Name": n})
            lost = {k: v for k, v in before.items() if k.startswith("LatestDelivery")
                    and after.get(k) != v}
            if lost:
                deferred.append("GetTrailStatus %s after SIGTERM + start: %s were %r, now %r"
                                % (n, sorted(lost), lost, {k: after.get(k) for k in lost}))

        # aws cloudtrail create-trail --name my-trail2 ... --is-multi-region-trail
        out = aws(c, api, "cloudtrail", "create-trail", "--name", "my-trail2",
                  "--s3-bucket-name", "my-bucket", "--is-multi-region-trail")
        same(out, trail_shape("my-trail2", multi=True), "%s create-trail my-trail2" % c.label)

        # aws cloudtrail update-trail --name my-trail --is-multi-region-trail / --no-...
        out = aws(c, api, "cloudtrail", "update-trail", "--name", "my-trail",
                  "--is-multi-region-trail")
        same(out, trail_shape("my-trail", multi=True), "%s update-trail "
             "--is-multi-region-trail" % c.label)
        out = aws(c, api, "cloudtrail", "update-trail", "--name", "my-trail",
                  "--no-is-multi-region-trail")
        same(out, trail_shape("my-trail", multi=False), "%s update-trail "
             "--no-is-multi-region-trail" % c.label)
        out = aws(c, api, "cloudtrail", "update-trail", "--name", "my-trail",
                  "--no-include-global-service-events")
        same(out, trail_shape("my-trail", glob=False), "%s update-trail "
             "--no-include-global-service-events" % c.label)

        # aws cloudtrail describe-trails
        out = aws(c, api, "cloudtrail", "describe-trails")
        assert isinstance(out, dict) and list(out) == ["trailList"], \
            "%s describe-trails printed %r" % (c.label, out)
        got = {t.get("Name"): t for t in out["trailList"]}
        assert len(got) == len(out["trailList"]) == 3, "%s describe-trails: %r" % (c.label, out)
        same(got, {"my-trail": trail_shape("my-trail", glob=False, full=True),
                   "my-trail2": trail_shape("my-trail2", multi=True, full=True),
                   "awscloudtrail-example": trail_shape("awscloudtrail-example",
                                                        "other-bucket", full=True)},
             "%s describe-trails" % c.label)

        # aws cloudtrail get-trail-status --name my-trail (after the updates: unchanged)
        st = aws(c, api, "cloudtrail", "get-trail-status", "--name", "my-trail")
        check_status(c, st, logging=False, started=True, stopped=(t2, t3))

        # The seed's own lines for awscloudtrail-example, as written.
        st = aws(c, api, "cloudtrail", "get-trail-status", "--name", "awscloudtrail-example")
        check_status(c, st, logging=True, started=True)
        assert aws(c, api, "cloudtrail", "stop-logging", "--name",
                   "awscloudtrail-example") is None
        st = api.sock_call("GetTrailStatus", {"Name": "awscloudtrail-example"})
        assert st.get("IsLogging") is False, "after stop-logging: %r" % st
        assert aws(c, api, "cloudtrail", "delete-trail", "--name",
                   "awscloudtrail-example") is None
        names = [t["Name"] for t in aws(c, api, "cloudtrail", "describe-trails")["trailList"]]
        assert sorted(names) == ["my-trail", "my-trail2"], \
            "%s describe-trails after delete-trail: %s" % (c.label, names)
        c.error(["cloudtrail", "get-trail-status", "--name", "awscloudtrail-example"],
                api.endpoint, "TrailNotFoundException", "GetTrailStatus")

        # The seed creates the multi-region trail under the name my-trail: as written.
        assert aws(c, api, "cloudtrail", "delete-trail", "--name", "my-trail") is None
        out = aws(c, api, "cloudtrail", "create-trail", "--name", "my-trail",
                  "--s3-bucket-name", "my-bucket", "--is-multi-region-trail")
        same(out, trail_shape("my-trail", multi=True), "%s create-trail my-trail "
             "--is-multi-region-trail" % c.label)
        check_status(c, aws(c, api, "cloudtrail", "get-trail-status", "--name", "my-trail"),
                     logging=False)

        # lookup-events: every form of the seed, against what was posted.
        records = {r["eventID"]: r for r in other_spool.records()}
        lookup_checks(c, api, model, records, base)
        assert not deferred, "%s: delivery status lost on restart: %s" % (
            c.label, "; ".join(deferred))


def lookup_checks(c, api, model, records, base):
    # aws cloudtrail lookup-events: the CLI follows NextToken itself.
    out = aws(c, api, "cloudtrail", "lookup-events")
    assert isinstance(out, dict) and "NextToken" not in out and \
        isinstance(out.get("Events"), list), "%s lookup-events printed %r" % (c.label, out)
    htlib.compare_lookup(normalize_events(c, out["Events"]), model.expected(),
                         "%s lookup-events" % c.label, records=records)

    # aws cloudtrail lookup-events --max-results <integer>
    out = aws(c, api, "cloudtrail", "lookup-events", "--max-results", "3")
    htlib.compare_lookup(normalize_events(c, out.get("Events", [])), model.expected()[:3],
                         "%s lookup-events --max-results 3" % c.label, records=records)
    assert isinstance(out.get("NextToken"), str) and out["NextToken"], \
        "%s lookup-events --max-results 3 of %d events: no NextToken printed: %r" % (
            c.label, len(model.entries), sorted(out))

    # aws cloudtrail lookup-events --start-time <timestamp> --end-time <timestamp>
    # (both bounds inclusive: events sit exactly on them).
    start, end = base + 120, base + 600 + 120
    out = aws(c, api, "cloudtrail", "lookup-events", "--start-time", iso_z(start),
              "--end-time", iso_z(end))
    want = model.expected(start=start, end=end)
    assert len(want) == 6, "test bug: %d events in the window" % len(want)
    htlib.compare_lookup(normalize_events(c, out.get("Events", [])), want,
                         "%s lookup-events --start-time %s --end-time %s"
                         % (c.label, iso_z(start), iso_z(end)), records=records)
    # epoch seconds work too, and --max-results pages within the window
    out = aws(c, api, "cloudtrail", "lookup-events", "--start-time", str(start),
              "--end-time", str(end), "--max-results", "2")
    htlib.compare_lookup(normalize_events(c, out.get("Events", [])), want[:2],
                         "%s lookup-events (epoch times) --max-results 2" % c.label,
                         records=records)

    # aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,...
    for name in ("SeedLogin", "SeedRead"):
        out = aws(c, api, "cloudtrail", "lookup-events", "--lookup-attributes",
                  "AttributeKey=EventName,AttributeValue=%s" % name)
        want = model.expected(key="EventName", value=name)
        assert want, "test bug"
        htlib.compare_lookup(normalize_events(c, out.get("Events", [])), want,
                             "%s lookup-events --lookup-attributes EventName=%s"
                             % (c.label, name), records=records)
    eid = model.entries[0]["eid"]
    out = aws(c, api, "cloudtrail", "lookup-events", "--lookup-attributes",
              "AttributeKey=EventId,AttributeValue=%s" % eid)
    htlib.compare_lookup(normalize_events(c, out.get("Events", [])),
                         model.expected(key="EventId", value=eid),
                         "%s lookup-events --lookup-attributes EventId" % c.label,
                         records=records)


# --------------------------------------------------------------------------- must-show 2

def exception_names(c):
    with htlib.Env("awscli-err-v%d" % c.major) as env:
        api = htlib.ApiDaemon(env)
        E = api.endpoint
        want_rc = 254 if c.major == 2 else 255

        def err(args, code, op):
            r = c.error(args, E, code, op)
            assert r.rc == want_rc, "%s: exit %d for %s, want %d" % (c.label, r.rc, code,
                                                                     want_rc)
            return r

        def trails():
            return sorted(t["Name"] for t in api.sock_call("DescribeTrails", {})["trailList"])

        aws(c, api, "cloudtrail", "create-trail", "--name", "my-trail",
            "--s3-bucket-name", "my-bucket")
        # a duplicate name
        err(["cloudtrail", "create-trail", "--name", "my-trail", "--s3-bucket-name",
             "other-bucket"], "TrailAlreadyExistsException", "CreateTrail")
        # bad names: two specials in a row, an IPv4 address, too short
        for bad in ("my--trail", "192.168.5.4", "ab"):
            err(["cloudtrail", "create-trail", "--name", bad, "--s3-bucket-name",
                 "my-bucket"], "InvalidTrailNameException", "CreateTrail")
        # an unknown bucket
        err(["cloudtrail", "create-trail", "--name", "new-trail", "--s3-bucket-name",
             "no-such-bucket"], "S3BucketDoesNotExistException", "CreateTrail")
        # an unknown trail
        err(["cloudtrail", "get-trail-status", "--name", "no-such-trail"],
            "TrailNotFoundException", "GetTrailStatus")
        err(["cloudtrail", "start-logging", "--name", "no-such-trail"],
            "TrailNotFoundException", "StartLogging")
        err(["cloudtrail", "delete-trail", "--name", "no-such-trail"],
            "TrailNotFoundException", "DeleteTrail")
        assert trails() == ["my-trail"], "trails after refused requests: %s" % trails()

        # a 6th trail
        for i in range(2, 6):
            api.sock_call("CreateTrail", {"Name": "trail-%d" % i, "S3BucketName": "my-bucket"})
        err(["cloudtrail", "create-trail", "--name", "trail-6", "--s3-bucket-name",
             "my-bucket"], "MaximumNumberOfTrailsExceededException", "CreateTrail")
        assert trails() == ["my-trail", "trail-2", "trail-3", "trail-4", "trail-5"], \
            "trails after the 6th was refused: %s" % trails()

        # 6 event selectors
        sel = [{"ReadWriteType": "All", "IncludeManagementEvents": True}] * 6
        err(["cloudtrail", "put-event-selectors", "--trail-name", "my-trail",
             "--event-selectors", json.dumps(sel)], "InvalidEventSelectorsException",
            "PutEventSelectors")
        # 250 data resources across selectors are fine; 251 are not
        def selectors(counts):
            out, n = [], 0
            for k in counts:
                vals = ["/etc/a%d" % (n + j) for j in range(k)]
                n += k
                out.append({"ReadWriteType": "All", "IncludeManagementEvents": True,
                            "DataResources": [{"Type": "Host::File", "Values": vals}]})
            return out
        ok250 = selectors([200, 50])
        out = aws(c, api, "cloudtrail", "put-event-selectors", "--trail-name", "my-trail",
                  "--event-selectors", json.dumps(ok250))
        assert out.get("TrailARN") == ARN % "my-trail", "put-event-selectors: %r" % out
        got = out.get("EventSelectors")
        assert [s["DataResources"] for s in got or []] == \
            [s["DataResources"] for s in ok250], "put-event-selectors echoed %r" % (got,)
        before = api.sock_call("GetEventSelectors", {"TrailName": "my-trail"})
        err(["cloudtrail", "put-event-selectors", "--trail-name", "my-trail",
             "--event-selectors", json.dumps(selectors([200, 51]))],
            "InvalidEventSelectorsException", "PutEventSelectors")
        err(["cloudtrail", "put-event-selectors", "--trail-name", "my-trail",
             "--event-selectors", json.dumps(selectors([251]))],
            "InvalidEventSelectorsException", "PutEventSelectors")
        same(api.sock_call("GetEventSelectors", {"TrailName": "my-trail"}), before,
             "selectors after refused put-event-selectors")

        # two lookup attributes
        err(["cloudtrail", "lookup-events", "--lookup-attributes",
             "AttributeKey=EventName,AttributeValue=Login",
             "AttributeKey=Username,AttributeValue=alice"],
            "InvalidLookupAttributesException", "LookupEvents")
        # a bad time range
        err(["cloudtrail", "lookup-events", "--start-time", "2026-01-02T00:00:00Z",
             "--end-time", "2026-01-01T00:00:00Z"], "InvalidTimeRangeException",
            "LookupEvents")


def throttling():
    """ThrottlingException: read rate 1/s and lookup rate 1/s; N_HAMMER CLIs at once, each
    told to try once (AWS_MAX_ATTEMPTS=1, AWS_RETRY_MODE=standard; both CLIs honour these)."""
    with htlib.Env("awscli-throttle") as env:
        api = htlib.ApiDaemon(env, rate_limits={"lookup_events": 1, "read": 1, "write": 1})
        api.sock_call("CreateTrail", {"Name": "my-trail", "S3BucketName": "my-bucket"})
        one_try = {"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
        for c in clis():
            for args, op in ((["cloudtrail", "get-trail-status", "--name", "my-trail"],
                              "GetTrailStatus"),
                             (["cloudtrail", "lookup-events", "--max-results", "1"],
                              "LookupEvents")):
                time.sleep(1.5)                  # a full bucket for this key
                procs = [subprocess.Popen(c.popen_args(args, api.endpoint),
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE,
                                          env=c.env(extra_env=one_try))
                         for _ in range(N_HAMMER)]
                results = []
                for p in procs:
                    out, errb = p.communicate(timeout=90)
                    results.append(htlib.CliResult(args, p.returncode,
                                                   out.decode("utf-8", "replace"),
                                                   errb.decode("utf-8", "replace"), 0))
                ok = [r for r in results if r.rc == 0]
                thr = [r for r in results if r.error_code == "ThrottlingException"]
                other = [r for r in results if r.rc != 0 and r.error_code !=
                         "ThrottlingException"]
                htlib.log("%s %s x%d: %d ok, %d ThrottlingException"
                          % (c.label, op, N_HAMMER, len(ok), len(thr)))
                assert not other, "%s %s: unexpected failures: %r" % (c.label, op, other[:2])
                assert ok, "%s %s: all refused at 1/s: %r" % (c.label, op, results[:2])
                assert thr, "%s %s: %d concurrent calls at 1/s, none throttled" % (
                    c.label, op, N_HAMMER)
                for r in thr:
                    assert r.error_op == op and r.rc == (254 if c.major == 2 else 255), \
                        "%s: %r" % (c.label, r)
        # After a pause the key may call again.
        time.sleep(1.5)
        c = clis()[0]
        check_status(c, aws(c, api, "cloudtrail", "get-trail-status", "--name", "my-trail"),
                     logging=False)

        # Raw, without CLI start-up time: a throttled write changes nothing; buckets are
        # per key; the unix socket and PutAuditEvents are not limited (conf/hosttrail.yaml).
        time.sleep(1.5)
        t = api.tcp
        r1 = t.call("CreateTrail", {"Name": "burst-1", "S3BucketName": "my-bucket"})
        r2 = t.call("CreateTrail", {"Name": "burst-2", "S3BucketName": "my-bucket"})
        assert r1.status == 200, "first CreateTrail: %r" % r1
        assert r2.status == 400 and r2.error_type() == "ThrottlingException", \
            "second CreateTrail within a second at write: 1: %r" % r2
        names = sorted(x["Name"] for x in api.sock_call("ListTrails", {})["Trails"])
        assert names == ["burst-1", "my-trail"], "trails after a throttled CreateTrail: %s" \
            % names
        time.sleep(1.5)
        admin = [t.call("GetTrailStatus", {"Name": "my-trail"}) for _ in range(3)]
        reader = t.call("GetTrailStatus", {"Name": "my-trail"}, key=htlib.READ_KEY,
                        secret=htlib.READ_SECRET)
        assert [r.status for r in admin] == [200, 400, 400] and \
            all(r.error_type() == "ThrottlingException" for r in admin[1:]), \
            "3 GetTrailStatus at read: 1: %r" % admin
        assert reader.status == 200, "the read key has its own bucket: %r" % reader
        sock = [api.sock.call("GetTrailStatus", {"Name": "my-trail"}).status for _ in range(10)]
        assert sock == [200] * 10, "the unix socket is not rate-limited: %s" % sock
        posts = [t.post_events(api.channel, [htlib.make_event("burst-%d" % i,
                                                              account=ACCOUNT)])
                 for i in range(5)]
        assert [r.status for r in posts] == [200] * 5, \
            "PutAuditEvents is not rate-limited: %r" % posts


# --------------------------------------------------------------------------- must-show 5

def test_cloudtrail_data_put_audit_events():
    c1 = cli(1)
    if c1 is None:
        htlib.log("SKIP: no aws CLI v1 (the only one with cloudtrail-data): %s" % _NOTES)
        return
    with htlib.Env("awscli-data") as env:
        api = htlib.ApiDaemon(env)
        spool = api.spool("my-bucket")
        aws(c1, api, "cloudtrail", "create-trail", "--name", "my-trail",
            "--s3-bucket-name", "my-bucket")
        aws(c1, api, "cloudtrail", "start-logging", "--name", "my-trail")
        t = int(time.time()) - 30
        events = []
        for i in range(3):
            data = htlib.event_data("cli-data-%d" % i, account=ACCOUNT,
                                    event_time=htlib.utc_now_str(t + i),
                                    eventName="CliDataEvent",
                                    eventSource="cli.hosttrail.example",
                                    userIdentity={"type": "User",
                                                  "principalId": "cli-user-%d" % i})
            # the last one with the optional checksum, as the CLI user would compute it
            events.append(htlib.make_event("cli-data-%d" % i, data=data,
                                           with_checksum=(i == 2)))
        r = c1.run(["cloudtrail-data", "put-audit-events", "--channel-arn", CHANNEL,
                    "--audit-events", json.dumps(events)], api.endpoint)
        assert r.rc == 0 and isinstance(r.json, dict), "%s put-audit-events: %r" % (
            c1.label, r)
        assert r.json.get("failed") == [], "put-audit-events failed: %r" % r.json
        ids = {}
        for s in r.json.get("successful", []):
            assert htlib.UUID4_RE.match(s.get("eventID", "")), "eventID %r" % s
            ids[s["id"]] = s["eventID"]
        assert sorted(ids) == sorted(e["id"] for e in events), "successful %r" % r.json
        model = htlib.LookupModel()
        model.add_reply(events, ids)

        # A per-event error comes back in "failed", as CloudTrail's: a wrong checksum.
        bad = htlib.make_event("cli-bad-sum", account=ACCOUNT)
        bad["eventDataChecksum"] = htlib.checksum("something else")
        r = c1.run(["cloudtrail-data", "put-audit-events", "--channel-arn", CHANNEL,
                    "--audit-events", json.dumps([bad])], api.endpoint)
        assert r.rc == 0 and r.json and r.json.get("successful") == [] and \
            [f.get("errorCode") for f in r.json.get("failed", [])] == ["InvalidChecksum"], \
            "put-audit-events with a wrong checksum: %r" % r
        # An unknown channel is a request-level error.
        c1.error(["cloudtrail-data", "put-audit-events", "--channel-arn",
                  htlib.channel_arn("no-such-channel", region=REGION),
                  "--audit-events", json.dumps(events[:1])], api.endpoint,
                 "ChannelNotFound", "PutAuditEvents")

        spool.wait_for_ids(ids.values(), DELIVERY_WAIT)
        htlib.assert_exactly_once(spool, ids.values(), "my-trail after put-audit-events")
        records = {rec["eventID"]: rec for rec in spool.records()}
        for rec in records.values():
            p = htlib.check_record(rec, region=REGION, account=ACCOUNT)
            assert not p, "record %s: %s" % (rec.get("eventID"), p)
            assert rec["metadata"]["channelARN"] == CHANNEL, rec["metadata"]

        for c in clis():
            out = aws(c, api, "cloudtrail", "lookup-events", "--lookup-attributes",
                      "AttributeKey=EventName,AttributeValue=CliDataEvent")
            htlib.compare_lookup(normalize_events(c, out.get("Events", [])),
                                 model.expected(key="EventName", value="CliDataEvent"),
                                 "%s lookup-events after cloudtrail-data" % c.label,
                                 records=records)
            eid = ids["cli-data-1"]
            out = aws(c, api, "cloudtrail", "lookup-events", "--lookup-attributes",
                      "AttributeKey=EventId,AttributeValue=%s" % eid)
            htlib.compare_lookup(normalize_events(c, out.get("Events", [])),
                                 model.expected(key="EventId", value=eid),
                                 "%s lookup-events EventId" % c.label, records=records)
            out = aws(c, api, "cloudtrail", "lookup-events", "--lookup-attributes",
                      "AttributeKey=Username,AttributeValue=cli-user-2")
            htlib.compare_lookup(normalize_events(c, out.get("Events", [])),
                                 model.expected(key="Username", value="cli-user-2"),
                                 "%s lookup-events Username" % c.label, records=records)


# --------------------------------------------------------------------------- must-show 6

BASIC = [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True,
          "DataResources": [{"Type": "Host::File", "Values": ["/etc/", "/root/.ssh/"]}],
          "ExcludeManagementEventSources": []},
         {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False,
          "DataResources": [{"Type": "Host::Process", "Values": ["/usr/bin/sudo"]}],
          "ExcludeManagementEventSources": []}]
ADVANCED = [{"Name": "management writes",
             "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                {"Field": "readOnly", "Equals": ["false"]}]},
            {"Name": "shadow reads",
             "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                {"Field": "resources.type", "Equals": ["Host::File"]},
                                {"Field": "resources.ARN", "StartsWith": ["/etc/shadow"]}]}]


def trail_state(c, api):
    """What must survive: describe-trails, each trail's selectors, logging state and times,
    tags, all as the CLI prints them."""
    s = {"describe": aws(c, api, "cloudtrail", "describe-trails")}
    for name in ("keep-logging", "keep-stopped"):
        s["selectors " + name] = aws(c, api, "cloudtrail", "get-event-selectors",
                                     "--trail-name", name)
        st = aws(c, api, "cloudtrail", "get-trail-status", "--name", name)
        s["status " + name] = {k: st.get(k) for k in (
            "IsLogging", "StartLoggingTime", "StopLoggingTime", "TimeLoggingStarted",
            "TimeLoggingStopped")}
    s["tags"] = aws(c, api, "cloudtrail", "list-tags", "--resource-id-list",
                    ARN % "keep-logging", ARN % "keep-stopped")
    return s


def check_delivery(api, tag, logging_spool, stopped_spool):
    """A write event (no readOnly) goes to keep-logging (WriteOnly management) and not to
    keep-stopped (not logging)."""
    ev = [htlib.make_event("%s-%d" % (tag, i), account=ACCOUNT) for i in range(3)]
    t_post = time.monotonic()
    ids = api.post(ev)
    logging_spool.wait_for_ids(ids.values(), DELIVERY_WAIT)
    time.sleep(max(0.0, QUIET - (time.monotonic() - t_post)))
    stopped_spool.scan()
    leaked = set(ids.values()) & set(stopped_spool.event_ids())
    assert not leaked, "%s: the stopped trail delivered %d events" % (tag, len(leaked))
    return ids


def persistence(c):
    with htlib.Env("awscli-persist-v%d" % c.major) as env:
        api = htlib.ApiDaemon(env, notify=True)
        sp_log, sp_stop = api.spool("my-bucket"), api.spool("other-bucket")
        aws(c, api, "cloudtrail", "create-trail", "--name", "keep-logging",
            "--s3-bucket-name", "my-bucket", "--tags-list", "Key=team,Value=sec")
        out = aws(c, api, "cloudtrail", "put-event-selectors", "--trail-name", "keep-logging",
                  "--event-selectors", json.dumps(BASIC))
        same(out, {"TrailARN": ARN % "keep-logging", "EventSelectors": BASIC},
             "%s put-event-selectors (basic)" % c.label)
        aws(c, api, "cloudtrail", "start-logging", "--name", "keep-logging")
        aws(c, api, "cloudtrail", "create-trail", "--name", "keep-stopped",
            "--s3-bucket-name", "other-bucket", "--is-multi-region-trail")
        out = aws(c, api, "cloudtrail", "put-event-selectors", "--trail-name", "keep-stopped",
                  "--advanced-event-selectors", json.dumps(ADVANCED))
        same(out, {"TrailARN": ARN % "keep-stopped", "AdvancedEventSelectors": ADVANCED},
             "%s put-event-selectors (advanced)" % c.label)
        aws(c, api, "cloudtrail", "start-logging", "--name", "keep-stopped")
        aws(c, api, "cloudtrail", "stop-logging", "--name", "keep-stopped")
        aws(c, api, "cloudtrail", "add-tags", "--resource-id", ARN % "keep-stopped",
            "--tags-list", "Key=owner,Value=ops", "Key=empty")

        before = trail_state(c, api)
        same(before["selectors keep-logging"],
             {"TrailARN": ARN % "keep-logging", "EventSelectors": BASIC},
             "get-event-selectors keep-logging")
        same(before["selectors keep-stopped"],
             {"TrailARN": ARN % "keep-stopped", "AdvancedEventSelectors": ADVANCED},
             "get-event-selectors keep-stopped")
        got = {t["Name"]: t for t in before["describe"]["trailList"]}
        same(got, {"keep-logging": trail_shape("keep-logging", full=True, custom=True),
                   "keep-stopped": trail_shape("keep-stopped", "other-bucket", multi=True,
                                               full=True, custom=True)},
             "%s describe-trails" % c.label)
        assert before["status keep-logging"]["IsLogging"] is True
        assert before["status keep-stopped"]["IsLogging"] is False
        assert before["status keep-stopped"]["StopLoggingTime"] is not None
        tags = {r["ResourceId"]: r["TagsList"] for r in before["tags"]["ResourceTagList"]}
        same(tags, {ARN % "keep-logging": [{"Key": "team", "Value": "sec"}],
                    ARN % "keep-stopped": [{"Key": "owner", "Value": "ops"},
                                           {"Key": "empty"}]}, "list-tags")
        assert os.path.exists(os.path.join(api.state_dir, "api-trails.json")), \
            "no api-trails.json in state_dir"
        check_delivery(api, "before", sp_log, sp_stop)

        api.restart()
        same(trail_state(c, api), before, "%s: after SIGTERM + start" % c.label)
        check_delivery(api, "restarted", sp_log, sp_stop)

        api.sighup()
        same(trail_state(c, api), before, "%s: after SIGHUP" % c.label)
        check_delivery(api, "reloaded", sp_log, sp_stop)
        htlib.assert_exactly_once(sp_log, set(sp_log.event_ids()), "keep-logging")
        assert sp_stop.count() == 0, "keep-stopped delivered %d records" % sp_stop.count()


# --------------------------------------------------------------------------- runner

def per_cli(fn, major, name):
    def t():
        c = cli(major)
        if c is None:
            htlib.log("SKIP: no aws CLI v%d: %s" % (major, "; ".join(_NOTES)))
            return
        fn(c)
    t.__name__ = name
    return t


def test_find_clis():
    found = clis()
    assert found, "no aws CLI at all: %s" % _NOTES
    htlib.log("CLIs: %s" % ", ".join(c.label for c in found))


def test_throttling():
    throttling()


if __name__ == "__main__":
    tests = [test_find_clis]
    for major in (1, 2):
        tests.append(per_cli(seed_cli_section, major, "test_seed_cli_section_v%d" % major))
        tests.append(per_cli(exception_names, major, "test_exception_names_v%d" % major))
    tests.append(test_throttling)
    tests.append(test_cloudtrail_data_put_audit_events)
    for major in (1, 2):
        tests.append(per_cli(persistence, major, "test_persistence_v%d" % major))
    htlib.run(tests)
