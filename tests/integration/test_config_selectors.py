#!/usr/bin/env python3
"""Config trails with event selectors (trails[].event_selectors / advanced_event_selectors).

Data events (process executions, file access) reach a trail only through selectors; a trail
declared in the config file must be able to say so, or a config-only deployment never ships
what the audit sources record.

- A config trail with basic selectors (Host::Process under /usr/bin/) receives the exec
  records of an audit.log source, a config trail without selectors receives only the
  management records (logins), and GetEventSelectors shows the config's selectors.
- SIGHUP with advanced selectors in place of the basic ones (management events only)
  applies them to records written after the reload.
- A selector the API would refuse (an unknown resource type) is refused at start with the
  trail and the member named, exit 78."""

import json
import os
import signal
import time

import htlib
from test_auditlog import AuditWriter

BASIC = [{"read_write_type": "All", "include_management_events": True,
          "data_resources": [{"type": "Host::Process", "values": ["/usr/bin/"]}]}]
ADVANCED = [{"name": "management only", "field_selectors": [
    {"field": "eventCategory", "equals": ["Management"]}]}]


def make_config(env, log_path, selectors_key, selectors):
    t1 = htlib.trail("with-selectors", "spool-1", interval="1s")
    t1[selectors_key] = selectors
    t2 = htlib.trail("defaults", "spool-2", interval="1s")
    doc = htlib.config_doc(env.root, trails=[t1, t2])
    doc["sources"] = [{"type": "auditlog", "path": log_path, "start": "beginning"}]
    return env.write_config(doc)


def serials_by_kind(spool):
    """{eventName: set(audit serials)} of the audit records in spool."""
    spool.scan()
    out = {}
    for r in spool.records():
        add = r.get("additionalEventData") or {}
        if add.get("source") == "auditlog":
            out.setdefault(r["eventName"], set()).add(add["auditSerial"])
    return out


def wait_for(cond, what, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.2)


def test_config_selectors_select_data_events_and_reload():
    with htlib.Env("config-selectors") as env:
        os.makedirs(env.path("audit"))
        log_path = env.path("audit", "audit.log")
        w = AuditWriter(log_path)
        first = [w.event() for _ in range(9)]   # kinds rotate: exec, enriched exec, login
        execs = {s for s in first if w.kinds[s] != "login"}
        logins = {s for s in first if w.kinds[s] == "login"}
        cfg = make_config(env, log_path, "event_selectors", BASIC)
        d = env.daemon(cfg).start()
        with_sel, defaults = env.spool("spool-1"), env.spool("spool-2")

        got = wait_for(lambda: (lambda k: k if k.get("ExecuteProcess", set()) >= execs and
                                k.get("UserLogin", set()) >= logins else None)(
            serials_by_kind(with_sel)), "exec and login records in the selecting trail")
        assert got["ExecuteProcess"] == execs, got
        wait_for(lambda: serials_by_kind(defaults).get("UserLogin", set()) >= logins,
                 "logins in the default trail")
        time.sleep(2)   # one more delivery interval: nothing else may arrive
        dflt = serials_by_kind(defaults)
        assert set(dflt) == {"UserLogin"}, "the default trail got data events: %s" % dflt

        c = d.client()
        rep = c.call("GetEventSelectors", {"TrailName": "with-selectors"})
        assert rep.status == 200, rep
        sel = rep.json["EventSelectors"]
        assert sel[0]["DataResources"] == [{"Type": "Host::Process", "Values": ["/usr/bin/"]}], sel
        assert sel[0]["ReadWriteType"] == "All" and sel[0]["IncludeManagementEvents"] is True
        # the config owns the trail: the API may not change its selectors
        rep = c.call("PutEventSelectors", {"TrailName": "with-selectors",
                                           "EventSelectors": [{"ReadWriteType": "All"}]})
        assert rep.status == 400, rep
        c.close()

        # reload: advanced selectors selecting logins only
        htlib.write_file_atomic(cfg, open(make_config(env, log_path, "advanced_event_selectors",
                                                      ADVANCED)).read())
        off = d.log_size()
        d.hup()
        deadline = time.monotonic() + 20
        while "reload done" not in d.log_since(off):
            assert time.monotonic() < deadline, d.log_since(off)
            time.sleep(0.1)
        second = [w.event() for _ in range(9)]
        execs2 = {s for s in second if w.kinds[s] != "login"}
        logins2 = {s for s in second if w.kinds[s] == "login"}
        wait_for(lambda: serials_by_kind(with_sel).get("UserLogin", set()) >= logins2,
                 "logins after the reload")
        time.sleep(2)
        got = serials_by_kind(with_sel)
        assert not (got.get("ExecuteProcess", set()) & execs2), \
            "exec records after the reload reached a management-only trail: %s" % got
        w.close()
        d.stop()


def test_bad_selector_refused_at_start():
    with htlib.Env("config-selectors-bad") as env:
        bad = [{"read_write_type": "All",
                "data_resources": [{"type": "Host::Nope", "values": ["/"]}]}]
        cfg = make_config(env, env.path("audit.log"), "event_selectors", bad)
        d = env.daemon(cfg)
        try:
            d.start()
            raise AssertionError("started with an invalid selector")
        except htlib.DaemonError:
            pass
        assert d.proc.wait(10) == 78, d.proc.returncode
        log = d.log_text()
        assert "trails[0] (with-selectors): event selectors: EventSelectors[0]." \
               "DataResources[0]" in log and "Host::Nope" in log, log[-1500:]


if __name__ == "__main__":
    htlib.run([test_config_selectors_select_data_events_and_reload,
               test_bad_selector_refused_at_start])
