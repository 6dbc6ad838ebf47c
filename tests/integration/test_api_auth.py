#!/usr/bin/env python3
"""Issue 4, must-show 3: who may use hosttraild's API.  Refused requests get CloudTrail's
error and change nothing.

One daemon with a TCP listener (admin key AKIAHOSTTRAILADMIN01, read key
AKIAHOSTTRAILREAD001) and its unix socket; a trail "existing" made through the socket, with
selectors, tags and logging on, that has delivered an event.  Requests are signed with
botocore's SigV4Auth (an independent signer), with a patched clock where noted, and sent raw;
the same refusals are also shown through every aws CLI on the machine.  Around every refused
request the test compares: every file under state_dir and the spool (size and SHA-256),
DescribeTrails, the trail's status, selectors and tags, and LookupEvents' whole answer (all
read over the unix socket).

  unsigned requests (no Authorization; a non-SigV4 one; aws --no-sign-request)
      -> MissingAuthenticationTokenException
  a wrong secret -> InvalidSignatureException
  signed 20 minutes ago -> InvalidSignatureException "Signature expired: ..."; 20 minutes
      ahead -> "Signature not yet current: ..."; 14 minutes ago is still accepted
  a read key calling create-trail and every other mutating operation, PutAuditEvents
      included -> AccessDeniedException; the read key may call describe-trails,
      get-trail-status, get-event-selectors, list-tags and lookup-events
  a non-admin uid (65534) on the unix socket, any operation -> AccessDeniedException
  a body, an X-Amz-Target or a query changed after signing -> InvalidSignatureException
  an unknown access key -> UnrecognizedClientException
  a credential scoped to another region or service -> InvalidSignatureException
  control: the same signer's untampered request is accepted and does change state."""

import json
import os
import re
import time
import urllib.parse

import htlib

S = {}
ARN = "arn:aws:cloudtrail:%s:%s:trail/%%s" % (htlib.API_REGION, htlib.ACCOUNT)
EXPIRED_RE = re.compile(r"^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z "
                        r"\(\d{8}T\d{6}Z - 15 min\.\)$")
NOT_YET_RE = re.compile(r"^Signature not yet current: \d{8}T\d{6}Z is still later than "
                        r"\d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 15 min\.\)$")
NOBODY = 65534
SELECTORS = [{"ReadWriteType": "All", "IncludeManagementEvents": True,
              "DataResources": [{"Type": "Host::File", "Values": ["/etc/"]}],
              "ExcludeManagementEventSources": []}]


def api():
    a = S.get("api")
    if a is None or not a.d.alive():
        raise AssertionError("the shared daemon is not running (an earlier test failed?)")
    return a


def clis():
    if "clis" not in S:
        found, notes = htlib.find_aws_clis(install=True)
        S["clis"] = found
        for c in found:
            htlib.log("using %s" % c.label)
        for n in notes:
            htlib.log("NOTE: %s" % n)
    return S["clis"]


def observe():
    """Everything a refused request must leave alone."""
    a = api()
    st = a.sock_call("GetTrailStatus", {"Name": "existing"})
    events, _ = htlib.lookup_walk(a.sock, {})
    return {
        "state_dir": htlib.state_snapshot(a.state_dir),
        "spool": htlib.state_snapshot(os.path.join(a.env.root, "spool")),
        "trails": a.sock_call("DescribeTrails", {}),
        "status": {k: st.get(k) for k in ("IsLogging", "StartLoggingTime", "StopLoggingTime")},
        "selectors": a.sock_call("GetEventSelectors", {"TrailName": "existing"}),
        "tags": a.sock_call("ListTags", {"ResourceIdList": [ARN % "existing"]}),
        "events": [e.get("EventId") for e in events],
    }


def compare(before, after, label):
    diffs = []
    d = htlib.snapshot_diff(before["state_dir"], after["state_dir"])
    if d:
        diffs.append("state_dir: " + d)
    d = htlib.snapshot_diff(before["spool"], after["spool"])
    if d:
        diffs.append("spool: " + d)
    for k in ("trails", "status", "selectors", "tags", "events"):
        if before[k] != after[k]:
            diffs.append("%s: %r -> %r" % (k, before[k], after[k]))
    assert not diffs, "%s changed state although refused: %s" % (label, "; ".join(diffs))


def refused(label, send, code, message_re=None):
    """send() -> a Reply (raw request) or CliResult (aws CLI) that must be refused with
    exception code and leave every observed thing as it was."""
    before = observe()
    r = send()
    if isinstance(r, htlib.CliResult):
        assert r.rc in (254, 255) and r.error_code == code, \
            "%s: want the CLI to show %s, got %r" % (label, code, r)
        message = r.error_message
    else:
        assert 400 <= r.status < 500 and r.error_type() == code, \
            "%s: want HTTP 4xx %s, got %r" % (label, code, r)
        assert r.headers.get("x-amzn-requestid"), "%s: no x-amzn-RequestId: %r" % (label, r)
        assert r.headers.get("content-type", "").startswith("application/x-amz-json-1.1") \
            or "PutAuditEvents" in label, "%s: Content-Type %r" % (
                label, r.headers.get("content-type"))
        message = r.json.get("message")
    if message_re is not None:
        assert message and re.search(message_re, message), \
            "%s: message %r does not match %r" % (label, message, message_re)
    time.sleep(0.3)          # anything the request might have started has had time to land
    compare(before, observe(), label)
    htlib.log("  refused as it should: %s -> %s: %s" % (label, code, (message or "")[:120]))
    return r


def create_body(name="new-trail"):
    return {"Name": name, "S3BucketName": "my-bucket"}


def cli_run(c, args, **kw):
    return lambda: c.run(args, api().endpoint, **kw)


# --------------------------------------------------------------------------- setup

def test_setup():
    env = htlib.Env("api-auth").__enter__()
    S["env"] = env
    a = htlib.ApiDaemon(env, buckets=("my-bucket",))
    S["api"] = a
    a.sock_call("CreateTrail", {"Name": "existing", "S3BucketName": "my-bucket",
                                "TagsList": [{"Key": "team", "Value": "sec"}]})
    a.sock_call("PutEventSelectors", {"TrailName": "existing", "EventSelectors": SELECTORS})
    a.sock_call("StartLogging", {"Name": "existing"})
    ids = a.post([htlib.make_event("auth-setup-%d" % i, account=a.account) for i in range(3)])
    a.spool("my-bucket").wait_for_ids(ids.values(), 30)
    # Let the delivery settle, then make sure the daemon is idle: two observations a
    # moment apart agree (else the no-change checks below would mean nothing).
    deadline = time.monotonic() + 30
    while True:
        o1 = observe()
        time.sleep(1.5)
        o2 = observe()
        try:
            compare(o1, o2, "an idle daemon")
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    S["events"] = o2["events"]
    assert len(S["events"]) == 3, "LookupEvents: %r" % S["events"]
    # A non-admin uid must be able to reach the socket to be refused by the daemon.
    os.chmod(env.root, 0o711)
    os.chmod(a.d.socket_path, 0o666)
    clis()


# --------------------------------------------------------------------------- refusals

def test_unsigned():
    t = api().tcp
    refused("unsigned CreateTrail", lambda: t.call("CreateTrail", create_body(), sign=False),
            "MissingAuthenticationTokenException")
    refused("unsigned StopLogging", lambda: t.call("StopLogging", {"Name": "existing"},
                                                   sign=False),
            "MissingAuthenticationTokenException")
    refused("unsigned DeleteTrail", lambda: t.call("DeleteTrail", {"Name": "existing"},
                                                   sign=False),
            "MissingAuthenticationTokenException")
    refused("unsigned DescribeTrails", lambda: t.call("DescribeTrails", {}, sign=False),
            "MissingAuthenticationTokenException")
    refused("CreateTrail with a non-SigV4 Authorization",
            lambda: t.request("POST", "/", json.dumps(create_body()).encode(), {
                "X-Amz-Target": htlib.CT_TARGET_PREFIX + "CreateTrail",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": "Bearer not-a-signature"}),
            "MissingAuthenticationTokenException")
    refused("unsigned PutAuditEvents",
            lambda: t.post_events(api().channel, [htlib.make_event("unsigned")], sign=False),
            "MissingAuthenticationTokenException")
    for c in clis():
        refused("%s --no-sign-request create-trail" % c.label,
                cli_run(c, ["cloudtrail", "create-trail", "--name", "new-trail",
                            "--s3-bucket-name", "my-bucket", "--no-sign-request"]),
                "MissingAuthenticationTokenException")


def test_wrong_secret():
    t = api().tcp
    refused("CreateTrail, wrong secret",
            lambda: t.call("CreateTrail", create_body(), secret=htlib.ADMIN_SECRET + "x"),
            "InvalidSignatureException")
    refused("CreateTrail, admin key with the read key's secret",
            lambda: t.call("CreateTrail", create_body(), secret=htlib.READ_SECRET),
            "InvalidSignatureException")
    refused("DeleteTrail, wrong secret",
            lambda: t.call("DeleteTrail", {"Name": "existing"}, secret="wrong"),
            "InvalidSignatureException")
    refused("PutAuditEvents, wrong secret",
            lambda: t.post_events(api().channel, [htlib.make_event("wrong-secret")],
                                  secret="wrong"),
            "InvalidSignatureException")
    for c in clis():
        refused("%s create-trail, wrong secret" % c.label,
                cli_run(c, ["cloudtrail", "create-trail", "--name", "new-trail",
                            "--s3-bucket-name", "my-bucket"],
                        secret=htlib.ADMIN_SECRET[:-1]),
                "InvalidSignatureException")


def test_signed_20_minutes_ago():
    t = api().tcp
    ago = lambda: time.time() - 20 * 60
    refused("CreateTrail signed 20 minutes ago",
            lambda: t.call("CreateTrail", create_body(), when=ago()),
            "InvalidSignatureException", EXPIRED_RE)
    refused("StopLogging signed 20 minutes ago",
            lambda: t.call("StopLogging", {"Name": "existing"}, when=ago()),
            "InvalidSignatureException", EXPIRED_RE)
    refused("PutAuditEvents signed 20 minutes ago",
            lambda: t.post_events(api().channel, [htlib.make_event("old-sig")], when=ago()),
            "InvalidSignatureException", EXPIRED_RE)
    refused("DescribeTrails signed 20 minutes ago",
            lambda: t.call("DescribeTrails", {}, when=ago()),
            "InvalidSignatureException", EXPIRED_RE)
    refused("CreateTrail signed 20 minutes ahead",
            lambda: t.call("CreateTrail", create_body(), when=time.time() + 20 * 60),
            "InvalidSignatureException", NOT_YET_RE)
    # Inside the 15 minutes the same signer is accepted: the refusals are about the age.
    for off in (-14 * 60, 14 * 60):
        r = t.call("DescribeTrails", {}, when=time.time() + off)
        assert r.status == 200 and r.json == api().sock_call("DescribeTrails", {}), \
            "DescribeTrails signed %+d s from now: %r" % (off, r)


def test_read_key_mutating():
    a = api()
    t = a.tcp
    rk = {"key": htlib.READ_KEY, "secret": htlib.READ_SECRET}
    denied = "is not authorized to perform: cloudtrail:%s"
    refused("read key CreateTrail", lambda: t.call("CreateTrail", create_body(), **rk),
            "AccessDeniedException", denied % "CreateTrail")
    for op, params in (("StartLogging", {"Name": "existing"}),
                       ("StopLogging", {"Name": "existing"}),
                       ("DeleteTrail", {"Name": "existing"}),
                       ("UpdateTrail", {"Name": "existing", "IsMultiRegionTrail": True}),
                       ("PutEventSelectors", {"TrailName": "existing", "EventSelectors": [
                           {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]}),
                       ("AddTags", {"ResourceId": ARN % "existing",
                                    "TagsList": [{"Key": "evil", "Value": "1"}]}),
                       ("RemoveTags", {"ResourceId": ARN % "existing",
                                       "TagsList": [{"Key": "team"}]})):
        refused("read key %s" % op, lambda: t.call(op, params, **rk),
                "AccessDeniedException", denied % op)
    refused("read key PutAuditEvents",
            lambda: t.post_events(a.channel, [htlib.make_event("read-key")], **rk),
            "AccessDeniedException", "cloudtrail-data:PutAuditEvents")
    for c in clis():
        refused("%s create-trail with the read key" % c.label,
                cli_run(c, ["cloudtrail", "create-trail", "--name", "new-trail",
                            "--s3-bucket-name", "my-bucket"], **rk),
                "AccessDeniedException", denied % "CreateTrail")
        refused("%s stop-logging with the read key" % c.label,
                cli_run(c, ["cloudtrail", "stop-logging", "--name", "existing"], **rk),
                "AccessDeniedException", denied % "StopLogging")
        if c.major == 1:
            refused("%s cloudtrail-data put-audit-events with the read key" % c.label,
                    cli_run(c, ["cloudtrail-data", "put-audit-events", "--channel-arn",
                                a.channel, "--audit-events",
                                json.dumps([htlib.make_event("read-cli")])], **rk),
                    "AccessDeniedException")


def test_read_key_may_read():
    a = api()
    rk = {"key": htlib.READ_KEY, "secret": htlib.READ_SECRET}
    want_trails = a.sock_call("DescribeTrails", {})
    before = observe()
    for c in clis():
        out = c.ok(["cloudtrail", "describe-trails"], a.endpoint, **rk)
        assert out == want_trails, "%s describe-trails (read key): %r, want %r" % (
            c.label, out, want_trails)
        out = c.ok(["cloudtrail", "lookup-events"], a.endpoint, **rk)
        got = [e.get("EventId") for e in (out or {}).get("Events", [])]
        assert got == S["events"], "%s lookup-events (read key): %s, want %s" % (
            c.label, got, S["events"])
        out = c.ok(["cloudtrail", "lookup-events", "--lookup-attributes",
                    "AttributeKey=EventId,AttributeValue=%s" % S["events"][0]],
                   a.endpoint, **rk)
        assert [e.get("EventId") for e in out["Events"]] == S["events"][:1], out
        out = c.ok(["cloudtrail", "get-trail-status", "--name", "existing"], a.endpoint, **rk)
        assert out.get("IsLogging") is True, out
        out = c.ok(["cloudtrail", "get-event-selectors", "--trail-name", "existing"],
                   a.endpoint, **rk)
        assert out == {"TrailARN": ARN % "existing", "EventSelectors": SELECTORS}, out
        out = c.ok(["cloudtrail", "list-tags", "--resource-id-list", ARN % "existing"],
                   a.endpoint, **rk)
        assert out["ResourceTagList"] == [{"ResourceId": ARN % "existing",
                                           "TagsList": [{"Key": "team", "Value": "sec"}]}], out
    r = a.tcp.call("LookupEvents", {"MaxResults": 50}, **rk)
    assert r.status == 200 and [e["EventId"] for e in r.json["Events"]] == S["events"], r
    r = a.tcp.call("GetTrail", {"Name": "existing"}, **rk)
    assert r.status == 200 and r.json["Trail"]["Name"] == "existing", r
    r = a.tcp.call("ListTrails", {}, **rk)
    assert r.status == 200 and [x["Name"] for x in r.json["Trails"]] == ["existing"], r
    compare(before, observe(), "read-only calls with the read key")


def test_non_admin_uid_on_socket():
    a = api()
    path = a.d.socket_path
    # Control: the same helper as root is served.
    r = htlib.socket_call_as(path, None, None, "DescribeTrails")
    assert r.status == 200 and r.json == a.sock_call("DescribeTrails", {}), \
        "DescribeTrails as root through the helper: %r" % r
    who = r"uid %d " % NOBODY
    refused("CreateTrail as uid %d on the socket" % NOBODY,
            lambda: htlib.socket_call_as(path, NOBODY, NOBODY, "CreateTrail", create_body()),
            "AccessDeniedException", who)
    for op, params in (("StopLogging", {"Name": "existing"}),
                       ("DeleteTrail", {"Name": "existing"}),
                       ("PutEventSelectors", {"TrailName": "existing", "EventSelectors": [
                           {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]}),
                       ("DescribeTrails", {}),
                       ("LookupEvents", {})):
        refused("%s as uid %d on the socket" % (op, NOBODY),
                lambda: htlib.socket_call_as(path, NOBODY, NOBODY, op, params),
                "AccessDeniedException", who)
    body = json.dumps({"auditEvents": [htlib.make_event("nobody")]})
    refused("PutAuditEvents as uid %d on the socket" % NOBODY,
            lambda: htlib.socket_call_as(path, NOBODY, NOBODY, None,
                                         path="/PutAuditEvents?channelArn=" + a.channel,
                                         body=body),
            "AccessDeniedException", who)


def test_tampered_after_signing():
    a = api()
    t = a.tcp
    signed_body = json.dumps(create_body("signed-trail")).encode()
    evil_body = json.dumps(create_body("tamper-trail")).encode()
    assert len(signed_body) == len(evil_body)
    target = htlib.CT_TARGET_PREFIX
    h = {"X-Amz-Target": target + "CreateTrail", "Content-Type": "application/x-amz-json-1.1"}
    refused("CreateTrail, body changed after signing",
            lambda: t.signed("POST", "/", signed_body, h, send_body=evil_body),
            "InvalidSignatureException")
    refused("CreateTrail, a byte appended after signing",
            lambda: t.signed("POST", "/", signed_body, h, send_body=signed_body + b" "),
            "InvalidSignatureException")
    # The read key signs a read, the request names a write.
    rk = {"key": htlib.READ_KEY, "secret": htlib.READ_SECRET}
    refused("read key signs GetTrailStatus, X-Amz-Target changed to StopLogging",
            lambda: t.signed("POST", "/", json.dumps({"Name": "existing"}).encode(),
                             {"X-Amz-Target": target + "GetTrailStatus",
                              "Content-Type": "application/x-amz-json-1.1"},
                             send_headers={"X-Amz-Target": target + "StopLogging"}, **rk),
            "InvalidSignatureException")
    refused("admin signs GetTrail, X-Amz-Target changed to DeleteTrail",
            lambda: t.signed("POST", "/", json.dumps({"Name": "existing"}).encode(),
                             {"X-Amz-Target": target + "GetTrail",
                              "Content-Type": "application/x-amz-json-1.1"},
                             send_headers={"X-Amz-Target": target + "DeleteTrail"}),
            "InvalidSignatureException")
    # PutAuditEvents: the events or the channel changed after signing.
    ev = [htlib.make_event("tamper-ev")]
    good = json.dumps({"auditEvents": ev}).encode()
    ev2 = [dict(ev[0], id="tamper-XX")]
    bad = json.dumps({"auditEvents": ev2}).encode()
    q = "/PutAuditEvents?channelArn="
    arn_q = lambda name: q + urllib.parse.quote(
        htlib.channel_arn(name, region=a.region, account=a.account), safe="")
    ph = {"Content-Type": "application/json"}
    refused("PutAuditEvents, body changed after signing",
            lambda: t.signed("POST", arn_q("default"), good, ph, service="cloudtrail-data",
                             send_body=bad),
            "InvalidSignatureException")

    def other_query():
        hs = htlib.sigv4_headers("POST", t.endpoint + arn_q("default"), good,
                                 dict(ph, Host="127.0.0.1:%d" % t.port), htlib.ADMIN_KEY,
                                 htlib.ADMIN_SECRET, service="cloudtrail-data")
        return t.request("POST", arn_q("defaulx"), good, hs)
    refused("PutAuditEvents, channelArn changed after signing", other_query,
            "InvalidSignatureException")


def test_unknown_key():
    t = api().tcp
    unknown = {"key": "AKIAUNKNOWNKEY000001", "secret": htlib.ADMIN_SECRET}
    refused("CreateTrail, unknown access key",
            lambda: t.call("CreateTrail", create_body(), **unknown),
            "UnrecognizedClientException")
    refused("DescribeTrails, unknown access key",
            lambda: t.call("DescribeTrails", {}, **unknown), "UnrecognizedClientException")
    refused("PutAuditEvents, unknown access key",
            lambda: t.post_events(api().channel, [htlib.make_event("unknown-key")], **unknown),
            "UnrecognizedClientException")
    for c in clis():
        refused("%s create-trail with an unknown key" % c.label,
                cli_run(c, ["cloudtrail", "create-trail", "--name", "new-trail",
                            "--s3-bucket-name", "my-bucket"], **unknown),
                "UnrecognizedClientException")


def test_wrong_scope():
    t = api().tcp
    refused("CreateTrail signed for region eu-west-1",
            lambda: t.call("CreateTrail", create_body(), region="eu-west-1"),
            "InvalidSignatureException", "region")
    refused("CreateTrail signed for service s3",
            lambda: t.call("CreateTrail", create_body(), service="s3"),
            "InvalidSignatureException", "service")
    refused("PutAuditEvents signed for service cloudtrail (not cloudtrail-data)",
            lambda: t.post_events(api().channel, [htlib.make_event("scope")],
                                  service="cloudtrail"),
            "InvalidSignatureException", "service")
    c = clis()[0] if clis() else None
    if c is not None:
        refused("%s create-trail --region eu-west-1" % c.label,
                cli_run(c, ["cloudtrail", "create-trail", "--name", "new-trail",
                            "--s3-bucket-name", "my-bucket"], region="eu-west-1"),
                "InvalidSignatureException")


def test_control_accepted_and_observed():
    """The signer and the observation are sound: the same requests, untampered, are
    accepted, and what they change shows up."""
    a = api()
    before = observe()
    r = a.tcp.call("CreateTrail", create_body("signed-trail"))
    assert r.status == 200 and r.json.get("Name") == "signed-trail", r
    r = a.tcp.post_events(a.channel, [htlib.make_event("control-ev", account=a.account)])
    htlib.check_ok_reply(r, [{"id": "control-ev"}])
    after = observe()
    d = htlib.snapshot_diff(before["state_dir"], after["state_dir"])
    assert "api-trails.json" in d, "CreateTrail did not show in state_dir: %r" % d
    assert "history/" in d, "PutAuditEvents did not show in state_dir: %r" % d
    assert len(after["events"]) == len(before["events"]) + 1 and \
        after["events"][0] == r.json["successful"][0]["eventID"], \
        "LookupEvents after one accepted PutAuditEvents (%s): %s, before %s" % (
            r.json["successful"][0]["eventID"], after["events"], before["events"])
    names = sorted(t["Name"] for t in after["trails"]["trailList"])
    assert names == ["existing", "signed-trail"], names
    for c in clis():
        out = c.ok(["cloudtrail", "create-trail", "--name", "cli-v%d" % c.major,
                    "--s3-bucket-name", "my-bucket"], a.endpoint)
        assert out["Name"] == "cli-v%d" % c.major, out


def test_stop():
    a = api()
    rc = a.d.stop()
    assert rc == 0, "SIGTERM: exit status %s, want 0" % rc
    bad = [ln for ln in a.d.log_text().splitlines()
           if "AddressSanitizer" in ln or "runtime error" in ln]
    assert not bad, "sanitizer reports in the daemon's log: %s" % bad[:3]


def teardown(failed):
    if "env" in S:
        S["env"].__exit__(AssertionError if failed else None, None, None)


if __name__ == "__main__":
    htlib.run([test_setup, test_unsigned, test_wrong_secret, test_signed_20_minutes_ago,
               test_read_key_mutating, test_read_key_may_read, test_non_admin_uid_on_socket,
               test_tampered_after_signing, test_unknown_key, test_wrong_scope,
               test_control_accepted_and_observed, test_stop],
              teardown=teardown, shared=True)
