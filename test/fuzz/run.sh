#!/usr/bin/env bash
# run.sh — build the libFuzzer targets and run each for SECONDS.
#
#   test/fuzz/run.sh [SECONDS]        (default 60 per target)
#
# Builds with clang, ASan and UBSan in $FUZZ_BUILD (default build-fuzz at
# the top of the tree), then runs fuzz-request, fuzz-route and
# fuzz-template one after the other, each for SECONDS with -max_total_time,
# starting from the seeds in test/fuzz/corpus/<target> plus what earlier
# runs found (kept in $FUZZ_BUILD/corpus/<target>; the seeds in the tree
# are never written).  Prints one line per target with the executions
# libFuzzer reports; exits 1 when a target crashed, leaked, timed out or
# hit an UBSan report (the input is saved as $FUZZ_BUILD/artifacts/
# <target>-crash-…; replay it with `$FUZZ_BUILD/test/fuzz/<target> FILE`).
#
# Environment: FUZZ_TARGETS="fuzz-route ..." runs only these;
# FUZZ_BUILD=DIR builds there.
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_EACH=${1:-60}
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
TARGETS=${FUZZ_TARGETS:-fuzz-request fuzz-route fuzz-template}

case $SECONDS_EACH in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

if [ ! -f "$BUILD/build.ninja" ]; then
	CC=clang meson setup "$BUILD" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dtests=disabled >"$BUILD.setup.log" 2>&1 || {
		cat "$BUILD.setup.log" >&2
		echo "fuzz: meson setup failed" >&2
		exit 1
	}
	rm -f "$BUILD.setup.log"
fi
ninja_targets=()
for t in $TARGETS; do ninja_targets+=("test/fuzz/$t"); done
if ! ninja -C "$BUILD" "${ninja_targets[@]}" >"$BUILD/fuzz-build.log" 2>&1; then
	cat "$BUILD/fuzz-build.log" >&2
	echo "fuzz: build failed" >&2
	exit 1
fi

# Scratch space of the targets (fuzz-template writes template files):
# tmpfs when there is one, removed at the end.
TMPBASE=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && TMPBASE=/dev/shm
WORK=$(mktemp -d "$TMPBASE/pwreset-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

mkdir -p "$BUILD/artifacts"
failed=0
total=0
for t in $TARGETS; do
	corpus=$BUILD/corpus/$t
	log=$BUILD/$t.log
	mkdir -p "$corpus"
	cp -n "$ROOT/test/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null
	maxlen=4096
	[ "$t" = fuzz-template ] && maxlen=16384
	TMPDIR=$WORK "$BUILD/test/fuzz/$t" -max_total_time="$SECONDS_EACH" \
		-print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-max_len="$maxlen" -artifact_prefix="$BUILD/artifacts/$t-" \
		"$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	units=$(find "$corpus" -type f | wc -l)
	if [ "$rc" -ne 0 ] || grep -qE '^(==[0-9]+==ERROR|SUMMARY: )|runtime error:|Test unit written to' "$log"; then
		failed=$((failed + 1))
		printf '%-14s FAILED (exit %d) after %s executions; log %s\n' \
			"$t" "$rc" "${execs:-?}" "$log"
		grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | head -5
	else
		printf '%-14s %10s executions in %ss (%s/s), corpus %d\n' \
			"$t" "${execs:-?}" "$SECONDS_EACH" "${rate:-?}" "$units"
	fi
	total=$((total + ${execs:-0}))
done
echo "fuzz: $total executions; $failed target(s) failed"
[ "$failed" -eq 0 ]
