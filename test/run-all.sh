#!/usr/bin/env bash
# run-all.sh — THE test command of pwreset.
#
#   test/run-all.sh          (as root)
#
# On a fresh Debian 12, as root, with no stdin:
#   1. installs what is missing (contrib/deps.sh);
#   2. starts a throwaway PostgreSQL for the unit tests of suite 'pg'
#      (PWRESET_TEST_PG = libpq conninfo of an empty database);
#   3. self-tests the harness (test/harness: PostgreSQL, SMTP sink, nginx);
#   4. for a plain build (build/) and an ASan+UBSan build (build-asan/):
#      meson setup, ninja, the unit tests (meson test), the end-to-end suite
#      (pytest test/e2e through nginx, real PostgreSQL, SMTP sink);
#   5. builds the Debian package, installs it, uses it and purges it
#      (test/deb/smoke.sh);
#   6. checks the formatting of every *.c and *.h with clang-format.
# It ends with one line "N passed, N failed[, N skipped]" summing every
# suite, and exits non-zero when anything failed.
#
# Environment: PWRESET_SKIP_ASAN=1 skips the sanitizer build (for a quick
# local run; CI never sets it); PWRESET_RUNALL_BUILD=DIR builds in DIR and
# DIR-asan instead of build and build-asan; PWRESET_KEEP=1 keeps the
# stacks' files.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
T0=$SECONDS

stage() { printf '\n==== %s  (+%ds)\n' "$*" "$((SECONDS - T0))"; }

# add NAME PASSED FAILED SKIPPED
add() {
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	SKIPPED=$((SKIPPED + $4))
	printf -- '---- %s: %d passed, %d failed, %d skipped\n' "$1" "$2" "$3" "$4"
	if [ "$3" -gt 0 ]; then FAILURES+=("$1"); fi
}

WORK=$(mktemp -d /tmp/pwreset-runall.XXXXXX)
chmod 0711 "$WORK"
PGDIR=$WORK/pg

cleanup() {
	if [ -f "$PGDIR/stack.json" ]; then
		"$PY" test/stack.py down --dir "$PGDIR" >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

summary() {
	cleanup
	trap - EXIT
	echo
	if [ "${#FAILURES[@]}" -gt 0 ]; then
		echo "failed: ${FAILURES[*]}"
	fi
	echo "run-all: $((SECONDS - T0)) s"
	if [ "$SKIPPED" -gt 0 ]; then
		echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	else
		echo "$PASSED passed, $FAILED failed"
	fi
	if [ "$FAILED" -gt 0 ] || [ "$PASSED" -eq 0 ]; then
		exit 1
	fi
	exit 0
}

# Counts "P F S" from a pytest JUnit XML file; a run that died before
# writing it (or exited non-zero with nothing failed) counts one failure.
junit_counts() {
	"$PY" - "$1" "$2" <<'EOF'
import sys, xml.etree.ElementTree as ET
path, rc = sys.argv[1], int(sys.argv[2])
p = f = s = 0
try:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for ts in suites:
        t = int(ts.get("tests", 0))
        fl = int(ts.get("failures", 0)) + int(ts.get("errors", 0))
        sk = int(ts.get("skipped", 0))
        p += t - fl - sk
        f += fl
        s += sk
except (OSError, ET.ParseError):
    pass
if (rc != 0 and f == 0) or p + f == 0:
    f += 1
print(p, f, s)
EOF
}

# Counts "P F S" from meson's testlog.json (one JSON object per line).
meson_counts() {
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
p = f = s = 0
try:
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line).get("result", "")
            if r in ("OK", "EXPECTEDFAIL"):
                p += 1
            elif r == "SKIP":
                s += 1
            else:
                f += 1
except (OSError, ValueError):
    pass
if rc != 0 and f == 0:
    f += 1
print(p, f, s)
EOF
}

# run_pytest NAME TIMEOUT ARGS...
run_pytest() {
	local name=$1 limit=$2 junit rc
	shift 2
	junit=$WORK/$name.xml
	rm -f "$junit"
	timeout -k 30 "$limit" "$PY" -m pytest -q -p no:cacheprovider \
		-o junit_family=xunit2 --junitxml="$junit" "$@" </dev/null
	rc=$?
	[ $rc -eq 124 ] && echo "$name: timed out after $limit s"
	# shellcheck disable=SC2046
	add "$name" $(junit_counts "$junit" $rc)
}

# run_meson_test NAME BUILD ARGS...
run_meson_test() {
	local name=$1 build=$2 rc
	shift 2
	rm -f "$build/meson-logs/testlog.json"
	timeout -k 30 900 meson test -C "$build" --print-errorlogs "$@" </dev/null
	rc=$?
	# shellcheck disable=SC2046
	add "$name" $(meson_counts "$build/meson-logs/testlog.json" $rc)
}

# Does the build define a test in suite $2?
has_suite() {
	meson introspect --tests "$1" 2>/dev/null | "$PY" -c '
import json, sys
tests = json.load(sys.stdin)
sys.exit(0 if any(s == sys.argv[1] or s.endswith(":" + sys.argv[1])
                  for t in tests for s in t.get("suite", [])) else 1)' "$2"
}

# build NAME DIR MESON-OPTIONS... → 0 when built
build() {
	local name=$1 dir=$2 rc
	shift 2
	stage "$name: meson setup $dir $*"
	if [ -d "$dir/meson-private" ]; then
		meson setup --wipe "$dir" "$@" </dev/null || {
			rm -rf "$dir"
			meson setup "$dir" "$@" </dev/null
		}
	else
		rm -rf "$dir"
		meson setup "$dir" "$@" </dev/null
	fi
	rc=$?
	if [ $rc -eq 0 ]; then
		stage "$name: ninja -C $dir"
		ninja -C "$dir" </dev/null
		rc=$?
	fi
	if [ $rc -ne 0 ]; then
		add "$name" 0 1 0
		return 1
	fi
	add "$name" 1 0 0
	return 0
}

# variant NAME DIR UNIT-ASAN-OPTIONS E2E-ASAN-OPTIONS MESON-OPTIONS...
variant() {
	local name=$1 dir=$2 unit_asan=$3 e2e_asan=$4
	shift 4
	if ! build "$name-build" "$dir" "$@"; then
		return
	fi

	stage "$name: unit tests"
	if [ -n "${PWRESET_TEST_PG:-}" ]; then
		"$PY" test/stack.py pg-fresh --dir "$PGDIR" >/dev/null ||
			echo "warning: could not re-create the test database"
	fi
	# The 'pg' suite shares one database: run it alone, one at a time.
	ASAN_OPTIONS=$unit_asan UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_meson_test "$name-unit" "$dir" --no-suite pg
	if has_suite "$dir" pg; then
		ASAN_OPTIONS=$unit_asan UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			run_meson_test "$name-unit-pg" "$dir" --suite pg --num-processes 1
	fi

	stage "$name: end-to-end tests (nginx + pwreset + PostgreSQL + SMTP)"
	PWRESET_BUILD=$(cd "$dir" && pwd) ASAN_OPTIONS=$e2e_asan \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_pytest "$name-e2e" 900 test/e2e
}

# ---- 1. dependencies --------------------------------------------------------
stage "dependencies (contrib/deps.sh)"
if ! bash contrib/deps.sh </dev/null; then
	add deps 0 1 0
	summary
fi

# ---- 2. PostgreSQL for the unit tests ---------------------------------------
stage "PostgreSQL for the unit tests"
if PWRESET_TEST_PG=$("$PY" test/stack.py pg-up --dir "$PGDIR" </dev/null); then
	export PWRESET_TEST_PG
	echo "PWRESET_TEST_PG=$PWRESET_TEST_PG"
else
	add postgres 0 1 0
	unset PWRESET_TEST_PG
fi

# ---- 3. the harness itself --------------------------------------------------
stage "harness self-test"
run_pytest harness 300 test/harness

# ---- 4. plain and sanitizer builds ------------------------------------------
BUILD=${PWRESET_RUNALL_BUILD:-build}
variant plain "$BUILD" \
	"detect_leaks=1:halt_on_error=1:abort_on_error=1" \
	"detect_leaks=0:abort_on_error=1"
if [ "${PWRESET_SKIP_ASAN:-0}" = 1 ]; then
	echo "PWRESET_SKIP_ASAN=1: sanitizer build skipped"
else
	variant asan "$BUILD-asan" \
		"detect_leaks=1:halt_on_error=1:abort_on_error=1" \
		"detect_leaks=0:abort_on_error=1" \
		-Db_sanitize=address,undefined -Db_lundef=false
fi

# ---- 5. valgrind, fuzzing, man pages ----------------------------------------
stage "valgrind: the unit tests of $BUILD"
if [ -n "${PWRESET_TEST_PG:-}" ]; then
	"$PY" test/stack.py pg-fresh --dir "$PGDIR" >/dev/null ||
		echo "warning: could not re-create the test database"
fi
if timeout -k 30 900 bash test/valgrind.sh "$BUILD" </dev/null; then
	add valgrind 1 0 0
else
	add valgrind 0 1 0
fi

FUZZ_SECONDS=${PWRESET_FUZZ_SECONDS:-45}
stage "fuzz: libFuzzer, ASan+UBSan, $FUZZ_SECONDS s per target"
case $BUILD in
/*) FUZZ_DIR=$BUILD-fuzz ;;
*) FUZZ_DIR=$PWD/$BUILD-fuzz ;;
esac
if FUZZ_BUILD=$FUZZ_DIR timeout -k 30 900 \
	bash test/fuzz/run.sh "$FUZZ_SECONDS" </dev/null; then
	add fuzz 1 0 0
else
	add fuzz 0 1 0
fi

stage "man pages: mandoc -Tlint -Wwarning"
if mandoc -Tlint -Wwarning contrib/man/*.[0-9]; then
	add man 1 0 0
else
	add man 0 1 0
fi

# Build, lintian, install, use end to end, purge (test/deb/smoke.sh).
stage "Debian package: dpkg-buildpackage, lintian, install, smoke, purge"
DEB_OUT=$(timeout -k 30 900 bash test/deb/smoke.sh </dev/null 2>&1)
DEB_RC=$?
printf '%s\n' "$DEB_OUT"
DEB_LAST=$(printf '%s\n' "$DEB_OUT" | sed -n 's/^deb-smoke: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -n1)
if [ -n "$DEB_LAST" ]; then
	read -r DEB_P DEB_F <<<"$DEB_LAST"
	if [ "$DEB_RC" -ne 0 ] && [ "$DEB_F" -eq 0 ]; then DEB_F=1; fi
	add deb-smoke "$DEB_P" "$DEB_F" 0
else
	add deb-smoke 0 1 0
fi

# ---- 6. formatting ----------------------------------------------------------
stage "clang-format --dry-run --Werror"
mapfile -t SOURCES < <(find . \( -path './build*' -o -path ./.git -o \
	-path ./.stack \) -prune -o \( -name '*.c' -o -name '*.h' \) -type f \
	-print | sort)
if [ "${#SOURCES[@]}" -eq 0 ]; then
	add format 0 1 0
elif clang-format --dry-run --Werror "${SOURCES[@]}"; then
	add format 1 0 0
else
	add format 0 1 0
fi

summary
