#!/usr/bin/env python3
"""gen_auditlog.py - a realistic audit.log for bench_audit.py (hosttrail vs laurel).

  gen_auditlog.py -o FILE [--size MB] [--seed N] [--format enriched|raw] [--no-trailers]

Writes at least --size MB (10^6 bytes; default 220) of audit.log lines as auditd writes
them on a Debian host with execve and file-watch rules and log_format = ENRICHED (its
default; --format raw drops the 0x1d interpretations), then prints what it wrote.  The
same seed and size give the same bytes.

The mix, by events (printed at the end):
  ~72% execve   SYSCALL(execve) + EXECVE (1-6 arguments; ones with spaces, quotes or
                non-ASCII are hex-encoded unquoted, as the kernel does; 1 in 300 has an
                argument over 7500 bytes, written as aN_len + aN[0], aN[1] chunks over two
                EXECVE records) + CWD + PATH x2 (the binary, ld.so) + PROCTITLE (hex, cut
                at 128 bytes like the kernel) + EOE; from login sessions, cron and daemons.
  ~12% watch    SYSCALL openat/unlink/unlinkat/rename on watched files (key="watch"),
                5% denied (success=no exit=-13) + CWD + PATH items + PROCTITLE + EOE.
  ~14% login    standalone USER_AUTH/USER_ACCT/CRED_ACQ/USER_START/USER_LOGIN/USER_END/
                CRED_DISP/CRED_REFR/USER_LOGOUT/CRYPTO_KEY_USER/USER_CMD lines of sshd
                (password and public key, successful and brute-force failures), sudo and
                cron, in msg='...' form; the LOGIN record of a session start, followed by
                the SYSCALL (write to /proc/self/loginuid) + PROCTITLE + EOE of the same
                serial, as the kernel logs it when syscall rules are loaded.
  ~1.5% admin   ADD_GROUP/ADD_USER (useradd), USER_CHAUTHTOK (passwd), USER_MGMT,
                SERVICE_START/SERVICE_STOP (systemd), CONFIG_CHANGE (auditctl; 2 in 3
                followed by their SYSCALL + PROCTITLE + EOE).
Serials increase (with gaps), timestamps increase, and two or three events are open at
once with their lines mixed, as auditd writes concurrent syscalls.

Trailers.  A standalone record (USER_*, LOGIN, CONFIG_CHANGE, ...) followed by the
SYSCALL records of the same audit(TIME:SERIAL) is two events for hosttrail (the standalone
one and a "trailer", daemon/sources/audit_parse.h) but one for laurel when laurel treats
the standalone type as a kernel multi-record type (LOGIN, CONFIG_CHANGE: laurel 0.5.1
joins them with the SYSCALL up to the EOE); after a USER_* record laurel too emits two
(the USER_* one at once, the SYSCALL part when it expires).  The summary counts both, so
bench_audit.py can check each tool's count exactly: events (hosttrail's count) and
laurel_events (events - trailers after LOGIN/CONFIG_CHANGE).  --no-trailers writes none
(then both counts are the same).

The last line printed is machine-readable:
  EVENTS events=N laurel_events=N trailers=N trailers_joined=N lines=N bytes=N
"""

import argparse
import os
import random
import sys

BASE_MS = 1735689600000  # 2025-01-01T00:00:00Z
GS = "\x1d"
UNSET = 4294967295
MAX_EXECVE_AUDIT_LEN = 7500
PROCTITLE_MAX = 128

USERS = {0: "root", 33: "www-data", 107: "postgres", 1000: "alice", 1001: "bob",
         1002: "carol", 1003: "dave", 1004: "deploy", 1005: "ci"}
HUMANS = [1000, 1001, 1002, 1003, 1004, 1005]
REMOTE = ["203.0.113.5", "203.0.113.17", "198.51.100.23", "192.0.2.44", "10.20.0.8",
          "10.20.0.9", "2001:db8::5"]
ATTACKERS = ["198.51.100.7", "45.155.205.233", "193.32.162.71", "218.92.0.112"]
BAD_USERS = ["root", "admin", "oracle", "test", "ubuntu", "git", "user1", "(invalid user)"]

BINARIES = {
    # comm: (exe, inode)
    "ls": ("/usr/bin/ls", 1835021), "cat": ("/usr/bin/cat", 1835010),
    "grep": ("/usr/bin/grep", 1835044), "git": ("/usr/bin/git", 1841207),
    "python3": ("/usr/bin/python3.11", 1846613), "bash": ("/usr/bin/bash", 1835008),
    "sh": ("/usr/bin/dash", 1835013), "curl": ("/usr/bin/curl", 1840311),
    "ps": ("/usr/bin/ps", 1838806), "systemctl": ("/usr/bin/systemctl", 1838115),
    "find": ("/usr/bin/find", 1835630), "tar": ("/usr/bin/tar", 1835101),
    "gzip": ("/usr/bin/gzip", 1835049), "sed": ("/usr/bin/sed", 1835096),
    "awk": ("/usr/bin/mawk", 1835702), "id": ("/usr/bin/id", 1835055),
    "date": ("/usr/bin/date", 1835028), "sleep": ("/usr/bin/sleep", 1835099),
    "docker": ("/usr/bin/docker", 1851470), "kubectl": ("/usr/local/bin/kubectl", 2228231),
    "vim": ("/usr/bin/vim.basic", 1843390), "ssh": ("/usr/bin/ssh", 1839975),
    "rsync": ("/usr/bin/rsync", 1840112), "apt-get": ("/usr/bin/apt-get", 1836310),
    "dpkg": ("/usr/bin/dpkg", 1836201), "journalctl": ("/usr/bin/journalctl", 1838109),
    "psql": ("/usr/lib/postgresql/15/bin/psql", 1849022), "php": ("/usr/bin/php8.2", 1850117),
    "logrotate": ("/usr/sbin/logrotate", 1837754), "run-parts": ("/usr/bin/run-parts", 1835961),
    "nginx": ("/usr/sbin/nginx", 1848805), "uname": ("/usr/bin/uname", 1835107),
    "df": ("/usr/bin/df", 1835030), "head": ("/usr/bin/head", 1835052),
    "wc": ("/usr/bin/wc", 1835112), "make": ("/usr/bin/make", 1841001),
    "cc1": ("/usr/libexec/gcc/x86_64-linux-gnu/12/cc1", 1844502),
}

WORDS = ["fix", "update", "release", "config", "tests", "build", "deploy", "cache", "nginx",
         "retry", "timeout", "logging", "metrics", "orders", "billing", "auth", "migration"]
DIRS = ["/tmp", "/var/log", "/etc", "/srv/app", "/home/{u}", "/home/{u}/src/api",
        "/var/www/html", "/opt/app", "/var/lib/postgresql", "/home/{u}/My Documents"]


def interactive_argv(r, user):
    """One command line typed in a shell: argv (1 to 6 strings)."""
    home = "/home/" + USERS.get(user, "alice")
    d = r.choice(DIRS).replace("{u}", USERS.get(user, "alice"))
    w = r.choice(WORDS)
    k = r.randrange(40)
    if k < 4:
        return ["ls", r.choice(["-la", "-l", "-lh", "-1"]), d][: r.randint(1, 3)]
    if k < 7:
        return ["cat", r.choice(["/etc/os-release", "/var/log/syslog", home + "/.bashrc",
                                 "/proc/meminfo", "/srv/app/.env"])]
    if k < 10:
        return ["grep", "-rn", r.choice([w, "error " + w, "TODO", "'%s'" % w, "ñandú"]), d]
    if k < 13:
        return ["git", "commit", "-m", "%s: %s %s" % (w, r.choice(WORDS), r.choice(WORDS))]
    if k < 15:
        return ["git", r.choice(["status", "pull", "push", "fetch", "log", "diff"])]
    if k < 17:
        return ["python3", "/opt/app/manage.py", r.choice(["migrate", "shell", "runserver",
                                                           "collectstatic"]), "--noinput"]
    if k < 19:
        return ["bash", "-c", r.choice(['for f in *.log; do gzip "$f"; done',
                                        "cd /srv/app && ./deploy.sh --env prod",
                                        "echo $HOME | tr a-z A-Z", "ulimit -n 4096"])]
    if k < 21:
        return ["curl", "-fsSL", "https://api.example.com/v1/%s?id=%d" % (w, r.randrange(1 << 16)),
                "-H", "Authorization: Bearer %016x" % r.getrandbits(64)]
    if k < 22:
        return ["ps", r.choice(["aux", "-ef", "-o", "pid,comm"])]
    if k < 24:
        return ["systemctl", r.choice(["status", "restart", "reload", "is-active"]),
                r.choice(["nginx", "postgresql", "app.service", "cron"])]
    if k < 25:
        return ["find", "/var/log", "-name", "*.gz", "-mtime", "+7"]
    if k < 26:
        return ["tar", "czf", "/tmp/backup-%d.tgz" % r.randrange(1000), d]
    if k < 27:
        return ["sed", "-i", "s/%s = 1/%s = 2/" % (w, w), "/etc/app/app.conf"]
    if k < 28:
        return ["awk", "{print $1}", "/var/log/nginx/access.log"]
    if k < 29:
        return ["id"]
    if k < 30:
        return ["date", "+%Y-%m-%d %H:%M:%S"]
    if k < 32:
        return ["docker", r.choice(["ps", "images", "logs", "exec"]), "-a"][: r.randint(2, 3)]
    if k < 34:
        return ["kubectl", "get", "pods", "-n", r.choice(["default", "kube-system", "orders"]),
                "-o", "wide"][: r.randint(3, 6)]
    if k < 35:
        return ["vim", d + "/" + w + ".conf"]
    if k < 36:
        return ["ssh", "-i", home + "/.ssh/id_ed25519", "deploy@10.20.0.%d" % r.randrange(2, 50)]
    if k < 37:
        return ["rsync", "-az", "--delete", d + "/", "backup:/srv/backup" + d]
    if k < 38:
        return ["head", "-n", str(r.choice([10, 50, 100])), "/var/log/auth.log"]
    if k < 39:
        return ["make", "-j4", r.choice(["all", "check", "install"])]
    return ["journalctl", "-u", r.choice(["nginx", "ssh", "cron"]), "--since", "1 hour ago"]


def daemon_argv(r):
    """Commands run by cron, systemd units and services (auid unset)."""
    k = r.randrange(12)
    if k < 3:
        return ["sh", "-c", r.choice(["command -v debian-sa1 > /dev/null && debian-sa1 1 1",
                                      "/usr/lib/php/sessionclean",
                                      "test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily"])]
    if k < 5:
        return ["run-parts", "--report", "/etc/cron.hourly"]
    if k < 6:
        return ["logrotate", "/etc/logrotate.conf"]
    if k < 7:
        return ["psql", "-U", "postgres", "-c", "SELECT count(*) FROM orders"]
    if k < 8:
        return ["php", "/var/www/html/cron.php", "--quiet"]
    if k < 9:
        return ["nginx", "-t"]
    if k < 10:
        return ["uname", "-a"]
    if k < 11:
        return ["df", "-h", "/"]
    return ["cc1", "-quiet", "-I", "/usr/include", "main.c", "-O2"]


def needs_hex(s):
    return any(c <= " " or c >= "\x7f" or c == '"' for c in s)


def hexstr(b):
    return b.hex().upper()


def enc(s):
    """A value as audit writes an untrusted string: quoted, or hex when it must be."""
    if needs_hex(s):
        return hexstr(s.encode())
    return '"' + s + '"'


def proctitle(argv):
    b = "\0".join(argv).encode()[:PROCTITLE_MAX]
    if len(argv) == 1 and not needs_hex(argv[0]):
        return '"' + b.decode(errors="replace") + '"'
    return hexstr(b)


class Gen:
    def __init__(self, seed, fmt):
        self.r = random.Random(seed)
        self.enriched = fmt == "enriched"
        self.serial = 184200 + self.r.randrange(1000)
        self.t = BASE_MS + self.r.randrange(86400000)
        self.pid = 20000
        self.sessions = []  # (auid, ses, tty, shell pid, addr)
        self.next_ses = 3
        self.counts = {}
        self.trailers = 0
        self.trailers_joined = 0

    # -- helpers --
    def hdr(self, typ):
        return "type=%s msg=audit(%d.%03d:%d): " % (typ, self.ct // 1000, self.ct % 1000,
                                                     self.cs)

    def new_event(self, kind):
        """Start an event: the serial and time its records share."""
        r = self.r
        self.serial += 1 if r.random() < 0.9 else r.randint(2, 6)
        self.t += int(r.expovariate(1 / 12.0)) + 1
        self.cs, self.ct = self.serial, self.t
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def next_pid(self):
        self.pid += self.r.randint(1, 9)
        if self.pid > 4000000:
            self.pid = 20000
        return self.pid

    def nm(self, uid):
        return "unset" if uid == UNSET else USERS.get(uid, "unknown(%d)" % uid)

    def interp(self, text):
        return GS + text if self.enriched else ""

    def syscall(self, name, nr, a, items, ppid, pid, auid, uid, ses, tty, comm, exe, key,
                success=True, exit_=0, gid=None):
        gid = uid if gid is None else gid
        line = (self.hdr("SYSCALL") +
                "arch=c000003e syscall=%d success=%s exit=%d a0=%s a1=%s a2=%s a3=%s items=%d "
                "ppid=%d pid=%d auid=%d uid=%d gid=%d euid=%d suid=%d fsuid=%d egid=%d "
                "sgid=%d fsgid=%d tty=%s ses=%d comm=%s exe=%s subj=unconfined key=%s" %
                (nr, "yes" if success else "no", exit_, a[0], a[1], a[2], a[3], items, ppid,
                 pid, auid, uid, gid, uid, uid, uid, gid, gid, gid, tty, ses, enc(comm),
                 enc(exe), key))
        u, g = self.nm(uid), self.nm(gid)
        return line + self.interp(
            'ARCH=x86_64 SYSCALL=%s AUID="%s" UID="%s" GID="%s" EUID="%s" SUID="%s" FSUID="%s" '
            'EGID="%s" SGID="%s" FSGID="%s"' % (name, self.nm(auid), u, g, u, u, u, g, g, g))

    def path(self, item, name, inode, mode, nametype, ouid=0, ogid=0):
        return (self.hdr("PATH") +
                "item=%d name=%s inode=%d dev=fe:01 mode=%s ouid=%d ogid=%d rdev=00:00 "
                "nametype=%s cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0" %
                (item, enc(name), inode, mode, ouid, ogid, nametype) +
                self.interp('OUID="%s" OGID="%s"' % (self.nm(ouid), self.nm(ogid))))

    def user_msg(self, typ, pid, uid, auid, ses, msg, id_name=None):
        """A user-space record; with ENRICHED, id=N in msg is interpreted too (ID="name")."""
        extra = ""
        if " id=" in msg or msg.startswith("id="):
            n = int(msg.split("id=", 1)[1].split(" ", 1)[0])
            extra = ' ID="%s"' % (id_name or self.nm(n))
        return (self.hdr(typ) + "pid=%d uid=%d auid=%d ses=%d subj=unconfined msg='%s'" %
                (pid, uid, auid, ses, msg) +
                self.interp('UID="%s" AUID="%s"%s' % (self.nm(uid), self.nm(auid), extra)))

    def addr(self):
        return "%012x" % (0x7ffc00000000 | self.r.getrandbits(32))

    # -- events: each returns a list of lines --
    def execve(self, argv, auid, uid, ses, tty, ppid, cwd, key='"exec"'):
        r = self.r
        self.new_event("execve")
        pid = self.next_pid()
        comm = argv[0]
        exe, inode = BINARIES[comm]
        long_arg = r.randrange(300) == 0
        if long_arg:
            argv = argv[:5] + ["".join(r.choice("abcdefghij0123456789 ,;") for _ in
                                   range(r.randint(8000, 14000)))]
        lines = [self.syscall("execve", 59, (self.addr(), self.addr(), self.addr(), "8"), 2,
                              ppid, pid, auid, uid, ses, tty, comm, exe, key)]
        parts = ["argc=%d" % len(argv)]
        second = None
        for i, a in enumerate(argv):
            if len(a) > MAX_EXECVE_AUDIT_LEN:
                # as the kernel: aN_len, then chunks, the rest in a second EXECVE record
                b = a.encode()
                hexed = needs_hex(a)
                step = MAX_EXECVE_AUDIT_LEN // 2 if hexed else MAX_EXECVE_AUDIT_LEN
                chunks = [b[j:j + step] for j in range(0, len(b), step)]
                parts.append("a%d_len=%d" % (i, len(b)))
                cs = ["a%d[%d]=%s" % (i, j, hexstr(c) if hexed else '"' + c.decode() + '"')
                      for j, c in enumerate(chunks)]
                parts.append(cs[0])
                second = cs[1:]
            else:
                parts.append("a%d=%s" % (i, enc(a)))
        lines.append(self.hdr("EXECVE") + " ".join(parts))
        if second:
            lines.append(self.hdr("EXECVE") + " ".join(second))
        lines.append(self.hdr("CWD") + "cwd=" + enc(cwd))
        lines.append(self.path(0, exe, inode, "0100755", "NORMAL"))
        lines.append(self.path(1, "/lib64/ld-linux-x86-64.so.2", 1837312, "0100755", "NORMAL"))
        lines.append(self.hdr("PROCTITLE") + "proctitle=" + proctitle(argv))
        lines.append(self.hdr("EOE"))
        return lines

    def session_execve(self):
        r = self.r
        if not self.sessions or r.random() < 0.35:
            # cron jobs and services: no login user
            argv = daemon_argv(r)[: r.randint(1, 6)]
            uid = r.choice([0, 0, 0, 33, 107])
            return self.execve(argv, UNSET, uid, UNSET, "(none)", r.choice([1, 612, 845, 901]),
                               r.choice(["/", "/var/lib/postgresql", "/var/www/html"]))
        auid, ses, tty, shell, _ = r.choice(self.sessions)
        argv = interactive_argv(r, auid)[:6]
        uid = 0 if r.random() < 0.15 else auid  # under sudo
        cwd = r.choice(["/home/%s" % USERS[auid], "/home/%s/src/api" % USERS[auid], "/srv/app",
                        "/tmp", "/home/%s/My Documents" % USERS[auid]])
        return self.execve(argv, auid, uid, ses, tty, shell, cwd)

    def watch(self):
        r = self.r
        self.new_event("watch")
        if self.sessions and r.random() < 0.7:
            auid, ses, tty, shell, _ = r.choice(self.sessions)
            uid = 0 if r.random() < 0.6 else auid
        else:
            auid, ses, tty, shell, uid = UNSET, UNSET, "(none)", 1, 0
        pid = self.next_pid()
        comm = r.choice(["vim", "sed", "python3", "bash", "cat"])
        exe = BINARIES[comm][0]
        target = r.choice(["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers",
                           "/etc/ssh/sshd_config", "/etc/crontab", "/var/www/html/index.php",
                           "/home/%s/.ssh/authorized_keys" % USERS.get(auid, "alice")])
        parent = target.rsplit("/", 1)[0] + "/"
        denied = uid != 0 and r.random() < 0.5 or r.random() < 0.05
        op = r.randrange(10)
        ino = 1000000 + r.randrange(900000)
        pino = 1000000 + r.randrange(900000)
        if op < 6:
            name, nr = "openat", 257
            a = ("ffffff9c", self.addr(), r.choice(["241", "41", "2", "80241"]), "1b6")
            paths = [self.path(0, target, ino, "0100644", "NORMAL")]
            if a[2] in ("241", "41") and r.random() < 0.3:
                paths = [self.path(0, parent, pino, "040755", "PARENT"),
                         self.path(1, target, ino, "0100644", "CREATE")]
        elif op < 8:
            name, nr = r.choice([("unlink", 87), ("unlinkat", 263)])
            a = ("ffffff9c", self.addr(), "0", "0") if nr == 263 else \
                (self.addr(), "0", "0", "0")
            paths = [self.path(0, parent, pino, "040755", "PARENT"),
                     self.path(1, target, ino, "0100644", "DELETE")]
        else:
            name, nr = "rename", 82
            a = (self.addr(), self.addr(), "0", "0")
            tmp = parent + "." + target.rsplit("/", 1)[1] + ".swp"
            paths = [self.path(0, parent, pino, "040755", "PARENT"),
                     self.path(1, parent, pino, "040755", "PARENT"),
                     self.path(2, tmp, ino + 1, "0100644", "DELETE"),
                     self.path(3, target, ino, "0100644", "DELETE"),
                     self.path(4, target, ino + 1, "0100644", "CREATE")]
        if denied:
            paths = paths[:1]
        lines = [self.syscall(name, nr, a, len(paths), shell, pid, auid, uid, ses, tty, comm,
                              exe, '"watch"', success=not denied,
                              exit_=-13 if denied else (3 if nr == 257 else 0))]
        lines.append(self.hdr("CWD") + "cwd=" + enc("/home/%s" % USERS.get(auid, "root")
                                                   if auid != UNSET else "/"))
        lines += paths
        lines.append(self.hdr("PROCTITLE") + "proctitle=" + proctitle([comm, target]))
        lines.append(self.hdr("EOE"))
        return lines

    def standalone(self, kind, typ, pid, uid, auid, ses, msg, id_name=None):
        self.new_event(kind)
        return [self.user_msg(typ, pid, uid, auid, ses, msg, id_name)]

    def login_record(self, pid, auid, ses, comm, exe, proc, ppid):
        """LOGIN and, unless --no-trailers, the SYSCALL/PROCTITLE/EOE of its write()."""
        self.new_event("login")
        lines = [self.hdr("LOGIN") +
                 "pid=%d uid=0 subj=unconfined old-auid=%d auid=%d tty=(none) old-ses=%d "
                 "ses=%d res=1" % (pid, UNSET, auid, UNSET, ses) +
                 self.interp('UID="root" OLD-AUID="unset" AUID="%s"' % self.nm(auid))]
        if self.with_trailers:
            self.trailers += 1
            self.trailers_joined += 1
            self.counts["login"] += 1
            lines.append(self.syscall("write", 1, ("8", self.addr(), "4", "0"), 0, ppid, pid,
                                      auid, 0, ses, "(none)", comm, exe, "(null)", exit_=4))
            lines.append(self.hdr("PROCTITLE") + "proctitle=" + proctitle([proc]))
            lines.append(self.hdr("EOE"))
        return lines

    def ssh_login(self):
        """An sshd session start: a list of events (each a list of lines)."""
        r = self.r
        auid = r.choice(HUMANS)
        acct = USERS[auid]
        addr = r.choice(REMOTE)
        pid = self.next_pid()
        ses = self.next_ses
        self.next_ses += 1
        tty = "pts%d" % r.randrange(8)
        sshd = '"/usr/sbin/sshd"'
        tail = 'exe=%s hostname=%s addr=%s terminal=ssh res=success' % (sshd, addr, addr)
        evs = []
        pubkey = r.random() < 0.6
        if not pubkey:
            evs.append(self.standalone("login", "USER_AUTH", pid, 0, UNSET, UNSET,
                                       'op=PAM:authentication grantors=pam_unix acct="%s" %s'
                                       % (acct, tail)))
        else:
            evs.append(self.standalone(
                "login", "CRYPTO_KEY_USER", pid, 0, UNSET, UNSET,
                "op=negotiate kind=auth cipher=chacha20-poly1305@openssh.com ksize=512 "
                "mac=<implicit> pfs=curve25519-sha256 spid=%d suid=105 rport=%d laddr=10.20.0.2 "
                "lport=22  exe=%s hostname=? addr=%s terminal=? res=success"
                % (pid + 1, r.randrange(30000, 60000), sshd, addr)))
        evs.append(self.standalone("login", "USER_ACCT", pid, 0, UNSET, UNSET,
                                   'op=PAM:accounting grantors=pam_permit acct="%s" %s'
                                   % (acct, tail)))
        evs.append(self.standalone("login", "CRYPTO_KEY_USER", pid, 0, UNSET, UNSET,
                                   "op=destroy kind=session fp=? direction=both spid=%d suid=105 "
                                   "rport=%d laddr=10.20.0.2 lport=22  exe=%s hostname=? addr=%s "
                                   "terminal=? res=success"
                                   % (pid + 1, r.randrange(30000, 60000), sshd, addr)))
        evs.append(self.standalone("login", "CRED_ACQ", pid, 0, UNSET, UNSET,
                                   'op=PAM:setcred grantors=pam_permit,pam_unix acct="%s" %s'
                                   % (acct, tail)))
        evs.append(self.login_record(pid, auid, ses, "sshd", "/usr/sbin/sshd",
                                     "sshd: %s [priv]" % acct, 612))
        evs.append(self.standalone(
            "login", "USER_START", pid, 0, auid, ses,
            'op=PAM:session_open grantors=pam_selinux,pam_loginuid,pam_keyinit,pam_permit,'
            'pam_umask,pam_unix,pam_systemd,pam_mail,pam_limits,pam_env,pam_env,pam_selinux '
            'acct="%s" %s' % (acct, tail)))
        evs.append(self.standalone("login", "CRED_REFR", pid + 2, 0, auid, ses,
                                   'op=PAM:setcred grantors=pam_permit,pam_unix acct="%s" %s'
                                   % (acct, tail)))
        evs.append(self.standalone("login", "USER_LOGIN", pid, 0, auid, ses,
                                   'op=login id=%d exe=%s hostname=? addr=%s terminal=/dev/%s '
                                   'res=success' % (auid, sshd, addr, tty.replace("pts", "pts/"))))
        shell = self.next_pid()
        self.sessions.append((auid, ses, tty, shell, addr))
        return evs

    def ssh_logout(self):
        r = self.r
        auid, ses, tty, shell, addr = self.sessions.pop(r.randrange(len(self.sessions)))
        acct = USERS[auid]
        pid = shell - r.randint(1, 5)
        sshd = '"/usr/sbin/sshd"'
        tail = 'exe=%s hostname=%s addr=%s terminal=ssh res=success' % (sshd, addr, addr)
        term = "/dev/" + tty.replace("pts", "pts/")
        return [
            self.standalone("login", "USER_END", pid, 0, auid, ses,
                            'op=login id=%d exe=%s hostname=? addr=%s terminal=%s res=success'
                            % (auid, sshd, addr, term)),
            self.standalone("login", "USER_LOGOUT", pid, 0, auid, ses,
                            'op=login id=%d exe=%s hostname=? addr=%s terminal=%s res=success'
                            % (auid, sshd, addr, term)),
            self.standalone("login", "USER_END", pid, 0, auid, ses,
                            'op=PAM:session_close grantors=pam_selinux,pam_loginuid,pam_keyinit,'
                            'pam_permit,pam_umask,pam_unix,pam_systemd,pam_mail,pam_limits,'
                            'pam_env,pam_env,pam_selinux acct="%s" %s' % (acct, tail)),
            self.standalone("login", "CRED_DISP", pid, 0, auid, ses,
                            'op=PAM:setcred grantors=pam_permit,pam_unix acct="%s" %s'
                            % (acct, tail)),
        ]

    def ssh_bruteforce(self):
        r = self.r
        addr = r.choice(ATTACKERS)
        evs = []
        for _ in range(r.randint(1, 3)):
            pid = self.next_pid()
            acct = r.choice(BAD_USERS)
            a = enc(acct) if acct != "(invalid user)" else hexstr(acct.encode())
            evs.append(self.standalone(
                "login", "USER_AUTH", pid, 0, UNSET, UNSET,
                'op=PAM:authentication grantors=? acct=%s exe="/usr/sbin/sshd" hostname=%s '
                'addr=%s terminal=ssh res=failed' % (a, addr, addr)))
            evs.append(self.standalone(
                "login", "USER_LOGIN", pid, 0, UNSET, UNSET,
                'op=login acct=%s exe="/usr/sbin/sshd" hostname=? addr=%s terminal=sshd '
                'res=failed' % (a, addr)))
        return evs

    def sudo(self):
        """sudo in a session: PAM records, USER_CMD, the command, session close."""
        r = self.r
        auid, ses, tty, shell, _ = r.choice(self.sessions)
        acct = USERS[auid]
        pid = self.next_pid()
        term = "/dev/" + tty.replace("pts", "pts/")
        sudo = '"/usr/bin/sudo"'
        tail = 'exe=%s hostname=? addr=? terminal=%s res=success' % (sudo, term)
        argv = interactive_argv(r, auid)[:6]
        cmd = hexstr(" ".join(argv).encode()) if needs_hex(" ".join(argv)) else \
            '"' + " ".join(argv) + '"'
        evs = [self.standalone("login", "USER_ACCT", pid, auid, auid, ses,
                               'op=PAM:accounting grantors=pam_permit acct="%s" %s'
                               % (acct, tail))]
        # USER_CMD: 1 in 10 followed by its sendto() SYSCALL (a trailer for both tools)
        self.new_event("login")
        lines = [self.user_msg("USER_CMD", pid, auid, auid, ses,
                               'cwd="/home/%s" cmd=%s exe=%s terminal=%s res=success'
                               % (acct, cmd, sudo, tty.replace("pts", "pts/")))]
        if self.with_trailers and r.random() < 0.1:
            self.trailers += 1
            self.counts["login"] += 1
            lines.append(self.syscall("sendto", 44, ("3", self.addr(), "a4", "0"), 0, shell,
                                      pid, auid, auid, ses, tty, "sudo", "/usr/bin/sudo",
                                      "(null)", exit_=164, gid=auid))
            lines.append(self.hdr("PROCTITLE") + "proctitle=" + proctitle(["sudo"] + argv))
            lines.append(self.hdr("EOE"))
        evs.append(lines)
        evs.append(self.standalone("login", "CRED_REFR", pid, 0, auid, ses,
                                   'op=PAM:setcred grantors=pam_permit acct="root" %s' % tail))
        evs.append(self.standalone("login", "USER_START", pid, 0, auid, ses,
                                   'op=PAM:session_open grantors=pam_limits,pam_permit,pam_unix '
                                   'acct="root" %s' % tail))
        evs.append(self.execve(argv, auid, 0, ses, tty, pid, "/home/%s" % acct))
        evs.append(self.standalone("login", "USER_END", pid, 0, auid, ses,
                                   'op=PAM:session_close grantors=pam_limits,pam_permit,pam_unix '
                                   'acct="root" %s' % tail))
        evs.append(self.standalone("login", "CRED_DISP", pid, 0, auid, ses,
                                   'op=PAM:setcred grantors=pam_permit acct="root" %s' % tail))
        return evs

    def cron(self):
        r = self.r
        pid = self.next_pid()
        ses = self.next_ses
        self.next_ses += 1
        cron = '"/usr/sbin/cron"'
        tail = 'exe=%s hostname=? addr=? terminal=cron res=success' % cron
        evs = [self.standalone("login", "CRED_ACQ", pid, 0, UNSET, UNSET,
                               'op=PAM:setcred grantors=pam_permit acct="root" %s' % tail),
               self.login_record(pid, 0, ses, "cron", "/usr/sbin/cron", "/usr/sbin/cron -f", 845),
               self.standalone("login", "USER_START", pid, 0, 0, ses,
                               'op=PAM:session_open grantors=pam_loginuid,pam_env,pam_env,'
                               'pam_permit,pam_unix,pam_limits acct="root" %s' % tail)]
        argv = daemon_argv(r)[:6]
        evs.append(self.execve(argv, 0, 0, ses, "(none)", pid, "/root", key='"exec"'))
        evs.append(self.standalone("login", "CRED_DISP", pid, 0, 0, ses,
                                   'op=PAM:setcred grantors=pam_permit acct="root" %s' % tail))
        evs.append(self.standalone("login", "USER_END", pid, 0, 0, ses,
                                   'op=PAM:session_close grantors=pam_loginuid,pam_env,pam_env,'
                                   'pam_permit,pam_unix,pam_limits acct="root" %s' % tail))
        return evs

    def admin(self):
        r = self.r
        k = r.randrange(10)
        auid, ses, tty, shell, _ = r.choice(self.sessions) if self.sessions else \
            (UNSET, UNSET, "(none)", 1, None)
        term = tty.replace("pts", "pts/")
        pid = self.next_pid()
        if k < 3:
            unit = r.choice(["nginx", "postgresql@15-main", "app", "cron", "ssh",
                             "systemd-tmpfiles-clean", "apt-daily", "logrotate", "man-db"])
            typ = r.choice(["SERVICE_START", "SERVICE_STOP"])
            return [self.standalone("admin", typ, 1, 0, UNSET, UNSET,
                                    'unit=%s comm="systemd" exe="/usr/lib/systemd/systemd" '
                                    'hostname=? addr=? terminal=? res=success' % unit)]
        if k < 5:
            name = "svc%d" % r.randrange(1000)
            uid = 2000 + r.randrange(1000)
            tail = 'exe="/usr/sbin/useradd" hostname=web1 addr=? terminal=%s res=success' % term
            return [self.standalone("admin", "ADD_GROUP", pid, 0, auid, ses,
                                    'op=add-group acct="%s" %s' % (name, tail)),
                    self.standalone("admin", "ADD_GROUP", pid, 0, auid, ses,
                                    'op=add-shadow-group acct="%s" %s' % (name, tail)),
                    self.standalone("admin", "ADD_USER", pid, 0, auid, ses,
                                    'op=add-user id=%d %s' % (uid, tail), name),
                    self.standalone("admin", "USER_MGMT", pid, 0, auid, ses,
                                    'op=add-home-dir id=%d %s' % (uid, tail), name)]
        if k < 7:
            acct = USERS[r.choice(HUMANS)]
            return [self.standalone("admin", "USER_CHAUTHTOK", pid, 0, auid, ses,
                                    'op=PAM:chauthtok grantors=pam_permit,pam_unix acct="%s" '
                                    'exe="/usr/bin/passwd" hostname=web1 addr=? terminal=%s '
                                    'res=%s' % (acct, term, r.choice(["success", "success",
                                                                      "failed"])))]
        # auditctl -w ...: CONFIG_CHANGE, 2 in 3 with the SYSCALL of its sendto()
        self.new_event("admin")
        rule = r.choice(["/etc/shadow", "/etc/sudoers", "/etc/ssh/sshd_config", "/etc/crontab"])
        lines = [self.hdr("CONFIG_CHANGE") +
                 'auid=%d ses=%d subj=unconfined op=%s key="watch" list=4 res=1' %
                 (auid, ses, r.choice(["add_rule", "remove_rule"])) +
                 self.interp('AUID="%s"' % self.nm(auid))]
        if self.with_trailers and r.random() < 0.67:
            self.trailers += 1
            self.trailers_joined += 1
            self.counts["admin"] += 1
            lines.append(self.syscall("sendto", 44, ("4", self.addr(), "43c", "0"), 0, shell,
                                      pid, auid, 0, ses, tty, "auditctl", "/usr/sbin/auditctl",
                                      "(null)", exit_=1084))
            lines.append(self.hdr("PROCTITLE") + "proctitle=" +
                         proctitle(["auditctl", "-w", rule, "-p", "wa", "-k", "watch"]))
            lines.append(self.hdr("EOE"))
        return [lines]

    def scenario(self):
        """The next events, in the order their first lines are written."""
        r = self.r
        x = r.random()
        if len(self.sessions) < 3 or (x < 0.0045 and len(self.sessions) < 40):
            return self.ssh_login()
        if x < 0.0090 and len(self.sessions) > 3:
            return self.ssh_logout()
        if x < 0.0150:
            return self.ssh_bruteforce()
        if x < 0.0220:
            return self.sudo()
        if x < 0.0270:
            return self.cron()
        if x < 0.0305:
            return self.admin()
        if x < 0.1700:
            return [self.watch()]
        return [self.session_execve()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True, help="the audit.log to write")
    ap.add_argument("--size", type=float, default=220.0, help="MB (10^6 bytes), default 220")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("enriched", "raw"), default="enriched")
    ap.add_argument("--no-trailers", action="store_true",
                    help="no SYSCALL records after LOGIN, CONFIG_CHANGE or USER_CMD")
    ap.add_argument("--quiet", action="store_true", help="only the EVENTS line")
    a = ap.parse_args()

    g = Gen(a.seed, a.format)
    g.with_trailers = not a.no_trailers
    r = random.Random(a.seed ^ 0x5eed)  # the interleaving
    target = int(a.size * 1e6)
    written = 0
    n_lines = 0
    pending = []  # events generated, not yet started
    active = []  # [lines, next index]
    width = 2
    out = []
    out_bytes = 0
    with open(a.output, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
        while True:
            if written < target:
                while len(active) < width:
                    if not pending:
                        pending = g.scenario()
                        pending.reverse()
                    active.append([pending.pop(), 0])
            elif pending:  # finish the scenario under way, then stop
                while len(active) < width and pending:
                    active.append([pending.pop(), 0])
            if not active:
                break
            i = r.randrange(len(active)) if len(active) > 1 else 0
            ev = active[i]
            line = ev[0][ev[1]]
            ev[1] += 1
            if ev[1] == len(ev[0]):
                active.pop(i)
                if r.random() < 0.3:
                    width = r.choice((1, 2, 2, 3, 3))
            out.append(line)
            n = len(line) + 1
            out_bytes += n
            written += n
            n_lines += 1
            if out_bytes >= 1 << 20:
                f.write("\n".join(out))
                f.write("\n")
                out = []
                out_bytes = 0
        if out:
            f.write("\n".join(out))
            f.write("\n")
    # written counts characters; the non-ASCII ones (grep "ñandú") take 2 bytes
    size = os.path.getsize(a.output)
    events = sum(g.counts.values())
    laurel_events = events - g.trailers_joined
    if not a.quiet:
        parts = ", ".join("%s %d (%.1f%%)" % (k, v, 100.0 * v / events)
                          for k, v in sorted(g.counts.items(), key=lambda kv: -kv[1]))
        print("gen_auditlog: wrote %s: %.1f MB, %d lines, %d events (%s); %d trailer events "
              "(%d after LOGIN/CONFIG_CHANGE, which laurel joins to them: %d events for "
              "laurel), format %s, seed %d" % (a.output, size / 1e6, n_lines, events, parts,
                                              g.trailers, g.trailers_joined, laurel_events,
                                              a.format, a.seed))
    print("EVENTS events=%d laurel_events=%d trailers=%d trailers_joined=%d lines=%d bytes=%d"
          % (events, laurel_events, g.trailers, g.trailers_joined, n_lines, size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
