/*
 * The sms plugin. Its pure helpers (plugins/sms/sms_text.c, compiled in
 * here) on their own; then the built plugin ($CRIER_BUILD/plugins/sms.so)
 * through a fake host whose templates and text measures are crier's own
 * (core/mustache.c, core/text.c), so the default template and the segment
 * fitting are the ones crierd runs.
 */
#include "check.h"

#include "../../plugins/sms/sms_text.c"

#include "mustache.h"
#include "text.h"

#include <crier/plugin.h>

#include <dlfcn.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SID   "AC0123456789abcdef0123456789abcdef"
#define TOKEN "f00dfacecafe4b1d5eed0123456789ab"
#define FROM  "+15017122661"
#define TO    "+15558675310"
#define LINK  "https://status.example.com/incidents/3.html"

/* ---- pure helpers ---- */

static void test_e164(void)
{
	CHECK(sms_text_is_e164("+15558675310"));
	CHECK(sms_text_is_e164("+12345678"));        /* 8 digits */
	CHECK(sms_text_is_e164("+123456789012345")); /* 15 */
	CHECK(!sms_text_is_e164("+1234567"));        /* 7 */
	CHECK(!sms_text_is_e164("+1234567890123456"));
	CHECK(!sms_text_is_e164("+05558675310"));
	CHECK(!sms_text_is_e164("15558675310"));
	CHECK(!sms_text_is_e164("+1 555 867 5310"));
	CHECK(!sms_text_is_e164("+1555867531x"));
	CHECK(!sms_text_is_e164("+"));
	CHECK(!sms_text_is_e164(""));
	CHECK(!sms_text_is_e164(NULL));
}

static void test_segments(void)
{
	CHECK(sms_text_segments(0, 1) == 1);
	CHECK(sms_text_segments(160, 1) == 1);
	CHECK(sms_text_segments(161, 1) == 2);
	CHECK(sms_text_segments(306, 1) == 2);
	CHECK(sms_text_segments(307, 1) == 3);
	CHECK(sms_text_segments(1530, 1) == 10);
	CHECK(sms_text_segments(70, 0) == 1);
	CHECK(sms_text_segments(71, 0) == 2);
	CHECK(sms_text_segments(134, 0) == 2);
	CHECK(sms_text_segments(135, 0) == 3);

	CHECK(sms_text_capacity(1, 1) == 160);
	CHECK(sms_text_capacity(2, 1) == 306);
	CHECK(sms_text_capacity(10, 1) == 1530);
	CHECK(sms_text_capacity(1, 0) == 70);
	CHECK(sms_text_capacity(2, 0) == 134);
	CHECK(sms_text_capacity(10, 0) == 670);
	/* What fits in n parts takes n parts at most. */
	for (unsigned n = 1; n <= SMS_TEXT_MAX_SEGMENTS; n++) {
		CHECK(sms_text_segments(sms_text_capacity(n, 1), 1) == n);
		CHECK(sms_text_segments(sms_text_capacity(n, 0), 0) == n);
		CHECK(sms_text_segments(sms_text_capacity(n, 1) + 1, 1) == n + 1);
		CHECK(sms_text_segments(sms_text_capacity(n, 0) + 1, 0) == n + 1);
	}
}

static void tidy_is(const char *in, const char *want)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", in);
	sms_text_tidy(buf);
	CHECK_STR(buf, want);
}

static void test_tidy(void)
{
	tidy_is("[crier] A:  investigating.  https://x", "[crier] A: investigating. https://x");
	tidy_is("\n  [crier]\tA \t b  \n", "[crier] A b");
	tidy_is("one  \n   two", "one\ntwo");
	tidy_is("one\r\n\r\n\r\n\n two", "one\n\ntwo");
	tidy_is("   \n\t ", "");
	tidy_is("", "");
	tidy_is("é  ü", "é ü");
}

static void test_form(void)
{
	const char *const pairs[][2] = {{"To", "+15558675310"},
	                                {"From", NULL},
	                                {"MessagingServiceSid", "MG1"},
	                                {"Body", "[crier] 5xx > 5% (a&b=c): ok ~ é https://s.example/i/3.html"}};
	char *s = sms_text_form(pairs, 4);

	CHECK_STR(s,
	          "To=%2B15558675310&MessagingServiceSid=MG1&Body=%5Bcrier%5D+5xx+%3E+5%25+%28a%26b%3Dc%29%3A+ok+%7E+"
	          "%C3%A9+https%3A%2F%2Fs.example%2Fi%2F3.html");
	free(s);
	s = sms_text_form(pairs, 0);
	CHECK_STR(s, "");
	free(s);
}

static void describe_is(long status, const char *body, long want_code, const char *want)
{
	char out[320];
	long code = -1;

	sms_text_describe(status, body, body ? strlen(body) : 0, &code, out, sizeof(out));
	CHECK(code == want_code);
	CHECK_STR(out, want);
}

static void test_describe(void)
{
	char big[600];

	describe_is(400,
	            "{\"code\":21211,\"message\":\"The 'To' number 5551234567 is not a valid phone number.\","
	            "\"more_info\":\"https://www.twilio.com/docs/errors/21211\",\"status\":400}",
	            21211, "HTTP 400, Twilio error 21211: The 'To' number 5551234567 is not a valid phone number.");
	describe_is(401, "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}", 20003,
	            "HTTP 401, Twilio error 20003: Authenticate");
	describe_is(429, "{\"code\":20429}", 20429, "HTTP 429, Twilio error 20429");
	describe_is(502, "<html>\r\n<b>Bad gateway</b>\n</html>\n", 0, "HTTP 502: <html>  <b>Bad gateway</b> </html>");
	describe_is(500, "", 0, "HTTP 500");
	describe_is(500, NULL, 0, "HTTP 500");
	describe_is(400, "{\"message\":\"no code\"}", 0, "HTTP 400: no code");
	/* A long body is cut at 200 bytes, not inside the two-byte "é". */
	memset(big, 'a', sizeof(big));
	memcpy(big + 199, "\xc3\xa9", 2);
	big[sizeof(big) - 1] = '\0';
	{
		char out[320];
		long code;
		sms_text_describe(503, big, strlen(big), &code, out, sizeof(out));
		CHECK(strlen(out) == strlen("HTTP 503: ") + 199);
	}
}

static void test_classify(void)
{
	CHECK(sms_text_classify(201, 0) == CRIER_OK);
	CHECK(sms_text_classify(200, 0) == CRIER_OK);
	CHECK(sms_text_classify(429, 20429) == CRIER_RETRY);
	CHECK(sms_text_classify(429, 0) == CRIER_RETRY);
	CHECK(sms_text_classify(400, 20429) == CRIER_RETRY);
	CHECK(sms_text_classify(500, 0) == CRIER_RETRY);
	CHECK(sms_text_classify(503, 20500) == CRIER_RETRY);
	CHECK(sms_text_classify(408, 0) == CRIER_RETRY);
	CHECK(sms_text_classify(400, 21211) == CRIER_FAIL);
	CHECK(sms_text_classify(400, 21610) == CRIER_FAIL);
	CHECK(sms_text_classify(400, 21614) == CRIER_FAIL);
	CHECK(sms_text_classify(401, 20003) == CRIER_FAIL);
	CHECK(sms_text_classify(404, 20404) == CRIER_FAIL);
	CHECK(sms_text_classify(301, 0) == CRIER_FAIL);
}

/* ---- the plugin through a fake host ---- */

struct crier_host {
	char log[8][256]; /* the last lines logged, newest last */
	int n_logs;

	/* What the next http_request answers. */
	int next_rc;
	long next_status;
	const char *next_body;
	int64_t next_retry_after_ms;

	/* What the last http_request was asked. */
	int http_calls;
	char url[256];
	char body[2048];
	long timeout_ms;
	char headers[8][160]; /* "Name: value" */
	size_t n_headers;
};

struct crier_delivery {
	const char *json;
	const char *recipient;
	char error[512];
	int error_calls;
	int64_t retry_after_ms;
};

static void fake_log(crier_host *h, crier_log_level level, const char *msg)
{
	if (h->n_logs == 8) {
		memmove(h->log[0], h->log[1], sizeof(h->log[0]) * 7);
		h->n_logs--;
	}
	snprintf(h->log[h->n_logs++], sizeof(h->log[0]), "%s%s", level == CRIER_LOG_DEBUG ? "debug: " : "", msg);
}

static const char *fake_delivery_json(const crier_delivery *d)
{
	return d->json;
}

static const char *fake_delivery_recipient(const crier_delivery *d)
{
	return d->recipient;
}

static void fake_retry_after(crier_delivery *d, int64_t not_before_ms)
{
	d->retry_after_ms = not_before_ms;
}

static void fake_set_error(crier_delivery *d, const char *reason)
{
	snprintf(d->error, sizeof(d->error), "%s", reason);
	d->error_calls++;
}

static int fake_http_request(crier_host *h, const crier_http_request *req, crier_http_response *resp)
{
	h->http_calls++;
	snprintf(h->url, sizeof(h->url), "%s", req->url);
	snprintf(h->body, sizeof(h->body), "%.*s", (int)req->body_len, req->body ? req->body : "");
	h->timeout_ms = req->timeout_ms;
	h->n_headers = req->n_headers;
	for (size_t i = 0; i < req->n_headers && i < 8; i++)
		snprintf(h->headers[i], sizeof(h->headers[i]), "%s: %s", req->headers[i].name, req->headers[i].value);
	if (h->next_rc != 0) {
		*resp = (crier_http_response){.error = "Operation timed out after 2000 milliseconds"};
		return -1;
	}
	*resp = (crier_http_response){.status = h->next_status,
	                              .body = strdup(h->next_body ? h->next_body : ""),
	                              .retry_after_ms = h->next_retry_after_ms};
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	return 0;
}

static void fake_http_response_free(crier_http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

/* Templates as the host makes them, from the repository's conf.d (tests
 * run from the repository root). */
static crier_template *fake_template_load(crier_host *h, const char *name, const char *src, char *err, size_t errlen)
{
	char path[256], *text;
	mustache *t;

	(void)h;
	if (!src || strncmp(src, "file:", 5) == 0) {
		if (src)
			snprintf(path, sizeof(path), "%s", src + 5);
		else
			snprintf(path, sizeof(path), "conf.d/templates/sms/%s.mustache", name);
		text = mustache_read(path, NULL, NULL);
		if (!text) {
			snprintf(err, errlen, "%s: cannot read %s", name, path);
			return NULL;
		}
	} else {
		text = strdup(src);
		if (!text)
			return NULL;
	}
	t = mustache_compile(name, text, strlen(text), err, errlen);
	free(text);
	return (crier_template *)t;
}

static char *fake_template_render(const crier_template *t, const char *context_json, crier_escape esc, char *err,
                                  size_t errlen)
{
	json_t *ctx = json_loads(context_json, 0, NULL);
	char *out;

	if (!ctx) {
		snprintf(err, errlen, "bad context");
		return NULL;
	}
	out = mustache_render((const mustache *)t, ctx, esc, NULL, NULL, err, errlen);
	json_decref(ctx);
	return out;
}

static void fake_template_free(crier_template *t)
{
	mustache_free((mustache *)t);
}

/* crier's own measure, counted: a delivery has no need to measure the same
 * text twice. */
static int n_measures;

static size_t counted_measure(const char *utf8, crier_measure m)
{
	n_measures++;
	return text_measure(utf8, m);
}

static const crier_host_api fake_api = {
    .abi_version = CRIER_ABI_VERSION,
    .log = fake_log,
    .delivery_json = fake_delivery_json,
    .retry_after = fake_retry_after,
    .set_error = fake_set_error,
    .http_request = fake_http_request,
    .http_response_free = fake_http_response_free,
    .delivery_recipient = fake_delivery_recipient,
    .template_load = fake_template_load,
    .template_render = fake_template_render,
    .template_free = fake_template_free,
    .text_measure = counted_measure,
    .text_fit = text_fit,
};

static const crier_plugin *load_sms(void **dl)
{
	const char *build = getenv("CRIER_BUILD");
	char path[512];
	crier_plugin_negotiate_fn negotiate;
	const crier_plugin *p;

	snprintf(path, sizeof(path), "%s/plugins/sms.so", build && *build ? build : "build");
	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		fprintf(stderr, "test_sms: cannot load %s (%s); build the plugins first (make)\n", path, dlerror());
		return NULL;
	}
	*(void **)&negotiate = dlsym(*dl, CRIER_PLUGIN_SYMBOL);
	p = negotiate ? negotiate(1, CRIER_ABI_VERSION) : NULL;
	CHECK(p != NULL);
	CHECK(negotiate && negotiate(1, 1) == NULL); /* it needs version 2 */
	if (p)
		CHECK_STR(p->name, "sms");
	return p;
}

/* An event document as the host hands it over. */
static char *event(const char *type, const char *title, const char *state, const char *link)
{
	json_t *doc = json_pack("{ss ss ss s{sI ss ss ss ss} s{ss ss} s{sb}}", "type", type, "actor", "alertmanager",
	                        "message", title, "incident", "id", (json_int_t)3, "key", "service=api", "title", title,
	                        "state", state, "severity", "critical", "links", "status_page",
	                        link[0] ? "https://status.example.com/" : "", "incident", link, "is", type, 1);
	char *s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return s;
}

/* The Body field of a form, decoded. */
static void form_body(const char *form, char *out, size_t size)
{
	const char *p = strstr(form, "Body=");
	size_t n = 0;

	out[0] = '\0';
	if (!p)
		return;
	for (p += 5; *p && *p != '&' && n + 1 < size; p++) {
		if (*p == '+') {
			out[n++] = ' ';
		} else if (*p == '%' && p[1] && p[2]) {
			char hex[3] = {p[1], p[2], 0};
			out[n++] = (char)strtol(hex, NULL, 16);
			p += 2;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static int has_header(const crier_host *h, const char *line)
{
	for (size_t i = 0; i < h->n_headers; i++)
		if (strcmp(h->headers[i], line) == 0)
			return 1;
	return 0;
}

static int ends_with(const char *s, const char *end)
{
	size_t a = strlen(s), b = strlen(end);
	return a >= b && strcmp(s + a - b, end) == 0;
}

static void init_fails(const crier_plugin *p, crier_host *h, const char *config, const char *want)
{
	crier_instance *inst = (crier_instance *)h;
	char err[400] = "";

	CHECK(p->init(&fake_api, h, config, &inst, err, sizeof(err)) == -1);
	CHECK(inst == NULL);
	CHECK(strstr(err, want) != NULL);
	CHECK(strstr(err, TOKEN) == NULL);
	if (!strstr(err, want))
		fprintf(stderr, "  got: %s\n  wanted it to hold: %s\n", err, want);
}

static void test_config(const crier_plugin *p, crier_host *h)
{
	const char *ok_tail = "\"auth_token\": \"" TOKEN "\", \"from\": \"" FROM "\"";
	char cfg[600];
	crier_instance *inst = NULL;
	char err[400] = "";

	snprintf(cfg, sizeof(cfg), "{\"account_sid\": \"" SID "\", %s}", ok_tail);
	CHECK(p->init(&fake_api, h, cfg, &inst, err, sizeof(err)) == 0);
	p->destroy(inst);
	CHECK(h->http_calls == 0);

	init_fails(p, h, "{\"auth_token\": \"" TOKEN "\", \"from\": \"" FROM "\"}",
	           "missing required key \"account_sid\"");
	init_fails(p, h, "{\"account_sid\": \"" SID "\", \"from\": \"" FROM "\"}",
	           "missing required key \"auth_token\"");
	init_fails(p, h, "{\"account_sid\": \"" SID "\", \"auth_token\": \"" TOKEN "\"}",
	           "set exactly one of \"from\" and \"messaging_service_sid\"");
	init_fails(p, h,
	           "{\"account_sid\": \"" SID "\", \"auth_token\": \"" TOKEN "\", \"from\": \"" FROM
	           "\", \"messaging_service_sid\": \"MG0123456789abcdef0123456789abcdef\"}",
	           "set exactly one of");
	init_fails(p, h, "{\"account_sid\": \"AC123\", \"auth_token\": \"" TOKEN "\", \"from\": \"" FROM "\"}",
	           "\"account_sid\" must be \"AC\" followed by 32 hex digits");
	init_fails(p, h, "{\"account_sid\": \"" SID "\", \"auth_token\": \"" TOKEN "\", \"from\": \"+0123456789\"}",
	           "\"from\" must be an E.164 number");
	init_fails(p, h, "{\"account_sid\": \"" SID "\", \"auth_token\": \"" TOKEN "\", \"from\": \"15017122661\"}",
	           "\"from\" must be an E.164 number");
	init_fails(
	    p, h, "{\"account_sid\": \"" SID "\", \"auth_token\": \"" TOKEN "\", \"messaging_service_sid\": \"MGxyz\"}",
	    "\"messaging_service_sid\" must be");
	init_fails(p, h, "{\"account_sid\": \"" SID "\", \"auth_token\": \"\", \"from\": \"" FROM "\"}",
	           "\"auth_token\" must be a non-empty string");
#define WITH(extra) "{\"account_sid\": \"" SID "\", \"auth_token\": \"" TOKEN "\", \"from\": \"" FROM "\", " extra "}"
	init_fails(p, h, WITH("\"api_base\": \"http://api.twilio.com\""), "\"api_base\" must be an https:// URL");
	init_fails(p, h, WITH("\"api_base\": \"https://\""), "\"api_base\" must be an https:// URL");
	init_fails(p, h, WITH("\"api_base\": \"http://127.0.0.1.evil.example\""), "\"api_base\" must be");
	init_fails(p, h, WITH("\"max_segments\": 0"), "\"max_segments\" must be an integer from 1 to 10");
	init_fails(p, h, WITH("\"max_segments\": 11"), "\"max_segments\" must be an integer from 1 to 10");
	init_fails(p, h, WITH("\"timeout_ms\": \"5s\""), "\"timeout_ms\" must be an integer");
	init_fails(p, h, WITH("\"recipients\": [\"" TO "\"]"), "unknown key \"recipients\"");
	init_fails(p, h, WITH("\"templates\": {\"subject\": \"x\"}"), "unknown template \"subject\"");
	init_fails(p, h, WITH("\"templates\": {\"text\": \"{{#a}}\"}"), "templates: ");
	init_fails(p, h, WITH("\"templates\": []"), "\"templates\" must be an object");
	/* A broken document never quotes the text around the error (the token may be there). */
	init_fails(p, h, "{\"auth_token\": \"" TOKEN "\" \"from\": 1}", "configuration is not valid JSON (line 1");
#undef WITH
}

/* One delivery against an instance made from config; the answer comes from h->next_*. */
static crier_result deliver(const crier_plugin *p, crier_host *h, const char *config, crier_delivery *d)
{
	crier_instance *inst = NULL;
	char err[400] = "";
	crier_result r;

	if (p->init(&fake_api, h, config, &inst, err, sizeof(err)) != 0) {
		fprintf(stderr, "test_sms: init: %s\n", err);
		CHECK(!"init failed");
		return CRIER_FAIL;
	}
	r = p->deliver(inst, d);
	p->destroy(inst);
	return r;
}

#define CONFIG(extra)                                                                                                  \
	"{\"account_sid\": \"" SID "\", \"auth_token\": \"" TOKEN "\", \"from\": \"" FROM                              \
	"\", \"api_base\": \"http://127.0.0.1:8099/\", \"timeout_ms\": 2000" extra "}"

static void test_request(const crier_plugin *p, crier_host *h)
{
	char *json = event("opened", "API 5xx above 5%", "investigating", LINK);
	crier_delivery d = {.json = json, .recipient = TO};
	char body[1024];

	h->next_rc = 0;
	h->next_status = 201;
	h->next_body = "{\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\",\"num_segments\":\"1\"}";
	n_measures = 0;
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_OK);
	CHECK(d.error_calls == 0);
	/* GSM-7, one part, nothing cut: measured once. */
	CHECK(n_measures == 1);
	CHECK_STR(h->url, "http://127.0.0.1:8099/2010-04-01/Accounts/" SID "/Messages.json");
	CHECK(has_header(h, "Content-Type: application/x-www-form-urlencoded"));
	/* base64(SID ":" TOKEN) */
	CHECK(has_header(
	    h, "Authorization: Basic "
	       "QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpmMDBkZmFjZWNhZmU0YjFkNWVlZDAxMjM0NTY3ODlhYg=="));
	CHECK(h->timeout_ms == 2000);
	CHECK_STR(h->body,
	          "To=%2B15558675310&From=%2B15017122661&Body=%5Bcrier%5D+API+5xx+above+5%25+%28critical%29%3A+"
	          "investigating.+https%3A%2F%2Fstatus.example.com%2Fincidents%2F3.html");
	form_body(h->body, body, sizeof(body));
	CHECK_STR(body, "[crier] API 5xx above 5% (critical): investigating. " LINK);
	CHECK(h->n_logs > 0);
	if (h->n_logs)
		CHECK_STR(h->log[h->n_logs - 1], "debug: text: 1 segment, GSM-7, 97 septets (max_segments 2)");
	for (int i = 0; i < h->n_logs; i++)
		CHECK(strstr(h->log[i], TOKEN) == NULL && strstr(h->log[i], TO) == NULL);
	free(json);

	/* Resolved reads differently; no status page configured: no link. */
	json = event("resolved", "API 5xx above 5%", "resolved", "");
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK_STR(body, "[crier] Resolved: API 5xx above 5%.");
	free(json);

	/* A published post-mortem, and the staff's reminder that one is overdue. */
	json = event("postmortem_published", "API 5xx above 5%", "resolved", LINK);
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK_STR(body, "[crier] Post-mortem published: API 5xx above 5%. " LINK);
	free(json);
	json = event("postmortem_due", "API 5xx above 5%", "resolved", LINK);
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK_STR(body, "[crier] Post-mortem overdue: API 5xx above 5%. crierctl postmortem show 3");
	free(json);

	/* A Messaging Service sends instead of From. */
	json = event("opened", "Disk full", "investigating", LINK);
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h,
	              "{\"account_sid\": \"" SID "\", \"auth_token\": \"" TOKEN
	              "\", \"messaging_service_sid\": \"MG0123456789abcdef0123456789abcdef\"}",
	              &d) == CRIER_OK);
	CHECK(strncmp(h->url, "https://api.twilio.com/2010-04-01/Accounts/" SID "/Messages.json", 200) == 0);
	CHECK(strstr(h->body, "&MessagingServiceSid=MG0123456789abcdef0123456789abcdef&Body=") != NULL);
	CHECK(strstr(h->body, "From=") == NULL);
	CHECK(h->timeout_ms == 10000);

	/* An inline template override. */
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(", \"templates\": {\"text\": \"PAGE {{incident.title}} {{links.incident}}\"}"),
	              &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK_STR(body, "PAGE Disk full " LINK);
	free(json);
}

static void test_recipients(const crier_plugin *p, crier_host *h)
{
	char *json = event("opened", "API down", "investigating", LINK);
	crier_delivery d = {.json = json, .recipient = "+0123"};
	int calls = h->http_calls;

	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_FAIL);
	CHECK_STR(d.error, "recipient \"+0123\" is not an E.164 number (\"+\", then 8 to 15 digits, the first not 0)");
	d = (crier_delivery){.json = json, .recipient = "+1 (555) \"867\"-5310"};
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_FAIL);
	CHECK_STR(d.error, "recipient is not an E.164 number (\"+\", then 8 to 15 digits, the first not 0)");
	d = (crier_delivery){.json = json, .recipient = NULL};
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_FAIL);
	CHECK(strstr(d.error, "no recipient") != NULL);
	CHECK(h->http_calls == calls);
	free(json);
}

/* Twilio's answers and what each becomes. */
static void answer_is(const crier_plugin *p, crier_host *h, int rc, long status, const char *body, int64_t retry_after,
                      crier_result want, const char *want_error)
{
	char *json = event("opened", "API down", "investigating", LINK);
	crier_delivery d = {.json = json, .recipient = TO};

	h->next_rc = rc;
	h->next_status = status;
	h->next_body = body;
	h->next_retry_after_ms = retry_after;
	CHECK(deliver(p, h, CONFIG(""), &d) == want);
	if (want_error)
		CHECK_STR(d.error, want_error);
	CHECK(d.retry_after_ms == (want == CRIER_RETRY ? retry_after : 0));
	CHECK(strstr(d.error, TOKEN) == NULL);
	h->next_rc = 0;
	h->next_retry_after_ms = 0;
	free(json);
}

static void test_answers(const crier_plugin *p, crier_host *h)
{
	answer_is(p, h, 0, 201, "{\"sid\":\"SM1\"}", 0, CRIER_OK, "");
	answer_is(p, h, 0, 400,
	          "{\"code\":21211,\"message\":\"The 'To' number +15558675310 is not a valid phone number.\","
	          "\"more_info\":\"https://www.twilio.com/docs/errors/21211\",\"status\":400}",
	          0, CRIER_FAIL,
	          "HTTP 400, Twilio error 21211: The 'To' number +15558675310 is not a valid phone number.");
	answer_is(p, h, 0, 400,
	          "{\"code\":21610,\"message\":\"Attempt to send to unsubscribed recipient\",\"status\":400}", 0,
	          CRIER_FAIL, "HTTP 400, Twilio error 21610: Attempt to send to unsubscribed recipient");
	answer_is(p, h, 0, 400, "{\"code\":21614,\"message\":\"'To' number is not a valid mobile number\"}", 0,
	          CRIER_FAIL, "HTTP 400, Twilio error 21614: 'To' number is not a valid mobile number");
	answer_is(p, h, 0, 401,
	          "{\"code\":20003,\"message\":\"Authenticate\",\"more_info\":\"https://www.twilio.com/docs/errors/"
	          "20003\",\"status\":401}",
	          0, CRIER_FAIL, "HTTP 401, Twilio error 20003: Authenticate (check account_sid and auth_token)");
	answer_is(p, h, 0, 404, "{\"code\":20404,\"message\":\"The requested resource was not found\"}", 0, CRIER_FAIL,
	          "HTTP 404, Twilio error 20404: The requested resource was not found");
	/* An answer that quotes the token is not passed on. */
	answer_is(p, h, 0, 400, "{\"code\":21999,\"message\":\"bad token " TOKEN "\"}", 0, CRIER_FAIL,
	          "HTTP 400, Twilio error 21999 (its text quoted the credentials: withheld)");
	answer_is(p, h, 0, 429, "{\"code\":20429,\"message\":\"Too Many Requests\",\"status\":429}", 0, CRIER_RETRY,
	          "HTTP 429, Twilio error 20429: Too Many Requests");
	answer_is(p, h, 0, 429, "{\"code\":20429,\"message\":\"Too Many Requests\",\"status\":429}", 1780272009000LL,
	          CRIER_RETRY, NULL);
	answer_is(p, h, 0, 500, "{\"code\":20500,\"message\":\"Internal Server Error\",\"status\":500}", 0, CRIER_RETRY,
	          "HTTP 500, Twilio error 20500: Internal Server Error");
	answer_is(p, h, 0, 503, "<html>Service Unavailable</html>", 1780272009000LL, CRIER_RETRY,
	          "HTTP 503: <html>Service Unavailable</html>");
	answer_is(p, h, -1, 0, NULL, 0, CRIER_RETRY, "Operation timed out after 2000 milliseconds");
}

/* Septets of a GSM-7 text (the fitted body is checked with crier's own measure). */
static void test_fitting(const crier_plugin *p, crier_host *h)
{
	const char *long_title = "Checkout latency above two seconds for customers in every region while the payment "
	                         "provider retries timed out requests and the queue of pending orders keeps growing "
	                         "past its alert threshold";
	const char *greek = "καθυστέρηση στις πληρωμές για όλους τους πελάτες σε κάθε περιοχή";
	char *json, body[1024], full[1024];
	crier_delivery d;

	h->next_rc = 0;
	h->next_status = 201;
	h->next_body = "{}";

	/* GSM-7, one part: cut at a word, the link whole at the end. */
	json = event("opened", long_title, "investigating", LINK);
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(", \"max_segments\": 1"), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK(text_measure(body, CRIER_MEASURE_GSM7) <= 160);
	CHECK(text_measure(body, CRIER_MEASURE_GSM7) > 140); /* no needless waste either */
	CHECK(ends_with(body, "... " LINK));
	snprintf(full, sizeof(full), "[crier] %s (critical): investigating.", long_title);
	{
		size_t kept = strlen(body) - strlen("... " LINK);
		CHECK(strncmp(body, full, kept) == 0);
		CHECK(full[kept] == ' '); /* the cut fell between words */
	}
	CHECK(h->n_logs > 0 && strstr(h->log[h->n_logs - 1], "1 segment, GSM-7,") != NULL);

	/* The same with two parts fits whole-ish: 306 septets. */
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK(text_measure(body, CRIER_MEASURE_GSM7) <= 306);
	CHECK(ends_with(body, LINK));
	CHECK(h->n_logs > 0 && strstr(h->log[h->n_logs - 1], "2 segments, GSM-7,") != NULL);
	free(json);

	/* Greek lower case is not GSM-7: UCS-2, 70 units in one part. */
	json = event("opened", greek, "investigating", LINK);
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(", \"max_segments\": 1"), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK(text_measure(body, CRIER_MEASURE_GSM7) == SIZE_MAX);
	CHECK(text_measure(body, CRIER_MEASURE_UTF16) <= 70);
	CHECK(ends_with(body, "\xe2\x80\xa6 " LINK)); /* UCS-2 has the real ellipsis */
	CHECK(strncmp(body, "[crier] \xce\xba\xce\xb1\xce\xb8", 14) == 0);
	CHECK(h->n_logs > 0 && strstr(h->log[h->n_logs - 1], "1 segment, UCS-2,") != NULL);
	free(json);

	/* An emoji counts two UTF-16 units: 95 units, so two parts (134), and nothing is cut. */
	json = event("opened", "Checkout \xf0\x9f\x94\xa5 slow", "investigating", LINK);
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK_STR(body, "[crier] Checkout \xf0\x9f\x94\xa5 slow (critical): investigating. " LINK);
	CHECK(h->n_logs > 0 && strstr(h->log[h->n_logs - 1], "2 segments, UCS-2, 95 UTF-16 units") != NULL);
	free(json);
}

/* Subscribers (docs/subscribers.md): a confirmation's code, and every
 * message ending with its Stop link, whole, within the segment budget. */
static void test_subscribers(const crier_plugin *p, crier_host *h)
{
	const char *stop = "https://status.example.com/api/v1/unsubscribe?t=AbCdEfGhIjKlMnOpQrStUv";
	const char *long_title = "Checkout latency above two seconds for customers in every region while the payment "
	                         "provider retries timed out requests";
	char *json, body[1024], tail[400];
	crier_delivery d;
	json_t *doc;

	h->next_rc = 0;
	h->next_status = 201;
	h->next_body = "{}";
	doc = json_pack("{ss s{ss ss ss} s{ss ss} s{sb}}", "type", "subscription_confirm", "subscription", "kind",
	                "phone", "code", "042917", "expires_in", "24 hours", "links", "status_page", "", "incident", "",
	                "is", "subscription_confirm", 1);
	json = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK_STR(body, "Your code for status updates: 042917. It works for 24 hours. If you did not ask for it, "
	                "ignore this message.");
	free(json);

	json = event("opened", long_title, "investigating", LINK);
	doc = json_loads(json, 0, NULL);
	free(json);
	json_object_set_new(doc, "subscriber", json_pack("{ss}", "unsubscribe_url", stop));
	json = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	snprintf(tail, sizeof(tail), " " LINK " Stop: %s", stop);
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(", \"max_segments\": 1"), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	CHECK(text_measure(body, CRIER_MEASURE_GSM7) <= 160);
	CHECK(ends_with(body, tail));
	CHECK(strncmp(body, "[crier] Checkout latency", 24) == 0);
	/* Two parts: the message whole, then the Stop link. */
	d = (crier_delivery){.json = json, .recipient = TO};
	CHECK(deliver(p, h, CONFIG(""), &d) == CRIER_OK);
	form_body(h->body, body, sizeof(body));
	snprintf(tail, sizeof(tail), "[crier] %s (critical): investigating. " LINK " Stop: %s", long_title, stop);
	CHECK_STR(body, tail);
	free(json);
}

int main(void)
{
	crier_host *h = calloc(1, sizeof(*h));
	const crier_plugin *p;
	void *dl = NULL;

	test_e164();
	test_segments();
	test_tidy();
	test_form();
	test_describe();
	test_classify();

	CHECK(h != NULL);
	p = h ? load_sms(&dl) : NULL;
	CHECK(p != NULL);
	if (p) {
		test_config(p, h);
		test_request(p, h);
		test_recipients(p, h);
		test_answers(p, h);
		test_fitting(p, h);
		test_subscribers(p, h);
	}
	if (dl)
		dlclose(dl);
	free(h);
	return check_summary("test_sms");
}
