/*
 * Alertmanager webhook (version "4") -> normalized alerts.
 *
 * The body is read in one pass with core/json_reader.h, building only the
 * alerts (a 3 KB body of 10 alerts as a jansson document took ~60% of
 * crierd's instructions per request: tests/bench/ingest_driver.c). The
 * answers are those of parsing the whole document first and checking it
 * after, which is how this parser was written before:
 * - any JSON error wins over every other refusal, in jansson's words
 *   (docs/bad-input.md lists them): on one, the body is handed to
 *   ingest_util_parse() for the message, a cold path;
 * - then "body", "version", "alerts" in that order, wherever they stand in
 *   the body, then the first bad alert; within an alert its fields in the
 *   order below (status, labels, annotations, startsAt, endsAt,
 *   generatorURL), whatever order they come in.
 */
#include "ingest.h"
#include "ingest_util.h"
#include "json_reader.h"
#include "timefmt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME  0x100000001b3ULL

/* Room for one refusal: core/ingest.h bounds what a message quotes. */
#define AM_MSG 256

/* How reading a part of the body went. */
enum { AM_OK = 0, AM_SYNTAX = -1, AM_OOM = -2 };

/* An alert's fields, in the order their refusals are reported. */
enum { AM_STATUS, AM_LABELS, AM_ANNOTATIONS, AM_STARTS, AM_ENDS, AM_LINK, AM_FIELDS };

/* Strings every alert of a request shares rather than copies. */
typedef struct am_shared {
	json_t *source, *firing, *resolved, *empty;
	ingest_cache *cache; /* borrowed, may be NULL */
	alert_heads *heads;  /* borrowed, may be NULL: the alerts' heads go here */
} am_shared;

/* Append an alert's head to the caller's. Heads are an aid, not part of
 * the answer: out of memory, the caller gets none (and makes its own). */
static void am_add_head(am_shared *sh, const alert_head *h)
{
	if (sh->heads && alert_heads_add(sh->heads, h) < 0) {
		sh->heads->n = 0;
		sh->heads = NULL;
	}
}

/* Made at the first alert actually read: with the workers' cache, most
 * requests read none. 0, or -1 out of memory. */
static int am_shared_ready(am_shared *sh)
{
	if (!sh->source && !(sh->source = json_string("alertmanager")))
		return -1;
	if (!sh->firing && !(sh->firing = json_string("firing")))
		return -1;
	if (!sh->resolved && !(sh->resolved = json_string("resolved")))
		return -1;
	if (!sh->empty && !(sh->empty = json_string("")))
		return -1;
	return 0;
}

/* One alert as read, checked when its object closes. */
typedef struct am_alert {
	size_t index;
	char msg[AM_FIELDS][AM_MSG]; /* the refusal found for each field, or "" */
	int status;                  /* 1 firing, 2 resolved, 0 absent, null or another word */
	int have_labels;
	json_t *labels, *annotations, *link; /* new, or NULL */
	int64_t starts_at, ends_at;
	char key[17]; /* the fingerprint as sent, when it was one */
} am_alert;

static uint64_t fnv1a_add(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV64_PRIME;
	}
	return h;
}

static uint64_t fnv1a_byte(uint64_t h, unsigned char b)
{
	h ^= b;
	return h * FNV64_PRIME;
}

typedef struct am_label {
	const char *name, *value;
	size_t nlen, vlen;
} am_label;

/* Byte order of names, as Go's sort.Strings (names hold no NUL). */
static int am_cmp_labels(const void *a, const void *b)
{
	const am_label *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->nlen < y->nlen ? x->nlen : y->nlen);

	return c ? c : (x->nlen > y->nlen) - (x->nlen < y->nlen);
}

static void am_hex16(uint64_t h, char out[17])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--, h >>= 4)
		out[i] = digits[h & 0xf];
	out[16] = '\0';
}

/*
 * Prometheus' model.LabelSet.Fingerprint(): FNV-1a 64 over the label names in
 * byte order, each as "name 0xFF value 0xFF". Matching it keeps our key equal
 * to the one Alertmanager prints, whether or not it sent one.
 */
static int am_fingerprint(const json_t *labels, char out[17])
{
	am_label stack[64], *l = stack;
	size_t n = json_object_size(labels), i = 0, nlen;
	uint64_t h = FNV64_OFFSET;
	const char *name;
	json_t *val;

	if (n > sizeof(stack) / sizeof(stack[0]) && !(l = malloc(n * sizeof(*l))))
		return -1;
	json_object_keylen_foreach((json_t *)labels, name, nlen, val)
	{
		l[i++] = (am_label){name, json_string_value(val), nlen, json_string_length(val)};
	}
	/* Label sets are small: insertion sort, qsort only for big ones. */
	if (n > 16) {
		qsort(l, n, sizeof(*l), am_cmp_labels);
	} else {
		for (i = 1; i < n; i++) {
			am_label x = l[i];
			size_t j = i;

			for (; j > 0 && am_cmp_labels(&l[j - 1], &x) > 0; j--)
				l[j] = l[j - 1];
			l[j] = x;
		}
	}
	for (i = 0; i < n; i++) {
		h = fnv1a_add(h, l[i].name, l[i].nlen);
		h = fnv1a_byte(h, 0xff);
		h = fnv1a_add(h, l[i].value, l[i].vlen);
		h = fnv1a_byte(h, 0xff);
	}
	if (l != stack)
		free(l);
	am_hex16(h, out);
	return 0;
}

/* A fingerprint as Alertmanager prints it: 16 hex digits (kept lowercase). */
static int am_take_fingerprint(const char *fp, size_t len, char out[17])
{
	if (len != 16)
		return -1;
	for (int i = 0; i < 16; i++) {
		char c = fp[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		out[i] = c;
	}
	out[16] = '\0';
	return 0;
}

static int am_key_is(const char *k, size_t klen, const char *name)
{
	size_t n = strlen(name);

	return klen == n && memcmp(k, name, n) == 0;
}

/* "alerts[i]", for messages only: formatted when something is refused. */
static const char *am_where(char buf[32], size_t index)
{
	snprintf(buf, 32, "alerts[%zu]", index);
	return buf;
}

/*
 * An optional string member at the cursor, as ingest_util_opt_string takes
 * one: 1 with *s (borrowed from the reader) when it is a string; AM_OK when
 * it is null, or another type, refused in msg as "not a string"; AM_SYNTAX.
 */
static int am_opt_string(json_reader *r, const am_alert *a, const char *field, char *msg, const char **s, size_t *n)
{
	char where[32];

	switch (json_reader_peek(r)) {
	case JSON_READER_STRING:
		return json_reader_string(r, s, n) < 0 ? AM_SYNTAX : 1;
	case JSON_READER_NULL:
		break;
	default:
		snprintf(msg, AM_MSG, "%s.%s: not a string", am_where(where, a->index), field);
		break;
	}
	return json_reader_skip(r) < 0 ? AM_SYNTAX : AM_OK;
}

/*
 * labels or annotations at the cursor -> *obj (new, replacing what it held;
 * NULL when refused, or for a null annotations). Refusals go to msg as
 * alert_check_kv words them: the count before the first bad member.
 */
static int am_read_kv(json_reader *r, const alert_limits *lim, const am_alert *a, const char *what, json_t **obj,
                      char *msg)
{
	json_reader_type t = json_reader_peek(r);
	const char *k, *s = NULL;
	size_t klen, slen = 0, n = 0;
	char where[32];
	json_t *o, *v;
	int more;

	/* A key repeated in a big object is refused only when it closes. */
	json_decref(*obj);
	*obj = NULL;
	if (t != JSON_READER_OBJECT) {
		if (!(t == JSON_READER_NULL && strcmp(what, "annotations") == 0))
			alert_check_kv_type(0, am_where(where, a->index), what, msg, AM_MSG);
		return json_reader_skip(r) < 0 ? AM_SYNTAX : AM_OK;
	}
	if (json_reader_object_enter(r) < 0)
		return AM_SYNTAX;
	if (!(o = json_object()))
		return AM_OOM;
	while ((more = json_reader_object_next(r, &k, &klen)) == 1) {
		int is_string = json_reader_peek(r) == JSON_READER_STRING;

		n++;
		if (is_string && json_reader_string(r, &s, &slen) < 0)
			break;
		if ((klen == 0 || klen > lim->max_name_len || !is_string || slen > lim->max_value_len) && !msg[0])
			alert_check_kv_member(k, klen, is_string, slen, lim, am_where(where, a->index), what, msg,
			                      AM_MSG);
		if (o && (msg[0] || n > lim->max_labels)) {
			json_decref(o);
			o = NULL;
		}
		if (!is_string) {
			if (json_reader_skip(r) < 0)
				break;
			continue;
		}
		/* The reader checked the UTF-8 and refuses repeated keys. */
		if (o && (!(v = json_stringn_nocheck(s, slen)) || json_object_setn_new_nocheck(o, k, klen, v) < 0)) {
			json_decref(o);
			return AM_OOM;
		}
	}
	if (more != 0) {
		json_decref(o);
		return AM_SYNTAX;
	}
	if (n > lim->max_labels)
		alert_check_kv_count(n, lim, am_where(where, a->index), what, msg, AM_MSG);
	*obj = o;
	return AM_OK;
}

/* startsAt or endsAt at the cursor: absent and null are 0. */
static int am_read_time(json_reader *r, const am_alert *a, const char *field, int64_t *ms, char *msg)
{
	char where[32], echo[INGEST_UTIL_ECHO_MAX + 1];
	const char *s;
	size_t n;
	int rc = am_opt_string(r, a, field, msg, &s, &n);

	if (rc != 1)
		return rc;
	if (timefmt_parse_rfc3339n(s, n, ms) != 0)
		snprintf(msg, AM_MSG, "%s.%s: \"%s\" is not an RFC 3339 time", am_where(where, a->index), field,
		         ingest_util_echo(echo, sizeof(echo), s, n));
	return AM_OK;
}

static int am_read_status(json_reader *r, am_alert *a)
{
	const char *s;
	size_t n;
	int rc = am_opt_string(r, a, "status", a->msg[AM_STATUS], &s, &n);

	if (rc != 1)
		return rc;
	a->status = am_key_is(s, n, "firing") ? 1 : am_key_is(s, n, "resolved") ? 2 : 0;
	return AM_OK;
}

static int am_read_link(json_reader *r, const alert_limits *lim, am_alert *a)
{
	char where[32];
	const char *s;
	size_t n;
	int rc;

	json_decref(a->link); /* as for labels, in am_read_kv */
	a->link = NULL;
	if ((rc = am_opt_string(r, a, "generatorURL", a->msg[AM_LINK], &s, &n)) != 1)
		return rc;
	if (n > lim->max_value_len) {
		snprintf(a->msg[AM_LINK], AM_MSG, "%s.generatorURL: %zu bytes, limit is %zu", am_where(where, a->index),
		         n, lim->max_value_len);
		return AM_OK;
	}
	if (n > 0 && !(a->link = json_stringn_nocheck(s, n)))
		return AM_OOM;
	return AM_OK;
}

static int am_read_fingerprint(json_reader *r, am_alert *a)
{
	const char *s;
	size_t n;

	/* A fingerprint of another shape (a relay's own id, say) is ignored
	 * rather than trusted: the computed one is what Alertmanager itself would
	 * send. */
	if (json_reader_peek(r) != JSON_READER_STRING)
		return json_reader_skip(r) < 0 ? AM_SYNTAX : AM_OK;
	if (json_reader_string(r, &s, &n) < 0)
		return AM_SYNTAX;
	if (am_take_fingerprint(s, n, a->key) != 0)
		a->key[0] = '\0';
	return AM_OK;
}

/* The alert's members, each kept or refused in a->msg. */
static int am_read_members(json_reader *r, const alert_limits *lim, am_alert *a)
{
	const char *k;
	size_t klen;
	int more, rc;

	while ((more = json_reader_object_next(r, &k, &klen)) == 1) {
		if (am_key_is(k, klen, "status")) {
			rc = am_read_status(r, a);
		} else if (am_key_is(k, klen, "labels")) {
			a->have_labels = 1;
			rc = am_read_kv(r, lim, a, "labels", &a->labels, a->msg[AM_LABELS]);
		} else if (am_key_is(k, klen, "annotations")) {
			rc = am_read_kv(r, lim, a, "annotations", &a->annotations, a->msg[AM_ANNOTATIONS]);
		} else if (am_key_is(k, klen, "startsAt")) {
			rc = am_read_time(r, a, "startsAt", &a->starts_at, a->msg[AM_STARTS]);
		} else if (am_key_is(k, klen, "endsAt")) {
			rc = am_read_time(r, a, "endsAt", &a->ends_at, a->msg[AM_ENDS]);
		} else if (am_key_is(k, klen, "generatorURL")) {
			rc = am_read_link(r, lim, a);
		} else if (am_key_is(k, klen, "fingerprint")) {
			rc = am_read_fingerprint(r, a);
		} else {
			rc = json_reader_skip(r) < 0 ? AM_SYNTAX : AM_OK;
		}
		if (rc != AM_OK)
			return rc;
	}
	return more == 0 ? AM_OK : AM_SYNTAX;
}

/* The first refusal for a, in the order of the fields; NULL when none. */
static const char *am_refusal(am_alert *a)
{
	char where[32];

	if (a->msg[AM_STATUS][0])
		return a->msg[AM_STATUS];
	if (!a->status) {
		snprintf(a->msg[AM_STATUS], AM_MSG, "%s.status: must be \"firing\" or \"resolved\"",
		         am_where(where, a->index));
		return a->msg[AM_STATUS];
	}
	if (!a->have_labels) {
		snprintf(a->msg[AM_LABELS], AM_MSG, "%s.labels: missing", am_where(where, a->index));
		return a->msg[AM_LABELS];
	}
	for (int f = AM_LABELS; f < AM_FIELDS; f++)
		if (a->msg[f][0])
			return a->msg[f];
	return NULL;
}

/*
 * One element of "alerts" at the cursor -> *out (a new normalized alert), or
 * *out NULL with the refusal in msg.
 */
static int am_read_alert(json_reader *r, const alert_limits *lim, am_shared *sh, size_t index, json_t **out, char *msg)
{
	am_alert a;
	const char *why;
	json_t *status;
	int rc;

	*out = NULL;
	if (json_reader_peek(r) != JSON_READER_OBJECT) {
		char where[32];

		snprintf(msg, AM_MSG, "%s: not an object", am_where(where, index));
		return json_reader_skip(r) < 0 ? AM_SYNTAX : AM_OK;
	}
	if (json_reader_object_enter(r) < 0)
		return AM_SYNTAX;
	a.index = index;
	for (int f = 0; f < AM_FIELDS; f++)
		a.msg[f][0] = '\0';
	a.status = a.have_labels = 0;
	a.labels = a.annotations = a.link = NULL;
	a.starts_at = a.ends_at = 0;
	a.key[0] = '\0';
	rc = am_read_members(r, lim, &a);
	if (rc != AM_OK)
		goto out;
	if ((why = am_refusal(&a)) != NULL) {
		snprintf(msg, AM_MSG, "%s", why);
		goto out;
	}
	if ((!a.key[0] && am_fingerprint(a.labels, a.key) != 0) || am_shared_ready(sh) < 0) {
		rc = AM_OOM;
		goto out;
	}
	status = a.status == 1 ? sh->firing : sh->resolved;
	*out = alert_new_values(json_incref(sh->source), json_stringn_nocheck(a.key, 16), json_incref(status), a.labels,
	                        a.annotations ? a.annotations : json_object(), json_integer(a.starts_at),
	                        json_integer(a.ends_at), a.link ? a.link : json_incref(sh->empty));
	a.labels = a.annotations = a.link = NULL; /* stolen, even on failure */
	if (!*out)
		rc = AM_OOM;
out:
	json_decref(a.labels);
	json_decref(a.annotations);
	json_decref(a.link);
	return rc;
}

/* What the top level held besides the alerts. */
typedef struct am_body {
	char version_msg[AM_MSG]; /* refusal of "version", or "" */
	int alerts;               /* 0 missing, 1 an array, -1 something else */
	size_t nalerts;
	char alert_msg[AM_MSG]; /* the first bad alert's refusal, or "" */
} am_body;

static int am_read_version(json_reader *r, am_body *b)
{
	char echo[INGEST_UTIL_ECHO_MAX + 1];
	const char *s;
	size_t n;

	/* Versions other than 4 may change the meaning of fields we read. */
	if (json_reader_peek(r) != JSON_READER_STRING) {
		snprintf(b->version_msg, AM_MSG, "version: not a string (expected \"4\")");
		return json_reader_skip(r) < 0 ? AM_SYNTAX : AM_OK;
	}
	if (json_reader_string(r, &s, &n) < 0)
		return AM_SYNTAX;
	if (!am_key_is(s, n, "4"))
		snprintf(b->version_msg, AM_MSG, "version: \"%s\" is not supported (expected \"4\")",
		         ingest_util_echo(echo, sizeof(echo), s, n));
	return AM_OK;
}

/* "alerts" at the cursor: every element counted, the first max_alerts read
 * until one is refused, the rest only checked as JSON. */
static int am_read_alerts(json_reader *r, const alert_limits *lim, am_shared *sh, am_body *b, json_t *result)
{
	int more, rc;
	json_t *a;

	if (json_reader_peek(r) != JSON_READER_ARRAY) {
		b->alerts = -1;
		return json_reader_skip(r) < 0 ? AM_SYNTAX : AM_OK;
	}
	b->alerts = 1;
	if (json_reader_array_enter(r) < 0)
		return AM_SYNTAX;
	while ((more = json_reader_array_next(r)) == 1) {
		size_t i = b->nalerts++;

		if (b->alert_msg[0] || i >= lim->max_alerts) {
			if (json_reader_skip(r) < 0)
				return AM_SYNTAX;
			continue;
		}
		/* An alert seen before, byte for byte and in this same place (an
		 * element of "alerts", under the same limits), was read whole and
		 * found good then: take what it gave, and step over its text. */
		const char *raw = NULL;
		size_t rawlen = 0;
		const alert_head *hit_head;
		if (sh->cache && (raw = json_reader_peek_text(r, &rawlen)) != NULL) {
			json_t *hit = ingest_cache_get(sh->cache, lim, raw, rawlen, &hit_head);
			if (hit) {
				if (json_reader_pass(r, rawlen) < 0)
					return AM_SYNTAX;
				if (json_array_append(result, hit) < 0)
					return AM_OOM;
				am_add_head(sh, hit_head);
				continue;
			}
		}
		size_t at = json_reader_offset(r);
		rc = am_read_alert(r, lim, sh, i, &a, b->alert_msg);
		if (rc != AM_OK)
			return rc;
		if (!a)
			continue;
		alert_head head;
		if (sh->cache || sh->heads)
			alert_head_of(a, &head);
		/* Remembered only when read whole from exactly that text. */
		if (raw && json_reader_offset(r) - at == rawlen)
			ingest_cache_put(sh->cache, lim, raw, rawlen, a, &head);
		if (json_array_append_new(result, a) < 0)
			return AM_OOM;
		am_add_head(sh, &head);
	}
	return more == 0 ? AM_OK : AM_SYNTAX;
}

/* The body as a top-level object: its members, then the end of the input. */
static int am_read_body(json_reader *r, const alert_limits *lim, am_shared *sh, am_body *b, json_t *result)
{
	const char *k;
	size_t klen;
	int more, rc;

	if (json_reader_object_enter(r) < 0)
		return AM_SYNTAX;
	while ((more = json_reader_object_next(r, &k, &klen)) == 1) {
		if (am_key_is(k, klen, "version"))
			rc = am_read_version(r, b);
		else if (am_key_is(k, klen, "alerts"))
			rc = am_read_alerts(r, lim, sh, b, result);
		else
			rc = json_reader_skip(r) < 0 ? AM_SYNTAX : AM_OK;
		if (rc != AM_OK)
			return rc;
	}
	if (more != 0 || json_reader_end(r) < 0)
		return AM_SYNTAX;
	return AM_OK;
}

/* The body is not JSON (or too deep): say so in jansson's words, depth first,
 * as docs/bad-input.md shows them. */
static void am_syntax_error(const char *body, size_t len, const alert_limits *lim, const json_reader *r, char *err,
                            size_t errlen)
{
	size_t at;
	const char *why = json_reader_error(r, &at);
	json_t *doc;

	if (why && strcmp(why, JSON_READER_ENOMEM) == 0) {
		ingest_util_err(err, errlen, "out of memory");
		return;
	}
	if (ingest_util_parse(body, len, lim->max_depth, &doc, err, errlen) == 0) {
		/* jansson took what the reader refused (tests/fuzz/fuzz_json_reader.c
		 * holds the two to the same answers): keep the reader's word. */
		json_decref(doc);
		ingest_util_err(err, errlen, "invalid JSON at byte %zu: %s", at, why ? why : "'[' or '{' expected");
	}
}

ingest_status ingest_alertmanager(const char *body, size_t len, const alert_limits *lim, json_t **out, char *err,
                                  size_t errlen)
{
	return ingest_alertmanager_cached(body, len, lim, NULL, NULL, out, err, errlen);
}

ingest_status ingest_alertmanager_cached(const char *body, size_t len, const alert_limits *lim, ingest_cache *cache,
                                         alert_heads *heads, json_t **out, char *err, size_t errlen)
{
	ingest_status rc = INGEST_BAD;
	am_shared sh = {NULL, NULL, NULL, NULL, cache, heads};
	am_body b;
	json_reader r;
	json_t *result = NULL;
	int st;

	*out = NULL;
	ingest_util_err(err, errlen, "%s", "");
	if (!lim)
		lim = &alert_limits_default;
	json_reader_init(&r, body, len, lim->max_depth, JSON_READER_REJECT_DUPLICATES);
	b.version_msg[0] = b.alert_msg[0] = '\0';
	b.alerts = 0;
	b.nalerts = 0;
	switch (json_reader_peek(&r)) {
	case JSON_READER_OBJECT:
		result = json_array();
		st = result ? am_read_body(&r, lim, &sh, &b, result) : AM_OOM;
		break;
	case JSON_READER_ARRAY:
		/* Valid JSON, but not what Alertmanager sends. */
		st = json_reader_skip(&r) < 0 || json_reader_end(&r) < 0 ? AM_SYNTAX : AM_OK;
		if (st == AM_OK) {
			ingest_util_err(err, errlen, "body: not a JSON object");
			goto out;
		}
		break;
	default:
		/* jansson wants an object or an array at the top. */
		st = AM_SYNTAX;
		break;
	}
	if (st == AM_SYNTAX) {
		am_syntax_error(body, len, lim, &r, err, errlen);
		goto out;
	}
	if (st == AM_OOM) {
		ingest_util_err(err, errlen, "out of memory");
		goto out;
	}
	if (b.version_msg[0])
		ingest_util_err(err, errlen, "%s", b.version_msg);
	else if (b.alerts == 0)
		ingest_util_err(err, errlen, "alerts: missing");
	else if (b.alerts < 0)
		ingest_util_err(err, errlen, "alerts: not an array");
	else if (b.nalerts > lim->max_alerts)
		ingest_util_err(err, errlen, "alerts: %zu alerts, limit is %zu", b.nalerts, lim->max_alerts);
	else if (b.alert_msg[0])
		ingest_util_err(err, errlen, "%s", b.alert_msg);
	else {
		*out = result;
		result = NULL;
		rc = INGEST_OK;
	}
out:
	json_reader_free(&r);
	json_decref(result);
	json_decref(sh.source);
	json_decref(sh.firing);
	json_decref(sh.resolved);
	json_decref(sh.empty);
	return rc;
}
