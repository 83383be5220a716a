#!/usr/bin/env bash
# demo.sh — pwreset running on http://127.0.0.1:8080 in one command:
#
#   contrib/demo.sh          (as root)
#
# Installs what is missing (contrib/deps.sh), builds (meson, build/), and
# starts the whole stack in ./.stack with test/stack.py: a throwaway
# PostgreSQL, an SMTP sink that stores every mail in ./.stack/mail/, pwreset
# under spawn-fcgi with the production Argon2 cost, and nginx on
# 127.0.0.1:8080.  Then it adds a member `demo` and prints what to try.
# Stop it with:  /usr/bin/python3 test/stack.py down --dir ./.stack
set -euo pipefail

cd "$(dirname "$0")/.."
PY=/usr/bin/python3
PORT=${PWRESET_DEMO_PORT:-8080}
STACK=./.stack
BUILD=${PWRESET_DEMO_BUILD:-build}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root: it installs packages" \
		"and runs PostgreSQL as the postgres user" >&2
	exit 1
fi

bash contrib/deps.sh </dev/null

if [ -f "$BUILD/build.ninja" ]; then
	ninja -C "$BUILD"
else
	rm -rf "$BUILD"
	meson setup "$BUILD"
	ninja -C "$BUILD"
fi

# A second run replaces the first demo.
if [ -f "$STACK/stack.json" ]; then
	"$PY" test/stack.py down --dir "$STACK"
fi
"$PY" test/stack.py up --dir "$STACK" --build "$BUILD" --nginx-port "$PORT" \
	--argon2-defaults

CTL="$BUILD/ctl/pwreset-ctl -c $STACK/pwreset.conf"
$CTL member add demo --email demo@example.test --firstname Demo \
	--lastname User

URL="http://127.0.0.1:$PORT/ps/service/members/resetpassword"
PAGE="http://127.0.0.1:$PORT/email/forgotpassword"
cat <<EOT

The member "demo" (demo@example.test, Demo User) exists.

In a browser, open

     $PAGE

ask for a link for "demo", then open the link of the mail in $STACK/mail/
($PY test/stack.py mail --dir $STACK prints it) and choose a password.

Or try the two steps of the service:

1. Ask for a reset (step 1); the answer is the same for unknown members:

     curl -i --data 'member-username=demo' $URL

2. Read the mail the SMTP sink received and copy the token from the link
   (…/email/changepassword?member=1&token=TOKEN):

     ls $STACK/mail/*.eml
     $PY test/stack.py mail --dir $STACK

3. Set a new password with the token (step 2):

     curl -i --data 'token=TOKEN' --data-urlencode 'member-password=Vx7#kLm2qPz!' $URL

   Without member-password the answer is "pending" and the token stays
   valid; a weak password answers error 1015.  The token works once.  A
   second mail ("Your password has been updated") arrives in $STACK/mail/.

4. Check it:

     $CTL member check-password demo <<<'Vx7#kLm2qPz!' && echo match

JSON instead of XML: add -H 'Accept: application/json' or use ….json.
Logs: $STACK/pwreset.log   Config: $STACK/pwreset.conf
Outbox key (made by pwreset-ctl outbox-key): $STACK/outbox.key

Stop everything (by PID) and remove $STACK:

     $PY test/stack.py down --dir $STACK
EOT
