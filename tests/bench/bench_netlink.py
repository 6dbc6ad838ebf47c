#!/usr/bin/env python3
"""make bench: the kernel audit source (type: audit, mode: unicast) under a command storm.

hosttraild becomes the host's audit daemon with one rule, "-a always,exit -F arch=b64 -S
execve -k storm", at its default socket buffer (socket_buffer, 8 MiB) and backlog_limit 8192.
--procs spawner processes run /bin/true in a loop (posix_spawn + wait) for --seconds; then
the daemon is given time to catch up and stopped.  Printed: executions/s of the storm (each
is one audit event of 5 records: SYSCALL, EXECVE, PATH x2, PROCTITLE, plus EOE), events the
daemon read and stored, the kernel's lost counter over the run (AUDIT_GET before and after),
socket overflows, serials never received and events dropped by backpressure (from the
daemon's status at stop), and the daemon's CPU seconds per 1000 events.  The target is zero
loss of any kind at the default buffer size.

Skips (exit 77) where the kernel refuses audit netlink, as tests/integration/test_audit.py
does.  Exit status 1 when something was lost or the run failed."""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))
import htlib  # noqa: E402
import test_audit  # noqa: E402


def spawner(seconds):
    """Run /bin/true back to back for seconds; print the count."""
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pid = os.posix_spawn("/bin/true", ["/bin/true"], {})
        os.waitpid(pid, 0)
        n += 1
    print(n, flush=True)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--daemon", default=os.environ.get("HOSTTRAILD", "./hosttraild"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--spawn", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.spawn:
        spawner(args.seconds)
        return 0
    htlib.HOSTTRAILD = os.path.abspath(args.daemon)
    nl = test_audit.kernel_or_skip()
    test_audit.NL = nl
    original = test_audit.snapshot()
    try:
        with htlib.Env("bench-netlink") as env:
            doc = htlib.config_doc(env.root, trails=[], buckets=["spool-1"])
            doc["sources"] = [{"type": "audit", "mode": "unicast", "backlog_limit": 8192,
                               "rules": ["-a always,exit -F arch=b64 -S execve -k storm"]}]
            d = env.daemon(env.write_config(doc)).start()
            lost0 = nl.status()["lost"]
            cpu0 = cpu_seconds(d.pid)
            t0 = time.monotonic()
            procs = [subprocess.Popen([sys.executable, __file__, "--spawn", "--seconds",
                                       str(args.seconds)], stdout=subprocess.PIPE, text=True)
                     for _ in range(args.procs)]
            execs = sum(int(p.communicate()[0]) for p in procs)
            storm = time.monotonic() - t0
            # let the kernel's queue and the daemon's drain
            deadline = time.monotonic() + 30
            while nl.status()["backlog"] > 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(3)
            cpu = cpu_seconds(d.pid) - cpu0
            lost1 = nl.status()["lost"]
            off = d.log_size()
            d.stop()
            m = re.search(r"stopped: .*?(audit \(unicast\)[^;\n]*;[^;\n]*; LOST:[^;\n]*)",
                          d.log_since(off))
            if not m:
                print("no audit status in the daemon's stop line:\n%s" % d.log_since(off)[-2000:])
                return 1
            status = m.group(1)
    finally:
        test_audit.NL.set(test_audit.S_ENABLED | test_audit.S_FAILURE | test_audit.S_RATE |
                          test_audit.S_BACKLOG | test_audit.S_PID,
                          enabled=original[0]["enabled"], failure=original[0]["failure"],
                          rate=original[0]["rate_limit"], backlog=original[0]["backlog_limit"],
                          pid=0)
    ev = re.search(r"(\d+) events \(", status)
    stored = re.search(r"(\d+) stored", status)
    loss = re.search(r"LOST: (\d+) by the kernel, (\d+) socket overflows, (\d+) missing "
                     r"serials, (\d+) dropped", status)
    events = int(ev.group(1))
    print("storm: %d executions of /bin/true in %.1f s by %d processes = %.0f events/s"
          % (execs, storm, args.procs, execs / storm))
    print("daemon: %d events read, %s stored (includes other execve on the host)"
          % (events, stored.group(1)))
    print("lost: kernel lost counter +%d, socket overflows %s, missing serials %s, dropped "
          "by backpressure %s" % (lost1 - lost0, loss.group(2), loss.group(3), loss.group(4)))
    print("daemon CPU: %.2f s, %.1f us per event" % (cpu, 1e6 * cpu / max(events, 1)))
    print("status at stop: %s" % status)
    bad = (lost1 - lost0) + sum(int(loss.group(i)) for i in (1, 2, 3, 4))
    if events < execs:
        print("FAIL: %d executions but only %d events" % (execs, events))
        return 1
    if bad:
        print("FAIL: events were lost at the default socket buffer")
        return 1
    print("zero events lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
