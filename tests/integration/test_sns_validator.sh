#!/bin/sh
# test_sns_validator.sh - hosttrail's SNS notifications (daemon/deliver/sns.c,
# through tests/unit/sns_sign_tool) checked by an independent implementation:
# the npm package sns-validator, which fetches the signing certificate over
# HTTPS with node's normal TLS verification and checks SignatureVersion 1
# (RSA-SHA1) and 2 (RSA-SHA256) signatures.
#
# A throwaway PKI (test CA, TLS certificate for 127.0.0.1, signing key and
# certificate, an unrelated key) is made with openssl in a temporary
# directory by sns/mkcert.sh; sns/validate.js serves the certificate on
# 127.0.0.1 and runs the cases.  Output: "ok"/"FAIL" lines, then
# "N passed, N failed".
#
# sns-validator is looked up in $SNS_VALIDATOR_DIR/node_modules, then in
# $HT_BUILDDIR/tests/integration/sns/npm/node_modules, where it is installed
# with `npm install` when missing (a few seconds; needs the npm registry
# once).  Offline and not installed: the test fails and says so.
#
# Environment (set by `make check`): HT_SRCDIR, HT_BUILDDIR; SNS_SIGN_TOOL
# overrides the signer (default $HT_BUILDDIR/tests/unit/sns_sign_tool).
set -u

here=$(cd "$(dirname "$0")" && pwd)
HT_SRCDIR=${HT_SRCDIR:-$(cd "$here/../.." && pwd)}
HT_BUILDDIR=${HT_BUILDDIR:-$HT_SRCDIR}
tool=${SNS_SIGN_TOOL:-$HT_BUILDDIR/tests/unit/sns_sign_tool}
validator_version=0.3.5

for cmd in node npm openssl; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		echo "FAIL - $cmd is not installed; this test needs node, npm and openssl" >&2
		exit 99
	fi
done
if [ ! -x "$tool" ]; then
	echo "FAIL - $tool is not an executable (make tests/unit/sns_sign_tool)" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ht_sns_validator.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

# find_validator DIR: true if DIR/node_modules holds sns-validator.
find_validator() {
	[ -f "$1/node_modules/sns-validator/index.js" ]
}

if [ -n "${SNS_VALIDATOR_DIR:-}" ] && find_validator "$SNS_VALIDATOR_DIR"; then
	npm_dir=$SNS_VALIDATOR_DIR
else
	npm_dir=$HT_BUILDDIR/tests/integration/sns/npm
	if ! find_validator "$npm_dir"; then
		echo "# installing sns-validator@$validator_version into $npm_dir"
		mkdir -p "$npm_dir" || exit 99
		if ! timeout 180 npm install --prefix "$npm_dir" --no-audit --no-fund \
		    --no-save --loglevel=error "sns-validator@$validator_version" \
		    >"$tmp/npm.log" 2>&1 || ! find_validator "$npm_dir"; then
			sed 's/^/#   npm: /' "$tmp/npm.log"
			echo "FAIL - sns-validator is not installed and npm could not fetch it" \
			    "(offline, or the registry is unreachable).  Install it by hand:" \
			    "npm install --prefix '$npm_dir' sns-validator@$validator_version," \
			    "or point SNS_VALIDATOR_DIR at a directory whose node_modules has it."
			echo "0 passed, 1 failed"
			exit 1
		fi
	fi
fi

if ! sh "$here/sns/mkcert.sh" "$tmp" >"$tmp/mkcert.out" 2>&1; then
	sed 's/^/#   /' "$tmp/mkcert.out"
	echo "FAIL - could not make the test certificates with openssl"
	echo "0 passed, 1 failed"
	exit 1
fi

NODE_PATH="$npm_dir/node_modules" NODE_EXTRA_CA_CERTS="$tmp/ca.pem" \
    timeout 120 node "$here/sns/validate.js" "$tmp" "$tool"
