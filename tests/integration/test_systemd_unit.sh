#!/bin/sh
# test_systemd_unit.sh - hosttrail.service is a unit systemd accepts as is,
# and it is sandboxed.
#
# systemd need not be running (it is not PID 1 in CI containers):
#  - `systemd-analyze verify` loads the unit the way PID 1 would.  It exits 0
#    on unknown keys and unparsable values, so any output at all is a failure.
#    It also wants the ExecStart binary to exist, so the unit is generated from
#    systemd/hosttrail.service.in with ExecStart pointing at $HOSTTRAILD.
#  - `systemd-analyze security --offline=true` scores the sandboxing; above
#    3.0 is a failure (the unit is built to score well under that).
#
# Environment (set by `make check`): HT_SRCDIR (source tree), HT_BUILDDIR
# (build tree), HOSTTRAILD (the built daemon; any existing executable will
# do for these checks).  Prints one line per check and "N passed, N failed".
set -u

srcdir=${HT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
daemon=${HOSTTRAILD:-${HT_BUILDDIR:-.}/hosttraild}
unit_in=$srcdir/systemd/hosttrail.service.in
max_exposure=30		# tenths, as --threshold takes it: 3.0

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# Missing tools or inputs are failures, not skips: autogen.sh installs the
# systemd package, so a missing systemd-analyze means a broken set-up.
if ! command -v systemd-analyze >/dev/null 2>&1; then
	fail "systemd-analyze not found: install the Debian package systemd" \
	    "(apt-get install -y systemd, or run ./autogen.sh as root)"
	finish
fi
if [ ! -r "$unit_in" ]; then
	fail "$unit_in: not found (HT_SRCDIR=$srcdir)"
	finish
fi
if [ ! -x "$daemon" ]; then
	fail "$daemon: no such executable (set HOSTTRAILD to the built hosttraild)"
	finish
fi
case $daemon in
/*) ;;
*) daemon=$(cd "$(dirname "$daemon")" && pwd)/$(basename "$daemon") ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/ht-unit.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM
unit=$work/hosttrail.service
out=$work/out

# Escape what sed's replacement treats specially: \ & and the | delimiter.
sed_escape() { printf '%s\n' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# Same substitution as Makefile.am, except that ExecStart runs $HOSTTRAILD.
if sed -e "s|@sbindir@/hosttraild|$(sed_escape "$daemon")|g" \
    -e 's|@sbindir@|/usr/sbin|g' -e 's|@sysconfdir@|/etc|g' \
    "$unit_in" >"$unit" && ! grep -n '@[a-z_]*@' "$unit"; then
	pass "generated $unit from hosttrail.service.in"
else
	fail "could not generate the unit (an @placeholder@ left unsubstituted?)"
	finish
fi

# The keys the daemon's contract with systemd depends on (issue 2); each is
# the start of a line.
missing=""
# shellcheck disable=SC2016 # $MAINPID is literal text in the unit
for want in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=' 'Restart=on-failure' \
    'ExecReload=/bin/kill -HUP $MAINPID' 'StateDirectory=hosttrail' \
    'RuntimeDirectory=hosttrail' 'ProtectSystem=strict' 'NoNewPrivileges=yes' \
    'CapabilityBoundingSet=' 'SystemCallFilter=@system-service'; do
	awk -v w="$want" 'index($0, w) == 1 { found = 1 } END { exit !found }' "$unit" ||
		missing="$missing '$want'"
done
if [ -z "$missing" ]; then
	pass "unit has the notify, watchdog, reload and sandbox keys"
else
	fail "unit lacks:$missing"
fi

# The harness itself: verify must print something for a bad key, otherwise
# "no output" below would prove nothing on this systemd version.
mkdir "$work/bad"
{ cat "$unit"; echo 'NoSuchKeyForHosttrail=1'; } >"$work/bad/hosttrail.service"
systemd-analyze verify --man=no "$work/bad/hosttrail.service" >"$out" 2>&1
if [ -s "$out" ]; then
	pass "systemd-analyze verify reports a bad key (harness check)"
else
	fail "systemd-analyze verify printed nothing for an unknown key; cannot trust it"
fi

# verify: exit status 0 and not a single line of output.
systemd-analyze verify --man=no "$unit" >"$out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$out" ]; then
	pass "systemd-analyze verify: no complaints"
else
	sed -e 's/^/  verify: /' "$out"
	fail "systemd-analyze verify (exit $rc) complained about hosttrail.service"
fi

# security: print the score line; the threshold makes it exit non-zero above
# 3.0, and the score is parsed too so a silently ignored --threshold cannot
# pass a bad unit.
SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat systemd-analyze security --offline=true \
    --threshold="$max_exposure" "$unit" >"$out" 2>&1
rc=$?
score_line=$(grep 'Overall exposure level' "$out")
score=$(printf '%s\n' "$score_line" | sed -n 's/.*: *\([0-9][0-9]*\)\.\([0-9]\).*/\1\2/p')
echo "${score_line:-no exposure score printed}"
if [ -z "$score" ]; then
	sed -e 's/^/  security: /' "$out"
	fail "systemd-analyze security printed no exposure score (exit $rc)"
elif [ "$score" -gt "$max_exposure" ] || [ "$rc" -ne 0 ]; then
	grep '✗' "$out" | sed -e 's/^/  /'
	fail "exposure score above 3.0 (exit $rc): tighten the sandbox"
else
	pass "systemd-analyze security: exposure at most 3.0"
fi

finish
