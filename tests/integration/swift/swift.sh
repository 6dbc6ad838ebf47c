#!/bin/bash
# swift.sh - a single-node OpenStack Swift with s3api on 127.0.0.1, all state
# under one directory, for hosttrail's S3 delivery tests.
#
#   swift.sh start DIR   install the Debian packages if missing (unless
#                        HT_NO_APT=1), write configs and rings under DIR, start
#                        memcached + account/container/object servers + proxy
#                        on free ports, wait for /healthcheck, print the proxy
#                        port (also in DIR/proxy.port).  Exit 77 (skip) when
#                        Swift is missing and cannot be installed.
#   swift.sh stop DIR    stop what start started, by the pids in DIR/pids.
#   swift.sh stop-proxy DIR   stop only the proxy (an S3 outage: connections
#                        to the proxy port are refused; the storage servers
#                        and memcached keep running).
#   swift.sh start-proxy DIR  start the proxy again on the same port (after
#                        stop-proxy), as start does, and wait for /healthcheck.
#
# S3 credentials: access key "test:tester", secret "testing" (tempauth);
# region $SWIFT_REGION (default us-east-1); virtual-hosted names are
# BUCKET.s3.localhost:PORT.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
REGION=${SWIFT_REGION:-us-east-1}
START_TIMEOUT=${SWIFT_START_TIMEOUT:-60}

die() { echo "swift.sh: $*" >&2; exit 1; }

ensure_packages() {
	if [ -x /usr/bin/swift-ring-builder ] && [ -x /usr/bin/memcached ] &&
	    $PY -c 'import swift.proxy.server, swift.obj.server, swift.account.server' \
	    2>/dev/null; then
		return 0
	fi
	if [ "${HT_NO_APT:-0}" = 1 ]; then
		echo "swift.sh: Swift packages missing and HT_NO_APT=1" >&2
		exit 77
	fi
	echo "swift.sh: installing Swift packages (~1 min)" >&2
	if ! timeout 600 env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends swift-proxy swift-account swift-container \
	    swift-object memcached >"$DIR/apt.log" 2>&1; then
		echo "swift.sh: apt-get install failed, see $DIR/apt.log" >&2
		exit 77
	fi
}

# N free TCP ports on 127.0.0.1 (bound then released: a small race).
free_ports() {
	$PY - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

render() { # TEMPLATE OUT
	sed -e "s|@DIR@|$DIR|g" -e "s|@REGION@|$REGION|g" \
	    -e "s|@PROXY_PORT@|$PROXY_PORT|g" -e "s|@ACCOUNT_PORT@|$ACCOUNT_PORT|g" \
	    -e "s|@CONTAINER_PORT@|$CONTAINER_PORT|g" -e "s|@OBJECT_PORT@|$OBJECT_PORT|g" \
	    -e "s|@MEMCACHED_PORT@|$MEMCACHED_PORT|g" "$HERE/$1" >"$2"
}

build_rings() {
	local ring port
	for ring in account container object; do
		case $ring in
		account) port=$ACCOUNT_PORT ;;
		container) port=$CONTAINER_PORT ;;
		object) port=$OBJECT_PORT ;;
		esac
		(cd "$DIR/etc" &&
		    swift-ring-builder $ring.builder create 8 1 1 &&
		    swift-ring-builder $ring.builder add "r1z1-127.0.0.1:$port/sdb1" 100 &&
		    swift-ring-builder $ring.builder rebalance) >>"$DIR/log/rings.log" 2>&1 ||
		    die "building the $ring ring failed, see $DIR/log/rings.log"
	done
}

spawn() { # NAME CMD...
	local name=$1
	shift
	"$@" >"$DIR/log/$name.log" 2>&1 </dev/null &
	echo $! >"$DIR/pids/$name.pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_ready() {
	local deadline=$((SECONDS + START_TIMEOUT)) p name
	for p in $MEMCACHED_PORT $ACCOUNT_PORT $CONTAINER_PORT $OBJECT_PORT; do
		until port_open "$p"; do
			[ $SECONDS -lt $deadline ] || return 1
			sleep 0.2
		done
	done
	until curl -fsS --noproxy '*' -m 2 "http://127.0.0.1:$PROXY_PORT/healthcheck" \
	    >/dev/null 2>&1; do
		for name in memcached account container object proxy; do
			kill -0 "$(cat "$DIR/pids/$name.pid")" 2>/dev/null ||
			    { echo "swift.sh: $name exited, see $DIR/log/$name.log" >&2; return 1; }
		done
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

start() {
	[ -e "$DIR/pids" ] && [ -n "$(ls "$DIR/pids" 2>/dev/null)" ] &&
	    die "$DIR already has a running Swift (swift.sh stop $DIR first)"
	mkdir -p "$DIR/etc" "$DIR/srv/sdb1" "$DIR/log" "$DIR/pids" "$DIR/run" ||
	    die "cannot create $DIR"
	ensure_packages
	read -r PROXY_PORT ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT MEMCACHED_PORT \
	    <<<"$(free_ports 5)"
	render swift.conf.in "$DIR/etc/swift.conf"
	for s in proxy account container object; do
		render $s-server.conf.in "$DIR/etc/$s-server.conf"
	done
	build_rings
	local asroot=""
	[ "$(id -u)" = 0 ] && asroot="-u root"
	# shellcheck disable=SC2086
	spawn memcached /usr/bin/memcached -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 $asroot
	for s in account container object proxy; do
		spawn $s $PY "$HERE/swift_server.py" "$DIR/etc" "$DIR/etc/$s-server.conf" \
		    $s-server
	done
	if ! wait_ready; then
		echo "swift.sh: Swift did not become ready in ${START_TIMEOUT}s; logs in $DIR/log" >&2
		stop
		exit 1
	fi
	echo "$PROXY_PORT" >"$DIR/proxy.port"
	echo "$PROXY_PORT"
}

stop() {
	local f pid deadline
	for f in "$DIR"/pids/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null
	done
	for f in "$DIR"/pids/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		deadline=$((SECONDS + 10))
		while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		rm -f "$f"
	done
}

# Stop the proxy alone (TERM, then KILL after 10 s); its port is closed after.
stop_proxy() {
	local f="$DIR/pids/proxy.pid" pid deadline
	[ -e "$f" ] || die "no proxy running in $DIR"
	pid=$(cat "$f")
	kill -TERM "$pid" 2>/dev/null
	deadline=$((SECONDS + 10))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	rm -f "$f"
	PROXY_PORT=$(cat "$DIR/proxy.port") || die "no $DIR/proxy.port"
	deadline=$((SECONDS + 10))
	while port_open "$PROXY_PORT"; do
		[ $SECONDS -lt $deadline ] || die "proxy port $PROXY_PORT still open"
		sleep 0.1
	done
}

# Start the proxy again, as start does, on the port it had; wait for /healthcheck.
start_proxy() {
	local deadline=$((SECONDS + START_TIMEOUT))
	[ -e "$DIR/pids/proxy.pid" ] && kill -0 "$(cat "$DIR/pids/proxy.pid")" 2>/dev/null &&
	    die "the proxy in $DIR is running (swift.sh stop-proxy $DIR first)"
	PROXY_PORT=$(cat "$DIR/proxy.port") || die "no $DIR/proxy.port (swift.sh start $DIR first)"
	# spawn truncates the log: keep the earlier run's.
	[ -e "$DIR/log/proxy.log" ] && cat "$DIR/log/proxy.log" >>"$DIR/log/proxy.log.old"
	spawn proxy $PY "$HERE/swift_server.py" "$DIR/etc" "$DIR/etc/proxy-server.conf" \
	    proxy-server
	until curl -fsS --noproxy '*' -m 2 "http://127.0.0.1:$PROXY_PORT/healthcheck" \
	    >/dev/null 2>&1; do
		if ! kill -0 "$(cat "$DIR/pids/proxy.pid")" 2>/dev/null; then
			echo "swift.sh: proxy exited, see $DIR/log/proxy.log" >&2
			exit 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "swift.sh: proxy not ready in ${START_TIMEOUT}s; see $DIR/log/proxy.log" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "$PROXY_PORT"
}

USAGE="usage: swift.sh start|stop|stop-proxy|start-proxy DIR"
[ $# -eq 2 ] || { echo "$USAGE" >&2; exit 2; }
DIR=$(mkdir -p "$2" && cd "$2" && pwd) || die "bad directory $2"
case $1 in
start) start ;;
stop) stop ;;
stop-proxy) stop_proxy ;;
start-proxy) start_proxy ;;
*) echo "$USAGE" >&2; exit 2 ;;
esac
