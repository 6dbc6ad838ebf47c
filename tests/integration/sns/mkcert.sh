#!/bin/sh
# mkcert.sh DIR - a throwaway PKI for test_sns_validator.sh, made with the
# openssl CLI at run time (nothing secret is committed).  Writes into DIR:
#   ca.pem            test CA (give it to node as NODE_EXTRA_CA_CERTS)
#   server.key/.pem   TLS certificate for https://127.0.0.1, issued by the CA
#   signing.key/.pem  the topic's signing key and its certificate, issued by
#                     the CA (SNS's SimpleNotificationService-*.pem)
#   other.key         an unrelated RSA key: its signatures must be refused
#   rogue.key/.pem    a self-signed TLS certificate for 127.0.0.1 that the CA
#                     did not issue: a cert URL on it must be refused
# Certificates are valid for two days.  Exit 0, or non-zero with openssl's
# output on stderr.
set -eu

dir=${1:?usage: mkcert.sh DIR}
cd "$dir"
umask 077
log=mkcert.log
: >"$log"

run() {
	if ! "$@" >>"$log" 2>&1; then
		echo "mkcert.sh: failed: $*" >&2
		cat "$log" >&2
		exit 1
	fi
}

# issue NAME SUBJECT EXTENSIONS: NAME.key and NAME.pem, signed by the CA.
issue() {
	printf '%s\n' "$3" | tr ';' '\n' >"$1.ext"
	run openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
	run openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
		-days 2 -sha256 -extfile "$1.ext" -out "$1.pem"
	rm -f "$1.csr" "$1.ext"
}

run openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -sha256 \
	-subj "/CN=hosttrail test CA" -config /dev/null \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

issue server "/CN=127.0.0.1" \
	"basicConstraints=CA:FALSE;keyUsage=critical,digitalSignature,keyEncipherment;extendedKeyUsage=serverAuth;subjectAltName=IP:127.0.0.1"
issue signing "/CN=sns.test-1.hosttrail.invalid" \
	"basicConstraints=CA:FALSE;keyUsage=critical,digitalSignature"

run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key
run openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.pem -days 2 \
	-sha256 -subj "/CN=127.0.0.1" -config /dev/null -addext "subjectAltName=IP:127.0.0.1"
rm -f "$log"
