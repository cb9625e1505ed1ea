/* A strict pull reader over JSON text in memory (see json_reader.h). */
#include "json_reader.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	JR_VALUE, /* a value must come next */
	JR_FIRST, /* a container was just entered: its first member or its close */
	JR_NEXT,  /* a value was read: ',' or the close (at the top level: the end) */
};

/* Objects with up to this many keys are checked for a repeat key by key;
 * larger ones are sorted once when they close, so a hostile object of
 * 100,000 keys costs n log n, not n squared. */
#define JR_LINEAR_KEYS 16

static int jr_fail(json_reader *r, const unsigned char *at, const char *msg)
{
	if (!r->error) {
		r->error = msg;
		r->error_at = (size_t)(at - r->begin);
	}
	return -1;
}

/* Grow an array that starts out in the reader itself (inline) to hold at
 * least need elements. 0, or -1 with the reader failed. */
static int jr_grow(json_reader *r, void **arr, size_t *cap, size_t need, size_t size, const void *inline_arr)
{
	size_t ncap = *cap ? *cap : 64;
	void *grown;

	while (ncap < need)
		ncap *= 2;
	if (*arr == inline_arr) {
		grown = malloc(ncap * size);
		if (grown && *cap)
			memcpy(grown, *arr, *cap * size);
	} else {
		grown = realloc(*arr, ncap * size);
	}
	if (!grown)
		return jr_fail(r, r->p, JSON_READER_ENOMEM);
	*arr = grown;
	*cap = ncap;
	return 0;
}

void json_reader_init(json_reader *r, const char *text, size_t len, int max_depth, unsigned flags)
{
	r->begin = r->p = (const unsigned char *)(text ? text : "");
	r->end = r->begin + (text ? len : 0);
	r->flags = flags;
	r->depth = 0;
	r->max_depth = max_depth < 0 ? 0 : max_depth > JSON_READER_MAX_DEPTH ? JSON_READER_MAX_DEPTH : max_depth;
	r->state = JR_VALUE;
	r->error = NULL;
	r->error_at = 0;
	r->frames = r->frames_inline;
	r->frames_cap = JSON_READER_INLINE_FRAMES;
	r->seen = r->seen_inline;
	r->nseen = 0;
	r->seen_cap = JSON_READER_INLINE_SEEN;
	r->keys = NULL;
	r->keys_len = r->keys_cap = 0;
	r->scratch = NULL;
	r->scratch_cap = 0;
}

void json_reader_free(json_reader *r)
{
	if (r->frames != r->frames_inline)
		free(r->frames);
	if (r->seen != r->seen_inline)
		free(r->seen);
	free(r->keys);
	free(r->scratch);
	r->frames = r->frames_inline;
	r->seen = r->seen_inline;
	r->keys = r->scratch = NULL;
	r->keys_cap = r->scratch_cap = 0;
}

const char *json_reader_error(const json_reader *r, size_t *offset)
{
	if (offset)
		*offset = r->error_at;
	return r->error;
}

static inline void jr_ws(json_reader *r)
{
	const unsigned char *p = r->p, *end = r->end;

	/* Compact JSON, the usual case, has none. */
	if (p<end && * p> ' ')
		return;
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	r->p = p;
}

json_reader_type json_reader_peek(json_reader *r)
{
	if (r->error)
		return JSON_READER_INVALID;
	jr_ws(r);
	if (r->p == r->end)
		return JSON_READER_END;
	switch (*r->p) {
	case '{':
		return JSON_READER_OBJECT;
	case '[':
		return JSON_READER_ARRAY;
	case '"':
		return JSON_READER_STRING;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return JSON_READER_NUMBER;
	case 't':
		return JSON_READER_TRUE;
	case 'f':
		return JSON_READER_FALSE;
	case 'n':
		return JSON_READER_NULL;
	default:
		return JSON_READER_INVALID;
	}
}

/* ---- strings ---------------------------------------------------------- */

size_t json_reader_utf8(const unsigned char *p, size_t n)
{
	unsigned c = p[0];

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

static int jr_hex(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	return -1;
}

/* The code unit of the \uXXXX escape at p (p[0] == '\\', p[1] == 'u', 6
 * bytes available), or -1 when a digit is not hex. */
static long jr_u16(const unsigned char *p)
{
	long v = 0;

	for (int i = 2; i < 6; i++) {
		int h = jr_hex(p[i]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

#define JR_ONES  0x0101010101010101ULL
#define JR_HIGHS 0x8080808080808080ULL

/*
 * Check the string whose opening quote is at p, to its closing quote: UTF-8,
 * no raw control characters, escapes well formed, surrogates paired, no
 * \u0000. *escaped says whether it holds escapes. Returns the closing
 * quote's position, or NULL with the reader failed.
 */
static const unsigned char *jr_scan_string(json_reader *r, const unsigned char *p, int *escaped)
{
	const unsigned char *end = r->end;

	*escaped = 0;
	p++;
	for (;;) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/* Eight bytes at a time up to the first that needs a look: '"', '\\',
		 * < 0x20 or >= 0x80. The lowest flagged byte is always a true one
		 * (the borrows that cause false flags only run upwards). */
		while (end - p >= 8) {
			uint64_t w, q, b, t;

			memcpy(&w, p, 8);
			q = w ^ (JR_ONES * '"');
			b = w ^ (JR_ONES * '\\');
			t = (((q - JR_ONES) & ~q) | ((b - JR_ONES) & ~b) | (w - JR_ONES * 0x20) | w) & JR_HIGHS;
			if (t) {
				p += __builtin_ctzll(t) >> 3;
				break;
			}
			p += 8;
		}
#endif
		if (p >= end)
			goto premature;
		unsigned c = *p;

		if (c == '"')
			return p;
		if (c == '\\') {
			long u, lo;

			*escaped = 1;
			if (end - p < 2)
				goto premature;
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				p += 2;
				continue;
			case 'u':
				break;
			default:
				jr_fail(r, p, "invalid escape");
				return NULL;
			}
			if (end - p < 6 || (u = jr_u16(p)) < 0) {
				jr_fail(r, p, "invalid escape");
				return NULL;
			}
			if (u == 0) {
				jr_fail(r, p, "\\u0000 is not allowed");
				return NULL;
			}
			if (u >= 0xdc00 && u <= 0xdfff) {
				jr_fail(r, p, "invalid Unicode escape (a lone low surrogate)");
				return NULL;
			}
			if (u >= 0xd800 && u <= 0xdbff) {
				if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || (lo = jr_u16(p + 6)) < 0xdc00 ||
				    lo > 0xdfff) {
					jr_fail(r, p, "invalid Unicode escape (a high surrogate without its low half)");
					return NULL;
				}
				p += 6;
			}
			p += 6;
			continue;
		}
		if (c < 0x20) {
			jr_fail(r, p, c == '\n' ? "unexpected newline" : "control character");
			return NULL;
		}
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t n = json_reader_utf8(p, (size_t)(end - p));

		if (!n) {
			jr_fail(r, p, "invalid UTF-8");
			return NULL;
		}
		p += n;
	}
premature:
	jr_fail(r, p, "premature end of input");
	return NULL;
}

/* Decode the checked string between p (after the opening quote) and q (its
 * closing quote) into dst, which holds at least q - p bytes. Returns the
 * decoded length. */
static size_t jr_decode(const unsigned char *p, const unsigned char *q, char *dst)
{
	char *o = dst;

	while (p < q) {
		if (*p != '\\') {
			*o++ = (char)*p++;
			continue;
		}
		switch (p[1]) {
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			unsigned long cp = (unsigned long)jr_u16(p);

			if (cp >= 0xd800 && cp <= 0xdbff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned long)jr_u16(p + 6) - 0xdc00);
				p += 6;
			}
			if (cp < 0x80) {
				*o++ = (char)cp;
			} else if (cp < 0x800) {
				*o++ = (char)(0xc0 | cp >> 6);
				*o++ = (char)(0x80 | (cp & 0x3f));
			} else if (cp < 0x10000) {
				*o++ = (char)(0xe0 | cp >> 12);
				*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
				*o++ = (char)(0x80 | (cp & 0x3f));
			} else {
				*o++ = (char)(0xf0 | cp >> 18);
				*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
				*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
				*o++ = (char)(0x80 | (cp & 0x3f));
			}
			p += 6;
			continue;
		}
		default: /* '"', '\\', '/' */
			*o++ = (char)p[1];
			break;
		}
		p += 2;
	}
	return (size_t)(o - dst);
}

static int jr_scratch(json_reader *r, size_t need)
{
	char *grown;

	if (need <= r->scratch_cap)
		return 0;
	grown = realloc(r->scratch, need);
	if (!grown)
		return jr_fail(r, r->p, JSON_READER_ENOMEM);
	r->scratch = grown;
	r->scratch_cap = need;
	return 0;
}

/* ---- containers ------------------------------------------------------- */

static int jr_out_of_turn(json_reader *r)
{
	return jr_fail(r, r->p, "reader used out of turn");
}

static int jr_enter(json_reader *r, unsigned char open, int is_array)
{
	json_reader_frame *f;

	if (r->error)
		return -1;
	if (r->state != JR_VALUE)
		return jr_out_of_turn(r);
	jr_ws(r);
	if (r->p == r->end || *r->p != open)
		return jr_fail(r, r->p, is_array ? "'[' expected" : "'{' expected");
	if (r->depth >= r->max_depth)
		return jr_fail(r, r->p, "nested too deep");
	if ((size_t)r->depth == r->frames_cap && jr_grow(r, (void **)&r->frames, &r->frames_cap, (size_t)r->depth + 1,
	                                                 sizeof(*r->frames), r->frames_inline) < 0)
		return -1;
	f = &r->frames[r->depth++];
	f->seen_base = r->nseen;
	f->keys_top = r->keys_len;
	f->is_array = (unsigned char)is_array;
	r->p++;
	r->state = JR_FIRST;
	return 0;
}

int json_reader_object_enter(json_reader *r)
{
	return jr_enter(r, '{', 0);
}

int json_reader_array_enter(json_reader *r)
{
	return jr_enter(r, '[', 1);
}

/* A key's first and last bytes: most keys of one object differ there, so a
 * repeat check rarely needs memcmp. */
static uint32_t jr_head(const char *k, size_t len)
{
	return len ? (uint32_t)(unsigned char)k[0] | (uint32_t)(unsigned char)k[len - 1] << 8 : 0;
}

static const char *jr_seen_key(const json_reader *r, const json_reader_seen *s)
{
	return s->in_keys ? r->keys + s->off : (const char *)r->begin + s->off;
}

static int jr_cmp_seen(const void *a, const void *b, void *ctx)
{
	const json_reader *r = ctx;
	const json_reader_seen *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(jr_seen_key(r, x), jr_seen_key(r, y), x->len);
}

/* Close the innermost container at r->p; objects past JR_LINEAR_KEYS keys get
 * their repeat check here. Returns 0, or -1. */
static int jr_close(json_reader *r)
{
	json_reader_frame *f = &r->frames[r->depth - 1];
	size_t n = r->nseen - f->seen_base;

	if (!f->is_array && n > JR_LINEAR_KEYS) {
		json_reader_seen *s = r->seen + f->seen_base;

		qsort_r(s, n, sizeof(*s), jr_cmp_seen, r);
		for (size_t i = 1; i < n; i++)
			if (jr_cmp_seen(&s[i - 1], &s[i], r) == 0)
				return jr_fail(r, r->p, "duplicate object key");
	}
	r->nseen = f->seen_base;
	r->keys_len = f->keys_top;
	r->depth--;
	r->p++;
	r->state = JR_NEXT;
	return 0;
}

/* Refuse k (len bytes, at off in the input or in keys[]) when the innermost
 * object already has it; else remember it. 0, or -1. */
static int jr_remember_key(json_reader *r, const char *k, size_t len, size_t off, int in_keys, const unsigned char *at)
{
	size_t base = r->frames[r->depth - 1].seen_base;
	uint32_t head = jr_head(k, len);
	json_reader_seen *s;

	if (len > UINT32_MAX)
		return jr_fail(r, at, JSON_READER_ENOMEM);
	if (r->nseen - base < JR_LINEAR_KEYS)
		for (size_t i = base; i < r->nseen; i++)
			if (r->seen[i].head == head && r->seen[i].len == len &&
			    memcmp(jr_seen_key(r, &r->seen[i]), k, len) == 0)
				return jr_fail(r, at, "duplicate object key");
	if (r->nseen == r->seen_cap &&
	    jr_grow(r, (void **)&r->seen, &r->seen_cap, r->nseen + 1, sizeof(*r->seen), r->seen_inline) < 0)
		return -1;
	s = &r->seen[r->nseen++];
	s->off = off;
	s->len = (uint32_t)len;
	s->head = head;
	s->in_keys = (unsigned char)in_keys;
	return 0;
}

/* The key whose opening quote is at r->p, then ':'. */
static int jr_key(json_reader *r, const char **key, size_t *len)
{
	const unsigned char *q, *at = r->p;
	int escaped;

	q = jr_scan_string(r, at, &escaped);
	if (!q)
		return -1;
	if (!escaped) {
		*key = (const char *)at + 1;
		*len = (size_t)(q - at - 1);
		if ((r->flags & JSON_READER_REJECT_DUPLICATES) &&
		    jr_remember_key(r, *key, *len, (size_t)(at + 1 - r->begin), 0, at) < 0)
			return -1;
	} else {
		size_t off;

		/* Without the repeat check no earlier key is needed: reuse the space. */
		if (!(r->flags & JSON_READER_REJECT_DUPLICATES))
			r->keys_len = r->frames[r->depth - 1].keys_top;
		off = r->keys_len;
		if (off + (size_t)(q - at) > r->keys_cap &&
		    jr_grow(r, (void **)&r->keys, &r->keys_cap, off + (size_t)(q - at), 1, NULL) < 0)
			return -1;
		*len = jr_decode(at + 1, q, r->keys + off);
		*key = r->keys + off;
		r->keys_len = off + *len;
		if ((r->flags & JSON_READER_REJECT_DUPLICATES) && jr_remember_key(r, *key, *len, off, 1, at) < 0)
			return -1;
	}
	r->p = q + 1;
	jr_ws(r);
	if (r->p == r->end || *r->p != ':')
		return jr_fail(r, r->p, "':' expected");
	r->p++;
	r->state = JR_VALUE;
	return 1;
}

/* What object_next and array_next share: in turn, inside a container of the
 * kind, at its close (0, consumed) or at a member (1, its ',' consumed). */
static inline int jr_next(json_reader *r, int is_array)
{
	if (r->error)
		return -1;
	if (r->depth == 0 || r->frames[r->depth - 1].is_array != is_array || r->state == JR_VALUE)
		return jr_out_of_turn(r);
	jr_ws(r);
	if (r->p == r->end)
		return jr_fail(r, r->p, "premature end of input");
	if (*r->p == (is_array ? ']' : '}'))
		return jr_close(r);
	if (r->state == JR_NEXT) {
		if (*r->p != ',')
			return jr_fail(r, r->p, is_array ? "',' or ']' expected" : "',' or '}' expected");
		r->p++;
	}
	return 1;
}

int json_reader_object_next(json_reader *r, const char **key, size_t *len)
{
	int first = r->state == JR_FIRST, rc = jr_next(r, 0);

	if (rc != 1)
		return rc;
	jr_ws(r);
	if (r->p == r->end || *r->p != '"')
		return jr_fail(r, r->p, first ? "string or '}' expected" : "string expected");
	return jr_key(r, key, len);
}

int json_reader_array_next(json_reader *r)
{
	int rc = jr_next(r, 1);

	if (rc == 1)
		r->state = JR_VALUE;
	return rc;
}

/* ---- scalars ---------------------------------------------------------- */

/*
 * Where reading goes on after a number or a literal ending before p. jansson
 * reads one byte past such a token and puts it back, and a NUL byte put back
 * is lost (its stream takes a 0 in its buffer for "empty"): so "[1\0]" and
 * "true\0" are valid to it. Accepting the same keeps the two in agreement.
 */
static const unsigned char *jr_after_token(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p == '\0' ? p + 1 : p;
}

/* Common entry of the value readers: in turn, and at the value. */
static int jr_value_start(json_reader *r)
{
	if (r->error)
		return -1;
	if (r->state != JR_VALUE)
		return jr_out_of_turn(r);
	jr_ws(r);
	return 0;
}

int json_reader_string(json_reader *r, const char **s, size_t *len)
{
	const unsigned char *q, *at;
	int escaped;

	if (jr_value_start(r) < 0)
		return -1;
	at = r->p;
	if (at == r->end || *at != '"')
		return jr_fail(r, at, "string expected");
	q = jr_scan_string(r, at, &escaped);
	if (!q)
		return -1;
	if (!escaped) {
		*s = (const char *)at + 1;
		*len = (size_t)(q - at - 1);
	} else {
		if (jr_scratch(r, (size_t)(q - at)) < 0)
			return -1;
		*len = jr_decode(at + 1, q, r->scratch);
		*s = r->scratch;
	}
	r->p = q + 1;
	r->state = JR_NEXT;
	return 0;
}

int json_reader_number(json_reader *r, int *is_real, json_int_t *i, double *d)
{
	const unsigned char *p, *start, *end = r->end;
	int neg = 0;

	if (jr_value_start(r) < 0)
		return -1;
	p = start = r->p;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == end || *p < '0' || *p > '9')
		return jr_fail(r, start, "invalid number");
	if (*p == '0')
		p++;
	else
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	if (p == end || (*p != '.' && *p != 'e' && *p != 'E')) {
		/* An integer: a json_int_t (long long) or refused, as jansson does. */
		uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

		for (const unsigned char *q = start + neg; q < p; q++) {
			unsigned digit = *q - '0';

			if (v > (lim - digit) / 10)
				return jr_fail(r, start, neg ? "too big negative integer" : "too big integer");
			v = v * 10 + digit;
		}
		*is_real = 0;
		*i = neg ? (json_int_t)(0 - v) : (json_int_t)v;
		r->p = jr_after_token(p, end);
		r->state = JR_NEXT;
		return 0;
	}
	if (*p == '.') {
		p++;
		if (p == end || *p < '0' || *p > '9')
			return jr_fail(r, p, "invalid number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return jr_fail(r, p, "invalid number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	/* strtod needs a terminated copy; it rounds as jansson's (the same call)
	 * and refuses what overflows a double, as jansson does. */
	size_t n = (size_t)(p - start);
	char small[64], *text = small;

	if (n >= sizeof(small)) {
		if (jr_scratch(r, n + 1) < 0)
			return -1;
		text = r->scratch;
	}
	memcpy(text, start, n);
	text[n] = '\0';
	errno = 0;
	*d = strtod(text, NULL);
	if ((*d == HUGE_VAL || *d == -HUGE_VAL) && errno == ERANGE)
		return jr_fail(r, start, "real number overflow");
	*is_real = 1;
	r->p = jr_after_token(p, end);
	r->state = JR_NEXT;
	return 0;
}

/* true, false or null at the cursor. */
static int jr_literal(json_reader *r, const char *word, size_t n)
{
	if (jr_value_start(r) < 0)
		return -1;
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return jr_fail(r, r->p, "invalid token");
	r->p = jr_after_token(r->p + n, r->end);
	r->state = JR_NEXT;
	return 0;
}

/* One scalar at the cursor, checked and dropped; containers are the caller's. */
static int jr_skip_scalar(json_reader *r, json_reader_type t)
{
	int is_real;
	json_int_t i;
	double d;

	switch (t) {
	case JSON_READER_STRING: {
		const unsigned char *q;
		int escaped;

		if (jr_value_start(r) < 0)
			return -1;
		/* Checked, never decoded. */
		q = jr_scan_string(r, r->p, &escaped);
		if (!q)
			return -1;
		r->p = q + 1;
		r->state = JR_NEXT;
		return 0;
	}
	case JSON_READER_NUMBER:
		return json_reader_number(r, &is_real, &i, &d);
	case JSON_READER_TRUE:
		return jr_literal(r, "true", 4);
	case JSON_READER_FALSE:
		return jr_literal(r, "false", 5);
	case JSON_READER_NULL:
		return jr_literal(r, "null", 4);
	case JSON_READER_END:
		return jr_fail(r, r->p, "premature end of input");
	default:
		return jr_fail(r, r->p, "invalid token");
	}
}

int json_reader_skip(json_reader *r)
{
	int base = r->depth;

	if (r->error)
		return -1;
	if (r->state != JR_VALUE)
		return jr_out_of_turn(r);
	for (;;) {
		json_reader_type t = json_reader_peek(r);
		int rc;

		if (t == JSON_READER_OBJECT)
			rc = json_reader_object_enter(r);
		else if (t == JSON_READER_ARRAY)
			rc = json_reader_array_enter(r);
		else
			rc = jr_skip_scalar(r, t);
		if (rc < 0)
			return -1;
		/* On to the next value inside what is being skipped, closing what ends. */
		for (;;) {
			const char *k;
			size_t klen;

			if (r->depth == base)
				return 0;
			if (r->frames[r->depth - 1].is_array)
				rc = json_reader_array_next(r);
			else
				rc = json_reader_object_next(r, &k, &klen);
			if (rc < 0)
				return -1;
			if (rc == 1)
				break;
		}
	}
}

const char *json_reader_peek_text(json_reader *r, size_t *len)
{
	*len = 0;
	if (r->error || r->state != JR_VALUE)
		return NULL;
	jr_ws(r);
	const unsigned char *p = r->p, *end = r->end;
	if (p == end || (*p != '{' && *p != '['))
		return NULL;
	/* Most of an alert's text is inside strings: memchr finds each string's
	 * quotes, and a quote is its end when an even number of backslashes
	 * stands before it (the opening quote stops the count). Between
	 * strings, only brackets and quotes matter. */
	size_t depth = 0;
	for (const unsigned char *q = p; q < end; q++) {
		unsigned char c = *q;
		if (c == '"') {
			const unsigned char *open = q;
			for (;;) {
				q = memchr(q + 1, '"', (size_t)(end - q - 1));
				if (!q)
					return NULL;
				const unsigned char *b = q;
				while (b > open + 1 && b[-1] == '\\')
					b--;
				if ((q - b) % 2 == 0)
					break;
			}
		} else if (c == '{' || c == '[') {
			depth++;
		} else if ((c == '}' || c == ']') && --depth == 0) {
			*len = (size_t)(q + 1 - p);
			return (const char *)p;
		}
	}
	return NULL;
}

size_t json_reader_offset(const json_reader *r)
{
	return (size_t)(r->p - r->begin);
}

int json_reader_pass(json_reader *r, size_t len)
{
	if (r->error || r->state != JR_VALUE || len > (size_t)(r->end - r->p))
		return -1;
	r->p += len;
	r->state = JR_NEXT;
	return 0;
}

int json_reader_value(json_reader *r, json_t **out)
{
	json_t *v = NULL, *member;
	const char *s, *k;
	size_t n, klen;
	int rc, is_real;
	json_int_t i;
	double d;

	*out = NULL;
	switch (json_reader_peek(r)) {
	case JSON_READER_OBJECT:
		if (json_reader_object_enter(r) < 0)
			return -1;
		if (!(v = json_object()))
			goto oom;
		while ((rc = json_reader_object_next(r, &k, &klen)) == 1) {
			/* The key may live in the reader's space, which the value's
			 * own keys reuse: copy it first. */
			char *kc = malloc(klen + 1);

			if (!kc)
				goto oom;
			memcpy(kc, k, klen);
			kc[klen] = '\0';
			if (json_reader_value(r, &member) < 0) {
				free(kc);
				goto fail;
			}
			/* Checked UTF-8 without NUL; a repeat replaces, as in jansson. */
			rc = json_object_setn_new_nocheck(v, kc, klen, member);
			free(kc);
			if (rc < 0)
				goto oom;
		}
		if (rc < 0)
			goto fail;
		break;
	case JSON_READER_ARRAY:
		if (json_reader_array_enter(r) < 0)
			return -1;
		if (!(v = json_array()))
			goto oom;
		while ((rc = json_reader_array_next(r)) == 1) {
			if (json_reader_value(r, &member) < 0)
				goto fail;
			if (json_array_append_new(v, member) < 0)
				goto oom;
		}
		if (rc < 0)
			goto fail;
		break;
	case JSON_READER_STRING:
		if (json_reader_string(r, &s, &n) < 0)
			return -1;
		v = json_stringn_nocheck(s, n);
		break;
	case JSON_READER_NUMBER:
		if (json_reader_number(r, &is_real, &i, &d) < 0)
			return -1;
		v = is_real ? json_real(d) : json_integer(i);
		break;
	case JSON_READER_TRUE:
	case JSON_READER_FALSE:
	case JSON_READER_NULL: {
		json_reader_type t = json_reader_peek(r);

		if (jr_skip_scalar(r, t) < 0)
			return -1;
		v = t == JSON_READER_TRUE ? json_true() : t == JSON_READER_FALSE ? json_false() : json_null();
		break;
	}
	default:
		return jr_skip_scalar(r, json_reader_peek(r));
	}
	if (!v)
		goto oom;
	*out = v;
	return 0;
oom:
	jr_fail(r, r->p, JSON_READER_ENOMEM);
fail:
	json_decref(v);
	return -1;
}

int json_reader_end(json_reader *r)
{
	if (r->error)
		return -1;
	if (r->depth != 0 || r->state != JR_NEXT)
		return jr_out_of_turn(r);
	jr_ws(r);
	if (r->p != r->end)
		return jr_fail(r, r->p, "end of input expected");
	return 0;
}
