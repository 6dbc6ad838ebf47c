#!/usr/bin/env python3
"""Issue 4, hosttrailctl's trail verbs over the API socket.

One daemon (started by the first test) with one spool bucket, my-bucket, a notification
topic without subscriptions (for --sns-topic-name), an organization ID (for
--is-organization-trail) and trail_defaults.delivery.interval 1s, so that trails made
through the API deliver within about a second.  Every verb is driven through
`$HOSTTRAILCTL -s SOCKET ...`:

  json mode:  checked member by member, and equal to what the same operation returns when
              called directly on the socket (the reply as it is);
  table mode: key/value lines (times as ISO 8601) or columns holding the key values;
  errors:     CloudTrail's exception as "hosttrailctl: <exception>: <message>" on stderr,
              exit 1, nothing on stdout; usage errors exit 2 naming the bad option, with no
              request sent; an absent socket exits 2;
  end to end: create-trail, start-logging, events posted (htlib's ingest client) reach the
              spool, stop-logging, later events do not; get-trail-status on the way.
"""

import json
import os
import re
import time

import htlib

BUCKET = "my-bucket"
TOPIC = "notes"
ORG = "o-abcdef1234"
S = {}                          # env, daemon, client, sock

ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def arn(name):
    return "arn:aws:cloudtrail:%s:%s:trail/%s" % (htlib.REGION, htlib.ACCOUNT, name)


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# --------------------------------------------------------------------------- helpers

def ctl(*args, rc=0):
    """hosttrailctl -s SOCKET ARGS; asserts the exit status (and, for 0, an empty stderr)."""
    r = htlib.run_ctl(S["sock"], *args, timeout=30)
    cmd = "hosttrailctl %s" % " ".join(str(a) for a in args)
    assert r.returncode == rc, "%s: exit %d, want %d\nstdout: %s\nstderr: %s" % (
        cmd, r.returncode, rc, r.stdout[:2000], r.stderr[:2000])
    if rc == 0:
        assert r.stderr == "", "%s: stderr %r" % (cmd, r.stderr[:2000])
    return r


def ctl_json(*args):
    r = ctl(*(args + ("--output", "json")))
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise AssertionError("hosttrailctl %s --output json: not JSON: %r"
                             % (" ".join(args), r.stdout[:2000]))


def api(op, params=None):
    """The operation called directly on the socket; its JSON reply (must be 200)."""
    rep = S["client"].call(op, params or {})
    assert rep.status == 200, "%s %r: %r" % (op, params, rep)
    return rep.json


def refused(exc, *args):
    """A request the daemon refuses: exit 1, stdout empty, stderr names the exception."""
    r = ctl(*args, rc=1)
    want = "hosttrailctl: %s: " % exc
    assert r.stderr.startswith(want) and r.stderr.endswith("\n") and \
        r.stderr.count("\n") == 1, "hosttrailctl %s: stderr %r, want one line %r..." % (
            " ".join(args), r.stderr, want)
    assert r.stdout == "", "hosttrailctl %s: stdout %r on a refusal" % (" ".join(args),
                                                                        r.stdout)
    return r


def usage_error(option, *args):
    """A usage error: exit 2, stderr names option, nothing on stdout."""
    r = ctl(*args, rc=2)
    assert option in r.stderr, "hosttrailctl %s: stderr %r does not name %r" % (
        " ".join(args), r.stderr, option)
    assert r.stdout == "", "hosttrailctl %s: stdout %r" % (" ".join(args), r.stdout)
    return r


def kv_table(text):
    """Key/value table lines ("Key  value") at the top level as a dict."""
    d = {}
    for line in text.splitlines():
        if not line or line[0] in " -":
            continue
        m = re.match(r"^(\S+)(?:\s+(.*))?$", line)
        assert m, "not a key/value line: %r" % line
        d[m.group(1)] = (m.group(2) or "").strip()
    return d


def column_table(text, titles):
    """Rows of a column table as dicts {title: cell}; cells sliced at the titles' offsets."""
    lines = text.splitlines()
    assert lines, "empty table"
    head = lines[0]
    offs = []
    for t in titles:
        assert t in head, "title %r not in header %r" % (t, head)
        offs.append(head.index(t))
    assert offs == sorted(offs), "columns out of order in %r" % head
    rows = []
    for line in lines[1:]:
        row = {}
        for i, t in enumerate(titles):
            end = offs[i + 1] if i + 1 < len(offs) else None
            row[t] = line[offs[i]:end].strip()
        rows.append(row)
    return rows


def check_members(got, want, label):
    bad = ["%s %r, want %r" % (k, got.get(k), v) for k, v in want.items() if got.get(k) != v]
    assert not bad, "%s: %s (all: %r)" % (label, "; ".join(bad), got)


def trail_count():
    return len(api("ListTrails")["Trails"])


# --------------------------------------------------------------------------- tests

def test_start():
    env = htlib.Env("ctl-trails").__enter__()
    S["env"] = env
    doc = htlib.config_doc(env.root, trails=[], buckets=[BUCKET])
    doc["organization_id"] = ORG
    doc["topics"] = {TOPIC: {"subscriptions": []}}
    doc["trail_defaults"] = {"delivery": {"interval": "1s"}}
    d = env.daemon(env.write_config(doc)).start()
    S["daemon"], S["sock"] = d, d.socket_path
    S["client"] = htlib.Client(d.socket_path, timeout=30)
    assert trail_count() == 0, "a fresh daemon has trails: %r" % api("ListTrails")


def test_create_trail_table():
    r = ctl("create-trail", "--name", "my-trail", "--s3-bucket-name", BUCKET)
    kv = kv_table(r.stdout)
    check_members(kv, {"Name": "my-trail", "S3BucketName": BUCKET, "TrailARN": arn("my-trail"),
                       "IncludeGlobalServiceEvents": "true", "IsMultiRegionTrail": "false",
                       "LogFileValidationEnabled": "false", "IsOrganizationTrail": "false"},
                  "create-trail table")
    assert "S3KeyPrefix" not in kv and "SnsTopicARN" not in kv, kv


def test_create_trail_every_option_json():
    got = ctl_json("create-trail", "--name", "full-trail", "--s3-bucket-name", BUCKET,
                   "--s3-key-prefix", "logs/x", "--sns-topic-name", TOPIC,
                   "--no-is-multi-region-trail", "--no-include-global-service-events",
                   "--enable-log-file-validation",
                   "--cloud-watch-logs-log-group-arn",
                   "arn:aws:logs:us-test-1:123456789012:log-group:g:*",
                   "--cloud-watch-logs-role-arn", "arn:aws:iam::123456789012:role/cw",
                   "--kms-key-id", "alias/k1", "--is-organization-trail",
                   "--tags-list", "Key=team,Value=ops", "Key=env")
    want = {"Name": "full-trail", "S3BucketName": BUCKET, "S3KeyPrefix": "logs/x",
            "SnsTopicName": TOPIC,
            "SnsTopicARN": "arn:aws:sns:%s:%s:%s" % (htlib.REGION, htlib.ACCOUNT, TOPIC),
            "IncludeGlobalServiceEvents": False, "IsMultiRegionTrail": False,
            "TrailARN": arn("full-trail"), "LogFileValidationEnabled": True,
            "CloudWatchLogsLogGroupArn": "arn:aws:logs:us-test-1:123456789012:log-group:g:*",
            "CloudWatchLogsRoleArn": "arn:aws:iam::123456789012:role/cw",
            "KmsKeyId": "alias/k1", "IsOrganizationTrail": True}
    check_members(got, want, "create-trail --output json")
    assert set(got) == set(want), "members %s, want %s" % (sorted(got), sorted(want))
    tags = api("ListTags", {"ResourceIdList": [arn("full-trail")]})["ResourceTagList"]
    assert tags[0]["TagsList"] == [{"Key": "team", "Value": "ops"}, {"Key": "env"}], tags


def test_update_trail():
    got = ctl_json("update-trail", "--name", "full-trail", "--is-multi-region-trail",
                   "--include-global-service-events", "--no-enable-log-file-validation",
                   "--no-is-organization-trail", "--kms-key-id", "alias/k2")
    check_members(got, {"Name": "full-trail", "IsMultiRegionTrail": True,
                        "IncludeGlobalServiceEvents": True, "LogFileValidationEnabled": False,
                        "IsOrganizationTrail": False, "KmsKeyId": "alias/k2",
                        "S3KeyPrefix": "logs/x", "SnsTopicName": TOPIC},
                  "update-trail --output json")
    kv = kv_table(ctl("update-trail", "--name", arn("full-trail"), "--s3-key-prefix",
                      "logs/y").stdout)
    check_members(kv, {"Name": "full-trail", "S3KeyPrefix": "logs/y", "KmsKeyId": "alias/k2",
                       "IsMultiRegionTrail": "true"}, "update-trail table")
    # CloudTrail's own rule, checked by the daemon: multi-region needs global events.
    refused("InvalidParameterCombinationException", "update-trail", "--name", "full-trail",
            "--no-include-global-service-events")


def test_describe_trails():
    titles = ["Name", "Bucket", "Prefix", "Multi-region", "Global", "Validation", "Selectors",
              "Home region"]
    rows = column_table(ctl("describe-trails").stdout, titles)
    assert [r["Name"] for r in rows] == ["my-trail", "full-trail"], rows
    check_members(rows[0], {"Bucket": BUCKET, "Prefix": "", "Multi-region": "false",
                            "Global": "true", "Validation": "false", "Selectors": "false",
                            "Home region": htlib.REGION}, "describe-trails row 1")
    check_members(rows[1], {"Bucket": BUCKET, "Prefix": "logs/y", "Multi-region": "true",
                            "Global": "true", "Validation": "false", "Selectors": "false",
                            "Home region": htlib.REGION}, "describe-trails row 2")
    got = ctl_json("describe-trails", "--trail-name-list", "full-trail", arn("my-trail"))
    assert got == api("DescribeTrails", {"trailNameList": ["full-trail", arn("my-trail")]}), got
    assert [t["Name"] for t in got["trailList"]] == ["full-trail", "my-trail"], got
    check_members(got["trailList"][1], {"TrailARN": arn("my-trail"), "S3BucketName": BUCKET,
                                        "HomeRegion": htlib.REGION,
                                        "HasCustomEventSelectors": False},
                  "describe-trails json")
    assert ctl_json("describe-trails", "--trail-name-list", "no-such-trail") == \
        {"trailList": []}
    assert ctl_json("describe-trails", "--no-include-shadow-trails")["trailList"] == \
        api("DescribeTrails")["trailList"]


def test_get_trail():
    kv = kv_table(ctl("get-trail", "--name", "my-trail").stdout)
    check_members(kv, {"Name": "my-trail", "HomeRegion": htlib.REGION,
                       "TrailARN": arn("my-trail"), "HasCustomEventSelectors": "false",
                       "S3BucketName": BUCKET}, "get-trail table")
    got = ctl_json("get-trail", "--name", arn("full-trail"))
    assert got == api("GetTrail", {"Name": "full-trail"}), got
    check_members(got["Trail"], {"Name": "full-trail", "HomeRegion": htlib.REGION,
                                 "S3KeyPrefix": "logs/y", "KmsKeyId": "alias/k2"},
                  "get-trail json")


def test_list_trails():
    rows = column_table(ctl("list-trails").stdout, ["Name", "Home region", "Trail ARN"])
    assert rows == [{"Name": n, "Home region": htlib.REGION, "Trail ARN": arn(n)}
                    for n in ("my-trail", "full-trail")], rows
    got = ctl_json("list-trails")
    assert got == api("ListTrails"), got
    assert got["Trails"][0] == {"TrailARN": arn("my-trail"), "Name": "my-trail",
                                "HomeRegion": htlib.REGION}, got


def test_event_selectors():
    basic = [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True,
              "DataResources": [{"Type": "Host::File", "Values": ["/etc/", "/root/.ssh/"]}]}]
    got = ctl_json("put-event-selectors", "--trail-name", "full-trail",
                   "--event-selectors", json.dumps(basic))
    assert got["TrailARN"] == arn("full-trail"), got
    sel = got["EventSelectors"][0]
    check_members(sel, {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True,
                        "DataResources": basic[0]["DataResources"]}, "put-event-selectors")
    kv = kv_table(ctl("get-event-selectors", "--trail-name", "full-trail").stdout)
    assert kv.get("TrailARN") == arn("full-trail"), kv
    text = ctl("get-event-selectors", "--trail-name", "full-trail").stdout
    for s in ("EventSelectors", "WriteOnly", "Host::File", "/etc/, /root/.ssh/"):
        assert s in text, "get-event-selectors table lacks %r:\n%s" % (s, text)
    adv = [{"Name": "writes", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Management"]},
        {"Field": "readOnly", "Equals": ["false"]}]}]
    path = S["env"].path("adv.json")
    with open(path, "w") as f:
        json.dump(adv, f, indent=2)
    text = ctl("put-event-selectors", "--trail-name", "full-trail",
               "--advanced-event-selectors", "file://" + path).stdout
    for s in ("AdvancedEventSelectors", "writes", "eventCategory", "Management", "readOnly"):
        assert s in text, "put-event-selectors table lacks %r:\n%s" % (s, text)
    got = ctl_json("get-event-selectors", "--trail-name", "full-trail")
    assert got == api("GetEventSelectors", {"TrailName": "full-trail"}), got
    assert got["AdvancedEventSelectors"] == adv and "EventSelectors" not in got, got
    assert ctl_json("get-trail", "--name", "full-trail")["Trail"][
        "HasCustomEventSelectors"] is True
    refused("InvalidEventSelectorsException", "put-event-selectors", "--trail-name",
            "full-trail", "--event-selectors", json.dumps(basic),
            "--advanced-event-selectors", json.dumps(adv))
    refused("InvalidEventSelectorsException", "put-event-selectors", "--trail-name",
            "full-trail", "--event-selectors", '[{"ReadWriteType": "Sometimes"}]')
    usage_error("--event-selectors", "put-event-selectors", "--trail-name", "full-trail")
    usage_error("--event-selectors", "put-event-selectors", "--trail-name", "full-trail",
                "--event-selectors", "[{")
    usage_error("--advanced-event-selectors", "put-event-selectors", "--trail-name",
                "full-trail", "--advanced-event-selectors", "file://" + path + ".missing")
    assert api("GetEventSelectors", {"TrailName": "full-trail"}) == got, \
        "refused put-event-selectors changed the selectors"


def test_tags():
    a = arn("my-trail")
    r = ctl("add-tags", "--resource-id", a, "--tags-list", "Key=a,Value=1",
            "Key=b,Value=x,y", "Key=c")
    assert r.stdout == "", "add-tags table prints nothing, got %r" % r.stdout
    got = ctl_json("list-tags", "--resource-id-list", a)
    assert got == {"ResourceTagList": [{"ResourceId": a, "TagsList": [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "x,y"}, {"Key": "c"}]}]}, got
    ctl("remove-tags", "--resource-id", a, "--tags-list", "Key=a", "Key=c")
    rows = column_table(ctl("list-tags", "--resource-id-list", a, arn("full-trail")).stdout,
                        ["Resource", "Key", "Value"])
    assert rows == [{"Resource": a, "Key": "b", "Value": "x,y"},
                    {"Resource": arn("full-trail"), "Key": "team", "Value": "ops"},
                    {"Resource": arn("full-trail"), "Key": "env", "Value": ""}], rows
    assert ctl_json("add-tags", "--resource-id", a, "--tags-list",
                    '[{"Key": "d", "Value": "4"}]') == {}
    got = ctl_json("list-tags", "--resource-id-list", a)
    assert got["ResourceTagList"][0]["TagsList"] == [{"Key": "b", "Value": "x,y"},
                                                     {"Key": "d", "Value": "4"}], got
    refused("ResourceNotFoundException", "list-tags", "--resource-id-list", arn("no-such"))
    refused("CloudTrailARNInvalidException", "add-tags", "--resource-id", "my-trail",
            "--tags-list", "Key=x")
    usage_error("--tags-list", "add-tags", "--resource-id", a, "--tags-list", "Value=x")
    usage_error("--tags-list", "add-tags", "--resource-id", a)


def test_delete_trail():
    ctl("create-trail", "--name", "del-trail", "--s3-bucket-name", BUCKET, "--output", "json")
    assert trail_count() == 3
    r = ctl("delete-trail", "--name", "del-trail")
    assert r.stdout == "", "delete-trail table prints nothing, got %r" % r.stdout
    assert trail_count() == 2
    refused("TrailNotFoundException", "get-trail", "--name", "del-trail")
    refused("TrailNotFoundException", "delete-trail", "--name", "del-trail")


def test_errors():
    n = trail_count()
    for verb, opt in (("get-trail", "--name"), ("get-trail-status", "--name"),
                      ("start-logging", "--name"), ("stop-logging", "--name"),
                      ("delete-trail", "--name"), ("update-trail", "--name"),
                      ("get-event-selectors", "--trail-name")):
        r = refused("TrailNotFoundException", verb, opt, "no-such-trail")
        assert "no-such-trail" in r.stderr, r.stderr
    refused("TrailNotFoundException", "get-trail", "--name", "no-such-trail", "--output", "json")
    refused("TrailAlreadyExistsException", "create-trail", "--name", "my-trail",
            "--s3-bucket-name", BUCKET)
    refused("S3BucketDoesNotExistException", "create-trail", "--name", "other-trail",
            "--s3-bucket-name", "no-such-bucket")
    refused("InvalidTrailNameException", "create-trail", "--name", "a--b",
            "--s3-bucket-name", BUCKET)
    # Usage errors: exit 2, the bad option named, nothing sent.
    usage_error("--bogus", "get-trail", "--name", "my-trail", "--bogus")
    usage_error("--s3-bucket-name", "create-trail", "--name", "x-trail")
    usage_error("--name", "create-trail", "--s3-bucket-name", BUCKET)
    usage_error("--name", "get-trail", "--name")
    usage_error("--name", "get-trail", "--name", "--output", "json")
    usage_error("--output", "list-trails", "--output", "xml")
    usage_error("--output", "list-trails", "--output", "csv")
    usage_error("--is-multi-region-trail", "create-trail", "--name", "x-trail",
                "--s3-bucket-name", BUCKET, "--is-multi-region-trail=yes")
    usage_error("--no-name", "get-trail", "--no-name")
    usage_error("my-trail", "get-trail", "my-trail")
    usage_error("--resource-id-list", "list-tags")
    usage_error("frobnicate", "frobnicate")
    assert trail_count() == n, "usage errors changed the trails"
    # --name=VALUE works like --name VALUE; --help prints the verb's usage.
    assert ctl_json("get-trail", "--name=my-trail")["Trail"]["Name"] == "my-trail"
    h = ctl("create-trail", "--help").stdout
    assert "--s3-bucket-name" in h and "--tags-list" in h, h
    h = ctl("--help").stdout
    for verb in ("create-trail", "update-trail", "delete-trail", "describe-trails",
                 "get-trail", "list-trails", "get-trail-status", "start-logging",
                 "stop-logging", "put-event-selectors", "get-event-selectors", "add-tags",
                 "remove-tags", "list-tags", "lookup-events", "put-audit-events"):
        assert "\n  %s" % verb in h, "usage lacks %s" % verb
    r = htlib.run_ctl(S["env"].path("no-such.sock"), "list-trails", timeout=30)
    assert r.returncode == 2 and "no-such.sock" in r.stderr, (r.returncode, r.stderr)


def post(marker_prefix, n):
    events = [htlib.make_event("%s-%d" % (marker_prefix, i)) for i in range(n)]
    return set(htlib.check_ok_reply(S["client"].post_events("default", events),
                                    events).values())


def test_end_to_end():
    kv = kv_table(ctl("get-trail-status", "--name", "my-trail").stdout)
    assert kv.get("IsLogging") == "false", kv
    r = ctl("start-logging", "--name", "my-trail")
    assert r.stdout == "", "start-logging table prints nothing, got %r" % r.stdout
    st = ctl_json("get-trail-status", "--name", "my-trail")
    assert st["IsLogging"] is True and isinstance(st.get("StartLoggingTime"), (int, float)), st
    assert abs(st["StartLoggingTime"] - time.time()) < 60, st
    spool = S["env"].spool(BUCKET)
    ids = post("on", 5)
    took = spool.wait_for_ids(ids, timeout=20)
    htlib.log("5 events delivered %.1fs after posting" % took)
    # The delivery is recorded once the file is in place; allow a moment for the status.
    deadline = time.monotonic() + 10
    while "LatestDeliveryTime" not in st and time.monotonic() < deadline:
        time.sleep(0.2)
        st = ctl_json("get-trail-status", "--name", arn("my-trail"))
    assert isinstance(st.get("LatestDeliveryTime"), (int, float)), st
    assert st == api("GetTrailStatus", {"Name": "my-trail"}), st
    kv = kv_table(ctl("get-trail-status", "--name", "my-trail").stdout)
    check_members(kv, {"IsLogging": "true", "StartLoggingTime": iso(st["StartLoggingTime"]),
                       "LatestDeliveryTime": iso(st["LatestDeliveryTime"])},
                  "get-trail-status table")
    for k, v in kv.items():
        if k.endswith("Time") or k.startswith("TimeLogging"):
            assert ISO_RE.match(v), "get-trail-status table: %s %r is not ISO 8601" % (k, v)
    assert ctl_json("stop-logging", "--name", "my-trail") == {}
    st = ctl_json("get-trail-status", "--name", "my-trail")
    assert st["IsLogging"] is False and isinstance(st.get("StopLoggingTime"), (int, float)), st
    kv = kv_table(ctl("get-trail-status", "--name", "my-trail").stdout)
    check_members(kv, {"IsLogging": "false", "StopLoggingTime": iso(st["StopLoggingTime"])},
                  "get-trail-status table after stop-logging")
    late = post("off", 5)
    time.sleep(3.5)             # more than three delivery intervals
    spool.scan()
    have = set(r.get("eventID") for r in spool.records())
    assert not (late & have), "%d events posted after stop-logging were delivered" % len(
        late & have)
    assert ids <= have and spool.dup_ids() == {}, spool.dup_ids()


def test_stop():
    d = S["daemon"]
    rc = d.stop()
    assert rc == 0, "SIGTERM: exit status %s, want 0" % rc
    bad = [ln for ln in d.log_text().splitlines()
           if "AddressSanitizer" in ln or "runtime error" in ln]
    assert not bad, "sanitizer reports in the daemon's log: %s" % bad[:3]


def teardown(failed):
    if "client" in S:
        S["client"].close()
    if "env" in S:
        S["env"].__exit__(AssertionError if failed else None, None, None)


if __name__ == "__main__":
    htlib.run([test_start, test_create_trail_table, test_create_trail_every_option_json,
               test_update_trail, test_describe_trails, test_get_trail, test_list_trails,
               test_event_selectors, test_tags, test_delete_trail, test_errors,
               test_end_to_end, test_stop],
              teardown=teardown, shared=True)
