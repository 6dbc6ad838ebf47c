#!/usr/bin/env python3
"""Issue 6, must-show 2: the auditlog source follows audit.log across auditd's rotations and
across daemon restarts (SIGTERM and kill -9), and every event arrives exactly once.

A writer plays auditd: each event (SYSCALL+EXECVE+CWD+PATH+PROCTITLE+EOE groups, raw and
ENRICHED, and standalone USER_LOGIN lines, every one with its own serial) goes to audit.log
in one write(2); rotation renames audit.log.N -> audit.log.N+1, audit.log -> audit.log.1 and
creates a new audit.log.  The writer keeps going while the daemon is rotated under, stopped,
killed and restarted; lines are left half-written across a stop and a kill.  In the end every
serial is in the spool exactly once (additionalEventData.auditSerial), complete (no
"incomplete" flag: no event was cut in two), and garbage lines were counted, not fatal.
Also: a first run starts at the end of the log (history is not replayed) unless
start: beginning, which reads the rotated files first."""

import json
import os
import re
import signal
import threading
import time

import htlib

SELECTORS = [{"ReadWriteType": "All", "IncludeManagementEvents": True,
              "DataResources": [{"Type": "Host::Process", "Values": ["/"]}]}]
ENRICH_SEP = "\x1d"


# --------------------------------------------------------------------------- auditd stand-in

def exec_group(t, serial, enriched=False):
    """The records auditd writes for one execve, as text lines."""
    m = "msg=audit(%.3f:%d):" % (t, serial)
    sc = ("type=SYSCALL %s arch=c000003e syscall=59 success=yes exit=0 a0=55d0c1a0 a1=55d0c1b0 "
          "a2=55d0c1c0 a3=0 items=2 ppid=1234 pid=%d auid=1000 uid=1000 gid=1000 euid=1000 "
          "suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm=\"ls\" "
          "exe=\"/usr/bin/ls\" subj=unconfined key=\"exec\"" % (m, 2000 + serial % 30000))
    if enriched:
        sc += (ENRICH_SEP + "ARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"alice\" "
               "GID=\"alice\" EUID=\"alice\" SUID=\"alice\" FSUID=\"alice\" EGID=\"alice\" "
               "SGID=\"alice\" FSGID=\"alice\"")
    return [
        sc,
        "type=EXECVE %s argc=3 a0=\"ls\" a1=\"-l\" a2=\"/tmp/serial-%d\"" % (m, serial),
        "type=CWD %s cwd=\"/home/alice\"" % m,
        "type=PATH %s item=0 name=\"/usr/bin/ls\" inode=1234 dev=08:01 mode=0100755 ouid=0 "
        "ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0" % m,
        "type=PATH %s item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=5678 dev=08:01 "
        "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 "
        "cap_fver=0" % m,
        "type=PROCTITLE %s proctitle=6C73002D6C" % m,
        "type=EOE %s" % m,
    ]


def login_line(t, serial):
    return ("type=USER_LOGIN msg=audit(%.3f:%d): pid=2345 uid=0 auid=1000 ses=4 "
            "subj=unconfined msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=192.0.2.10 "
            "addr=192.0.2.10 terminal=/dev/pts/1 res=success'" % (t, serial))


class AuditWriter:
    """audit.log as auditd writes it.  written: the serials of every complete event."""

    def __init__(self, path, serial=1000):
        self.path = path
        self.serial = serial
        self.lock = threading.Lock()
        self.written = []
        self.kinds = {}             # serial -> "exec", "enriched" or "login"
        self.fd = None
        self.rotations = 0
        self._open()

    def _open(self):
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def raw(self, data):
        with self.lock:
            os.write(self.fd, data if isinstance(data, bytes) else data.encode())

    def next_lines(self, kind=None):
        """(serial, lines) of the next event; unless kind says, kinds rotate through exec,
        ENRICHED exec and USER_LOGIN."""
        with self.lock:
            self.serial += 1
            s = self.serial
        t = time.time()
        kind = kind or ("exec", "enriched", "login")[s % 3]
        self.kinds[s] = kind
        if kind == "login":
            return s, [login_line(t, s)]
        return s, exec_group(t, s, enriched=(kind == "enriched"))

    def event(self):
        s, lines = self.next_lines()
        with self.lock:
            os.write(self.fd, ("\n".join(lines) + "\n").encode())
            self.written.append(s)
        return s

    def events(self, n):
        for _ in range(n):
            self.event()

    def rotate(self):
        """auditd's rotation (keeping every file, so nothing is deleted under the test)."""
        with self.lock:
            os.close(self.fd)
            k = 1
            while os.path.exists("%s.%d" % (self.path, k)):
                k += 1
            for i in range(k - 1, 0, -1):
                os.rename("%s.%d" % (self.path, i), "%s.%d" % (self.path, i + 1))
            os.rename(self.path, self.path + ".1")
            self._open()
            self.rotations += 1

    def close(self):
        with self.lock:
            os.close(self.fd)


class Stream(threading.Thread):
    """Writes events steadily (and rotates every rotate_every events, if set)."""

    def __init__(self, writer, rate=400, rotate_every=None):
        super().__init__(daemon=True)
        self.w = writer
        self.pause = 1.0 / rate
        self.rotate_every = rotate_every
        self.stop_event = threading.Event()
        self.n = 0
        self.error = None

    def run(self):
        try:
            while not self.stop_event.is_set():
                self.w.event()
                self.n += 1
                if self.rotate_every and self.n % self.rotate_every == 0:
                    self.w.rotate()
                self.stop_event.wait(self.pause)
        except Exception as e:          # noqa: BLE001
            self.error = repr(e)

    def stop(self):
        self.stop_event.set()
        self.join(30)
        assert self.error is None, "writer failed: %s" % self.error


# --------------------------------------------------------------------------- daemon

def make_config(env, log_path, **src):
    doc = htlib.config_doc(env.root, trails=[], buckets=["spool-1"])
    s = {"type": "auditlog", "path": log_path}
    s.update(src)
    doc["sources"] = [s]
    doc["history"]["lookup_data_events"] = True
    doc["trail_defaults"] = {"delivery": {"interval": "1s"}}
    return env.write_config(doc)


def setup_trail(d):
    """An API trail (it keeps its data-event selectors across restarts)."""
    c = d.client()
    for op, p in (("CreateTrail", {"Name": "trail-1", "S3BucketName": "spool-1"}),
                  ("PutEventSelectors", {"TrailName": "trail-1", "EventSelectors": SELECTORS}),
                  ("StartLogging", {"Name": "trail-1"})):
        rep = c.call(op, p)
        assert rep.status == 200, "%s: %r" % (op, rep)
    c.close()


def audit_records(spool):
    """[(serial, record)] of the auditlog records in the spool."""
    spool.scan()
    out = []
    for r in spool.records():
        add = r.get("additionalEventData") or {}
        if add.get("source") == "auditlog":
            out.append((add.get("auditSerial"), r))
    return out


def wait_serials(spool, serials, timeout=90):
    want = set(serials)
    deadline = time.monotonic() + timeout
    while True:
        have = {s for s, _ in audit_records(spool)}
        missing = want - have
        if not missing:
            return
        if time.monotonic() > deadline:
            raise AssertionError("%d of %d events not delivered within %ds (e.g. %s)"
                                 % (len(missing), len(want), timeout, sorted(missing)[:5]))
        time.sleep(0.2)


def check_exactly_once(spool, serials):
    recs = audit_records(spool)
    count = {}
    for s, r in recs:
        count[s] = count.get(s, 0) + 1
    dups = {s: n for s, n in count.items() if n > 1}
    missing = set(serials) - set(count)
    extra = set(count) - set(serials)
    cut = [s for s, r in recs if (r.get("additionalEventData") or {}).get("incomplete")]
    problems = []
    if dups:
        problems.append("%d serials delivered more than once (e.g. %s)"
                        % (len(dups), sorted(dups.items())[:5]))
    if missing:
        problems.append("%d serials missing (e.g. %s)" % (len(missing), sorted(missing)[:5]))
    if extra:
        problems.append("%d serials never written (e.g. %s)" % (len(extra), sorted(extra)[:5]))
    if cut:
        problems.append("%d events delivered incomplete (cut in two?), e.g. %s"
                        % (len(cut), sorted(cut)[:5]))
    assert not problems, "; ".join(problems)
    return recs




def stopped_status(d, offset):
    """The auditlog part of the "stopped:" line logged at SIGTERM."""
    m = d.wait_log(r"stopped: .*?(auditlog [^;\n]*)", offset, timeout=5)
    return m.group(1)


def lookup_serials(d):
    out = []
    for rec in d.history_records():
        add = rec.get("additionalEventData") or {}
        if add.get("source") == "auditlog":
            out.append(add.get("auditSerial"))
    return out


# --------------------------------------------------------------------------- tests

def test_rotation_and_restarts_exactly_once():
    with htlib.Env("auditlog") as env:
        os.makedirs(env.path("audit"))
        log_path = env.path("audit", "audit.log")
        w = AuditWriter(log_path)
        d = env.daemon(make_config(env, log_path, eoe_timeout="2s")).start()
        setup_trail(d)
        spool = env.spool("spool-1")

        # 1. a steady stream with a rotation in the middle, the daemon following
        st = Stream(w, rate=400)
        st.start()
        time.sleep(1.0)
        w.rotate()
        time.sleep(1.0)
        htlib.log("phase 1: %d events, %d rotations" % (len(w.written), w.rotations))

        # 2. SIGTERM while the stream goes on; rotate twice while the daemon is down,
        #    so its checkpoint names audit.log.2 by inode
        off = d.log_size()
        assert d.stop() == 0, "SIGTERM: non-zero exit"
        htlib.log("after SIGTERM: " + stopped_status(d, off))
        time.sleep(0.3)
        w.rotate()
        time.sleep(0.3)
        w.rotate()
        time.sleep(0.3)
        off = d.log_size()
        d.start()
        d.wait_log(r"auditlog .*reading from .*audit\.log\.2 offset \d+ \(the checkpoint",
                 off)
        time.sleep(1.0)

        # 3. kill -9 with the stream running (rotating on its own every 300 events)
        st.rotate_every = 300
        time.sleep(1.5)
        d.kill9()
        time.sleep(0.5)
        d.start()
        time.sleep(1.5)
        st.stop()
        htlib.log("stream: %d events, %d rotations" % (len(w.written), w.rotations))

        # 4. an event left open across a kill -9 while 60 others are written and delivered
        #    after its first lines (auditd interleaves events, never lines), its last line
        #    cut in the middle: after the restart only its own lines are read again, so it
        #    is complete and the others are not repeated
        s, lines = w.next_lines("exec")
        w.raw("\n".join(lines[:3]) + "\n")
        for _ in range(60):
            w.event()
            time.sleep(0.015)
        rest = "\n".join(lines[3:]) + "\n"
        w.raw(rest[:30])
        time.sleep(0.6)             # several checkpoints are written meanwhile
        d.kill9()
        w.raw(rest[30:])
        w.written.append(s)
        d.start()

        # 5. a line half-written across a SIGTERM, inside an exec group: the open event is
        #    left to the checkpoint, not delivered in two parts
        time.sleep(1.0)
        s, lines = w.next_lines("enriched")
        text = "\n".join(lines) + "\n"
        cut = text.index("type=PATH") + 30
        w.raw(text[:cut])
        time.sleep(1.0)
        off = d.log_size()
        assert d.stop() == 0, "SIGTERM: non-zero exit"
        d.wait_log(r"1 events still being written are read again", off, timeout=5)
        w.raw(text[cut:])
        w.written.append(s)
        d.start()

        # 6. while running: a standalone line completed 1.5 s later, garbage, a line too
        #    long to be a record, a NUL; the daemon counts them and goes on
        s, lines = w.next_lines("login")
        line = "\n".join(lines) + "\n"
        w.raw(line[:40])
        time.sleep(1.5)
        w.raw(line[40:])
        w.written.append(s)
        w.raw("this is not an audit record\n")
        w.raw("type=SYSCALL msg=audit(" + "9" * 70000 + "\n")
        w.raw("\x00\x01type=USER_LOGIN msg=audit(1.000:1): res=success\n")
        w.events(50)

        wait_serials(spool, w.written)
        time.sleep(2.5)             # anything delivered twice shows up by now
        recs = check_exactly_once(spool, w.written)
        htlib.log("%d events written (%d rotations), each delivered once" %
                  (len(w.written), w.rotations))

        # the records are what the log said
        by_serial = {s: r for s, r in recs}
        for s in w.written[:60]:
            r = by_serial[s]
            types = r["additionalEventData"].get("auditRecordTypes")
            if w.kinds[s] == "login":
                assert types == ["USER_LOGIN"], (s, types)
            else:
                assert types and types[0] == "SYSCALL" and "EXECVE" in types and \
                    "PROCTITLE" in types and "EOE" not in types, (s, types)
                assert "/tmp/serial-%d" % s in json.dumps(r), \
                    "serial %d: its argv is not in the record: %s" % (s, json.dumps(r)[:800])

        off = d.log_size()
        assert d.stop() == 0
        status = stopped_status(d, off)
        htlib.log("last run: " + status)
        m = re.search(r"\((\d+) bad\)", status)
        assert m and int(m.group(1)) == 3, "want 3 bad lines counted: %s" % status
        assert "not an audit record" in d.log_since(0)
        w.close()


def test_first_run_starts_at_end():
    with htlib.Env("auditlog-end") as env:
        os.makedirs(env.path("audit"))
        log_path = env.path("audit", "audit.log")
        w = AuditWriter(log_path)
        w.events(5)
        old = list(w.written)
        w.raw(login_line(time.time(), 999)[:30])     # a line being written at start-up
        d = env.daemon(make_config(env, log_path)).start()
        d.wait_log(r"reading from .*audit\.log offset \d+ \(its end: first run")
        w.raw(login_line(time.time(), 999)[30:] + "\n")
        w.events(5)
        new = [999] + w.written[5:]
        deadline = time.monotonic() + 30
        while True:
            got = lookup_serials(d)
            if set(new) <= set(got) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sorted(got) == sorted(new), \
            "first run: want only the events written after start-up %s, got %s" % (new, got)
        assert not set(old) & set(got)
        # the checkpoint is there from the start: a restart does not skip ahead
        d.kill9()
        w.events(3)
        d.start()
        new += w.written[10:]
        deadline = time.monotonic() + 30
        while sorted(lookup_serials(d)) != sorted(new):
            assert time.monotonic() < deadline, "after restart: %s, want %s" % (
                lookup_serials(d), new)
            time.sleep(0.2)
        w.close()


def test_start_beginning_reads_rotated_files():
    with htlib.Env("auditlog-begin") as env:
        os.makedirs(env.path("audit"))
        log_path = env.path("audit", "audit.log")
        w = AuditWriter(log_path)
        w.events(4)
        w.rotate()
        w.events(4)
        w.rotate()
        w.events(4)
        d = env.daemon(make_config(env, log_path, start="beginning")).start()
        d.wait_log(r"reading from .*audit\.log\.2 offset 0 \(the oldest rotated file")
        deadline = time.monotonic() + 30
        while sorted(lookup_serials(d)) != sorted(w.written):
            assert time.monotonic() < deadline, "start: beginning: %s, want %s" % (
                sorted(lookup_serials(d)), w.written)
            time.sleep(0.2)
        off = d.log_size()
        d.send_signal(signal.SIGTERM)
        assert d.proc.wait(60) == 0
        assert "12 events" in stopped_status(d, off)
        w.close()


if __name__ == "__main__":
    htlib.run([test_rotation_and_restarts_exactly_once, test_first_run_starts_at_end,
               test_start_beginning_reads_rotated_files])
