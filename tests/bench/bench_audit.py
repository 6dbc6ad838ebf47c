#!/usr/bin/env python3
"""make bench: audit.log to JSON, hosttrail against laurel on the same file in the same run.

  bench_audit.py --bench BUILDDIR/tests/bench/bench_audit [--size MB] [--rounds R] ...

  1. laurel (Debian package `laurel`, 0.5.1 on bookworm) is installed with apt-get when
     missing (unless HT_NO_APT=1); exit 77 (skipped) when it cannot be.  It gets an offline
     config (shared/reference/test-peers.md): output to stdout, no /proc enrichment (pid,
     container, script, execve-env), since that would describe this host, not the log's.
  2. gen_auditlog.py writes a realistic audit.log of --size MB (default 220) under $TMPDIR:
     execve with arguments, sshd/sudo/cron logins, file watches, admin records, ENRICHED
     format, two or three events interleaved (see its header).
  3. For --rounds rounds (default 3, alternating which goes first), each tool reads the
     whole file and writes JSON lines to a file in the same directory:
       hosttrail  bench_audit: parse (ht_audit_parse_line), assemble (ht_audit_asm_*),
                  map (ht_audit_map, with a uid/gid name cache), serialize
                  (ht_record_serialize), written in 1 MiB batches;
       laurel     `laurel -c offline.toml < audit.log > out.jsonl`.
     Wall time is measured from outside for both (fork to exit); CPU time and peak RSS are
     the child's own (wait4 rusage).  Reported: the medians, events/s and MB/s, the ratio
     hosttrail/laurel in events/s (wall, and CPU for a loaded machine), PASS/MISS against
     the issue's target (>= 3x laurel), peak RSS.
  4. Event counts (must-show 5): both tools count assembled events, one JSON line each.
     They differ on exactly one construct, and the check accounts for it by audit ID
     instead of ignoring it: a standalone record followed by the SYSCALL (+ PROCTITLE + EOE)
     records of the same audit(TIME:SERIAL), as the kernel logs sshd's and cron's LOGIN (a
     write to /proc/self/loginuid) and auditctl's CONFIG_CHANGE when syscall rules are
     loaded.  hosttrail emits the standalone record at once and the SYSCALL part as a second
     event flagged trailer (additionalEventData.trailer, daemon/sources/audit_parse.h: it
     never holds a standalone record back for an EOE that may not come); laurel 0.5.1 treats
     LOGIN and CONFIG_CHANGE (types 1006 and 1300-2099) as parts of a kernel multi-record
     event and joins them with the SYSCALL up to the EOE: one event.  After a USER_* record
     (sudo's USER_CMD here) both emit two events with the same ID (laurel emits the USER_*
     line at once, logs "duplicate event id" at the EOE and emits the SYSCALL part when it
     expires).  Incomplete events (no EOE) are emitted by both (laurel when they are 5 s of
     log time old or at the end; hosttrail at its timeout or flush); the generated file has
     none.  So the check is, for every audit ID (time:serial):
       hosttrail's records - [1 if it has a trailer after LOGIN/CONFIG_CHANGE] == laurel's,
     every ID present on both sides, and both totals equal to what the generator wrote.
     It fails (exit 1) otherwise, listing the first IDs that disagree.
     Then the literal comparison, on a file without that construct: a --slice-mb (default
     20) file from the same generator with --no-trailers, where both must give exactly the
     same number of lines.
  5. Syscalls per event: hosttrail's own counters (its read(2) and write(2) calls over the
     full file), and for both tools `strace -f -c` (every syscall, start-up included) over
     the slice; strace is installed with apt-get when missing (unless HT_NO_APT=1), and the
     figure is reported as unavailable when it cannot be.  laurel's are mostly openat of
     /proc/PID/stat and /proc/PID/cgroup (and /proc scans) for the pids it reads in the
     events, its process tracking, which [enrich] pid = false does not turn off (0.5.1,
     seen with strace -e openat), and one write(2) per event.  hosttrail's are its 4 MiB
     reads and 1 MiB writes; with --format raw, also one NSS lookup (/etc/passwd, ...) per
     uid and gid per minute through the name cache.

Exit status: 0 done (a MISS is not an error), 1 a count check failed or something broke,
77 laurel missing and not installable."""

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = 3.0
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None  # GNU time, for RSS

# Standalone types (for hosttrail) that laurel 0.5.1 keeps open until their EOE, joining the
# SYSCALL records that follow: LOGIN, and every type in 1300-2099 hosttrail calls standalone
# (CONFIG_CHANGE 1305, the netlabel types 1406-1419, the kernel anomalies 1700-1799).
LAUREL_JOINS = {"LOGIN", "CONFIG_CHANGE", "MAC_UNLBL_ALLOW", "MAC_CIPSOV4_ADD",
                "MAC_CIPSOV4_DEL", "MAC_MAP_ADD", "MAC_MAP_DEL", "MAC_IPSEC_ADDSA",
                "MAC_IPSEC_DELSA", "MAC_IPSEC_ADDSPD", "MAC_IPSEC_DELSPD", "MAC_IPSEC_EVENT",
                "MAC_UNLBL_STCADD", "MAC_UNLBL_STCDEL", "MAC_CALIPSO_ADD", "MAC_CALIPSO_DEL",
                "ANOM_PROMISCUOUS", "ANOM_ABEND", "ANOM_LINK", "ANOM_CREAT"}

OURS_ID_RE = re.compile(rb'"additionalEventData":\{"auditSerial":(\d+),"auditTime":"([0-9.]+)",'
                        rb'"auditRecordTypes":\["([A-Z_0-9\[\]]+)"')
LAUREL_ID_RE = re.compile(rb'^\{"ID":"([0-9.]+):(\d+)"')


def log(msg):
    print(msg, flush=True)


def have_root():
    return os.geteuid() == 0


def apt_install(pkg):
    """apt-get install -y pkg; True when it worked."""
    if os.environ.get("HT_NO_APT", "0") not in ("", "0"):
        log("bench_audit: %s missing and HT_NO_APT is set: not running apt-get" % pkg)
        return False
    if not have_root() or shutil.which("apt-get") is None:
        log("bench_audit: %s missing and apt-get is not usable here (need root)" % pkg)
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log("bench_audit: installing %s with apt-get" % pkg)
    cmd = ["apt-get", "install", "-y", "-q", pkg]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        # the package lists may be missing or stale: update once and retry
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        log("bench_audit: apt-get install %s failed:\n%s" %
            (pkg, p.stdout.decode(errors="replace")[-2000:]))
        return False
    return True


def find_tool(name, extra=("/usr/sbin", "/usr/bin", "/sbin")):
    p = shutil.which(name)
    if p:
        return p
    for d in extra:
        c = os.path.join(d, name)
        if os.access(c, os.X_OK):
            return c
    return None


def laurel_version(laurel):
    p = subprocess.run([laurel, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    v = p.stdout.decode(errors="replace").strip().splitlines()
    return "laurel " + v[0] if v else "laurel"


def write_laurel_config(path, directory):
    with open(path, "w") as f:
        f.write('# offline: no /proc enrichment (shared/reference/test-peers.md)\n'
                'directory = "%s"\n'
                '[auditlog]\n'
                'file = "-"\n'
                '[enrich]\n'
                'pid = false\n'
                'container = false\n'
                'script = false\n'
                'execve-env = []\n' % directory)


def run_child(argv, stdin_path=None, stdout_path=None, stderr_path=None, rss=False):
    """Run argv to its exit: (status, wall s, user s, sys s, maxrss KB, stdout bytes or None).

    Peak RSS: Linux carries the high-water RSS of the memory a process had before execve(2)
    into its own (signal->maxrss), so a child forked from this Python process (~30 MB)
    reports at least that much through wait4.  With rss=True the child runs under GNU
    time (/usr/bin/time, a few hundred KB), whose own child's peak is then the tool's; without
    it (no GNU time) the figure is wait4's, an upper bound."""
    rss_file = None
    if rss and TIME:
        rss_file = (stdout_path or "/tmp/bench_audit") + ".maxrss"
        argv = [TIME, "-f", "%M", "-o", rss_file] + list(argv)
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    fout = open(stdout_path, "wb") if stdout_path else subprocess.PIPE
    ferr = open(stderr_path, "wb") if stderr_path else None
    try:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr)
        out = b""
        if fout is subprocess.PIPE:
            out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    finally:
        for f in (fin, fout, ferr):
            if f not in (None, subprocess.DEVNULL, subprocess.PIPE):
                f.close()
    maxrss = ru.ru_maxrss
    if rss_file:
        try:
            with open(rss_file) as f:
                maxrss = int(f.read().split()[-1])
            os.unlink(rss_file)
        except (OSError, ValueError, IndexError):
            maxrss = ru.ru_maxrss
    return (p.returncode, wall, ru.ru_utime, ru.ru_stime, maxrss,
            out if fout is subprocess.PIPE else None)


def parse_kv(line, prefix):
    if not line.startswith(prefix):
        return None
    d = {}
    for part in line[len(prefix):].split():
        k, _, v = part.partition("=")
        d[k] = float(v) if "." in v else int(v)
    return d


def generate(gen, path, size, seed, fmt, no_trailers=False):
    cmd = [sys.executable, gen, "-o", path, "--size", str(size), "--seed", str(seed),
           "--format", fmt]
    if no_trailers:
        cmd.append("--no-trailers")
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
    took = time.monotonic() - t0
    info = None
    for line in p.stdout.decode().splitlines():
        if line.startswith("EVENTS "):
            info = parse_kv(line, "EVENTS ")
        else:
            log(line)
    if info is None:
        raise RuntimeError("gen_auditlog.py printed no EVENTS line")
    log("bench_audit: generated in %.1f s" % took)
    return info


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 24)
            if not b:
                break
            n += b.count(b"\n")
    return n


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run_ours(bench, log_path, out_path):
    rc, wall, ut, st, rss, out = run_child([bench, "--input", log_path, "--output", out_path],
                                           stdout_path=out_path + ".stdout", rss=True)
    with open(out_path + ".stdout", "rb") as f:
        out = f.read()
    text = out.decode(errors="replace")
    res = None
    for line in text.splitlines():
        r = parse_kv(line, "RESULT ")
        if r is not None:
            res = r
    if rc != 0 or res is None:
        raise RuntimeError("bench_audit failed (exit %d):\n%s" % (rc, text[-3000:]))
    return {"wall": wall, "cpu": ut + st, "user": ut, "sys": st, "rss": rss, "res": res}


def run_laurel(laurel, conf, log_path, out_path, err_path, strace=None, strace_out=None):
    argv = [laurel, "-c", conf]
    if strace:
        argv = [strace, "-f", "-c", "-o", strace_out] + argv
    rc, wall, ut, st, rss, _ = run_child(argv, log_path, out_path, err_path, rss=strace is None)
    if rc != 0:
        with open(err_path, "rb") as f:
            tail = f.read()[-3000:].decode(errors="replace")
        raise RuntimeError("laurel failed (exit %d):\n%s" % (rc, tail))
    return {"wall": wall, "cpu": ut + st, "user": ut, "sys": st, "rss": rss}


def laurel_errors(err_path):
    """laurel's stderr: error lines by kind (the message up to the audit ID)."""
    kinds = collections.Counter()
    with open(err_path, "rb") as f:
        for line in f:
            if b" Error " in line or line.startswith(b"laurel: Error"):
                msg = line.decode(errors="replace").strip()
                kinds[re.sub(r"[0-9]+\.[0-9]+:[0-9]+.*", "ID ...", msg)[:100]] += 1
    return kinds


def strace_total(path):
    """Total calls from an `strace -c` summary, with the top syscalls."""
    total, top = None, []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts or parts[0].startswith(("%", "-")):
                continue
            if parts[-1] == "total":
                total = int(parts[3]) if len(parts) >= 5 else int(parts[2])
            elif len(parts) >= 5 and parts[3].isdigit():
                top.append((int(parts[3]), parts[-1]))
    top.sort(reverse=True)
    return total, top[:4]


def reconcile(ours_path, laurel_path, expect):
    """The per-ID check of must-show 5; (ok, lines of explanation)."""
    ours = collections.Counter()
    joined = collections.Counter()  # IDs whose trailer laurel joins to the standalone record
    first_type = {}
    trailer_ids = set()
    n_ours = 0
    with open(ours_path, "rb") as f:
        for line in f:
            n_ours += 1
            m = OURS_ID_RE.search(line)
            if m is None:
                return False, ["hosttrail line %d has no auditSerial/auditTime: %r" %
                               (n_ours, line[:200])]
            key = m.group(2) + b":" + m.group(1)
            ours[key] += 1
            if b'"trailer":true' in line:
                trailer_ids.add(key)
            else:
                first_type[key] = m.group(3).decode()
    for key in trailer_ids:
        if first_type.get(key) in LAUREL_JOINS:
            joined[key] = 1
    laurel = collections.Counter()
    n_laurel = 0
    with open(laurel_path, "rb") as f:
        for line in f:
            n_laurel += 1
            m = LAUREL_ID_RE.match(line)
            if m is None:
                return False, ["laurel line %d has no ID: %r" % (n_laurel, line[:200])]
            laurel[m.group(1) + b":" + m.group(2)] += 1
    bad = []
    for key in set(ours) | set(laurel):
        want = ours[key] - joined[key]
        if want != laurel[key]:
            bad.append((key.decode(), ours[key], joined[key], laurel[key]))
    n_trailers = len(trailer_ids)
    n_joined = sum(joined.values())
    notes = [
        "hosttrail: %d events = %d audit IDs + %d trailer events (%d after LOGIN/CONFIG_CHANGE, "
        "%d after USER_*)" % (n_ours, len(ours), n_trailers, n_joined, n_trailers - n_joined),
        "laurel:    %d events = %d audit IDs + %d IDs emitted twice (USER_* + its SYSCALL)"
        % (n_laurel, len(laurel), n_laurel - len(laurel)),
        "generator: %d events for hosttrail, %d for laurel" % (expect["events"],
                                                               expect["laurel_events"]),
    ]
    ok = True
    if bad:
        ok = False
        bad.sort()
        notes.append("FAIL: %d audit IDs disagree (ID: hosttrail records, of which trailers "
                     "laurel joins, laurel records), first ones:" % len(bad))
        notes += ["  %s: %d, %d, %d" % b for b in bad[:10]]
    if n_ours != expect["events"] or n_laurel != expect["laurel_events"]:
        ok = False
        notes.append("FAIL: the counts differ from what the generator wrote")
    if ok:
        notes.append("per ID: all %d audit IDs agree (hosttrail - joined trailers == laurel); "
                     "distinct assembled events: %d and %d" % (len(ours), len(ours),
                                                                len(laurel)))
    return ok, notes


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True, help="the bench_audit program")
    ap.add_argument("--gen", default=os.path.join(HERE, "gen_auditlog.py"))
    ap.add_argument("--size", type=float, default=220.0, help="MB of audit.log (default 220)")
    ap.add_argument("--slice-mb", type=float, default=20.0,
                    help="MB of the trailer-free file for the exact count and strace")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("enriched", "raw"), default="enriched")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=os.environ.get("TMPDIR") or "/tmp")
    ap.add_argument("--keep", action="store_true", help="keep the files")
    ap.add_argument("--no-strace", action="store_true")
    a = ap.parse_args()

    laurel = find_tool("laurel")
    if laurel is None:
        if not apt_install("laurel") or find_tool("laurel") is None:
            log("bench_audit: SKIP: laurel is not installed and cannot be")
            return 77
        laurel = find_tool("laurel")
    if not os.access(a.bench, os.X_OK):
        log("bench_audit: %s is not built (make tests/bench/bench_audit)" % a.bench)
        return 1
    global TIME
    if TIME is None and apt_install("time") and os.access("/usr/bin/time", os.X_OK):
        TIME = "/usr/bin/time"
    strace = None
    if not a.no_strace:
        strace = find_tool("strace")
        if strace is None and apt_install("strace"):
            strace = find_tool("strace")

    work = tempfile.mkdtemp(prefix="bench_audit.", dir=a.dir)
    try:
        return run(a, laurel, strace, work)
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        log("bench_audit: FAILED: %s" % e)
        return 1
    finally:
        if a.keep:
            log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(a, laurel, strace, work):
    conf = os.path.join(work, "offline.toml")
    write_laurel_config(conf, work)
    src = os.path.join(work, "audit.log")
    ours_out = os.path.join(work, "hosttrail.jsonl")
    laurel_out = os.path.join(work, "laurel.jsonl")
    laurel_err = os.path.join(work, "laurel.stderr")
    version = laurel_version(laurel)
    log("bench_audit: %s vs hosttrail (%s), %d CPUs, load average %s, files in %s" %
        (version, a.bench, os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg()), work))

    expect = generate(a.gen, src, a.size, a.seed, a.format)
    size = os.path.getsize(src)
    warm(src)

    ours_runs, laurel_runs = [], []
    for r in range(a.rounds):
        for side in ((0, 1) if r % 2 == 0 else (1, 0)):
            if side == 0:
                o = run_ours(a.bench, src, ours_out)
                ours_runs.append(o)
                log("round %d hosttrail: %8.3f s wall %8.3f s CPU  %6d KB peak RSS" %
                    (r + 1, o["wall"], o["cpu"], o["rss"]))
            else:
                o = run_laurel(laurel, conf, src, laurel_out, laurel_err)
                laurel_runs.append(o)
                log("round %d laurel:    %8.3f s wall %8.3f s CPU  %6d KB peak RSS" %
                    (r + 1, o["wall"], o["cpu"], o["rss"]))

    n_ours = count_lines(ours_out)
    n_laurel = count_lines(laurel_out)
    res = ours_runs[-1]["res"]
    if n_ours != res["events"]:
        raise RuntimeError("hosttrail wrote %d lines but counted %d events" %
                           (n_ours, res["events"]))
    ok, notes = reconcile(ours_out, laurel_out, expect)
    errs = laurel_errors(laurel_err)

    # the literal comparison and the syscalls, on a file without trailers
    slice_path = os.path.join(work, "slice.log")
    log("")
    sl = generate(a.gen, slice_path, a.slice_mb, a.seed, a.format, no_trailers=True)
    warm(slice_path)
    run_ours(a.bench, slice_path, os.path.join(work, "slice.hosttrail.jsonl"))
    run_laurel(laurel, conf, slice_path, os.path.join(work, "slice.laurel.jsonl"),
               os.path.join(work, "slice.laurel.stderr"))
    s_n_ours = count_lines(os.path.join(work, "slice.hosttrail.jsonl"))
    s_n_laurel = count_lines(os.path.join(work, "slice.laurel.jsonl"))
    slice_ok = s_n_ours == s_n_laurel == sl["events"]
    sc = {}
    if strace:
        st_ours = os.path.join(work, "strace.hosttrail")
        st_laurel = os.path.join(work, "strace.laurel")
        rc = run_child([strace, "-f", "-c", "-o", st_ours, a.bench, "--input", slice_path,
                        "--output", os.path.join(work, "slice.hosttrail.jsonl")])[0]
        if rc == 0:
            sc["hosttrail"] = strace_total(st_ours)
        run_laurel(laurel, conf, slice_path, os.path.join(work, "slice.laurel.jsonl"),
                   os.path.join(work, "slice.laurel.stderr"), strace, st_laurel)
        sc["laurel"] = strace_total(st_laurel)

    # ---- report ----
    mb = size / 1e6
    ow = median([o["wall"] for o in ours_runs])
    oc = median([o["cpu"] for o in ours_runs])
    lw = median([o["wall"] for o in laurel_runs])
    lc = median([o["cpu"] for o in laurel_runs])
    orss = max(o["rss"] for o in ours_runs)
    lrss = max(o["rss"] for o in laurel_runs)
    oeps, leps = n_ours / ow, n_laurel / lw
    ratio = oeps / leps
    ratio_cpu = (n_ours / oc) / (n_laurel / lc) if oc > 0 and lc > 0 else 0
    own = (res["reads"] + res["writes"]) / n_ours

    def spe(name, events):
        if name not in sc or sc[name][0] is None:
            return "n/a"
        return "%.3f" % (sc[name][0] / events)

    log("")
    log("== audit.log -> JSON lines: hosttrail vs %s (%.1f MB, %d lines, %s format; median "
        "of %d rounds) ==" % (version, mb, res["lines"], a.format, a.rounds))
    log("%-10s %9s %9s %9s %11s %11s %8s %12s %14s" %
        ("", "events", "wall s", "CPU s", "events/s", "ev/CPU-s", "MB/s", "peak RSS KB",
         "syscalls/event"))
    log("%-10s %9d %9.3f %9.3f %11.0f %11.0f %8.1f %12d %14s" %
        ("hosttrail", n_ours, ow, oc, oeps, n_ours / oc, mb / ow, orss,
         spe("hosttrail", s_n_ours)))
    log("%-10s %9d %9.3f %9.3f %11.0f %11.0f %8.1f %12d %14s" %
        ("laurel", n_laurel, lw, lc, leps, n_laurel / lc, mb / lw, lrss,
         spe("laurel", s_n_laurel)))
    log("hosttrail inside bench_audit (its own clock, file open to last write): %.3f s, "
        "%.0f events/s; JSON out %.1f MB (laurel %.1f MB)" %
        (res["wall_s"], n_ours / res["wall_s"], res["bytes_out"] / 1e6,
         os.path.getsize(laurel_out) / 1e6))
    log("ratio hosttrail / laurel in events/s: %.2fx wall, %.2fx CPU; target >= %.0fx "
        "(wall): %s" % (ratio, ratio_cpu, TARGET, "PASS" if ratio >= TARGET else "MISS"))
    log("peak RSS: hosttrail %.1f MB (its own getrusage: %.1f MB), laurel %.1f MB%s" %
        (orss / 1024, res["maxrss_kb"] / 1024, lrss / 1024,
         "" if TIME else " (no GNU time: wait4's figures, which include the launcher's peak)"))
    log("syscalls: hosttrail's own counters over the full file: %d read + %d write = %.4f per "
        "event (%d events)" % (res["reads"], res["writes"], own, n_ours))
    if sc:
        for name, events in (("hosttrail", s_n_ours), ("laurel", s_n_laurel)):
            total, top = sc.get(name, (None, []))
            if total is None:
                log("syscalls: strace of %s gave no total" % name)
                continue
            log("syscalls: strace -f -c of %s on the %.0f MB slice: %d calls for %d events = "
                "%.3f per event (start-up included; most: %s)" %
                (name, a.slice_mb, total, events, total / events,
                 ", ".join("%s %d" % (n, c) for c, n in top)))
    elif a.no_strace:
        log("syscalls: no strace run (--no-strace)")
    else:
        log("syscalls: strace is not available (not installed and not installable): "
            "no strace figure for either tool; laurel writes one write(2) per event "
            "(test-peers.md)")
    log("")
    log("== event counts (must-show 5) ==")
    for n in notes:
        log(n)
    if errs:
        log("laurel's errors: " + "; ".join("%d x %s" % (c, k) for k, c in errs.items()))
    log("hosttrail: %d incomplete events, %d lines that did not parse" %
        (res["incomplete"], res["bad_lines"]))
    log("trailer-free file (%.1f MB, --no-trailers): hosttrail %d events, laurel %d, "
        "generator %d: %s" % (os.path.getsize(slice_path) / 1e6, s_n_ours, s_n_laurel,
                              sl["events"], "SAME" if slice_ok else "FAIL: they differ"))
    ok = ok and slice_ok
    log("event counts: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
