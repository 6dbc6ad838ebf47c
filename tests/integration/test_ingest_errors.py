#!/usr/bin/env python3
"""Issue 2, must-show 4 (ingest part): bad PutAuditEvents input gets HTTP 400 with an
AWS-style error body {"__type", "message"} or a per-event failure with the documented
errorCode, good events in the same request are still accepted, and the daemon keeps serving
(also after garbage bytes and a request whose body never arrives).  At the end every event
that was acknowledged is delivered exactly once and no rejected event is delivered.

All tests share one daemon (started by the first test); they run in order."""

import base64
import hashlib
import json
import threading
import time

import htlib
from htlib import ACCOUNT, REGION

S = {}          # shared state: env, daemon, client, acked {eventID: marker}, rejected markers


def env_daemon():
    if not S.get("daemon") or not S["daemon"].alive():
        raise AssertionError("the shared daemon is not running (an earlier test killed it?)")
    return S["daemon"]


def post(events, channel="default", **kw):
    return S["client"].post_events(channel, events, **kw)


def expect_400(rep, types, what):
    """HTTP 400 with a JSON body whose __type is one of types and a non-empty message."""
    types = (types,) if isinstance(types, str) else tuple(types)
    assert rep.status == 400, "%s: want HTTP 400 %s, got %r" % (what, "/".join(types), rep)
    assert isinstance(rep.json, dict), "%s: 400 body is not a JSON object: %r" % (what, rep)
    t = rep.json.get("__type")
    assert t in types, "%s: __type %r, want %s (%r)" % (what, t, " or ".join(types), rep)
    msg = rep.json.get("message", rep.json.get("Message"))
    assert isinstance(msg, str) and msg, "%s: no message in %r" % (what, rep)
    # The daemon must still answer on this connection or a new one.
    return rep


def marker_of(e):
    try:
        return json.loads(e["eventData"])["requestParameters"]["marker"]
    except (ValueError, KeyError, TypeError):
        return e.get("id")


def record_ok(rep, events):
    ids = htlib.check_ok_reply(rep, events)
    for e in events:
        S["acked"][ids[e["id"]]] = marker_of(e)
    return ids


def outcome(rep, events, what):
    """200 reply -> ({id: eventID}, {id: (errorCode, errorMessage)}); every id exactly once."""
    assert rep.status == 200 and isinstance(rep.json, dict), "%s: want 200, got %r" % (what, rep)
    succ, failed = rep.json.get("successful"), rep.json.get("failed")
    assert isinstance(succ, list) and isinstance(failed, list), "%s: %r" % (what, rep)
    ok = {s["id"]: s["eventID"] for s in succ}
    bad = {f["id"]: (f.get("errorCode"), f.get("errorMessage")) for f in failed}
    assert len(ok) == len(succ) and len(bad) == len(failed), "%s: repeated ids in %r" % (what, rep)
    assert not set(ok) & set(bad), "%s: ids both successful and failed: %r" % (what, rep)
    want = {e["id"] for e in events}
    assert set(ok) | set(bad) == want, (
        "%s: reply does not account for every event: missing %s, unknown %s"
        % (what, want - set(ok) - set(bad), (set(ok) | set(bad)) - want))
    by_id = {e["id"]: e for e in events}
    for i, eid in ok.items():
        assert htlib.UUID4_RE.match(eid or ""), "%s: eventID %r" % (what, eid)
        S["acked"][eid] = marker_of(by_id[i])
    for i, (code, msg) in bad.items():
        assert isinstance(msg, str) and msg, "%s: failed %s has no errorMessage" % (what, i)
        S["rejected"].add(marker_of(by_id[i]))
    return ok, bad


def still_serving(what):
    ev = [htlib.make_event("alive-%d-%d" % (len(S["acked"]), i)) for i in range(2)]
    c = htlib.Client(env_daemon().socket_path, timeout=30)
    try:
        rep = c.post_events("default", ev)
    finally:
        c.close()
    try:
        record_ok(rep, ev)
    except AssertionError as e:
        raise AssertionError("after %s the daemon no longer accepts a good post: %s" % (what, e))


# --------------------------------------------------------------------------- tests

def test_start():
    env = htlib.Env("errors")
    S["env"] = env
    S["acked"] = {}
    S["rejected"] = set()
    doc = htlib.config_doc(env.root, trails=[htlib.trail("trail-1", "spool-1", interval="1s")])
    try:
        S["daemon"] = env.daemon(env.write_config(doc)).start()
    except BaseException:
        S["daemon"] = None
        raise
    S["client"] = S["daemon"].client()
    ev = [htlib.make_event("first-%d" % i) for i in range(3)]
    record_ok(post(ev), ev)
    ev = [htlib.make_event("nochk-%d" % i, with_checksum=False) for i in range(2)]
    record_ok(post(ev), ev)           # the checksum is optional


def test_invalid_json():
    cases = [
        (b"{", ("SerializationException", "ValidationException")),
        (b"not json at all", ("SerializationException", "ValidationException")),
        (b'{"auditEvents":[{"id":"a","eventData":"{}"}', ("SerializationException",
                                                         "ValidationException")),
        (b"\xff\xfe\x00garbage", ("SerializationException", "ValidationException")),
        (b"", ("SerializationException", "ValidationException")),
        (b"[]", ("SerializationException", "ValidationException")),
        (b"{}", ("ValidationException", "SerializationException")),
        (b'{"auditEvents":{}}', ("ValidationException", "SerializationException")),
        (b'{"auditEvents":"x"}', ("ValidationException", "SerializationException")),
        (b'{"auditEvents":[]}', ("ValidationException",)),
    ]
    for body, types in cases:
        rep = post([], raw_body=body)
        expect_400(rep, types, "body %r" % body[:60])
    # Malformed AuditEvent members: AWS refuses the request (ValidationException); refusing
    # just the event (200, failed) is accepted too.
    good = htlib.make_event("shape-ok")
    for ev in ([1, 2], [{"eventData": good["eventData"]}], [{"id": "shape-a"}],
               [{"id": "shape-b", "eventData": json.loads(good["eventData"])}],
               [{"id": "has space", "eventData": good["eventData"]}],
               [{"id": "a" * 129, "eventData": good["eventData"]}],
               [{"id": "", "eventData": good["eventData"]}]):
        rep = post([], raw_body=json.dumps({"auditEvents": ev}).encode())
        evs = [e if isinstance(e, dict) and "id" in e else {"id": None} for e in ev]
        if rep.status == 400:
            expect_400(rep, ("ValidationException", "SerializationException"),
                       "auditEvents %r" % (json.dumps(ev)[:80],))
        else:
            assert rep.status == 200 and isinstance(rep.json, dict), rep
            assert not rep.json.get("successful"), (
                "auditEvents %r: a malformed event was accepted: %r" % (json.dumps(ev)[:80], rep))
            assert len(rep.json.get("failed", [])) == len(evs), rep
    still_serving("invalid JSON bodies")


def test_oversize_request_is_400_not_413():
    # 10 events of ~110 KB each: every event is under 256 KB, the request is over 1 MB.
    big = "x" * (110 * 1024)
    events = [htlib.make_event("big-%d" % i, requestParameters={"marker": "big-%d" % i,
                                                                 "pad": big})
              for i in range(10)]
    body = json.dumps({"auditEvents": events}).encode()
    assert len(body) > 1024 * 1024
    path = "/PutAuditEvents?channelArn=" + htlib.channel_arn("default")
    raw = htlib.raw_exchange(S["daemon"].socket_path, htlib.http_request_bytes(path, body),
                             read_timeout=30)
    r = htlib.parse_http_response(raw)
    assert r is not None, "over-size request (%d bytes): no complete HTTP response, got %r" % (
        len(body), raw[:300])
    status, _h, rbody = r
    rep = htlib.Reply(status, _h, rbody, 0)
    expect_400(rep, "ValidationException", "request of %d bytes" % len(body))
    for e in events:
        S["rejected"].add(e["id"])
    still_serving("an over-size request")
    # Through http.client too (the whole body is sent before the reply is read).
    try:
        rep = post(events)
    except OSError:
        rep = None                 # the daemon may hang up after its 400; that is fine
        S["client"].close()
    if rep is not None:
        expect_400(rep, "ValidationException", "request of %d bytes (http.client)" % len(body))
    still_serving("a second over-size request")


def test_oversize_event_field_too_long():
    pad = "y" * (256 * 1024 + 1000)
    bigev = htlib.make_event("toolong-1", requestParameters={"marker": "toolong-1", "p": pad})
    assert len(bigev["eventData"]) > 256 * 1024
    good = htlib.make_event("toolong-good")
    events = [good, bigev]
    ok, bad = outcome(post(events), events, "an event over 256 KB")
    assert "toolong-good" in ok, "the good event was not accepted: %r" % bad
    assert bad.get("toolong-1", (None,))[0] == "FieldTooLong", (
        "eventData of %d bytes: want FieldTooLong, got %r" % (len(bigev["eventData"]),
                                                              bad.get("toolong-1")))


REQUIRED = ["version", "userIdentity", "userIdentity.type", "userIdentity.principalId",
            "eventSource", "eventName", "eventTime", "UID", "recipientAccountId"]


def test_missing_required_fields():
    events = []
    for f in REQUIRED:
        m = "missing-" + f.replace(".", "-")
        events.append(htlib.make_event(m, drop=[f]))
    events.insert(4, htlib.make_event("missing-none"))
    ok, bad = outcome(post(events), events, "missing fields")
    assert set(ok) == {"missing-none"}, "only the complete event should succeed, got %r" % ok
    problems = []
    for f in REQUIRED:
        m = "missing-" + f.replace(".", "-")
        code, msg = bad.get(m, (None, None))
        leaf = f.split(".")[-1]
        if code != "FieldNotFound":
            problems.append("%s missing: errorCode %r (want FieldNotFound)" % (f, code))
        elif leaf not in (msg or ""):
            problems.append("%s missing: errorMessage %r does not name the field" % (f, msg))
    assert not problems, "\n  ".join(problems)


def test_wrong_checksum():
    e1 = htlib.make_event("chk-wrong")
    e1["eventDataChecksum"] = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    e2 = htlib.make_event("chk-hex")           # hex instead of base64: also not the checksum
    e2["eventDataChecksum"] = hashlib.sha256(e2["eventData"].encode()).hexdigest()
    e3 = htlib.make_event("chk-good")
    e4 = htlib.make_event("chk-edited")        # checksum of the data before an edit
    e4["eventData"] = e4["eventData"].replace("TestAction", "TestActioN")
    events = [e1, e2, e3, e4]
    ok, bad = outcome(post(events), events, "checksums")
    assert set(ok) == {"chk-good"}, "want only chk-good accepted, got ok=%r bad=%r" % (ok, bad)
    for i in ("chk-wrong", "chk-hex", "chk-edited"):
        assert bad[i][0] == "InvalidChecksum", "%s: want InvalidChecksum, got %r" % (i, bad[i])


def test_101_events_and_limits():
    events = [htlib.make_event("n101-%03d" % i) for i in range(101)]
    expect_400(post(events), "ValidationException", "101 events")
    S["rejected"].update(e["id"] for e in events)
    events = [htlib.make_event("n100-%03d" % i) for i in range(100)]
    record_ok(post(events), events)            # exactly 100 is fine


def test_duplicate_ids():
    events = [htlib.make_event("dup-a"), htlib.make_event("dup-b"),
              htlib.make_event("dup-c", id="dup-a")]
    expect_400(post(events), "DuplicatedAuditEventId", "repeated id in one request")
    S["rejected"].update(("dup-a", "dup-b", "dup-c"))
    # The same id in two different requests is the caller's business: both accepted.
    e = [htlib.make_event("dup-x1", id="dupid")]
    record_ok(post(e), e)
    e = [htlib.make_event("dup-x2", id="dupid")]
    record_ok(post(e), e)


def test_channels():
    ev = [htlib.make_event("ch-unknown")]
    expect_400(post(ev, channel="nosuchchannel"), "ChannelNotFound", "unknown channel")
    for arn in ("arn:aws:cloudtrail:%s:999999999999:channel/default" % REGION,
                "arn:aws:cloudtrail:eu-west-9:%s:channel/default" % ACCOUNT):
        expect_400(post(ev, channel=arn), ("ChannelNotFound", "InvalidChannelARN"),
                   "channel of another account/region %s" % arn)
    for arn in ("arn:aws:cloudtrail:%s:%s:channel" % (REGION, ACCOUNT),
                "arn:aws:cloudtrail:%s:%s:trail/default" % (REGION, ACCOUNT),
                "arn:aws:cloudtrail:%s" % REGION,
                "arn:aws:cloudtrail:%s:%s:channel/" % (REGION, ACCOUNT)):
        expect_400(post(ev, channel=arn), "InvalidChannelARN", "malformed channelArn %r" % arn)
    # no channelArn at all
    rep = S["client"].request("POST", "/PutAuditEvents",
                              json.dumps({"auditEvents": ev}).encode())
    expect_400(rep, ("ValidationException", "InvalidChannelARN"), "no channelArn parameter")
    S["rejected"].add("ch-unknown")
    # the ARN percent-encoded, as the AWS SDKs send it, and the second channel
    e = [htlib.make_event("ch-quoted")]
    record_ok(post(e, quote=True), e)
    e = [htlib.make_event("ch-other")]
    record_ok(post(e, channel="other"), e)
    S["other_marker"] = "ch-other"


def test_wrong_recipient_and_invalid_data():
    events = [
        htlib.make_event("rcpt-wrong", account="210987654321"),
        htlib.make_event("data-notjson", data="{this is not json"),
        htlib.make_event("data-array", data="[1,2,3]"),
        htlib.make_event("data-badtime", event_time="2024-01-02 03:04:05"),
        htlib.make_event("rcpt-good"),
    ]
    ok, bad = outcome(post(events), events, "recipient/data")
    assert set(ok) == {"rcpt-good"}, "only rcpt-good should succeed: ok=%r bad=%r" % (ok, bad)
    assert bad["rcpt-wrong"][0] == "InvalidRecipient", "wrong recipientAccountId: %r" % (
        bad["rcpt-wrong"],)
    for i in ("data-notjson", "data-array", "data-badtime"):
        assert bad[i][0] == "InvalidData", "%s: want InvalidData, got %r" % (i, bad[i])


def test_mixed_batch_only_bad_fail():
    events, want_bad = [], {}
    for i in range(30):
        m = "mix-%02d" % i
        kind = i % 5
        if kind == 1:
            e = htlib.make_event(m, drop=["eventName"])
            want_bad[m] = "FieldNotFound"
        elif kind == 3:
            e = htlib.make_event(m)
            e["eventDataChecksum"] = htlib.checksum("nope")
            want_bad[m] = "InvalidChecksum"
        else:
            e = htlib.make_event(m)
        events.append(e)
    ok, bad = outcome(post(events), events, "mixed batch")
    assert {k: v[0] for k, v in bad.items()} == want_bad, "failed %r, want %r" % (bad, want_bad)
    assert len(ok) == 30 - len(want_bad)
    assert len(set(ok.values())) == len(ok), "eventIDs repeat in one reply"


def test_garbage_on_socket():
    sock = env_daemon().socket_path
    blobs = [
        b"\x00\x01\x02\x03" * 1000,
        b"GARBAGE\r\n\r\n",
        b"POST /PutAuditEvents HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /PutAuditEvents HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST /PutAuditEvents HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"h" * 200000 + b"\r\n\r\n",
        b"POST /PutAuditEvents?channelArn=%zz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        b"\r\n" * 5000,
    ]
    for b in blobs:
        htlib.raw_exchange(sock, b, read_timeout=2)
        htlib.raw_exchange(sock, b, read_timeout=0.2, close_write=True)
    for _ in range(20):                         # connect and hang up at once
        htlib.raw_exchange(sock, b"", read_timeout=0.01)
    still_serving("garbage bytes on the socket")
    rep = S["client"].request("GET", "/PutAuditEvents?channelArn=" + htlib.channel_arn("default"))
    assert 400 <= rep.status < 500, "GET on PutAuditEvents: want 4xx, got %r" % (rep,)
    rep = S["client"].request("POST", "/NoSuchOperation", b"{}")
    assert 400 <= rep.status < 500, "POST /NoSuchOperation: want 4xx, got %r" % (rep,)
    still_serving("wrong method / unknown operation")


def test_stalled_request_does_not_block_others():
    """A client announces a body and stops sending; while it stalls, others are served."""
    sock = env_daemon().socket_path
    ev = json.dumps({"auditEvents": [htlib.make_event("stall-1")]}).encode()
    path = "/PutAuditEvents?channelArn=" + htlib.channel_arn("default")
    req = htlib.http_request_bytes(path, ev)
    result = {}

    def staller():
        result["got"] = htlib.raw_exchange(sock, [req[:len(req) - 20]], read_timeout=1.0)

    stallers = [threading.Thread(target=staller, daemon=True) for _ in range(3)]
    for t in stallers:
        t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    still_serving("a stalled request (while it stalls)")
    took = time.monotonic() - t0
    assert took < 5, "a good post took %.1fs while other requests stalled" % took
    for t in stallers:
        t.join(30)
        assert not t.is_alive()
    S["rejected"].add("stall-1")
    # A request that stops in the middle of its headers.
    htlib.raw_exchange(sock, [b"POST /PutAuditEvents?chan"], read_timeout=1.0)
    still_serving("a request cut off in its headers")


def test_good_events_delivered_and_nothing_else():
    d = env_daemon()
    still_serving("everything")
    rc = d.stop()
    assert rc == 0, "SIGTERM: exit status %s, want 0" % rc
    spool = S["env"].spool("spool-1")
    htlib.assert_exactly_once(spool, S["acked"].keys(), "acked events")
    delivered = {}
    for r in spool.records():
        p = htlib.check_record(r)
        assert not p, "record %s: %s" % (r.get("eventID"), p)
        delivered[r["eventID"]] = r
    wrong = [(eid, m, htlib.record_marker(delivered[eid])) for eid, m in S["acked"].items()
             if htlib.record_marker(delivered[eid]) != m]
    assert not wrong, "records carry another event's data (eventID, posted, delivered): %s" % (
        wrong[:5],)
    markers = {htlib.record_marker(r) for r in delivered.values()}
    leaked = markers & (S["rejected"] - set(S["acked"].values()))
    assert not leaked, "rejected events were delivered: %s" % sorted(leaked)[:10]
    om = S.get("other_marker")
    if om:
        recs = [r for r in delivered.values() if htlib.record_marker(r) == om]
        assert recs and recs[0]["metadata"]["channelARN"] == htlib.channel_arn("other"), recs


def teardown(failed):
    if "env" in S:
        S["env"].__exit__(AssertionError if failed else None, None, None)


if __name__ == "__main__":
    tests = [test_start, test_invalid_json, test_oversize_request_is_400_not_413,
             test_oversize_event_field_too_long, test_missing_required_fields,
             test_wrong_checksum, test_101_events_and_limits, test_duplicate_ids,
             test_channels, test_wrong_recipient_and_invalid_data,
             test_mixed_batch_only_bad_fail, test_garbage_on_socket,
             test_stalled_request_does_not_block_others,
             test_good_events_delivered_and_nothing_else]
    htlib.run(tests, teardown=teardown, shared=True)
