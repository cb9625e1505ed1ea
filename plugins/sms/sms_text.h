/*
 * The sms plugin's pure helpers: phone numbers, segment arithmetic, the
 * request's encodings and reading Twilio's answers. No host calls, no
 * globals, so tests/unit/test_sms.c compiles this file in directly.
 */
#ifndef CRIER_SMS_TEXT_H
#define CRIER_SMS_TEXT_H

#include <crier/plugin.h>
#include <stddef.h>

/* GSM-7 (septets) and UCS-2 (UTF-16 units): one part alone, and each part
 * of a concatenated message (the 6-byte header comes out of every 140). */
#define SMS_TEXT_GSM7_SINGLE 160
#define SMS_TEXT_GSM7_PART   153
#define SMS_TEXT_UCS2_SINGLE 70
#define SMS_TEXT_UCS2_PART   67

/* Twilio refuses a Body of more than 1600 characters (error 21617); ten
 * parts stay under it in either encoding. */
#define SMS_TEXT_MAX_SEGMENTS 10

/* 1 when s is an E.164 number: "+", then 8 to 15 digits, the first not 0. */
int sms_text_is_e164(const char *s);

/* Parts a text of units septets (gsm7 != 0) or UTF-16 units takes; 1 for
 * an empty text. */
unsigned sms_text_segments(size_t units, int gsm7);

/* Units that fit in max_segments parts (1 to SMS_TEXT_MAX_SEGMENTS). */
size_t sms_text_capacity(unsigned max_segments, int gsm7);

/* In place: runs of spaces and tabs become one space, spaces around line
 * breaks and at both ends go, and three or more line breaks become two.
 * Every character costs on a phone bill, and a template whose optional
 * parts were empty leaves such gaps. */
void sms_text_tidy(char *s);

/* application/x-www-form-urlencoded "k1=v1&k2=v2" from n (name, value)
 * pairs; a pair whose value is NULL is left out. Returns a new string (free
 * with free()) or NULL when out of memory. */
char *sms_text_form(const char *const pairs[][2], size_t n);

/*
 * Read an answer that is not a success. Writes into out (size bytes, always
 * NUL-terminated) "HTTP 400, Twilio error 21211: <message>" from Twilio's
 * {"code", "message", ...} body, or "HTTP 502" and the start of any other
 * body, with control characters blanked; *code gets Twilio's code, or 0.
 */
void sms_text_describe(long status, const char *body, size_t body_len, long *code, char *out, size_t size);

/* What an answer means: crier_http_result (2xx delivered; 408, 429 and 5xx
 * worth another try; anything else a request Twilio will refuse again),
 * except that code 20429 (rate limited, never processed) is worth another
 * try too. */
crier_result sms_text_classify(long status, long code);

#endif
