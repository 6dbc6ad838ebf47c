#!/usr/bin/env python3
"""Issue 2, must-show 6: with NOTIFY_SOCKET set to a datagram socket the test listens on,
READY=1 (with STATUS=) arrives after start, once the API accepts; SIGHUP gives RELOADING=1
then READY=1; SIGTERM gives STOPPING=1 and exit status 0.  Also with an abstract socket
("@name"), and WATCHDOG=1 pings when WATCHDOG_USEC asks for them."""

import os
import socket
import time

import htlib

READY_TIMEOUT = 10.0


def api_accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def lifecycle(env, notify_path, notify):
    doc = htlib.config_doc(env.root, trails=[htlib.trail("trail-1", "spool-1")])
    d = env.daemon(env.write_config(doc), extra_env={"NOTIFY_SOCKET": notify_path})
    t0 = time.monotonic()
    d.start(wait=False)
    m = notify.wait_for("READY", "1", READY_TIMEOUT)
    htlib.log("READY=1 %.2fs after start: %r" % (m[0] - t0, m[2]))
    assert d.alive(), "the daemon exited after READY=1"
    # READY means the sources run: the API answers right now, without retrying.
    assert api_accepts(d.socket_path), "READY=1 was sent before the API socket accepts"
    ev = [htlib.make_event("notify-1")]
    htlib.check_ok_reply(d.client().post_events("default", ev), ev)
    status = [x for x in notify.messages if "STATUS" in x[1]]
    assert status, "no STATUS= was sent by READY time: %r" % [x[2] for x in notify.messages]
    assert all("STOPPING" not in x[1] and "RELOADING" not in x[1] for x in notify.messages), \
        "unexpected messages before READY: %r" % [x[2] for x in notify.messages]

    n = len(notify.messages)
    d.hup()
    r = notify.wait_for("RELOADING", "1", READY_TIMEOUT)
    m2 = notify.wait_for("READY", "1", READY_TIMEOUT)
    assert r[0] <= m2[0]
    htlib.log("SIGHUP: %r" % [x[2] for x in notify.messages[n:]])
    assert d.alive(), "the daemon exited on SIGHUP"
    ev = [htlib.make_event("notify-2")]
    htlib.check_ok_reply(d.client().post_events("default", ev), ev)

    n = len(notify.messages)
    d.send_signal(15)
    s = notify.wait_for("STOPPING", "1", READY_TIMEOUT)
    rc = d.proc.wait(htlib.STOP_TIMEOUT)
    htlib.log("SIGTERM: %r, exit %s" % ([x[2] for x in notify.messages[n:]], rc))
    assert s is not None
    assert rc == 0, "exit status after SIGTERM %s, want 0" % rc
    after = [x[2] for x in notify.messages[n:] if "READY" in x[1]]
    assert not after, "READY=1 after STOPPING: %r" % after


def test_ready_reloading_stopping():
    with htlib.Env("notify") as env:
        path = env.path("notify.sock")
        notify = htlib.Notify(path)
        try:
            lifecycle(env, path, notify)
        finally:
            notify.close()


def test_abstract_notify_socket():
    with htlib.Env("notify-abs") as env:
        path = "@hosttrail-test-%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000)
        notify = htlib.Notify(path)
        try:
            lifecycle(env, path, notify)
        finally:
            notify.close()


def test_watchdog_pings():
    """WATCHDOG_USEC set (no WATCHDOG_PID, which means "this process"): WATCHDOG=1 at least
    every half interval."""
    with htlib.Env("watchdog") as env:
        path = env.path("notify.sock")
        notify = htlib.Notify(path)
        doc = htlib.config_doc(env.root, trails=[htlib.trail("trail-1", "spool-1")])
        d = env.daemon(env.write_config(doc),
                       extra_env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        d.start(wait=False)
        notify.wait_for("READY", "1", READY_TIMEOUT)
        t0 = time.monotonic()
        pings = []
        while time.monotonic() - t0 < 4.5:
            m = notify.recv(0.2)
            if m and m[1].get("WATCHDOG") == "1":
                pings.append(m[0])
        assert len(pings) >= 3, "WATCHDOG_USEC=2s: %d WATCHDOG=1 in 4.5s, want >= 3 " \
                                "(every <= 1s); got %r" % (len(pings), [x[2] for x in
                                                                        notify.messages])
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert max(gaps) < 2.0, "gap of %.2fs between WATCHDOG=1 pings (interval 2s)" % max(gaps)
        assert d.stop() == 0
        notify.close()


if __name__ == "__main__":
    htlib.run([test_ready_reloading_stopping, test_abstract_notify_socket,
               test_watchdog_pings])
