/* RFC 3339 parsing and formatting; clocks in unix milliseconds. */
#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t timefmt_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t timefmt_mono_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t timefmt_mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly n digits at *p (before end); -1 if one is missing or not a digit. */
static int timefmt_digits(const char **p, const char *end, int n)
{
	int v = 0;

	if (end - *p < n)
		return -1;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

static int timefmt_expect(const char **p, const char *end, char c)
{
	if (*p == end || **p != c)
		return -1;
	(*p)++;
	return 0;
}

int timefmt_days_in_month(int64_t year, int mon)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

/* H. Hinnant's days_from_civil: what timegm() computes, without its
 * normalizing and time-zone work (a thousand instructions a call, and every
 * alert carries two times). */
int64_t timefmt_days_from_civil(int64_t year, int mon, int day)
{
	int64_t y = year - (mon <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (mon > 2 ? mon - 3 : mon + 9) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int timefmt_parse_rfc3339(const char *s, int64_t *out_ms)
{
	if (!s)
		return -1;
	return timefmt_parse_rfc3339n(s, strlen(s), out_ms);
}

int timefmt_parse_rfc3339n(const char *s, size_t len, int64_t *out_ms)
{
	int year, mon, day, hour, min, sec, ms = 0, off = 0;
	const char *p = s, *end;
	int64_t t;

	if (!s || !out_ms)
		return -1;
	end = s + len;
	if ((year = timefmt_digits(&p, end, 4)) < 0 || timefmt_expect(&p, end, '-') ||
	    (mon = timefmt_digits(&p, end, 2)) < 0 || timefmt_expect(&p, end, '-') ||
	    (day = timefmt_digits(&p, end, 2)) < 0)
		return -1;
	if (p == end || (*p != 'T' && *p != 't'))
		return -1;
	p++;
	if ((hour = timefmt_digits(&p, end, 2)) < 0 || timefmt_expect(&p, end, ':') ||
	    (min = timefmt_digits(&p, end, 2)) < 0 || timefmt_expect(&p, end, ':') ||
	    (sec = timefmt_digits(&p, end, 2)) < 0)
		return -1;
	/* RFC 3339 allows a leap second (60): it carries into the next minute. */
	if (mon < 1 || mon > 12 || day < 1 || day > timefmt_days_in_month(year, mon) || hour > 23 || min > 59 ||
	    sec > 60)
		return -1;
	if (p < end && *p == '.') {
		int n = 0;

		p++;
		/* Any number of digits; milliseconds keep the first three (truncated, as Go's UnixMilli). */
		for (; p < end && *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				ms = ms * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 3; n++)
			ms *= 10;
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if ((oh = timefmt_digits(&p, end, 2)) < 0 || timefmt_expect(&p, end, ':') ||
		    (om = timefmt_digits(&p, end, 2)) < 0)
			return -1;
		if (oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (p != end)
		return -1;
	t = timefmt_days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec - off;
	/* Go's zero time.Time is how Alertmanager says "not set". */
	if (t == -62135596800LL && ms == 0) {
		*out_ms = 0;
		return 0;
	}
	*out_ms = t * 1000 + ms;
	return 0;
}

/* H. Hinnant's civil_from_days, the inverse of timefmt_days_from_civil. */
void timefmt_civil_from_days(int64_t days, int64_t *year, int *mon, int *day)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*mon <= 2);
}

/* n digits of v, zero-padded, at p. */
static char *timefmt_put(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

const char *timefmt_format(int64_t ms, char *buf, size_t size)
{
	int64_t secs = ms / 1000, frac = ms % 1000, days, sod, year;
	int mon, day;

	if (!buf || size == 0)
		return buf;
	/* Floor, so times before 1970 still print a positive fraction. */
	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	timefmt_civil_from_days(days, &year, &mon, &day);
	/* Every event carries a few times: digits by hand, not gmtime_r and
	 * snprintf (thousands of instructions each). Other years and short
	 * buffers take the general path, which prints them as it always has. */
	if (year >= 0 && year <= 9999 && size >= 25) {
		char *p = buf;

		p = timefmt_put(p, (int)year, 4);
		*p++ = '-';
		p = timefmt_put(p, mon, 2);
		*p++ = '-';
		p = timefmt_put(p, day, 2);
		*p++ = 'T';
		p = timefmt_put(p, (int)(sod / 3600), 2);
		*p++ = ':';
		p = timefmt_put(p, (int)(sod / 60 % 60), 2);
		*p++ = ':';
		p = timefmt_put(p, (int)(sod % 60), 2);
		*p++ = '.';
		p = timefmt_put(p, (int)frac, 3);
		*p++ = 'Z';
		*p = '\0';
		return buf;
	}
	snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)year, mon, day, (int)(sod / 3600),
	         (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
	return buf;
}

json_t *timefmt_json(int64_t ms)
{
	char buf[40];
	return ms ? json_string(timefmt_format(ms, buf, sizeof(buf))) : json_null();
}

const char *timefmt_clock(int64_t ms, char *buf, size_t size)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	if (!buf || size == 0)
		return buf;
	if (!gmtime_r(&t, &tm)) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, size, "%02d:%02d:%02d UTC", tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

const char *timefmt_span(int64_t ms, char *buf, size_t size)
{
	long long s = ms < 0 ? 0 : (long long)((ms + 500) / 1000);

	if (!buf || size == 0)
		return buf;
	/* People read "40 minutes", not "2400 seconds"; tests run on seconds. */
	if (s < 120)
		snprintf(buf, size, "%lld second%s", s, s == 1 ? "" : "s");
	else if (s < 7200)
		snprintf(buf, size, "%lld minutes", (s + 30) / 60);
	else if ((s % 3600) / 60 == 0)
		snprintf(buf, size, "%lld hours", s / 3600);
	else
		snprintf(buf, size, "%lld hours %lld minutes", s / 3600, (s % 3600) / 60);
	return buf;
}
