/*
 * The Markdown subset of markdown.h. Two passes, as CommonMark does: lines
 * into blocks (headings, fences, lists, paragraphs), then each block's text
 * into inline tokens (text, code spans, links, runs of * and _), whose
 * emphasis is paired with CommonMark's delimiter stack. Every pass is
 * linear in the input, so a hostile document costs no more than a long one.
 *
 * Safety does not rest on the parser being right: every byte of input
 * reaches the output through put_escaped() or as a URL that passed
 * url_allowed(); tags come only from string literals here.
 */
#include "markdown.h"

#include "ingest_util.h"
#include "strbuf.h"
#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST_DEPTH 8  /* deeper items stay at the eighth level */
#define MAX_CODE_RUN   64 /* a longer run of backticks never opens a code span */

/* ---- output ------------------------------------------------------------------ */

/* Text as HTML text or attribute value. newline_as: what '\n' becomes. */
static void put_text(strbuf *b, const char *s, size_t n, const char *newline_as)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep = s[i] == '\0'   ? "\xEF\xBF\xBD" /* U+FFFD: a NUL would end the string */
		                  : s[i] == '\n' ? newline_as
		                                 : text_html_entity(s[i]);
		if (!rep)
			continue;
		strbuf_add(b, s + start, i - start);
		strbuf_addstr(b, rep);
		start = i + 1;
	}
	strbuf_add(b, s + start, n - start);
}

static void put_escaped(strbuf *b, const char *s, size_t n)
{
	put_text(b, s, n, "\n");
}

/* ---- characters ---------------------------------------------------------------- */

static int is_punct(unsigned char c)
{
	return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_blank_char(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- inline ---------------------------------------------------------------------- */

enum { T_TEXT, T_CODE, T_DELIM, T_LINK_OPEN, T_LINK_CLOSE };

typedef struct tok {
	int kind;
	size_t s, n; /* the text, code content, delimiter run, or (T_LINK_OPEN) the URL */
	char ch;     /* T_DELIM: '*' or '_' */
	int can_open, can_close;
	size_t front, back;      /* delimiter characters used to close (from the front) and to open (from the back) */
	int below;               /* the next token down the delimiter stack, -1 = none */
	int opens;               /* matches opened here, latest first (outermost first), -1 = none */
	int closes, closes_tail; /* matches closed here, in order (innermost first) */
} tok;

typedef struct match {
	int strong;
	int next_open, next_close;
} match;

typedef struct inl {
	const char *s;
	size_t n;
	size_t *run_pos, *run_len; /* every run of backticks, in order */
	int *run_next;             /* the next run of the same length, -1 = none */
	size_t n_runs, cap_runs;
	tok *t;
	size_t nt, cap_t;
	match *m;
	size_t nm, cap_m;
	int oom;
} inl;

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t cap2 = *cap ? *cap * 2 : 32;
	while (cap2 < need)
		cap2 *= 2;
	void *q = realloc(*p, cap2 * size);
	if (!q)
		return -1;
	*p = q;
	*cap = cap2;
	return 0;
}

static tok *add_tok(inl *x, int kind, size_t s, size_t n)
{
	if (x->oom || grow((void **)&x->t, &x->cap_t, x->nt + 1, sizeof(tok)) < 0) {
		x->oom = 1;
		return NULL;
	}
	tok *t = &x->t[x->nt++];
	*t = (tok){.kind = kind, .s = s, .n = n, .below = -1, .opens = -1, .closes = -1, .closes_tail = -1};
	return t;
}

static void add_text(inl *x, size_t from, size_t to)
{
	if (to > from)
		add_tok(x, T_TEXT, from, to - from);
}

/*
 * Backtick runs, found once for the whole text so that pairing them costs
 * no rescans. A backslash-escaped backtick is not part of a run; the
 * tokenizer skips escapes the same way, so it only ever asks for runs
 * found here.
 */
static void find_runs(inl *x)
{
	for (size_t i = 0; i < x->n && !x->oom;) {
		if (x->s[i] == '\\' && i + 1 < x->n && is_punct((unsigned char)x->s[i + 1])) {
			i += 2;
			continue;
		}
		if (x->s[i] != '`') {
			i++;
			continue;
		}
		size_t j = i;
		while (j < x->n && x->s[j] == '`')
			j++;
		if (grow((void **)&x->run_pos, &x->cap_runs, x->n_runs + 1, sizeof(size_t)) < 0) {
			x->oom = 1;
			return;
		}
		x->run_pos[x->n_runs++] = i;
		i = j;
	}
	if (x->oom || x->n_runs == 0)
		return;
	x->run_len = malloc(x->n_runs * sizeof(size_t));
	x->run_next = malloc(x->n_runs * sizeof(int));
	if (!x->run_len || !x->run_next) {
		x->oom = 1;
		return;
	}
	int last[MAX_CODE_RUN + 1];
	for (size_t l = 0; l <= MAX_CODE_RUN; l++)
		last[l] = -1;
	for (size_t k = x->n_runs; k-- > 0;) {
		size_t j = x->run_pos[k];
		while (j < x->n && x->s[j] == '`')
			j++;
		x->run_len[k] = j - x->run_pos[k];
		x->run_next[k] = -1;
		if (x->run_len[k] <= MAX_CODE_RUN) {
			x->run_next[k] = last[x->run_len[k]];
			last[x->run_len[k]] = (int)k;
		}
	}
}

/* The run starting at pos, or -1. */
static int run_at(const inl *x, size_t pos)
{
	size_t lo = 0, hi = x->n_runs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->run_pos[mid] < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->n_runs && x->run_pos[lo] == pos ? (int)lo : -1;
}

static int url_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f && !strchr("<>\"()[]`\\", c);
}

static int has_prefix_ci(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != prefix[i])
			return 0;
	}
	return 1;
}

/* Only these schemes become links: never javascript:, data:, or a path. */
static int url_allowed(const char *u, size_t n)
{
	static const char *const schemes[] = {"http://", "https://", "mailto:"};
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (n > strlen(schemes[i]) && has_prefix_ci(u, n, schemes[i]))
			return 1;
	return 0;
}

/*
 * A link [text](url) starting at the '[' at i, within [i, hi): its text
 * ends at *close (the ']'), its URL is [*url, *url_end). The text holds no
 * unescaped '[', so links never nest and every '[' is scanned past once.
 */
static int link_at(const inl *x, size_t i, size_t hi, size_t *close, size_t *url, size_t *url_end)
{
	const char *s = x->s;
	size_t k = i + 1;
	while (k < hi && s[k] != ']') {
		if (s[k] == '[')
			return 0;
		k += (s[k] == '\\' && k + 1 < hi && is_punct((unsigned char)s[k + 1])) ? 2 : 1;
	}
	if (k + 1 >= hi || s[k + 1] != '(')
		return 0;
	size_t u = k + 2;
	while (u < hi && url_char((unsigned char)s[u]))
		u++;
	if (u >= hi || s[u] != ')' || !url_allowed(s + k + 2, u - (k + 2)))
		return 0;
	*close = k;
	*url = k + 2;
	*url_end = u;
	return 1;
}

static void add_delim(inl *x, size_t i, size_t len, char c)
{
	/* The text around the run, as CommonMark's flanking rules read it. */
	unsigned char before = i > 0 ? (unsigned char)x->s[i - 1] : ' ';
	unsigned char after = i + len < x->n ? (unsigned char)x->s[i + len] : ' ';
	int left = !is_space(after) && (!is_punct(after) || is_space(before) || is_punct(before));
	int right = !is_space(before) && (!is_punct(before) || is_space(after) || is_punct(after));
	tok *t = add_tok(x, T_DELIM, i, len);
	if (!t)
		return;
	t->ch = c;
	/* An underscore inside a word (snake_case_names) is not emphasis. */
	t->can_open = c == '*' ? left : left && (!right || is_punct(before));
	t->can_close = c == '*' ? right : right && (!left || is_punct(after));
}

static void tokenize(inl *x, size_t lo, size_t hi, int in_link)
{
	const char *s = x->s;
	size_t text = lo, i = lo;
	while (i < hi && !x->oom) {
		char c = s[i];
		if (c == '\\' && i + 1 < hi && is_punct((unsigned char)s[i + 1])) {
			add_text(x, text, i);
			add_tok(x, T_TEXT, i + 1, 1);
			i += 2;
			text = i;
		} else if (c == '`') {
			int r = run_at(x, i);
			size_t len = r >= 0 ? x->run_len[r] : 1;
			int k = r >= 0 ? x->run_next[r] : -1;
			if (k >= 0 && x->run_pos[k] + x->run_len[k] <= hi) {
				add_text(x, text, i);
				add_tok(x, T_CODE, i + len, x->run_pos[k] - (i + len));
				i = x->run_pos[k] + len;
				text = i;
			} else {
				i += len; /* no closing run: the backticks are text */
			}
		} else if (c == '*' || c == '_') {
			size_t j = i;
			while (j < hi && s[j] == c)
				j++;
			add_text(x, text, i);
			add_delim(x, i, j - i, c);
			i = j;
			text = i;
		} else if (c == '[' && !in_link) {
			size_t close, url, url_end;
			if (link_at(x, i, hi, &close, &url, &url_end)) {
				add_text(x, text, i);
				add_tok(x, T_LINK_OPEN, url, url_end - url);
				tokenize(x, i + 1, close, 1);
				add_tok(x, T_LINK_CLOSE, 0, 0);
				i = url_end + 1;
				text = i;
			} else {
				i++;
			}
		} else {
			i++;
		}
	}
	add_text(x, text, hi);
}

static size_t left_of(const tok *t)
{
	return t->n - t->front - t->back;
}

static void add_match(inl *x, int opener, int closer, int strong)
{
	if (grow((void **)&x->m, &x->cap_m, x->nm + 1, sizeof(match)) < 0) {
		x->oom = 1;
		return;
	}
	int id = (int)x->nm++;
	tok *o = &x->t[opener], *c = &x->t[closer];
	x->m[id] = (match){.strong = strong, .next_open = o->opens, .next_close = -1};
	o->opens = id;
	if (c->closes_tail >= 0)
		x->m[c->closes_tail].next_close = id;
	else
		c->closes = id;
	c->closes_tail = id;
	size_t use = strong ? 2 : 1;
	o->back += use;
	c->front += use;
}

/*
 * Pair the delimiter runs of tokens [lo, hi) (CommonMark's "process
 * emphasis", without its rule of three). The stack is linked through
 * tok.below and ordered by token index, so bottom[] (per character, the
 * highest index known to hold no opener for it) is never searched past
 * again: each token is looked at a bounded number of times. A link's text
 * is a level of its own.
 */
static void emphasis(inl *x, size_t lo, size_t hi)
{
	int top = -1, bottom[2] = {-1, -1};
	for (size_t j = lo; j < hi && !x->oom; j++) {
		tok *t = &x->t[j];
		if (t->kind == T_LINK_OPEN) {
			size_t end = j + 1;
			while (end < hi && x->t[end].kind != T_LINK_CLOSE)
				end++;
			emphasis(x, j + 1, end);
			j = end;
			continue;
		}
		if (t->kind != T_DELIM)
			continue;
		int ci = t->ch == '_';
		while (t->can_close && left_of(t) > 0 && !x->oom) {
			int k = top;
			while (k >= 0 && k > bottom[ci] && x->t[k].ch != t->ch)
				k = x->t[k].below;
			if (k < 0 || k <= bottom[ci]) {
				bottom[ci] = top;
				break;
			}
			add_match(x, k, (int)j, left_of(&x->t[k]) >= 2 && left_of(t) >= 2);
			/* Runs between the pair can no longer match anything. */
			top = left_of(&x->t[k]) > 0 ? k : x->t[k].below;
		}
		if (t->can_open && left_of(t) > 0) {
			t->below = top;
			top = (int)j;
		}
	}
}

static void put_code(strbuf *b, const char *s, size_t n)
{
	/* One space on each side pads content that starts or ends with a backtick. */
	if (n >= 2 && s[0] == ' ' && s[n - 1] == ' ') {
		size_t k = 0;
		while (k < n && s[k] == ' ')
			k++;
		if (k < n) {
			s++;
			n -= 2;
		}
	}
	strbuf_addstr(b, "<code>");
	put_text(b, s, n, " ");
	strbuf_addstr(b, "</code>");
}

static void render_tokens(const inl *x, strbuf *b)
{
	for (size_t i = 0; i < x->nt; i++) {
		const tok *t = &x->t[i];
		switch (t->kind) {
		case T_TEXT:
			put_escaped(b, x->s + t->s, t->n);
			break;
		case T_CODE:
			put_code(b, x->s + t->s, t->n);
			break;
		case T_LINK_OPEN:
			strbuf_addstr(b, "<a href=\"");
			put_escaped(b, x->s + t->s, t->n);
			strbuf_addstr(b, "\">");
			break;
		case T_LINK_CLOSE:
			strbuf_addstr(b, "</a>");
			break;
		case T_DELIM:
			for (int m = t->closes; m >= 0; m = x->m[m].next_close)
				strbuf_addstr(b, x->m[m].strong ? "</strong>" : "</em>");
			for (size_t k = 0; k < left_of(t); k++)
				strbuf_addch(b, t->ch);
			for (int m = t->opens; m >= 0; m = x->m[m].next_open)
				strbuf_addstr(b, x->m[m].strong ? "<strong>" : "<em>");
			break;
		}
	}
}

/* Inline Markdown of s (n bytes) into b. */
static void render_inline(strbuf *b, const char *s, size_t n)
{
	inl x = {.s = s, .n = n};
	find_runs(&x);
	if (!x.oom)
		tokenize(&x, 0, n, 0);
	if (!x.oom)
		emphasis(&x, 0, x.nt);
	if (!x.oom)
		render_tokens(&x, b);
	else
		b->failed = 1;
	free(x.run_pos);
	free(x.run_len);
	free(x.run_next);
	free(x.t);
	free(x.m);
}

/* ---- blocks ------------------------------------------------------------------------ */

enum { TEXT_NONE, TEXT_PARAGRAPH, TEXT_ITEM };

typedef struct list_level {
	int ordered;
	size_t indent;  /* column of the first item's marker */
	size_t content; /* column where the current item's text starts */
} list_level;

typedef struct md {
	const char *s;
	size_t n, pos;
	int offset;
	strbuf out;
	strbuf text;   /* the lines of the paragraph or list item being read */
	int text_kind; /* TEXT_* */
	int blank;     /* a blank line came after the last list item */
	list_level lists[MAX_LIST_DEPTH];
	int depth;
} md;

typedef struct line {
	const char *s;
	size_t n;
} line;

static int next_line(md *m, line *l)
{
	if (m->pos >= m->n)
		return 0;
	const char *start = m->s + m->pos;
	const char *nl = memchr(start, '\n', m->n - m->pos);
	size_t len = nl ? (size_t)(nl - start) : m->n - m->pos;
	m->pos += len + (nl ? 1 : 0);
	if (len > 0 && start[len - 1] == '\r')
		len--;
	*l = (line){start, len};
	return 1;
}

/* Leading blanks: bytes in *skip, columns (tabs to the next multiple of 4) returned. */
static size_t indent_of(const line *l, size_t *skip)
{
	size_t i = 0, col = 0;
	while (i < l->n && is_blank_char(l->s[i])) {
		col = l->s[i] == '\t' ? (col / 4 + 1) * 4 : col + 1;
		i++;
	}
	*skip = i;
	return col;
}

static int is_blank_line(const line *l)
{
	size_t skip;
	indent_of(l, &skip);
	return skip == l->n;
}

/* The paragraph or item text gathered so far goes out. */
static void flush_text(md *m)
{
	if (m->text_kind == TEXT_PARAGRAPH) {
		strbuf_addstr(&m->out, "<p>");
		render_inline(&m->out, m->text.data, m->text.len);
		strbuf_addstr(&m->out, "</p>\n");
	} else if (m->text_kind == TEXT_ITEM) {
		render_inline(&m->out, m->text.data, m->text.len);
	}
	m->text.len = 0;
	m->text_kind = TEXT_NONE;
}

static void add_line_text(md *m, int kind, const char *s, size_t n)
{
	if (m->text_kind != TEXT_NONE && m->text.len > 0)
		strbuf_addch(&m->text, '\n');
	m->text_kind = kind;
	strbuf_add(&m->text, s, n);
}

static void close_one_list(md *m)
{
	m->depth--;
	strbuf_addstr(&m->out, m->lists[m->depth].ordered ? "</li>\n</ol>\n" : "</li>\n</ul>\n");
}

static void close_lists(md *m)
{
	flush_text(m);
	while (m->depth > 0)
		close_one_list(m);
	m->blank = 0;
}

static int fence_open(const line *l, char *ch, size_t *len, size_t *indent)
{
	size_t i = 0;
	while (i < l->n && i < 3 && l->s[i] == ' ')
		i++;
	if (i >= l->n || (l->s[i] != '`' && l->s[i] != '~'))
		return 0;
	size_t j = i;
	while (j < l->n && l->s[j] == l->s[i])
		j++;
	/* An info string with a backtick is inline code, not a fence. */
	if (j - i < 3 || (l->s[i] == '`' && memchr(l->s + j, '`', l->n - j)))
		return 0;
	*ch = l->s[i];
	*len = j - i;
	*indent = i;
	return 1;
}

static int fence_close(const line *l, char ch, size_t len)
{
	size_t i = 0;
	while (i < l->n && i < 3 && l->s[i] == ' ')
		i++;
	size_t j = i;
	while (j < l->n && l->s[j] == ch)
		j++;
	if (j - i < len)
		return 0;
	while (j < l->n && is_blank_char(l->s[j]))
		j++;
	return j == l->n;
}

static void code_block(md *m, char ch, size_t len, size_t indent)
{
	line l;
	close_lists(m);
	strbuf_addstr(&m->out, "<pre><code>");
	while (next_line(m, &l) && !fence_close(&l, ch, len)) {
		/* Content is indented like its fence in the source; that much goes. */
		size_t k = 0;
		while (k < indent && k < l.n && l.s[k] == ' ')
			k++;
		put_escaped(&m->out, l.s + k, l.n - k);
		strbuf_addch(&m->out, '\n');
	}
	strbuf_addstr(&m->out, "</code></pre>\n");
}

static int heading(const line *l, int *level, size_t *from, size_t *to)
{
	const char *s = l->s;
	size_t i = 0, n = l->n;
	while (i < n && i < 3 && s[i] == ' ')
		i++;
	size_t h = 0;
	while (i + h < n && s[i + h] == '#')
		h++;
	if (h < 1 || h > 6 || (i + h < n && !is_blank_char(s[i + h])))
		return 0;
	size_t j = i + h, e = n;
	while (j < n && is_blank_char(s[j]))
		j++;
	while (e > j && is_blank_char(s[e - 1]))
		e--;
	/* A closing run of #, when a blank stands before it. */
	size_t c = e;
	while (c > j && s[c - 1] == '#')
		c--;
	if (c == j || is_blank_char(s[c - 1])) {
		e = c;
		while (e > j && is_blank_char(s[e - 1]))
			e--;
	}
	*level = (int)h;
	*from = j;
	*to = e;
	return 1;
}

typedef struct item {
	int ordered;
	long start;
	size_t indent, content; /* columns of the marker and of the text */
	size_t text;            /* byte offset of the text in the line */
} item;

static int list_item(const line *l, item *it)
{
	size_t i;
	const char *s = l->s;
	size_t col = indent_of(l, &i), mlen;
	if (i < l->n && (s[i] == '-' || s[i] == '*' || s[i] == '+')) {
		it->ordered = 0;
		it->start = 1;
		mlen = 1;
	} else {
		size_t d = 0;
		long v = 0;
		while (i + d < l->n && d < 9 && s[i + d] >= '0' && s[i + d] <= '9')
			v = v * 10 + (s[i + d++] - '0');
		if (d == 0 || i + d >= l->n || (s[i + d] != '.' && s[i + d] != ')'))
			return 0;
		it->ordered = 1;
		it->start = v;
		mlen = d + 1;
	}
	size_t after = i + mlen;
	if (after < l->n && !is_blank_char(s[after]))
		return 0;
	it->indent = col;
	it->content = col + mlen + 1;
	while (after < l->n && is_blank_char(s[after]))
		after++;
	it->text = after;
	return 1;
}

static void open_list(md *m, const item *it)
{
	if (it->ordered && it->start != 1)
		strbuf_addf(&m->out, "<ol start=\"%ld\">\n<li>", it->start);
	else
		strbuf_addstr(&m->out, it->ordered ? "<ol>\n<li>" : "<ul>\n<li>");
	m->lists[m->depth++] = (list_level){.ordered = it->ordered, .indent = it->indent, .content = it->content};
}

/*
 * An item line. Indented to the current item's text or further, it starts
 * a list inside that item; less indented than its list, it closes lists
 * until one is as shallow; another kind of marker starts a new list.
 */
static void list_line(md *m, const line *l, const item *it)
{
	flush_text(m);
	m->blank = 0;
	if (m->depth == 0) {
		open_list(m, it);
	} else if (it->indent >= m->lists[m->depth - 1].content && m->depth < MAX_LIST_DEPTH) {
		open_list(m, it);
	} else {
		while (m->depth > 1 && it->indent < m->lists[m->depth - 1].indent)
			close_one_list(m);
		list_level *top = &m->lists[m->depth - 1];
		if (top->ordered != it->ordered) {
			close_one_list(m);
			open_list(m, it);
		} else {
			strbuf_addstr(&m->out, "</li>\n<li>");
			top->content = it->content;
		}
	}
	add_line_text(m, TEXT_ITEM, l->s + it->text, l->n - it->text);
}

static void text_line(md *m, const line *l)
{
	size_t skip;
	indent_of(l, &skip);
	/* A line right after an item continues it; after a blank line it starts a paragraph. */
	if (m->depth > 0 && (m->blank || m->text_kind != TEXT_ITEM))
		close_lists(m);
	add_line_text(m, m->depth > 0 ? TEXT_ITEM : TEXT_PARAGRAPH, l->s + skip, l->n - skip);
}

char *markdown_html(const char *src, size_t len, int heading_offset)
{
	md m = {.s = src, .n = len, .offset = heading_offset < 0 ? 0 : heading_offset > 5 ? 5 : heading_offset};
	line l;
	while (!m.out.failed && !m.text.failed && next_line(&m, &l)) {
		char ch;
		size_t flen, findent, from, to;
		int level;
		item it;
		if (is_blank_line(&l)) {
			flush_text(&m);
			m.blank = m.depth > 0;
		} else if (fence_open(&l, &ch, &flen, &findent)) {
			code_block(&m, ch, flen, findent);
		} else if (heading(&l, &level, &from, &to)) {
			close_lists(&m);
			flush_text(&m);
			level = level + m.offset > 6 ? 6 : level + m.offset;
			strbuf_addf(&m.out, "<h%d>", level);
			render_inline(&m.out, l.s + from, to - from);
			strbuf_addf(&m.out, "</h%d>\n", level);
		} else if (list_item(&l, &it)) {
			list_line(&m, &l, &it);
		} else {
			text_line(&m, &l);
		}
	}
	close_lists(&m);
	flush_text(&m);
	if (m.text.failed)
		m.out.failed = 1;
	strbuf_free(&m.text);
	return strbuf_take(&m.out, NULL); /* "" when there is nothing to say: still a string */
}

/* ---- checks and quoting ------------------------------------------------------------- */

int markdown_check(const char *s, size_t len, size_t max, const char *what, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)s;
	if (len == 0) {
		snprintf(err, errlen, "%.200s is empty", what);
		return -1;
	}
	if (len > max) {
		snprintf(err, errlen, "%.200s is %zu bytes, over the limit of %zu bytes (%zu KiB)", what, len, max,
		         max / 1024);
		return -1;
	}
	for (size_t i = 0; i < len;) {
		size_t k = ingest_util_utf8_char(p + i, len - i);
		if (k == 0) {
			snprintf(err, errlen, "%.200s is not UTF-8 text (byte 0x%02x at offset %zu)", what, p[i], i);
			return -1;
		}
		/* C0 and C1 controls but tab, LF and CR: a terminal or a page would act on them. */
		if ((k == 1 && ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') || p[i] == 0x7f)) ||
		    (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			snprintf(err, errlen,
			         "%.200s holds a control character (byte 0x%02x at offset %zu); a post-mortem is "
			         "plain text",
			         what, p[i + (k - 1)], i);
			return -1;
		}
		i += k;
	}
	return 0;
}

char *markdown_literal(const char *s)
{
	strbuf b = STRBUF_INIT;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n' || c == '\r' || c == '\t')
			strbuf_addch(&b, ' ');
		else if (c < 0x20 || c == 0x7f)
			continue;
		else if (strchr("\\`*_[]<>", c)) {
			char esc[2] = {'\\', (char)c};
			strbuf_add(&b, esc, 2);
		} else {
			strbuf_addch(&b, *p);
		}
	}
	return strbuf_take(&b, NULL);
}
