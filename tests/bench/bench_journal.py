#!/usr/bin/env python3
"""make bench: journal entries/s into history, through the journal source.

  bench_journal.py --daemon BUILDDIR/hosttraild [--entries N] [--rounds R]

  1. systemd-journal-remote (Debian package systemd-journal-remote) is installed with apt-get
     when missing (unless HT_NO_APT=1); exit 77 (skipped) when it cannot be.
  2. N entries (default 200000) in journal export format, with the fields journald stores
     for syslog messages (_BOOT_ID, _HOSTNAME, _PID, _UID, _COMM, _SYSTEMD_UNIT, ...), are
     turned into journal files under $TMPDIR with systemd-journal-remote.  The mix is a busy
     server's: sshd logins and failures, PAM sessions, sudo, systemd unit jobs (with
     MESSAGE_ID/UNIT/JOB_TYPE/JOB_RESULT), useradd/usermod, and half generic messages (cron,
     a web app, the kernel).
  3. For each round, hosttraild starts on a fresh state directory with one source
     {type: journal, directory: DIR, start: beginning} (history fsync: interval, no trail),
     and the time is taken from the source's "reading from its start" log line to its
     "caught up: N entries read since start, all in history" line (logged once the last
     batch is durable).  Reported: the median entries/s, the daemon's CPU time per entry,
     its peak RSS, and the stopped: line's counters.
  4. Checks: the source read N entries, all durable, and history appended N records; exit 1
     otherwise."""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import htlib  # noqa: E402

JR_PATHS = ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote")


def log(msg):
    print(msg, flush=True)


def journal_remote():
    for p in JR_PATHS:
        if os.access(p, os.X_OK):
            return p
    if os.environ.get("HT_NO_APT", "0") not in ("", "0") or os.geteuid() != 0 or \
            shutil.which("apt-get") is None:
        log("bench_journal: systemd-journal-remote missing and apt-get not usable here")
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log("bench_journal: installing systemd-journal-remote with apt-get")
    for cmd in (["apt-get", "install", "-y", "-q", "systemd-journal-remote"],
                ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "systemd-journal-remote"]):
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode == 0 and cmd[1] == "install":
            break
    for p in JR_PATHS:
        if os.access(p, os.X_OK):
            return p
    return None


MIX = [
    # (weight, ident, unit, uid, extra fields, message template)
    (6, "sshd", "ssh.service", 0, {},
     "Accepted publickey for deploy from 10.0.%d.%d port %d ssh2: ED25519 "
     "SHA256:0xKw1tTz3dS5Yr7eZq0M1bJp4nq9XbX2w8h4kCk3yE"),
    (6, "sshd", "ssh.service", 0, {},
     "Failed password for invalid user admin from 203.0.%d.%d port %d ssh2"),
    (6, "sshd", "ssh.service", 0, {},
     "pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)"),
    (6, "sudo", "session-1.scope", 0, {},
     "  deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl "
     "restart app%d-%d-%d"),
    (4, "systemd", "init.scope", 0, {"MESSAGE_ID": "39f53479d3a045ac8e11786248231fbf",
                                     "UNIT": "app.service", "JOB_TYPE": "start",
                                     "JOB_RESULT": "done"},
     "Started app.service - Application server."),
    (2, "useradd", "session-1.scope", 0, {},
     "new user: name=u%d_%d, UID=%d, GID=1000, home=/home/u, shell=/bin/bash, from=/dev/pts/0"),
    (10, "CRON", "cron.service", 0, {}, "(root) CMD (command -v debian-sa1 > /dev/null && "
     "debian-sa1 1 1 # %d.%d.%d)"),
    (10, "app", "app.service", 33, {}, "GET /api/v1/items/%d?page=%d 200 %dms"),
    (10, "kernel", None, 0, {}, "[UFW BLOCK] IN=eth0 OUT= SRC=198.51.%d.%d DST=10.0.0.1 "
     "PROTO=TCP SPT=%d DPT=23"),
]


def generate(path, n):
    """Export text of n entries into path."""
    boot = uuid.uuid4().hex
    t = int(time.time() - 86400) * 1000000
    mono = 10000000
    table = []
    for w, *rest in MIX:
        table += [rest] * w
    with open(path, "wb") as f:
        for i in range(n):
            ident, unit, uid, extra, tmpl = table[i % len(table)]
            t += 137
            mono += 137
            msg = tmpl % ((i // 250) % 250, i % 250, 1024 + i % 60000) if "%" in tmpl else tmpl
            lines = ["__REALTIME_TIMESTAMP=%d" % t, "__MONOTONIC_TIMESTAMP=%d" % mono,
                     "_BOOT_ID=" + boot, "_MACHINE_ID=" + boot, "_HOSTNAME=bench",
                     "_TRANSPORT=" + ("kernel" if ident == "kernel" else "syslog"),
                     "PRIORITY=6", "SYSLOG_FACILITY=4", "_UID=%d" % uid, "_GID=%d" % uid,
                     "_PID=%d" % (1 if ident == "systemd" else 1000 + i % 30000),
                     "_COMM=" + ident.lower(), "_EXE=/usr/sbin/" + ident.lower(),
                     "SYSLOG_IDENTIFIER=" + ident]
            if unit:
                lines.append("_SYSTEMD_UNIT=" + unit)
            lines += ["%s=%s" % kv for kv in extra.items()]
            lines.append("MESSAGE=" + msg)
            f.write(("\n".join(lines) + "\n\n").encode())


def vm_hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_s(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def wait_text(path, pattern, timeout, proc):
    deadline = time.monotonic() + timeout
    while True:
        with open(path, "rb") as f:
            m = re.search(pattern, f.read().decode("utf-8", "replace"))
        if m:
            return time.monotonic(), m
        if proc.poll() is not None:
            raise RuntimeError("hosttraild exited (%s) before %r" % (proc.returncode, pattern))
        if time.monotonic() > deadline:
            raise RuntimeError("no %r within %ds" % (pattern, timeout))
        time.sleep(0.01)


def one_round(daemon, work, jdir, n, timeout):
    root = tempfile.mkdtemp(prefix="round-", dir=work)
    doc = htlib.config_doc(root, trails=[], buckets=["spool-1"])
    doc["sources"] = [{"type": "journal", "directory": jdir, "start": "beginning"}]
    cfg = os.path.join(root, "hosttrail.yaml")
    with open(cfg, "w") as f:
        f.write(htlib.to_yaml(doc))
    logp = os.path.join(root, "hosttraild.log")
    with open(logp, "wb") as lf:
        proc = subprocess.Popen([daemon, "-f", "-c", cfg], stdout=lf, stderr=subprocess.STDOUT)
    try:
        t0, _ = wait_text(logp, r"journal .*: reading from its start", 60, proc)
        cpu0 = cpu_s(proc.pid)
        t1, m = wait_text(logp, r"caught up: (\d+) entries read since start", timeout, proc)
        cpu1 = cpu_s(proc.pid)
        hwm = vm_hwm_kib(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
        with open(logp, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        stopped = re.search(r"stopped: (.*)", text)
        stopped = stopped.group(1) if stopped else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    read = int(m.group(1))
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    shutil.rmtree(root, ignore_errors=True)
    return t1 - t0, read, cpu, hwm, stopped, proc.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--entries", type=int, default=200000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=600, help="per round, seconds")
    a = ap.parse_args()
    jr = journal_remote()
    if jr is None:
        log("SKIP: systemd-journal-remote is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="bench-journal-", dir=os.environ.get("TMPDIR"))
    try:
        jdir = os.path.join(work, "journal")
        os.makedirs(jdir)
        export = os.path.join(work, "entries.export")
        t = time.monotonic()
        generate(export, a.entries)
        log("generated %d entries of export text (%.1f MB) in %.1fs" %
            (a.entries, os.path.getsize(export) / 1e6, time.monotonic() - t))
        t = time.monotonic()
        with open(export, "rb") as f:
            p = subprocess.run([jr, "--output=" + os.path.join(jdir, "system.journal"), "-"],
                               stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            log("systemd-journal-remote failed: %s" % p.stdout.decode()[-2000:])
            return 1
        size = sum(os.path.getsize(os.path.join(jdir, x)) for x in os.listdir(jdir))
        log("systemd-journal-remote: %d files, %.1f MB, in %.1fs" %
            (len(os.listdir(jdir)), size / 1e6, time.monotonic() - t))
        os.unlink(export)
        rates, ok = [], True
        for r in range(a.rounds):
            secs, read, cpu, hwm, stopped, rc = one_round(a.daemon, work, jdir, a.entries,
                                                          a.timeout)
            rate = read / secs if secs > 0 else float("inf")
            rates.append(rate)
            log("round %d: %d entries in %.2fs = %.0f entries/s; CPU %s; peak RSS %s; exit %s"
                % (r + 1, read, secs, rate,
                   "%.2fs (%.1f us/entry)" % (cpu, cpu * 1e6 / read) if cpu and read else "?",
                   "%d MB" % (hwm // 1024) if hwm else "?", rc))
            log("  stopped: " + stopped)
            checks = [(read == a.entries, "entries read %d, want %d" % (read, a.entries)),
                      ("%d durable" % a.entries in stopped, "not all durable"),
                      ("history: %d records appended" % a.entries in stopped,
                       "history did not append %d records" % a.entries),
                      (rc == 0, "exit status %s" % rc)]
            for good, why in checks:
                if not good:
                    log("  CHECK FAILED: " + why)
                    ok = False
        log("")
        log("journal -> history: median %.0f entries/s over %d rounds of %d entries "
            "(min %.0f, max %.0f)" % (statistics.median(rates), len(rates), a.entries,
                                      min(rates), max(rates)))
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
