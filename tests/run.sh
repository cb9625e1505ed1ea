#!/bin/sh
# Every test: the unit binaries in $CRIER_BUILD/tests/, the fuzz corpus replay,
# then the end-to-end tests in tests/integration/. Run from the repository root
# (`make test` does, with CRIER_BUILD=build-san). Ends with one line
# "N passed, M failed[, K skipped]" and exits non-zero when anything failed.

CRIER_BUILD=${CRIER_BUILD:-build}
export CRIER_BUILD
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1

passed=0
failed=0
skipped=0
failures=""
out=$(mktemp "${TMPDIR:-/tmp}/crier-run.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT INT TERM

# Add the "N passed, M failed" totals printed in $out; a run that exited
# non-zero without reporting a failure counts as one failure.
count_summary() { # name exit-code
	p=$(sed -n 's/.*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/.*: \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p' "$out" | tail -n 1)
	[ -z "$p" ] && p=0 && f=0
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	if grep -q -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' "$out" && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures="$failures $1"
}

echo "== unit tests ($CRIER_BUILD/tests)"
for t in "$CRIER_BUILD"/tests/test_*; do
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
	timeout -k 10 300 "$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	count_summary "$(basename "$t")" "$rc"
done

if [ -f tests/fuzz/run.sh ]; then
	echo "== fuzz corpus replay"
	sh tests/fuzz/run.sh --replay >"$out" 2>&1
	rc=$?
	cat "$out"
	if grep -q ': [0-9][0-9]* passed, [0-9][0-9]* failed' "$out"; then
		count_summary fuzz-replay "$rc"
	elif [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures fuzz-replay"
	fi
fi

echo "== integration tests"
for t in tests/integration/test_*.py; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .py)
	echo "-- $name"
	(cd tests/integration && timeout -k 10 900 python3 -m unittest -v "$name") >"$out" 2>&1
	rc=$?
	cat "$out"
	ran=$(sed -n 's/^Ran \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' "$out" | tail -n 1)
	if [ -z "$ran" ]; then
		failed=$((failed + 1))
		failures="$failures $name"
		continue
	fi
	# Tests that failed or erred, each once (a test with several failing subtests is one failure).
	f=$(grep -E '^(FAIL|ERROR): ' "$out" | sed 's/^[A-Z]*: //; s/ \[.*//' | sort -u | wc -l | tr -d ' ')
	s=$(grep -E '^(OK|FAILED)' "$out" | tail -n 1 | sed -n 's/.*skipped=\([0-9][0-9]*\).*/\1/p')
	s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	p=$((ran - f - s))
	[ "$p" -lt 0 ] && p=0
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	[ "$f" -gt 0 ] && failures="$failures $name"
done

echo
[ -n "$failures" ] && echo "failed in:$failures"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
