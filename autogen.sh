#!/bin/sh
# Bootstrap the build: install what a fresh Debian 12 machine lacks (when run
# as root), then generate ./configure.  As another user it prints the exact
# apt-get line to run instead.
set -eu
cd "$(dirname "$0")"

# Build: autotools and the libraries DESIGN.md names.  Test: the peers the
# test suite drives (python3 for the integration scripts, clang for fuzzing).
PKGS="autoconf automake libtool pkg-config make gcc
libevent-dev libjson-c-dev zlib1g-dev libyaml-dev libsystemd-dev libcmocka-dev
libssl-dev libcurl4-openssl-dev libaudit-dev
python3 systemd systemd-journal-remote clang libclang-rt-14-dev curl openssl"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done

# Node.js (sns-validator, the webhook signature check) may come from another
# repository with npm bundled: ask for Debian's only when the command is absent.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "autogen.sh: installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $missing
	else
		echo "autogen.sh: missing Debian packages; run as root:" >&2
		echo "  apt-get install -y --no-install-recommends$missing" >&2
		exit 1
	fi
fi

mkdir -p m4
autoreconf -fi
