#!/bin/sh
# Fuzz the ingest parsers (core/ingest.h), the configuration loader, the
# Mustache compiler, the text measures, the Markdown renderer and
# X-Forwarded-For (core/proxy.h), or replay
# what fuzzing found.
#
#   tests/fuzz/run.sh SECONDS   build each target with clang + libFuzzer + ASan/UBSan into build-fuzz/,
#                               seed a corpus from tests/fixtures and tests/fuzz/seeds/<target>/, fuzz
#                               each for SECONDS; a crashing input is kept under
#                               tests/fuzz/regressions/<target>/ (commit it)
#   tests/fuzz/run.sh --replay  build each target with gcc + ASan/UBSan and replay_main.c, and feed it
#                               every fixture, seed and kept regression; prints
#                               "fuzz-replay: N passed, M failed" and fails on any failure
#
set -u

cd "$(dirname "$0")/../.." || exit 1

TARGETS="${FUZZ_TARGETS:-fuzz_alertmanager fuzz_uptimerobot fuzz_generic fuzz_config fuzz_mustache fuzz_text fuzz_json_reader fuzz_json_writer fuzz_markdown fuzz_proxy}"
# Everything the parsers link against, named one by one so an unrelated
# core file that does not build yet cannot break fuzzing.
SRCS="core/alert.c core/timefmt.c core/log.c core/ingest_util.c core/ingest_form.c core/json_reader.c core/json_writer.c
      core/ingest_alertmanager.c core/ingest_cache.c core/ingest_uptimerobot.c core/ingest_generic.c core/config.c
      core/mustache.c core/text.c core/markdown.c core/proxy.c core/auth.c core/strbuf.c core/hmap.c"
OUT=build-fuzz
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Iinclude -Icore -Itests/fuzz
        -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
LIBS="-ljansson -lm"

mkdir -p "$OUT" || exit 1

usage() {
	echo "usage: $0 SECONDS | --replay" >&2
	exit 2
}

replay() {
	total_pass=0
	total_fail=0
	for t in $TARGETS; do
		# shellcheck disable=SC2086
		gcc $CFLAGS -fsanitize=address,undefined -o "$OUT/replay_$t" tests/fuzz/replay_main.c "tests/fuzz/$t.c" \
			$SRCS $LIBS || { echo "fuzz-replay: $t does not build" >&2; exit 1; }
		dirs="tests/fixtures"
		for d in "tests/fuzz/seeds/$t" "tests/fuzz/regressions/$t"; do
			[ -d "$d" ] && dirs="$dirs $d"
		done
		# shellcheck disable=SC2086
		lines=$(find $dirs -type f ! -name '.*' -exec "$OUT/replay_$t" {} + 2>"$OUT/replay_$t.log")
		echo "$lines"
		p=$(echo "$lines" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' | awk '{s+=$1} END {print s+0}')
		f=$(echo "$lines" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' | awk '{s+=$1} END {print s+0}')
		if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
			echo "fuzz-replay: $t ran no input" >&2
			f=1
		fi
		if [ "$f" -ne 0 ]; then
			echo "fuzz-replay: $t: see $OUT/replay_$t.log" >&2
			tail -n 40 "$OUT/replay_$t.log" >&2
		fi
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
	done
	echo "fuzz-replay: $total_pass passed, $total_fail failed"
	[ "$total_fail" -eq 0 ]
}

fuzz() {
	seconds=$1
	status=0
	for t in $TARGETS; do
		# shellcheck disable=SC2086
		clang $CFLAGS -fsanitize=fuzzer,address,undefined -o "$OUT/$t" "tests/fuzz/$t.c" $SRCS $LIBS ||
			{ echo "fuzz: $t does not build" >&2; exit 1; }
		corpus="$OUT/corpus/$t"
		regress="tests/fuzz/regressions/$t"
		mkdir -p "$corpus" "$regress" || exit 1
		# Seeds: every fixture, the target's own seeds, and every input that
		# once broke it.
		seeds=""
		[ -d "tests/fuzz/seeds/$t" ] && seeds="tests/fuzz/seeds/$t"
		# shellcheck disable=SC2086
		find tests/fixtures $seeds "$regress" -type f ! -name '.*' | while read -r f; do
			cp "$f" "$corpus/seed-$(echo "$f" | tr '/' '_')"
		done
		# A target's own dictionary when it has one (tests/fuzz/<target>.dict).
		dict=tests/fuzz/ingest.dict
		[ -f "tests/fuzz/$t.dict" ] && dict="tests/fuzz/$t.dict"
		echo "fuzz: $t for ${seconds}s"
		if ! "./$OUT/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -dict="$dict" \
			-artifact_prefix="$regress/" -print_final_stats=1 "$corpus" >"$OUT/$t.log" 2>&1; then
			echo "fuzz: $t FOUND A FAILURE; input kept in $regress/, log in $OUT/$t.log" >&2
			grep -E 'ERROR|runtime error|Test unit written' "$OUT/$t.log" | head -n 5 >&2
			status=1
		else
			grep -E '^stat::number_of_executed_units|^Done' "$OUT/$t.log" | tail -n 2
		fi
		# Keep the folders only when they hold something.
		rmdir "$regress" tests/fuzz/regressions 2>/dev/null
	done
	return $status
}

[ $# -eq 1 ] || usage
case "$1" in
--replay) replay ;;
'' | *[!0-9]*) usage ;;
*) fuzz "$1" ;;
esac
