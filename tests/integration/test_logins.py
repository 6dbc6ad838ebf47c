#!/usr/bin/env python3
"""Issue 7, must-show 4: the logins source (type: logins) maps wtmp and btmp to session and
failed-login records.

The fixtures are written as login, sshd and init write them: through the libc utmp API
(updwtmpx(3), called with ctypes), one struct utmpx per call.  The test checks:
  - a first run starts at the end of the files (start: end): older entries are not sent;
  - session open (StartSession) and close (EndSession, with the user of the open session,
    its start and length), failed logins from btmp (UserLogin, AccessDenied), boot and
    shutdown; user, terminal, source IP (IPv4 and IPv6 from ut_addr_v6, else ut_host),
    times, principalId for a known user;
  - a record that is no utmp record becomes an UnknownLoginRecord (counted as bad), and
    a record written in two halves is read once whole;
  - after SIGTERM and after kill -9, appending more and restarting repeats nothing and
    loses nothing, and a session opened before the restart is closed with its user;
  - rotation by rename (the old file finished, the new one read from its start);
  - start: beginning reads the whole files.
"""

import ctypes
import ctypes.util
import json
import os
import re
import socket
import struct
import time

import htlib

EMPTY, RUN_LVL, BOOT_TIME, NEW_TIME, OLD_TIME, INIT_PROCESS, LOGIN_PROCESS, USER_PROCESS, \
    DEAD_PROCESS = range(9)


class ExitStatus(ctypes.Structure):
    _fields_ = [("e_termination", ctypes.c_short), ("e_exit", ctypes.c_short)]


class Timeval32(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int32), ("tv_usec", ctypes.c_int32)]


class Utmpx(ctypes.Structure):
    """glibc's struct utmpx on 64-bit hosts (32-bit ut_session and ut_tv)."""
    _fields_ = [("ut_type", ctypes.c_short), ("ut_pid", ctypes.c_int),
                ("ut_line", ctypes.c_char * 32), ("ut_id", ctypes.c_char * 4),
                ("ut_user", ctypes.c_char * 32), ("ut_host", ctypes.c_char * 256),
                ("ut_exit", ExitStatus), ("ut_session", ctypes.c_int32),
                ("ut_tv", Timeval32), ("ut_addr_v6", ctypes.c_int32 * 4),
                ("unused", ctypes.c_char * 20)]


assert ctypes.sizeof(Utmpx) == 384, "this test knows glibc's 64-bit utmpx layout only"
LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
LIBC.updwtmpx.argtypes = [ctypes.c_char_p, ctypes.POINTER(Utmpx)]
LIBC.updwtmpx.restype = None


def entry(typ, user="", line="", host="", addr=None, pid=0, t=None, ident=""):
    u = Utmpx()
    u.ut_type = typ
    u.ut_pid = pid
    u.ut_line = line.encode()
    u.ut_id = ident.encode()[:4]
    u.ut_user = user.encode()
    u.ut_host = host.encode()
    u.ut_session = pid
    t = time.time() if t is None else t
    u.ut_tv.tv_sec = int(t)
    u.ut_tv.tv_usec = int((t % 1) * 1e6)
    if addr and ":" in addr:
        words = struct.unpack("=4i", socket.inet_pton(socket.AF_INET6, addr))
        for i in range(4):
            u.ut_addr_v6[i] = words[i]
    elif addr:
        u.ut_addr_v6[0] = struct.unpack("=i", socket.inet_aton(addr))[0]
    return u


def append(path, u):
    """updwtmpx(3): what login(1) and sshd call; it does not create the file."""
    if not os.path.exists(path):
        open(path, "ab").close()
    ctypes.set_errno(0)
    before = os.path.getsize(path)
    LIBC.updwtmpx(path.encode(), ctypes.byref(u))
    assert os.path.getsize(path) == before + 384, "updwtmpx failed (errno %d)" % \
        ctypes.get_errno()
    return before                   # the entry's offset


# --------------------------------------------------------------------------- daemon

def make_config(env, **src):
    doc = htlib.config_doc(env.root, trails=[], buckets=["spool-1"])
    s = {"type": "logins", "wtmp": env.path("log", "wtmp"), "btmp": env.path("log", "btmp")}
    s.update(src)
    doc["sources"] = [s]
    return env.write_config(doc)




def login_records(d):
    """Records of the logins source in history, oldest first."""
    recs = [r for r in d.history_records()
            if (r.get("additionalEventData") or {}).get("source") == "utmp"]
    recs.sort(key=lambda r: (r["additionalEventData"]["file"],
                             r["additionalEventData"]["inode"],
                             r["additionalEventData"]["offset"]))
    return recs


def key(r):
    a = r["additionalEventData"]
    return (a["file"], a["inode"], a["offset"])


def wait_count(d, n, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        recs = login_records(d)
        if len(recs) >= n:
            time.sleep(0.5)         # anything extra shows up by now
            return login_records(d)
        if time.monotonic() > deadline:
            raise AssertionError("%d login records within %ds, want %d: %s"
                                 % (len(recs), timeout, n,
                                    [(r["eventName"], key(r)) for r in recs]))
        time.sleep(0.2)


def by_offset(recs, file, offset):
    got = [r for r in recs if r["additionalEventData"]["file"] == file and
           r["additionalEventData"]["offset"] == offset]
    assert len(got) == 1, "%s offset %d: %d records" % (file, offset, len(got))
    return got[0]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def check_exactly_once(recs, want):
    keys = [key(r) for r in recs]
    dups = {k for k in keys if keys.count(k) > 1}
    assert not dups, "delivered twice: %s" % sorted(dups)
    assert len(recs) == want, "%d records, want %d: %s" % (
        len(recs), want, [(r["eventName"], key(r)) for r in recs])


def stopped_status(d, offset):
    return d.wait_log(r"stopped: .*?(logins: [^;\n]*)", offset, timeout=10).group(1)


# --------------------------------------------------------------------------- tests

def test_sessions_failed_logins_restarts():
    with htlib.Env("logins") as env:
        os.makedirs(env.path("log"))
        wtmp, btmp = env.path("log", "wtmp"), env.path("log", "btmp")
        t0 = time.time() - 3600
        # already there at the first start: not sent (start: end)
        append(wtmp, entry(USER_PROCESS, "olduser", "pts/9", pid=10, t=t0))
        append(btmp, entry(LOGIN_PROCESS, "oldfail", "ssh:notty", pid=11, t=t0))
        d = env.daemon(make_config(env)).start()
        d.wait_log(r"reading .*/wtmp from offset 384 \(its end: first run")
        d.wait_log(r"reading .*/btmp from offset 384 \(its end: first run")

        t = time.time() - 600
        boot = append(wtmp, entry(BOOT_TIME, "reboot", "~", "6.1.0-test", pid=0, t=t,
                                  ident="~~"))
        s1 = append(wtmp, entry(USER_PROCESS, "alice", "pts/3", "192.0.2.7", "192.0.2.7",
                                pid=4242, t=t + 10, ident="ts/3"))
        s2 = append(wtmp, entry(USER_PROCESS, "root", "tty1", pid=555, t=t + 20, ident="tty1"))
        e1 = append(wtmp, entry(DEAD_PROCESS, "", "pts/3", pid=4242, t=t + 70, ident="ts/3"))
        f1 = append(btmp, entry(LOGIN_PROCESS, "mallory", "ssh:notty", "2001:db8::5",
                                "2001:db8::5", pid=777, t=t + 30))
        f2 = append(btmp, entry(LOGIN_PROCESS, "root", "ssh:notty", "evil.example",
                                pid=778, t=t + 31))
        # garbage, then a record written in two halves
        with open(wtmp, "ab") as f:
            f.write(b"\xff" * 384)
        bad = 5 * 384
        half = bytes(entry(USER_PROCESS, "carol", "pts/4", "198.51.100.1", "198.51.100.1",
                           pid=900, t=t + 80, ident="ts/4"))
        with open(wtmp, "ab") as f:
            f.write(half[:100])
        time.sleep(0.8)
        with open(wtmp, "ab") as f:
            f.write(half[100:])
        s3 = 6 * 384

        recs = wait_count(d, 8)
        check_exactly_once(recs, 8)
        r = by_offset(recs, "wtmp", boot)
        assert (r["eventSource"], r["eventName"], r["eventType"]) == \
            ("host.system", "SystemBoot", "AwsServiceEvent"), r
        assert r["requestParameters"].get("kernel") == "6.1.0-test", r

        r = by_offset(recs, "wtmp", s1)
        assert (r["eventSource"], r["eventName"], r["eventType"], r["eventCategory"]) == \
            ("host.login", "StartSession", "AwsConsoleSignIn", "Management"), r
        assert r["userIdentity"] == {"type": "IAMUser", "userName": "alice"}, r["userIdentity"]
        assert r["sourceIPAddress"] == "192.0.2.7", r
        assert r["eventTime"] == iso(t + 10), (r["eventTime"], iso(t + 10))
        assert r["requestParameters"]["terminal"] == "pts/3" and \
            r["requestParameters"]["pid"] == "4242", r["requestParameters"]
        assert r["resources"] == [{"type": "Host::User", "ARN": "alice"}], r["resources"]

        r = by_offset(recs, "wtmp", s2)
        assert r["userIdentity"] == {"type": "Root", "principalId": "0", "userName": "root"}, \
            r["userIdentity"]
        assert "sourceIPAddress" not in r, "a console login has no source address"

        r = by_offset(recs, "wtmp", e1)
        assert r["eventName"] == "EndSession" and r["userIdentity"]["userName"] == "alice", r
        assert r["sourceIPAddress"] == "192.0.2.7" and r["eventTime"] == iso(t + 70), r
        a = r["additionalEventData"]
        assert a["sessionStart"] == iso(t + 10) and a["sessionSeconds"] == 60, a

        for off, user, ip in ((f1, "mallory", "2001:db8::5"), (f2, "root", "evil.example")):
            r = by_offset(recs, "btmp", off)
            assert (r["eventName"], r["errorCode"], r["errorMessage"]) == \
                ("UserLogin", "AccessDenied", "login failed"), r
            assert r["userIdentity"]["userName"] == user and r["sourceIPAddress"] == ip, r
            assert r["requestParameters"]["terminal"] == "ssh:notty", r

        r = by_offset(recs, "wtmp", bad)
        assert r["eventName"] == "UnknownLoginRecord" and \
            r["additionalEventData"]["bytes"] == "ff" * 384, r
        r = by_offset(recs, "wtmp", s3)
        assert r["eventName"] == "StartSession" and r["userIdentity"]["userName"] == "carol"
        for r in recs:
            for f in htlib.REQUIRED_RECORD_FIELDS:
                assert f in r, "%s: no %s" % (r["eventName"], f)

        # SIGTERM; more while down; restart: the new ones once, carol's session closes
        off = d.log_size()
        assert d.stop() == 0
        status = stopped_status(d, off)
        htlib.log("status: " + status)
        assert "(1 bad" in status, status
        e3 = append(wtmp, entry(DEAD_PROCESS, "", "pts/4", pid=900, t=t + 200, ident="ts/4"))
        f3 = append(btmp, entry(LOGIN_PROCESS, "trudy", "ssh:notty", "203.0.113.9",
                                "203.0.113.9", pid=779, t=t + 201))
        d.start()
        recs = wait_count(d, 10)
        check_exactly_once(recs, 10)
        r = by_offset(recs, "wtmp", e3)
        assert r["eventName"] == "EndSession" and r["userIdentity"]["userName"] == "carol" \
            and r["additionalEventData"]["sessionSeconds"] == 120, \
            "the session opened before the restart: %r" % r
        by_offset(recs, "btmp", f3)

        # kill -9 after new entries are stored but before the checkpoint says so (its
        # writes fail: a directory sits where its temporary file goes): history has them,
        # and they are not sent again; dave's session is still known at its end
        cp = env.path("state", "sources", "logins.checkpoint")
        os.mkdir(cp + ".tmp")
        off = d.log_size()
        s4 = append(wtmp, entry(USER_PROCESS, "dave", "pts/5", pid=901, t=t + 300,
                                ident="ts/5"))
        f4 = append(btmp, entry(LOGIN_PROCESS, "oscar", "ssh:notty", pid=780, t=t + 301))
        recs = wait_count(d, 12)
        d.wait_log(r"cannot write the checkpoint", off)
        d.kill9()
        os.rmdir(cp + ".tmp")
        e4 = append(wtmp, entry(DEAD_PROCESS, "", "pts/5", pid=901, t=t + 330, ident="ts/5"))
        off = d.log_size()
        d.start()
        m = d.wait_log(r"logins: (\d+) records in history since the checkpoint", off)
        assert int(m.group(1)) >= 2, m.group(0)
        recs = wait_count(d, 13)
        check_exactly_once(recs, 13)
        by_offset(recs, "wtmp", s4)
        by_offset(recs, "btmp", f4)
        r = by_offset(recs, "wtmp", e4)
        assert r["userIdentity"]["userName"] == "dave", "after kill -9: %r" % r

        # rotation by rename: the old file is finished, the new one read from its start
        os.rename(wtmp, wtmp + ".1")
        open(wtmp, "ab").close()
        late = append(wtmp + ".1", entry(USER_PROCESS, "erin", "pts/6", pid=902, t=t + 400,
                                         ident="ts/6"))
        new0 = append(wtmp, entry(DEAD_PROCESS, "", "pts/6", pid=902, t=t + 460,
                                  ident="ts/6"))
        d.wait_log(r"logins: .*/wtmp was rotated")
        recs = wait_count(d, 15)
        check_exactly_once(recs, 15)
        inode_old, inode_new = os.stat(wtmp + ".1").st_ino, os.stat(wtmp).st_ino
        r = [x for x in recs if key(x) == ("wtmp", inode_old, late)]
        assert r and r[0]["userIdentity"]["userName"] == "erin", "late write to the old file"
        r = [x for x in recs if key(x) == ("wtmp", inode_new, new0)]
        assert r and r[0]["eventName"] == "EndSession" and \
            r[0]["userIdentity"]["userName"] == "erin", "the new file: %r" % r
        off = d.log_size()
        assert d.stop() == 0
        status = stopped_status(d, off)
        htlib.log("status: " + status)
        assert "2 already in history" in status, "dave's and oscar's entries: " + status
        d.start()
        time.sleep(1.5)
        check_exactly_once(login_records(d), 15)


def test_start_beginning():
    with htlib.Env("logins-begin") as env:
        os.makedirs(env.path("log"))
        wtmp, btmp = env.path("log", "wtmp"), env.path("log", "btmp")
        t = time.time() - 100
        append(wtmp, entry(USER_PROCESS, "alice", "pts/1", pid=1, t=t))
        append(wtmp, entry(DEAD_PROCESS, "", "pts/1", pid=1, t=t + 5))
        append(wtmp, entry(INIT_PROCESS, "", "tty2", pid=2, t=t + 6))    # bookkeeping
        append(btmp, entry(LOGIN_PROCESS, "bob", "ssh:notty", "192.0.2.1", "192.0.2.1",
                           pid=3, t=t + 7))
        d = env.daemon(make_config(env, start="beginning")).start()
        recs = wait_count(d, 3)
        check_exactly_once(recs, 3)
        assert [r["eventName"] for r in recs] == ["UserLogin", "StartSession", "EndSession"], \
            [r["eventName"] for r in recs]
        off = d.log_size()
        assert d.stop() == 0
        status = stopped_status(d, off)
        assert "wtmp 3 entries (0 bad, 1 skipped), btmp 1 entries" in status, status


if __name__ == "__main__":
    htlib.run([test_sessions_failed_logins_restarts, test_start_beginning])
