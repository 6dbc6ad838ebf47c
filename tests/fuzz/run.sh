#!/bin/sh
# run.sh - build and run every libFuzzer target in tests/fuzz.
#
#   run.sh SRCDIR OUTDIR [SECONDS] [BUILDDIR]
#
# Each tests/fuzz/fuzz_NAME.c is built with clang, libFuzzer, ASan and UBSan
# (UBSan findings abort, so they count as crashes), linked against the parser
# code it exercises: common/*.c, the pure daemon modules (ingest_parse.c,
# trail/select.c, api/sigv4.c, deliver/creds.c, sources/audit_parse.c,
# sources/audit_ctl.c with libaudit, sources/logline.c, sources/hostmsg.c,
# sources/utmp_parse.c)
# and the embedded default config generated from conf/hosttrail.yaml
# exactly as Makefile.am does.  Then it
# runs for SECONDS (default 30) starting from a copy of
# tests/fuzz/corpus/NAME/, so nothing is ever written into the source tree.
# A crash, leak, timeout or out-of-memory fails that target and prints the
# input that caused it; a target that does not build fails too.
#
# BUILDDIR is the build tree holding ht_build.h (configure's output); default
# $HT_BUILDDIR, else SRCDIR if it was configured in place, else the current
# directory (where make runs the `fuzz` target).  Everything the script makes
# goes under OUTDIR: obj/ (objects), bin/ (targets), work/NAME/ (the corpus
# being grown, the run's log) and crashes/NAME/ (reproducers).
#
# Environment: FUZZ_CC (default clang), FUZZ_CFLAGS (extra compiler flags),
# FUZZ_ARGS (extra libFuzzer flags, e.g. -jobs=2).
# Ends with "N passed, N failed"; exits non-zero if any target failed.
set -u

usage() {
	echo "usage: $0 SRCDIR OUTDIR [SECONDS] [BUILDDIR]" >&2
	exit 2
}
if [ $# -lt 2 ] || [ $# -gt 4 ]; then usage; fi
srcdir=$1
outdir=$2
seconds=${3:-30}
builddir=${4:-${HT_BUILDDIR:-}}
case $seconds in
'' | *[!0-9]*) echo "$0: SECONDS must be a whole number, not '$seconds'" >&2; usage ;;
esac
if [ -z "$builddir" ]; then
	if [ -f "$srcdir/ht_build.h" ]; then builddir=$srcdir; else builddir=$(pwd); fi
fi

cc=${FUZZ_CC:-clang}
san="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
cflags="-g -O1 -fno-omit-frame-pointer $san -pthread ${FUZZ_CFLAGS:-}"
# The same defines and include dirs as AM_CPPFLAGS in Makefile.am; the quotes
# are meant literally (the macros are C string literals).
# shellcheck disable=SC2089
cppflags="-I$builddir -I$srcdir/common -I$srcdir/daemon -DSYSCONFDIR=\"/etc\" -DLOCALSTATEDIR=\"/var\""
max_len=65536

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
die() {
	echo "$0: $*" >&2
	exit 1
}
# Print the tail of a log, indented, so a failure explains itself.
show() { tail -n "${2:-30}" "$1" | sed -e 's/^/  | /'; }

command -v "$cc" >/dev/null 2>&1 ||
	die "$cc not found: apt-get install -y clang libclang-rt-14-dev (or run ./autogen.sh as root)"
command -v pkg-config >/dev/null 2>&1 || die "pkg-config not found: apt-get install -y pkg-config"
[ -f "$builddir/ht_build.h" ] ||
	die "$builddir/ht_build.h not found: run ./configure first, or pass the build dir as BUILDDIR"
deps=$(pkg-config --cflags json-c yaml-0.1 zlib libcrypto audit) ||
	die "pkg-config: json-c, yaml-0.1, zlib, libcrypto or audit missing (run ./autogen.sh as root)"
libs=$(pkg-config --libs json-c yaml-0.1 zlib libcrypto audit) || exit 1

set -- "$srcdir"/tests/fuzz/fuzz_*.c
[ -e "$1" ] || die "no fuzz targets: $srcdir/tests/fuzz/fuzz_*.c matched nothing"

mkdir -p "$outdir" || exit 1
outdir=$(cd "$outdir" && pwd)
obj=$outdir/obj
rm -rf "${obj:?}" "${outdir:?}/bin"
mkdir -p "$obj" "$outdir/bin" "$outdir/work" "$outdir/crashes" || exit 1

# ---- the code under test, built once into an archive --------------------
# The generated default config, with Makefile.am's sed rule.  common/ in the
# source tree may hold a conf_default.c of an in-tree build: never use it.
support_ok=1
if [ -r "$srcdir/conf/hosttrail.yaml" ]; then
	{
		echo '/* Generated from conf/hosttrail.yaml by tests/fuzz/run.sh; do not edit. */'
		echo 'const char ht_conf_default_yaml[] ='
		sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' \
		    "$srcdir/conf/hosttrail.yaml"
		echo ';'
	} >"$obj/conf_default.c"
else
	echo "$srcdir/conf/hosttrail.yaml: not found" >"$obj/support.log"
	support_ok=0
fi

sources=""
for f in "$srcdir"/common/*.c; do
	case $f in
	*/conf_default.c) ;;
	*) sources="$sources $f" ;;
	esac
done
sources="$sources $srcdir/daemon/sources/ingest_parse.c $srcdir/daemon/sources/audit_parse.c $srcdir/daemon/trail/select.c"
sources="$sources $srcdir/daemon/sources/audit_ctl.c"
sources="$sources $srcdir/daemon/sources/logline.c $srcdir/daemon/sources/hostmsg.c"
sources="$sources $srcdir/daemon/sources/utmp_parse.c"
sources="$sources $srcdir/daemon/api/sigv4.c $srcdir/daemon/deliver/creds.c $obj/conf_default.c"

objects=""
n=0
for f in $sources; do
	[ "$support_ok" = 1 ] || break
	n=$((n + 1))
	o=$obj/$n-$(basename "$f" .c).o
	# shellcheck disable=SC2086,SC2090 # flag lists split on purpose
	if ! $cc $cflags $cppflags $deps -c "$f" -o "$o" >>"$obj/support.log" 2>&1; then
		echo "$f: does not compile" >>"$obj/support.log"
		support_ok=0
	fi
	objects="$objects $o"
done
if [ "$support_ok" = 1 ]; then
	# shellcheck disable=SC2086
	${AR:-ar} rcs "$obj/libfuzzsupport.a" $objects >>"$obj/support.log" 2>&1 || support_ok=0
fi
if [ "$support_ok" = 0 ]; then
	echo "the code under test does not build (log: $obj/support.log):"
	show "$obj/support.log"
fi

# ---- each target: build, then fuzz --------------------------------------
for src in "$@"; do
	target=$(basename "$src" .c)	# fuzz_conf
	name=${target#fuzz_}		# conf
	bin=$outdir/bin/$target
	work=$outdir/work/$name
	artifacts=$outdir/crashes/$name
	log=$work/fuzz.log

	rm -rf "$work"
	mkdir -p "$work/corpus" "$artifacts" || exit 1
	if [ "$support_ok" = 0 ]; then
		fail "$target: not built, the code under test does not build"
		continue
	fi
	# shellcheck disable=SC2086,SC2090
	if ! $cc $cflags $cppflags $deps "$src" "$obj/libfuzzsupport.a" $libs -o "$bin" \
	    >"$work/build.log" 2>&1; then
		show "$work/build.log"
		fail "$target: does not build (log: $work/build.log)"
		continue
	fi

	# Start from the checked-in corpus, in scratch space: libFuzzer adds
	# the new inputs it finds to the first corpus directory.
	if [ -d "$srcdir/tests/fuzz/corpus/$name" ]; then
		cp -R "$srcdir/tests/fuzz/corpus/$name/." "$work/corpus/" || exit 1
		chmod -R u+w "$work/corpus"
	fi
	dict=""
	[ -f "$srcdir/tests/fuzz/$target.dict" ] && dict="-dict=$srcdir/tests/fuzz/$target.dict"

	# Artifacts of an earlier run would look like new crashes.
	rm -f "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* \
	    "$artifacts"/oom-* "$artifacts"/slow-unit-*
	echo "fuzzing $target for ${seconds}s ($(find "$work/corpus" -type f | wc -l) seed inputs)"
	# shellcheck disable=SC2086
	(cd "$work" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	    "$bin" -max_len=$max_len -max_total_time="$seconds" -timeout=25 \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
	    $dict ${FUZZ_ARGS:-} corpus) >"$log" 2>&1
	rc=$?
	crash=$(find "$artifacts" -type f | head -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		pass "$target: ${runs:-?} runs, no crash"
	else
		show "$log" 40
		if [ -n "$crash" ]; then
			echo "  crash input: $crash"
			echo "  reproduce:   $bin $crash"
		fi
		fail "$target: libFuzzer exit $rc (log: $log)"
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
