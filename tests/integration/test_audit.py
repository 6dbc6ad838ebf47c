#!/usr/bin/env python3
"""Issue 6, must-show 3: the kernel audit source on the real kernel audit socket.

Where the kernel refuses audit netlink (containers, no CAP_AUDIT_CONTROL) the whole file
prints "SKIP: <reason>" and exits 77 (automake's SKIP).

- unicast: hosttraild becomes the host's audit daemon with an execve rule; a marker command's
  record is in history (LookupEvents) within 1 s of the command's end; after SIGTERM the
  kernel's audit settings (enabled, pid, backlog_limit, rate_limit, failure) and its rule list
  are exactly as before the start, and the state file is gone.
- another listener (this script, playing auditd: it holds the audit pid, has its own execve
  rule and reads its socket) makes unicast refuse to start with a clear message, while
  multicast mode sees the same marker event (same audit serial) as that listener.
- loss is counted: a multicast listener with a small socket buffer, stopped (SIGSTOP) during a
  burst, counts socket overflows and missing serials in STATUS (the "stopped:" log line) and
  writes an AuditRecordsLost record to history.
- a bad rule in the config stops unicast start-up with the rule named, and leaves the kernel
  untouched."""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

import htlib

NETLINK_AUDIT = 9
AUDIT_GET, AUDIT_SET, AUDIT_LIST_RULES, AUDIT_ADD_RULE, AUDIT_DEL_RULE = 1000, 1001, 1013, 1011, 1012
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK = 1, 4
S_ENABLED, S_FAILURE, S_PID, S_RATE, S_BACKLOG = 1, 2, 4, 8, 16
STATUS_FMT = "=10I"     # mask enabled failure pid rate_limit backlog_limit lost backlog
                        # feature_bitmap backlog_wait_time
AUDIT_FILTER_EXIT, AUDIT_ALWAYS = 4, 2
AUDIT_ARCH, AUDIT_FILTERKEY, AUDIT_EQUAL = 11, 210, 0x40000000
ARCH_X86_64 = 0xC000003E
SYSCALL_EXECVE = 59


# --------------------------------------------------------------------------- the kernel

class Netlink:
    """A NETLINK_AUDIT socket speaking just enough of the protocol for the test."""

    def __init__(self, groups=0):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        self.sock.bind((0, groups))
        self.seq = 0

    def close(self):
        self.sock.close()

    def send(self, mtype, payload=b"", flags=NLM_F_REQUEST | NLM_F_ACK):
        self.seq += 1
        self.sock.send(struct.pack("=IHHII", 16 + len(payload), mtype, flags, self.seq, 0)
                       + payload)
        return self.seq

    def recv(self, timeout=2.0):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        ln, mtype, flags, seq, pid = struct.unpack("=IHHII", data[:16])
        # one message per datagram; records sent to the audit pid carry the payload's
        # length in nlmsg_len (without the header), so the datagram's size decides
        return mtype, seq, data[16:]

    def request(self, mtype, payload=b"", want=None):
        """Send and wait for the ack (or the reply of type want, then its ack)."""
        seq = self.send(mtype, payload)
        reply = None
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            t, s, body = self.recv()
            if s != seq:
                continue
            if t == NLMSG_ERROR:
                err = struct.unpack("=i", body[:4])[0]
                if err != 0:
                    raise OSError(-err, "%s: %s" % (mtype, os.strerror(-err)))
                if want is None or reply is not None:
                    return reply
            elif t == want:
                reply = body
                if want == AUDIT_GET:
                    return reply
        raise TimeoutError("no answer to netlink request %d" % mtype)

    def status(self):
        body = self.request(AUDIT_GET, want=AUDIT_GET)
        body = body + b"\0" * (40 - len(body))
        v = struct.unpack(STATUS_FMT, body[:40])
        return {"enabled": v[1], "failure": v[2], "pid": v[3], "rate_limit": v[4],
                "backlog_limit": v[5], "lost": v[6], "backlog": v[7]}

    def set(self, mask, enabled=0, failure=0, pid=0, rate=0, backlog=0):
        self.request(AUDIT_SET, struct.pack(STATUS_FMT, mask, enabled, failure, pid, rate,
                                            backlog, 0, 0, 0, 0))

    def rules(self):
        """The kernel's rule list, each rule's bytes."""
        seq = self.send(AUDIT_LIST_RULES, flags=NLM_F_REQUEST | NLM_F_ACK)
        out = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            t, s, body = self.recv()
            if s != seq:
                continue
            if t == AUDIT_LIST_RULES:
                out.append(body)
            elif t == NLMSG_DONE:
                return sorted(out)
            elif t == NLMSG_ERROR and struct.unpack("=i", body[:4])[0] != 0:
                raise OSError("listing rules failed")
        raise TimeoutError("rule list did not end")


def execve_rule(key):
    """struct audit_rule_data for "-a always,exit -F arch=b64 -S execve -k KEY"."""
    mask = [0] * 64
    mask[SYSCALL_EXECVE // 32] |= 1 << (SYSCALL_EXECVE % 32)
    fields = [AUDIT_ARCH, AUDIT_FILTERKEY] + [0] * 62
    values = [ARCH_X86_64, len(key)] + [0] * 62
    flags = [AUDIT_EQUAL, AUDIT_EQUAL] + [0] * 62
    kb = key.encode()
    return (struct.pack("=3I", AUDIT_FILTER_EXIT, AUDIT_ALWAYS, 2)
            + struct.pack("=64I", *mask) + struct.pack("=64I", *fields)
            + struct.pack("=64I", *values) + struct.pack("=64I", *flags)
            + struct.pack("=I", len(kb)) + kb)


def kernel_or_skip():
    """A working control socket, or SKIP (exit 77) saying why."""
    try:
        nl = Netlink()
        st = nl.status()
    except OSError as e:
        print("SKIP: the kernel refuses audit netlink here (%s); the kernel audit source "
              "cannot be tested on this machine" % e)
        sys.exit(77)
    except TimeoutError:
        print("SKIP: the kernel does not answer AUDIT_GET (audit=0 on its command line?)")
        sys.exit(77)
    if st["pid"] and os.path.exists("/proc/%d" % st["pid"]):
        print("SKIP: an audit daemon (pid %d) already runs on this machine; the tests would "
              "have to replace it" % st["pid"])
        sys.exit(77)
    if st["enabled"] == 2:
        print("SKIP: the kernel's audit configuration is locked (enabled=2) until reboot")
        sys.exit(77)
    return nl


NL = None           # the control socket, set in main
ORIGINAL = None     # the kernel's settings when the test started, put back at the end


def snapshot():
    st = NL.status()
    return {k: st[k] for k in ("enabled", "failure", "pid", "rate_limit", "backlog_limit")}, \
        NL.rules()


def restore_original(failed=0):
    """Put back the settings and the rule list the test found (a failed test may have left
    a daemon's rules behind: it was killed, not stopped)."""
    st, rules = ORIGINAL
    for r in NL.rules():
        if r not in rules:
            NL.request(AUDIT_DEL_RULE, r)
    NL.set(S_ENABLED | S_FAILURE | S_RATE | S_BACKLOG | S_PID, enabled=st["enabled"],
           failure=st["failure"], rate=st["rate_limit"], backlog=st["backlog_limit"], pid=0)


class Listener(threading.Thread):
    """Plays auditd: holds the audit pid, has its own execve rule, reads its socket."""

    def __init__(self, key):
        super().__init__(daemon=True)
        self.key = key
        self.nl = Netlink()
        self.lines = []
        self.stop_flag = False
        self.nl.set(S_PID | S_ENABLED, pid=os.getpid(), enabled=1)
        self.nl.request(AUDIT_ADD_RULE, execve_rule(key))

    def run(self):
        while not self.stop_flag:
            try:
                t, _, body = self.nl.recv(timeout=0.2)
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                continue    # ENOBUFS: we only need the marker's records
            if t >= 1100:
                self.lines.append((t, body.rstrip(b"\0").decode("utf-8", "replace")))

    def serial_of(self, marker):
        for t, text in list(self.lines):
            if t == 1309 and marker in text:    # EXECVE
                m = re.match(r"audit\(\d+\.\d+:(\d+)\)", text)
                return int(m.group(1))
        return None

    def close(self):
        self.stop_flag = True
        self.join(5)
        try:
            self.nl.request(AUDIT_DEL_RULE, execve_rule(self.key))
        finally:
            self.nl.set(S_PID, pid=0)
            self.nl.close()


# --------------------------------------------------------------------------- daemon

def make_config(env, **src):
    doc = htlib.config_doc(env.root, trails=[], buckets=["spool-1"], fsync_interval="50ms")
    s = {"type": "audit"}
    s.update(src)
    doc["sources"] = [s]
    doc["history"]["lookup_data_events"] = True
    return env.write_config(doc)


def find_marker(d, marker):
    for rec in d.history_records():
        if (rec.get("additionalEventData") or {}).get("source") == "netlink" and \
                marker in json.dumps(rec.get("requestParameters")):
            return rec
    return None


def run_marker():
    """Run /bin/true with a unique argument; (marker, time it ended)."""
    marker = "hosttrail-marker-" + uuid.uuid4().hex[:12]
    subprocess.run(["/bin/true", marker], check=True)
    return marker, time.monotonic()


def wait_marker(d, marker, ended, limit=1.0, timeout=10):
    """The marker's record, asserting it was in history within limit seconds."""
    deadline = ended + timeout
    while time.monotonic() < deadline:
        rec = find_marker(d, marker)
        if rec is not None:
            took = time.monotonic() - ended
            assert took <= limit, "the marker's record took %.2f s (limit %.1f s)" % (took, limit)
            htlib.log("marker record in history %.3f s after the command" % took)
            return rec
        time.sleep(0.02)
    raise AssertionError("no record of %s within %d s; log: %s"
                         % (marker, timeout, d.log_text()[-2000:]))




# --------------------------------------------------------------------------- tests

def test_unicast_marker_within_1s_and_state_restored():
    # a recognisable "before": not the kernel's defaults
    NL.set(S_ENABLED | S_BACKLOG | S_RATE | S_FAILURE, enabled=0, backlog=321, rate=0,
           failure=1)
    before = snapshot()
    with htlib.Env("audit-unicast") as env:
        cfg = make_config(env, mode="unicast", backlog_limit=4096, rate_limit=0,
                          rules=["-a always,exit -F arch=b64 -S execve -k ht-test"])
        d = env.daemon(cfg).start()
        st, rules = snapshot()
        assert st["pid"] == d.pid, "audit pid is %d, hosttraild is %d" % (st["pid"], d.pid)
        assert st["enabled"] == 1 and st["backlog_limit"] == 4096, st
        assert len(rules) == len(before[1]) + 1, "rules: %d, before %d" % (
            len(rules), len(before[1]))
        state_file = env.path("state", "sources", "audit-kernel-state.json")
        assert os.path.exists(state_file), "no saved kernel state while running"
        for _ in range(3):
            marker, ended = run_marker()
            rec = wait_marker(d, marker, ended)
        assert (rec["eventSource"], rec["eventName"], rec["eventCategory"]) == (
            "host.process", "ExecuteProcess", "Data"), rec
        assert rec["requestParameters"].get("key") == "ht-test", rec["requestParameters"]
        assert marker in rec["requestParameters"].get("commandLine", ""), rec
        off = d.log_size()
        d.stop()
        d.wait_log(r"audit: the kernel's audit settings and rules are as found at start", off)
        after = snapshot()
        assert after == before, "kernel audit state not restored:\n before %s\n after  %s" % (
            before[0], after[0])
        assert not os.path.exists(state_file), "state file left behind"


def test_unicast_refused_multicast_sees_same_event():
    listener = Listener("ht-other")
    listener.start()
    try:
        before = snapshot()
        with htlib.Env("audit-multicast") as env:
            # unicast must not take the audit pid from the running listener
            d = env.daemon(make_config(env, mode="unicast",
                                       rules=["-a always,exit -F arch=b64 -S execve"]))
            try:
                d.start()
                raise AssertionError("unicast mode started although pid %d holds audit"
                                     % os.getpid())
            except htlib.DaemonError:
                pass
            log = d.log_text()
            assert re.search(r"process %d .*is the kernel's audit daemon.*use mode: multicast"
                             % os.getpid(), log), log[-2000:]
            assert snapshot() == before, "a refused unicast start changed the kernel"

            d = env.daemon(make_config(env, mode="multicast")).start()
            marker, ended = run_marker()
            rec = wait_marker(d, marker, ended)
            deadline = time.monotonic() + 5
            while listener.serial_of(marker) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            serial = listener.serial_of(marker)
            assert serial is not None, "the other listener did not see the marker"
            got = rec["additionalEventData"]["auditSerial"]
            assert got == serial, "multicast serial %s, the listener's %s" % (got, serial)
            assert snapshot()[0]["pid"] == os.getpid(), "multicast mode took the audit pid"
            d.stop()
    finally:
        listener.close()


def test_loss_counted_and_reported():
    listener = Listener("ht-loss")
    listener.start()
    try:
        with htlib.Env("audit-loss") as env:
            d = env.daemon(make_config(env, mode="multicast", socket_buffer="64KiB",
                                       loss_report_interval="1s", status_interval="200ms")
                           ).start()
            d.send_signal(signal.SIGSTOP)
            try:
                subprocess.run(["/bin/sh", "-c", "i=0; while [ $i -lt 1500 ]; do /bin/true; "
                                "i=$((i+1)); done"], check=True)
            finally:
                d.send_signal(signal.SIGCONT)
            # a gap shows once a later serial arrives: one more audited command
            time.sleep(0.5)
            run_marker()
            # overflows are reported at once; serials still missing after the grace period
            # (5 s) come in a later report
            deadline = time.monotonic() + 30
            reports = []
            while time.monotonic() < deadline:
                reports = [r for r in d.history_records() if r.get("eventName") ==
                           "AuditRecordsLost"]
                if sum(r["serviceEventDetails"]["missingSerials"] for r in reports) > 0:
                    break
                time.sleep(0.2)
            assert reports, "no AuditRecordsLost record; log: %s" % d.log_text()[-2000:]
            details = [r["serviceEventDetails"] for r in reports]
            assert sum(x["socketOverflows"] for x in details) > 0, details
            assert sum(x["missingSerials"] for x in details) > 0, details
            lost = reports[0]
            assert lost["eventSource"] == "host.audit" and lost["eventType"] == "AwsServiceEvent"
            off = d.log_size()
            d.stop()
            m = d.wait_log(r"stopped: .*?(audit \(multicast\)[^;\n]*;[^;\n]*; LOST:[^;\n]*)",
                         off)
            status = m.group(1)
            nums = re.search(r"LOST: (\d+) by the kernel, (\d+) socket overflows, (\d+) "
                             r"missing serials", status)
            assert nums and int(nums.group(2)) > 0 and int(nums.group(3)) > 0, status
            htlib.log("status at stop: %s" % status)
    finally:
        listener.close()


def test_bad_rule_refused_kernel_untouched():
    before = snapshot()
    with htlib.Env("audit-badrule") as env:
        d = env.daemon(make_config(env, mode="unicast", rules=[
            "-a always,exit -F arch=b64 -S execve",
            "-a always,exit -F arch=b64 -S exeve -k typo"]))
        try:
            d.start()
            raise AssertionError("started with a bad rule")
        except htlib.DaemonError:
            pass
        log = d.log_text()
        assert "rules[1]" in log and "exeve" in log, log[-2000:]
        assert snapshot() == before, "a refused start changed the kernel"


if __name__ == "__main__":
    NL = kernel_or_skip()
    ORIGINAL = snapshot()
    htlib.run([test_unicast_marker_within_1s_and_state_restored,
               test_unicast_refused_multicast_sees_same_event,
               test_loss_counted_and_reported,
               test_bad_rule_refused_kernel_untouched], teardown=restore_original)
