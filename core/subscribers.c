/* Subscribers: the table, the double opt-in, the fan-out. See subscribers.h. */
#include "subscribers.h"

#include "audience.h"
#include "auth.h"
#include "control.h"
#include "log.h"
#include "sha256.h"
#include "timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/*
 * kind: CONFIG_SUBSCRIBERS_EMAIL or _PHONE. components: a JSON array of
 * component names, [] for all. confirm_hash: SHA-256 of the link's token
 * (email) or of "<unsubscribe token>:<code>" (phone), NULL when no
 * confirmation is pending. client: the address a public request came from,
 * or the operator's name.
 */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS subscribers(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, address TEXT NOT NULL,"
    " components TEXT NOT NULL DEFAULT '[]', pending_components TEXT, confirmed INTEGER NOT NULL DEFAULT 0,"
    " confirm_hash TEXT, confirm_attempts INTEGER NOT NULL DEFAULT 0, confirm_expires_at INTEGER,"
    " confirm_sent_at INTEGER, confirm_sends INTEGER NOT NULL DEFAULT 0, confirm_event INTEGER,"
    " unsubscribe_token TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, confirmed_at INTEGER,"
    " source TEXT NOT NULL, client TEXT, UNIQUE(kind, address));"
    "CREATE INDEX IF NOT EXISTS subscribers_confirm ON subscribers(confirm_hash) WHERE confirm_hash IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS subscribers_expiry ON subscribers(confirm_expires_at)"
    " WHERE confirm_expires_at IS NOT NULL;";

enum {
	S_GET,
	S_INSERT,
	S_OPERATOR_SET,
	S_PENDING,
	S_BY_HASH,
	S_BY_PHONE,
	S_CONFIRM,
	S_ATTEMPT,
	S_BY_TOKEN,
	S_DELETE,
	S_DROP_RECIPIENT,
	S_DROP_EVENT_OUTBOX,
	S_DROP_EVENT,
	S_EXPIRED,
	S_CLEAR_PENDING,
	S_LIST,
	S_FANOUT,
	S_UNSUB_TOKEN,
	S_N
};

static const char *const sql[S_N] = {
    [S_GET] = "SELECT id, confirmed, confirm_hash IS NOT NULL AND confirm_expires_at > ?3, confirm_sends,"
              " COALESCE(confirm_sent_at, 0), COALESCE(confirm_event, 0), unsubscribe_token FROM subscribers"
              " WHERE kind = ?1 AND address = ?2",
    [S_INSERT] = "INSERT INTO subscribers(kind, address, components, confirmed, unsubscribe_token, created_at,"
                 " confirmed_at, source, client) VALUES(?1, ?2, ?3, ?4, ?5, ?6, CASE ?4 WHEN 1 THEN ?6 END, ?7, ?8)",
    [S_OPERATOR_SET] = "UPDATE subscribers SET confirmed = 1, components = ?2, confirmed_at = ?3, source = ?4,"
                       " client = ?5, pending_components = NULL, confirm_hash = NULL, confirm_attempts = 0,"
                       " confirm_expires_at = NULL, confirm_sends = 0, confirm_event = NULL WHERE id = ?1",
    [S_PENDING] =
        "UPDATE subscribers SET pending_components = ?2, confirm_hash = ?3, confirm_attempts = 0,"
        " confirm_expires_at = ?4, confirm_sent_at = ?5, confirm_sends = ?6, confirm_event = ?7 WHERE id = ?1",
    [S_BY_HASH] = "SELECT id, COALESCE(confirm_event, 0) FROM subscribers WHERE confirm_hash = ?1 AND kind = ?2"
                  " AND confirm_expires_at > ?3",
    [S_BY_PHONE] = "SELECT id, COALESCE(confirm_event, 0), confirm_hash, confirm_attempts, unsubscribe_token"
                   " FROM subscribers WHERE kind = ?1 AND address = ?2 AND confirm_hash IS NOT NULL"
                   " AND confirm_expires_at > ?3",
    [S_CONFIRM] = "UPDATE subscribers SET confirmed = 1, confirmed_at = ?2,"
                  " components = COALESCE(pending_components, components), pending_components = NULL,"
                  " confirm_hash = NULL, confirm_attempts = 0, confirm_expires_at = NULL, confirm_sends = 0,"
                  " confirm_event = NULL WHERE id = ?1",
    [S_ATTEMPT] = "UPDATE subscribers SET confirm_attempts = confirm_attempts + 1 WHERE id = ?1",
    [S_BY_TOKEN] = "SELECT id, kind, address, COALESCE(confirm_event, 0), confirmed FROM subscribers"
                   " WHERE unsubscribe_token = ?1",
    [S_DELETE] = "DELETE FROM subscribers WHERE id = ?1",
    [S_DROP_RECIPIENT] = "DELETE FROM outbox WHERE recipient = ?1 AND instance IN (SELECT value FROM json_each(?2))",
    [S_DROP_EVENT_OUTBOX] = "DELETE FROM outbox WHERE event_id = ?1",
    [S_DROP_EVENT] = "DELETE FROM events WHERE id = ?1 AND type = '" SUBSCRIBERS_CONFIRM_EVENT "'",
    [S_EXPIRED] = "SELECT id, kind, address, COALESCE(confirm_event, 0), confirmed FROM subscribers"
                  " WHERE confirm_expires_at <= ?1 LIMIT 256",
    [S_CLEAR_PENDING] = "UPDATE subscribers SET pending_components = NULL, confirm_hash = NULL, confirm_attempts = 0,"
                        " confirm_expires_at = NULL, confirm_sends = 0, confirm_event = NULL WHERE id = ?1",
    [S_LIST] = "SELECT id, kind, address, components, confirmed, created_at, COALESCE(confirmed_at, 0), source,"
               " client, pending_components, COALESCE(confirm_expires_at, 0) FROM subscribers ORDER BY id",
    /* Subscribers to some components hear of incidents that affect one of
     * them, and of those that name no component (they concern everyone). */
    /* Each subscriber is a lane of its own: a head unless a delivery to it
     * is still pending for this incident (store.c's outbox.head). */
    /* Kept from clang-format, which splits a macro's arguments across the SQL. */
    /* clang-format off */
    [S_FANOUT] = "INSERT INTO outbox(event_id, incident_id, instance, state, attempts, next_at, created_at,"
                 " updated_at, recipient, head) SELECT ?1, ?2, ?3, 0, 0, ?4, ?4, ?4, address, "
                 STORE_OUTBOX_NEW_HEAD("?3", "?2", "subscribers.address")
                 " FROM subscribers"
                 " WHERE kind = ?5 AND confirmed = 1 AND (?6 = '[]' OR components = '[]' OR EXISTS"
                 " (SELECT 1 FROM json_each(subscribers.components) c JOIN json_each(?6) i ON c.value = i.value))"
                 " ORDER BY id",
    /* clang-format on */
    [S_UNSUB_TOKEN] = "SELECT unsubscribe_token FROM subscribers WHERE kind = ?1 AND address = ?2 AND confirmed = 1",
};

struct subscribers {
	store *st;
	sqlite3 *db;
	sqlite3_stmt *q[S_N];
	const config *cfg; /* borrowed */
};

/* What one row says about a pending or confirmed subscriber. */
typedef struct row {
	int64_t id, event, sent_at;
	int confirmed, pending, sends, kind;
	char token[64]; /* the unsubscribe token */
	char address[324];
} row;

#define ADDRESS_MAX      320
#define COMPONENTS_MAX   64
#define TOKEN_CHARS      22
#define UNSUBSCRIBE_PATH "api/v1/unsubscribe?t="
#define CONFIRM_PATH     "api/v1/subscribe/confirm?token="

subscribers *subscribers_open(store *st, char *err, size_t errlen)
{
	subscribers *s = calloc(1, sizeof(*s));
	char *msg = NULL;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->st = st;
	s->db = store_db(st);
	if (sqlite3_exec(s->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "cannot create the subscribers table: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		goto fail;
	}
	for (int i = 0; i < S_N; i++) {
		if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare subscribers statement %d: %s", i, sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	return s;
fail:
	subscribers_free(s);
	return NULL;
}

void subscribers_free(subscribers *s)
{
	if (!s)
		return;
	for (int i = 0; i < S_N; i++)
		sqlite3_finalize(s->q[i]);
	free(s);
}

void subscribers_configure(subscribers *s, const config *cfg)
{
	s->cfg = cfg;
}

/* ---- pure helpers ---- */

static int atext(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

/* A dot-atom local part, "@", a domain of two or more LDH labels: what the
 * email plugin accepts as a recipient. */
static int email_valid(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (!at || at == s || at - s > 64 || n > 254 || strchr(at + 1, '@'))
		return 0;
	for (const char *p = s; p < at; p++)
		if (!(atext((unsigned char)*p) || (*p == '.' && p > s && p + 1 < at && p[1] != '.')))
			return 0;
	int labels = 0;
	for (const char *p = at + 1; *p;) {
		size_t len = strcspn(p, ".");
		if (len == 0 || len > 63 || p[0] == '-' || p[len - 1] == '-')
			return 0;
		for (size_t i = 0; i < len; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '-')
				return 0;
		labels++;
		p += len;
		if (*p == '.' && !*++p)
			return 0;
	}
	return labels >= 2;
}

/* E.164: "+", then 8 to 15 digits, the first not 0 (as the sms plugin checks). */
static int phone_valid(const char *s)
{
	size_t n = strlen(s);

	if (s[0] != '+' || n < 9 || n > 16 || s[1] == '0')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int subscribers_address(const char *in, int want_kind, char *out, size_t outlen)
{
	size_t n = 0;

	if (!in || outlen == 0)
		return 0;
	while (isspace((unsigned char)*in))
		in++;
	if (strchr(in, '@')) {
		if (want_kind == CONFIG_SUBSCRIBERS_PHONE)
			return 0;
		for (; *in && n + 1 < outlen; in++)
			out[n++] = (char)tolower((unsigned char)*in);
		while (n > 0 && isspace((unsigned char)out[n - 1]))
			n--;
		out[n] = '\0';
		return *in == '\0' && email_valid(out) ? CONFIG_SUBSCRIBERS_EMAIL : 0;
	}
	if (want_kind == CONFIG_SUBSCRIBERS_EMAIL)
		return 0;
	for (; *in && n + 1 < outlen; in++) {
		if (strchr(" .-()\t", *in))
			continue;
		out[n++] = *in;
	}
	out[n] = '\0';
	return *in == '\0' && phone_valid(out) ? CONFIG_SUBSCRIBERS_PHONE : 0;
}

static int random_bytes(void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom((char *)buf + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int subscribers_token(char out[23])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[18]; /* 144 bits read; 22 sextets use 132 of them, 128 random ones and more */
	int bit = 0;

	if (random_bytes(r, sizeof(r)) < 0)
		return -1;
	for (int i = 0; i < TOKEN_CHARS; i++, bit += 6) {
		unsigned v = ((unsigned)r[bit / 8] << 8 | r[bit / 8 + 1]) >> (10 - bit % 8);
		out[i] = b64[v & 63];
	}
	out[TOKEN_CHARS] = '\0';
	return 0;
}

int subscribers_code(char out[7])
{
	uint32_t v;

	/* Rejection sampling: every code equally likely. */
	do {
		if (random_bytes(&v, sizeof(v)) < 0)
			return -1;
	} while (v >= 4294000000u);
	snprintf(out, 7, "%06u", (unsigned)(v % 1000000u));
	return 0;
}

void subscribers_mask(const char *address, char *out, size_t outlen)
{
	const char *at = strchr(address, '@');
	size_t n = strlen(address);

	if (at)
		snprintf(out, outlen, "%.1s***%s", address, at);
	else if (n > 5)
		snprintf(out, outlen, "%.3s***%s", address, address + n - 2);
	else
		snprintf(out, outlen, "***");
}

/* A well-formed token: 22 base64url characters. */
static int token_ok(const char *t)
{
	if (!t || strlen(t) != TOKEN_CHARS)
		return 0;
	for (const char *p = t; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return 0;
	return 1;
}

/* ---- statements ---- */

static void done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

static const char *col(sqlite3_stmt *q, int i)
{
	const char *t = (const char *)sqlite3_column_text(q, i);
	return t ? t : "";
}

/* The subscriber r->kind, r->address: 1 and the rest of *r filled, 0 none, -1 error. */
static int get_row(subscribers *s, int64_t now, row *r)
{
	sqlite3_stmt *q = s->q[S_GET];
	int rc;

	sqlite3_bind_int(q, 1, r->kind);
	store_bind_text(q, 2, r->address);
	sqlite3_bind_int64(q, 3, now);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		r->id = sqlite3_column_int64(q, 0);
		r->confirmed = sqlite3_column_int(q, 1);
		r->pending = sqlite3_column_int(q, 2);
		r->sends = sqlite3_column_int(q, 3);
		r->sent_at = sqlite3_column_int64(q, 4);
		r->event = sqlite3_column_int64(q, 5);
		snprintf(r->token, sizeof(r->token), "%s", col(q, 6));
	}
	done(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* A confirmation's event and its delivery, once used, replaced or lapsed:
 * the link or code in it must not outlive its use. */
static int drop_confirmation(subscribers *s, int64_t event)
{
	if (!event)
		return 0;
	sqlite3_bind_int64(s->q[S_DROP_EVENT_OUTBOX], 1, event);
	if (store_step_done(s->q[S_DROP_EVENT_OUTBOX]) < 0)
		return -1;
	sqlite3_bind_int64(s->q[S_DROP_EVENT], 1, event);
	return store_step_done(s->q[S_DROP_EVENT]);
}

/* The instances that fan out to subscribers of kind, as a JSON array (new). */
static char *instances_of(const config *cfg, int kind)
{
	json_t *a = json_array();
	char *txt;

	for (size_t i = 0; a && i < cfg->n_instances; i++)
		if (cfg->instances[i].subscribers == kind &&
		    json_array_append_new(a, json_string(cfg->instances[i].name)) < 0) {
			json_decref(a);
			return NULL;
		}
	txt = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return txt;
}

/* Forget a subscriber: the row, their confirmation, and every delivery to
 * them on subscriber instances, sent or not (nothing of them is kept). */
static int remove_row(subscribers *s, const row *r)
{
	char *inst = instances_of(s->cfg, r->kind);
	int rc = -1;

	if (!inst || drop_confirmation(s, r->event) < 0)
		goto out;
	store_bind_text(s->q[S_DROP_RECIPIENT], 1, r->address);
	store_bind_text(s->q[S_DROP_RECIPIENT], 2, inst);
	if (store_step_done(s->q[S_DROP_RECIPIENT]) < 0)
		goto out;
	sqlite3_bind_int64(s->q[S_DELETE], 1, r->id);
	rc = store_step_done(s->q[S_DELETE]);
out:
	free(inst);
	return rc;
}

/* Lapsed confirmations: an unconfirmed subscriber goes, a confirmed one
 * keeps what they had. */
static int sweep(subscribers *s, int64_t now)
{
	row lapsed[256];
	int n = 0, rc;
	sqlite3_stmt *q = s->q[S_EXPIRED];

	sqlite3_bind_int64(q, 1, now);
	while (n < 256 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		row *r = &lapsed[n++];
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(q, 0);
		r->kind = sqlite3_column_int(q, 1);
		snprintf(r->address, sizeof(r->address), "%s", col(q, 2));
		r->event = sqlite3_column_int64(q, 3);
		r->confirmed = sqlite3_column_int(q, 4);
	}
	done(q);
	for (int i = 0; i < n; i++) {
		if (!lapsed[i].confirmed) {
			if (remove_row(s, &lapsed[i]) < 0)
				return -1;
			continue;
		}
		sqlite3_bind_int64(s->q[S_CLEAR_PENDING], 1, lapsed[i].id);
		if (drop_confirmation(s, lapsed[i].event) < 0 || store_step_done(s->q[S_CLEAR_PENDING]) < 0)
			return -1;
	}
	if (n)
		log_info("unconfirmed subscriptions lapsed", " count=%d", n);
	return 0;
}

/* "24 hours", "30 minutes": how long a confirmation stays good, for people. */
static void duration_text(int64_t ms, char *buf, size_t n)
{
	int64_t m = (ms + 59999) / 60000;

	if (ms < 60000)
		snprintf(buf, n, "%lld seconds", (long long)((ms + 999) / 1000));
	else if (m >= 120 && m % 60 == 0)
		snprintf(buf, n, "%lld hours", (long long)(m / 60));
	else if (m == 60)
		snprintf(buf, n, "1 hour");
	else
		snprintf(buf, n, "%lld minute%s", (long long)m, m == 1 ? "" : "s");
}

/*
 * The requested components (borrowed; NULL = all) as compact JSON text
 * (new) after checking each names a configured component; NULL with
 * *why set otherwise.
 */
static char *components_text(const config *cfg, const json_t *v, char *why, size_t whylen)
{
	json_t *out = json_array();
	size_t i;
	json_t *e;
	char *txt = NULL;

	if (!out) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (v && !json_is_array(v)) {
		snprintf(why, whylen, "components: expected an array of component names");
		goto out;
	}
	if (json_array_size(v) > COMPONENTS_MAX) {
		snprintf(why, whylen, "components: at most %d", COMPONENTS_MAX);
		goto out;
	}
	json_array_foreach(v, i, e)
	{
		const char *name = json_string_value(e);
		size_t k = 0, j;
		json_t *seen;
		int dup = 0;

		while (name && k < cfg->n_components && strcmp(cfg->components[k].name, name) != 0)
			k++;
		if (!name || k == cfg->n_components) {
			char known[400] = "";
			for (size_t c = 0; c < cfg->n_components; c++)
				snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", c ? ", " : "",
				         cfg->components[c].name);
			snprintf(why, whylen, "components[%zu]: %s%.64s%s is not a component here (known: %s)", i,
			         name ? "\"" : "", name ? name : "not a string", name ? "\"" : "",
			         known[0] ? known : "none");
			goto out;
		}
		json_array_foreach(out, j, seen) dup |= strcmp(json_string_value(seen), name) == 0;
		if (!dup && json_array_append_new(out, json_string(name)) < 0) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
	}
	txt = json_dumps(out, JSON_COMPACT);
	if (!txt)
		snprintf(why, whylen, "out of memory");
out:
	json_decref(out);
	return txt;
}

/* ---- fan-out and delivery documents ---- */

int subscribers_fanout(subscribers *s, int64_t event_id, int64_t incident_id, const char *instance, int kind,
                       const json_t *incident_labels, int64_t now)
{
	json_t *comps = audience_components(s->cfg, incident_labels);
	char *txt = comps ? json_dumps(comps, JSON_COMPACT) : NULL;
	sqlite3_stmt *q = s->q[S_FANOUT];
	int n = -1;

	json_decref(comps);
	if (!txt)
		return -1;
	sqlite3_bind_int64(q, 1, event_id);
	sqlite3_bind_int64(q, 2, incident_id);
	store_bind_text(q, 3, instance);
	sqlite3_bind_int64(q, 4, now);
	sqlite3_bind_int(q, 5, kind);
	sqlite3_bind_text(q, 6, txt, -1, free);
	if (store_step_done(q) == 0)
		n = sqlite3_changes(s->db);
	return n;
}

json_t *subscribers_doc(subscribers *s, int kind, const char *address, int *gone)
{
	sqlite3_stmt *q = s->q[S_UNSUB_TOKEN];
	json_t *out = NULL;
	int rc;

	*gone = 0;
	sqlite3_bind_int(q, 1, kind);
	store_bind_text(q, 2, address);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && s->cfg->subscribers.public_url)
		out = json_pack("{s:s++}", "unsubscribe_url", s->cfg->subscribers.public_url, UNSUBSCRIBE_PATH,
		                col(q, 0));
	else if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		*gone = 1;
	done(q);
	return out;
}

/* ---- commands ---- */

/*
 * Queue the confirmation for subscriber r (pending components as JSON
 * text, borrowed): a new link or code, hashed into the row, sent through
 * the kind's instance alone.
 */
static int send_confirmation(subscribers *s, outbox *ob, const row *r, const char *components, int sends, int64_t now)
{
	const config_subscribers *cs = &s->cfg->subscribers;
	const char *instance = r->kind == CONFIG_SUBSCRIBERS_EMAIL ? cs->email_instance : cs->sms_instance;
	char secret[32], salted[96], hash[2 * SHA256_LEN + 1], in[40];
	json_t *sub, *doc = NULL;
	char *txt = NULL;
	int64_t ev;
	int rc = -1;

	if (r->kind == CONFIG_SUBSCRIBERS_EMAIL ? subscribers_token(secret) < 0 : subscribers_code(secret) < 0)
		return -1;
	if (r->kind == CONFIG_SUBSCRIBERS_EMAIL) {
		sha256_hex(secret, strlen(secret), hash);
	} else {
		/* The row's own random token salts the code. */
		snprintf(salted, sizeof(salted), "%s:%s", r->token, secret);
		sha256_hex(salted, strlen(salted), hash);
	}
	duration_text(cs->confirm_expiry_ms, in, sizeof(in));
	sub = json_pack("{ss so ss so sb}", "kind", r->kind == CONFIG_SUBSCRIBERS_EMAIL ? "email" : "phone",
	                "expires_at", timefmt_json(now + cs->confirm_expiry_ms), "expires_in", in, "components",
	                json_loads(components, 0, NULL), "all", strcmp(components, "[]") == 0);
	if (!sub)
		goto out;
	if (r->kind == CONFIG_SUBSCRIBERS_EMAIL)
		rc = json_object_set_new(sub, "confirm_url",
		                         json_sprintf("%s%s%s", cs->public_url, CONFIRM_PATH, secret));
	else
		rc = json_object_set_new(sub, "code", json_string(secret));
	if (rc < 0) {
		json_decref(sub);
		goto out;
	}
	rc = -1;
	doc =
	    json_pack("{ss so so}", "type", SUBSCRIBERS_CONFIRM_EVENT, "time", timefmt_json(now), "subscription", sub);
	txt = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!txt)
		goto out;
	ev = store_event_add(s->st, 0, SUBSCRIBERS_CONFIRM_EVENT, now, "crier", NULL, txt);
	if (ev < 0 || store_outbox_add(s->st, ev, 0, instance, r->address, now) < 0)
		goto out;
	sqlite3_stmt *q = s->q[S_PENDING];
	sqlite3_bind_int64(q, 1, r->id);
	store_bind_text(q, 2, components);
	store_bind_text(q, 3, hash);
	sqlite3_bind_int64(q, 4, now + cs->confirm_expiry_ms);
	sqlite3_bind_int64(q, 5, now);
	sqlite3_bind_int(q, 6, sends);
	sqlite3_bind_int64(q, 7, ev);
	rc = store_step_done(q);
	if (rc == 0)
		outbox_wake(ob, instance);
out:
	json_decref(doc);
	free(txt);
	return rc;
}

static int insert_row(subscribers *s, row *r, const char *components, int confirmed, const char *source,
                      const char *client, int64_t now)
{
	sqlite3_stmt *q = s->q[S_INSERT];

	if (subscribers_token(r->token) < 0)
		return -1;
	sqlite3_bind_int(q, 1, r->kind);
	store_bind_text(q, 2, r->address);
	store_bind_text(q, 3, components);
	sqlite3_bind_int(q, 4, confirmed);
	store_bind_text(q, 5, r->token);
	sqlite3_bind_int64(q, 6, now);
	store_bind_text(q, 7, source);
	store_bind_text(q, 8, client);
	if (store_step_done(q) < 0)
		return -1;
	r->id = sqlite3_last_insert_rowid(s->db);
	r->confirmed = confirmed;
	return 0;
}

/*
 * POST /api/v1/subscribe: the same answer whatever is known of the address,
 * so that nobody learns who subscribed. A new confirmation goes out unless
 * one went out less than a minute ago or SUBSCRIBERS_MAX_SENDS times in
 * this period.
 */
static json_t *cmd_subscribe(subscribers *s, outbox *ob, const json_t *req, int64_t now)
{
	const config_subscribers *cs = &s->cfg->subscribers;
	const char *email = json_string_value(json_object_get(req, "email"));
	const char *phone = json_string_value(json_object_get(req, "phone"));
	const char *client = json_string_value(json_object_get(req, "client"));
	char why[512], *comps;
	row r = {.kind = email ? CONFIG_SUBSCRIBERS_EMAIL : CONFIG_SUBSCRIBERS_PHONE};
	int found, sends = 1, rc = -1;

	if (!cs->enabled)
		return control_fail(404, "subscriptions are not offered here");
	if (!email == !phone)
		return control_fail(400, "give either \"email\" or \"phone\"");
	if (!subscribers_address(email ? email : phone, r.kind, r.address, sizeof(r.address)))
		return control_fail(400, email ? "email: not an email address like jane@example.com"
		                               : "phone: not a phone number in international form, like +14155550100");
	if (!(r.kind == CONFIG_SUBSCRIBERS_EMAIL ? cs->email_instance : cs->sms_instance))
		return control_fail(400, "subscriptions by %s are not offered here", email ? "email" : "text message");
	comps = components_text(s->cfg, json_object_get(req, "components"), why, sizeof(why));
	if (!comps)
		return control_fail(400, "%s", why);
	found = get_row(s, now, &r);
	if (found > 0 && r.pending && (r.sends >= SUBSCRIBERS_MAX_SENDS || now - r.sent_at < SUBSCRIBERS_RESEND_MS)) {
		log_info("subscription request: no new confirmation yet", " id=%lld sent=%d", (long long)r.id, r.sends);
		rc = 0;
		goto out;
	}
	if (found > 0 && r.pending)
		sends = r.sends + 1;
	if (found < 0 || (found > 0 && drop_confirmation(s, r.event) < 0) ||
	    (found == 0 && insert_row(s, &r, "[]", 0, "api", client, now) < 0) ||
	    send_confirmation(s, ob, &r, comps, sends, now) < 0)
		goto out;
	log_info("subscription requested; confirmation queued", " id=%lld kind=%s new=%d", (long long)r.id,
	         email ? "email" : "phone", found == 0);
	rc = 0;
out:
	free(comps);
	if (rc < 0)
		return control_fail(503, "store failed: %s", store_error(s->st));
	duration_text(cs->confirm_expiry_ms, why, sizeof(why));
	return json_pack("{sb ss ss ss}", "ok", 1, "status", "pending", "kind", email ? "email" : "phone", "expires_in",
	                 why);
}

static int confirm_row(subscribers *s, int64_t id, int64_t event, int64_t now)
{
	sqlite3_stmt *q = s->q[S_CONFIRM];

	if (drop_confirmation(s, event) < 0)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, now);
	return store_step_done(q);
}

#define BAD_LINK "this link is not valid: it was used already or has expired (subscribe again for a new one)"
#define BAD_CODE "the code is wrong or has expired"

/* The link's token, or a phone number and its code. */
static json_t *cmd_confirm(subscribers *s, const json_t *req, int64_t now)
{
	const char *token = json_string_value(json_object_get(req, "token"));
	const char *phone = json_string_value(json_object_get(req, "phone"));
	const char *code = json_string_value(json_object_get(req, "code"));
	char hash[2 * SHA256_LEN + 1], address[ADDRESS_MAX + 4], salted[96];
	sqlite3_stmt *q;
	int64_t id = 0, event = 0;
	int rc;

	if (token) {
		if (!token_ok(token))
			return control_fail(400, BAD_LINK);
		sha256_hex(token, strlen(token), hash);
		q = s->q[S_BY_HASH];
		store_bind_text(q, 1, hash);
		sqlite3_bind_int(q, 2, CONFIG_SUBSCRIBERS_EMAIL);
		sqlite3_bind_int64(q, 3, now);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			id = sqlite3_column_int64(q, 0);
			event = sqlite3_column_int64(q, 1);
		}
		done(q);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return control_fail(503, "store failed: %s", store_error(s->st));
		if (!id)
			return control_fail(400, BAD_LINK);
	} else {
		if (!phone || !code)
			return control_fail(400, "give \"token\" (from the link), or \"phone\" and \"code\"");
		if (!subscribers_address(phone, CONFIG_SUBSCRIBERS_PHONE, address, sizeof(address)))
			return control_fail(400, "phone: not a phone number in international form, like +14155550100");
		if (strlen(code) != 6 || strspn(code, "0123456789") != 6)
			return control_fail(400, "code: expected the 6 digits of the text message");
		q = s->q[S_BY_PHONE];
		sqlite3_bind_int(q, 1, CONFIG_SUBSCRIBERS_PHONE);
		store_bind_text(q, 2, address);
		sqlite3_bind_int64(q, 3, now);
		rc = sqlite3_step(q);
		int good = 0, attempts = 0;
		if (rc == SQLITE_ROW) {
			id = sqlite3_column_int64(q, 0);
			event = sqlite3_column_int64(q, 1);
			attempts = sqlite3_column_int(q, 3);
			snprintf(salted, sizeof(salted), "%s:%s", col(q, 4), code);
			sha256_hex(salted, strlen(salted), hash);
			{
				const char *stored = col(q, 2);
				good = auth_equal(hash, strlen(hash), stored, strlen(stored));
			}
		}
		done(q);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return control_fail(503, "store failed: %s", store_error(s->st));
		if (!id || attempts >= SUBSCRIBERS_CODE_ATTEMPTS)
			return control_fail(400, BAD_CODE);
		if (!good) {
			sqlite3_bind_int64(s->q[S_ATTEMPT], 1, id);
			if (store_step_done(s->q[S_ATTEMPT]) < 0)
				return control_fail(503, "store failed: %s", store_error(s->st));
			log_info("subscription confirmation: wrong code", " id=%lld attempt=%d", (long long)id,
			         attempts + 1);
			return control_fail(400, BAD_CODE);
		}
	}
	if (confirm_row(s, id, event, now) < 0)
		return control_fail(503, "store failed: %s", store_error(s->st));
	log_info("subscription confirmed", " id=%lld", (long long)id);
	return json_pack("{sb ss}", "ok", 1, "status", "confirmed");
}

/* The subscriber holding an unsubscribe token: 1 and *r, 0 none, -1 error. */
static int by_token(subscribers *s, const char *token, row *r)
{
	sqlite3_stmt *q = s->q[S_BY_TOKEN];
	int rc;

	memset(r, 0, sizeof(*r));
	if (!token_ok(token))
		return 0;
	store_bind_text(q, 1, token);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		r->id = sqlite3_column_int64(q, 0);
		r->kind = sqlite3_column_int(q, 1);
		snprintf(r->address, sizeof(r->address), "%s", col(q, 2));
		r->event = sqlite3_column_int64(q, 3);
		r->confirmed = sqlite3_column_int(q, 4);
		snprintf(r->token, sizeof(r->token), "%s", token);
	}
	done(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Unsubscribing is idempotent: an unknown or used token is answered alike. */
static json_t *cmd_unsubscribe(subscribers *s, const json_t *req, int info)
{
	row r;
	char masked[ADDRESS_MAX];
	int rc = by_token(s, json_string_value(json_object_get(req, "token")), &r);

	if (rc < 0 || (rc > 0 && !info && remove_row(s, &r) < 0))
		return control_fail(503, "store failed: %s", store_error(s->st));
	if (info) {
		if (rc == 0)
			return json_pack("{sb sb}", "ok", 1, "subscribed", 0);
		subscribers_mask(r.address, masked, sizeof(masked));
		return json_pack("{sb sb ss}", "ok", 1, "subscribed", 1, "address", masked);
	}
	if (rc > 0)
		log_info("unsubscribed", " id=%lld", (long long)r.id);
	return json_pack("{sb ss}", "ok", 1, "status", "unsubscribed");
}

static json_t *row_json(sqlite3_stmt *q)
{
	int confirmed = sqlite3_column_int(q, 4);
	const char *comps = col(q, confirmed ? 3 : 9);
	json_t *o =
	    json_pack("{sI ss ss so ss so so ss}", "id", (json_int_t)sqlite3_column_int64(q, 0), "kind",
	              sqlite3_column_int(q, 1) == CONFIG_SUBSCRIBERS_EMAIL ? "email" : "phone", "address", col(q, 2),
	              "components", json_loads(comps[0] ? comps : "[]", 0, NULL), "status",
	              confirmed ? "confirmed" : "pending", "created_at", timefmt_json(sqlite3_column_int64(q, 5)),
	              "confirmed_at", timefmt_json(sqlite3_column_int64(q, 6)), "source", col(q, 7));
	if (o && sqlite3_column_type(q, 8) != SQLITE_NULL &&
	    json_object_set_new(o, "client", json_string(col(q, 8))) < 0)
		goto fail;
	if (o && !confirmed && json_object_set_new(o, "expires_at", timefmt_json(sqlite3_column_int64(q, 10))) < 0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *list_json(subscribers *s, int kind, const char *address)
{
	sqlite3_stmt *q = s->q[S_LIST];
	json_t *a = json_array();
	int rc;

	while (a && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (address && (sqlite3_column_int(q, 1) != kind || strcmp(col(q, 2), address) != 0))
			continue;
		if (json_array_append_new(a, row_json(q)) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	if (a && rc != SQLITE_DONE) {
		json_decref(a);
		a = NULL;
	}
	done(q);
	return a;
}

/* The address of an operator's command (kind and normalised form into r), or 0. */
static int operator_address(const json_t *req, row *r)
{
	memset(r, 0, sizeof(*r));
	r->kind =
	    subscribers_address(json_string_value(json_object_get(req, "address")), 0, r->address, sizeof(r->address));
	return r->kind;
}

#define NOT_AN_ADDRESS "\"%.100s\" is neither an email address nor a phone number in international form (+14155550100)"

static const char *req_address(const json_t *req)
{
	const char *a = json_string_value(json_object_get(req, "address"));
	return a ? a : "";
}

/* crierctl subscribers add: confirmed at once, components replaced. */
static json_t *cmd_add(subscribers *s, const json_t *req, int64_t now)
{
	const char *actor = json_string_value(json_object_get(req, "actor"));
	char why[512], *comps;
	row r;
	int found;
	json_t *list, *out;

	if (!operator_address(req, &r))
		return control_fail(400, NOT_AN_ADDRESS, req_address(req));
	comps = components_text(s->cfg, json_object_get(req, "components"), why, sizeof(why));
	if (!comps)
		return control_fail(400, "%s", why);
	found = get_row(s, now, &r);
	if (found > 0) {
		sqlite3_stmt *q = s->q[S_OPERATOR_SET];
		sqlite3_bind_int64(q, 1, r.id);
		store_bind_text(q, 2, comps);
		sqlite3_bind_int64(q, 3, now);
		store_bind_text(q, 4, "operator");
		store_bind_text(q, 5, actor);
		if (drop_confirmation(s, r.event) < 0 || store_step_done(q) < 0)
			found = -1;
	} else if (found == 0 && insert_row(s, &r, comps, 1, "operator", actor, now) < 0) {
		found = -1;
	}
	free(comps);
	if (found < 0 || !(list = list_json(s, r.kind, r.address)))
		return control_fail(503, "store failed: %s", store_error(s->st));
	log_info("subscriber added by a person", " id=%lld kind=%s", (long long)r.id,
	         r.kind == CONFIG_SUBSCRIBERS_EMAIL ? "email" : "phone");
	out = json_pack("{sb sO}", "ok", 1, "subscriber", json_array_get(list, 0));
	json_decref(list);
	return out;
}

static json_t *cmd_remove(subscribers *s, const json_t *req, int64_t now)
{
	row r;
	int found;
	json_t *list, *out;

	if (!operator_address(req, &r))
		return control_fail(400, NOT_AN_ADDRESS, req_address(req));
	found = get_row(s, now, &r);
	if (found == 0)
		return control_fail(404, "no subscriber %s", r.address);
	if (found < 0 || !(list = list_json(s, r.kind, r.address)))
		return control_fail(503, "store failed: %s", store_error(s->st));
	if (remove_row(s, &r) < 0) {
		json_decref(list);
		return control_fail(503, "store failed: %s", store_error(s->st));
	}
	log_info("subscriber removed by a person", " id=%lld", (long long)r.id);
	out = json_pack("{sb sO}", "ok", 1, "subscriber", json_array_get(list, 0));
	json_decref(list);
	return out;
}

static const char *const commands[] = {"subscribers",       "subscriber_add", "subscriber_remove", "subscribe",
                                       "subscribe_confirm", "unsubscribe",    "unsubscribe_info",  NULL};

int subscribers_handles(const char *cmd)
{
	for (int i = 0; commands[i]; i++)
		if (strcmp(cmd, commands[i]) == 0)
			return 1;
	return 0;
}

char *subscribers_control(subscribers *s, outbox *ob, const json_t *req, const char *cmd, int64_t now)
{
	json_t *r;

	if (store_begin(s->st) < 0)
		return control_error(503, "store unavailable: %s", store_error(s->st));
	/* Lapsed confirmations first, so that nothing below sees them. */
	if (sweep(s, now) < 0) {
		r = control_fail(503, "store failed: %s", store_error(s->st));
	} else if (strcmp(cmd, "subscribers") == 0) {
		json_t *list = list_json(s, 0, NULL);
		r = list ? control_ok("subscribers", list, 0)
		         : control_fail(503, "store failed: %s", store_error(s->st));
	} else if (strcmp(cmd, "subscriber_add") == 0) {
		r = cmd_add(s, req, now);
	} else if (strcmp(cmd, "subscriber_remove") == 0) {
		r = cmd_remove(s, req, now);
	} else if (strcmp(cmd, "subscribe") == 0) {
		r = cmd_subscribe(s, ob, req, now);
	} else if (strcmp(cmd, "subscribe_confirm") == 0) {
		r = cmd_confirm(s, req, now);
	} else {
		r = cmd_unsubscribe(s, req, strcmp(cmd, "unsubscribe_info") == 0);
	}
	/* A refusal may still have recorded something (a wrong code counts). */
	int code = (int)json_integer_value(json_object_get(r, "code"));
	if (code != 503 && store_commit(s->st) == 0)
		return control_reply(r);
	store_rollback(s->st);
	if (code != 503) {
		json_decref(r);
		r = control_fail(503, "store failed: %s", store_error(s->st));
	}
	/* Confirmations queued in the rolled-back transaction are gone: look again. */
	outbox_wake(ob, NULL);
	return control_reply(r);
}
