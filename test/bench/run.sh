#!/usr/bin/env bash
# run.sh — pwreset's benchmarks: one command, one table (see README.md).
#
#   test/bench/run.sh [bench.py options]     (as root)
#
# Installs what is missing (contrib/deps.sh, plus wrk), builds pwreset in
# release mode (PWRESET_BUILD, default build-bench/) and the helpers
# (hello.c, argon2rate.c, sqldump.c) with cc, then runs bench.py, which
# starts the real stack on loopback, measures and prints the table.
# Durations and sizes: BENCH_* variables or options, see README.md.
# Prints the whole runner's time (install, build, measurements) last.
set -euo pipefail

START=$(date +%s)
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${PWRESET_BUILD:-$ROOT/build-bench}
export PYTHONDONTWRITEBYTECODE=1

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: run as root (PostgreSQL runs as postgres, nginx as nobody)" >&2
	exit 1
fi

contrib/deps.sh </dev/null >&2
# wrk for the load; Django and gunicorn for the peer (test/bench/peer.py).
if ! command -v wrk >/dev/null 2>&1 || ! command -v gunicorn >/dev/null 2>&1 ||
	! /usr/bin/python3 -c 'import django, psycopg2' 2>/dev/null; then
	echo "run.sh: installing wrk, python3-django, gunicorn" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		wrk python3-django gunicorn python3-psycopg2 </dev/null >&2
fi

if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" --buildtype=release >&2
fi
ninja -C "$BUILD" fcgi/pwreset ctl/pwreset-ctl >&2

BIN=$(mktemp -d /tmp/pwreset-bench-bin.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
CFLAGS="-std=c17 -O2 -Wall -Wextra -Wpedantic -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -D_GNU_SOURCE"
# shellcheck disable=SC2086
cc $CFLAGS -o "$BIN/hello" test/bench/hello.c -lfcgi
# shellcheck disable=SC2086
cc $CFLAGS -o "$BIN/argon2rate" test/bench/argon2rate.c -largon2
# sqldump reads the statement tables of the store the build just made.
# shellcheck disable=SC2086
cc $CFLAGS -I. -I"$(pg_config --includedir)" -o "$BIN/sqldump" \
	test/bench/sqldump.c "$BUILD/sql/libpwr_sql.a" -lpq

BUILT=$(date +%s)

/usr/bin/python3 test/bench/bench.py --build "$BUILD" --bindir "$BIN" "$@"
END=$(date +%s)
echo "run.sh: the whole runner took $((END - START)) s" \
	"(install and build $((BUILT - START)) s, measurements $((END - BUILT)) s)"
