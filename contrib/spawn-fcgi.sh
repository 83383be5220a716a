#!/bin/sh
# spawn-fcgi.sh — run pwreset under spawn-fcgi, for hosts without systemd.
#
# spawn-fcgi creates the FastCGI socket, hands it to pwreset as fd 0 and,
# with -n, execs pwreset in the foreground: pwreset's own supervisor
# pre-forks the workers and the mailer, so spawn-fcgi forks nothing itself
# (-F stays 1).  Run this from an init script, runit or daemontools, which
# restart it if it exits; SIGTERM stops pwreset cleanly, SIGHUP reloads
# its configuration and templates.
#
# The socket belongs to the pwreset user and the web server's group (0660):
# nginx or lighttpd (www-data) can connect, nobody else can.
set -eu

CONF=${PWRESET_CONFIG:-/etc/pwreset/pwreset.conf}
SOCK=${PWRESET_SOCKET:-/run/pwreset/pwreset.sock}
USER=${PWRESET_USER:-pwreset}
WEBGROUP=${PWRESET_WEBGROUP:-www-data}
PWRESET=${PWRESET_BIN:-/usr/sbin/pwreset}

install -d -m 0750 -o "$USER" -g "$WEBGROUP" "$(dirname "$SOCK")"

# Refuse to start on a broken configuration (pwreset -n checks and exits).
"$PWRESET" -n -c "$CONF"

exec spawn-fcgi -n \
	-s "$SOCK" -M 0660 -U "$USER" -G "$WEBGROUP" \
	-u "$USER" -g "$USER" \
	-- "$PWRESET" -c "$CONF"
