/* Subscribers: SHA-256 against FIPS 180-2 vectors; addresses, tokens, codes
 * and masks; the per-client rate limit; the public API's translation; and
 * the double opt-in, fan-out, expiry and unsubscribing against a real store. */
#include "check.h"
#include "sha256.h"
#include "subscribe_api.h"
#include "subscribers.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

static void test_sha256(void)
{
	char hex[65], million[1001];

	sha256_hex("", 0, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 56 bytes: the padding spills into a second block. */
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_hex(two, strlen(two), hex);
	CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', 1000);
	million[1000] = '\0';
	sha256_hex(million, 1000, hex);
	CHECK_STR(hex, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

static void test_addresses(void)
{
	char out[400];

	CHECK(subscribers_address("  Jane.Doe+status@Example.COM ", 0, out, sizeof(out)) == CONFIG_SUBSCRIBERS_EMAIL);
	CHECK_STR(out, "jane.doe+status@example.com");
	CHECK(subscribers_address("jane@mail.example.co.uk", CONFIG_SUBSCRIBERS_EMAIL, out, sizeof(out)));
	CHECK(subscribers_address("jane@example.com", CONFIG_SUBSCRIBERS_PHONE, out, sizeof(out)) == 0);
	static const char *const bad_emails[] = {"jane@",
	                                         "@example.com",
	                                         "jane@example",
	                                         "jane..doe@example.com",
	                                         ".jane@example.com",
	                                         "jane.@example.com",
	                                         "jane@-example.com",
	                                         "jane@example-.com",
	                                         "jane@example..com",
	                                         "jane@example.com.",
	                                         "ja ne@example.com",
	                                         "jane@exa mple.com",
	                                         "\"jane\"@example.com",
	                                         "jane@[127.0.0.1]",
	                                         "jane@b@example.com",
	                                         "j\xc3\xa4ne@example.com",
	                                         "jane@example.com\r\nBcc: x@example.com",
	                                         NULL};
	for (int i = 0; bad_emails[i]; i++) {
		int k = subscribers_address(bad_emails[i], 0, out, sizeof(out));
		CHECK(k == 0);
		if (k)
			fprintf(stderr, "  accepted: %s\n", bad_emails[i]);
	}
	char longlocal[80];
	memset(longlocal, 'a', 65);
	snprintf(longlocal + 65, sizeof(longlocal) - 65, "@example.com");
	CHECK(subscribers_address(longlocal, 0, out, sizeof(out)) == 0);

	CHECK(subscribers_address("+1 (415) 555-0100", 0, out, sizeof(out)) == CONFIG_SUBSCRIBERS_PHONE);
	CHECK_STR(out, "+14155550100");
	CHECK(subscribers_address("+44.7700.900123", CONFIG_SUBSCRIBERS_PHONE, out, sizeof(out)));
	CHECK_STR(out, "+447700900123");
	CHECK(subscribers_address("+49301234", 0, out, sizeof(out)) ==
	      CONFIG_SUBSCRIBERS_PHONE); /* 8 digits: the least */
	static const char *const bad_phones[] = {
	    "14155550100", "+0123456789", "+1415555010x", "+1234567", "+1234567890123456", "", "+", NULL};
	for (int i = 0; bad_phones[i]; i++)
		CHECK(subscribers_address(bad_phones[i], 0, out, sizeof(out)) == 0);
	CHECK(subscribers_address(NULL, 0, out, sizeof(out)) == 0);
	/* Too long for the buffer: refused, never cut into another address. */
	char small[12];
	CHECK(subscribers_address("jane@example.com", 0, small, sizeof(small)) == 0);
}

static void test_tokens_codes_masks(void)
{
	char a[23], b[23], code[7], m[64];
	int seen[10] = {0};

	CHECK(subscribers_token(a) == 0 && subscribers_token(b) == 0);
	CHECK(strlen(a) == 22 && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 22);
	CHECK(strcmp(a, b) != 0);
	for (int i = 0; i < 2000; i++) {
		CHECK(subscribers_code(code) == 0);
		if (strlen(code) != 6 || strspn(code, "0123456789") != 6) {
			CHECK(0);
			break;
		}
		seen[code[0] - '0']++;
	}
	/* Leading digits spread over all ten (leading zeros kept). */
	for (int i = 0; i < 10; i++)
		CHECK(seen[i] > 100);
	subscribers_mask("jane@example.com", m, sizeof(m));
	CHECK_STR(m, "j***@example.com");
	subscribers_mask("+14155550100", m, sizeof(m));
	CHECK_STR(m, "+14***00");
}

static void test_limiter(void)
{
	subscribe_api_limiter *l = subscribe_api_limiter_new();
	int64_t t = 1000000;

	CHECK(l != NULL);
	/* Burst 3, then one back every 20 minutes. */
	for (int i = 0; i < 3; i++)
		CHECK(subscribe_api_limiter_take(l, "192.0.2.1", 3, 3, t) == 0);
	int64_t wait = subscribe_api_limiter_take(l, "192.0.2.1", 3, 3, t);
	CHECK(wait >= 1199 && wait <= 1201);
	CHECK(subscribe_api_limiter_take(l, "192.0.2.2", 3, 3, t) == 0); /* another client */
	CHECK(subscribe_api_limiter_take(l, "192.0.2.1", 3, 3, t + 600000) > 0);
	CHECK(subscribe_api_limiter_take(l, "192.0.2.1", 3, 3, t + 1200000) == 0);
	CHECK(subscribe_api_limiter_take(l, "192.0.2.1", 3, 3, t + 1200000) > 0);
	/* An IPv6 host holds its /64: its addresses share one allowance. */
	CHECK(subscribe_api_limiter_take(l, "2001:db8:1:2::1", 2, 3, t) == 0);
	CHECK(subscribe_api_limiter_take(l, "2001:db8:1:2:ffff::9", 2, 3, t) == 0);
	CHECK(subscribe_api_limiter_take(l, "2001:db8:1:2:abcd::1", 2, 3, t) > 0);
	CHECK(subscribe_api_limiter_take(l, "2001:db8:1:3::1", 2, 3, t) == 0);
	/* A flood from many addresses neither grows without bound nor forgets a
	 * client it is holding back: the least held back are forgotten first. */
	char ip[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		subscribe_api_limiter_take(l, ip, 3, 3, t + 1200000 + i);
	}
	CHECK(subscribe_api_limiter_take(l, "192.0.2.1", 3, 3, t + 1200000 + 20000) > 0);
	subscribe_api_limiter_free(l);
}

static void test_api_translation(void)
{
	char err[256] = "", *req;
	json_t *j;
	subscribe_api_action a;
	const char *allow;

	CHECK(subscribe_api_route("/api/v1/subscribe", "POST", &a, &allow) == 0 && a == SUBSCRIBE_API_SUBSCRIBE);
	CHECK(subscribe_api_route("/api/v1/subscribe", "GET", &a, &allow) == -2 && strcmp(allow, "POST") == 0);
	CHECK(subscribe_api_route("/api/v1/subscribe/confirm", "GET", &a, &allow) == 0 &&
	      a == SUBSCRIBE_API_CONFIRM_LINK);
	CHECK(subscribe_api_route("/api/v1/subscribe/confirm", "POST", &a, &allow) == 0 &&
	      a == SUBSCRIBE_API_CONFIRM_CODE);
	CHECK(subscribe_api_route("/api/v1/unsubscribe", "POST", &a, &allow) == 0 && a == SUBSCRIBE_API_UNSUBSCRIBE);
	CHECK(subscribe_api_route("/api/v1/unsubscribe", "DELETE", &a, &allow) == -2);
	CHECK(subscribe_api_route("/api/v1/subscribers", "GET", &a, &allow) == -1);
	CHECK(subscribe_api_limited(SUBSCRIBE_API_SUBSCRIBE) && subscribe_api_limited(SUBSCRIBE_API_CONFIRM_CODE));
	CHECK(!subscribe_api_limited(SUBSCRIBE_API_UNSUBSCRIBE) && !subscribe_api_limited(SUBSCRIBE_API_CONFIRM_LINK));

	const char *form = "email=jane%40example.com&components=API%2C+Website+,";
	req = subscribe_api_request(SUBSCRIBE_API_SUBSCRIBE, NULL, "application/x-www-form-urlencoded", form,
	                            strlen(form), "192.0.2.1", err, sizeof(err));
	j = req ? json_loads(req, 0, NULL) : NULL;
	CHECK_STR(json_string_value(json_object_get(j, "cmd")), "subscribe");
	CHECK_STR(json_string_value(json_object_get(j, "email")), "jane@example.com");
	CHECK_STR(json_string_value(json_object_get(j, "client")), "192.0.2.1");
	CHECK(json_array_size(json_object_get(j, "components")) == 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(j, "components"), 1)), "Website");
	json_decref(j);
	free(req);

	const char *jbody = "{\"phone\": \"+14155550100\", \"client\": \"spoofed\"}";
	CHECK(subscribe_api_request(SUBSCRIBE_API_SUBSCRIBE, NULL, "application/json", jbody, strlen(jbody), "x", err,
	                            sizeof(err)) == NULL);
	CHECK_STR(err, "unknown key \"client\" (known: email, phone, components)");
	const char *dup = "{\"email\": \"a@example.com\", \"email\": \"b@example.com\"}";
	CHECK(subscribe_api_request(SUBSCRIBE_API_SUBSCRIBE, NULL, NULL, dup, strlen(dup), "x", err, sizeof(err)) ==
	      NULL);
	CHECK(strstr(err, "invalid JSON") != NULL);

	req = subscribe_api_request(SUBSCRIBE_API_UNSUBSCRIBE, "t=abc%2D_9", NULL, "List-Unsubscribe=One-Click", 26,
	                            "x", err, sizeof(err));
	CHECK(req && strstr(req, "\"cmd\":\"unsubscribe\"") && strstr(req, "\"token\":\"abc-_9\""));
	free(req);
	CHECK(subscribe_api_request(SUBSCRIBE_API_CONFIRM_LINK, "t=abc", NULL, "", 0, "x", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "incomplete") != NULL);

	/* Answers: pages escape what they show; errors keep the core's code. */
	subscribe_api_answer ans;
	CHECK(subscribe_api_answer_for(SUBSCRIBE_API_UNSUBSCRIBE_PAGE,
	                               "{\"ok\":true,\"subscribed\":true,\"address\":\"<b>***@example.com\"}",
	                               "t=AAAAAAAAAAAAAAAAAAAAA\"", "https://status.example.com/?a=1&b=2", &ans) == 0);
	CHECK(ans.status == 200 && ans.page);
	CHECK(strstr(ans.body, "&lt;b&gt;***@example.com") && !strstr(ans.body, "<b>***"));
	CHECK(strstr(ans.body, "action=\"?t=AAAAAAAAAAAAAAAAAAAAA&quot;\""));
	CHECK(strstr(ans.body, "href=\"https://status.example.com/?a=1&amp;b=2\""));
	free(ans.body);
	CHECK(subscribe_api_answer_for(SUBSCRIBE_API_CONFIRM_CODE, "{\"ok\":false,\"error\":\"nope\",\"code\":400}",
	                               NULL, NULL, &ans) == 0);
	CHECK(ans.status == 400 && !ans.page && strcmp(ans.body, "{\"status\":\"error\",\"error\":\"nope\"}") == 0);
	free(ans.body);
	CHECK(subscribe_api_answer_for(SUBSCRIBE_API_SUBSCRIBE, NULL, NULL, NULL, &ans) == 0);
	CHECK(ans.status == 503);
	free(ans.body);
	CHECK(subscribe_api_answer_for(
	          SUBSCRIBE_API_SUBSCRIBE,
	          "{\"ok\":true,\"status\":\"pending\",\"kind\":\"email\",\"expires_in\":\"2 hours\"}", NULL, NULL,
	          &ans) == 0);
	CHECK(ans.status == 202 && strstr(ans.body, "within 2 hours"));
	free(ans.body);
}

/* ---- against a store ---- */

static config_component comps[2];
static config_instance insts[2];
static config cfg;

static void make_config(void)
{
	comps[0] = (config_component){.name = "API", .labels = json_pack("{ss}", "service", "api")};
	comps[1] = (config_component){.name = "Website", .labels = json_pack("{ss}", "service", "web")};
	insts[0] = (config_instance){.name = "email/subs", .plugin = "email", .subscribers = CONFIG_SUBSCRIBERS_EMAIL};
	insts[1] = (config_instance){.name = "sms/subs", .plugin = "sms", .subscribers = CONFIG_SUBSCRIBERS_PHONE};
	cfg.components = comps;
	cfg.n_components = 2;
	cfg.instances = insts;
	cfg.n_instances = 2;
	cfg.subscribers = (config_subscribers){.enabled = 1,
	                                       .public_url = "https://status.example.com/",
	                                       .email_instance = "email/subs",
	                                       .sms_instance = "sms/subs",
	                                       .confirm_expiry_ms = 3600000,
	                                       .rate_burst = 5,
	                                       .rate_per_hour = 20};
}

/* Run a control command (JSON text) and parse the reply. */
static json_t *run(subscribers *s, outbox *ob, const char *req, int64_t now)
{
	json_t *r = json_loads(req, 0, NULL);
	char *txt = subscribers_control(s, ob, r, json_string_value(json_object_get(r, "cmd")), now);
	json_t *out = txt ? json_loads(txt, 0, NULL) : NULL;
	json_decref(r);
	free(txt);
	return out;
}

static int ok(json_t *r)
{
	int v = json_is_true(json_object_get(r, "ok"));
	if (!v) {
		char *t = json_dumps(r, 0);
		fprintf(stderr, "  reply: %s\n", t ? t : "(null)");
		free(t);
	}
	json_decref(r);
	return v;
}

static int64_t count(store *st, const char *sql)
{
	sqlite3_stmt *q;
	int64_t n = -1;
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* The newest confirmation's document (new). */
static json_t *last_confirmation(store *st)
{
	sqlite3_stmt *q;
	json_t *doc = NULL;
	if (sqlite3_prepare_v2(store_db(st),
	                       "SELECT doc FROM events WHERE type = 'subscription_confirm' ORDER BY id DESC LIMIT 1",
	                       -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		doc = json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL);
	sqlite3_finalize(q);
	return doc;
}

static void test_store(void)
{
	char dir[] = "/tmp/crier-subs-XXXXXX", path[256], err[256] = "";
	int64_t now = 1700000000000;

	make_config();
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/crier.db", dir);
	store *st = store_open(path, 0, 0, err, sizeof(err));
	outbox *ob = outbox_new(st, NULL);
	subscribers *s = st ? subscribers_open(st, err, sizeof(err)) : NULL;
	CHECK(s != NULL);
	if (!s)
		return;
	subscribers_configure(s, &cfg);

	/* Operators: confirmed at once. */
	CHECK(ok(run(s, ob, "{\"cmd\":\"subscriber_add\",\"address\":\"all@example.com\"}", now)));
	CHECK(ok(
	    run(s, ob, "{\"cmd\":\"subscriber_add\",\"address\":\"api@example.com\",\"components\":[\"API\"]}", now)));
	CHECK(
	    ok(run(s, ob, "{\"cmd\":\"subscriber_add\",\"address\":\"+14155550100\",\"components\":[\"API\"]}", now)));
	json_t *r =
	    run(s, ob, "{\"cmd\":\"subscriber_add\",\"address\":\"x@example.com\",\"components\":[\"DB\"]}", now);
	CHECK(json_integer_value(json_object_get(r, "code")) == 400);
	json_decref(r);

	/* The public: pending until confirmed, and given nothing meanwhile. */
	r = run(
	    s, ob,
	    "{\"cmd\":\"subscribe\",\"email\":\"Web@Example.com\",\"components\":[\"Website\"],\"client\":\"1.2.3.4\"}",
	    now);
	CHECK_STR(json_string_value(json_object_get(r, "expires_in")), "1 hour");
	CHECK(ok(r));
	CHECK(
	    count(st, "SELECT COUNT(*) FROM outbox WHERE instance = 'email/subs' AND recipient = 'web@example.com'") ==
	    1);
	json_t *doc = last_confirmation(st);
	json_t *sub = json_object_get(doc, "subscription");
	const char *url = json_string_value(json_object_get(sub, "confirm_url"));
	CHECK(url && strncmp(url, "https://status.example.com/api/v1/subscribe/confirm?token=", 58) == 0);
	CHECK(json_is_false(json_object_get(sub, "all")));
	char token[64] = "";
	snprintf(token, sizeof(token), "%s", url ? url + 58 : "");
	json_decref(doc);
	/* The token is stored only as its hash. */
	char probe[200];
	snprintf(probe, sizeof(probe), "SELECT COUNT(*) FROM subscribers WHERE confirm_hash LIKE '%%%s%%'", token);
	CHECK(count(st, probe) == 0);

	/* Fan-out: an API incident reaches the two confirmed email subscribers
	 * following it (not the pending one); the sms instance its phone. */
	json_t *api = json_pack("{ss}", "service", "api"), *none = json_pack("{ss}", "service", "db");
	CHECK(store_begin(st) == 0);
	CHECK(subscribers_fanout(s, 10, 1, "email/subs", CONFIG_SUBSCRIBERS_EMAIL, api, now) == 2);
	CHECK(subscribers_fanout(s, 10, 1, "sms/subs", CONFIG_SUBSCRIBERS_PHONE, api, now) == 1);
	/* An incident naming no component concerns every subscriber. */
	CHECK(subscribers_fanout(s, 11, 2, "email/subs", CONFIG_SUBSCRIBERS_EMAIL, none, now) == 2);
	CHECK(store_commit(st) == 0);
	/* Each subscriber is a lane per incident: all four rows lead theirs.
	 * A second event of incident 1 waits behind the first in both. */
	CHECK(
	    count(st,
	          "SELECT COUNT(*) FROM outbox WHERE event_id IN (10, 11) AND instance = 'email/subs' AND head = 1") ==
	    4);
	CHECK(store_begin(st) == 0);
	CHECK(subscribers_fanout(s, 13, 1, "email/subs", CONFIG_SUBSCRIBERS_EMAIL, api, now) == 2);
	CHECK(count(st, "SELECT COUNT(*) FROM outbox WHERE event_id = 13 AND head = 0") == 2);
	store_rollback(st);

	/* Confirming: the link once; then the web subscriber follows the website. */
	char req[200];
	snprintf(req, sizeof(req), "{\"cmd\":\"subscribe_confirm\",\"token\":\"%s\"}", token);
	CHECK(ok(run(s, ob, req, now + 1000)));
	r = run(s, ob, req, now + 2000);
	CHECK(json_integer_value(json_object_get(r, "code")) == 400);
	json_decref(r);
	CHECK(count(st, "SELECT COUNT(*) FROM events WHERE type = 'subscription_confirm'") == 0);
	json_t *web = json_pack("{ss}", "service", "web");
	CHECK(store_begin(st) == 0);
	CHECK(subscribers_fanout(s, 12, 3, "email/subs", CONFIG_SUBSCRIBERS_EMAIL, web, now) == 2);
	CHECK(store_commit(st) == 0);

	/* The delivery document's unsubscribe link, and unsubscribing by it. */
	int gone = 0;
	json_t *sd = subscribers_doc(s, CONFIG_SUBSCRIBERS_EMAIL, "web@example.com", &gone);
	const char *unsub = json_string_value(json_object_get(sd, "unsubscribe_url"));
	CHECK(unsub && strncmp(unsub, "https://status.example.com/api/v1/unsubscribe?t=", 48) == 0 &&
	      strlen(unsub) == 48 + 22);
	snprintf(req, sizeof(req), "{\"cmd\":\"unsubscribe_info\",\"token\":\"%s\"}", unsub ? unsub + 48 : "");
	r = run(s, ob, req, now);
	CHECK_STR(json_string_value(json_object_get(r, "address")), "w***@example.com");
	json_decref(r);
	snprintf(req, sizeof(req), "{\"cmd\":\"unsubscribe\",\"token\":\"%s\"}", unsub ? unsub + 48 : "");
	json_decref(sd);
	CHECK(ok(run(s, ob, req, now)));
	CHECK(ok(run(s, ob, req, now)));
	CHECK(subscribers_doc(s, CONFIG_SUBSCRIBERS_EMAIL, "web@example.com", &gone) == NULL && gone == 1);
	CHECK(count(st, "SELECT COUNT(*) FROM outbox WHERE recipient = 'web@example.com'") == 0);
	CHECK(count(st, "SELECT COUNT(*) FROM outbox WHERE recipient = 'all@example.com'") == 3);

	/* Phone: five wrong codes end the attempt; a new request within a
	 * minute sends nothing new; an unconfirmed number lapses and goes. */
	CHECK(ok(run(s, ob, "{\"cmd\":\"subscribe\",\"phone\":\"+447700900123\"}", now)));
	doc = last_confirmation(st);
	char code[8];
	snprintf(code, sizeof(code), "%s",
	         json_string_value(json_object_get(json_object_get(doc, "subscription"), "code")));
	json_decref(doc);
	char wrong[8];
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 1) % 1000000);
	for (int i = 0; i < 5; i++) {
		snprintf(req, sizeof(req),
		         "{\"cmd\":\"subscribe_confirm\",\"phone\":\"+447700900123\",\"code\":\"%s\"}", wrong);
		r = run(s, ob, req, now + i);
		CHECK_STR(json_string_value(json_object_get(r, "error")), "the code is wrong or has expired");
		json_decref(r);
	}
	snprintf(req, sizeof(req), "{\"cmd\":\"subscribe_confirm\",\"phone\":\"+447700900123\",\"code\":\"%s\"}", code);
	r = run(s, ob, req, now + 10);
	CHECK(json_integer_value(json_object_get(r, "code")) == 400);
	json_decref(r);
	int64_t events = count(st, "SELECT COUNT(*) FROM events");
	CHECK(ok(run(s, ob, "{\"cmd\":\"subscribe\",\"phone\":\"+447700900123\"}", now + 30000)));
	CHECK(count(st, "SELECT COUNT(*) FROM events") == events);
	CHECK(ok(run(s, ob, "{\"cmd\":\"subscribe\",\"phone\":\"+447700900123\"}", now + 61000)));
	CHECK(count(st, "SELECT COUNT(*) FROM events") == events); /* the old one replaced */
	doc = last_confirmation(st);
	snprintf(code, sizeof(code), "%s",
	         json_string_value(json_object_get(json_object_get(doc, "subscription"), "code")));
	json_decref(doc);
	snprintf(req, sizeof(req), "{\"cmd\":\"subscribe_confirm\",\"phone\":\"+447700900123\",\"code\":\"%s\"}", code);
	r = run(s, ob, req, now + 3600000 + 61000);
	CHECK(json_integer_value(json_object_get(r, "code")) == 400); /* too late */
	json_decref(r);
	r = run(s, ob, "{\"cmd\":\"subscribers\"}", now + 3600000 + 61000);
	CHECK(json_array_size(json_object_get(r, "subscribers")) == 3);
	json_decref(r);
	CHECK(count(st, "SELECT COUNT(*) FROM events WHERE type = 'subscription_confirm'") == 0);

	json_decref(api);
	json_decref(none);
	json_decref(web);
	subscribers_free(s);
	outbox_free(ob);
	store_close(st);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	CHECK(system(path) == 0);
	for (int i = 0; i < 2; i++)
		json_decref(comps[i].labels);
}

int main(void)
{
	test_sha256();
	test_addresses();
	test_tokens_codes_masks();
	test_limiter();
	test_api_translation();
	test_store();
	return check_summary("test_subscribers");
}
