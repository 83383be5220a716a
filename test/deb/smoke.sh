#!/usr/bin/env bash
# smoke.sh — the Debian package, built, checked, installed, used, purged.
#
#	test/deb/smoke.sh		(as root, on Debian 12)
#
#   1. dpkg-buildpackage -us -uc -b in a copy of the tree (it writes ../);
#      meson install of that build keeps an edited pwreset.conf;
#   2. lintian: any error fails (warnings are printed);
#   3. apt-get install ./pwreset_*.deb, then what the package must have
#      set up: user, 0640 root:pwreset conffile, /run/pwreset for www-data,
#      pwreset -V;
#   4. test/deb/smoke.py: both steps on both routes through nginx (as
#      www-data, with the shipped snippet) against the installed binaries
#      and the packaged config pointed at a throwaway PostgreSQL and SMTP
#      sink; a mail is delivered;
#   5. apt-get purge: nothing of the package is left.
#
# Refuses to run when pwreset is already installed (it would be purged).
# The last line is "deb-smoke: N passed, N failed"; exit 0 only when all
# passed.  Logs go to a mktemp -d directory, kept on failure.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/pwreset-deb.XXXXXX")
chmod 0711 "$W"
PASS=0 FAIL=0

ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
# check DESCRIPTION COMMAND...: one counted check.
check() {
	local what=$1
	shift
	if "$@" >>"$W/checks.log" 2>&1; then ok "$what"; else bad "$what"; fi
}
installed() { dpkg-query -W -f='${Status}' pwreset 2>/dev/null | grep -q 'ok installed'; }

finish() {
	# Never leave the package behind, whatever failed.
	if dpkg-query -W pwreset >/dev/null 2>&1 && [ "${PURGED:-0}" -eq 0 ]; then
		apt-get purge -y pwreset </dev/null >>"$W/purge.log" 2>&1 || true
	fi
	if [ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]; then
		rm -rf "$W"
	else
		echo "deb-smoke: logs kept in $W"
	fi
	echo "deb-smoke: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
}
trap 'finish; exit $?' EXIT

if [ "$(id -u)" -ne 0 ]; then
	bad "run as root"
	exit 1
fi
if installed; then
	bad "pwreset is already installed here; purge it first (this test installs and purges it)"
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# ---- 1. build --------------------------------------------------------------
mkdir "$W/src"
# The tree as it is (uncommitted edits too), without builds.
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$SRC" && git ls-files --cached --others --exclude-standard -z |
		tar --null -T - -cf -) | tar -xf - -C "$W/src"
else
	tar -C "$SRC" --exclude='./build*' --exclude=./.stack --exclude=./.git \
		-cf - . | tar -xf - -C "$W/src"
fi
if (cd "$W/src" && dpkg-buildpackage -us -uc -b) >"$W/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	bad "dpkg-buildpackage (tail of $W/build.log:)"
	tail -n 30 "$W/build.log"
	exit 1
fi
DEB=$(ls "$W"/pwreset_*_*.deb)
check "built pwreset_VERSION_ARCH.deb" test -f "$DEB"

# A plain meson install (of the package's build): the config 0640, and an
# edited one survives a second install.
OBJ=$(ls -d "$W"/src/obj-*/ 2>/dev/null | head -n1)
D=$W/destdir
export D
if [ -n "$OBJ" ] && DESTDIR=$D meson install -C "$OBJ" --no-rebuild >"$W/meson-install.log" 2>&1; then
	check "meson install: pwreset.conf is 0640" \
		sh -c '[ "$(stat -c %a "$D/etc/pwreset/pwreset.conf")" = 640 ]'
	echo '# edited by the admin' >>"$D/etc/pwreset/pwreset.conf"
	DESTDIR=$D meson install -C "$OBJ" --no-rebuild >>"$W/meson-install.log" 2>&1
	check "meson install keeps an existing pwreset.conf" \
		grep -qx '# edited by the admin' "$D/etc/pwreset/pwreset.conf"
else
	bad "meson install from the package build (see $W/meson-install.log)"
fi

# ---- 2. lintian -------------------------------------------------------------
lintian --fail-on error \
	"$W"/pwreset_*.changes >"$W/lintian.log" 2>&1
rc=$?
grep -v '^running with root' "$W/lintian.log" | sed 's/^/  lintian: /'
if [ "$rc" -eq 0 ] && ! grep -q '^E:' "$W/lintian.log"; then
	ok "lintian: no error"
else
	bad "lintian: errors (exit $rc)"
fi

# ---- 3. install --------------------------------------------------------------
if (cd "$W" && apt-get install -y "./$(basename "$DEB")") </dev/null >"$W/install.log" 2>&1; then
	ok "apt-get install ./$(basename "$DEB")"
else
	bad "apt-get install (tail of $W/install.log:)"
	tail -n 30 "$W/install.log"
	exit 1
fi
VERSION=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
check "pwreset -V prints $VERSION" sh -c "/usr/sbin/pwreset -V | grep -qx 'pwreset ${VERSION%-*}'"
check "pwreset-ctl --version" sh -c "/usr/sbin/pwreset-ctl --version | grep -qx 'pwreset-ctl ${VERSION%-*}'"
check "system user pwreset" id pwreset
check "/etc/pwreset/pwreset.conf is 0640 root:pwreset" \
	sh -c '[ "$(stat -c %a:%U:%G /etc/pwreset/pwreset.conf)" = 640:root:pwreset ]'
check "/etc/pwreset/outbox.key made at install, 0640 root:pwreset" \
	sh -c '[ "$(stat -c %a:%U:%G /etc/pwreset/outbox.key)" = 640:root:pwreset ] && grep -Eqx "[0-9a-f]{64}" /etc/pwreset/outbox.key'
check "/etc/pwreset/pwreset.conf is a conffile" \
	sh -c 'dpkg-query -W -f="\${Conffiles}" pwreset | grep -q " /etc/pwreset/pwreset.conf "'
check "/run/pwreset is 0750 pwreset:www-data (tmpfiles.d)" \
	sh -c '[ "$(stat -c %a:%U:%G /run/pwreset)" = 750:pwreset:www-data ]'
check "/etc/pwreset/templates exists" test -d /etc/pwreset/templates
check "man pages installed" test -f /usr/share/man/man8/pwreset.8.gz -a -f /usr/share/man/man5/pwreset.conf.5.gz
check "units installed" test -f /lib/systemd/system/pwreset.service -a -f /lib/systemd/system/pwreset.socket
check "pwreset.service enabled for multi-user.target" \
	test -L /etc/systemd/system/multi-user.target.wants/pwreset.service
check "pwreset.socket enabled" test -L /etc/systemd/system/sockets.target.wants/pwreset.socket
check "nginx snippet installed" test -f /usr/share/pwreset/nginx/pwreset.conf
check "the packaged config passes pwreset -n as the service user" \
	runuser -u pwreset -- /usr/sbin/pwreset -n -c /etc/pwreset/pwreset.conf

# ---- 4. end to end -------------------------------------------------------------
if /usr/bin/python3 "$SRC/test/deb/smoke.py" --dir "$W/e2e" >"$W/e2e.log" 2>&1; then
	ok "end to end: both steps, both routes, mail delivered (smoke.py)"
else
	bad "end to end (tail of $W/e2e.log:)"
	tail -n 40 "$W/e2e.log"
fi
sed 's/^/  smoke.py: /' "$W/e2e.log" | grep -E 'ok |FAIL' || true

# ---- 5. purge ------------------------------------------------------------------
if apt-get purge -y pwreset </dev/null >"$W/purge.log" 2>&1; then
	PURGED=1
	ok "apt-get purge -y pwreset"
else
	bad "apt-get purge (tail of $W/purge.log:)"
	tail -n 30 "$W/purge.log"
fi
check "package gone from dpkg" sh -c '! dpkg-query -W pwreset'
for p in /etc/pwreset /usr/sbin/pwreset /usr/sbin/pwreset-ctl /usr/share/pwreset \
	/lib/systemd/system/pwreset.service /usr/lib/tmpfiles.d/pwreset.conf \
	/usr/lib/sysusers.d/pwreset.conf /run/pwreset \
	/etc/systemd/system/multi-user.target.wants/pwreset.service; do
	check "purged: $p" sh -c "! test -e $p -o -L $p"
done
exit 0
