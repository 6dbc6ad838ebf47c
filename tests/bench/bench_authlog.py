#!/usr/bin/env python3
"""make bench: auth-log lines/s into history, through the type: file source.

  bench_authlog.py --daemon BUILDDIR/hosttraild [--lines N] [--seed S]

  1. Writes a realistic /var/log/auth.log of --lines lines (default 500000) under $TMPDIR, as
     rsyslog writes it on Debian 12 (RFC 3339 timestamps, one day of a busy server): cron's
     PAM sessions (most of a real auth.log), sshd logins by key and password, failed and
     invalid-user attempts and their [preauth] disconnects, sudo commands with their PAM
     sessions, su, systemd-logind sessions, the odd useradd/passwd, and rsyslog's "message
     repeated" lines.  About 125 bytes a line.
  2. Starts hosttraild on it with `start: beginning`, history fsync: interval (the
     default), no trail (only history is measured), and waits until the source's checkpoint
     (written only once the records before it are durable) stands at the end of the file.
  3. Prints the lines/s from the daemon's start to that moment, MB/s, the daemon's CPU time
     (user + system) per 1000 lines, and its peak RSS; then stops it (SIGTERM) and checks its
     final status: every line read and every record durable, none lost or unparsed.

Exit status: 0 done, 1 the count check failed or something broke."""

import argparse
import datetime
import glob
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import htlib  # noqa: E402

USERS = ["alice", "bob", "carol", "deploy", "ansible", "backup", "www-data", "postgres"]
BAD_USERS = ["admin", "test", "oracle", "ubuntu", "guest", "user", "pi", "ftpuser", "support"]
CMDS = ["/usr/bin/systemctl restart nginx.service", "/usr/bin/apt-get update",
        "/usr/bin/journalctl -u ssh --since today", "/usr/bin/tail -n 100 /var/log/syslog",
        "/usr/sbin/ufw status", "/usr/bin/docker ps -a", "/bin/cat /etc/shadow"]
KEY = "ED25519 SHA256:q7T0y1XwH3lUu5Vb4q2c0Hj8mN9pR6sK1tZ2aB3cD4e"


def log(msg):
    print(msg, flush=True)


def ip(r):
    return "%d.%d.%d.%d" % (r.choice((192, 198, 203, 185, 45)), r.randrange(256),
                            r.randrange(256), r.randrange(1, 255))


def event_lines(r, pid):
    """The lines of one thing happening on the host (message parts without time/host)."""
    k = r.random()
    u = r.choice(USERS)
    port = r.randrange(1024, 65536)
    if k < 0.45:                        # cron every minute, for several users
        return ["CRON[%d]: pam_unix(cron:session): session opened for user %s(uid=%d) by "
                "(uid=0)" % (pid, u, 1000 + USERS.index(u)),
                "CRON[%d]: pam_unix(cron:session): session closed for user %s" % (pid, u)]
    if k < 0.65:                        # the internet knocking
        a, b = ip(r), r.choice(BAD_USERS)
        return ["sshd[%d]: Invalid user %s from %s port %d" % (pid, b, a, port),
                "sshd[%d]: pam_unix(sshd:auth): check pass; user unknown" % pid,
                "sshd[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                "tty=ssh ruser= rhost=%s" % (pid, a),
                "sshd[%d]: Failed password for invalid user %s from %s port %d ssh2"
                % (pid, b, a, port),
                "sshd[%d]: Connection closed by invalid user %s %s port %d [preauth]"
                % (pid, b, a, port)]
    if k < 0.75:
        a = ip(r)
        return ["sshd[%d]: Failed password for root from %s port %d ssh2" % (pid, a, port),
                "sshd[%d]: message repeated 2 times: [ Failed password for root from %s port %d "
                "ssh2]" % (pid, a, port),
                "sshd[%d]: Received disconnect from %s port %d:11: Bye Bye [preauth]"
                % (pid, a, port),
                "sshd[%d]: Disconnected from authenticating user root %s port %d [preauth]"
                % (pid, a, port)]
    if k < 0.87:                        # a real login and logout
        a = "192.0.2.%d" % r.randrange(1, 255)
        return ["sshd[%d]: Accepted publickey for %s from %s port %d ssh2: %s"
                % (pid, u, a, port, KEY),
                "sshd[%d]: pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)"
                % (pid, u, 1000 + USERS.index(u)),
                "systemd-logind[612]: New session %d of user %s." % (pid, u),
                "sshd[%d]: Received disconnect from %s port %d:11: disconnected by user"
                % (pid, a, port),
                "sshd[%d]: Disconnected from user %s %s port %d" % (pid, u, a, port),
                "sshd[%d]: pam_unix(sshd:session): session closed for user %s" % (pid, u),
                "systemd-logind[612]: Removed session %d." % pid]
    if k < 0.97:
        return ["sudo:    %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=%s"
                % (u, r.randrange(8), u, r.choice(CMDS)),
                "sudo: pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=%d)"
                % (u, 1000 + USERS.index(u)),
                "sudo: pam_unix(sudo:session): session closed for user root"]
    if k < 0.99:
        return ["su[%d]: (to root) %s on pts/%d" % (pid, u, r.randrange(8)),
                "su[%d]: pam_unix(su-l:session): session opened for user root(uid=0) by "
                "%s(uid=%d)" % (pid, u, 1000 + USERS.index(u)),
                "su[%d]: pam_unix(su-l:session): session closed for user root" % pid]
    n = "svc%d" % pid
    return ["groupadd[%d]: group added to /etc/group: name=%s, GID=%d" % (pid, n, pid % 60000),
            "useradd[%d]: new user: name=%s, UID=%d, GID=%d, home=/home/%s, shell=/bin/bash, "
            "from=/dev/pts/0" % (pid + 1, n, pid % 60000, pid % 60000, n),
            "passwd[%d]: pam_unix(passwd:chauthtok): password changed for %s" % (pid + 2, n)]


def generate(path, n, seed):
    """Write n lines; returns the byte size."""
    r = random.Random(seed)
    t = time.time() - 86400
    step = 86400.0 / n
    pid = 10000
    written = 0
    with open(path, "w") as f:
        buf = []
        while written < n:
            pid += r.randrange(1, 40)
            for msg in event_lines(r, pid):
                if written == n:
                    break
                t += step
                stamp = datetime.datetime.fromtimestamp(t).astimezone().isoformat(
                    timespec="microseconds")
                buf.append("%s web-01 %s\n" % (stamp, msg))
                written += 1
            if len(buf) > 10000:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))
    return os.path.getsize(path)


def checkpoint_offset(state):
    """(inode, offset) in the source's checkpoint file, or None."""
    for p in glob.glob(os.path.join(state, "sources", "file-auth.log-*.checkpoint")):
        try:
            with open(p) as f:
                m = re.search(r"^position (\d+) \d+ [0-9a-f]+ (\d+)$", f.read(), re.M)
        except OSError:
            continue
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--daemon", default=htlib.HOSTTRAILD)
    ap.add_argument("--lines", type=int, default=500000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    htlib.HOSTTRAILD = args.daemon

    with htlib.Env("bench-authlog") as env:
        os.makedirs(env.path("log"))
        path = env.path("log", "auth.log")
        t = time.monotonic()
        size = generate(path, args.lines, args.seed)
        ino = os.stat(path).st_ino
        log("bench_authlog: %d lines, %.1f MB (%.0f bytes/line) written in %.1fs"
            % (args.lines, size / 1e6, size / args.lines, time.monotonic() - t))

        doc = htlib.config_doc(env.root, trails=[], buckets=[])
        doc["sources"] = [{"type": "file", "path": path, "start": "beginning"}]
        doc["history"] = {"fsync": "interval"}
        d = env.daemon(env.write_config(doc), binary=args.daemon)
        t0 = time.monotonic()
        d.start(wait=False)
        deadline = t0 + args.timeout
        while True:
            cp = checkpoint_offset(env.path("state"))
            if cp == (ino, size):
                break
            if not d.alive():
                log("bench_authlog: the daemon exited (status %s)" % d.proc.returncode)
                return 1
            if time.monotonic() > deadline:
                log("bench_authlog: not done after %.0fs (checkpoint %s of %d bytes)"
                    % (args.timeout, cp, size))
                return 1
            time.sleep(0.02)
        took = time.monotonic() - t0
        cpu = cpu_seconds(d.pid)
        rss = d.vm_hwm_kib()
        off = d.log_size()
        rc = d.stop()
        status = d.log_since(off)

    log("")
    log("  auth.log lines into history   %9.0f lines/s   (%d lines in %.2fs, start-up included)"
        % (args.lines / took, args.lines, took))
    log("  throughput                    %9.1f MB/s" % (size / 1e6 / took))
    log("  daemon CPU                    %9.1f ms per 1000 lines (%.2fs user+system)"
        % (cpu * 1e6 / args.lines, cpu))
    log("  peak RSS                      %9.1f MB" % ((rss or 0) / 1024.0))
    m = re.search(r"file \S+: (\d+) lines \((\d+) mapped, (\d+) generic, (\d+) unparsed.*?"
                  r"(\d+) durable, \d+ already in history, (\d+) lost", status)
    if rc != 0 or not m:
        log("bench_authlog: FAIL: exit status %s, no final status line" % rc)
        return 1
    lines, mapped, generic, unparsed, durable, lost = (int(x) for x in m.groups())
    log("  records                       %9d mapped + %d generic (unparsed %d, lost %d)"
        % (mapped, generic, unparsed, lost))
    if lines != args.lines or durable != args.lines or unparsed or lost:
        log("bench_authlog: FAIL: count check: %d lines read, %d records durable, want %d each"
            % (lines, durable, args.lines))
        return 1
    log("  count check                   ok: every line read, every record durable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
