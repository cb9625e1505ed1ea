/*
 * Building an Internet message (RFC 5322 with MIME, RFC 2045-2047) for the
 * email plugin: header fields folded at 78 columns, non-ASCII header text
 * as RFC 2047 encoded-words, a multipart/alternative body whose text/plain
 * and text/html parts are quoted-printable or base64.
 *
 * Pure code, no globals and no I/O, so tests/unit/test_email_mime.c can
 * drive it directly. Every header value passes through mime_clean_text()
 * (or is checked to be plain ASCII without controls), so nothing a template
 * or an alert carries can end a header line or start a new one.
 */
#ifndef CRIER_EMAIL_MIME_H
#define CRIER_EMAIL_MIME_H

#include <stddef.h>
#include <stdint.h>

/* RFC 5322 §2.1.1: lines SHOULD stay within 78 characters (without CRLF). */
#define MIME_LINE_SOFT 78

/* A growing byte buffer; once an allocation fails, failed is set and every
 * later append is a no-op, so callers check once at the end. */
typedef struct mime_buf {
	char *p; /* new, NUL-terminated while not failed */
	size_t len, cap;
	int failed;
} mime_buf;

void mime_buf_add(mime_buf *b, const char *s, size_t n);
void mime_buf_str(mime_buf *b, const char *s);
void mime_buf_free(mime_buf *b);

/* A mailbox: "Jane Doe <jane@example.com>" or "jane@example.com". */
typedef struct mime_address {
	char *display; /* new; cleaned UTF-8, "" when none */
	char *addr;    /* new; the addr-spec, printable ASCII */
} mime_address;

/* Parse text into out (owned by the caller afterwards; free with
 * mime_address_free). Returns 0, or -1 with err saying what is wrong
 * without quoting the text. */
int mime_address_parse(const char *text, mime_address *out, char *err, size_t errlen);
void mime_address_free(mime_address *a);

/* The domain of an addr-spec (borrowed, points into addr). */
const char *mime_address_domain(const char *addr);

/* 1 when s is a dot-atom domain made of letters, digits, '-', '_' and '.'. */
int mime_domain_valid(const char *s);

/* 1 when s is an http:// or https:// URL of printable ASCII without spaces,
 * quotes or angle brackets, at most 900 bytes (it fits in a header line). */
int mime_url_valid(const char *s);

/* 1 when s is a msg-id "<left@right>": printable ASCII, no spaces, at most 250 bytes. */
int mime_msgid_valid(const char *s);

/*
 * One line of header text: C0 and C1 controls, DEL, U+2028 and U+2029
 * become spaces, invalid UTF-8 becomes U+FFFD, runs of spaces become one,
 * and the ends are trimmed. Returns a new string, NULL when out of memory.
 */
char *mime_clean_text(const char *utf8);

/* "Name: value" with value as unstructured text (Subject): cleaned, as
 * encoded-words when it is not plain ASCII, folded, ending in CRLF. */
void mime_header_text(mime_buf *b, const char *name, const char *text);

/* "Name: display <addr>" (From, To, Reply-To), folded, ending in CRLF. */
void mime_header_address(mime_buf *b, const char *name, const mime_address *a);

/* Body encodings; text may end lines in LF, CRLF or CR: each becomes CRLF. */
void mime_quoted_printable(mime_buf *b, const char *text);
void mime_base64(mime_buf *b, const char *data, size_t n);

/* RFC 5322 date-time in UTC, "Tue, 22 Aug 2017 14:08:43 +0000". */
void mime_date(int64_t unix_ms, char out[40]);

/* FNV-1a 64 over s, continuing from h (start with MIME_HASH_INIT). */
#define MIME_HASH_INIT 0xcbf29ce484222325ULL
uint64_t mime_hash(uint64_t h, const char *s);

typedef struct mime_message {
	int64_t date_ms;
	const mime_address *from;     /* borrowed */
	const mime_address *to;       /* borrowed */
	const mime_address *reply_to; /* borrowed; NULL for none */
	const char *subject;          /* borrowed UTF-8 */
	const char *message_id;       /* borrowed "<...>" */
	const char *in_reply_to;      /* borrowed "<...>" or NULL; also the References */
	const char *text;             /* borrowed UTF-8 body of the text/plain part */
	const char *html;             /* borrowed UTF-8 body of the text/html part */
	/* borrowed http(s) URL or NULL: List-Unsubscribe with RFC 8058's
	 * List-Unsubscribe-Post (one-click), for mail to a subscriber */
	const char *list_unsubscribe;
} mime_message;

/*
 * The whole message, CRLF line ends, ready for SMTP DATA (libcurl adds the
 * dot-stuffing). Returns a new string with its length in *len, or NULL when
 * out of memory or when an id or address is malformed (the caller checks
 * those first; this is the last line of defence against header injection).
 */
char *mime_build(const mime_message *m, size_t *len);

#endif
