#!/usr/bin/env python3
"""Issue 7, must-show 1 and the journal half of must-show 6: the journal source reads journal
files through sd-journal.

Fixture journals are built here from journal export format text with systemd-journal-remote
(Debian package systemd-journal-remote; autogen.sh installs it, and without it this file prints
"SKIP: <reason>" and exits 77).  Every entry has its own millisecond, so the record of an entry
is found by additionalEventData.logTime.

- every message kind hostmsg maps, in the fields each program really writes to the journal
  (sshd accepted/failed/invalid user with the address, a PAM session, sudo's command and its
  refusal, su and its failure, systemd's unit jobs with MESSAGE_ID/UNIT/JOB_TYPE/JOB_RESULT,
  useradd, usermod, userdel, groupadd, passwd, chpasswd), plus unmapped entries (cron, an
  audit-transport line, a message with a NUL byte, one without MESSAGE), read from a directory
  with start: beginning: each becomes the expected record (eventSource, eventName, the user,
  sourceIPAddress, errorCode, resources), the generic ones host.syslog/LogMessage with the
  message, every record tagged with its journal cursor; the bad entry is counted, not lost;
- restarts: entries appended to the first file and a second file (what journald's rotation
  does) while the daemon is down are read after the restart, and nothing is read twice; a
  third file and the removal of the first (vacuuming) while it runs are followed; a checkpoint
  put back to an older one (a crash between history's write and the checkpoint's) repeats
  nothing, since the records history already has are recognized by cursor;
- a first run with the default start: end reads only entries written after it started, and
  a directory that does not exist yet is a warning and a retry, then read whole once it comes;
- matches: two journal sources on one directory with different matches (one of them an OR of
  two with "+") each get exactly the entries their matches select."""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import uuid

import htlib

JOURNAL_REMOTE = next((p for p in ("/lib/systemd/systemd-journal-remote",
                                   "/usr/lib/systemd/systemd-journal-remote")
                       if os.access(p, os.X_OK)), None)

ID_STARTED = "39f53479d3a045ac8e11786248231fbf"
ID_FAILED = "be02cf6855d2428ba40df7e9d022f03d"
ID_STOPPED = "9d1aaa27d60140bd96365438aad20286"
ID_RESULT = "d9b373ed55a64feb8242e02dbe79a49c"


# --------------------------------------------------------------------------- fixtures

def export_entry(fields):
    """One entry in journal export format: FIELD=value lines, or the binary form (name,
    newline, 64-bit little-endian length, data, newline) for values with NUL or newline."""
    out = bytearray()
    for k, v in fields:
        v = v.encode() if isinstance(v, str) else v
        if b"\n" in v or b"\0" in v:
            out += k.encode() + b"\n" + struct.pack("<Q", len(v)) + v + b"\n"
        else:
            out += k.encode() + b"=" + v + b"\n"
    return bytes(out + b"\n")


class Journal:
    """Writes journal files into a directory, one boot, time always moving on.  Each entry
    gets a unique millisecond: its key is the record's additionalEventData.logTime."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.boot = uuid.uuid4().hex
        self.mono = 5000000
        self.t_us = int(time.time() - 3600) * 1000000
        self.pid = 4000

    def entry(self, ident, message, pid=None, uid=0, unit=None, **extra):
        """(key, fields) of a new entry as journald stores a syslog message; extra adds
        fields (MESSAGE_ID=..., UNIT=...); message None leaves MESSAGE out."""
        self.t_us += 7000
        self.mono += 7000
        self.pid += 1
        fields = [("__REALTIME_TIMESTAMP", str(self.t_us)),
                  ("__MONOTONIC_TIMESTAMP", str(self.mono)),
                  ("_BOOT_ID", self.boot), ("_HOSTNAME", "testhost"),
                  ("_TRANSPORT", extra.pop("_TRANSPORT", "syslog")),
                  ("PRIORITY", "6"), ("SYSLOG_FACILITY", "10"),
                  ("_UID", str(uid)), ("_GID", str(uid)),
                  ("_PID", str(pid if pid is not None else self.pid)),
                  ("_COMM", ident), ("SYSLOG_IDENTIFIER", ident)]
        if unit:
            fields.append(("_SYSTEMD_UNIT", unit))
        fields += list(extra.items())
        if message is not None:
            fields.append(("MESSAGE", message))
        key = "%d.%03d" % (self.t_us // 1000000, (self.t_us // 1000) % 1000)
        return key, fields

    def write(self, name, entries):
        """Append entries to DIR/name (created if new) with systemd-journal-remote."""
        data = b"".join(export_entry(e[1]) for e in entries)
        p = subprocess.run([JOURNAL_REMOTE, "--output=" + os.path.join(self.dir, name), "-"],
                           input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        assert p.returncode == 0, "systemd-journal-remote: %s" % p.stdout.decode()[-2000:]
        want = "writing %d entries" % len(entries)
        assert want in p.stdout.decode(), "systemd-journal-remote: %r" % p.stdout.decode()


def expect(src, name, user=None, ip=None, err=None, res=(), ident_type=None):
    return {"eventSource": src, "eventName": name, "user": user, "ip": ip, "err": err,
            "res": list(res), "identity": ident_type}


def all_kinds(j):
    """[(key, fields, expectation)] of every mapped kind and some unmapped entries."""
    out = []

    def add(exp, ident, message, **kw):
        key, fields = j.entry(ident, message, **kw)
        out.append((key, fields, exp))

    ssh = {"unit": "ssh.service"}
    add(expect("host.login", "UserLogin", "alice", "192.0.2.10", res=[("Host::User", "alice")]),
        "sshd", "Accepted password for alice from 192.0.2.10 port 50110 ssh2", **ssh)
    add(expect("host.login", "UserLogin", "bob", "192.0.2.11", res=[("Host::User", "bob")]),
        "sshd", "Accepted publickey for bob from 192.0.2.11 port 50111 ssh2: ED25519 "
        "SHA256:0xKw1tTz3dS5Yr7eZq0M1bJp4nq9XbX2w8h4kCk3yE", **ssh)
    add(expect("host.login", "UserLogin", "alice", "198.51.100.7", err="AccessDenied",
               res=[("Host::User", "alice")]),
        "sshd", "Failed password for alice from 198.51.100.7 port 50112 ssh2", **ssh)
    add(expect("host.login", "UserLogin", "(invalid user)", "198.51.100.8", err="AccessDenied"),
        "sshd", "Failed password for invalid user mallory from 198.51.100.8 port 50113 ssh2",
        **ssh)
    add(expect("host.login", "CheckAccount", "(invalid user)", "198.51.100.8",
               err="AccessDenied"),
        "sshd", "Invalid user mallory from 198.51.100.8 port 50114", **ssh)
    add(expect("host.login", "StartSession", "alice", res=[("Host::User", "alice")]),
        "sshd", "pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
        **ssh)
    add(expect("host.privilege", "RunCommand", "alice",
               res=[("Host::User", "root"), ("Host::Process", "/usr/bin/apt-get")]),
        "sudo", "    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; "
        "COMMAND=/usr/bin/apt-get update", unit="session-3.scope")
    add(expect("host.privilege", "RunCommand", "mallory", err="AccessDenied",
               res=[("Host::User", "root"), ("Host::Process", "/usr/bin/cat")]),
        "sudo", "mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/mallory ; USER=root ; "
        "COMMAND=/usr/bin/cat /etc/shadow", uid=1001, unit="session-4.scope")
    add(expect("host.privilege", "SwitchUser", "alice", res=[("Host::User", "root")]),
        "su", "(to root) alice on pts/0", uid=1000, unit="session-3.scope")
    add(expect("host.privilege", "SwitchUser", "alice", err="AccessDenied",
               res=[("Host::User", "root")]),
        "su", "FAILED SU (to root) alice on pts/0", uid=1000, unit="session-3.scope")
    systemd = {"pid": 1, "unit": "init.scope", "_TRANSPORT": "journal"}
    add(expect("host.service", "StartService", res=[("Host::Service", "ssh.service")],
               ident_type="AWSService"),
        "systemd", "Started ssh.service - OpenBSD Secure Shell server.", MESSAGE_ID=ID_STARTED,
        UNIT="ssh.service", JOB_TYPE="start", JOB_RESULT="done", **systemd)
    add(expect("host.service", "StopService", res=[("Host::Service", "ssh.service")],
               ident_type="AWSService"),
        "systemd", "Stopped ssh.service - OpenBSD Secure Shell server.", MESSAGE_ID=ID_STOPPED,
        UNIT="ssh.service", JOB_TYPE="stop", JOB_RESULT="done", **systemd)
    add(expect("host.service", "StartService", err="Failed",
               res=[("Host::Service", "nginx.service")], ident_type="AWSService"),
        "systemd", "Failed to start nginx.service - A high performance web server and a "
        "reverse proxy server.", MESSAGE_ID=ID_FAILED, UNIT="nginx.service", JOB_TYPE="start",
        JOB_RESULT="failed", **systemd)
    add(expect("host.service", "StopService", err="Failed",
               res=[("Host::Service", "nginx.service")], ident_type="AWSService"),
        "systemd", "nginx.service: Failed with result 'exit-code'.", MESSAGE_ID=ID_RESULT,
        UNIT="nginx.service", UNIT_RESULT="exit-code", **systemd)
    shadow = {"unit": "session-3.scope"}
    add(expect("host.identity", "CreateGroup", res=[("Host::Group", "bob")],
               ident_type="AWSService"),
        "useradd", "new group: name=bob, GID=1001", **shadow)
    add(expect("host.identity", "CreateUser", res=[("Host::User", "bob")],
               ident_type="AWSService"),
        "useradd", "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, "
        "from=/dev/pts/0", **shadow)
    add(expect("host.identity", "UpdateGroup", res=[("Host::User", "bob"), ("Host::Group", "sudo")],
               ident_type="AWSService"),
        "usermod", "add 'bob' to group 'sudo'", **shadow)
    add(expect("host.identity", "UpdateUser", res=[("Host::User", "bob")],
               ident_type="AWSService"),
        "usermod", "change user 'bob' shell from '/bin/bash' to '/bin/zsh'", **shadow)
    add(expect("host.identity", "CreateGroup", res=[("Host::Group", "devs")],
               ident_type="AWSService"),
        "groupadd", "group added to /etc/group: name=devs, GID=1002", **shadow)
    add(expect("host.identity", "ChangePassword", res=[("Host::User", "bob")],
               ident_type="AWSService"),
        "passwd", "pam_unix(passwd:chauthtok): password changed for bob", **shadow)
    add(expect("host.identity", "ChangePassword", res=[("Host::User", "carol")],
               ident_type="AWSService"),
        "chpasswd", "pam_unix(chpasswd:chauthtok): password changed for carol", **shadow)
    add(expect("host.identity", "DeleteUser", res=[("Host::User", "bob")],
               ident_type="AWSService"),
        "userdel", "delete user 'bob'", **shadow)
    # not in the mapping: generic records with the message
    add(expect("host.syslog", "LogMessage", ident_type="AWSService"),
        "CRON", "(root) CMD (cd / && run-parts --report /etc/cron.hourly)", unit="cron.service")
    add(expect("host.syslog", "LogMessage", ident_type="AWSService"),
        "audit", "USER_START pid=2201 uid=0 auid=1000 ses=3 msg='op=PAM:session_open "
        "acct=\"root\" exe=\"/usr/bin/sudo\" res=success'", _TRANSPORT="audit")
    return out


def bad_kinds(j):
    """Entries hostmsg cannot read normally: still records (generic), never lost."""
    out = []
    key, fields = j.entry("myapp", b"binary \x00 payload")
    out.append((key, fields, expect("host.syslog", "LogMessage", ident_type="AWSService")))
    key, fields = j.entry("myapp", None, CODE_FUNC="main")   # structured, no MESSAGE
    out.append((key, fields, expect("host.syslog", "LogMessage", ident_type="AWSService")))
    return out


def plain(j, n, ident="myapp", prefix="plain"):
    out = []
    for i in range(n):
        key, fields = j.entry(ident, "%s message %d" % (prefix, i))
        out.append((key, fields, expect("host.syslog", "LogMessage", ident_type="AWSService")))
    return out


# --------------------------------------------------------------------------- daemon

def make_config(env, sources):
    doc = htlib.config_doc(env.root, trails=[], buckets=["spool-1"])
    doc["sources"] = sources
    return env.write_config(doc)


def journal_records(d):
    """{logTime: [record, ...]} of the journal records LookupEvents returns."""
    out = {}
    for rec in d.history_records():
        add = rec.get("additionalEventData") or {}
        if add.get("source") == "journal":
            out.setdefault(add.get("logTime"), []).append(rec)
    return out


def wait_records(d, keys, timeout=60):
    want = set(keys)
    deadline = time.monotonic() + timeout
    while True:
        got = journal_records(d)
        if want <= set(got):
            return got
        if time.monotonic() > deadline:
            missing = sorted(want - set(got))
            raise AssertionError("%d of %d entries not in history within %ds (e.g. %s); "
                                 "log: %s" % (len(missing), len(want), timeout, missing[:5],
                                              d.log_text()[-2000:]))
        time.sleep(0.2)




def stop_status(d):
    """SIGTERM; the journal parts of the "stopped:" line."""
    off = d.log_size()
    assert d.stop() == 0, "SIGTERM: non-zero exit"
    m = d.wait_log(r"stopped: .*", off, timeout=5)
    return re.findall(r"journal [^;\n]*;[^;\n]*", m.group(0))


def counter(status, name):
    m = re.search(r"(\d+) " + name, status)
    assert m, "no %r in %r" % (name, status)
    return int(m.group(1))


def check_exactly(got, entries, label):
    """got has exactly one record for each entry and nothing else."""
    keys = [k for k, _, _ in entries]
    dups = {k: len(v) for k, v in got.items() if len(v) > 1}
    missing = set(keys) - set(got)
    extra = set(got) - set(keys)
    assert not dups and not missing and not extra, \
        "%s: %d duplicated (e.g. %s), %d missing (e.g. %s), %d unexpected (e.g. %s)" % (
            label, len(dups), sorted(dups.items())[:3], len(missing), sorted(missing)[:3],
            len(extra), sorted(extra)[:3])


def check_record(rec, fields, exp):
    """One record against its entry and the expectation."""
    f = dict((k, v) for k, v in fields)
    ctx = "%s %r: %s" % (f.get("SYSLOG_IDENTIFIER"), f.get("MESSAGE"), json.dumps(rec)[:1500])
    for k in ("eventSource", "eventName"):
        assert rec.get(k) == exp[k], "%s: want %s %s" % (ctx, k, exp[k])
    ui = rec.get("userIdentity") or {}
    if exp["user"] is not None:
        assert ui.get("userName") == exp["user"], "%s: want user %s" % (ctx, exp["user"])
    if exp["identity"] is not None:
        assert ui.get("type") == exp["identity"], "%s: want identity %s" % (ctx, exp["identity"])
    assert rec.get("sourceIPAddress") == exp["ip"], "%s: want sourceIPAddress %s" % (ctx, exp["ip"])
    assert rec.get("errorCode") == exp["err"], "%s: want errorCode %s" % (ctx, exp["err"])
    res = [(r.get("type"), r.get("ARN")) for r in rec.get("resources") or []]
    assert res == exp["res"], "%s: want resources %s" % (ctx, exp["res"])
    add = rec["additionalEventData"]
    assert add.get("node") == "testhost", ctx
    assert re.match(r"^s=[0-9a-f]{32};i=[0-9a-f]+;b=%s;" % f["_BOOT_ID"],
                    add.get("journalCursor", "")), "%s: journalCursor" % ctx
    assert re.match(r"^[0-9a-f]{8}$", add.get("journalSource", "")), "%s: journalSource" % ctx
    ident = f.get("SYSLOG_IDENTIFIER")
    assert rec.get("userAgent") == ident, "%s: userAgent" % ctx
    if exp["eventName"] == "LogMessage":
        msg = f.get("MESSAGE", "")     # hostmsg: no message is an empty one
        if isinstance(msg, bytes):
            msg = msg.decode().replace("\x00", "\\x00")
        assert (rec.get("requestParameters") or {}).get("message") == msg, \
            "%s: the message is not kept" % ctx


def check_all(got, entries, label):
    check_exactly(got, entries, label)
    for key, fields, exp in entries:
        check_record(got[key][0], fields, exp)


def cursor_file(env):
    d = os.path.join(env.root, "state", "sources")
    names = [n for n in os.listdir(d) if n.startswith("journal-") and n.endswith(".cursor")]
    assert len(names) == 1, names
    return os.path.join(d, names[0])


# --------------------------------------------------------------------------- tests

def test_kinds_restarts_rotation_exactly_once():
    with htlib.Env("journal") as env:
        j = Journal(env.path("jdir"))
        first = all_kinds(j) + bad_kinds(j)
        j.write("system.journal", first)
        cfg = make_config(env, [{"type": "journal", "directory": j.dir, "start": "beginning"}])
        d = env.daemon(cfg).start()
        d.wait_log(r"journal .*jdir: reading from its start \(start: beginning\)")
        got = wait_records(d, [k for k, _, _ in first])
        check_all(got, first, "first run")
        htlib.log("first run: %d entries, every kind mapped as expected" % len(first))
        status = stop_status(d)[0]
        htlib.log("stopped: " + status)
        assert counter(status, "entries read") == len(first), status
        assert counter(status, "bad") == 1, "the NUL entry is counted as bad: " + status
        assert counter(status, "generic") == 4, status
        assert counter(status, "mapped") == len(first) - 4, status
        old_cp = open(cursor_file(env)).read()
        assert "\ncursor s=" in old_cp and "\nhistory 2" in old_cp, old_cp

        # down: journald appends to the active file and rotates into a new one
        more = plain(j, 5, prefix="appended")
        j.write("system.journal", more)
        rotated = plain(j, 5, prefix="rotated")
        j.write("system@rotated.journal", rotated)
        off = d.log_size()
        d.start()
        d.wait_log(r"reading from the checkpoint \(after the entry of", off)
        got = wait_records(d, [k for k, _, _ in more + rotated])
        check_all(got, first + more + rotated, "after a restart")
        htlib.log("restart: %d new entries in two files, nothing repeated" % (len(more) + len(rotated)))

        # running: a new file appears, and the first one is vacuumed
        third = plain(j, 5, prefix="third")
        j.write("system@third.journal", third)
        got = wait_records(d, [k for k, _, _ in third])
        os.unlink(os.path.join(j.dir, "system.journal"))
        fourth = plain(j, 5, prefix="fourth")
        j.write("system@rotated.journal", fourth)
        got = wait_records(d, [k for k, _, _ in fourth])
        check_all(got, first + more + rotated + third + fourth, "rotation and vacuuming")
        status = stop_status(d)[0]
        htlib.log("stopped: " + status)
        assert counter(status, "journal file changes") >= 1, status
        assert counter(status, "entries read") == 20, status

        # a crash between history's write and the checkpoint's: the older checkpoint comes
        # back, and history's records of the later entries keep them from being sent again
        fifth = plain(j, 3, prefix="fifth")
        j.write("system@third.journal", fifth)
        htlib.write_file_atomic(cursor_file(env), old_cp)
        off = d.log_size()
        d.start()
        d.wait_log(r"history already has 20 entries from beyond the checkpoint", off)
        got = wait_records(d, [k for k, _, _ in fifth])
        time.sleep(1.0)     # anything read twice would show up by now
        got = journal_records(d)
        check_all(got, first + more + rotated + third + fourth + fifth, "after a crash")
        status = stop_status(d)[0]
        htlib.log("after the old checkpoint: " + status)
        # 20 in history beyond the old checkpoint, of which the 5 appended to the vacuumed
        # file are no longer in the journal: 15 met again and skipped
        assert counter(status, "already in history") == 15, status
        assert counter(status, "entries read") == 3, status


def test_first_run_starts_at_end_and_waits_for_directory():
    with htlib.Env("journal-end") as env:
        j = Journal(env.path("jdir"))
        old = plain(j, 4, prefix="old")
        j.write("system.journal", old)
        missing = env.path("later")
        cfg = make_config(env, [{"type": "journal", "directory": j.dir},
                                {"type": "journal", "directory": missing,
                                 "checkpoint": "later.cursor"}])
        d = env.daemon(cfg).start()
        d.wait_log(r"jdir: reading from its end: first run")
        d.wait_log(r"journal .*later: cannot open \(no such directory\); retrying")
        new = plain(j, 3, prefix="new")
        j.write("system.journal", new)
        got = wait_records(d, [k for k, _, _ in new])
        time.sleep(0.5)
        got = journal_records(d)
        assert not set(got) & {k for k, _, _ in old}, "start: end replayed old entries"

        # the missing directory appears: all of it is new
        j2 = Journal(missing)
        j2.t_us = j.t_us + 10000000
        later = plain(j2, 4, prefix="later")
        j2.write("system.journal", later)
        got = wait_records(d, [k for k, _, _ in later])
        check_exactly(got, new + later, "start: end and a late directory")

        # the starting point was durable from the start: a kill -9 does not skip ahead
        d.kill9()
        after = plain(j, 2, prefix="after")
        j.write("system.journal", after)
        d.start()
        got = wait_records(d, [k for k, _, _ in after])
        time.sleep(0.5)
        check_exactly(journal_records(d), new + later + after, "after kill -9")
        for s in stop_status(d):
            htlib.log("stopped: " + s)


def test_matches():
    with htlib.Env("journal-matches") as env:
        j = Journal(env.path("jdir"))
        entries = all_kinds(j) + plain(j, 3)
        j.write("system.journal", entries)
        sources = [{"type": "journal", "directory": j.dir, "start": "beginning",
                    "matches": ["SYSLOG_IDENTIFIER=sudo"]},
                   {"type": "journal", "directory": j.dir, "start": "beginning",
                    "matches": ["_SYSTEMD_UNIT=ssh.service", "+", "_TRANSPORT=audit"]}]
        d = env.daemon(make_config(env, sources)).start()

        def fields(e):
            return dict(e[1])
        sudo = [e for e in entries if fields(e).get("SYSLOG_IDENTIFIER") == "sudo"]
        ssh_or_audit = [e for e in entries if fields(e).get("_SYSTEMD_UNIT") == "ssh.service"
                        or fields(e).get("_TRANSPORT") == "audit"]
        assert len(sudo) == 2 and len(ssh_or_audit) == 7
        wait_records(d, [k for k, _, _ in sudo + ssh_or_audit])
        time.sleep(1.0)
        got = journal_records(d)
        check_all(got, sudo + ssh_or_audit, "two sources with matches")
        by_source = {}
        for recs in got.values():
            by_source.setdefault(recs[0]["additionalEventData"]["journalSource"], set()).add(
                recs[0]["additionalEventData"]["logTime"])
        assert sorted(map(len, by_source.values())) == [2, 7], by_source
        st = stop_status(d)
        htlib.log("stopped: " + " | ".join(st))
        assert sorted(counter(s, "entries read") for s in st) == [2, 7], st


if __name__ == "__main__":
    if JOURNAL_REMOTE is None:
        print("SKIP: systemd-journal-remote is not installed (Debian package "
              "systemd-journal-remote; autogen.sh installs it)")
        sys.exit(77)
    htlib.run([test_kinds_restarts_rotation_exactly_once,
               test_first_run_starts_at_end_and_waits_for_directory,
               test_matches])
