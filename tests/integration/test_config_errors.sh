#!/bin/sh
# test_config_errors.sh - `hosttraild --check-config -c FILE` against bad
# configs.  Each must exit 78 (EX_CONFIG) with exactly one line on stderr
# that names FILE:LINE:COL: and the key path, and must create nothing: the
# config's state_dir points into the case's own directory, which has to
# hold only the config file afterwards.  The shipped conf/hosttrail.yaml
# (with state_dir moved) must pass with "configuration OK".
#
# Environment (set by `make check`): HOSTTRAILD, the daemon binary;
# HT_SRCDIR, the source tree.
set -u

: "${HOSTTRAILD:?set HOSTTRAILD to the hosttraild binary}"
: "${HT_SRCDIR:?set HT_SRCDIR to the source tree}"
if [ ! -x "$HOSTTRAILD" ]; then
	echo "$HOSTTRAILD is not an executable" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ht_config_errors.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
passed=0
failed=0

pass() {
	passed=$((passed + 1))
	echo "ok - $1"
}

fail() {
	failed=$((failed + 1))
	echo "FAIL - $1: $2"
	if [ -s "$tmp/err" ]; then
		sed 's/^/    stderr: /' "$tmp/err"
	fi
}

# new_case NAME: a fresh directory; sets $dir, $file and $state.
new_case() {
	dir="$tmp/$1"
	file="$dir/hosttrail.yaml"
	state="$dir/state"
	mkdir "$dir" || exit 99
}

# run_check: run the daemon on $file; sets $status.
run_check() {
	"$HOSTTRAILD" --check-config -c "$file" >"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
}

# nothing_created NAME: the case directory holds only the config file.
nothing_created() {
	for f in "$dir"/* "$dir"/.[!.]* "$dir"/..?*; do
		if [ -e "$f" ] && [ "$f" != "$file" ]; then
			fail "$1" "--check-config created ${f#"$tmp"/}"
			return 1
		fi
	done
	return 0
}

# expect_bad NAME WHERE [WHERE2]: the config in $file must be refused with a
# single stderr line containing "$file:WHERE" (WHERE2 appended, for long ones).
expect_bad() {
	where="$2${3-}"
	run_check
	lines=$(wc -l <"$tmp/err")
	if [ "$status" -ne 78 ]; then
		fail "$1" "exit status $status, expected 78"
	elif [ "$lines" -ne 1 ]; then
		fail "$1" "stderr has $lines lines, expected exactly 1"
	elif ! grep -q -F -e "$file:$where" "$tmp/err"; then
		fail "$1" "stderr lacks \"$file:$where\""
	elif nothing_created "$1"; then
		pass "$1"
	fi
}

# Lines 1-7 of the bad configs; each case's own lines start at line 8.
base() {
	cat <<EOF
account_id: "123456789012"
region: test-1
state_dir: $state
buckets:
  spool-a:
    type: spool
    path: spool
EOF
}

# ---- the shipped example config is valid ----
new_case valid
sed "s|^state_dir: .*|state_dir: $state|" "$HT_SRCDIR/conf/hosttrail.yaml" >"$file"
run_check
if [ "$status" -ne 0 ]; then
	fail valid "exit status $status, expected 0"
elif ! grep -q -F 'configuration OK' "$tmp/out" "$tmp/err"; then
	fail valid "no \"configuration OK\" in the output"
elif nothing_created valid; then
	pass valid
fi

# ---- bad configs ----
new_case malformed
{ base; printf 'trails: [{name: tr1, s3_bucket_name: spool-a}\nsources: []\n'; } >"$file"
expect_bad malformed "9:1: YAML syntax error: did not find expected ',' or ']'"

new_case unknown_key
{ base; printf 'history:\n  retention_days: 30\n  retension: 5\n'; } >"$file"
expect_bad unknown_key '10:3: history.retension: unknown key "retension"'

new_case sixth_trail
{
	base
	echo 'trails:'
	for i in 1 2 3 4 5 6; do
		printf '  - name: trail%s\n    s3_bucket_name: spool-a\n' "$i"
	done
} >"$file"
expect_bad sixth_trail '19:5: trails[5]: MaximumNumberOfTrailsExceededException:' \
	' User: 123456789012 already has 5 trails in test-1.'

new_case bad_trail_name
{
	base
	printf 'trails:\n  - name: good1\n    s3_bucket_name: spool-a\n'
	printf '  - name: a..b\n    s3_bucket_name: spool-a\n'
} >"$file"
expect_bad bad_trail_name '11:11: trails[1].name: "a..b" is not a valid trail name:' \
	' must not contain adjacent special characters'

new_case bad_account_id
printf 'account_id: 12345\nregion: test-1\nstate_dir: %s\n' "$state" >"$file"
expect_bad bad_account_id '1:13: account_id: "12345" is not a valid account ID:' \
	' must be exactly 12 digits'

new_case undefined_bucket
{ base; printf 'trails:\n  - name: trail1\n    s3_bucket_name: nope\n'; } >"$file"
expect_bad undefined_bucket '10:21: trails[0].s3_bucket_name:' \
	' bucket "nope" is not defined in buckets:'

new_case s3_bucket_with_path
{ base; printf '  remote:\n    type: s3\n    path: /tmp/spool\n'; } >"$file"
expect_bad s3_bucket_with_path '10:5: buckets.remote.path:' \
	' path is only for type: spool'

new_case missing_account_id
printf 'region: test-1\nstate_dir: %s\n' "$state" >"$file"
expect_bad missing_account_id '1:1: account_id: required key is missing'

# ---- a file that cannot be read ----
new_case unreadable
file="$dir/missing.yaml"
run_check
lines=$(wc -l <"$tmp/err")
if [ "$status" -ne 78 ]; then
	fail unreadable "exit status $status, expected 78"
elif [ "$lines" -ne 1 ] || ! grep -q -F -e "$file: cannot read: " "$tmp/err"; then
	fail unreadable "stderr is not one line with \"$file: cannot read: \""
else
	pass unreadable
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
