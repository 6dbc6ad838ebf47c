#!/usr/bin/env python3
"""make bench: PutAuditEvents throughput of hosttraild on this machine.

Starts its own daemon in a temp directory (fsync: interval, one spool trail with a 1 s
delivery interval), then N client processes each post pre-built 100-event requests as fast
as they can for --seconds over keep-alive connections on the API unix socket.  Prints:
  acked events/s     events acknowledged per second while the clients ran
  ack latency        p50 / p99 / max per request, ms
  end-to-end         events/s from the first request until every acked event is in a spool file
  peak RSS           VmHWM of the daemon
  count check        spool records == acked events, every eventID once and as acked
Exit status 1 if the count check fails (or --min-eps is not met).  Bounded: the clients stop
after --seconds, the wait for delivery after --drain-timeout, the daemon is killed at exit."""

import argparse
import json
import multiprocessing as mp
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import htlib  # noqa: E402


def build_bodies(cid, n_bodies, batch):
    """Pre-built raw HTTP requests, each with `batch` distinct events."""
    now = htlib.utc_now_str()
    path = "/PutAuditEvents?channelArn=" + htlib.channel_arn("default")
    out = []
    for b in range(n_bodies):
        evs = [htlib.make_event("b%d-%04d-%03d" % (cid, b, i), event_time=now)
               for i in range(batch)]
        body = json.dumps({"auditEvents": evs}, separators=(",", ":")).encode()
        out.append(htlib.http_request_bytes(path, body))
    return out


class RawConn:
    """Minimal keep-alive HTTP/1.1 client: one sendall per request, read one response."""

    def __init__(self, path, timeout):
        self.path = path
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def roundtrip(self, req):
        if self.sock is None:
            self._connect()
        self.sock.sendall(req)
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = self.buf[:i].decode("latin-1")
                m = re.search(r"(?im)^content-length:\s*(\d+)", head)
                n = int(m.group(1)) if m else 0
                if len(self.buf) >= i + 4 + n:
                    status = int(head.split(" ", 2)[1])
                    body = self.buf[i + 4:i + 4 + n]
                    self.buf = self.buf[i + 4 + n:]
                    if re.search(r"(?im)^connection:\s*close", head):
                        self.close()
                    return status, body
            chunk = self.sock.recv(262144)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk


def client_main(cid, sock_path, n_bodies, batch, seconds, start_evt, ready_q, out_dir):
    bodies = build_bodies(cid, n_bodies, batch)
    ready_q.put(cid)
    start_evt.wait(120)
    conn = RawConn(sock_path, timeout=60)
    lat, ids, errors = [], [], 0
    t_end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        try:
            status, body = conn.roundtrip(bodies[k % n_bodies])
        except OSError:
            errors += 1
            conn.close()
            time.sleep(0.05)
            continue
        lat.append(time.monotonic() - t0)
        k += 1
        if status != 200:
            errors += 1
            continue
        rep = json.loads(body)
        if rep.get("failed"):
            errors += 1
        ids.extend(s["eventID"] for s in rep.get("successful", []))
    conn.close()
    with open(os.path.join(out_dir, "client-%d.json" % cid), "w") as f:
        json.dump({"lat": lat, "ids": ids, "errors": errors, "t_done": time.time()}, f)


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


def count_records(spool, seen):
    """Light incremental count of records in new spool files (gunzip + count eventIDs)."""
    import gzip
    for dirpath, dirnames, files in os.walk(spool):
        if dirpath == spool:
            dirnames[:] = [d for d in dirnames if d != ".tmp"]
        for fn in files:
            p = os.path.join(dirpath, fn)
            if p in seen:
                continue
            try:
                with open(p, "rb") as f:
                    data = gzip.decompress(f.read())
            except (OSError, EOFError):
                continue
            seen[p] = data.count(b'"eventID":')
    return sum(seen.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--daemon", default=htlib.HOSTTRAILD, help="hosttraild binary")
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--batch", type=int, default=100, help="events per request (1-100)")
    ap.add_argument("--bodies", type=int, default=50,
                    help="distinct pre-built requests per client (cycled)")
    ap.add_argument("--drain-timeout", type=float, default=120.0,
                    help="max seconds to wait for every acked event to reach the spool")
    ap.add_argument("--min-eps", type=float, default=0.0,
                    help="exit 1 if end-to-end events/s is below this")
    ap.add_argument("--fsync-interval", default=None,
                    help="history.fsync_interval (default: the daemon's default)")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    a = ap.parse_args()
    if not os.access(a.daemon, os.X_OK):
        sys.exit("bench: %s is not an executable hosttraild" % a.daemon)
    htlib.HOSTTRAILD = os.path.abspath(a.daemon)

    env = htlib.Env("bench")
    ok = False
    try:
        doc = htlib.config_doc(env.root, trails=[htlib.trail("trail-1", "spool-1", interval="1s")],
                               fsync="interval", fsync_interval=a.fsync_interval)
        d = env.daemon(env.write_config(doc), binary=htlib.HOSTTRAILD).start()
        spool = env.path("spool", "spool-1")
        out_dir = env.path("clients")
        os.mkdir(out_dir)

        ctx = mp.get_context("fork")
        start_evt, ready_q = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=client_main,
                             args=(i, d.socket_path, a.bodies, a.batch, a.seconds, start_evt,
                                   ready_q, out_dir), daemon=True)
                 for i in range(a.clients)]
        for p in procs:
            p.start()
        for _ in procs:
            ready_q.get(timeout=300)                 # bodies built before timing starts
        t_start = time.monotonic()
        start_evt.set()
        for p in procs:
            p.join(a.seconds + 120)
            if p.is_alive():
                p.kill()
                raise SystemExit("bench: a client did not finish")
        t_clients = time.monotonic()

        lat, ids, errors = [], [], 0
        for i in range(a.clients):
            with open(os.path.join(out_dir, "client-%d.json" % i)) as f:
                r = json.load(f)
            lat += r["lat"]
            ids += r["ids"]
            errors += r["errors"]
        total = len(ids)

        seen = {}
        deadline = time.monotonic() + a.drain_timeout
        delivered = count_records(spool, seen)
        while delivered < total and time.monotonic() < deadline:
            time.sleep(0.1)
            delivered = count_records(spool, seen)
        t_e2e = time.monotonic()
        drained = delivered >= total
        hwm = d.vm_hwm_kib()
        rc = d.stop()

        sp = htlib.Spool(spool)
        sp.scan()
        got = sp.event_ids()
        dups = sum(1 for n in got.values() if n > 1)
        idset = set(ids)
        missing = len(idset - set(got))
        extra = len(set(got) - idset)
        count_ok = (len(idset) == total and sum(got.values()) == total and not dups
                    and not missing and not extra)

        lat.sort()
        run_s = t_clients - t_start
        rows = [
            ("clients x seconds", "%d x %.0f s, %d events/request" % (a.clients, a.seconds,
                                                                     a.batch)),
            ("requests", "%d (%d errors)" % (len(lat), errors)),
            ("acked events", "%d" % total),
            ("acked events/s", "%.0f" % (total / run_s if run_s else 0)),
            ("ack latency p50", "%.1f ms" % (pct(lat, 50) * 1000)),
            ("ack latency p99", "%.1f ms" % (pct(lat, 99) * 1000)),
            ("ack latency max", "%.1f ms" % ((lat[-1] if lat else float("nan")) * 1000)),
            ("end-to-end events/s", ("%.0f (all in spool %.1f s after start)"
                                     % (total / (t_e2e - t_start), t_e2e - t_start))
             if drained else "n/a: only %d of %d delivered within %.0f s"
             % (delivered, total, a.drain_timeout)),
            ("daemon peak RSS", "%.1f MiB" % (hwm / 1024.0) if hwm else "n/a"),
            ("spool files", "%d" % len(sp.files)),
            ("count check", "OK (%d records, each eventID once)" % total if count_ok else
             "FAILED: %d records, %d duplicated ids, %d acked missing, %d unknown"
             % (sum(got.values()), dups, missing, extra)),
            ("daemon exit", "%s" % rc),
        ]
        w = max(len(k) for k, _ in rows)
        print("hosttraild bench (%s, %d cores, fsync=interval)" % (
            os.path.basename(a.daemon), os.cpu_count()))
        print("-" * (w + 50))
        for k, v in rows:
            print("%-*s  %s" % (w, k, v))
        print("-" * (w + 50))
        ok = count_ok and drained and rc == 0 and errors == 0
        if a.min_eps and (not drained or total / (t_e2e - t_start) < a.min_eps):
            print("below --min-eps %.0f" % a.min_eps)
            ok = False
    finally:
        if a.keep:
            for dmn in env.daemons:
                dmn.kill()
            print("kept %s" % env.root)
        else:
            env.__exit__(None if ok else AssertionError, None, None)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
