#!/bin/bash
# test_s3_swift.sh - daemon/deliver/s3.c against a real signature-checking S3:
# OpenStack Swift with s3api (tests/integration/swift/swift.sh), driven by
# tests/unit/s3_put_tool.  Checks path-style and virtual-hosted PUTs read back
# byte for byte with the aws CLI, concurrent PUTs, a long x-amz-meta value,
# precomputed digests and bodies that do not match them (BadDigest),
# a wrong secret (403 SignatureDoesNotMatch, retry-slowly), cancellation of
# PUTs in flight when the client is freed, and a stopped proxy (network
# error, retry-soon).
#
# Environment: S3_PUT_TOOL (default tests/unit/s3_put_tool, else built here
# from the sources), AWS (default "aws"; /usr/bin/aws for Debian's v2),
# HT_NO_APT=1 to skip instead of installing Swift.  Exit 77 = skipped.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${HT_BUILDDIR:-$TOP}
AWS=${AWS:-aws}
WORK=$(mktemp -d /tmp/ht-s3-swift.XXXXXX)
SWIFT="$HERE/swift/swift.sh"
PASS=0
FAIL=0

# The tool must reach 127.0.0.1 directly.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY='*' no_proxy='*'
# Keep the user's AWS config out; credentials are Swift's tempauth user.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3

cleanup() {
	"$SWIFT" stop "$WORK/swift" >/dev/null 2>&1
	if [ "$FAIL" -eq 0 ]; then rm -rf "$WORK"; else echo "# state kept in $WORK"; fi
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1"; [ $# -gt 1 ] && echo "#   $2"; }
check() { # NAME CONDITION-CMD... ; detail in $DETAIL
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "${DETAIL:-}"; fi
}

find_tool() {
	TOOL=${S3_PUT_TOOL:-$BUILD/tests/unit/s3_put_tool}
	[ -x "$TOOL" ] && return 0
	# Not built by make yet: build it the way the unit tests are linked.
	TOOL=$WORK/s3_put_tool
	cc -g -O2 -Wall -I"$BUILD" -I"$TOP/common" -I"$TOP/daemon" -pthread \
	    "$TOP/tests/unit/s3_put_tool.c" "$TOP/daemon/deliver/s3.c" \
	    "$TOP/daemon/deliver/fetch.c" \
	    "$BUILD/libhtdaemon.a" "$BUILD/libhtcommon.a" \
	    $(pkg-config --libs libevent json-c zlib yaml-0.1 libsystemd libcrypto libcurl) \
	    -lm -o "$TOOL" 2>"$WORK/build.log" ||
	    { echo "Bail out! cannot build s3_put_tool, see $WORK/build.log"; exit 99; }
}

put() { # OUTFILE SECRET ARGS... ; exit status of the tool
	local out=$1 secret=$2
	shift 2
	HT_S3_SECRET=$secret timeout 60 "$TOOL" --access-key test:tester --region us-east-1 \
	    --bucket my-bucket --timeout-ms 20000 "$@" >"$out" 2>&1
}

field() { sed -n "s/.*$2=\\([^ ]*\\).*/\\1/p" "$1" | head -n1; }

# A CloudTrail-style log file and key.
make_log_file() {
	local now
	now=$(date -u +%Y%m%dT%H%MZ)
	printf '{"Records":[{"eventVersion":"1.09","eventSource":"hosttrail","eventName":"Put",%s}]}' \
	    "\"eventTime\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"" | gzip -6 >"$WORK/log.json.gz"
	KEY="AWSLogs/123456789012/CloudTrail/us-east-1/$(date -u +%Y/%m/%d)"
	KEY="$KEY/123456789012_CloudTrail_us-east-1_${now}_$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n').json.gz"
}

readback() { # KEY FILE -> 0 if the object's bytes equal FILE
	rm -f "$WORK/back"
	"$AWS" s3 cp --only-show-errors --endpoint-url "$EP" "s3://my-bucket/$1" "$WORK/back" \
	    >"$WORK/cp.log" 2>&1 && cmp -s "$2" "$WORK/back"
}

# ---- setup ----
find_tool
PORT=$("$SWIFT" start "$WORK/swift")
rc=$?
[ $rc -eq 77 ] && { echo "1..0 # SKIP Swift not available"; exit 77; }
[ $rc -eq 0 ] || { echo "Bail out! Swift did not start"; exit 99; }
EP="http://127.0.0.1:$PORT"
echo "# Swift s3api on $EP, $("$AWS" --version 2>&1 | head -n1)"
"$AWS" s3api create-bucket --bucket my-bucket --endpoint-url "$EP" >"$WORK/mb.log" 2>&1 ||
    { echo "Bail out! create-bucket failed: $(cat "$WORK/mb.log")"; exit 99; }
make_log_file

# ---- path-style ----
put "$WORK/p1" testing --endpoint "$EP" --key "$KEY" --content-type application/json \
    --content-encoding gzip "$WORK/log.json.gz"
rc=$?
DETAIL="rc=$rc $(cat "$WORK/p1")"
check "path-style PUT answers 200" [ $rc -eq 0 -a "$(field "$WORK/p1" outcome)" = ok ]
DETAIL=$(cat "$WORK/cp.log" 2>/dev/null)
check "path-style object reads back byte for byte" readback "$KEY" "$WORK/log.json.gz"
gunzip -c "$WORK/back" 2>/dev/null | grep -q '^{"Records":\[' 
check "object gunzips to a Records document" [ $? -eq 0 ]

# ---- virtual-hosted ----
VKEY="${KEY%.json.gz}_vh.json.gz"
put "$WORK/p2" testing --endpoint "http://s3.localhost:$PORT" --virtual-hosted \
    --resolve-to 127.0.0.1 --key "$VKEY" --content-encoding gzip "$WORK/log.json.gz"
rc=$?
DETAIL="rc=$rc $(cat "$WORK/p2")"
check "virtual-hosted PUT answers 200" [ $rc -eq 0 -a "$(field "$WORK/p2" outcome)" = ok ]
# The proxy saw the bucket in the Host name, not in the path.
DETAIL=$(grep " PUT " "$WORK/swift/log/proxy.log" | tail -n 3)
check "virtual-hosted request line is /KEY (bucket in Host)" \
    grep -q " PUT /${VKEY//./\\.} HTTP" "$WORK/swift/log/proxy.log"
DETAIL=$(cat "$WORK/cp.log" 2>/dev/null)
check "virtual-hosted object reads back byte for byte" readback "$VKEY" "$WORK/log.json.gz"

# ---- concurrency, body from memory, long metadata ----
SIG=$(head -c 256 /dev/urandom | od -An -tx1 | tr -d ' \n')
put "$WORK/p3" testing --endpoint "$EP" --key "${KEY}.c" --memory --puts 4 \
    --meta "signature=$SIG" "$WORK/log.json.gz"
rc=$?
DETAIL="rc=$rc $(cat "$WORK/p3")"
check "4 concurrent PUTs from memory with a 512-byte x-amz-meta value" \
    [ $rc -eq 0 -a "$(grep -c 'outcome=ok' "$WORK/p3")" -eq 4 ]
"$AWS" s3api head-object --endpoint-url "$EP" --bucket my-bucket --key "${KEY}.c.3" \
    >"$WORK/head.json" 2>&1
DETAIL=$(head -c 300 "$WORK/head.json")
check "x-amz-meta-signature stored" grep -q "$SIG" "$WORK/head.json"

# ---- precomputed digests: right ones store, a wrong Content-MD5 is refused ----
SHA=$(sha256sum "$WORK/log.json.gz" | cut -d' ' -f1)
MD5=$(openssl dgst -md5 -binary "$WORK/log.json.gz" | base64)
BADMD5=$(printf 'other bytes' | openssl dgst -md5 -binary | base64)
put "$WORK/p7" testing --endpoint "$EP" --key "${KEY}.d" --payload-sha256 "$SHA" \
    --content-md5 "$MD5" "$WORK/log.json.gz"
rc=$?
DETAIL="rc=$rc $(cat "$WORK/p7")"
check "precomputed digests: PUT answers 200" [ $rc -eq 0 ]
put "$WORK/p8" testing --endpoint "$EP" --key "${KEY}.e" --payload-sha256 "$SHA" \
    --content-md5 "$BADMD5" "$WORK/log.json.gz"
rc=$?
DETAIL="rc=$rc $(cat "$WORK/p8")"
check "body not matching Content-MD5: 400 BadDigest, retry-slowly" [ $rc -eq 1 -a \
    "$(field "$WORK/p8" code)" = BadDigest -a "$(field "$WORK/p8" outcome)" = retry-slowly ]
put "$WORK/p9" testing --endpoint "$EP" --key "${KEY}.f" --payload-sha256 "${SHA//?/0}" \
    --content-md5 "$MD5" "$WORK/log.json.gz"
rc=$?
DETAIL="rc=$rc $(cat "$WORK/p9")"
check "body not matching X-Amz-Content-SHA256: refused with a 4xx" [ $rc -eq 1 -a \
    "$(field "$WORK/p9" status)" -ge 400 -a "$(field "$WORK/p9" status)" -lt 500 ]
DETAIL=""
check "refused bodies were not stored" \
    bash -c "! '$AWS' s3api head-object --endpoint-url '$EP' --bucket my-bucket \
    --key '${KEY}.e' >/dev/null 2>&1 && ! '$AWS' s3api head-object --endpoint-url '$EP' \
    --bucket my-bucket --key '${KEY}.f' >/dev/null 2>&1"

# ---- wrong secret ----
put "$WORK/p4" wrong-secret --endpoint "$EP" --key "${KEY}.bad" "$WORK/log.json.gz"
rc=$?
DETAIL="rc=$rc $(cat "$WORK/p4")"
check "wrong secret: 403 SignatureDoesNotMatch, retry-slowly" [ $rc -eq 1 -a \
    "$(field "$WORK/p4" status)" = 403 -a "$(field "$WORK/p4" code)" = SignatureDoesNotMatch -a \
    "$(field "$WORK/p4" outcome)" = retry-slowly ]
DETAIL=""
check "wrong secret: no object written" \
    bash -c "! '$AWS' s3api head-object --endpoint-url '$EP' --bucket my-bucket \
    --key '${KEY}.bad' >/dev/null 2>&1"
check "secret never printed" bash -c "! grep -q wrong-secret '$WORK/p4'"

# ---- cancellation: a server that accepts and never answers ----
exec 4< <(exec timeout 60 /usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True); time.sleep(60)')
SILENT_PID=$!
read -r -t 10 SILENT_PORT <&4
put "$WORK/p6" testing --endpoint "http://127.0.0.1:${SILENT_PORT:-1}" --key "${KEY}.x" \
    --puts 3 --cancel-ms 500 "$WORK/log.json.gz"
rc=$?
kill "$SILENT_PID" 2>/dev/null
exec 4<&-
DETAIL="rc=$rc $(cat "$WORK/p6")"
check "freeing the client cancels 3 PUTs in flight, each reported once" \
    [ $rc -eq 1 -a "$(grep -c 'outcome=cancelled' "$WORK/p6")" -eq 3 -a \
    "$(grep -c '^status=' "$WORK/p6")" -eq 3 ]

# ---- stopped proxy ----
kill -TERM "$(cat "$WORK/swift/pids/proxy.pid")"
for _ in $(seq 50); do kill -0 "$(cat "$WORK/swift/pids/proxy.pid")" 2>/dev/null || break; sleep 0.1; done
put "$WORK/p5" testing --endpoint "$EP" --key "${KEY}.down" "$WORK/log.json.gz"
rc=$?
DETAIL="rc=$rc $(cat "$WORK/p5")"
check "stopped proxy: network error, retry-soon" [ $rc -eq 1 -a \
    "$(field "$WORK/p5" status)" = 0 -a "$(field "$WORK/p5" outcome)" = retry-soon -a \
    -n "$(sed -n 's/.*curl_error="\([^"]*\)".*/\1/p' "$WORK/p5")" ]

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
