#!/bin/sh
# run.sh - what `make bench` runs: every benchmark of this tree, in turn.
#
#   run.sh SRCDIR BUILDDIR
#
# Builds nothing (make has built hosttraild, tests/bench/bench_history,
# tests/bench/bench_gzip and tests/bench/bench_audit).
# Runs, printing each one's tables and how long it took:
#   1. bench_ingest.py: PutAuditEvents throughput of the daemon,
#   2. bench_history at 1M events over 90 days,
#   3. bench_history at 10M events (takes a while and ~10 GB of disk: skipped
#      when BENCH_QUICK=1 or when less than 20 GB is free where it writes),
#   4. bench_delivery.py: S3 delivery throughput to a local Swift (s3api) on
#      loopback with 5 trails (skipped when Swift is missing and cannot be
#      installed: swift.sh exits 77; HT_NO_APT=1 forbids installing it),
#   5. bench_gzip: the gzip cost of building a log file against gzip -6,
#   6. bench_audit.py: audit.log to JSON (parse, assemble, map, serialize)
#      against laurel on the same 220 MB file, with the event counts checked
#      (skipped when laurel is missing and cannot be installed: exit 77;
#      HT_NO_APT=1 forbids installing it),
#   7. bench_netlink.py: the kernel audit source in unicast mode under a
#      /bin/true storm: events/s with zero loss (skipped where the kernel
#      refuses audit netlink: exit 77),
#   8. bench_journal.py: journal entries/s into history through the journal
#      source, 200k entries made with systemd-journal-remote (skipped when it
#      is missing and cannot be installed: exit 77; HT_NO_APT=1 forbids it),
#   9. bench_authlog.py: auth.log lines/s into history through the file
#      source, 500k generated Debian 12 lines, with the counts checked.
# Each run is bounded by timeout(1) (BENCH_TIMEOUT_INGEST / _1M / _10M /
# _DELIVERY / _GZIP / _AUDIT / _NETLINK / _JOURNAL / _AUTHLOG, seconds).  Everything is written under one directory
# made in $TMPDIR (else /var/tmp) and removed at the end, even after a
# timeout or ^C.  A benchmark exiting 77 is reported as skipped.
# Exit status: 1 if any benchmark failed (an error, not a missed target).
set -u

srcdir=${1:?usage: run.sh SRCDIR BUILDDIR}
builddir=${2:?usage: run.sh SRCDIR BUILDDIR}
python=${PYTHON3:-python3}
bench_history="$builddir/tests/bench/bench_history"
tmp=${TMPDIR:-/var/tmp}
need_kb=$((20 * 1024 * 1024))
status=0

work=$(mktemp -d "$tmp/hosttrail-bench.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run NAME TIMEOUT CMD...: run one benchmark, note its duration and outcome.
run() {
	name=$1
	limit=$2
	shift 2
	echo
	echo "######## $name (time limit ${limit}s) ########"
	start=$(date +%s)
	TMPDIR="$work" timeout --kill-after=30 "$limit" "$@"
	rc=$?
	rm -rf "${work:?}"/*
	took=$(($(date +%s) - start))
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "######## $name: TIMED OUT after ${took}s ########"
		status=1
	elif [ "$rc" -eq 77 ]; then
		echo "######## $name: SKIPPED (exit 77) after ${took}s ########"
		summary="$summary
  $name: skipped (exit 77), ${took}s"
		return
	elif [ "$rc" -ne 0 ]; then
		echo "######## $name: FAILED (exit $rc) after ${took}s ########"
		status=1
	else
		echo "######## $name: done in ${took}s ########"
	fi
	summary="$summary
  $name: exit $rc, ${took}s"
}

summary=""
run "ingest (bench_ingest.py)" "${BENCH_TIMEOUT_INGEST:-600}" \
	"$python" "$srcdir/tests/bench/bench_ingest.py" --daemon "$builddir/hosttraild"
run "history, 1M events" "${BENCH_TIMEOUT_1M:-1800}" \
	"$bench_history" --events 1000000

free_kb=$(df -Pk "$tmp" | awk 'NR == 2 { print $4 }')
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	echo
	echo "######## history, 10M events: SKIPPED (BENCH_QUICK=1) ########"
	summary="$summary
  history, 10M events: skipped (BENCH_QUICK=1)"
elif [ -z "$free_kb" ] || [ "$free_kb" -lt "$need_kb" ]; then
	echo
	echo "######## history, 10M events: SKIPPED (${free_kb:-?} KB free in $tmp," \
	    "need 20 GB; set TMPDIR elsewhere) ########"
	summary="$summary
  history, 10M events: skipped (not enough disk in $tmp)"
else
	run "history, 10M events" "${BENCH_TIMEOUT_10M:-10800}" \
		"$bench_history" --events 10000000
fi

run "delivery to Swift S3, 5 trails (bench_delivery.py)" "${BENCH_TIMEOUT_DELIVERY:-1800}" \
	"$python" "$srcdir/tests/bench/bench_delivery.py" --daemon "$builddir/hosttraild"
run "gzip vs gzip -6 (bench_gzip)" "${BENCH_TIMEOUT_GZIP:-600}" \
	"$builddir/tests/bench/bench_gzip"
run "audit.log to JSON vs laurel (bench_audit.py)" "${BENCH_TIMEOUT_AUDIT:-1200}" \
	"$python" "$srcdir/tests/bench/bench_audit.py" \
	--bench "$builddir/tests/bench/bench_audit"
run "kernel audit storm, unicast (bench_netlink.py)" "${BENCH_TIMEOUT_NETLINK:-300}" \
	"$python" "$srcdir/tests/bench/bench_netlink.py" --daemon "$builddir/hosttraild"
run "journal to history (bench_journal.py)" "${BENCH_TIMEOUT_JOURNAL:-900}" \
	"$python" "$srcdir/tests/bench/bench_journal.py" --daemon "$builddir/hosttraild"
run "auth.log to history (bench_authlog.py)" "${BENCH_TIMEOUT_AUTHLOG:-900}" \
	"$python" "$srcdir/tests/bench/bench_authlog.py" --daemon "$builddir/hosttraild"

echo
echo "######## benchmarks:$summary"
exit $status
