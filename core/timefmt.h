/* Time parsing and formatting. All times inside crier are unix milliseconds (int64). */
#ifndef CRIER_TIMEFMT_H
#define CRIER_TIMEFMT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Wall clock now, unix ms. */
int64_t timefmt_now_ms(void);

/* The proleptic Gregorian calendar without libc, time zones or locales:
 * days since 1970-01-01 of year-mon-day, its inverse, and a month's length. */
int64_t timefmt_days_from_civil(int64_t year, int mon, int day);
void timefmt_civil_from_days(int64_t days, int64_t *year, int *mon, int *day);
int timefmt_days_in_month(int64_t year, int mon);

/* Monotonic clock, ms (for timeouts and latency). */
int64_t timefmt_mono_ms(void);
/* The same in µs: one clock for every thread and process of the machine. */
int64_t timefmt_mono_us(void);

/*
 * Parse RFC 3339 ("2024-05-14T09:12:31.804Z", "2018-03-07T06:33:21.873077559-05:00").
 * Go's zero time "0001-01-01T00:00:00Z" parses to 0 (meaning "unset").
 * Returns 0 and sets *out_ms, or -1 when s is not RFC 3339.
 */
int timefmt_parse_rfc3339(const char *s, int64_t *out_ms);
/* The same for s of len bytes (need not be NUL-terminated; a NUL in it fails). */
int timefmt_parse_rfc3339n(const char *s, size_t len, int64_t *out_ms);

/* Format ms as "2026-11-21T12:01:00.969Z" (UTC) into buf (>= 32 bytes). */
const char *timefmt_format(int64_t ms, char *buf, size_t size);

/* ms as a JSON string of timefmt_format, or JSON null when ms is 0 ("unset"):
 * a new reference, NULL when out of memory. */
json_t *timefmt_json(int64_t ms);

/* The time of day, "12:01:05 UTC", into buf (>= 16 bytes): for messages people read. */
const char *timefmt_clock(int64_t ms, char *buf, size_t size);

/* A length of time as people say it: "45 seconds", "30 minutes", "2 hours 5 minutes". */
const char *timefmt_span(int64_t ms, char *buf, size_t size);

#endif
