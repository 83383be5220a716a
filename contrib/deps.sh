#!/usr/bin/env bash
# deps.sh — install every Debian 12 package needed to build and test pwreset.
#
# Idempotent and fast when everything is present (dpkg -s only).  Debian's
# nginx, lighttpd, postgresql and pgbouncer packages start system services
# on install; those would hold ports 80, 5432 and 6432 and are useless to
# pwreset's tests, which start their own, so they are stopped afterwards.  Must run as root.
set -euo pipefail

PACKAGES=(
	build-essential meson ninja-build pkg-config clang clang-format
	libfcgi-dev libpq-dev libmxml-dev libesmtp-dev libargon2-dev
	libinih-dev libssl-dev libcmocka-dev libunistring-dev libsystemd-dev
	john-data
	postgresql postgresql-contrib pgbouncer nginx-light spawn-fcgi lighttpd
	python3 python3-aiosmtpd python3-pytest python3-psycopg2 python3-cryptography curl mandoc
	ca-certificates openssl valgrind libclang-rt-14-dev libexpat1-dev wrk
	debhelper dpkg-dev fakeroot lintian devscripts
	chromium chromium-driver python3-selenium
)
# Debian's npm (it brings nodejs) only when no npm is there: one from
# elsewhere (NodeSource) conflicts with it.
if ! command -v npm >/dev/null 2>&1; then
	PACKAGES+=(npm)
fi

# axe-core (the accessibility checker the browser tests inject into each
# page) is not packaged by Debian: npm installs it into its own prefix.
AXE_PREFIX=/opt/pwreset-test-node
install_axe() {
	if [ -f "$AXE_PREFIX/node_modules/axe-core/axe.min.js" ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: axe-core missing; run as root to install it" >&2
		return 1
	fi
	echo "deps: installing axe-core into $AXE_PREFIX"
	npm install --no-audit --no-fund --prefix "$AXE_PREFIX" axe-core </dev/null
}

missing=()
for p in "${PACKAGES[@]}"; do
	# Status line "install ok installed": anything else (rc, half-configured)
	# needs another go.
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages present"
	install_axe
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${missing[*]}; run as root to install them" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep installs from starting services where invoke-rc.d honours it.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	made_policy=1
fi
cleanup() {
	if [ "$made_policy" -eq 1 ]; then rm -f "$policy"; fi
}
trap cleanup EXIT

apt-get update </dev/null
apt-get install -y --no-install-recommends "${missing[@]}" </dev/null

# Stop whatever the packages started anyway (no systemd in containers:
# service(8) or the pid files; every step may fail harmlessly).
for svc in nginx lighttpd postgresql pgbouncer; do
	service "$svc" stop >/dev/null 2>&1 || true
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
done
for pidfile in /run/nginx.pid /run/lighttpd.pid /var/run/postgresql/15-main.pid \
	/var/run/postgresql/pgbouncer.pid; do
	if [ -s "$pidfile" ]; then
		kill "$(head -n1 "$pidfile")" 2>/dev/null || true
	fi
done
install_axe
echo "deps: done"
