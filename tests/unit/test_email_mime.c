/* The email plugin's message builder (plugins/email/mime.c, compiled in):
 * encoded-words, folding, addresses, quoted-printable and base64 against
 * decoders written here, and that no text can add a header line. */
#include "check.h"

#include "../../plugins/email/mime.c"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decoders, written independently of the encoders ---- */

/* RFC 4648, table 1. */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(char c)
{
	const char *p = strchr(b64, c);
	return c && p ? (int)(p - b64) : -1;
}

/* Base64 text (no line breaks) to bytes; returns the length or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out)
{
	long len = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++)
			v[k] = s[i + k] == '=' ? 0 : b64_val(s[i + k]);
		if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
			return -1;
		unsigned long w = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 | (unsigned long)v[2] << 6 |
		                  (unsigned long)v[3];
		out[len++] = (unsigned char)(w >> 16);
		if (s[i + 2] != '=')
			out[len++] = (unsigned char)(w >> 8);
		if (s[i + 3] != '=')
			out[len++] = (unsigned char)w;
	}
	return len;
}

/* Quoted-printable to text; NULL when malformed. */
static char *qp_decode(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	while (out && *s) {
		if (*s == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 3;
		} else if (*s == '=') {
			const char *h1 = strchr(hex, s[1]), *h2 = strchr(hex, s[2]);
			if (!s[1] || !s[2] || !h1 || !h2) {
				free(out);
				return NULL;
			}
			*o++ = (char)((h1 - hex) << 4 | (h2 - hex));
			s += 3;
		} else {
			*o++ = *s++;
		}
	}
	if (out)
		*o = '\0';
	return out;
}

/* Every line of s (CRLF separated) is at most max characters, and there
 * is no CR or LF outside a CRLF pair. */
static int lines_within(const char *s, size_t max)
{
	size_t col = 0;

	for (; *s; s++) {
		if (*s == '\r' && s[1] == '\n') {
			col = 0;
			s++;
		} else if (*s == '\r' || *s == '\n') {
			return 0;
		} else if (++col > max) {
			return 0;
		}
	}
	return 1;
}

/* A header field as Python's email package would see it: unfolded, then
 * its value decoded (all encoded-words, or plain text). new, or NULL. */
static char *header_value(const char *field, const char *name)
{
	size_t nl = strlen(name), n = strlen(field);
	char *unf = malloc(n + 1), *out = malloc(n + 1);
	size_t u = 0, o = 0;
	const char *p;

	if (!unf || !out || strncmp(field, name, nl) != 0 || strncmp(field + nl, ": ", 2) != 0 || n < nl + 4 ||
	    strcmp(field + n - 2, "\r\n") != 0)
		goto bad;
	for (size_t i = nl + 2; i < n - 2; i++) {
		if (field[i] == '\r') {
			if (field[i + 1] != '\n' || field[i + 2] != ' ')
				goto bad; /* a line break that is not a fold: a new header */
			i++;
			continue;
		}
		if (field[i] == '\n')
			goto bad;
		unf[u++] = field[i];
	}
	unf[u] = '\0';
	/* Tokens are separated by single spaces; the space between two
	 * encoded-words is not text (RFC 2047 §6.2). */
	int prev = -1;
	for (p = unf; *p;) {
		size_t w = strcspn(p, " ");
		int ew = w >= 12 && strncmp(p, "=?UTF-8?B?", 10) == 0 && strncmp(p + w - 2, "?=", 2) == 0;
		if (prev >= 0 && !(prev && ew))
			out[o++] = ' ';
		if (ew) {
			long got;
			if (w > EW_MAX)
				goto bad;
			got = b64_decode(p + 10, w - 12, (unsigned char *)out + o);
			if (got < 0)
				goto bad;
			out[o + (size_t)got] = '\0'; /* utf8_char stops there */
			/* Whole characters in each word (RFC 2047 §5). */
			for (long k = 0; k < got;) {
				unsigned long cp;
				size_t c = utf8_char((const unsigned char *)out + o + k, &cp);
				if (c == 0 || k + (long)c > got)
					goto bad;
				k += (long)c;
			}
			o += (size_t)got;
		} else {
			memcpy(out + o, p, w);
			o += w;
		}
		prev = ew;
		p += w;
		if (*p == ' ')
			p++;
	}
	out[o] = '\0';
	free(unf);
	return out;
bad:
	free(unf);
	free(out);
	return NULL;
}

static char *header(const char *name, const char *text)
{
	mime_buf b = {0};
	mime_header_text(&b, name, text);
	return buf_take(&b);
}

static char *address_header(const char *name, const char *text)
{
	mime_address a;
	char err[128];
	mime_buf b = {0};

	if (mime_address_parse(text, &a, err, sizeof(err)) != 0)
		return NULL;
	mime_header_address(&b, name, &a);
	mime_address_free(&a);
	return buf_take(&b);
}

/* ---- tests ---- */

static void test_clean_text(void)
{
	char *s;

	s = mime_clean_text("  API\r\nBcc: evil@example.com\t\tdown  ");
	CHECK_STR(s, "API Bcc: evil@example.com down");
	free(s);
	/* C1 NEL, U+2028, DEL, and a lone continuation byte. */
	s = mime_clean_text("a\xC2\x85"
	                    "b\xE2\x80\xA8"
	                    "c\x7f"
	                    "d\x80"
	                    "e");
	CHECK_STR(s, "a b c d\xEF\xBF\xBD"
	             "e");
	free(s);
	s = mime_clean_text("\r\n\t ");
	CHECK_STR(s, "");
	free(s);
	/* Overlong '/' and a surrogate are invalid. */
	s = mime_clean_text("\xC0\xAF\xED\xA0\x80");
	CHECK_STR(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	free(s);
}

static void test_header_ascii(void)
{
	const char *long_title = "[crier #3] API 5xx above 5% on every frontend in the eu-west-1 region, "
	                         "checkout and search degraded for most customers";
	char *h, *v;

	h = header("Subject", "[crier #3] API 5xx above 5%");
	CHECK_STR(h, "Subject: [crier #3] API 5xx above 5%\r\n");
	free(h);

	h = header("Subject", long_title);
	CHECK(h && lines_within(h, MIME_LINE_SOFT));
	CHECK(h && strstr(h, "\r\n ") != NULL); /* it was folded */
	CHECK(h && strstr(h, "=?") == NULL);    /* plain ASCII stays readable */
	v = h ? header_value(h, "Subject") : NULL;
	CHECK_STR(v, long_title);
	free(v);
	free(h);

	/* Text that looks like an encoded-word is encoded, or it would be decoded. */
	h = header("Subject", "=?UTF-8?B?ZXZpbA==?=");
	CHECK(h && strncmp(h, "Subject: =?UTF-8?B?", 19) == 0);
	CHECK(h && strstr(h, "ZXZpbA==?=\r\n") == NULL);
	v = h ? header_value(h, "Subject") : NULL;
	CHECK_STR(v, "=?UTF-8?B?ZXZpbA==?=");
	free(v);
	free(h);

	/* A word longer than a line goes out as encoded-words, so lines stay short. */
	char word[301];
	memset(word, 'x', 300);
	word[300] = '\0';
	h = header("Subject", word);
	CHECK(h && lines_within(h, MIME_LINE_SOFT));
	v = h ? header_value(h, "Subject") : NULL;
	CHECK_STR(v, word);
	free(v);
	free(h);
}

static void test_header_encoded(void)
{
	const char *t = "[crier #3] API 5xx above 5% \xE2\x80\x94 investigating";
	const char *cjk = "\xE6\x94\xAF\xE4\xBB\x98\xE6\x9C\x8D\xE5\x8A\xA1\xE6\x95\x85\xE9\x9A\x9C\xEF\xBC\x9A"
	                  "\xE7\x94\xA8\xE6\x88\xB7\xE6\x97\xA0\xE6\xB3\x95\xE7\x99\xBB\xE5\xBD\x95\xE3\x80\x81"
	                  "\xE4\xB8\x8B\xE5\x8D\x95\xE5\x92\x8C\xE6\x9F\xA5\xE8\xAF\xA2\xE8\xAE\xA2\xE5\x8D\x95"
	                  "\xE7\x8A\xB6\xE6\x80\x81\xEF\xBC\x8C\xE8\xAF\xB7\xE5\xB0\xBD\xE5\xBF\xAB\xE5\xA4\x84"
	                  "\xE7\x90\x86 \xF0\x9F\x94\xA5\xF0\x9F\x94\xA5";
	char *h, *v;

	/* Only the word that needs it is encoded. */
	h = header("Subject", t);
	CHECK_STR(h, "Subject: [crier #3] API 5xx above 5% =?UTF-8?B?4oCU?= investigating\r\n");
	CHECK(h && lines_within(h, MIME_LINE_SOFT));
	v = h ? header_value(h, "Subject") : NULL;
	CHECK_STR(v, t);
	free(v);
	free(h);

	/* Several words, none splitting a character (checked in header_value). */
	h = header("Subject", cjk);
	CHECK(h && lines_within(h, MIME_LINE_SOFT));
	CHECK(h && strstr(h, "?=\r\n =?UTF-8?B?") != NULL);
	v = h ? header_value(h, "Subject") : NULL;
	CHECK_STR(v, cjk);
	free(v);
	free(h);
}

static void test_no_injection(void)
{
	const char *evil[] = {
	    "API down\r\nBcc: evil@example.com",
	    "API down\nBcc: evil@example.com",
	    "API down\rBcc: evil@example.com",
	    "\r\n\r\nbody injected",
	    "Zo\xC3\xAB\r\nBcc: evil@example.com",
	    "a\xE2\x80\xA8"
	    "Bcc: evil@example.com",
	};
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		char *h = header("Subject", evil[i]);
		char *v = h ? header_value(h, "Subject") : NULL;
		char *clean = mime_clean_text(evil[i]);
		CHECK(h && lines_within(h, MIME_LINE_SOFT));
		/* One field: its only line breaks are folds, and it ends once. */
		CHECK(v != NULL);
		CHECK(h && strstr(h, "\r\nBcc") == NULL);
		CHECK_STR(v, clean);
		free(clean);
		free(v);
		free(h);
	}
}

static void test_addresses(void)
{
	mime_address a;
	char err[160], *h, *v;

	CHECK(mime_address_parse("Jane Doe <jane@example.com>", &a, err, sizeof(err)) == 0);
	CHECK_STR(a.display, "Jane Doe");
	CHECK_STR(a.addr, "jane@example.com");
	mime_address_free(&a);
	CHECK(mime_address_parse("  \"Doe, Jane \\\"JD\\\"\"  <jane.doe+ops@mail.example.com> ", &a, err,
	                         sizeof(err)) == 0);
	CHECK_STR(a.display, "Doe, Jane \"JD\"");
	CHECK_STR(a.addr, "jane.doe+ops@mail.example.com");
	mime_address_free(&a);
	CHECK(mime_address_parse("ops@example.com", &a, err, sizeof(err)) == 0);
	CHECK_STR(a.display, "");
	CHECK_STR(a.addr, "ops@example.com");
	CHECK_STR(mime_address_domain(a.addr), "example.com");
	mime_address_free(&a);

	const char *bad[] = {"jane",
	                     "a@b@c.com",
	                     "<>",
	                     "Jane <jane@example.com",
	                     "Jane jane@example.com>",
	                     "jane@example.com\r\nBcc: evil@example.com",
	                     "Jane <jane@example.com>\nBcc: x@y.z",
	                     ".jane@example.com",
	                     "jane..doe@example.com",
	                     "jane@-",
	                     "jane@exa mple.com",
	                     "\"quoted local\"@example.com",
	                     "jane@[127.0.0.1]",
	                     ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = mime_address_parse(bad[i], &a, err, sizeof(err));
		CHECK(rc == -1);
		if (rc == 0)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(strstr(err, "jane") == NULL && strstr(err, "evil") == NULL); /* no quoting of the input */
		mime_address_free(&a);
	}

	static const char *const formatted[][3] = {
	    {"From", "crier <alerts@status.example.com>", "From: \"crier\" <alerts@status.example.com>\r\n"},
	    {"To", "oncall@example.com", "To: oncall@example.com\r\n"},
	    {"From", "\"Ops \\\\ \\\"night\\\"\" <ops@example.com>",
	     "From: \"Ops \\\\ \\\"night\\\"\" <ops@example.com>\r\n"},
	    {"From", "Zo\xC3\xAB Status <status@example.com>",
	     "From: =?UTF-8?B?Wm/DqyBTdGF0dXM=?= <status@example.com>\r\n"},
	};
	for (size_t i = 0; i < sizeof(formatted) / sizeof(formatted[0]); i++) {
		h = address_header(formatted[i][0], formatted[i][1]);
		CHECK_STR(h, formatted[i][2]);
		free(h);
	}
	/* A long display name folds, and the address stays whole. */
	h = address_header("To", "The Site Reliability Engineering Team of the Payments Platform Group "
	                         "<sre-payments-platform@example.com>");
	CHECK(h && lines_within(h, MIME_LINE_SOFT));
	CHECK(h && strstr(h, "\r\n <sre-payments-platform@example.com>\r\n") != NULL);
	free(h);
	h = address_header("To", "\xE6\x94\xAF\xE4\xBB\x98\xE5\x9B\xA2\xE9\x98\x9F\xE6\x94\xAF\xE4\xBB\x98\xE5\x9B\xA2"
	                         "\xE9\x98\x9F\xE6\x94\xAF\xE4\xBB\x98\xE5\x9B\xA2\xE9\x98\x9F\xE6\x94\xAF\xE4\xBB\x98"
	                         "\xE5\x9B\xA2\xE9\x98\x9F <team@example.com>");
	CHECK(h && lines_within(h, MIME_LINE_SOFT));
	v = h ? strstr(h, "<team@example.com>\r\n") : NULL;
	CHECK(v != NULL);
	free(h);
}

static void test_ids_and_domains(void)
{
	CHECK(mime_msgid_valid("<crier.inc-3.e17.0123456789abcdef@example.com>"));
	CHECK(mime_msgid_valid("<a@b>"));
	CHECK(!mime_msgid_valid("crier.inc-3@example.com"));
	CHECK(!mime_msgid_valid("<crier inc@example.com>"));
	CHECK(!mime_msgid_valid("<crier@example.com>\r\nBcc: x@y.z"));
	CHECK(!mime_msgid_valid("<crier@ex@ample.com>"));
	CHECK(!mime_msgid_valid("<@example.com>"));
	CHECK(!mime_msgid_valid("<a..b@example.com>"));
	CHECK(mime_domain_valid("mail.example.com"));
	CHECK(!mime_domain_valid("example.com."));
	CHECK(!mime_domain_valid("exa mple.com"));
	CHECK(!mime_domain_valid(""));
	CHECK(mime_hash(MIME_HASH_INIT, "ab") != mime_hash(MIME_HASH_INIT, "ba"));
	CHECK(mime_hash(mime_hash(MIME_HASH_INIT, "ab"), "c") != mime_hash(mime_hash(MIME_HASH_INIT, "a"), "bc"));
}

static void test_date(void)
{
	char d[40];

	mime_date(0, d);
	CHECK_STR(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	mime_date(1503411323999LL, d);
	CHECK_STR(d, "Tue, 22 Aug 2017 14:15:23 +0000");
	mime_date(1782000000500LL, d);
	CHECK_STR(d, "Sun, 21 Jun 2026 00:00:00 +0000");
}

/* text with its line ends made CRLF: what a decoded part must equal. */
static char *crlf(const char *text)
{
	mime_buf b = {0};
	crlf_text(&b, text);
	return buf_take(&b);
}

static void check_qp(const char *text)
{
	mime_buf b = {0};
	char *enc, *dec, *want;

	mime_quoted_printable(&b, text);
	enc = buf_take(&b);
	dec = enc ? qp_decode(enc) : NULL;
	want = crlf(text);
	CHECK(enc && lines_within(enc, QP_LINE));
	CHECK(enc && strstr(enc, " \r\n") == NULL && strstr(enc, "\t\r\n") == NULL);
	CHECK(enc && strstr(enc, "\r\nFrom ") == NULL && strncmp(enc, "From ", 5) != 0);
	CHECK(enc && strstr(enc, "\r\n.") == NULL && enc[0] != '.');
	for (const char *p = enc ? enc : ""; *p; p++)
		CHECK_STR(((unsigned char)*p >= 0x80 || (*p < 0x20 && *p != '\r' && *p != '\n')) ? "raw byte" : "", "");
	CHECK_STR(dec, want);
	free(enc);
	free(dec);
	free(want);
}

static void test_quoted_printable(void)
{
	mime_buf b = {0};
	char *enc;

	mime_quoted_printable(&b, "caf\xC3\xA9 = 5%\n");
	enc = buf_take(&b);
	CHECK_STR(enc, "caf=C3=A9 =3D 5%\r\n");
	free(enc);

	check_qp("");
	check_qp("plain line\nsecond line\r\nthird\rfourth");
	check_qp("trailing space \ntrailing tab\t\n  \n");
	check_qp("From the start\nFrom here\n.\n..dots\n");
	check_qp("a line of exactly seventy-six characters, to sit right on the limit of qp.\n");
	char longline[1000];
	for (size_t i = 0; i < sizeof(longline) - 1; i++)
		longline[i] = "abc= \xC3\xA9"[i % 7];
	longline[sizeof(longline) - 1] = '\0';
	check_qp(longline);
	/* "=" and encoded bytes right at the soft-break column. */
	for (int k = 70; k < 80; k++) {
		char s[100];
		memset(s, 'x', (size_t)k);
		strcpy(s + k, "=\xC3\xA9 y\n");
		check_qp(s);
	}
}

static void test_base64(void)
{
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const out[] = {
	    "", "Zg==\r\n", "Zm8=\r\n", "Zm9v\r\n", "Zm9vYg==\r\n", "Zm9vYmE=\r\n", "Zm9vYmFy\r\n"};
	char big[200];
	mime_buf b = {0};

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		mime_base64(&b, in[i], strlen(in[i]));
		char *s = buf_take(&b);
		CHECK_STR(s, out[i]);
		free(s);
	}
	memset(big, 'a', sizeof(big));
	mime_base64(&b, big, sizeof(big));
	char *s = buf_take(&b);
	CHECK(s && lines_within(s, B64_LINE));
	CHECK(s && strlen(s) > 76 && s[76] == '\r');
	free(s);
}

/* The header block of msg, and a pointer to its body, or NULL. */
static const char *body_of(const char *msg)
{
	const char *p = strstr(msg, "\r\n\r\n");
	return p ? p + 4 : NULL;
}

/* The header field name: ... in the header block (unfolded line start), or NULL. */
static const char *field(const char *msg, const char *name)
{
	size_t n = strlen(name);
	const char *body = body_of(msg);

	for (const char *p = msg; p && p < body; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			return p;
	return NULL;
}

/* The header block holds this exact line (name to CRLF). */
static int field_is(const char *msg, const char *line)
{
	char name[32];
	const char *f;

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(line, ":"), line);
	f = field(msg, name);
	return f && strncmp(f, line, strlen(line)) == 0;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_build(void)
{
	mime_address from, to, reply;
	char err[128];
	size_t len;
	char *msg;

	mime_address_parse("crier <alerts@status.example.com>", &from, err, sizeof(err));
	mime_address_parse("Jane Doe <jane@example.com>", &to, err, sizeof(err));
	mime_address_parse("ops@example.com", &reply, err, sizeof(err));
	mime_message m = {
	    .date_ms = 1782000000000LL,
	    .from = &from,
	    .to = &to,
	    .reply_to = &reply,
	    .subject = "[crier #3] API 5xx above 5% \xE2\x80\x94 investigating\r\nBcc: evil@example.com",
	    .message_id = "<crier.inc-3.e17.0123456789abcdef@status.example.com>",
	    .in_reply_to = "<crier.inc-3.fedcba9876543210@status.example.com>",
	    .text = "New critical incident: API 5xx above 5%.\n\nState  investigating\n",
	    .html = "<p style=\"margin:0\">New <b>critical</b> incident</p>\n",
	};
	msg = mime_build(&m, &len);
	CHECK(msg != NULL);
	if (!msg)
		goto out;
	CHECK(len == strlen(msg));
	CHECK(lines_within(msg, MIME_LINE_SOFT));
	CHECK(strncmp(msg, "Date: Sun, 21 Jun 2026 00:00:00 +0000\r\n", 39) == 0);
	CHECK(field_is(msg, "Reply-To: ops@example.com\r\n"));
	CHECK(field_is(msg, "From: \"crier\" <alerts@status.example.com>\r\n"));
	CHECK(field_is(msg, "To: \"Jane Doe\" <jane@example.com>\r\n"));
	CHECK(field(msg, "Subject") != NULL);
	CHECK(field(msg, "Bcc") == NULL);
	CHECK(strstr(msg, "\r\nMessage-ID: <crier.inc-3.e17.0123456789abcdef@status.example.com>\r\n") != NULL);
	CHECK(strstr(msg, "\r\nIn-Reply-To: <crier.inc-3.fedcba9876543210@status.example.com>\r\n") != NULL);
	CHECK(strstr(msg, "\r\nReferences: <crier.inc-3.fedcba9876543210@status.example.com>\r\n") != NULL);
	CHECK(strstr(msg, "\r\nAuto-Submitted: auto-generated\r\n") != NULL);
	CHECK(strstr(msg, "\r\nMIME-Version: 1.0\r\n") != NULL);
	CHECK(strstr(msg, "\r\nContent-Type: multipart/alternative;\r\n boundary=\"=_crier_") != NULL);
	CHECK(count(msg, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable") ==
	      1);
	CHECK(count(msg, "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable") == 1);
	/* The boundary opens two parts and closes once, and nothing else holds it. */
	{
		const char *b = strstr(msg, "boundary=\"") + 10;
		char delim[64];
		size_t bl = strcspn(b, "\"");
		snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)bl, b);
		CHECK(count(msg, delim) == 3);
		snprintf(delim, sizeof(delim), "\r\n--%.*s--\r\n", (int)bl, b);
		CHECK(strstr(msg, delim) != NULL && strcmp(strstr(msg, delim), delim) == 0);
	}
	CHECK(strstr(msg, "<p style=3D\"margin:0\">New <b>critical</b> incident</p>\r\n") != NULL);
	free(msg);

	/* No thread: no In-Reply-To or References; no Reply-To. */
	m.in_reply_to = NULL;
	m.reply_to = NULL;
	/* Mostly CJK text goes out as base64, which is smaller. */
	m.text = "\xE6\x94\xAF\xE4\xBB\x98\xE6\x9C\x8D\xE5\x8A\xA1\xE6\x95\x85\xE9\x9A\x9C\n";
	msg = mime_build(&m, &len);
	CHECK(msg && field(msg, "In-Reply-To") == NULL && field(msg, "References") == NULL);
	CHECK(msg && field(msg, "Reply-To") == NULL);
	CHECK(msg && strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	                         "5pSv5LuY5pyN5Yqh5pWF6ZqcDQo=\r\n--=_crier_") != NULL);
	free(msg);

	/* A subscriber's mail: List-Unsubscribe (on a line of its own when
	 * long) and RFC 8058's one-click POST; a URL that could break the
	 * header is refused. */
	m.list_unsubscribe = "https://status.example.com/api/v1/unsubscribe?t=AbCdEfGhIjKlMnOpQrStUv";
	msg = mime_build(&m, &len);
	CHECK(msg && lines_within(msg, MIME_LINE_SOFT));
	CHECK(msg && strstr(msg, "\r\nList-Unsubscribe:\r\n <https://status.example.com/api/v1/unsubscribe?t="
	                         "AbCdEfGhIjKlMnOpQrStUv>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
	free(msg);
	m.list_unsubscribe = "https://s.example/u?t=1";
	msg = mime_build(&m, &len);
	CHECK(msg && strstr(msg, "\r\nList-Unsubscribe: <https://s.example/u?t=1>\r\n"));
	free(msg);
	static const char *const bad_urls[] = {"https://x.example/u?t=1>\r\nBcc: evil@example.com",
	                                       "mailto:x@example.com", "https://x.example/a b",
	                                       "https://x.example/\xc3\xa4", NULL};
	for (int i = 0; bad_urls[i]; i++) {
		m.list_unsubscribe = bad_urls[i];
		CHECK(mime_build(&m, &len) == NULL);
	}
	m.list_unsubscribe = NULL;

	/* Malformed ids are refused, never written. */
	m.message_id = "<a@b>\r\nBcc: evil@example.com";
	CHECK(mime_build(&m, &len) == NULL);
	m.message_id = "<a@b>";
	m.in_reply_to = "not an id";
	CHECK(mime_build(&m, &len) == NULL);
out:
	mime_address_free(&from);
	mime_address_free(&to);
	mime_address_free(&reply);
}

/* Random text with line breaks, controls, multibyte characters and "=?":
 * the header is always one well-folded field that decodes to the cleaned text. */
static void test_random_headers(void)
{
	static const char *const pieces[] = {"a",    "Z",    " ",        "  ",           "\r",
	                                     "\n",   "\r\n", "\t",       "=?",           "?=",
	                                     ":",    "\"",   "\xC3\xA9", "\xE2\x80\x94", "\xF0\x9F\x94\xA5",
	                                     "\x01", "\x7f", "\xC2\x85", "\xFF",         "Bcc: evil@example.com",
	                                     "word"};
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	int bad = 0;

	for (int iter = 0; iter < 3000; iter++) {
		char s[600] = "";
		size_t n = 0;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int parts = (int)(x % 60);
		for (int k = 0; k < parts; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			const char *p = pieces[x % (sizeof(pieces) / sizeof(pieces[0]))];
			if (n + strlen(p) + 1 < sizeof(s)) {
				strcat(s, p);
				n += strlen(p);
			}
		}
		char *h = header("Subject", s);
		char *v = h ? header_value(h, "Subject") : NULL;
		char *clean = mime_clean_text(s);
		if (!h || !v || !clean || strcmp(v, clean) != 0 || !lines_within(h, MIME_LINE_SOFT))
			bad++;
		free(h);
		free(v);
		free(clean);
	}
	CHECK(bad == 0);
}

int main(void)
{
	test_clean_text();
	test_header_ascii();
	test_header_encoded();
	test_no_injection();
	test_addresses();
	test_ids_and_domains();
	test_date();
	test_quoted_printable();
	test_base64();
	test_build();
	test_random_headers();
	return check_summary("test_email_mime");
}
