#!/usr/bin/env python3
"""Issue 7, must-show 2 (and the auth-log half of must-show 6): the type: file source follows
classic log files across rename rotation, copytruncate rotation and daemon restarts (SIGTERM
and kill -9), and every line's record is in history exactly once.

Two writers play rsyslog, each appending one line per write(2) to its file with O_APPEND:
/var/log/auth.log of Debian 12 (RFC 3339 timestamps) and /var/log/secure of RHEL 9 (the
traditional "Nov 24 06:02:36" timestamp), from the fixtures in tests/fixtures/authlog (sshd,
sudo, su, useradd, usermod, userdel, passwd, cron, logind), each line with a number of its
own (its pid, or "job-N" in a user name or command).  Both files are rotated as logrotate
does while the writers go on:
  - rename ("create"): auth.log -> auth.log.1 (older ones shifted, the third and later
    gzip'd), secure -> secure-DATE-N (dateext); the new file is created at once, and the
    writer goes on writing to the renamed inode for a few lines before it reopens, as rsyslog
    does until logrotate's HUP reaches it;
  - copytruncate: copied to the rotated name, then truncated; the writer is paused from the
    copy to the truncation (lines written in between would be in neither file: logrotate's
    own window, README "The log file source"), right after a burst, so the daemon is behind.
Between those the daemon is stopped (SIGTERM) and killed (kill -9), and the files are rotated
while it is down.  At the end LookupEvents (history) has every line's record exactly once,
with the eventName its fixture line says and the line's own time; the spool of the trail has
each once too.  A line written in two parts waits for its newline (1.5 s and across a
restart), and lines that are not syslog (garbage, NUL padding, an empty line, a line over
64 KiB) become generic records or nothing, counted in the status, never a crash.
Also: dpkg.log (its format chosen by the file name) with install/upgrade/remove/purge and
the bookkeeping lines that make no record; a first run starts at the end of the file."""

import datetime
import gzip
import json
import os
import re
import shutil
import threading
import time

import htlib

FIXTURES = os.path.join(htlib.SRCDIR, "tests", "fixtures", "authlog")
JOB_RE = re.compile(r"job-(\d+)")


def load_fixture(name):
    """[(eventName or "-", template)] of a fixture file."""
    out = []
    with open(os.path.join(FIXTURES, name)) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                ev, tmpl = line.split("\t", 1)
                out.append((ev, tmpl))
    assert out, name
    return out


# Each file's timestamp, and the Unix second it stands for.
def stamp_rfc3339(t):
    return datetime.datetime.fromtimestamp(t).astimezone().isoformat(timespec="microseconds")


def stamp_syslog(t):
    return time.strftime("%b %e %H:%M:%S", time.localtime(t))


def stamp_dpkg(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


class Seq:
    """Numbers unique across every writer of a test."""

    def __init__(self, start=10000):
        self.n = start
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            self.n += 1
            return self.n


class LogWriter:
    """A log file as rsyslog writes it and logrotate rotates it.  expect: seq -> (eventName,
    Unix second of the line) for every line that makes a record; none: seqs of lines that
    make none."""

    def __init__(self, path, fixture, stamp, seq, style="debian"):
        self.path = path
        self.lines = load_fixture(fixture)
        self.stamp = stamp
        self.seq = seq
        self.style = style
        self.i = 0
        self.lock = threading.Lock()
        self.expect = {}
        self.none = set()
        self.rotations = 0
        self.copies = 0
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def make(self, holding=None):
        """(seq, eventName, Unix second, text without newline) of the next fixture line (or
        of the next one holding that text)."""
        while True:
            ev, tmpl = self.lines[self.i % len(self.lines)]
            self.i += 1
            if holding is None or holding in tmpl:
                break
        s = self.seq.next()
        t = time.time()
        return s, ev, int(t), tmpl.replace("{time}", self.stamp(t)).replace("{seq}", str(s))

    def note(self, s, ev, t):
        if ev == "-":
            self.none.add(s)
        else:
            self.expect[s] = (ev, t)

    def write(self, n=1, fd=None):
        for _ in range(n):
            with self.lock:
                s, ev, t, text = self.make()
                os.write(self.fd if fd is None else fd, (text + "\n").encode())
                self.note(s, ev, t)

    def raw(self, data):
        with self.lock:
            os.write(self.fd, data if isinstance(data, bytes) else data.encode())

    def _rotated_name(self):
        """Make room and return the name the current file is rotated to."""
        if self.style == "rhel":            # dateext: a new name every time
            return "%s-%s-%d" % (self.path, time.strftime("%Y%m%d"), self.rotations + 1)
        k = 1
        while os.path.exists("%s.%d" % (self.path, k)) or \
                os.path.exists("%s.%d.gz" % (self.path, k)):
            k += 1
        for i in range(k - 1, 0, -1):
            src = "%s.%d" % (self.path, i)
            if os.path.exists(src + ".gz"):
                os.rename(src + ".gz", "%s.%d.gz" % (self.path, i + 1))
            elif i + 1 >= 3:                # compress, delaycompress: .1 and .2 stay plain
                with open(src, "rb") as fi, gzip.open("%s.%d.gz" % (self.path, i + 1),
                                                      "wb") as fo:
                    shutil.copyfileobj(fi, fo)
                os.unlink(src)
            else:
                os.rename(src, "%s.%d" % (self.path, i + 1))
        return self.path + ".1"

    def rotate_rename(self, late=10, hup_delay=0.0):
        """logrotate's create: rename, create the new file, HUP; the writer writes late lines
        to the renamed inode (hup_delay seconds after the new file appeared: the daemon has
        seen it by then) before it reopens."""
        with self.lock:
            os.rename(self.path, self._rotated_name())
            new = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            time.sleep(hup_delay)
            for _ in range(late):
                s, ev, t, text = self.make()
                os.write(self.fd, (text + "\n").encode())
                self.note(s, ev, t)
            os.close(self.fd)
            self.fd = new
            self.rotations += 1

    def rotate_copytruncate(self):
        """logrotate's copytruncate; the writer waits from the copy to the truncation."""
        with self.lock:
            shutil.copyfile(self.path, self._rotated_name())
            os.truncate(self.path, 0)
            self.rotations += 1
            self.copies += 1

    def close(self):
        with self.lock:
            os.close(self.fd)


class Stream(threading.Thread):
    """Lines to every writer, rate per second each."""

    def __init__(self, writers, rate=150):
        super().__init__(daemon=True)
        self.writers = writers
        self.pause = 1.0 / rate
        self.stop_event = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop_event.is_set():
                for w in self.writers:
                    w.write()
                self.stop_event.wait(self.pause)
        except Exception as e:          # noqa: BLE001
            self.error = repr(e)

    def stop(self):
        self.stop_event.set()
        self.join(30)
        assert self.error is None, "writer failed: %s" % self.error


# --------------------------------------------------------------------------- daemon

def make_config(env, paths, **src):
    doc = htlib.config_doc(env.root)
    doc["sources"] = []
    for p in paths:
        s = {"type": "file", "path": p}
        s.update(src)
        doc["sources"].append(s)
    doc["history"]["lookup_data_events"] = True
    return env.write_config(doc)




def stopped_status(d, offset, path):
    """This source's part of the "stopped:" line logged at SIGTERM."""
    m = d.wait_log(r"stopped: .*?(file %s: [^;\n]*;[^;\n]*)" % re.escape(path), offset,
                 timeout=5)
    return m.group(1)


def seq_of(raw, rec):
    m = JOB_RE.search(raw)
    if m:
        return int(m.group(1))
    add = rec.get("additionalEventData") or {}
    rp = rec.get("requestParameters") or {}
    pid = add.get("pid") or rp.get("pid")
    return int(pid) if pid else None


def lookup_records(d, paths):
    """[(seq, record)] of the records from these files, from LookupEvents."""
    c = d.client()
    events, _ = htlib.lookup_walk(c, {"MaxResults": 50})
    c.close()
    out = []
    for e in events:
        raw = e["CloudTrailEvent"]
        rec = json.loads(raw)
        if (rec.get("additionalEventData") or {}).get("source") in paths:
            out.append((seq_of(raw, rec), rec))
    return out


def spool_records(spool, paths):
    spool.scan()
    return [(seq_of(json.dumps(r), r), r) for r in spool.records()
            if (r.get("additionalEventData") or {}).get("source") in paths]


def wait_seqs(get, want, timeout=90, label=""):
    deadline = time.monotonic() + timeout
    while True:
        have = {s for s, _ in get()}
        missing = set(want) - have
        if not missing:
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s: %d of %d lines have no record after %ds (e.g. %s)"
                                 % (label, len(missing), len(want), timeout,
                                    sorted(missing)[:8]))
        time.sleep(1.0)


def check_exactly_once(recs, expect, none=(), label="", check_time=True):
    """Every expected line's record once, with its eventName (and time); nothing else."""
    count = {}
    for s, r in recs:
        count[s] = count.get(s, 0) + 1
    problems = []
    dups = {s: n for s, n in count.items() if n > 1}
    missing = set(expect) - set(count)
    extra = set(count) - set(expect)
    if dups:
        problems.append("%d lines recorded more than once (e.g. %s)"
                        % (len(dups), sorted(dups.items())[:8]))
    if missing:
        problems.append("%d lines missing (e.g. %s)" % (len(missing), sorted(missing)[:8]))
    if extra:
        problems.append("%d records of no expected line (e.g. %s; %d of them bookkeeping "
                        "lines)" % (len(extra), sorted(extra, key=str)[:8],
                                    len(extra & set(none))))
    wrong = []
    for s, r in recs:
        if s not in expect:
            continue
        ev, t = expect[s]
        if r.get("eventName") != ev:
            wrong.append("%d: %s, want %s" % (s, r.get("eventName"), ev))
        elif check_time and r.get("eventTime") != htlib.utc_now_str(t):
            wrong.append("%d: eventTime %s, want %s" % (s, r.get("eventTime"),
                                                        htlib.utc_now_str(t)))
        add = r.get("additionalEventData") or {}
        if not isinstance(add.get("offset"), int) or \
                not re.match(r"^\d+:\d+:[0-9a-f]{16}$", add.get("fileId", "")):
            wrong.append("%d: no offset/fileId in %s" % (s, add))
    if wrong:
        problems.append("%d records wrong: %s" % (len(wrong), "; ".join(wrong[:8])))
    assert not problems, "%s: %s" % (label, "; ".join(problems))


# --------------------------------------------------------------------------- tests

def test_rotations_and_restarts_exactly_once():
    with htlib.Env("filetail") as env:
        os.makedirs(env.path("log"))
        seq = Seq()
        deb = LogWriter(env.path("log", "auth.log"), "debian12-auth.log", stamp_rfc3339, seq)
        rh = LogWriter(env.path("log", "secure"), "rhel9-secure", stamp_syslog, seq,
                       style="rhel")
        writers = (deb, rh)
        paths = {deb.path, rh.path}
        for w in writers:
            w.write(30)                 # before the first start: start: beginning reads them
        d = env.daemon(make_config(env, [deb.path, rh.path], start="beginning")).start()
        d.wait_log(r"file .*auth\.log: reading from .*auth\.log offset 0 \(first run")
        st = Stream(writers)
        st.start()
        time.sleep(1.0)

        # 1. rename rotation, the writers on the renamed inode for a while after the new
        #    file appeared
        for w in writers:
            w.rotate_rename(late=15, hup_delay=0.4)
        time.sleep(1.0)

        # 2. copytruncate right after a burst, so the daemon is behind at the truncation
        for w in writers:
            w.write(400)
            w.rotate_copytruncate()
        time.sleep(1.0)

        # 3. SIGTERM, then rename rotation while down (twice for auth.log: its checkpoint's
        #    file is auth.log.2 at the restart)
        off = d.log_size()
        assert d.stop() == 0, "SIGTERM: non-zero exit"
        htlib.log("after SIGTERM: " + stopped_status(d, off, deb.path))
        deb.rotate_rename(late=3)
        time.sleep(0.05)
        deb.rotate_rename(late=3)
        rh.rotate_rename(late=3)
        time.sleep(0.3)
        off = d.log_size()
        d.start()
        d.wait_log(r"file .*auth\.log: reading from .*auth\.log\.2 offset \d+ \(the checkpoint",
                 off)
        d.wait_log(r"file .*secure: reading from .*secure-\d+-\d+ offset \d+ \(the checkpoint",
                 off)
        time.sleep(1.0)

        # 4. kill -9 with the stream on; copytruncate while down: the rest is in the copy,
        #    and history may have records beyond the checkpoint
        d.kill9()
        for w in writers:
            w.write(50)
            w.rotate_copytruncate()
        off = d.log_size()
        d.start()
        d.wait_log(r"file .*auth\.log: .*reading the rest from its copy", off)
        time.sleep(1.0)

        # 5. kill -9 right after a rename rotation
        for w in writers:
            w.rotate_rename(late=5)
        time.sleep(0.2)
        d.kill9()
        time.sleep(0.3)
        d.start()
        time.sleep(1.5)
        st.stop()
        htlib.log("streams: %d + %d lines, %d + %d rotations"
                  % (len(deb.expect), len(rh.expect), deb.rotations, rh.rotations))

        # 6. a line written in two parts waits for its newline, 1.5 s and across a SIGTERM
        s, ev, t, text = deb.make("Accepted publickey for alice from 192.0.2.10")
        deb.raw(text[:70])
        time.sleep(1.5)
        got = {x for x, _ in lookup_records(d, paths)}
        assert s not in got, "a line without its newline became a record"
        assert d.stop() == 0
        d.start()
        time.sleep(1.0)
        deb.raw(text[70:] + "\n")
        deb.note(s, ev, t)
        partial = s

        # 7. lines that are no syslog lines: generic records (or none), counted
        s = deb.seq.next()
        deb.raw("this is not a syslog line job-%d\n" % s)
        deb.note(s, "LogMessage", 0)
        s = deb.seq.next()
        deb.raw("Nov 99 25:61:00 broken stamp job-%d\n" % s)
        deb.note(s, "LogMessage", 0)
        deb.raw("\n")
        s, ev, t, text = deb.make("new user:")
        deb.raw(b"\0" * 64 + text.encode() + b"\n")   # the padding a crash leaves
        deb.note(s, ev, t)
        s = deb.seq.next()
        t = time.time()
        deb.raw("%s deb12 app[%d]: %s\n" % (stamp_rfc3339(t), s, "x" * 70000))
        deb.note(s, "LogMessage", int(t))
        long_line = s
        garbage = {s for s, (ev, _) in deb.expect.items() if ev == "LogMessage" and _ == 0}
        for w in writers:
            w.write(20)

        want = dict(deb.expect)
        want.update(rh.expect)
        wait_seqs(lambda: lookup_records(d, paths), want, label="history")
        time.sleep(2.5)                 # anything recorded twice shows up by now
        recs = lookup_records(d, paths)
        timed = {s: v for s, v in want.items() if s not in garbage}
        check_exactly_once([(s, r) for s, r in recs if s not in garbage], timed,
                           deb.none | rh.none, label="history")
        check_exactly_once([(s, r) for s, r in recs if s in garbage],
                           {s: want[s] for s in garbage}, label="history, garbage",
                           check_time=False)
        htlib.log("history: %d lines, each recorded once (%d rotations, %d of them "
                  "copytruncate)" % (len(want), deb.rotations + rh.rotations,
                                     deb.copies + rh.copies))

        by_seq = {s: r for s, r in recs}
        r = by_seq[partial]
        assert r["eventName"] == "UserLogin" and r.get("sourceIPAddress") == "192.0.2.10", \
            "the line written in two parts: %s" % json.dumps(r)[:600]
        for s in garbage:
            add = by_seq[s]["additionalEventData"]
            assert add.get("parseError"), "no parseError: %s" % add
            assert "job-%d" % s in json.dumps(by_seq[s]["requestParameters"])
        add = by_seq[long_line]["additionalEventData"]
        assert add.get("lineTruncated") is True and add.get("lineLength") > 70000, add

        # the trail delivered the same, once each
        spool = env.spool("spool-1")
        wait_seqs(lambda: spool_records(spool, paths), want, timeout=60, label="spool")
        check_exactly_once([(s, r) for s, r in spool_records(spool, paths) if s not in garbage],
                           timed, label="spool")

        off = d.log_size()
        assert d.stop() == 0
        status = stopped_status(d, off, deb.path)
        htlib.log("last run: " + status)
        m = re.search(r"(\d+) unparsed, \d+ skipped, (\d+) empty, (\d+) cut", status)
        assert m and (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (2, 1, 1), \
            "want 2 unparsed, 1 empty and 1 cut line counted: %s" % status
        assert re.search(r" 0 already in history, 0 lost", status), \
            "a SIGTERM leaves an exact checkpoint, and no line is lost: %s" % status
        for w in writers:
            w.close()


def test_dpkg_log():
    with htlib.Env("filetail-dpkg") as env:
        os.makedirs(env.path("log"))
        w = LogWriter(env.path("log", "dpkg.log"), "dpkg.log", stamp_dpkg, Seq(50000))
        w.write(len(w.lines) * 2)
        d = env.daemon(make_config(env, [w.path], start="beginning")).start()
        d.wait_log(r"file .*dpkg\.log: reading from .* dpkg\.log format")
        w.write(len(w.lines))
        w.rotate_rename(late=2)
        w.write(len(w.lines))
        time.sleep(1.0)
        assert d.stop() == 0
        w.write(len(w.lines))
        w.rotate_rename(late=0)
        w.write(len(w.lines) * 2)
        d.start()
        wait_seqs(lambda: lookup_records(d, {w.path}), w.expect, timeout=60, label="dpkg")
        time.sleep(1.5)
        recs = lookup_records(d, {w.path})
        check_exactly_once(recs, w.expect, w.none, label="dpkg")
        for s, r in recs:
            rp = r.get("requestParameters") or {}
            assert rp.get("package") == "job-%d" % s and rp.get("architecture") == "amd64", rp
            if r["eventName"] == "InstallPackage":
                assert rp.get("version") == "1.%d-1" % s, rp
            if r["eventName"] == "UpgradePackage":
                assert rp.get("previousVersion") == "1.0-1", rp
        off = d.log_size()
        assert d.stop() == 0
        status = stopped_status(d, off, w.path)
        assert re.search(r"\d+ skipped", status) and " 0 skipped" not in status, status
        htlib.log("dpkg.log: %d actions recorded once, %d bookkeeping lines skipped"
                  % (len(w.expect), len(w.none)))
        w.close()


def test_first_run_starts_at_end():
    with htlib.Env("filetail-end") as env:
        os.makedirs(env.path("log"))
        w = LogWriter(env.path("log", "auth.log"), "debian12-auth.log", stamp_rfc3339, Seq())
        w.write(10)
        old = set(w.expect) | w.none
        s, ev, t, text = w.make()
        w.raw(text[:40])                # being written at start-up: read whole
        d = env.daemon(make_config(env, [w.path])).start()
        d.wait_log(r"reading from .*auth\.log offset \d+ \(its end: first run")
        cps = os.listdir(env.path("state", "sources"))
        assert any(re.match(r"^file-auth\.log-[0-9a-f]+\.checkpoint$", n) for n in cps), cps
        w.raw(text[40:] + "\n")
        w.note(s, ev, t)
        w.write(5)
        new = {k: v for k, v in w.expect.items() if k not in old}
        wait_seqs(lambda: lookup_records(d, {w.path}), new, timeout=30, label="first run")
        recs = lookup_records(d, {w.path})
        check_exactly_once(recs, new, label="first run")
        # the checkpoint is there from the start: a kill -9 does not skip ahead
        d.kill9()
        w.write(3)
        new = {k: v for k, v in w.expect.items() if k not in old}
        d.start()
        wait_seqs(lambda: lookup_records(d, {w.path}), new, timeout=30, label="after kill -9")
        time.sleep(1.0)
        check_exactly_once(lookup_records(d, {w.path}), new, label="after kill -9")
        w.close()


if __name__ == "__main__":
    htlib.run([test_rotations_and_restarts_exactly_once, test_dpkg_log,
               test_first_run_starts_at_end])
