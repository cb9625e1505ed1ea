/*
 * SMTP through libcurl (see smtp.h).
 *
 * The easy handle lives as long as the instance, so a connection the
 * server keeps open after a successful mail serves the next one (libcurl
 * closes it after any failure, and sends QUIT when the handle goes).
 * The server's reply lines reach us only through libcurl's debug callback;
 * the last one is kept so an error can say what the server said.
 */
#include "smtp.h"

#include <crier/plugin_util.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX 200
/* An idle connection older than this is not reused: servers drop idle
 * clients after a few minutes (RFC 5321 §4.5.3.2.7 asks for 5). */
#define MAX_IDLE_S 60

struct smtp_client {
	CURL *curl; /* new */
	char *url;  /* new */
	smtp_tls tls;
	char *username; /* new or NULL */
	char *password; /* new or NULL; a secret, wiped on free */
	char *ca_file;  /* new or NULL */
	long timeout_ms;
	char reply[REPLY_MAX + 1]; /* the server's last reply line of the current transaction */
};

static char *dup_or_null(const char *s, int *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = 1;
	return d;
}

smtp_client *smtp_client_new(const smtp_options *o)
{
	smtp_client *c = calloc(1, sizeof(*c));
	int failed = 0;

	if (!c)
		return NULL;
	c->tls = o->tls;
	c->timeout_ms = o->timeout_ms;
	c->url = dup_or_null(o->url, &failed);
	c->username = dup_or_null(o->username, &failed);
	c->password = dup_or_null(o->password, &failed);
	c->ca_file = dup_or_null(o->ca_file, &failed);
	c->curl = curl_easy_init();
	if (failed || !c->url || !c->curl) {
		smtp_client_free(c);
		return NULL;
	}
	return c;
}

void smtp_client_free(smtp_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	crier_free_secret(c->password);
	free(c->url);
	free(c->username);
	free(c->ca_file);
	free(c);
}

/* Keep the last non-empty line the server sent, controls blanked, but for
 * the answer to QUIT: libcurl quits after a refusal, and "221 Bye" would
 * hide the reason. */
static int debug_cb(CURL *curl, curl_infotype type, char *data, size_t size, void *userdata)
{
	smtp_client *c = userdata;
	size_t start = 0, end;

	(void)curl;
	if (type != CURLINFO_HEADER_IN || (size >= 4 && strncmp(data, "221 ", 4) == 0))
		return 0;
	while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
		size--;
	if (size == 0)
		return 0;
	for (size_t i = 0; i + 1 < size; i++)
		if (data[i] == '\n')
			start = i + 1;
	end = size - start > REPLY_MAX ? start + REPLY_MAX : size;
	for (size_t i = start; i < end; i++) {
		unsigned char ch = (unsigned char)data[i];
		c->reply[i - start] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	c->reply[end - start] = '\0';
	return 0;
}

/* Fail-fast errors that say the configuration (TLS, CA, URL) is wrong. */
static const char *config_problem(CURLcode rc)
{
	switch (rc) {
	case CURLE_LOGIN_DENIED:
		return "login denied: the server refused the username or password";
	case CURLE_USE_SSL_FAILED:
		return "STARTTLS failed: the server does not offer it or refused it (\"tls\": \"starttls\")";
	case CURLE_PEER_FAILED_VERIFICATION:
		return "TLS: the server's certificate did not verify (set \"ca_file\" for a private CA)";
	case CURLE_SSL_CACERT_BADFILE:
		return "TLS: cannot read \"ca_file\"";
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
		return "TLS: the client's TLS set-up is wrong";
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return "the URL is not one libcurl can use for SMTP";
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return "libcurl refused an address";
	default:
		return NULL;
	}
}

static void say(smtp_client *c, char *why, size_t whylen, const char *what)
{
	/* A server that quotes the password back does not get it logged. */
	if (c->password && strlen(c->password) >= 4 && strstr(c->reply, c->password))
		snprintf(c->reply, sizeof(c->reply), "(withheld: it quoted the password)");
	if (c->reply[0])
		snprintf(why, whylen, "%s; the server said \"%s\"", what, c->reply);
	else
		snprintf(why, whylen, "%s", what);
}

static CURLcode setup(smtp_client *c, crier_upload *u, struct curl_slist *rcpt, const char *from, char *errbuf)
{
	CURL *h = c->curl;
	CURLcode rc = CURLE_OK;

	curl_easy_reset(h); /* keeps the live connection and the caches */
#define SET(opt, val)                                                                                                  \
	do {                                                                                                           \
		if (rc == CURLE_OK)                                                                                    \
			rc = curl_easy_setopt(h, opt, val);                                                            \
	} while (0)
	SET(CURLOPT_URL, c->url);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_USE_SSL, (long)(c->tls == SMTP_TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL));
	if (c->username) {
		SET(CURLOPT_USERNAME, c->username);
		SET(CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	if (c->ca_file)
		SET(CURLOPT_CAINFO, c->ca_file);
	SET(CURLOPT_MAIL_FROM, from);
	SET(CURLOPT_MAIL_RCPT, rcpt);
	SET(CURLOPT_READFUNCTION, crier_upload_read);
	SET(CURLOPT_READDATA, u);
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)u->left);
	SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	SET(CURLOPT_NOSIGNAL, 1L); /* many instance threads: no SIGALRM */
	SET(CURLOPT_MAXAGE_CONN, (long)MAX_IDLE_S);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_DEBUGFUNCTION, debug_cb);
	SET(CURLOPT_DEBUGDATA, c);
	SET(CURLOPT_VERBOSE, 1L); /* only for debug_cb: nothing is printed */
#undef SET
	return rc;
}

smtp_verdict smtp_send(smtp_client *c, const char *from, const char *rcpt, const char *msg, size_t len, char *why,
                       size_t whylen)
{
	crier_upload u = {msg, len};
	struct curl_slist *list;
	char errbuf[CURL_ERROR_SIZE] = "", what[CURL_ERROR_SIZE + 64];
	const char *problem;
	long code = 0;
	CURLcode rc;

	why[0] = '\0';
	c->reply[0] = '\0';
	list = curl_slist_append(NULL, rcpt);
	if (!list) {
		snprintf(why, whylen, "out of memory");
		return SMTP_TRANSIENT;
	}
	rc = setup(c, &u, list, from, errbuf);
	if (rc != CURLE_OK) {
		curl_slist_free_all(list);
		snprintf(why, whylen, "libcurl refused an option: %s", curl_easy_strerror(rc));
		return SMTP_REFUSED;
	}
	rc = curl_easy_perform(c->curl);
	/* A code from an earlier transaction on the handle means nothing here. */
	if (c->reply[0] && curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	/* Should libcurl count the answer to its own QUIT, the reason is the line before. */
	if (code == 221)
		code = strtol(c->reply, NULL, 10);
	/* The list is borrowed by the handle: drop it from there before freeing. */
	curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, (struct curl_slist *)NULL);
	curl_slist_free_all(list);
	if (rc == CURLE_OK)
		return SMTP_SENT;

	snprintf(what, sizeof(what), "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	/* A 4xx reply is temporary whatever libcurl made of it: a 454 to AUTH
	 * (RFC 4954) or to STARTTLS comes back as a refused login or TLS. */
	if (code >= 400 && code < 500) {
		say(c, why, whylen, what);
		return SMTP_TRANSIENT;
	}
	problem = config_problem(rc);
	if (problem) {
		say(c, why, whylen, problem);
		return SMTP_REFUSED;
	}
	if (code >= 500 && code < 600) {
		if (code == 530)
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
			         " (the server wants authentication: set \"username\" and \"password\")");
		say(c, why, whylen, what);
		return SMTP_REFUSED;
	}
	/* No reply to judge by: connection refused or reset, DNS, a timeout. */
	if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(what, sizeof(what), "no answer within %ld ms", c->timeout_ms);
	say(c, why, whylen, what);
	return SMTP_TRANSIENT;
}
