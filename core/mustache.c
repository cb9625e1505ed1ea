/*
 * Mustache templates: see mustache.h.
 *
 * A template compiles to a flat array of nodes in document order; a section
 * node records where its body ends, so rendering is a walk over index ranges
 * and a compiled template is that array plus a copy of the source (names and
 * text point into it).
 *
 * Choices the specification leaves to the implementation:
 * - Falsey, for sections: false, null, [], "", 0 and 0.0 (as in JavaScript,
 *   so {{#message}} and {{#incident.alerts_firing}} read naturally). An
 *   empty object is truthy.
 * - Names are "." or dot-separated non-empty parts with no blanks or
 *   control characters; anything else is a compile error, so a typo fails
 *   at load time instead of rendering "".
 * - An object or array interpolates as compact JSON text.
 * - A partial is compiled with the default delimiters, once per (name,
 *   indentation) per partials cache; a standalone partial's indentation is put in
 *   front of each line of its source, as the specification's reference
 *   implementation does.
 * - Rendering stops with an error past MUSTACHE_MAX_OUTPUT bytes of result
 *   or MUSTACHE_MAX_STEPS nodes visited: nested sections over lists
 *   multiply, and a template must not be able to hang a delivery thread.
 */
#include "mustache.h"

#include "ingest_util.h"
#include "strbuf.h"
#include "text.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MUSTACHE_MAX_SOURCE   (1024 * 1024)
#define MUSTACHE_MAX_NESTING  64
#define MUSTACHE_MAX_PARTIALS 32
#define MUSTACHE_MAX_OUTPUT   (16 * 1024 * 1024)
#define MUSTACHE_MAX_STEPS    (16L * 1024 * 1024)
#define MUSTACHE_MAX_JSON     32 /* nesting of an object or array interpolated as JSON */
#define MUSTACHE_NAME_SHOWN   48 /* bytes of a name quoted in a message */

typedef enum node_kind {
	NODE_TEXT,     /* src[off, off+len) as is */
	NODE_VAR,      /* {{name}}: escaped */
	NODE_RAW,      /* {{{name}}}, {{&name}}: not escaped */
	NODE_SECTION,  /* {{#name}}: body is nodes (i, end) */
	NODE_INVERTED, /* {{^name}}: body is nodes (i, end) */
	NODE_PARTIAL   /* {{>name}}, indented by src[ind_off, ind_off+ind_len) */
} node_kind;

typedef struct node {
	node_kind kind;
	unsigned line;
	size_t off, len;         /* text, or the name */
	size_t end;              /* sections: index of the first node after the body */
	size_t ind_off, ind_len; /* partials: the standalone line's indentation */
} node;

struct mustache {
	char *name; /* for messages */
	char *src;  /* the source; every node points into it */
	node *nodes;
	size_t n, cap;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* Cut short: drop a UTF-8 sequence the cut split. */
	if (n >= 0 && (size_t)n >= errlen) {
		size_t len = strlen(err), lead = len;

		while (lead > 0 && ((unsigned char)err[lead - 1] & 0xc0) == 0x80)
			lead--;
		if (lead > 0 && (unsigned char)err[lead - 1] >= 0xc0)
			err[lead - 1] = '\0';
	}
}

/* A name from the source, fit for a one-line message in quotes (see
 * ingest_util_echo), cut with "..." to MUSTACHE_NAME_SHOWN bytes. */
static const char *shown(char out[MUSTACHE_NAME_SHOWN + 4], const char *p, size_t len)
{
	size_t n = strlen(ingest_util_echo(out, MUSTACHE_NAME_SHOWN + 1, p, len));

	/* The echo writes one byte per byte it takes, so a shorter one was cut. */
	if (n < len)
		memcpy(out + n, "...", 4);
	return out;
}

/* ---- compiling ---- */

typedef struct compiler {
	mustache *t;
	const char *s; /* t->src */
	size_t len;
	const char *otag, *ctag; /* current delimiters (in s, or static) */
	size_t olen, clen;
	size_t line_pos;                   /* line numbers are counted up to here... */
	unsigned line;                     /* ...and this is the line at line_pos */
	size_t open[MUSTACHE_MAX_NESTING]; /* the open sections' nodes */
	size_t depth;
	char *err;
	size_t errlen;
} compiler;

static unsigned line_at(compiler *c, size_t pos)
{
	for (; c->line_pos < pos; c->line_pos++)
		if (c->s[c->line_pos] == '\n')
			c->line++;
	return c->line;
}

static int add_node(compiler *c, node_kind kind, unsigned line, size_t off, size_t len)
{
	mustache *t = c->t;

	if (kind == NODE_TEXT && len == 0)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		node *nodes = realloc(t->nodes, cap * sizeof(*nodes));

		if (!nodes) {
			set_err(c->err, c->errlen, "%s: out of memory", t->name);
			return -1;
		}
		t->nodes = nodes;
		t->cap = cap;
	}
	t->nodes[t->n] = (node){.kind = kind, .line = line, .off = off, .len = len};
	t->n++;
	return 0;
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Trim [*off, *off+*len) of blanks and line breaks. */
static void trim(const char *s, size_t *off, size_t *len)
{
	while (*len > 0 && is_space(s[*off])) {
		(*off)++;
		(*len)--;
	}
	while (*len > 0 && is_space(s[*off + *len - 1]))
		(*len)--;
}

/* "." or non-empty parts joined by single dots, no blanks or controls. */
static int valid_name(const char *p, size_t len)
{
	if (len == 1 && p[0] == '.')
		return 1;
	if (len == 0 || p[0] == '.' || p[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch <= ' ' || ch == 0x7f || (ch == '.' && p[i + 1] == '.'))
			return 0;
	}
	return 1;
}

static int check_name(compiler *c, unsigned line, size_t off, size_t len)
{
	char buf[MUSTACHE_NAME_SHOWN + 4];

	if (len == 0) {
		set_err(c->err, c->errlen, "%s: line %u: tag without a name", c->t->name, line);
		return -1;
	}
	if (!valid_name(c->s + off, len)) {
		set_err(c->err, c->errlen, "%s: line %u: bad name \"%s\"", c->t->name, line,
		        shown(buf, c->s + off, len));
		return -1;
	}
	return 0;
}

/* {{=<% %>=}}: the inside is two delimiters without blanks or '='. */
static int set_delimiters(compiler *c, unsigned line, size_t off, size_t len)
{
	const char *s = c->s;
	size_t end = off + len, o1, o2;

	while (off < end && is_space(s[off]))
		off++;
	o1 = off;
	while (off < end && !is_space(s[off]))
		off++;
	c->olen = off - o1;
	while (off < end && is_space(s[off]))
		off++;
	o2 = off;
	while (off < end && !is_space(s[off]))
		off++;
	c->clen = off - o2;
	while (off < end && is_space(s[off]))
		off++;
	if (c->olen == 0 || c->clen == 0 || off != end || memchr(s + o1, '=', c->olen) ||
	    memchr(s + o2, '=', c->clen)) {
		set_err(c->err, c->errlen, "%s: line %u: bad set-delimiter tag (want {{=<open> <close>=}})", c->t->name,
		        line);
		return -1;
	}
	c->otag = s + o1;
	c->ctag = s + o2;
	return 0;
}

/* Is the tag [start, end) alone on its line but for blanks? Then *ls is
 * where the line starts and *next is past the line's end. */
static int standalone(const compiler *c, size_t pos, size_t start, size_t end, size_t *ls, size_t *next)
{
	const char *s = c->s;
	size_t b = start, e = end;

	while (b > pos && is_blank(s[b - 1]))
		b--;
	if (b > 0 && s[b - 1] != '\n')
		return 0;
	while (e < c->len && is_blank(s[e]))
		e++;
	if (e < c->len && s[e] == '\n')
		e++;
	else if (e + 1 < c->len && s[e] == '\r' && s[e + 1] == '\n')
		e += 2;
	else if (e != c->len)
		return 0;
	*ls = b;
	*next = e;
	return 1;
}

static int open_section_node(compiler *c, node_kind kind, unsigned line, size_t off, size_t len)
{
	if (c->depth == MUSTACHE_MAX_NESTING) {
		set_err(c->err, c->errlen, "%s: line %u: sections nested deeper than %d", c->t->name, line,
		        MUSTACHE_MAX_NESTING);
		return -1;
	}
	if (add_node(c, kind, line, off, len) < 0)
		return -1;
	c->open[c->depth++] = c->t->n - 1;
	return 0;
}

static int close_section(compiler *c, unsigned line, size_t off, size_t len)
{
	char b1[MUSTACHE_NAME_SHOWN + 4], b2[MUSTACHE_NAME_SHOWN + 4];
	node *open;

	if (c->depth == 0) {
		set_err(c->err, c->errlen, "%s: line %u: closing tag \"%s\" without an open section", c->t->name, line,
		        shown(b1, c->s + off, len));
		return -1;
	}
	open = &c->t->nodes[c->open[c->depth - 1]];
	if (open->len != len || memcmp(c->s + open->off, c->s + off, len) != 0) {
		set_err(c->err, c->errlen, "%s: line %u: closing tag \"%s\" does not match section \"%s\" (line %u)",
		        c->t->name, line, shown(b1, c->s + off, len), shown(b2, c->s + open->off, open->len),
		        open->line);
		return -1;
	}
	open->end = c->t->n;
	c->depth--;
	return 0;
}

/* One tag: sigil at p, content [p+1 or p, close), tag [start, after). */
static int compile_tag(compiler *c, size_t start, size_t *pos)
{
	const char *s = c->s;
	unsigned line = line_at(c, start);
	size_t p = start + c->olen, close, after, off, len, ls, next;
	char sigil = p < c->len ? s[p] : '\0';
	char closer[2] = {0, 0};
	const char *found;
	int alone = 0;

	switch (sigil) {
	case '{':
		closer[0] = '}';
		break;
	case '=':
		closer[0] = '=';
		break;
	case '&':
	case '#':
	case '^':
	case '/':
	case '>':
	case '!':
		break;
	default:
		sigil = '\0';
	}
	if (sigil)
		p++;
	/* The closer is the sigil's pair ('}' or '=') followed by the delimiter. */
	found = NULL;
	for (size_t from = p; from + c->clen <= c->len;) {
		const char *hit = memmem(s + from, c->len - from, c->ctag, c->clen);

		if (!hit)
			break;
		if (!closer[0]) {
			found = hit;
			break;
		}
		if ((size_t)(hit - s) > p && hit[-1] == closer[0]) {
			found = hit - 1;
			break;
		}
		from = (size_t)(hit - s) + 1;
	}
	if (!found) {
		char b[MUSTACHE_NAME_SHOWN + 4];

		set_err(c->err, c->errlen, "%s: line %u: unclosed tag (no \"%s%s\")", c->t->name, line, closer,
		        shown(b, c->ctag, c->clen));
		return -1;
	}
	close = (size_t)(found - s);
	after = close + (closer[0] != 0) + c->clen;
	off = p;
	len = close - p;

	if (sigil && sigil != '{' && sigil != '&')
		alone = standalone(c, *pos, start, after, &ls, &next);
	if (!alone) {
		ls = start;
		next = after;
	}
	/* The text before the tag; a standalone line's blanks go. */
	if (add_node(c, NODE_TEXT, line, *pos, ls - *pos) < 0)
		return -1;
	*pos = next;

	if (sigil == '!')
		return 0;
	if (sigil == '=')
		return set_delimiters(c, line, off, len);
	trim(s, &off, &len);
	if (check_name(c, line, off, len) < 0)
		return -1;
	switch (sigil) {
	case '#':
		return open_section_node(c, NODE_SECTION, line, off, len);
	case '^':
		return open_section_node(c, NODE_INVERTED, line, off, len);
	case '/':
		return close_section(c, line, off, len);
	case '>':
		if (add_node(c, NODE_PARTIAL, line, off, len) < 0)
			return -1;
		c->t->nodes[c->t->n - 1].ind_off = ls;
		c->t->nodes[c->t->n - 1].ind_len = alone ? start - ls : 0;
		return 0;
	case '{':
	case '&':
		return add_node(c, NODE_RAW, line, off, len);
	default:
		return add_node(c, NODE_VAR, line, off, len);
	}
}

static int compile_all(compiler *c)
{
	size_t pos = 0;

	for (;;) {
		const char *hit = memmem(c->s + pos, c->len - pos, c->otag, c->olen);

		if (!hit)
			break;
		if (compile_tag(c, (size_t)(hit - c->s), &pos) < 0)
			return -1;
	}
	if (add_node(c, NODE_TEXT, 0, pos, c->len - pos) < 0)
		return -1;
	if (c->depth > 0) {
		char b[MUSTACHE_NAME_SHOWN + 4];
		const node *open = &c->t->nodes[c->open[c->depth - 1]];

		set_err(c->err, c->errlen, "%s: line %u: unclosed section \"%s\"", c->t->name, open->line,
		        shown(b, c->s + open->off, open->len));
		return -1;
	}
	return 0;
}

mustache *mustache_compile(const char *name, const char *src, size_t len, char *err, size_t errlen)
{
	compiler c = {.otag = "{{", .ctag = "}}", .olen = 2, .clen = 2, .line = 1, .err = err, .errlen = errlen};
	mustache *t = NULL;
	const char *nul;

	if (!name)
		name = "template";
	set_err(err, errlen, "%s", "");
	if (len > MUSTACHE_MAX_SOURCE) {
		set_err(err, errlen, "%s: template larger than 1 MiB (%zu bytes)", name, len);
		return NULL;
	}
	if (!src && len > 0) {
		set_err(err, errlen, "%s: no source", name);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->name = strdup(name)) || !(t->src = malloc(len + 1))) {
		set_err(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	if (len > 0)
		memcpy(t->src, src, len);
	t->src[len] = '\0';
	c.t = t;
	c.s = t->src;
	c.len = len;
	/* Text is text: a NUL would cut the rendered string short. */
	nul = memchr(t->src, '\0', len);
	if (nul) {
		set_err(err, errlen, "%s: line %u: NUL byte", name, line_at(&c, (size_t)(nul - t->src)));
		goto fail;
	}
	if (compile_all(&c) < 0)
		goto fail;
	return t;
fail:
	mustache_free(t);
	return NULL;
}

void mustache_free(mustache *t)
{
	if (!t)
		return;
	free(t->nodes);
	free(t->src);
	free(t->name);
	free(t);
}

char *mustache_read(const char *path, size_t *len, int *opened)
{
	struct stat st;
	char *text = strbuf_read_file(path, MUSTACHE_MAX_SOURCE, len, &st);

	if (opened)
		*opened = st.st_mode != 0;
	/* Any failed read is EIO (a directory's too), as it was when this read
	 * through stdio: callers show it. */
	if (!text && st.st_mode != 0 && errno != EFBIG && errno != ENOMEM)
		errno = EIO;
	return text;
}

/* ---- rendering ---- */

typedef struct partial_entry {
	char *name;
	char *indent;
	mustache *t;              /* NULL: not compiled (missing, or broken) */
	unsigned long missing_in; /* t NULL: the render the loader had none in (0: none yet) */
} partial_entry;

struct mustache_partials {
	mustache_partial_fn load; /* may be NULL */
	void *load_ctx;
	partial_entry *v;
	size_t n, cap;
	unsigned long renders; /* numbers the renders, from 1 */
};

typedef struct renderer {
	const char *name; /* the top template's, for messages */
	crier_escape esc;
	mustache_partials *partials;
	strbuf out;
	const json_t **stack; /* contexts, innermost last (borrowed) */
	size_t depth, stack_cap;
	unsigned partial_depth;
	long steps;
	char *err;
	size_t errlen;
} renderer;

static int out_reserve(renderer *r, size_t extra)
{
	if (extra > MUSTACHE_MAX_OUTPUT - r->out.len) {
		set_err(r->err, r->errlen, "%s: result larger than %d MiB", r->name, MUSTACHE_MAX_OUTPUT >> 20);
		return -1;
	}
	if (strbuf_reserve(&r->out, extra) < 0) {
		set_err(r->err, r->errlen, "%s: out of memory", r->name);
		return -1;
	}
	return 0;
}

static int out_add(renderer *r, const char *s, size_t n)
{
	if (out_reserve(r, n) < 0)
		return -1;
	memcpy(r->out.data + r->out.len, s, n);
	r->out.len += n;
	return 0;
}

/* A header line must never get a line break, or any other control. */
static void header_clean(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
}

/* s[0, n) escaped for esc (NONE when not escaping); a NUL, which the
 * result cannot carry, is left out (in a header, the final pass of
 * mustache_render() makes it a space like any control). */
static int out_value(renderer *r, const char *s, size_t n, crier_escape esc)
{
	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		char ch = s[i];

		/* Slack's own rule leaves quotes alone. */
		if (esc == CRIER_ESCAPE_HTML || (esc == CRIER_ESCAPE_SLACK && ch != '"' && ch != '\''))
			rep = text_html_entity(ch);
		if (rep) {
			if (out_add(r, rep, strlen(rep)) < 0)
				return -1;
		} else if (ch == '\0' && esc != CRIER_ESCAPE_HEADER) {
			continue;
		} else {
			size_t j = i + 1;

			/* A run of plain bytes goes in one copy. */
			while (j < n && s[j] != '\0' && s[j] != '&' && s[j] != '<' && s[j] != '>' && s[j] != '"' &&
			       s[j] != '\'')
				j++;
			if (out_add(r, s + i, j - i) < 0)
				return -1;
			i = j - 1;
		}
	}
	return 0;
}

/*
 * The shortest decimal that reads back as d (as JSON writers do), written
 * the way jansson writes reals: fixed notation from 1e-4 up to 1e17, with
 * ".0" on whole numbers; otherwise an exponent without '+' or leading zeros.
 */
static void format_real(double d, char *out, size_t size)
{
	char e[40];
	int prec, exp10;
	char *x;

	for (prec = 0; prec < DBL_DECIMAL_DIG; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, d);
		if (strtod(e, NULL) == d)
			break;
	}
	x = strchr(e, 'e');
	exp10 = x ? atoi(x + 1) : 0;
	if (exp10 >= -4 && exp10 < 17) {
		int decimals = prec - exp10 > 0 ? prec - exp10 : 0;

		snprintf(out, size, "%.*f%s", decimals, d, decimals == 0 ? ".0" : "");
		return;
	}
	snprintf(out, size, "%.*se%d", (int)(x - e), e, exp10);
}

static int out_scalar(renderer *r, const json_t *v, crier_escape esc)
{
	char num[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return out_value(r, json_string_value(v), json_string_length(v), esc);
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return out_add(r, num, strlen(num));
	case JSON_REAL:
		format_real(json_real_value(v), num, sizeof(num));
		return out_add(r, num, strlen(num));
	case JSON_TRUE:
		return out_add(r, "true", 4);
	default:
		return 0;
	}
}

/* How JSON writes a byte inside a string, or NULL when as itself. */
static const char *json_escape(unsigned char ch, char buf[8])
{
	switch (ch) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	default:
		if (ch >= 0x20)
			return NULL;
		snprintf(buf, 8, "\\u%04x", ch);
		return buf;
	}
}

/* s[0, n) as a JSON string. */
static int out_json_string(renderer *r, const char *s, size_t n)
{
	if (out_add(r, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char buf[8];
		const char *esc = json_escape((unsigned char)s[i], buf);

		if (esc ? out_add(r, esc, strlen(esc)) < 0 : out_add(r, s + i, 1) < 0)
			return -1;
	}
	return out_add(r, "\"", 1);
}

/* Compact JSON text of v, escaped for the output afterwards. */
static int out_json(renderer *r, const json_t *v, int depth)
{
	const char *key;
	json_t *item;
	size_t i;
	int first = 1;

	if (depth > MUSTACHE_MAX_JSON)
		return out_add(r, "null", 4);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (out_add(r, "{", 1) < 0)
			return -1;
		json_object_foreach((json_t *)v, key, item)
		{
			if ((!first && out_add(r, ",", 1) < 0) || out_json_string(r, key, strlen(key)) < 0 ||
			    out_add(r, ":", 1) < 0 || out_json(r, item, depth + 1) < 0)
				return -1;
			first = 0;
		}
		return out_add(r, "}", 1);
	case JSON_ARRAY:
		if (out_add(r, "[", 1) < 0)
			return -1;
		json_array_foreach(v, i, item)
		{
			if ((i > 0 && out_add(r, ",", 1) < 0) || out_json(r, item, depth + 1) < 0)
				return -1;
		}
		return out_add(r, "]", 1);
	case JSON_STRING:
		return out_json_string(r, json_string_value(v), json_string_length(v));
	case JSON_FALSE:
		return out_add(r, "false", 5);
	case JSON_NULL:
		return out_add(r, "null", 4);
	default:
		return out_scalar(r, v, CRIER_ESCAPE_NONE);
	}
}

static int out_interpolate(renderer *r, const json_t *v, crier_escape esc)
{
	size_t start = r->out.len;

	if (!v)
		return 0;
	if (!json_is_object(v) && !json_is_array(v))
		return out_scalar(r, v, esc);
	/* Written plain, then escaped from a copy: JSON text has quotes. */
	if (out_json(r, v, 0) < 0)
		return -1;
	if (esc != CRIER_ESCAPE_NONE) {
		size_t n = r->out.len - start;
		char *plain = malloc(n ? n : 1);
		int rc;

		if (!plain) {
			set_err(r->err, r->errlen, "%s: out of memory", r->name);
			return -1;
		}
		memcpy(plain, r->out.data + start, n);
		r->out.len = start;
		rc = out_value(r, plain, n, esc);
		free(plain);
		return rc;
	}
	return 0;
}

static int is_falsey(const json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_ARRAY:
		return json_array_size(v) == 0;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_INTEGER:
		return json_integer_value(v) == 0;
	case JSON_REAL:
		return json_real_value(v) == 0.0;
	case JSON_FALSE:
	case JSON_NULL:
		return 1;
	default:
		return 0;
	}
}

/* The first part is looked for from the innermost context out; the rest
 * only inside what it found (the specification's "Context Precedence"). */
static const json_t *lookup(const renderer *r, const char *name, size_t len)
{
	const json_t *v = NULL;
	const char *dot;
	size_t part;

	if (len == 1 && name[0] == '.')
		return r->stack[r->depth - 1];
	dot = memchr(name, '.', len);
	part = dot ? (size_t)(dot - name) : len;
	for (size_t d = r->depth; d-- > 0 && !v;)
		if (json_is_object(r->stack[d]))
			v = json_object_getn(r->stack[d], name, part);
	while (v && part < len) {
		name += part + 1;
		len -= part + 1;
		dot = memchr(name, '.', len);
		part = dot ? (size_t)(dot - name) : len;
		v = json_is_object(v) ? json_object_getn(v, name, part) : NULL;
	}
	return v;
}

static int push(renderer *r, const json_t *v)
{
	if (r->depth == r->stack_cap) {
		size_t cap = r->stack_cap * 2;
		const json_t **stack = realloc(r->stack, cap * sizeof(*stack));

		if (!stack) {
			set_err(r->err, r->errlen, "%s: out of memory", r->name);
			return -1;
		}
		r->stack = stack;
		r->stack_cap = cap;
	}
	r->stack[r->depth++] = v;
	return 0;
}

static int render_range(renderer *r, const mustache *t, size_t from, size_t to);

/* Every node and every list item is a step: an empty body still costs. */
static int step(renderer *r)
{
	if (++r->steps > MUSTACHE_MAX_STEPS) {
		set_err(r->err, r->errlen, "%s: too much to render (over %ld steps)", r->name, MUSTACHE_MAX_STEPS);
		return -1;
	}
	return 0;
}

static int render_section(renderer *r, const mustache *t, size_t i)
{
	const node *n = &t->nodes[i];
	const json_t *v = lookup(r, t->src + n->off, n->len);
	int rc = 0;

	if (is_falsey(v) != (n->kind == NODE_INVERTED))
		return 0;
	if (n->kind == NODE_INVERTED)
		return render_range(r, t, i + 1, n->end);
	if (json_is_array(v)) {
		for (size_t k = 0; k < json_array_size(v) && rc == 0; k++) {
			if (step(r) < 0 || push(r, json_array_get(v, k)) < 0)
				return -1;
			rc = render_range(r, t, i + 1, n->end);
			r->depth--;
		}
		return rc;
	}
	if (push(r, v) < 0)
		return -1;
	rc = render_range(r, t, i + 1, n->end);
	r->depth--;
	return rc;
}

/* The partial's source with indent in front of every line (but not after a
 * final line break), or NULL when that would not compile anyway. */
static char *indent_source(const char *src, const char *indent, size_t ind_len)
{
	size_t len = strlen(src), lines = 1, o = 0;
	char *out;

	for (size_t i = 0; i + 1 < len; i++)
		if (src[i] == '\n')
			lines++;
	if (len > MUSTACHE_MAX_SOURCE || ind_len > (MUSTACHE_MAX_SOURCE - len) / lines)
		return NULL;
	out = malloc(len + lines * ind_len + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (i == 0 || (src[i - 1] == '\n')) {
			memcpy(out + o, indent, ind_len);
			o += ind_len;
		}
		out[o++] = src[i];
	}
	out[o] = '\0';
	return out;
}

/*
 * A partial compiled already, or loaded and compiled now. One the loader
 * has not is asked for again in the next render, not in this one; one that
 * did not compile is asked for again at its next use (the render fails).
 */
static int partial_get(renderer *r, const char *name, const char *indent, mustache **t)
{
	mustache_partials *c = r->partials;
	partial_entry *e = NULL;
	char *src, *indented = NULL;
	char perr[256], disp[MUSTACHE_NAME_SHOWN + 4];

	*t = NULL;
	for (size_t i = 0; i < c->n && !e; i++)
		if (strcmp(c->v[i].name, name) == 0 && strcmp(c->v[i].indent, indent) == 0)
			e = &c->v[i];
	if (e && (e->t || e->missing_in == c->renders)) {
		*t = e->t;
		return 0;
	}
	if (!e) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 4;
			partial_entry *p = realloc(c->v, cap * sizeof(*p));

			if (!p)
				goto nomem;
			c->v = p;
			c->cap = cap;
		}
		e = &c->v[c->n];
		*e = (partial_entry){.name = strdup(name), .indent = strdup(indent)};
		if (!e->name || !e->indent) {
			free(e->name);
			free(e->indent);
			goto nomem;
		}
		c->n++;
	}
	e->missing_in = c->renders;
	src = c->load ? c->load(c->load_ctx, name) : NULL;
	if (!src)
		return 0;
	e->missing_in = 0;
	shown(disp, name, strlen(name));
	if (indent[0]) {
		indented = indent_source(src, indent, strlen(indent));
		if (!indented) {
			set_err(r->err, r->errlen, "%s: partial %s: too large once indented", r->name, disp);
			free(src);
			return -1;
		}
	}
	e->t = mustache_compile(disp, indented ? indented : src, strlen(indented ? indented : src), perr, sizeof(perr));
	free(src);
	free(indented);
	if (!e->t) {
		set_err(r->err, r->errlen, "%s: partial %s", r->name, perr);
		return -1;
	}
	*t = e->t;
	return 0;
nomem:
	set_err(r->err, r->errlen, "%s: out of memory", r->name);
	return -1;
}

static int render_partial(renderer *r, const mustache *t, const node *n)
{
	char *name = strndup(t->src + n->off, n->len);
	char *indent = strndup(t->src + n->ind_off, n->ind_len);
	mustache *p = NULL;
	char disp[MUSTACHE_NAME_SHOWN + 4];
	int rc = -1;

	if (!name || !indent) {
		set_err(r->err, r->errlen, "%s: out of memory", r->name);
		goto out;
	}
	if (r->partial_depth == MUSTACHE_MAX_PARTIALS) {
		set_err(r->err, r->errlen, "%s: partials nested deeper than %d (at \"%s\")", r->name,
		        MUSTACHE_MAX_PARTIALS, shown(disp, name, n->len));
		goto out;
	}
	if (partial_get(r, name, indent, &p) < 0)
		goto out;
	rc = 0;
	if (p) {
		r->partial_depth++;
		rc = render_range(r, p, 0, p->n);
		r->partial_depth--;
	}
out:
	free(name);
	free(indent);
	return rc;
}

static int render_range(renderer *r, const mustache *t, size_t from, size_t to)
{
	size_t i = from;

	while (i < to) {
		const node *n = &t->nodes[i];
		int rc = 0;

		if (step(r) < 0)
			return -1;
		switch (n->kind) {
		case NODE_TEXT:
			rc = out_add(r, t->src + n->off, n->len);
			break;
		case NODE_VAR:
			rc = out_interpolate(r, lookup(r, t->src + n->off, n->len), r->esc);
			break;
		case NODE_RAW:
			rc = out_interpolate(r, lookup(r, t->src + n->off, n->len), CRIER_ESCAPE_NONE);
			break;
		case NODE_SECTION:
		case NODE_INVERTED:
			rc = render_section(r, t, i);
			i = n->end;
			break;
		case NODE_PARTIAL:
			rc = render_partial(r, t, n);
			break;
		}
		if (rc < 0)
			return -1;
		if (n->kind != NODE_SECTION && n->kind != NODE_INVERTED)
			i++;
	}
	return 0;
}

mustache_partials *mustache_partials_new(mustache_partial_fn load, void *load_ctx)
{
	mustache_partials *c = calloc(1, sizeof(*c));

	if (c)
		*c = (mustache_partials){.load = load, .load_ctx = load_ctx};
	return c;
}

static void partials_clear(mustache_partials *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].name);
		free(c->v[i].indent);
		mustache_free(c->v[i].t);
	}
	free(c->v);
}

void mustache_partials_free(mustache_partials *c)
{
	if (!c)
		return;
	partials_clear(c);
	free(c);
}

char *mustache_render_cached(const mustache *t, const json_t *ctx, crier_escape esc, mustache_partials *partials,
                             char *err, size_t errlen)
{
	renderer r = {.esc = esc, .partials = partials, .err = err, .errlen = errlen};
	char *result = NULL;

	set_err(err, errlen, "%s", "");
	if (!t) {
		set_err(err, errlen, "no template");
		return NULL;
	}
	partials->renders++;
	r.name = t->name;
	r.stack_cap = 16;
	r.stack = malloc(r.stack_cap * sizeof(*r.stack));
	if (!r.stack) {
		set_err(err, errlen, "%s: out of memory", t->name);
		goto out;
	}
	r.stack[r.depth++] = ctx;
	if (render_range(&r, t, 0, t->n) < 0 || out_reserve(&r, 1) < 0)
		goto out;
	if (esc == CRIER_ESCAPE_HEADER)
		header_clean(r.out.data, r.out.len);
	result = strbuf_take(&r.out, NULL);
out:
	strbuf_free(&r.out);
	free(r.stack);
	return result;
}

char *mustache_render(const mustache *t, const json_t *ctx, crier_escape esc, mustache_partial_fn partials,
                      void *partials_ctx, char *err, size_t errlen)
{
	mustache_partials once = {.load = partials, .load_ctx = partials_ctx};
	char *result = mustache_render_cached(t, ctx, esc, &once, err, errlen);

	partials_clear(&once);
	return result;
}
