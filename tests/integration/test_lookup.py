#!/usr/bin/env python3
"""Issue 3, LookupEvents over the API socket and hosttrailctl lookup-events.

One daemon (started by the first test) gets a few hundred events through PutAuditEvents,
with varied eventName / eventSource / userIdentity and eventTimes spread over the last 80
days (some equal, one cluster of 30 in the same second), plus a few 91-400 days old or in
the future, outside the default window.  Every answer is compared with a
brute-force filter of what was posted (htlib.LookupModel), in newest-first order, and every
Event with what it must be: EventTime an epoch number, Username = userIdentity.userName, else
the last part of its arn, else principalId, CloudTrailEvent = the record the trail delivered.

  must-show 1 (API part): each attribute kind ingested events can carry, time windows,
                every page size 1-50 following NextToken;
  must-show 2: paging while a writer appends: the events of the window that existed at the
               first page, each exactly once, nothing appended later;
  must-show 3: every error with CloudTrail's exception name and HTTP 400;
  20,000 more events, so that the index has several run files and a tail: same answers;
  restart (SIGTERM, kill -9, index files deleted): the same answers, old NextTokens work;
  hosttrailctl lookup-events: table, json, csv, --all, errors.

HT_SEED=N repeats a run's random choices (the seed is printed)."""

import base64
import binascii
import csv
import glob
import io
import json
import os
import random
import time
import uuid

import htlib

N_EVENTS = 400
BATCH = 50
CLUSTER = 30                    # events sharing one eventTime, to page across ties
DAY = 86400

SEED = int(os.environ.get("HT_SEED", "0")) or random.randrange(1, 1 << 30)
RNG = random.Random(SEED)

NAMES = ["Login", "Logout", "OpenFile", "Exec", "Sudo", "CreateUser", "DeleteUser",
         "ChangePassword", "Get\"Thing\",Now", "Überprüfen", "ssh.connect", "Read"]
SOURCES = ["auth.hosttrail.example", "files.hosttrail.example", "proc.hosttrail.example",
           "custom.example.com"]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "root", "svc-backup", "jösé",
         "user with space", "AIDAEXAMPLE000001", "a,b", "x_y_z", "mallory", "trent", "peggy",
         "victor", "walter", "oscar", "sybil"]
IPS = ["192.0.2.7", "198.51.100.23", "203.0.113.9", "2001:db8::1", "localhost"]
BULK_NAMES = ["Bulk%d" % i for i in range(10)]
N_BULK = 20000
LIVE_NAME = "LiveAppend"        # the eventName of events posted while paging

S = {}                          # env, daemon, client, model, spool, records, t_now


def daemon():
    d = S.get("daemon")
    if d is None or not d.alive():
        raise AssertionError("the shared daemon is not running (an earlier test failed?)")
    return d


def client():
    return S["client"]


def new_event_data(marker, t, name=None, source=None, user=None):
    user = user or RNG.choice(USERS)
    ui = {"type": RNG.choice(["IAMUser", "AssumedRole", "Unknown"]), "principalId": user}
    if RNG.random() < 0.3:
        # details.userName is not userIdentity.userName: Username stays principalId.
        ui["details"] = {"userName": "details-" + user, "uid": RNG.randrange(1000, 2000)}
    extra = {}
    if RNG.random() < 0.15:
        extra["errorCode"] = RNG.choice(["AccessDenied", "NoSuchFile"])
        extra["errorMessage"] = "denied, \"really\""
    return htlib.event_data(marker, event_time=htlib.utc_now_str(t),
                            eventName=name or RNG.choice(NAMES),
                            eventSource=source or RNG.choice(SOURCES), userIdentity=ui,
                            sourceIPAddress=RNG.choice(IPS), **extra)


def event_times(now):
    """N_EVENTS eventTimes over the last 80 days: some repeated, one cluster."""
    times = []
    for i in range(N_EVENTS - CLUSTER):
        if times and RNG.random() < 0.1:
            times.append(RNG.choice(times))
        else:
            times.append(now - RNG.randrange(120, 80 * DAY))
    tc = now - RNG.randrange(10 * DAY, 70 * DAY)
    times += [tc] * CLUSTER
    RNG.shuffle(times)
    S["cluster_time"] = tc
    return times


def post_model(events):
    """Post one batch and add it to the model (callers post one batch at a time)."""
    rep = client().post_events("default", events)
    ids = htlib.check_ok_reply(rep, events)
    S["model"].add_reply(events, ids)
    return ids


def delivered_records(timeout=60):
    """{eventID: record} of the trail, waiting until every event of the model is there."""
    sp = S["spool"]
    sp.wait_for_ids([e["eid"] for e in S["model"].entries], timeout)
    S["records"] = {r["eventID"]: r for r in sp.records()}
    return S["records"]


def check(label, key=None, value=None, start=None, end=None, page_size=None,
          fields=True):
    """Walk a query to the end and compare with the model; checks the page sizes too."""
    params = htlib.lookup_params(key, value, start, end, page_size)
    got, sizes = htlib.lookup_walk(client(), params)
    want = S["model"].expected(key, value, start, end)
    htlib.compare_lookup(got, want, "%s %s" % (label, json.dumps(params, ensure_ascii=False)),
                         S.get("records"), check_fields=fields)
    ps = page_size or 50
    bad = [i for i, n in enumerate(sizes[:-1]) if n != ps]
    assert not bad and sizes[-1] <= ps, (
        "%s: pages of %s events with MaxResults %d (every page but the last must be full)"
        % (label, sizes[:20], ps))
    return got


def expect_400(rep, etype, what):
    assert rep.status == 400, "%s: want HTTP 400 %s, got %r" % (what, etype, rep)
    assert isinstance(rep.json, dict), "%s: 400 body is not a JSON object: %r" % (what, rep)
    assert rep.json.get("__type") == etype, "%s: __type %r, want %s (%r)" % (
        what, rep.json.get("__type"), etype, rep)
    msg = rep.json.get("message")
    assert isinstance(msg, str) and msg, "%s: no message in %r" % (what, rep)


def still_serving(what):
    rep = client().lookup_events(MaxResults=1)
    assert rep.status == 200 and len(rep.json.get("Events", [])) == 1, (
        "after %s: a plain LookupEvents gives %r" % (what, rep))
    assert daemon().alive(), "after %s the daemon exited" % what


# --------------------------------------------------------------------------- tests

def test_start_and_post():
    htlib.log("seed %d (HT_SEED=%d repeats this run)" % (SEED, SEED))
    env = htlib.Env("lookup").__enter__()
    S["env"] = env
    doc = htlib.config_doc(env.root, trails=[htlib.trail("trail-1", "spool-1", interval="1s")])
    d = env.daemon(env.write_config(doc)).start()
    S["daemon"], S["client"] = d, d.client(timeout=60)
    S["model"] = htlib.LookupModel()
    S["spool"] = env.spool("spool-1")
    now = int(time.time())
    times = event_times(now)
    events = [htlib.make_event("lk-%04d" % i, data=new_event_data("lk-%04d" % i, t))
              for i, t in enumerate(times)]
    t0 = time.monotonic()
    for i in range(0, len(events), BATCH):
        post_model(events[i:i + BATCH])
    htlib.log("posted %d events in %.2fs" % (len(events), time.monotonic() - t0))
    # Outside the default window (the last 90 days up to now), in history all the same.
    outside = [htlib.make_event("lk-out-%d" % i, data=new_event_data("lk-out-%d" % i, t))
               for i, t in enumerate((now - 91 * DAY, now - 100 * DAY, now - 400 * DAY,
                                      now + 3600, now + 2 * DAY))]
    S["outside"] = post_model(outside).values()
    delivered_records()


def test_unfiltered_and_time_windows():
    m = S["model"]
    times = sorted(e["time"] for e in m.entries)
    check("default window, default MaxResults")
    check("default window, MaxResults 1", page_size=1, fields=False)
    mid = times[len(times) // 2]
    check("StartTime only (an event's time: inclusive)", start=mid, page_size=50)
    check("EndTime only (an event's time: inclusive)", end=mid, page_size=33)
    for i in range(8):
        a, b = sorted(RNG.sample(times, 2))
        check("window %d [event time, event time]" % i, start=a, end=b,
              page_size=RNG.randint(1, 50))
    tc = S["cluster_time"]
    got = check("the cluster: StartTime = EndTime", start=tc, end=tc, page_size=7)
    assert len(got) >= CLUSTER, "cluster window gave %d events, want >= %d" % (len(got),
                                                                                CLUSTER)
    check("window just after the cluster's second", start=tc + 1, end=tc + 3 * DAY,
          page_size=9)
    check("window just before the cluster's second", start=tc - 3 * DAY, end=tc - 1,
          page_size=9)
    got = check("a window before every event", start=times[0] - 5 * DAY, end=times[0] - 1)
    assert got == [], "window before every event: %d events" % len(got)
    now = int(time.time())
    got = check("StartTime 200 days ago, EndTime now", start=now - 200 * DAY, end=now,
                page_size=50)
    got = check("StartTime 500 days ago, EndTime in 5 days", start=now - 500 * DAY,
                end=now + 5 * DAY, page_size=50)
    assert set(S["outside"]) <= {e["EventId"] for e in got}, \
        "events 91-400 days old or in the future are missing from a window that covers them"
    got = check("default window (no StartTime, no EndTime)")
    assert not set(S["outside"]) & {e["EventId"] for e in got}, \
        "the default window (the last 90 days up to now) shows events older or in the future"
    check("EndTime only, in 5 days (StartTime: 90 days before now)", end=now + 5 * DAY)
    check("StartTime only, 500 days ago (EndTime: now)", start=now - 500 * DAY)
    rep = client().lookup_events(StartTime=times[0] - 300 * DAY, EndTime=times[0] - 200 * DAY)
    assert rep.status == 200 and rep.json.get("Events") == [] and "NextToken" not in rep.json, \
        "a window 200-300 days back: want 200 {\"Events\":[]}, got %r" % rep


def test_each_attribute_kind():
    m = S["model"]
    now = int(time.time())
    users = sorted({htlib.lookup_username(e["data"]["userIdentity"]) for e in m.entries})
    eids = [e["eid"] for e in RNG.sample(m.entries, 40)]
    queries = ([("EventName", v) for v in NAMES + ["NoSuchEvent"]]
               + [("EventSource", v) for v in SOURCES + ["none.example"]]
               + [("Username", v) for v in users + ["nobody", "details-alice"]]
               + [("EventId", v) for v in eids + [str(uuid.uuid4())]])
    n = 0
    for key, value in queries:
        got = check("%s=%s" % (key, value), key, value, page_size=RNG.randint(1, 50))
        n += len(got)
        a, b = sorted(RNG.randrange(now - 85 * DAY, now) for _ in range(2))
        check("%s=%s in a window" % (key, value), key, value, a, b,
              page_size=RNG.choice([None, RNG.randint(1, 50)]))
    assert n >= 2 * N_EVENTS, "the attribute lookups found only %d events in all" % n
    # Ingested events carry no ReadOnly, AccessKeyId or resources: 200 with no events.
    for key, value in (("ReadOnly", "true"), ("ReadOnly", "false"),
                       ("AccessKeyId", "AKIAIOSFODNN7EXAMPLE"), ("AccessKeyId", "alice"),
                       ("ResourceType", "AWS::S3::Bucket"),
                       ("ResourceName", "arn:aws:s3:::bucket"), ("ResourceName", "alice")):
        rep = client().lookup_events(htlib.lookup_params(key, value))
        assert rep.status == 200 and rep.json == {"Events": []}, (
            "%s=%s: no ingested event has one; want 200 {\"Events\": []}, got %r"
            % (key, value, rep))


def test_every_page_size():
    """MaxResults 1..50 over the default window: every event exactly once, in order."""
    total = len(S["model"].expected())
    assert total >= N_EVENTS
    for ps in range(1, 51):
        got = check("MaxResults %d" % ps, page_size=ps, fields=(ps % 10 == 3))
        assert len(got) == total, "MaxResults %d: %d events, want %d" % (ps, len(got), total)


def live_batch(name, seq):
    now = int(time.time())
    return [htlib.make_event("live-%s-%04d-%02d" % (name, seq, i),
                             data=new_event_data("live-%s-%04d-%02d" % (name, seq, i), now,
                                                 name=LIVE_NAME))
            for i in range(5)]


def page_while_posting(label, key=None, value=None, end=None, page_size=7):
    m = S["model"]
    before = {e["eid"] for e in m.expected(key, value, None, end)}
    poster = htlib.Poster(daemon().socket_path, live_batch,
                          name="".join(ch if ch.isalnum() else "-" for ch in label)[:40],
                          pause=0.01)
    poster.start()
    deadline = time.monotonic() + 30
    while len(poster.acked) < 3 and time.monotonic() < deadline and not poster.bad:
        time.sleep(0.01)
    if len(poster.acked) < 3:
        htlib.stop_posters([poster])
        raise AssertionError("the poster got no acks: %s" % [
            x[-1][:300] for x in (poster.bad + poster.unanswered)[:2]])
    first = {}

    def on_page(n, rep):
        if n == 0:
            first["reply"] = time.monotonic()
            first["acked_during"] = len(poster.acked)
        time.sleep(0.01)            # let the writer append between pages

    first["send"] = time.monotonic()
    try:
        got, sizes = htlib.lookup_walk(client(), htlib.lookup_params(key, value, None, end,
                                                                     page_size),
                                       on_page=on_page)
    finally:
        htlib.stop_posters([poster])
    assert not poster.bad and not poster.unanswered, (
        "posting failed while paging: %s" % [x[-1][:300] for x in
                                             (poster.bad + poster.unanswered)[:2]])
    pages_acked = len(poster.acked) - first["acked_during"]
    must, allowed = set(before), set(before)
    for t0, t1, ids, events in poster.acked:
        for ev in events:
            d = json.loads(ev["eventData"])
            match = key is None or (key == "EventName" and d["eventName"] == value)
            if not match:
                continue
            if t1 < first["send"]:
                must.add(ids[ev["id"]])
            if t0 < first["reply"]:
                allowed.add(ids[ev["id"]])
    for t0, t1, ids, events in poster.acked:
        m.add_reply(events, ids)
    gids = [e.get("EventId") for e in got]
    dups = sorted({g for g in gids if gids.count(g) > 1})
    missing = must - set(gids)
    late = set(gids) - allowed
    htlib.log("%s: %d pages, %d events; %d events posted meanwhile (%d requests acked after "
              "the first page)" % (label, len(sizes), len(gids),
                                   sum(len(a[3]) for a in poster.acked), pages_acked))
    assert pages_acked > 0, "%s: no event was appended while paging; the test proves nothing" \
        % label
    assert not dups, "%s: %d events twice across pages, e.g. %s" % (label, len(dups), dups[:3])
    assert not missing, "%s: %d events of the window that existed at the first page are " \
        "missing, e.g. %s" % (label, len(missing), sorted(missing)[:3])
    assert not late, "%s: %d events appended after the first page were included, e.g. %s" % (
        label, len(late), sorted(late)[:3])
    # The order too: the model's answer restricted to what was returned.
    want = [e for e in m.expected(key, value, None, end) if e["eid"] in set(gids)]
    htlib.compare_lookup(got, want, label, S.get("records"), check_fields=False)


def test_pagination_while_posting():
    page_while_posting("default window, MaxResults 7")
    page_while_posting("EventName=%s, EndTime tomorrow, MaxResults 9" % LIVE_NAME,
                       "EventName", LIVE_NAME, end=int(time.time()) + DAY, page_size=9)
    delivered_records()
    check("after the live appends, MaxResults 50", page_size=50)


def test_errors():
    c = client()
    now = int(time.time())
    attr = htlib.lookup_params
    cases = [
        ("two lookup attributes", {"LookupAttributes": [
            {"AttributeKey": "EventName", "AttributeValue": "Login"},
            {"AttributeKey": "Username", "AttributeValue": "alice"}]},
         "InvalidLookupAttributesException"),
        ("unknown AttributeKey", attr("UserName", "alice"), "InvalidLookupAttributesException"),
        ("AttributeKey in the wrong case", attr("eventname", "Login"),
         "InvalidLookupAttributesException"),
        ("empty AttributeValue", attr("EventName", ""), "InvalidLookupAttributesException"),
        ("AttributeValue of 2001 characters", attr("EventName", "a" * 2001),
         "InvalidLookupAttributesException"),
        ("AttributeValue of 1001 '_' (each counts twice)", attr("EventName", "_" * 1001),
         "InvalidLookupAttributesException"),
        ("StartTime after EndTime", {"StartTime": now - 10, "EndTime": now - 20},
         "InvalidTimeRangeException"),
        ("StartTime in the future (after the default EndTime, now)",
         {"StartTime": now + 3600}, "InvalidTimeRangeException"),
        ("MaxResults 0", {"MaxResults": 0}, "InvalidMaxResultsException"),
        ("MaxResults 51", {"MaxResults": 51}, "InvalidMaxResultsException"),
        ("MaxResults -1", {"MaxResults": -1}, "InvalidMaxResultsException"),
        ("EventCategory foo", {"EventCategory": "foo"}, "InvalidEventCategoryException"),
        ("EventCategory Insight (case)", {"EventCategory": "Insight"},
         "InvalidEventCategoryException"),
        ("StartTime as a string", {"StartTime": "yesterday"}, "SerializationException"),
    ]
    for what, params, etype in cases:
        expect_400(c.lookup_events(params), etype, what)
    # Values at the limit are fine (and find nothing).
    for what, v in (("2000 characters", "a" * 2000), ("1000 '_'", "_" * 1000)):
        rep = c.lookup_events(attr("EventName", v))
        assert rep.status == 200 and rep.json == {"Events": []}, (
            "AttributeValue of %s: want 200 {\"Events\": []}, got %r" % (what, rep))
    rep = c.lookup_events(EventCategory="insight")
    assert rep.status == 200 and rep.json.get("Events") == [] and "NextToken" not in rep.json, (
        "EventCategory insight: want 200 with an empty Events list, got %r" % rep)
    check_tokens(c)
    for what, body in (("not JSON", b"{\"MaxResults\": "), ("garbage", b"\x00\xffnot json"),
                       ("a JSON list", b"[]"), ("a JSON string", b"\"LookupEvents\""),
                       ("trailing garbage", b"{} {}")):
        expect_400(c.call("LookupEvents", raw_body=body), "SerializationException", what)
    for what, target in (("unknown operation", htlib.CT_TARGET_PREFIX + "NoSuchOperation"),
                         ("operation of another service",
                          "com.amazonaws.cloudtraildata.v20210811.PutAuditEvents"),
                         ("lowercase operation name", htlib.CT_TARGET_PREFIX + "lookupEvents")):
        expect_400(c.call(None, {}, target=target), "UnknownOperationException", what)
    still_serving("every error")


def check_tokens(c):
    name = max(NAMES, key=lambda n: len(S["model"].expected("EventName", n)))
    p = htlib.lookup_params("EventName", name, page_size=2)
    rep = c.lookup_events(p)
    tok = rep.json.get("NextToken") if rep.status == 200 else None
    assert isinstance(tok, str) and tok, "EventName=%s MaxResults 2: no NextToken: %r" % (
        name, rep)
    rep = c.lookup_events(dict(p, NextToken=tok))
    assert rep.status == 200, "the token with the same parameters: %r" % rep
    other = [n for n in NAMES if n != name][0]
    try:
        raw = base64.b64decode(tok, validate=True)
    except (binascii.Error, ValueError):
        raw = None                  # not standard base64: skip the bit-flip case
    forged = [("random base64", base64.b64encode(os.urandom(84)).decode()),
              ("garbage", "not-a-token!"), ("empty", ""),
              ("one character changed", tok[:10] + ("A" if tok[10] != "A" else "B") + tok[11:]),
              ("truncated", tok[:-4]), ("doubled", tok + tok)]
    if raw:
        flipped = bytearray(raw)
        flipped[len(flipped) // 3] ^= 0x01
        forged.append(("a bit flipped in the body", base64.b64encode(bytes(flipped)).decode()))
    for what, t in forged:
        expect_400(c.lookup_events(dict(p, NextToken=t)), "InvalidNextTokenException",
                   "forged NextToken (%s)" % what)
    reused = [("another AttributeValue", htlib.lookup_params("EventName", other, page_size=2)),
              ("no attribute", {"MaxResults": 2}),
              ("another AttributeKey, same value", htlib.lookup_params("EventSource", name,
                                                                       page_size=2)),
              ("a StartTime added", dict(p, StartTime=int(time.time()) - 30 * DAY)),
              ("an EndTime added", dict(p, EndTime=int(time.time())))]
    for what, params in reused:
        expect_400(c.lookup_events(dict(params, NextToken=tok)), "InvalidNextTokenException",
                   "NextToken reused with different parameters (%s)" % what)


def test_many_events_across_index_runs():
    """20,000 more events: more than one index run (the in-memory tail is written out every
    8192 records) plus a tail; answers still equal the brute force."""
    now = int(time.time())
    t0 = time.monotonic()
    for b in range(N_BULK // 100):
        evs = []
        for i in range(100):
            mk = "bulk-%03d-%02d" % (b, i)
            evs.append(htlib.make_event(mk, data=new_event_data(
                mk, now - RNG.randrange(60, 85 * DAY), name=RNG.choice(BULK_NAMES))))
        post_model(evs)
    htlib.log("posted %d events in %.2fs" % (N_BULK, time.monotonic() - t0))
    deadline = time.monotonic() + 20
    runs = []
    while time.monotonic() < deadline:
        runs = glob.glob(os.path.join(S["env"].root, "state", "**", "*.run"), recursive=True)
        if len(runs) >= 2:
            break
        time.sleep(0.1)
    htlib.log("%d index run files: %s" % (len(runs), sorted(os.path.basename(r)
                                                            for r in runs)[:6]))
    delivered_records()
    check("everything, MaxResults 50", page_size=50)
    for n in BULK_NAMES + NAMES[:3]:
        check("EventName=%s" % n, "EventName", n, page_size=RNG.randint(1, 50))
    for u in RNG.sample(USERS, 5):
        check("Username=%s" % u, "Username", u, page_size=50,
              start=now - RNG.randrange(30, 60) * DAY)
    for e in RNG.sample(S["model"].entries, 20):
        check("EventId=%s" % e["eid"], "EventId", e["eid"])
    for i in range(10):
        a, b = sorted(RNG.randrange(now - 86 * DAY, now) for _ in range(2))
        check("window %d" % i, start=a, end=b, page_size=RNG.randint(1, 50), fields=False)


QUERIES = None


def answers():
    """A fixed set of queries and their full answers (lists of EventIds)."""
    global QUERIES
    m = S["model"]
    if QUERIES is None:
        now = int(time.time())
        times = sorted(e["time"] for e in m.entries)
        QUERIES = [htlib.lookup_params(page_size=50),
                   htlib.lookup_params(page_size=13, start=times[50], end=times[300]),
                   htlib.lookup_params("EventName", LIVE_NAME, page_size=50),
                   htlib.lookup_params("EventId", RNG.choice(m.entries)["eid"]),
                   htlib.lookup_params("EventSource", SOURCES[1], page_size=7,
                                       start=now - 40 * DAY)]
        QUERIES += [htlib.lookup_params("EventName", n, page_size=11) for n in NAMES[:4]]
        QUERIES += [htlib.lookup_params("Username", u, page_size=17) for u in USERS[:4]]
    out = []
    for q in QUERIES:
        got, _sizes = htlib.lookup_walk(client(), q)
        k = q.get("LookupAttributes", [{}])[0]
        want = m.expected(k.get("AttributeKey"), k.get("AttributeValue"), q.get("StartTime"),
                          q.get("EndTime"))
        htlib.compare_lookup(got, want, "query %s" % q, S.get("records"))
        out.append([e["EventId"] for e in got])
    return out


def restart(how):
    d = daemon()
    if how == "SIGTERM":
        rc = d.stop()
        assert rc == 0, "SIGTERM: exit status %s, want 0" % rc
    else:
        d.kill9()
        if how == "kill -9, index files deleted":
            runs = glob.glob(os.path.join(S["env"].root, "state", "**", "*.run"),
                             recursive=True)
            htlib.log("deleting %d index run files" % len(runs))
            for f in runs:
                os.unlink(f)
    S["client"].close()
    t0 = time.monotonic()
    d.start()
    htlib.log("%s: restarted in %.2fs" % (how, time.monotonic() - t0))


def test_restart_same_answers():
    before = answers()
    p = htlib.lookup_params(page_size=10)
    rep = client().lookup_events(p)
    assert rep.status == 200 and rep.json.get("NextToken"), rep
    first, tok = rep.json["Events"], rep.json["NextToken"]
    for how in ("SIGTERM", "kill -9", "kill -9, index files deleted"):
        restart(how)
        after = answers()
        diff = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
        assert not diff, "%s: query %s answers differently after the restart" % (
            how, QUERIES[diff[0]])
        # A NextToken from before the restart continues where it stopped.
        rest, _sizes = htlib.lookup_walk(client(), dict(p, NextToken=tok))
        htlib.compare_lookup(first + rest, S["model"].expected(),
                             "%s: pages from a NextToken issued before the restart" % how,
                             check_fields=False)


# --------------------------------------------------------------------------- hosttrailctl

def ctl(*args, rc=0, **kw):
    r = htlib.run_ctl(daemon().socket_path, *args, **kw)
    assert r.returncode == rc, "hosttrailctl %s: exit %d, want %d; stderr %r" % (
        " ".join(map(str, args)), r.returncode, rc, r.stderr[-2000:])
    return r


def csv_rows(text):
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = ["Event ID", "Event time", "User name", "Event name", "Resource type",
              "Resource name", "Event source", "AWS access key", "Source IP address",
              "Error code", "Read-only", "AWS region"]
    assert rows and rows[0] == header, "csv header %r, want %r" % (rows[:1], header)
    return rows[1:]


def check_csv(rows, want, label):
    ids = [r[0] for r in rows]
    assert ids == [e["eid"] for e in want], "%s: %d rows, want %d (the events of the model in " \
        "order); first difference at %s" % (label, len(ids), len(want), next(
            (i for i, (a, b) in enumerate(zip(ids, [e["eid"] for e in want])) if a != b),
            min(len(ids), len(want))))
    for r, e in zip(rows, want):
        d = e["data"]
        exp = [e["eid"], d["eventTime"], htlib.lookup_username(d["userIdentity"]),
               d["eventName"], "", "", d["eventSource"], "", d["sourceIPAddress"],
               d.get("errorCode", ""), "", htlib.REGION]
        assert r == exp, "%s: row %r, want %r" % (label, r, exp)


def test_hosttrailctl_lookup_events():
    m = S["model"]
    allw = m.expected()
    # csv --all: the header and one row per event, every field from the event.
    r = ctl("lookup-events", "--all", "--output", "csv")
    assert "\r\n" in r.stdout or not allw, "csv rows do not end in CRLF (RFC 4180)"
    check_csv(csv_rows(r.stdout), allw, "csv --all")
    # json --all: one object, every event once, the API's Event shape.
    r = ctl("lookup-events", "--all", "--output", "json", "--max-results", "17")
    doc = json.loads(r.stdout)
    assert list(doc) == ["Events"], "json --all: members %s, want only Events" % list(doc)
    htlib.compare_lookup(doc["Events"], allw, "json --all", S.get("records"))
    # json, one page: the API's reply, with its NextToken; --next-token goes on.
    r = ctl("lookup-events", "--output", "json")
    doc = json.loads(r.stdout)
    rep = client().lookup_events()
    assert doc["Events"] == rep.json["Events"], "json: not the API's first page"
    assert isinstance(doc.get("NextToken"), str), "json: no NextToken with %d events" % len(allw)
    r = ctl("lookup-events", "--output", "json", "--next-token", doc["NextToken"])
    doc2 = json.loads(r.stdout)
    htlib.compare_lookup(doc["Events"] + doc2["Events"], allw[:len(doc["Events"]) +
                                                              len(doc2["Events"])],
                         "json page 1 + --next-token page 2", check_fields=False)
    # table: header, one line per event ending in its Event ID, NextToken on stderr.
    r = ctl("lookup-events")
    lines = r.stdout.splitlines()
    assert lines and lines[0].split() == ["Time", "Event", "name", "Source", "User",
                                          "Resource", "Event", "ID"], "table header %r" % (
        lines[:1],)
    assert [ln.split()[-1] for ln in lines[1:]] == [e["eid"] for e in allw[:50]], \
        "table: the rows are not the first 50 events' IDs in order"
    assert [ln.split()[0] for ln in lines[1:]] == [e["data"]["eventTime"] for e in allw[:50]], \
        "table: the Time column is not the events' eventTime"
    assert r.stderr.startswith("NextToken: "), "table: stderr %r, want NextToken" % r.stderr
    r = ctl("lookup-events", "--all", "--max-results", "50")
    assert len(r.stdout.splitlines()) == len(allw) + 1 and r.stderr == "", \
        "table --all: %d lines for %d events; stderr %r" % (len(r.stdout.splitlines()),
                                                          len(allw), r.stderr[:200])
    ctl_filters(m)
    ctl_errors()


def ctl_filters(m):
    times = sorted(e["time"] for e in m.entries)
    a, b = times[40], times[200]
    cases = [
        (["--lookup-attributes", "AttributeKey=EventName,AttributeValue=Get\"Thing\",Now"],
         m.expected("EventName", "Get\"Thing\",Now")),
        (["--lookup-attributes", "AttributeKey=Username,AttributeValue=user with space"],
         m.expected("Username", "user with space")),
        (["--start-time", htlib.utc_now_str(a), "--end-time", str(b)], m.expected(None, None,
                                                                                  a, b)),
        (["--start-time", htlib.utc_now_str(a)[:-1], "--end-time",
          htlib.utc_now_str(b)[:-1]], m.expected(None, None, a, b)),
        (["--start-time", htlib.utc_now_str(a)[:10]], m.expected(None, None, a // DAY * DAY)),
        (["--end-time", htlib.utc_now_str(b)[:10]], m.expected(None, None, None,
                                                               b // DAY * DAY)),
    ]
    for args, want in cases:
        r = ctl("lookup-events", "--all", "--output", "csv", "--max-results", "23", *args)
        check_csv(csv_rows(r.stdout), want, "csv --all %s" % args)


def ctl_errors():
    for args, etype in ((["--max-results", "51"], "InvalidMaxResultsException"),
                        (["--start-time", "2026-01-02", "--end-time", "2026-01-01"],
                         "InvalidTimeRangeException"),
                        (["--lookup-attributes", "AttributeKey=Nope,AttributeValue=x"],
                         "InvalidLookupAttributesException"),
                        (["--next-token", "forged"], "InvalidNextTokenException"),
                        (["--event-category", "foo"], "InvalidEventCategoryException")):
        r = ctl("lookup-events", *args, rc=1)
        assert r.stderr.startswith("hosttrailctl: %s: " % etype), \
            "hosttrailctl lookup-events %s: stderr %r, want \"hosttrailctl: %s: ...\"" % (
                args, r.stderr, etype)
    for args in (["--output", "xml"], ["--start-time", "yesterday"], ["--max-results", "x"],
                 ["--lookup-attributes", "EventName=x"], ["stray"]):
        ctl("lookup-events", *args, rc=2)
    r = htlib.run_ctl(S["env"].path("no-such.sock"), "lookup-events")
    assert r.returncode == 2, "no daemon: exit %d, want 2 (%r)" % (r.returncode, r.stderr)
    still_serving("hosttrailctl's errors")


def test_stop():
    d = daemon()
    rc = d.stop()
    assert rc == 0, "SIGTERM: exit status %s, want 0" % rc
    bad = [ln for ln in d.log_text().splitlines()
           if "AddressSanitizer" in ln or "runtime error" in ln]
    assert not bad, "sanitizer reports in the daemon's log: %s" % bad[:3]


def teardown(failed):
    if "env" in S:
        S["env"].__exit__(AssertionError if failed else None, None, None)


if __name__ == "__main__":
    htlib.run([test_start_and_post, test_unfiltered_and_time_windows, test_each_attribute_kind,
               test_every_page_size, test_pagination_while_posting, test_errors,
               test_many_events_across_index_runs, test_restart_same_answers, test_hosttrailctl_lookup_events, test_stop],
              teardown=teardown, shared=True)
