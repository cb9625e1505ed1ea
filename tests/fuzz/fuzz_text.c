/*
 * libFuzzer target: text_measure() and text_fit() (core/text.h) on any
 * bytes. Input: one byte for the measure, two for the limit (0-1023), then
 * the text, then optionally a NUL and keep. A broken promise aborts, so
 * libFuzzer keeps the input.
 */
#include "text.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_assert(int cond)
{
	if (!cond)
		abort();
}

/* Valid UTF-8 (json_string() checks: no overlongs, surrogates or code
 * points past U+10FFFF). */
static int fuzz_valid_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* How the measures relate on any text. */
static void fuzz_check_measures(const char *s)
{
	size_t bytes = text_measure(s, CRIER_MEASURE_BYTES), cps = text_measure(s, CRIER_MEASURE_CODEPOINTS);
	size_t graphemes = text_measure(s, CRIER_MEASURE_GRAPHEMES), utf16 = text_measure(s, CRIER_MEASURE_UTF16);
	size_t gsm7 = text_measure(s, CRIER_MEASURE_GSM7), x = text_measure(s, CRIER_MEASURE_X);
	size_t mastodon = text_measure(s, CRIER_MEASURE_MASTODON);

	fuzz_assert(bytes == strlen(s));
	fuzz_assert(cps <= bytes && (cps > 0) == (bytes > 0));
	fuzz_assert(graphemes <= cps && (graphemes > 0) == (cps > 0));
	fuzz_assert(utf16 >= cps && utf16 <= 2 * cps);
	fuzz_assert(gsm7 == SIZE_MAX || (gsm7 >= cps && gsm7 <= 2 * cps));
	/* Links count 23 for at least 8 bytes ("http://"), bare domains for at least 4. */
	fuzz_assert(x <= 6 * bytes && mastodon <= 3 * bytes);
	fuzz_assert(text_measure(s, (crier_measure)7) == SIZE_MAX);
}

static void fuzz_check_fit(const char *s, crier_measure m, size_t limit, const char *keep)
{
	const char *ell = m == CRIER_MEASURE_GSM7 ? "..." : "\xE2\x80\xA6";
	size_t units = text_measure(s, m), len;
	char *r = text_fit(s, m, limit, keep);

	if (units != SIZE_MAX && units <= limit) {
		fuzz_assert(r && strcmp(r, s) == 0);
		free(r);
		return;
	}
	if (!r) {
		/* Only when the ellipsis, with keep if keep is in s, does not fit. */
		char *tail = malloc(strlen(ell) + 1 + (keep ? strlen(keep) : 0) + 1);
		size_t need;

		fuzz_assert(tail != NULL);
		strcpy(tail, ell);
		need = text_measure(tail, m);
		if (need <= limit) {
			fuzz_assert(keep && *keep && strstr(s, keep));
			strcat(tail, " ");
			strcat(tail, keep);
			need = text_measure(tail, m);
			fuzz_assert(need == SIZE_MAX || need > limit);
		}
		free(tail);
		return;
	}
	units = text_measure(r, m);
	fuzz_assert(units != SIZE_MAX && units <= limit);
	if (fuzz_valid_utf8(s) && (!keep || fuzz_valid_utf8(keep)))
		fuzz_assert(fuzz_valid_utf8(r));
	len = strlen(r);
	if (keep && *keep && strstr(s, keep) && len >= strlen(keep) && strcmp(r + len - strlen(keep), keep) == 0) {
		free(r);
		return; /* keep moved to the end */
	}
	/* Otherwise: a prefix of s and the ellipsis. */
	fuzz_assert(len >= strlen(ell) && strcmp(r + len - strlen(ell), ell) == 0);
	fuzz_assert(strncmp(r, s, len - strlen(ell)) == 0);
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *keep;
	crier_measure m;
	size_t limit;

	if (size < 3)
		return 0;
	m = (crier_measure)(data[0] % 7);
	limit = data[1] | (size_t)(data[2] & 3) << 8;
	/* The text and keep, each NUL-terminated (a second NUL ends keep). */
	text = malloc(size - 3 + 2);
	fuzz_assert(text != NULL);
	memcpy(text, data + 3, size - 3);
	text[size - 3] = '\0';
	text[size - 2] = '\0';
	keep = strlen(text) < size - 3 ? text + strlen(text) + 1 : NULL;

	fuzz_check_measures(text);
	fuzz_check_fit(text, m, limit, keep);
	fuzz_check_fit(text, m, limit, NULL);
	free(text);
	return 0;
}
