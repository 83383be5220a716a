#!/bin/bash
# test-ctl.sh — pwreset-ctl against a real, throwaway PostgreSQL.
#
#	test-ctl.sh PATH/TO/pwreset-ctl
#
# With $PWRESET_TEST_CONNINFO the database it names is used (it must be
# empty and disposable); otherwise a server is made with initdb in a
# mktemp -d directory and stopped at the end.  Exit 77 (skipped) when
# neither is possible.  SMTP checks use /usr/bin/python3 -m aiosmtpd when
# it is installed.
set -u

CTL=${1:?usage: test-ctl.sh PATH/TO/pwreset-ctl}
CTL=$(cd "$(dirname "$CTL")" && pwd)/$(basename "$CTL")
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PY=/usr/bin/python3

DIR=$(mktemp -d "${TMPDIR:-/tmp}/test-ctl.XXXXXX") || exit 1
PGPID="" SMTPPID="" FAILS=0 COUNT=0

cleanup() {
	[ -n "$SMTPPID" ] && kill "$SMTPPID" 2>/dev/null && wait "$SMTPPID" 2>/dev/null
	if [ -n "$PGPID" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$DIR/pg" -m immediate stop >/dev/null 2>&1
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

# PostgreSQL refuses to run as root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [ -n "${PWRESET_TEST_CONNINFO:-}" ]; then
	CONNINFO=$PWRESET_TEST_CONNINFO
else
	[ -x "$PGBIN/initdb" ] || { echo "SKIP: no $PGBIN/initdb"; exit 77; }
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || { echo "SKIP: no postgres user"; exit 77; }
		chmod 0711 "$DIR"
		mkdir "$DIR/pg" && chown postgres "$DIR/pg"
	fi
	PGPORT=$(free_port)
	as_pg "$PGBIN/initdb" -D "$DIR/pg" --auth=trust -U postgres >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log"; exit 1; }
	as_pg "$PGBIN/pg_ctl" -D "$DIR/pg" -w -l "$DIR/pg/log" \
		-o "-k $DIR/pg -p $PGPORT -c listen_addresses=127.0.0.1" start >/dev/null ||
		{ cat "$DIR/pg/log"; exit 1; }
	PGPID=started
	CONNINFO="host=127.0.0.1 port=$PGPORT dbname=postgres user=postgres"
fi

SMTPPORT=$(free_port)
if $PY -c 'import aiosmtpd' 2>/dev/null; then
	$PY -m aiosmtpd -n -l "127.0.0.1:$SMTPPORT" >/dev/null 2>&1 &
	SMTPPID=$!
fi

# A tiny list, so that the test does not depend on a system one.
printf '#!comment: test\nletmein\nCorrect-Horse-Battery-9\n' >"$DIR/banned.lst"

write_conf() { # FILE CONNINFO SMTPPORT
	cat >"$1" <<EOF
[database]
conninfo = $2
timeout = 5
[service]
emaildomain = example.org
[smtp]
host = 127.0.0.1
port = $3
timeout = 2
[mail]
outbox_key_file = $DIR/outbox.key
[password]
banned_file = $DIR/banned.lst
[argon2]
m_cost = 1024
t_cost = 1
EOF
}
write_conf "$DIR/ok.conf" "$CONNINFO" "$SMTPPORT"
DEADPORT=$(free_port)
write_conf "$DIR/down.conf" \
	"host=127.0.0.1 port=$DEADPORT dbname=x user=u password=s3cr3t-pw connect_timeout=2" \
	"$DEADPORT"
export PWRESET_CONFIG="$DIR/ok.conf"

# run EXPECTED_EXIT [< stdin] -- ARGS: output in $OUT (stdout) and $ERR.
run() {
	local want=$1
	shift
	"$CTL" "$@" >"$DIR/out" 2>"$DIR/err"
	RC=$?
	OUT=$(cat "$DIR/out")
	ERR=$(cat "$DIR/err")
	COUNT=$((COUNT + 1))
	if [ "$RC" != "$want" ]; then
		echo "FAIL: pwreset-ctl $*: exit $RC, wanted $want"
		echo "  stdout: $OUT"
		echo "  stderr: $ERR"
		FAILS=$((FAILS + 1))
		return 1
	fi
	return 0
}

# expect WHERE PATTERN: the last run's stdout/stderr matches (grep -E).
expect() {
	local text
	[ "$1" = out ] && text=$OUT || text=$ERR
	if ! printf '%s\n' "$text" | grep -Eq -- "$2"; then
		echo "FAIL: expected $1 to match /$2/, got:"
		printf '%s\n' "$text" | sed 's/^/  /'
		FAILS=$((FAILS + 1))
	fi
}
refute() {
	local text
	[ "$1" = out ] && text=$OUT || text=$ERR
	if printf '%s\n' "$text" | grep -Eq -- "$2"; then
		echo "FAIL: $1 must not match /$2/, got:"
		printf '%s\n' "$text" | sed 's/^/  /'
		FAILS=$((FAILS + 1))
	fi
}

# ---- outbox-key: needs no configuration, never overwrites ----------------------
nok() { echo "FAIL: $1"; FAILS=$((FAILS + 1)); }
run 0 -c "$DIR/no-such.conf" outbox-key "$DIR/outbox.key"
expect out "^wrote $DIR/outbox.key"
[ "$(stat -c %a "$DIR/outbox.key")" = 600 ] || nok "outbox.key mode $(stat -c %a "$DIR/outbox.key")"
grep -Eqx '[0-9a-f]{64}' "$DIR/outbox.key" || nok "outbox.key: not 64 hex digits"
KEY1=$(cat "$DIR/outbox.key")
run 1 outbox-key "$DIR/outbox.key"
expect err 'File exists'
[ "$(cat "$DIR/outbox.key")" = "$KEY1" ] || nok "outbox-key overwrote a key"
run 0 outbox-key "$DIR/other.key"
[ "$(cat "$DIR/other.key")" != "$KEY1" ] || nok "two keys are equal"
run 1 outbox-key "$DIR/no-such-dir/x.key"
run 2 outbox-key
run 2 outbox-key a b

# ---- usage ------------------------------------------------------------
run 2
expect err '^usage: pwreset-ctl \[-c FILE\] <command>'
run 0 --help
expect out '^usage: pwreset-ctl'
expect out '^       pwreset-ctl -V \| --version$'
run 0 --version
expect out '^pwreset-ctl [0-9]+\.[0-9]+'
# Every command's own help: its usage, what it does, its options.
for cmd in migrate "member add" "member show" "member lock" "member unlock" \
	"member disable" "member check-password" "group add" "group add-member" \
	"token issue" "token revoke" "mail list" "mail retry" "mail deliver" \
	purge check stats; do
	# shellcheck disable=SC2086
	run 0 $cmd --help && expect out "^usage: pwreset-ctl \[-c FILE\] $cmd( |\$)"
	expect out '^exit status: '
	# shellcheck disable=SC2086
	run 0 $cmd -h && expect out "^usage: pwreset-ctl \[-c FILE\] $cmd( |\$)"
done
run 0 member add --help
expect out '^  --email E +email address'
expect out '^  --password-stdin +read a password'
run 0 migrate --help
expect out '^  --status +show the applied and the needed schema version'
expect out '^  --dry-run +list the migrations'
run 2 migrate --status --dry-run
run 2 migrate --bogus
# member add's --status takes a value; migrate's is a flag
run 2 migrate --status=x
run 2 frobnicate
run 2 member
expect err 'member check-password USERNAME'
run 2 member add
expect err '^usage: pwreset-ctl \[-c FILE\] member add USERNAME'
run 2 member add a b
run 2 member add bob --bogus
run 2 member add bob --email
run 2 member lock bob --minutes 0
run 2 member lock bob --minutes 12x
run 2 mail retry
run 2 mail retry 3 --all-failed
run 2 mail retry -1
# usage errors win over a broken configuration
run 2 -c "$DIR/nonexistent.conf" member lock bob --minutes 0

# ---- configuration errors ------------------------------------------------
printf '[database]\nbogus = 1\n' >"$DIR/bad.conf"
run 1 -c "$DIR/bad.conf" migrate
expect err "^$DIR/bad.conf:2: "

# ---- database unreachable, password never shown ------------------------
run 1 -c "$DIR/down.conf" migrate
expect err "^pwreset-ctl: cannot reach the database \(.*port=$DEADPORT.*\): "
refute err 's3cr3t-pw'
[ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || { echo "FAIL: unreachable: not one line"; FAILS=$((FAILS + 1)); }
run 1 -c "$DIR/down.conf" check
expect out '^database .*: FAILED: '
expect out '^smtp 127.0.0.1:[0-9]+: FAILED: '
refute out 's3cr3t-pw'

# ---- migrate -----------------------------------------------------------
# Not migrated yet: status behind (exit 1), a dry run lists and changes
# nothing, check fails naming the fix, other commands say what to run.
NEEDED=$(ls "$(dirname "$0")/../sql/migrations" 2>/dev/null | grep -c '^[0-9][0-9][0-9]_.*\.sql$')
run 1 migrate --status
expect out '^applied: 0$'
expect out '^needed: [1-9][0-9]*$'
expect out '^status: behind, [1-9][0-9]* migration\(s\) to apply: run pwreset-ctl migrate$'
run 0 migrate --dry-run
expect out '^would apply 001_init$'
expect out '^migrate: [1-9][0-9]* migration\(s\) would be applied \(dry run: nothing changed\)$'
run 0 migrate --dry-run
expect out '^would apply 001_init$'
run 1 member show alice
expect err '^pwreset-ctl: the database schema is at version 0, this build needs [1-9][0-9]*: run pwreset-ctl migrate$'
run 1 mail list
expect err 'run pwreset-ctl migrate'
run 1 check
expect out '^version: pwreset-ctl [0-9]+\.[0-9]+'
expect out '^database .*: ok$'
expect out '^schema version 0 \(needed [1-9][0-9]*\): FAILED: [1-9][0-9]* migration\(s\) missing: run pwreset-ctl migrate$'
run 0 migrate
expect out '^migrate: [1-9][0-9]* migration\(s\) applied$'
[ -z "$NEEDED" ] || [ "$NEEDED" = 0 ] || expect out "^migrate: $NEEDED migration\\(s\\) applied\$"
run 0 migrate --status
expect out '^status: current$'
run 0 migrate --dry-run
expect out '^migrate: 0 migration\(s\) would be applied'
refute out '^would apply'
run 0 migrate
expect out '^migrate: 0 migration\(s\) applied$'

# ---- member add / show ---------------------------------------------------
run 0 member add alice --email alice@example.org --firstname Alice --lastname 'Liddell Ü'
expect out '^member [0-9]+ added$'
run 0 member show ALICE
expect out '^username: alice$'
expect out '^email: alice@example.org$'
expect out '^firstname: Alice$'
expect out '^lastname: Liddell Ü$'
expect out '^status: activated$'
expect out '^admin: no$'
expect out '^locked: no$'
expect out '^failed_logins: 0$'
expect out '^password: not set$'
run 1 member show nobody
expect err 'no such member'

# refusals write nothing
run 1 member add 12345
expect err 'invalid username'
run 1 member add 'bad name'
run 1 member add bob --email not-an-email
expect err 'invalid email'
run 1 member add bob --firstname "$(printf 'a\tb')"
run 1 member add bob --lastname "$(printf '%051d' 0)"
run 1 member add bob --status frozen
run 1 member add ALICE
expect err 'username or email already in use'
run 1 member add bob --email ALICE@example.org
expect err 'username or email already in use'
run 1 member add bob --password-stdin <<<'abc'
expect err 'password refused'
run 1 member add bob --password-stdin <<<'Bob'
expect err 'differ from the username'
run 1 member add bob --password-stdin <<<'letmein'
run 1 member add bob --password-stdin <<<'Correct-Horse-Battery-9'
expect err 'password refused'
run 1 member add bob --password-stdin </dev/null
expect err 'no password on stdin'
head -c 1100 /dev/zero | tr '\0' x >"$DIR/long"
run 1 member add bob --password-stdin <"$DIR/long"
expect err 'longer than 1024'
# medium is enough for a member, not for an admin
run 1 member add bob --admin --password-stdin <<<'Garden7x'
expect err 'admin needs a strong one'
run 1 member show bob
run 0 member add bob --password-stdin <<<'Garden7x'
run 0 member show bob
expect out '^password: set$'
expect out '^password_changed_at: .+'

# ---- admin, tokens ---------------------------------------------------------
run 0 member add root1 --admin --email root@example.org --password-stdin <<<'Tr0ub4dor&3-horse'
run 0 member show root1
expect out '^admin: yes$'
run 0 member check-password root1 <<<'Tr0ub4dor&3-horse'
run 1 member check-password root1 <<<'Tr0ub4dor&3-horsf'
refute out 'Tr0ub4dor'
run 1 member check-password alice <<<'whatever'
run 1 token issue alice
expect err 'not an admin'
run 0 token issue root1
expect out '^[A-Za-z0-9_-]{32}$'
T1=$OUT
run 0 token issue root1
[ "$OUT" != "$T1" ] || { echo "FAIL: two tokens alike"; FAILS=$((FAILS + 1)); }
run 0 token revoke root1
expect out '^2 token\(s\) revoked$'
run 0 token revoke root1
expect out '^0 token\(s\) revoked$'

# ---- lock, unlock, disable ---------------------------------------------------
run 0 member lock alice --minutes 5
run 0 member show alice
expect out '^locked: yes \(until .+\)$'
run 0 member unlock alice
run 0 member show alice
expect out '^locked: no$'
run 0 member disable alice
run 0 member show alice
expect out '^status: disabled$'

# ---- groups ------------------------------------------------------------------
run 0 group add Staff --template default --description 'The staff'
expect out '^group [0-9]+ added$'
GID=$(printf '%s\n' "$OUT" | sed 's/^group \([0-9]*\) added$/\1/')
run 1 group add staff
run 1 group add 123
run 1 group add '~tilde'
run 1 group add ok --template 'bad set'
run 0 group add-member "$GID" alice
run 0 group add-member staff bob
run 0 group add-member '~Staff' root1
run 1 group add-member 999999 alice
expect err 'no such group'
run 1 group add-member nosuch alice
run 1 group add-member staff nobody

# ---- mail, purge -----------------------------------------------------------------
run 0 mail list
expect out '^ID	STATE	ATTEMPTS	KIND	RECIPIENT	CREATED	SENT_OR_NEXT	LAST_ERROR$'
run 0 mail list --failed
[ "$(printf '%s\n' "$OUT" | wc -l)" = 1 ] || { echo "FAIL: mail list --failed: more than the header"; FAILS=$((FAILS + 1)); }
run 0 mail retry --all-failed
expect out '^0 message\(s\) requeued$'
run 1 mail retry 424242
run 0 purge
expect out '^purge: '
run 0 mail deliver --once
expect out '^delivered 0, retry 0, failed 0$'

# ---- check -------------------------------------------------------------------
if [ -n "$SMTPPID" ]; then
	sleep 0.5
	run 0 check
	expect out "^config $DIR/ok.conf: ok$"
	expect out '^version: pwreset-ctl [0-9]+\.[0-9]+'
	expect out '^start checks: ok$'
	expect out '^database .*: ok$'
	expect out '^schema version [1-9][0-9]* \(needed [1-9][0-9]*\): ok$'
	expect out "^outbox key $DIR/outbox.key: ok$"
	expect out '^smtp 127.0.0.1:[0-9]+: ok$'
fi

# What the workers or the mailer would refuse at start fails check too.
cp "$DIR/ok.conf" "$DIR/user.conf"
printf '[service]\nuser = no-such-user-pwreset\n' >>"$DIR/user.conf"
run 1 -c "$DIR/user.conf" check
expect out '^start checks: FAILED: .*\[service\] user no-such-user-pwreset: no such user$'
: >"$DIR/empty.pw"
cp "$DIR/ok.conf" "$DIR/pw.conf"
printf '[smtp]\npassword_file = %s\n' "$DIR/empty.pw" >>"$DIR/pw.conf"
run 1 -c "$DIR/pw.conf" check
expect out '^start checks: FAILED: .*password_file .*must hold one non-empty line$'
cp "$DIR/ok.conf" "$DIR/from.conf"
printf '[mail]\nfrom = Reset Service\n' >>"$DIR/from.conf"
run 1 -c "$DIR/from.conf" check
expect out "^config $DIR/from.conf: FAILED: .*\[mail\] from: must hold an email address"
cp "$DIR/ok.conf" "$DIR/dup.conf"
printf '[smtp]\ntimeout = 3\n' >>"$DIR/dup.conf"
run 1 -c "$DIR/dup.conf" check
expect out "^config $DIR/dup.conf: FAILED: .*\[smtp\] timeout: set twice"

# ---- stats -------------------------------------------------------------------
# Nothing queued yet: no oldest age.
run 0 stats
expect out '^outbox_pending: 0$'
expect out '^outbox_oldest_pending_s: -$'
expect out '^requests: live counters off; set \[service\] status_path'
{ cat "$DIR/ok.conf"; printf '[service]\nstatus_path = /status\n'; } >"$DIR/status.conf"
run 0 -c "$DIR/status.conf" stats
expect out '^requests: live counters at \[service\] status_path /status '
run 2 stats extra
run 1 -c "$DIR/down.conf" stats
expect err '^pwreset-ctl: cannot reach the database'
refute err 's3cr3t-pw'
# Rows of every kind, with known ages, then the exact figures.  Rows older
# than the window must not count.
PSQL=$(command -v psql || echo "$PGBIN/psql")
if "$PSQL" -X -q -v ON_ERROR_STOP=1 "$CONNINFO" >"$DIR/psql.log" 2>&1 <<'SQL'; then
CREATE TEMP TABLE m AS SELECT id FROM member WHERE username = 'alice';
-- A member has one live (unused, not invalidated) token at most
-- (migration 004): the live rows 03 and 04 belong to members of their own.
INSERT INTO member (username) VALUES ('stats-03'), ('stats-04');
INSERT INTO reset_token (member_id, token_hash, issued_at, expires_at,
			 used_at, invalidated_at)
SELECT coalesce(o.id, m.id), decode(repeat(v.h, 32), 'hex'), now() - v.issued,
	now() - v.issued + v.ttl, v.used, v.inval
FROM m, (VALUES
	('01', interval '1 minute', interval '1 hour', NULL::timestamptz, NULL::timestamptz),
	('02', interval '5 minutes', interval '1 hour', now(), NULL),
	('03', interval '50 minutes', interval '40 minutes', NULL, NULL),
	('04', interval '3 hours', interval '1 hour', NULL, NULL),
	('05', interval '10 minutes', interval '1 hour', NULL, now()),
	('06', interval '2 hours', interval '3 hours', NULL, now() - interval '90 minutes')
) AS v (h, issued, ttl, used, inval)
LEFT JOIN member o ON o.username = 'stats-' || v.h;
INSERT INTO mail_outbox (kind, recipient, subject, message, created_at,
			 next_attempt_at, sent_at, failed_at)
VALUES
	('change-password', 'a@example.org', 's', 'x', now() - interval '90 seconds', now(), NULL, NULL),
	('change-password', 'b@example.org', 's', 'x', now() - interval '30 seconds', now() + interval '5 minutes', NULL, NULL),
	('change-password', 'c@example.org', 's', 'x', now() - interval '2 days', now(), NULL, now() - interval '1 day'),
	('change-password', 'd@example.org', 's', NULL, now() - interval '1 minute', now(), now() - interval '50 seconds', NULL),
	('change-password', 'e@example.org', 's', NULL, now() - interval '3 hours', now(), now() - interval '2 hours', NULL);
INSERT INTO audit_log (event, member_id, at) SELECT 'password-changed', id, now() FROM m;
INSERT INTO audit_log (event, member_id, at) SELECT 'password-changed', id, now() - interval '2 hours' FROM m;
INSERT INTO audit_log (event, member_id, at) SELECT 'something-else', id, now() FROM m;
SQL
	run 0 stats
	expect out '^outbox_pending: 2$'
	expect out '^outbox_deferred: 1$'
	expect out '^outbox_failed: 1$'
	expect out '^outbox_oldest_pending_s: (9[0-9])$'
	expect out '^window_s: 3600$'
	expect out '^mail_sent: 1$'
	# issued within the hour: 01, 02, 03, 05
	expect out '^tokens_issued: 4$'
	expect out '^tokens_used: 1$'
	# 03 expired 10 minutes ago unused; 04 expired 2 hours ago
	expect out '^tokens_expired: 1$'
	expect out '^tokens_invalidated: 1$'
	expect out '^password_changes: 1$'
else
	echo "FAIL: could not insert the stats fixture:"
	sed 's/^/  /' "$DIR/psql.log"
	FAILS=$((FAILS + 1))
fi

echo "$COUNT runs, $FAILS failure(s)"
[ "$FAILS" = 0 ]
