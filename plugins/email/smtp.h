/*
 * One SMTP transaction through libcurl for the email plugin: connect (or
 * reuse the instance's connection), TLS as configured, AUTH, MAIL FROM, one
 * RCPT TO, DATA; then a verdict from libcurl's result and the server's last
 * reply code.
 */
#ifndef CRIER_EMAIL_SMTP_H
#define CRIER_EMAIL_SMTP_H

#include <stddef.h>

typedef enum smtp_tls {
	SMTP_TLS_NONE = 0,     /* plain smtp:// */
	SMTP_TLS_STARTTLS = 1, /* smtp:// upgraded with STARTTLS, which must succeed */
	SMTP_TLS_IMPLICIT = 2  /* smtps:// */
} smtp_tls;

typedef struct smtp_options {
	const char *url;      /* borrowed; smtp:// or smtps:// */
	smtp_tls tls;         /* must agree with the URL's scheme */
	const char *username; /* borrowed; NULL for no AUTH */
	const char *password; /* borrowed; a secret */
	const char *ca_file;  /* borrowed; NULL for the system's CAs */
	long timeout_ms;      /* the whole transaction */
} smtp_options;

typedef enum smtp_verdict {
	SMTP_SENT = 0,      /* the server took the message (250 after DATA) */
	SMTP_TRANSIENT = 1, /* a 4xx reply, or no usable answer: try again later */
	SMTP_REFUSED = 2    /* a 5xx reply, denied login, TLS not possible: retrying will not help */
} smtp_verdict;

typedef struct smtp_client smtp_client;

/* A client for o (the strings are copied). NULL when out of memory. No I/O. */
smtp_client *smtp_client_new(const smtp_options *o);
void smtp_client_free(smtp_client *c);

/*
 * Send msg (len bytes, CRLF lines, not dot-stuffed) from the envelope
 * sender from to the one recipient rcpt (addr-specs). why (whylen bytes)
 * says what happened unless SMTP_SENT: libcurl's reason and the server's
 * last reply line, never the password.
 */
smtp_verdict smtp_send(smtp_client *c, const char *from, const char *rcpt, const char *msg, size_t len, char *why,
                       size_t whylen);

#endif
