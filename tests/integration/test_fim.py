#!/usr/bin/env python3
"""Issue 7, must-show 3: the file integrity source (type: fim).

A tree is watched; the test makes changes and reads the records back with LookupEvents
(history.lookup_data_events: true), checking each against the file itself:
  - create, write, chmod, chown, rename and delete of files, each with the eventName the
    audit mapping uses, the SHA-256 of the content (hashlib), mode, uid and owner;
  - a directory created and a file written into it at once (before the daemon could
    watch it): both are reported, and later changes inside it too;
  - a nested directory tree made with makedirs, and a symlink pointing out of the tree
    (recorded as a link, never followed: its hash is that of the target's name);
  - excluded paths (fnmatch patterns) produce nothing; a file over hash_max is not hashed;
  - the kernel's event queue overflowing (a burst of writes while the daemon is stopped
    with SIGSTOP, more events than fs.inotify.max_queued_events) is followed by a rescan
    whose records report exactly the changes made meanwhile, plus a FileIntegrityRescan
    record; live events work again afterwards;
  - the inotify watch limit (lowered inside a user namespace, so nothing else on the host
    is affected): one clear warning naming fs.inotify.max_user_watches, a counter in the
    status, and the daemon keeps going.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

import htlib


# --------------------------------------------------------------------------- helpers

def make_config(env, paths, exclude=(), hash_max=None):
    doc = htlib.config_doc(env.root, trails=[], buckets=["spool-1"])
    src = {"type": "fim", "paths": list(paths)}
    if exclude:
        src["exclude"] = list(exclude)
    if hash_max is not None:
        src["hash_max"] = hash_max
    doc["sources"] = [src]
    doc["history"]["lookup_data_events"] = True
    return env.write_config(doc)




def fim_records(d):
    """Every host.file record in history, oldest first."""
    recs = [r for r in d.history_records() if r.get("eventSource") == "host.file"]
    recs.reverse()
    return recs


def rec_path(r):
    return (r.get("requestParameters") or {}).get("path") or \
        (r.get("serviceEventDetails") or {}).get("path")


def find(recs, name, path):
    return [r for r in recs if r["eventName"] == name and rec_path(r) == path]


def wait_records(d, want, timeout=30):
    """want: [(eventName, path)]; waits until each has at least one record."""
    deadline = time.monotonic() + timeout
    while True:
        recs = fim_records(d)
        missing = [w for w in want if not find(recs, *w)]
        if not missing:
            return recs
        if time.monotonic() > deadline:
            got = [(r["eventName"], rec_path(r)) for r in recs]
            raise AssertionError("records missing after %ds: %s; have: %s"
                                 % (timeout, missing, got[-40:]))
        time.sleep(0.2)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def write(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)             # whatever the umask
    os.write(fd, data)
    os.close(fd)


def check_state(r, path, data=None, mode=None, uid=0, owner="root"):
    """The record's responseElements describe path as it is (and data, if given)."""
    problems = []
    st = os.lstat(path)
    re_ = r.get("responseElements") or {}
    if data is not None and re_.get("sha256") != sha(data):
        problems.append("sha256 %r, want %r" % (re_.get("sha256"), sha(data)))
    if mode is not None and re_.get("mode") != "%04o" % mode:
        problems.append("mode %r, want %04o" % (re_.get("mode"), mode))
    if re_.get("uid") != uid or (owner and re_.get("owner") != owner):
        problems.append("uid/owner %r/%r, want %r/%r" % (re_.get("uid"), re_.get("owner"),
                                                          uid, owner))
    if re_.get("size") != st.st_size and data is not None:
        problems.append("size %r, want %d" % (re_.get("size"), st.st_size))
    problems += check_shape(r, path)
    assert not problems, "%s %s: %s\n%s" % (r["eventName"], path, "; ".join(problems),
                                            json.dumps(r, indent=1)[:3000])


def check_shape(r, path):
    """What every fim data record has."""
    p = []
    for k, v in (("eventCategory", "Data"), ("eventType", "AwsServiceEvent"),
                 ("readOnly", False), ("managementEvent", False)):
        if r.get(k) != v:
            p.append("%s %r, want %r" % (k, r.get(k), v))
    if r.get("userIdentity") != {"type": "Unknown"}:
        p.append("userIdentity %r" % r.get("userIdentity"))
    if {"type": "Host::File", "ARN": path} not in (r.get("resources") or []):
        p.append("resources %r lack %s" % (r.get("resources"), path))
    if (r.get("additionalEventData") or {}).get("source") != "fim":
        p.append("additionalEventData %r" % r.get("additionalEventData"))
    for f in htlib.REQUIRED_RECORD_FIELDS:
        if f not in r:
            p.append("no %s" % f)
    return p


def only(recs, name, path):
    got = find(recs, name, path)
    assert len(got) == 1, "%s %s: %d records, want 1: %s" % (
        name, path, len(got), [(r["eventName"], rec_path(r)) for r in recs][-30:])
    return got[0]


def stopped_status(d, offset):
    m = d.wait_log(r"stopped: .*?(fim \([^;\n]*)", offset, timeout=10)
    return m.group(1)


# --------------------------------------------------------------------------- tests

def test_changes_hash_mode_owner():
    with htlib.Env("fim") as env:
        tree = env.path("tree")
        os.makedirs(os.path.join(tree, "sub"))
        os.makedirs(os.path.join(tree, "skipme"))
        write(os.path.join(tree, "a.txt"), b"alpha\n")
        write(os.path.join(tree, "sub", "old.txt"), b"old\n")
        big = os.path.join(tree, "big.bin")
        write(big, b"x" * 1000)
        d = env.daemon(make_config(env, [tree], exclude=["*.swp", tree + "/skipme"],
                                   hash_max=4096)).start()
        d.wait_log(r"fim: baseline taken: 5 paths known")
        assert fim_records(d) == [], "the baseline makes no records"

        # create (mode 0640), write, chmod, chown, rename, delete
        a, new = os.path.join(tree, "a.txt"), os.path.join(tree, "new.txt")
        write(new, b"fresh content\n", 0o640)
        with open(a, "ab") as f:
            f.write(b"more\n")
        recs = wait_records(d, [("CreateFile", new), ("WriteFile", a)])
        check_state(only(recs, "CreateFile", new), new, b"fresh content\n", 0o640)
        w = only(recs, "WriteFile", a)
        check_state(w, a, b"alpha\nmore\n", 0o644)
        prev = w["additionalEventData"].get("previous") or {}
        assert prev.get("sha256") == sha(b"alpha\n"), "previous state: %r" % prev
        assert "content" in w["additionalEventData"]["changes"]

        os.chmod(a, 0o600)
        recs = wait_records(d, [("ChangeFilePermissions", a)])
        check_state(only(recs, "ChangeFilePermissions", a), a, b"alpha\nmore\n", 0o600)
        os.chown(new, 1, 1)
        recs = wait_records(d, [("ChangeFileOwner", new)])
        r = only(recs, "ChangeFileOwner", new)
        check_state(r, new, b"fresh content\n", 0o640, uid=1, owner=None)
        assert r["responseElements"]["gid"] == 1 and r["additionalEventData"]["previous"][
            "uid"] == 0, r

        b = os.path.join(tree, "sub", "b.txt")
        os.rename(a, b)
        recs = wait_records(d, [("RenameFile", a)])
        r = only(recs, "RenameFile", a)
        assert r["requestParameters"] == {"path": a, "newPath": b}, r["requestParameters"]
        check_state(r, b, b"alpha\nmore\n", 0o600)
        assert {"type": "Host::File", "ARN": b} in r["resources"]

        # a directory made, and a file written into it at once: the file was there
        # before the watch, the scan of the new directory reports it
        nd = os.path.join(tree, "newdir")
        inner = os.path.join(nd, "inner.txt")
        os.mkdir(nd)
        write(inner, b"written at once\n")
        deep = os.path.join(tree, "deep", "x", "y")
        os.makedirs(deep)
        deepf = os.path.join(deep, "leaf.txt")
        write(deepf, b"leaf\n", 0o600)
        link = os.path.join(tree, "passwd-link")
        os.symlink("/etc/passwd", link)
        recs = wait_records(d, [("CreateDirectory", nd), ("CreateFile", inner),
                                ("CreateDirectory", os.path.join(tree, "deep", "x", "y")),
                                ("CreateFile", deepf), ("CreateLink", link)])
        check_state(only(recs, "CreateDirectory", nd), nd, mode=os.lstat(nd).st_mode & 0o7777)
        for path, data in ((inner, b"written at once\n"), (deepf, b"leaf\n")):
            # caught by the scan or the event, maybe while empty: the last record of
            # the file has the content
            mine = [r for r in recs if rec_path(r) == path]
            assert mine[0]["eventName"] == "CreateFile", [x["eventName"] for x in mine]
            check_state(mine[-1], path, data)
        lr = only(recs, "CreateLink", link)
        assert lr["responseElements"]["fileType"] == "symlink"
        assert lr["responseElements"]["linkTarget"] == "/etc/passwd"
        assert lr["responseElements"]["sha256"] == sha(b"/etc/passwd"), \
            "a symlink's hash is its target's name: the link is not followed"

        # inside the new directory, live
        with open(inner, "ab") as f:
            f.write(b"and then more\n")
        recs = wait_records(d, [("WriteFile", inner)])
        check_state(find(recs, "WriteFile", inner)[-1], inner,
                    b"written at once\nand then more\n")

        # excluded, too large to hash
        write(os.path.join(tree, "notes.swp"), b"swap\n")
        write(os.path.join(tree, "skipme", "x.txt"), b"skip\n")
        os.mkdir(os.path.join(tree, "skipme", "d"))
        write(big, b"y" * 5000)
        recs = wait_records(d, [("WriteFile", big)])
        r = only(recs, "WriteFile", big)
        assert r["responseElements"].get("hashSkipped") == "tooLarge" and \
            "sha256" not in r["responseElements"], r["responseElements"]

        # delete: a file, then a whole directory
        os.unlink(b)
        shutil.rmtree(nd)
        recs = wait_records(d, [("DeleteFile", b), ("DeleteFile", inner),
                                ("DeleteDirectory", nd)])
        r = only(recs, "DeleteFile", b)
        assert r["responseElements"] is None and \
            r["additionalEventData"]["previous"]["sha256"] == sha(b"alpha\nmore\n"), r
        assert check_shape(r, b) == []

        time.sleep(1.0)             # anything late, or excluded, shows up by now
        recs = fim_records(d)
        bad = [rec_path(r) for r in recs if rec_path(r) and (
            rec_path(r).endswith(".swp") or "/skipme" in rec_path(r))]
        assert not bad, "excluded paths made records: %s" % bad
        dup_creates = [p for p in (new, nd, deepf) if len(find(recs, "CreateFile", p)) +
                       len(find(recs, "CreateDirectory", p)) > 1]
        assert not dup_creates, "created twice: %s" % dup_creates
        off = d.log_size()
        assert d.stop() == 0
        htlib.log("status: " + stopped_status(d, off))


def test_two_paths_late_root_cross_rename():
    """A configured path created after start, and a directory renamed from one
    configured path into the other: its files follow under their new names."""
    with htlib.Env("fim-two") as env:
        one, two = env.path("one"), env.path("two")
        os.makedirs(os.path.join(one, "sub"))
        write(os.path.join(one, "sub", "f.txt"), b"f\n")
        d = env.daemon(make_config(env, [one, two])).start()
        d.wait_log(r"fim: %s does not exist \(yet\)" % re.escape(two))
        d.wait_log(r"fim: baseline taken: 3 paths known")
        os.mkdir(two)
        recs = wait_records(d, [("CreateDirectory", two)])
        check_state(only(recs, "CreateDirectory", two), two, mode=os.stat(two).st_mode & 0o7777)
        time.sleep(0.3)             # the new path is walked and watched
        moved = os.path.join(two, "moved")
        os.rename(os.path.join(one, "sub"), moved)
        recs = wait_records(d, [("RenameFile", os.path.join(one, "sub"))])
        r = only(recs, "RenameFile", os.path.join(one, "sub"))
        assert r["requestParameters"]["newPath"] == moved, r["requestParameters"]
        f = os.path.join(moved, "f.txt")
        with open(f, "ab") as fh:
            fh.write(b"more\n")
        g = os.path.join(moved, "g.txt")
        write(g, b"g\n")
        recs = wait_records(d, [("WriteFile", f), ("CreateFile", g)])
        w = only(recs, "WriteFile", f)
        check_state(w, f, b"f\nmore\n")
        assert w["additionalEventData"]["previous"]["sha256"] == sha(b"f\n"), \
            "the moved file kept what was known of it"
        check_state(only(recs, "CreateFile", g), g, b"g\n")
        # the old names are gone without a record of their own
        assert not find(recs, "DeleteFile", os.path.join(one, "sub", "f.txt")), recs
        assert d.stop() == 0


def burst(a, b, n):
    """2n IN_MODIFY events that the kernel cannot merge (they alternate)."""
    fa = os.open(a, os.O_WRONLY | os.O_APPEND)
    fb = os.open(b, os.O_WRONLY | os.O_APPEND)
    try:
        for _ in range(n):
            os.write(fa, b"a")
            os.write(fb, b"b")
    finally:
        os.close(fa)
        os.close(fb)


def test_overflow_rescan():
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        max_queued = int(f.read())
    if max_queued > 200000:
        htlib.log("max_queued_events is %d: the burst would take long" % max_queued)
    with htlib.Env("fim-overflow") as env:
        tree = env.path("tree")
        os.makedirs(os.path.join(tree, "s"))
        files = {k: os.path.join(tree, "s" if k in "DE" else "", k + ".txt")
                 for k in "ABDEF"}
        for k, p in files.items():
            write(p, ("%s\n" % k).encode())
        d = env.daemon(make_config(env, [tree])).start()
        d.wait_log(r"fim: baseline taken")

        d.send_signal(signal.SIGSTOP)
        try:
            n = max_queued // 2 + 2000
            t0 = time.monotonic()
            burst(files["A"], files["B"], n)
            htlib.log("burst: %d events in %.1fs (max_queued_events %d)"
                      % (2 * n, time.monotonic() - t0, max_queued))
            # the queue is full: these changes reach the daemon only through the rescan
            c = os.path.join(tree, "C.txt")
            write(c, b"made during the overflow\n", 0o600)
            os.chmod(files["D"], 0o751)
            os.unlink(files["E"])
            write(files["F"], b"F changed\n")
            g = os.path.join(tree, "G")
            os.mkdir(g)
            gf = os.path.join(g, "in-g.txt")
            write(gf, b"in G\n")
        finally:
            d.send_signal(signal.SIGCONT)

        d.wait_log(r"inotify event queue overflowed")
        recs = wait_records(d, [("FileIntegrityRescan", tree), ("CreateFile", c),
                                ("ChangeFilePermissions", files["D"]),
                                ("DeleteFile", files["E"]), ("WriteFile", files["F"]),
                                ("CreateDirectory", g), ("CreateFile", gf),
                                ("WriteFile", files["A"]), ("WriteFile", files["B"])],
                             timeout=60)
        rs = only(recs, "FileIntegrityRescan", tree)
        det = rs["serviceEventDetails"]
        assert rs["eventCategory"] == "Management" and det["reason"] == "overflow", rs
        assert det["created"] == 3 and det["deleted"] == 1 and det["changed"] >= 2, det
        for name, path, data, mode in (("CreateFile", c, b"made during the overflow\n", 0o600),
                                       ("ChangeFilePermissions", files["D"], b"D\n", 0o751),
                                       ("WriteFile", files["F"], b"F changed\n", 0o644),
                                       ("CreateFile", gf, b"in G\n", 0o644)):
            r = only(recs, name, path)
            assert r["additionalEventData"]["detectedBy"] == "rescan", r["additionalEventData"]
            check_state(r, path, data, mode)
        e = only(recs, "DeleteFile", files["E"])
        assert e["additionalEventData"]["detectedBy"] == "rescan"
        with open(files["A"], "rb") as f:
            a_now = f.read()
        wa = find(recs, "WriteFile", files["A"])
        assert wa[-1]["responseElements"]["sha256"] == sha(a_now), "A after the burst"

        # nothing reported twice, and live events work again after the rescan
        h = os.path.join(g, "after.txt")
        write(h, b"after the rescan\n")
        recs = wait_records(d, [("CreateFile", h)])
        assert find(recs, "CreateFile", h)[0]["additionalEventData"]["detectedBy"] == \
            "inotify"
        for name, path in (("CreateFile", c), ("DeleteFile", files["E"]),
                           ("CreateDirectory", g), ("CreateFile", gf)):
            assert len(find(recs, name, path)) == 1, (name, path)
        off = d.log_size()
        assert d.stop() == 0
        st = stopped_status(d, off)
        htlib.log("status: " + st)
        assert re.search(r"\b1 overflows, 1 rescans", st), st


def test_watch_limit():
    """The watch limit, lowered in a user namespace of the daemon's own."""
    probe = subprocess.run(["unshare", "-U", "-r", "sh", "-c",
                            "echo 4 > /proc/sys/user/max_inotify_watches"],
                           capture_output=True)
    if probe.returncode != 0:
        htlib.log("SKIP: cannot lower max_inotify_watches in a user namespace: %r"
                  % probe.stderr)
        return
    with htlib.Env("fim-limit") as env:
        tree = env.path("tree")
        for i in range(8):
            os.makedirs(os.path.join(tree, "d%d" % i))
            write(os.path.join(tree, "d%d" % i, "f"), b"%d\n" % i)
        wrapper = env.path("hosttraild-limited")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec unshare -U -r sh -c "
                    "'echo 4 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\"' "
                    "%s \"$@\"\n" % htlib.HOSTTRAILD)
        os.chmod(wrapper, 0o755)
        d = env.daemon(make_config(env, [tree]), binary=wrapper).start()
        m = d.wait_log(r"fim: the inotify watch limit is reached \(fs\.inotify\."
                        r"max_user_watches = \d+, 4 in this user namespace\): "
                        r"(\d+) directories are not watched")
        assert int(m.group(1)) >= 1, m.group(0)
        d.wait_log(r"fim: baseline taken")
        # the daemon goes on: a change in the top directory (watched first) is seen
        top = os.path.join(tree, "top.txt")
        write(top, b"top\n")
        wait_records(d, [("CreateFile", top)])
        off = d.log_size()
        assert d.stop() == 0
        st = stopped_status(d, off)
        htlib.log("status: " + st)
        m = re.search(r"(\d+) directories not watched \(watch limit\)", st)
        assert m and int(m.group(1)) >= 1, st


if __name__ == "__main__":
    htlib.run([test_changes_hash_mode_owner, test_two_paths_late_root_cross_rename,
               test_overflow_rescan, test_watch_limit])
