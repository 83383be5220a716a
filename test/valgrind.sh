#!/usr/bin/env bash
# valgrind.sh — every cmocka unit test of a build directory under valgrind.
#
#   test/valgrind.sh [BUILD_DIR]          (default: build)
#
# Runs each meson test whose command is a compiled program of the build
# (the cmocka tests; the Python and shell drivers are left out) as
#   valgrind --error-exitcode=1 --leak-check=full ...
# with the test's own environment from `meson introspect --tests`.  Tests
# of suite 'pg' need a throwaway PostgreSQL (PWRESET_TEST_PG, see
# test/stack.py pg-up) and are skipped without it.  A sanitizer build
# cannot run under valgrind: use a plain one.
#
# Prints one line per test, then "N passed, N failed[, N skipped]"; exits
# non-zero when a test failed (its valgrind log stays in
# BUILD_DIR/valgrind/NAME.log).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
PY=/usr/bin/python3

if [ ! -f "$BUILD/build.ninja" ]; then
	echo "valgrind: $BUILD is not a meson build directory" >&2
	exit 2
fi
command -v valgrind >/dev/null || {
	echo "valgrind: not installed (apt-get install valgrind)" >&2
	exit 2
}
BUILD=$(cd "$BUILD" && pwd)
ninja -C "$BUILD" >"$BUILD/valgrind-build.log" 2>&1 || {
	cat "$BUILD/valgrind-build.log" >&2
	exit 1
}

# One line per test: name, suite(s), timeout, env (JSON), command (JSON)
# and working directory, TAB-separated; compiled programs only.
tests=$(meson introspect --tests "$BUILD" | "$PY" -c '
import json, os, sys
build = os.path.realpath(sys.argv[1]) + "/"
for t in json.load(sys.stdin):
    cmd = t["cmd"]
    if not os.path.realpath(cmd[0]).startswith(build):
        continue  # a script, or an interpreter running one
    with open(cmd[0], "rb") as f:
        if f.read(4) != b"\x7fELF":
            continue
    print("\t".join([t["name"], ",".join(t["suite"]),
                     str(t.get("timeout") or 30), json.dumps(t["env"]),
                     json.dumps(cmd), t.get("workdir") or ""]))
' "$BUILD")
if meson introspect --buildoptions "$BUILD" | "$PY" -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
sys.exit(0 if o.get("b_sanitize", "none") not in ("none", "") else 1)'; then
	echo "valgrind: $BUILD is built with sanitizers; use a plain build" >&2
	exit 2
fi

mkdir -p "$BUILD/valgrind"
passed=0
failed=0
skipped=0
while IFS=$'\t' read -r name suites timeout env cmd workdir; do
	[ -n "$name" ] || continue
	if [[ ",$suites," == *",pwreset:pg,"* || ",$suites," == *",pg,"* ]] &&
		[ -z "${PWRESET_TEST_PG:-}" ]; then
		printf 'SKIP  %-12s (suite pg: PWRESET_TEST_PG unset)\n' "$name"
		skipped=$((skipped + 1))
		continue
	fi
	log=$BUILD/valgrind/$name.log
	t0=$SECONDS
	# valgrind is 20-50x slower: give the test ten times its timeout.
	"$PY" - "$env" "$cmd" "$((timeout * 10))" "$log" "${workdir:-$BUILD}" \
		"$ROOT/test/valgrind.supp" <<'PYEOF'
import json, os, subprocess, sys
env = dict(os.environ)
env.update(json.loads(sys.argv[1]))
cmd = json.loads(sys.argv[2])
vg = ["valgrind", "--error-exitcode=1", "--leak-check=full",
      "--errors-for-leak-kinds=definite,indirect", "--track-origins=yes",
      "--trace-children=no", "--suppressions=" + sys.argv[6],
      "--log-file=" + sys.argv[4] + ".vg"]
with open(sys.argv[4], "wb") as out:
    try:
        r = subprocess.run(vg + cmd, env=env, stdin=subprocess.DEVNULL,
                           stdout=out, stderr=subprocess.STDOUT,
                           timeout=int(sys.argv[3]), cwd=sys.argv[5])
        rc = r.returncode
    except subprocess.TimeoutExpired:
        out.write(b"\nvalgrind.sh: timed out\n")
        rc = 124
    with open(sys.argv[4] + ".vg", "rb") as vgl:
        out.write(b"\n---- valgrind ----\n" + vgl.read())
os.unlink(sys.argv[4] + ".vg")
sys.exit(rc)
PYEOF
	rc=$?
	secs=$((SECONDS - t0))
	summary=$(grep -E 'ERROR SUMMARY' "$log" | tail -1 | sed 's/^==[0-9]*== //')
	if [ "$rc" -eq 77 ]; then
		printf 'SKIP  %-12s (the test skipped itself)\n' "$name"
		skipped=$((skipped + 1))
	elif [ "$rc" -eq 0 ]; then
		printf 'PASS  %-12s %4ds  %s\n' "$name" "$secs" "$summary"
		passed=$((passed + 1))
	else
		printf 'FAIL  %-12s %4ds  exit %d  %s  (log %s)\n' "$name" \
			"$secs" "$rc" "$summary" "$log"
		failed=$((failed + 1))
	fi
done <<<"$tests"

if [ "$skipped" -gt 0 ]; then
	echo "valgrind: $passed passed, $failed failed, $skipped skipped"
else
	echo "valgrind: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
