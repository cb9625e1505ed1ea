/* core/text.c: length measures for channel limits, and text_fit. */
#include "check.h"
#include "text.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#define ELLIPSIS "\xE2\x80\xA6"

static const crier_measure all_measures[] = {
    CRIER_MEASURE_BYTES, CRIER_MEASURE_CODEPOINTS, CRIER_MEASURE_GRAPHEMES, CRIER_MEASURE_MASTODON,
    CRIER_MEASURE_X,     CRIER_MEASURE_GSM7,       CRIER_MEASURE_UTF16,
};
#define N_MEASURES (sizeof(all_measures) / sizeof(all_measures[0]))

/* M("text", X): the length of "text" in CRIER_MEASURE_X. */
#define M(s, unit) text_measure((s), CRIER_MEASURE_##unit)

/* Valid UTF-8 (json_string() checks: no overlongs, surrogates or code
 * points past U+10FFFF). */
static int valid_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

static void test_bytes_codepoints_utf16(void)
{
	CHECK(M("", BYTES) == 0 && M("", CODEPOINTS) == 0 && M("", GRAPHEMES) == 0 && M("", UTF16) == 0 &&
	      M("", GSM7) == 0);
	CHECK(text_measure(NULL, CRIER_MEASURE_X) == 0);
	CHECK(M("héllo", BYTES) == 6 && M("héllo", CODEPOINTS) == 5 && M("héllo", UTF16) == 5);
	/* An astral character: one code point, a surrogate pair in UTF-16. */
	CHECK(M("😀", BYTES) == 4 && M("😀", CODEPOINTS) == 1 && M("😀", UTF16) == 2);
	CHECK(M("€ 日本", UTF16) == 4);
	/* A family is five code points, three of them astral. */
	CHECK(M("👨\u200D👩\u200D👧", CODEPOINTS) == 5 && M("👨\u200D👩\u200D👧", UTF16) == 8);
	CHECK(text_measure("abc", (crier_measure)42) == SIZE_MAX);
}

static void test_invalid_utf8(void)
{
	/* Each maximal invalid subpart is one U+FFFD. */
	CHECK(M("\xFF", CODEPOINTS) == 1 && M("\xFF", BYTES) == 1);
	CHECK(M("a\xE2\x82", CODEPOINTS) == 2);            /* a truncated € */
	CHECK(M("\xF0\x9F\x98", CODEPOINTS) == 1);         /* a truncated emoji */
	CHECK(M("\xF0\x9F\x98x", CODEPOINTS) == 2);        /* ... followed by ASCII */
	CHECK(M("\xC0\xAF", CODEPOINTS) == 2);             /* overlong '/' */
	CHECK(M("\xED\xA0\x80", CODEPOINTS) == 3);         /* an encoded surrogate */
	CHECK(M("\xF4\x90\x80\x80", CODEPOINTS) == 4);     /* past U+10FFFF */
	CHECK(M("\x80\x80\xBF", CODEPOINTS) == 3);         /* stray continuation bytes */
	CHECK(M("\xE2\x82\xAC\xE2\x82", CODEPOINTS) == 2); /* € and half of another */
	CHECK(M("\xF0\x9F\x98", UTF16) == 1);              /* U+FFFD is in the BMP */
	CHECK(M("\xFF", X) == 2);                          /* U+FFFD weighs 2 */
	CHECK(M("ok\xFF", GSM7) == SIZE_MAX);              /* and is not GSM-7 */
	CHECK(M("\xF0\x9F\x98\u0301", GRAPHEMES) == 1);    /* a mark joins it like any base */
	CHECK(M("a\xFF\xFE"
	        "b",
	        GRAPHEMES) == 4);
}

static void test_gsm7(void)
{
	static const char basic[] = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
	                            "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
	static const char sms160[] = "CRIT db1: disk /var 96% full (limit 90%) since 09:12:05. Writes fail in 40 min. "
	                             "Free space or grow the volume; runbook DB-0007. Reply ACK 42 to take it, or ESC.";
	char sms161[sizeof(sms160) + 1], *r;

	/* The whole basic table except ESC: 127 characters, one septet each. */
	CHECK(M(basic, GSM7) == 127 && M(basic, CODEPOINTS) == 127);
	/* The extension table: escape + character. */
	CHECK(M("^{}\\[~]|€\f", GSM7) == 20);
	CHECK(M("Price: 5€", GSM7) == 9 + 1);
	/* Not in GSM-7: backtick, tab, ç (only Ç is), lower-case Greek, emoji, NBSP. */
	CHECK(M("`", GSM7) == SIZE_MAX);
	CHECK(M("a\tb", GSM7) == SIZE_MAX);
	CHECK(M("ça", GSM7) == SIZE_MAX && M("Ça", GSM7) == 2);
	CHECK(M("δ", GSM7) == SIZE_MAX && M("Δ", GSM7) == 1);
	CHECK(M("Server down 🔥", GSM7) == SIZE_MAX);
	CHECK(M("a\u00A0b", GSM7) == SIZE_MAX);
	CHECK(M("x\u0301", GSM7) == SIZE_MAX);

	CHECK(M(sms160, GSM7) == 160 && M(sms160, BYTES) == 160);
	r = text_fit(sms160, CRIER_MEASURE_GSM7, 160, NULL);
	CHECK_STR(r, sms160);
	free(r);
	memcpy(sms161, sms160, sizeof(sms160) - 1);
	strcpy(sms161 + sizeof(sms160) - 2, "!.");
	CHECK(M(sms161, GSM7) == 161);
	r = text_fit(sms161, CRIER_MEASURE_GSM7, 160, NULL);
	/* The last word goes; "..." because GSM-7 has no "…". */
	CHECK_STR(r, "CRIT db1: disk /var 96% full (limit 90%) since 09:12:05. Writes fail in 40 min. "
	             "Free space or grow the volume; runbook DB-0007. Reply ACK 42 to take it, or...");
	CHECK(r && M(r, GSM7) <= 160);
	free(r);
	/* € takes two septets, so one more word goes. */
	r = text_fit("Pay 5€ now or else", CRIER_MEASURE_GSM7, 16, NULL);
	CHECK_STR(r, "Pay 5€ now...");
	free(r);
}

static void test_graphemes(void)
{
	CHECK(M("hello", GRAPHEMES) == 5);
	/* A flag is a pair of regional indicators; three make a flag and a half. */
	CHECK(M("🇫🇷", GRAPHEMES) == 1 && M("🇫🇷", CODEPOINTS) == 2);
	CHECK(M("🇫🇷🇩🇪", GRAPHEMES) == 2);
	CHECK(M("🇫🇷🇩", GRAPHEMES) == 2);
	/* ZWJ sequences, modifiers, variation selectors, tags, keycaps. */
	CHECK(M("👨\u200D👩\u200D👧", GRAPHEMES) == 1);
	CHECK(M("👩\u200D❤\uFE0F\u200D💋\u200D👨", GRAPHEMES) == 1);
	CHECK(M("👍🏽", GRAPHEMES) == 1);
	CHECK(M("❤\uFE0F", GRAPHEMES) == 1);
	CHECK(M("🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", GRAPHEMES) == 1);
	CHECK(M("1\uFE0F\u20E3", GRAPHEMES) == 1);
	/* A ZWJ joins the next character only after a pictograph. */
	CHECK(M("a\u200Db", GRAPHEMES) == 2);
	CHECK(M("👨\u200D", GRAPHEMES) == 1);
	/* Combining marks, precomposed or not. */
	CHECK(M("e\u0301", GRAPHEMES) == 1 && M("é", GRAPHEMES) == 1 && M("e\u0301", CODEPOINTS) == 2);
	CHECK(M("Zoe\u0308 cafe\u0301", GRAPHEMES) == 8);
	CHECK(M("a\u0301\u0302\u0303\u0304", GRAPHEMES) == 1);
	/* Devanagari vowel signs, Thai SARA AM (a spacing mark), Arabic harakat. */
	CHECK(M("किताब", GRAPHEMES) == 3);
	CHECK(M("กำ", GRAPHEMES) == 1);
	CHECK(M("مَرْحَبًا", GRAPHEMES) == 5);
	/* CR LF is one; controls stand alone, even before a mark. */
	CHECK(M("a\r\nb", GRAPHEMES) == 3 && M("\n\r", GRAPHEMES) == 2);
	CHECK(M("a\t\u0301", GRAPHEMES) == 3);
	/* Hangul: syllables, and conjoining jamo L V T. */
	CHECK(M("한국어", GRAPHEMES) == 3);
	CHECK(M("\u1100\u1161\u11A8", GRAPHEMES) == 1);
	CHECK(M("\uAC00\u11A8", GRAPHEMES) == 1);     /* LV + T */
	CHECK(M("\uAC01\u1161", GRAPHEMES) == 2);     /* LVT + V breaks */
	CHECK(M("日本語のテキスト", GRAPHEMES) == 8); /* CJK: one each */
}

static void test_x(void)
{
	static const char url80[] = "https://status.example.com/incidents/2024-05-14/database-primary-failover-and-re";

	CHECK(M("Hello, world", X) == 12);
	CHECK(M("日本語", X) == 6 && M("한국어", X) == 6);
	CHECK(M("Привет", X) == 6 && M("ελληνικά", X) == 8); /* below U+1100: weight 1 */
	CHECK(M("\u2014\u2019\u2032", X) == 3);              /* dashes, quotes, primes: 1 */
	CHECK(M("\u2026", X) == 2 && M("€", X) == 2);
	/* Emoji: 2 each, however many code points. */
	CHECK(M("😀", X) == 2);
	CHECK(M("👨\u200D👩\u200D👧", X) == 2);
	CHECK(M("🇫🇷", X) == 2 && M("👍🏽", X) == 2 && M("❤\uFE0F", X) == 2 && M("1\uFE0F\u20E3", X) == 2);
	CHECK(M("🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", X) == 2);
	CHECK(M("ok 👍🏽 ok", X) == 8);
	/* Every URL is 23, whatever its length. */
	CHECK(M(url80, BYTES) == 80 && M(url80, X) == 23);
	CHECK(M("See https://a.io/x.", X) == 4 + 23 + 1);
	/* Bare domains are links on X. */
	CHECK(M("db1.example.com", X) == 23);
	CHECK(M("host db1.example.com is down", X) == 5 + 23 + 8);
	/* Not links: a file name, an e-mail's domain, a version. */
	CHECK(M("config.yaml", X) == 11);
	CHECK(M("ops@example.com", X) == 15);
	CHECK(M("v1.2.3", X) == 6);
	/* Not surely a link (no public domain): the larger of 23 and its length. */
	CHECK(M("http://localhost:9093/", X) == 23);
	CHECK(M("http://alertmanager.monitoring.internal:9093/#/alerts", X) == 53);
}

static void test_mastodon(void)
{
	static const char url80[] = "https://status.example.com/incidents/2024-05-14/database-primary-failover-and-re";
	static const char *const ends[] = {".", ",", ";", ":", "!", "?", ")", "\"", "'", "…"};

	CHECK(M(url80, MASTODON) == 23 && M(url80, GRAPHEMES) == 80);
	CHECK(M("Resolved: ", MASTODON) + 23 == M("Resolved: https://status.example.com/i/3", MASTODON));
	CHECK(M("HTTPS://STATUS.EXAMPLE.COM/I/3", MASTODON) == 23);
	/* Trailing punctuation is not part of the link. */
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		char s[128];

		snprintf(s, sizeof(s), "%s%s", url80, ends[i]);
		CHECK(M(s, MASTODON) == 24);
	}
	CHECK(M("(see https://example.com/a/b)", MASTODON) == 5 + 23 + 1);
	CHECK(M("https://example.com/a, https://example.org/b", MASTODON) == 23 + 2 + 23);
	/* Emoji count as graphemes around a link. */
	CHECK(M("🔥 https://example.com/a 🇫🇷", MASTODON) == 1 + 1 + 23 + 1 + 1);
	/* Only http(s) links, and not inside a word. */
	CHECK(M("db1.example.com", MASTODON) == 15);
	CHECK(M("xhttps://example.com/aaaaaaaaaaaaaaaaaaaaaaaa", MASTODON) == 45);
	CHECK(M("ftp://example.com/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", MASTODON) == 47);
	/* A link Mastodon might not take for one counts at least its own length. */
	CHECK(M("http://10.0.0.1:9093/#/alerts?silenced=false&inhibited=false", MASTODON) == 60);
	CHECK(M("http://localhost/", MASTODON) == 23);
}

/* text_fit returns exactly want. */
static void check_fit(const char *s, crier_measure m, size_t limit, const char *keep, const char *want)
{
	char *r = text_fit(s, m, limit, keep);

	CHECK_STR(r, want);
	if (r && want && strcmp(r, want) != 0)
		fprintf(stderr, "  (fitting \"%s\" into %zu of measure %d)\n", s, limit, (int)m);
	free(r);
}

static void test_fit_cases(void)
{
	static const char disk[] = "Disk full on db1. Details: https://s.example.com/i/3";
	static const char family[] = "👨\u200D👩\u200D👧👨\u200D👩\u200D👧👨\u200D👩\u200D👧";
	char *r;

	/* Fits: an unchanged copy. */
	r = text_fit("short", CRIER_MEASURE_BYTES, 5, NULL);
	CHECK_STR(r, "short");
	free(r);
	check_fit("", CRIER_MEASURE_GSM7, 0, NULL, "");
	/* Cut at the last word boundary with room for the ellipsis. */
	check_fit("The database is down again", CRIER_MEASURE_GRAPHEMES, 15, NULL, "The database" ELLIPSIS);
	check_fit("The database is down again", CRIER_MEASURE_GRAPHEMES, 16, NULL, "The database is" ELLIPSIS);
	/* Trailing punctuation and dashes go before the ellipsis. */
	check_fit("Alert: CPU high, memory low, disk ok", CRIER_MEASURE_CODEPOINTS, 20, NULL,
	          "Alert: CPU high" ELLIPSIS);
	check_fit("Paris \u2014 Lyon \u2014 Nice", CRIER_MEASURE_CODEPOINTS, 14, NULL, "Paris \u2014 Lyon" ELLIPSIS);
	check_fit("Cause: unknown", CRIER_MEASURE_BYTES, 12, NULL, "Cause" ELLIPSIS);
	/* "…" is one UTF-16 unit, three bytes. */
	check_fit("aaaa bbbb cccc", CRIER_MEASURE_UTF16, 10, NULL, "aaaa bbbb" ELLIPSIS);
	check_fit("aaaa bbbb cccc", CRIER_MEASURE_BYTES, 11, NULL, "aaaa" ELLIPSIS);

	/* keep leaves its place (with the space before it) and ends the text. */
	CHECK(M(disk, MASTODON) == 50);
	check_fit(disk, CRIER_MEASURE_MASTODON, 40, "https://s.example.com/i/3",
	          "Disk full on" ELLIPSIS " https://s.example.com/i/3");
	check_fit(disk, CRIER_MEASURE_MASTODON, 42, "https://s.example.com/i/3",
	          "Disk full on db1." ELLIPSIS " https://s.example.com/i/3");
	check_fit("Incident https://s.example.com/i/3 is resolved and all is fine", CRIER_MEASURE_X, 46,
	          "https://s.example.com/i/3", "Incident is resolved" ELLIPSIS " https://s.example.com/i/3");
	check_fit("https://s.example.com/i/3 Disk full on db1 and more words", CRIER_MEASURE_MASTODON, 40,
	          "https://s.example.com/i/3", "Disk full on" ELLIPSIS " https://s.example.com/i/3");
	/* Moving keep to the end can be enough. */
	check_fit("Disk full:\n\n\n\n\nhttps://s.example.com/i/3", CRIER_MEASURE_BYTES, 39, "https://s.example.com/i/3",
	          "Disk full: https://s.example.com/i/3");
	/* keep must stand alone: not the start of a longer link. */
	check_fit("See https://s.example.com/i/35 now", CRIER_MEASURE_BYTES, 20, "https://s.example.com/i/3",
	          "See" ELLIPSIS);
	/* Not found: just cut. */
	check_fit("Disk full on db1 and db2", CRIER_MEASURE_BYTES, 16, "https://elsewhere.example/",
	          "Disk full on" ELLIPSIS);
	/* Only the ellipsis and keep fit: nothing before them. */
	check_fit(disk, CRIER_MEASURE_MASTODON, 25, "https://s.example.com/i/3", ELLIPSIS " https://s.example.com/i/3");
	/* Not even that: NULL. */
	r = text_fit(disk, CRIER_MEASURE_MASTODON, 24, "https://s.example.com/i/3");
	CHECK(r == NULL);
	r = text_fit("Disk full", CRIER_MEASURE_GSM7, 2, NULL);
	CHECK(r == NULL);
	r = text_fit("Disk full on db1 and db2 `x`", CRIER_MEASURE_GSM7, 20, "`x`");
	CHECK(r == NULL); /* keep itself is not GSM-7 */
	r = text_fit("Disk full on db1", CRIER_MEASURE_GSM7, 10, "ça");
	CHECK_STR(r, "Disk..."); /* ça is not in the text */
	free(r);

	/* A word longer than the room is cut inside, at a cluster boundary. */
	check_fit("Supercalifragilisticexpialidocious", CRIER_MEASURE_GRAPHEMES, 10, NULL, "Supercali" ELLIPSIS);
	check_fit("Ze\u0301ro-downtime deploy failed", CRIER_MEASURE_CODEPOINTS, 4, NULL, "Ze\u0301" ELLIPSIS);
	check_fit(family, CRIER_MEASURE_UTF16, 12, NULL, "👨\u200D👩\u200D👧" ELLIPSIS);
	check_fit(family, CRIER_MEASURE_BYTES, 40, NULL, "👨\u200D👩\u200D👧👨\u200D👩\u200D👧" ELLIPSIS);
	check_fit("🇫🇷🇩🇪🇮🇹🇪🇸", CRIER_MEASURE_CODEPOINTS, 6, NULL, "🇫🇷🇩🇪" ELLIPSIS);
	/* Text without spaces: any boundary between ideographs is a word boundary. */
	check_fit("東京リージョンで障害が発生しています", CRIER_MEASURE_X, 17, NULL, "東京リージョン" ELLIPSIS);
	/* A link is never cut: it goes whole. */
	check_fit("https://status.example.com/incidents/42 is down", CRIER_MEASURE_BYTES, 20, NULL, ELLIPSIS);
	check_fit("See https://status.example.com/incidents/42", CRIER_MEASURE_CODEPOINTS, 30, NULL, "See" ELLIPSIS);
	/* Invalid UTF-8 is never cut inside a bad sequence. */
	check_fit("\xF0\x9F\x98\xF0\x9F\x98\xF0\x9F\x98", CRIER_MEASURE_BYTES, 7, NULL, "\xF0\x9F\x98" ELLIPSIS);
	check_fit("ab\xE2\x82 cd ef", CRIER_MEASURE_CODEPOINTS, 5, NULL, "ab\xE2\x82" ELLIPSIS);
	r = text_fit("abc", (crier_measure)42, 10, NULL);
	CHECK(r == NULL);
	r = text_fit(NULL, CRIER_MEASURE_BYTES, 10, NULL);
	CHECK(r == NULL);
}

static int trimmable_at(const char *s, size_t *len)
{
	if (*s && strchr(" ,;:-\n", *s)) {
		*len = 1;
		return 1;
	}
	if (strncmp(s, "\u2013", 3) == 0 || strncmp(s, "\u2014", 3) == 0) {
		*len = 3;
		return 1;
	}
	return 0;
}

/* rest[0..end) without trailing spaces and punctuation. */
static size_t trim_end(const char *rest, size_t end)
{
	size_t last = 0, n;

	for (size_t p = 0; p < end; p += n) {
		n = 1;
		if (!trimmable_at(rest + p, &n))
			last = p + n;
	}
	return last;
}

static size_t measure_parts(crier_measure m, const char *body, size_t n, const char *ell, const char *keep)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%.*s%s%s%s", (int)n, body, ell, keep && n + strlen(ell) ? " " : "",
	         keep ? keep : "");
	return text_measure(buf, m);
}

/*
 * Every promise of text_fit for one text, measure and limit: the result
 * measures at most limit; keep ends it whole; what comes before the
 * ellipsis is the text without keep, cut at a word boundary, and the next
 * word would not have fitted; NULL only when the ellipsis and keep alone do
 * not fit.
 */
static void check_fit_promises(const char *s, const char *keep, crier_measure m, size_t limit)
{
	const char *ell = m == CRIER_MEASURE_GSM7 ? "..." : ELLIPSIS;
	const char *found = keep ? strstr(s, keep) : NULL;
	char rest[1024], *r = text_fit(s, m, limit, keep);
	size_t units = text_measure(s, m), len, body, p, next;
	int ok = 1;

	if (found) { /* the tests' keep follows one space, or starts the text */
		size_t before = (size_t)(found - s);
		const char *after = found + strlen(keep);

		if (before == 0)
			after += strspn(after, " ");
		snprintf(rest, sizeof(rest), "%.*s%s", (int)(before ? before - 1 : 0), s, after);
	} else {
		snprintf(rest, sizeof(rest), "%s", s);
		keep = NULL;
	}
	if (units != SIZE_MAX && units <= limit) {
		CHECK_STR(r, s);
		free(r);
		return;
	}
	if (!r) {
		CHECK(measure_parts(m, "", 0, ell, keep) > limit);
		return;
	}
	len = strlen(r);
	ok &= text_measure(r, m) <= limit && valid_utf8(r);
	if (keep) {
		size_t k = strlen(keep);

		ok &= len >= k && strcmp(r + len - k, keep) == 0;
		len = len >= k ? len - k : 0;
		if (len > 0) {
			ok &= r[len - 1] == ' ';
			len--;
		}
	}
	if (len >= strlen(ell) && strncmp(r + len - strlen(ell), ell, strlen(ell)) == 0) {
		body = len - strlen(ell);
	} else {
		/* Not cut: only moving keep. */
		body = strlen(rest);
		while (body > 0 && rest[body - 1] == ' ')
			body--;
		ok &= keep != NULL && len == body;
	}
	ok &= strncmp(r, rest, body) == 0;
	/* At a word boundary: only punctuation and spaces, one space at least,
	 * between the cut and the next word (or the end); or, when no word fits,
	 * inside the first word. */
	for (p = body, len = 0; rest[p] && trimmable_at(rest + p, &len); p += len)
		;
	if (rest[p] && !memchr(rest + body, ' ', p - body)) {
		ok &= memchr(rest, ' ', body) == NULL;
		/* The first word does not fit whole. */
		next = strcspn(rest, " ");
	} else {
		/* The next word does not fit. */
		next = p + strcspn(rest + p, " ");
	}
	if (next < strlen(rest))
		ok &= measure_parts(m, rest, trim_end(rest, next), ell, keep) > limit;
	CHECK(ok);
	if (!ok)
		fprintf(stderr, "  fit(\"%s\", %d, %zu) = \"%s\"\n", s, (int)m, limit, r);
	free(r);
}

static void test_fit_promises(void)
{
	static const struct {
		const char *text, *keep;
	} texts[] = {
	    {"Database primary db1.example.com is down since 09:12 UTC, replicas are read-only; writes fail for "
	     "every customer in eu-west. Details: https://status.example.com/incidents/2024-05-14-db1 and updates "
	     "every 15 minutes.",
	     "https://status.example.com/incidents/2024-05-14-db1"},
	    {"Élevée: la latence de l'API dépasse 2 s à Paris depuis 10 h 05 \u2014 l'équipe enquête, prochaine "
	     "mise à jour à 10 h 30. https://status.example.com/i/7",
	     "https://status.example.com/i/7"},
	    {"🔥 Incident: 👨\u200D👩\u200D👧 family app down, "
	     "🇫🇷 users affected 👍🏽 fix rolling out now - ETA 20 min "
	     "🙏 https://status.example.com/i/9",
	     "https://status.example.com/i/9"},
	    {"https://status.example.com/i/12 Checkout latency over 2 s for 5% of requests; payments provider "
	     "degraded, retries in place, no data lost so far, next update 14:30",
	     "https://status.example.com/i/12"},
	    {"Resolved: the certificate for api.example.com was renewed and every check is green again; we are "
	     "sorry for the 14 minutes of errors",
	     NULL},
	    {"Maintenance window tonight 22:00-23:00 CET, short interruptions of the dashboard possible",
	     "https://nowhere.example/x"},
	    {"Supercalifragilisticexpialidocious-outage-of-the-whole-region-continues and more", NULL},
	};

	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
		for (size_t i = 0; i < N_MEASURES; i++)
			for (size_t limit = 0; limit <= 200; limit++)
				check_fit_promises(texts[t].text, texts[t].keep, all_measures[i], limit);
}

/* text_utf8_copy: a plugin's reason, bound for JSON, kept valid UTF-8. */
static void test_utf8_copy(void)
{
	static const char *const cases[][2] = {
	    {"HTTP 400", "HTTP 40"},            /* cut to the buffer */
	    {"req\xeate", "req?te"},            /* Latin-1 */
	    {"abcde\xc3\xa9", "abcde\xc3\xa9"}, /* fits whole */
	    {"abcdef\xc3\xa9", "abcdef"},       /* never half a character */
	    {"ab\xe2\x82", "ab??"},             /* a truncated sequence */
	    {"\xed\xa0\x80", "???"},            /* a surrogate */
	};
	char out[8];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		text_utf8_copy(out, sizeof(out), cases[i][0]);
		CHECK_STR(out, cases[i][1]);
	}
	text_utf8_copy(out, sizeof(out), NULL);
	CHECK_STR(out, "");
}

int main(void)
{
	test_bytes_codepoints_utf16();
	test_invalid_utf8();
	test_gsm7();
	test_graphemes();
	test_x();
	test_mastodon();
	test_fit_cases();
	test_fit_promises();
	test_utf8_copy();
	return check_summary("test_text");
}
