/*
 * Message building for the email plugin (see mime.h).
 *
 * Header values are made of ASCII tokens separated by single spaces before
 * they are folded: words of plain text, RFC 2047 encoded-words (sized so
 * each fits a line of its own), a quoted display name and an <addr-spec>.
 * Folding then only ever breaks at those spaces, which is where RFC 5322
 * allows a CRLF, and never inside a token.
 */
#include "mime.h"

#include <crier/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RFC 2047 §2: an encoded-word is at most 75 characters. */
#define EW_MAX      75
#define EW_OVERHEAD 12 /* "=?UTF-8?B?" and "?=" */
/* RFC 2045 §6.7: quoted-printable lines are at most 76 characters. */
#define QP_LINE 76
/* RFC 2045 §6.8: base64 lines are at most 76 characters. */
#define B64_LINE  76
#define MSGID_MAX 250

static const char hex[] = "0123456789ABCDEF";

/* ---- buffer ---- */

void mime_buf_add(mime_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void mime_buf_str(mime_buf *b, const char *s)
{
	mime_buf_add(b, s, strlen(s));
}

void mime_buf_free(mime_buf *b)
{
	free(b->p);
	*b = (mime_buf){0};
}

/* The buffer's string, handed over (new); NULL if anything failed. */
static char *buf_take(mime_buf *b)
{
	char *p;

	mime_buf_add(b, "", 0); /* an empty buffer still yields "" */
	if (b->failed) {
		mime_buf_free(b);
		return NULL;
	}
	p = b->p;
	*b = (mime_buf){0};
	return p;
}

/* ---- UTF-8 ---- */

/* Length (1-4) of the valid UTF-8 sequence at s, its code point in *cp; 0
 * when s starts an invalid, overlong, surrogate or out-of-range sequence. */
static size_t utf8_char(const unsigned char *s, unsigned long *cp)
{
	unsigned long v, min;
	size_t n;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0) {
		n = 2, v = s[0] & 0x1F, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		n = 3, v = s[0] & 0x0F, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		n = 4, v = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/* Characters that would break a header line or read as one: controls, DEL,
 * and the Unicode line and paragraph separators. */
static int is_break(unsigned long cp)
{
	return cp <= 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

char *mime_clean_text(const char *utf8)
{
	const unsigned char *s = (const unsigned char *)utf8;
	mime_buf b = {0};
	int gap = 0;

	while (*s) {
		unsigned long cp;
		size_t n = utf8_char(s, &cp);
		if (n == 0) {
			cp = 0xFFFD;
			n = 1;
		}
		if (is_break(cp)) {
			gap = b.len > 0;
		} else {
			if (gap)
				mime_buf_add(&b, " ", 1);
			gap = 0;
			if (cp == 0xFFFD)
				mime_buf_add(&b, "\xEF\xBF\xBD", 3);
			else
				mime_buf_add(&b, (const char *)s, n);
		}
		s += n;
	}
	return buf_take(&b);
}

/* ---- header values ---- */

/* Whether a word (n bytes) of cleaned text must go out as encoded-words:
 * it is not ASCII, it holds "=?" (a reader would decode what looks like an
 * encoded-word), or it is longer than room, the columns left for it. */
static int word_needs_encoding(const char *w, size_t n, size_t room)
{
	if (n > room)
		return 1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)w[i] >= 0x80 || (w[i] == '=' && i + 1 < n && w[i + 1] == '?'))
			return 1;
	return 0;
}

/* Whether any word of cleaned text s must; the first has first_room
 * columns, later ones may start a continuation line. */
static int needs_encoding(const char *s, size_t first_room)
{
	size_t room = first_room;

	while (*s) {
		size_t w = strcspn(s, " ");
		if (word_needs_encoding(s, w, room))
			return 1;
		room = MIME_LINE_SOFT - 1;
		s += w;
		s += strspn(s, " ");
	}
	return 0;
}

static void base64_chunk(mime_buf *b, const unsigned char *s, size_t n)
{
	char out[4];

	for (size_t i = 0; i < n; i += 3) {
		crier_base64_quad(out, s + i, n - i < 3 ? n - i : 3);
		mime_buf_add(b, out, 4);
	}
}

/* n bytes of cleaned text s as B encoded-words separated by spaces; each
 * holds whole characters (RFC 2047 §5) and fits its line: the first in
 * first_room columns, the others on a continuation line of their own. */
static void encoded_words(mime_buf *b, const char *s, size_t n, size_t first_room)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t room = first_room < EW_MAX ? first_room : EW_MAX;

	if (room < EW_OVERHEAD + 4) /* a header name too long to share its line: cannot happen with ours */
		room = EW_MAX;
	while (p < end) {
		size_t max = (room - EW_OVERHEAD) / 4 * 3, take = 0;
		while (p + take < end) {
			unsigned long cp;
			size_t c = utf8_char(p + take, &cp);
			if (c == 0)
				c = 1;
			if (take + c > max)
				break;
			take += c;
		}
		if ((const char *)p != s)
			mime_buf_add(b, " ", 1);
		mime_buf_str(b, "=?UTF-8?B?");
		base64_chunk(b, p, take);
		mime_buf_str(b, "?=");
		p += take;
		room = EW_MAX;
	}
}

/* Unstructured text (cleaned) as plain words where they can stay plain, so
 * a subject stays readable, and encoded-words for runs of words that cannot.
 * A run takes its inner spaces into the encoded text: readers drop the
 * white space between two encoded-words (RFC 2047 §6.2). */
static void text_words(mime_buf *v, const char *s, size_t first_room)
{
	size_t room = first_room;

	while (*s) {
		size_t w = strcspn(s, " ");
		const char *end = s + w;
		if (word_needs_encoding(s, w, room)) {
			while (*end == ' ') {
				const char *next = end + 1;
				size_t nw = strcspn(next, " ");
				if (!word_needs_encoding(next, nw, MIME_LINE_SOFT - 1))
					break;
				end = next + nw;
			}
			encoded_words(v, s, (size_t)(end - s), room);
		} else {
			mime_buf_add(v, s, w);
		}
		s = end;
		if (*s == ' ') {
			mime_buf_add(v, " ", 1);
			s++;
		}
		room = MIME_LINE_SOFT - 1;
	}
}

/* "name: value" folded before a space wherever the next token would pass
 * column 78; value is ASCII tokens separated by single spaces. */
static void fold(mime_buf *b, const char *name, const char *value)
{
	size_t col = strlen(name) + 2;
	const char *p = value;

	mime_buf_str(b, name);
	mime_buf_add(b, ": ", 2);
	while (*p) {
		size_t w = strcspn(p, " ");
		if (p != value) {
			if (col + 1 + w > MIME_LINE_SOFT) {
				mime_buf_add(b, "\r\n ", 3);
				col = 1;
			} else {
				mime_buf_add(b, " ", 1);
				col++;
			}
		}
		mime_buf_add(b, p, w);
		col += w;
		p += w;
		p += strspn(p, " ");
	}
	mime_buf_add(b, "\r\n", 2);
}

void mime_header_text(mime_buf *b, const char *name, const char *text)
{
	size_t first_room = MIME_LINE_SOFT - strlen(name) - 2;
	char *clean = mime_clean_text(text);
	mime_buf v = {0};

	if (!clean) {
		b->failed = 1;
		return;
	}
	text_words(&v, clean, first_room);
	mime_buf_add(&v, "", 0); /* "" for an empty subject */
	if (v.failed)
		b->failed = 1;
	else
		fold(b, name, v.p);
	mime_buf_free(&v);
	free(clean);
}

void mime_header_address(mime_buf *b, const char *name, const mime_address *a)
{
	size_t first_room = MIME_LINE_SOFT - strlen(name) - 2;
	mime_buf v = {0};

	if (!a->display[0]) {
		fold(b, name, a->addr);
		return;
	}
	/* A phrase: all encoded-words, or one quoted-string (plain words
	 * would need quoting of their own for "." or ","). */
	if (needs_encoding(a->display, first_room)) {
		encoded_words(&v, a->display, strlen(a->display), first_room);
	} else {
		/* A quoted-string takes any printable ASCII once " and \ are escaped. */
		mime_buf_add(&v, "\"", 1);
		for (const char *p = a->display; *p; p++) {
			if (*p == '"' || *p == '\\')
				mime_buf_add(&v, "\\", 1);
			mime_buf_add(&v, p, 1);
		}
		mime_buf_add(&v, "\"", 1);
	}
	mime_buf_add(&v, " <", 2);
	mime_buf_str(&v, a->addr);
	mime_buf_add(&v, ">", 1);
	if (v.failed)
		b->failed = 1;
	else
		fold(b, name, v.p);
	mime_buf_free(&v);
}

/* ---- addresses and ids ---- */

/* RFC 5322 atext. */
static int is_atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A dot-atom of n bytes made of chars accepted by ok: no empty atom. */
static int dot_atom(const char *s, size_t n, int (*ok)(char))
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!ok(s[i])) {
			return 0;
		}
	}
	return 1;
}

/* Labels of letters, digits, '-' and '_' (seen in real host names), none
 * empty, longer than 63 or with a hyphen at either end. */
int mime_domain_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		           c == '_') {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* addr-spec as dot-atom "@" domain: quoted local parts and address
 * literals are refused, they are never what an operator means. */
static int addr_spec_valid(const char *s)
{
	const char *at = strchr(s, '@');

	if (!at || strchr(at + 1, '@') || at - s > 64 || strlen(s) > 254)
		return 0;
	return dot_atom(s, (size_t)(at - s), is_atext) && mime_domain_valid(at + 1);
}

const char *mime_address_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : addr + strlen(addr);
}

int mime_msgid_valid(const char *s)
{
	size_t n = strlen(s);
	const char *at;

	if (n < 5 || n > MSGID_MAX || s[0] != '<' || s[n - 1] != '>')
		return 0;
	at = memchr(s, '@', n);
	if (!at || memchr(at + 1, '@', (size_t)(s + n - 1 - (at + 1))))
		return 0;
	return dot_atom(s + 1, (size_t)(at - s - 1), is_atext) &&
	       dot_atom(at + 1, (size_t)(s + n - 1 - (at + 1)), is_atext);
}

static int set_err(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

int mime_address_parse(const char *text, mime_address *out, char *err, size_t errlen)
{
	const char *end, *lt = NULL;
	char *addr = NULL, *raw = NULL;
	size_t n;

	*out = (mime_address){0};
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return set_err(err, errlen, "holds a control character");
	while (*text == ' ')
		text++;
	end = text + strlen(text);
	while (end > text && end[-1] == ' ')
		end--;
	if (end > text && end[-1] == '>') {
		for (const char *p = text; p < end; p++)
			if (*p == '<')
				lt = p;
		if (!lt)
			return set_err(err, errlen, "has a '>' without its '<'");
		addr = strndup(lt + 1, (size_t)(end - 1 - (lt + 1)));
		/* The display name: drop one pair of surrounding quotes, unescape. */
		const char *ds = text, *de = lt;
		while (de > ds && de[-1] == ' ')
			de--;
		if (de - ds >= 2 && ds[0] == '"' && de[-1] == '"')
			ds++, de--;
		raw = malloc((size_t)(de - ds) + 1);
		if (raw) {
			n = 0;
			for (const char *p = ds; p < de; p++) {
				if (*p == '\\' && p + 1 < de)
					p++;
				raw[n++] = *p;
			}
			raw[n] = '\0';
		}
	} else {
		addr = strndup(text, (size_t)(end - text));
		raw = strdup("");
	}
	if (!addr || !raw) {
		free(addr);
		free(raw);
		return set_err(err, errlen, "out of memory");
	}
	if (!addr_spec_valid(addr)) {
		free(addr);
		free(raw);
		return set_err(err, errlen,
		               "is not an address like \"user@example.com\" or \"Name <user@example.com>\"");
	}
	out->addr = addr;
	out->display = mime_clean_text(raw);
	free(raw);
	if (!out->display) {
		mime_address_free(out);
		return set_err(err, errlen, "out of memory");
	}
	return 0;
}

void mime_address_free(mime_address *a)
{
	free(a->display);
	free(a->addr);
	*a = (mime_address){0};
}

/* ---- bodies ---- */

void mime_quoted_printable(mime_buf *b, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t col = 0;

	while (*p) {
		char tok[3];
		size_t n = 1;
		unsigned char c = *p;
		int eol = p[1] == '\0' || p[1] == '\r' || p[1] == '\n';

		if (c == '\r' || c == '\n') {
			p += (c == '\r' && p[1] == '\n') ? 2 : 1;
			mime_buf_add(b, "\r\n", 2);
			col = 0;
			continue;
		}
		/* Literal: printable ASCII but '='; blanks except before a line
		 * end (transports strip trailing white space). "From " and "."
		 * opening a line are encoded: mbox and SMTP treat them apart. */
		if (((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol)) &&
		    !(col == 0 && (c == '.' || (c == 'F' && strncmp((const char *)p, "From ", 5) == 0)))) {
			tok[0] = (char)c;
		} else {
			tok[0] = '=', tok[1] = hex[c >> 4], tok[2] = hex[c & 15];
			n = 3;
		}
		/* A soft line break "=" takes a column of its own, except after the
		 * line's last character. */
		if (col + n > (eol ? QP_LINE : QP_LINE - 1)) {
			mime_buf_add(b, "=\r\n", 3);
			col = 0;
			continue; /* the same character again, now opening a line */
		}
		mime_buf_add(b, tok, n);
		col += n;
		p++;
	}
}

void mime_base64(mime_buf *b, const char *data, size_t n)
{
	/* B64_LINE characters are B64_LINE / 4 * 3 input bytes. */
	const size_t per_line = B64_LINE / 4 * 3;

	for (size_t i = 0; i < n; i += per_line) {
		base64_chunk(b, (const unsigned char *)data + i, n - i < per_line ? n - i : per_line);
		mime_buf_add(b, "\r\n", 2);
	}
}

/* Base64 is smaller once more than a quarter of the bytes need encoding
 * (3 columns each in quoted-printable against a steady 4/3). */
static int prefer_base64(const char *s)
{
	size_t n = 0, high = 0;

	for (; s[n]; n++)
		high += (unsigned char)s[n] >= 0x80;
	return high * 4 > n;
}

/* Base64 needs CRLF line ends in the data too (RFC 2045 §6.8 canonical form). */
static void crlf_text(mime_buf *b, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "\r\n");
		mime_buf_add(b, s, n);
		s += n;
		if (*s) {
			s += (s[0] == '\r' && s[1] == '\n') ? 2 : 1;
			mime_buf_add(b, "\r\n", 2);
		}
	}
}

static void part(mime_buf *b, const char *boundary, const char *type, const char *text)
{
	int use_b64 = prefer_base64(text);

	mime_buf_str(b, "--");
	mime_buf_str(b, boundary);
	mime_buf_str(b, "\r\nContent-Type: ");
	mime_buf_str(b, type);
	mime_buf_str(b, "; charset=UTF-8\r\nContent-Transfer-Encoding: ");
	mime_buf_str(b, use_b64 ? "base64\r\n\r\n" : "quoted-printable\r\n\r\n");
	if (use_b64) {
		mime_buf t = {0};
		crlf_text(&t, text);
		if (t.failed)
			b->failed = 1;
		else
			mime_base64(b, t.p ? t.p : "", t.len);
		mime_buf_free(&t);
	} else {
		mime_quoted_printable(b, text);
		/* The CRLF before the next delimiter belongs to the delimiter
		 * (RFC 2046 §5.1.1). Base64 lines already end in one. */
		mime_buf_add(b, "\r\n", 2);
	}
}

/* ---- date, hash, message ---- */

void mime_date(int64_t unix_ms, char out[40])
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;

	/* Day and month names by hand: strftime's follow the locale. */
	if (!gmtime_r(&t, &tm)) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
	         months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

uint64_t mime_hash(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	/* A separator, so ("ab","c") and ("a","bc") differ. */
	h ^= 0xff;
	h *= 0x100000001b3ULL;
	return h;
}

int mime_url_valid(const char *s)
{
	size_t n = strlen(s);

	if (n > 900 || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f || strchr("<>\"", *s))
			return 0;
	return 1;
}

static int address_valid(const mime_address *a)
{
	return a && a->addr && a->display && addr_spec_valid(a->addr);
}

char *mime_build(const mime_message *m, size_t *len)
{
	mime_buf b = {0};
	char date[40], boundary[40];
	char *out;

	*len = 0;
	if (!mime_msgid_valid(m->message_id) || (m->in_reply_to && !mime_msgid_valid(m->in_reply_to)) ||
	    !address_valid(m->from) || !address_valid(m->to) || (m->reply_to && !address_valid(m->reply_to)) ||
	    !m->subject || !m->text || !m->html || (m->list_unsubscribe && !mime_url_valid(m->list_unsubscribe)))
		return NULL;
	mime_date(m->date_ms, date);
	/* "=_" never occurs in quoted-printable or base64 text, so the
	 * boundary cannot collide with a part's content. */
	snprintf(boundary, sizeof(boundary), "=_crier_%016llx",
	         (unsigned long long)mime_hash(mime_hash(MIME_HASH_INIT, m->message_id), date));

	fold(&b, "Date", date);
	mime_header_address(&b, "From", m->from);
	mime_header_address(&b, "To", m->to);
	if (m->reply_to)
		mime_header_address(&b, "Reply-To", m->reply_to);
	mime_header_text(&b, "Subject", m->subject);
	fold(&b, "Message-ID", m->message_id);
	if (m->in_reply_to) {
		fold(&b, "In-Reply-To", m->in_reply_to);
		fold(&b, "References", m->in_reply_to);
	}
	if (m->list_unsubscribe) {
		/* RFC 2369 and RFC 8058: mail clients show an unsubscribe button
		 * that POSTs "List-Unsubscribe=One-Click" to the URL. A long URL
		 * goes on a line of its own: it cannot be folded inside. */
		int own_line = strlen("List-Unsubscribe: <>") + strlen(m->list_unsubscribe) > MIME_LINE_SOFT;
		mime_buf_str(&b, own_line ? "List-Unsubscribe:\r\n <" : "List-Unsubscribe: <");
		mime_buf_str(&b, m->list_unsubscribe);
		mime_buf_str(&b, ">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	}
	/* RFC 3834, and Exchange's own switch: no auto-replies to alerts. */
	mime_buf_str(&b, "Auto-Submitted: auto-generated\r\n"
	                 "X-Auto-Response-Suppress: All\r\n"
	                 "MIME-Version: 1.0\r\n");
	mime_buf_str(&b, "Content-Type: multipart/alternative;\r\n boundary=\"");
	mime_buf_str(&b, boundary);
	mime_buf_str(&b, "\"\r\n\r\n");
	part(&b, boundary, "text/plain", m->text);
	part(&b, boundary, "text/html", m->html);
	mime_buf_str(&b, "--");
	mime_buf_str(&b, boundary);
	mime_buf_str(&b, "--\r\n");
	out = buf_take(&b);
	if (out)
		*len = strlen(out);
	return out;
}
