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

int64_t timefmt_mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly n digits at *p; -1 if any is not a digit. */
static int timefmt_digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

static int timefmt_expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

static int timefmt_mdays(int year, int mon)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

int timefmt_parse_rfc3339(const char *s, int64_t *out_ms)
{
	int year, mon, day, hour, min, sec, ms = 0, off = 0;
	const char *p = s;
	struct tm tm;
	time_t t;

	if (!s || !out_ms)
		return -1;
	if ((year = timefmt_digits(&p, 4)) < 0 || timefmt_expect(&p, '-') || (mon = timefmt_digits(&p, 2)) < 0 ||
	    timefmt_expect(&p, '-') || (day = timefmt_digits(&p, 2)) < 0)
		return -1;
	if (*p != 'T' && *p != 't')
		return -1;
	p++;
	if ((hour = timefmt_digits(&p, 2)) < 0 || timefmt_expect(&p, ':') || (min = timefmt_digits(&p, 2)) < 0 ||
	    timefmt_expect(&p, ':') || (sec = timefmt_digits(&p, 2)) < 0)
		return -1;
	/* RFC 3339 allows a leap second (60); timegm() carries it into the next minute. */
	if (mon < 1 || mon > 12 || day < 1 || day > timefmt_mdays(year, mon) || hour > 23 || min > 59 || sec > 60)
		return -1;
	if (*p == '.') {
		int n = 0;

		p++;
		/* Any number of digits; milliseconds keep the first three (truncated, as Go's UnixMilli). */
		for (; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				ms = ms * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 3; n++)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if ((oh = timefmt_digits(&p, 2)) < 0 || timefmt_expect(&p, ':') || (om = timefmt_digits(&p, 2)) < 0)
			return -1;
		if (oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31 && hour == 23 && min == 59 && sec == 59))
		return -1;
	t -= off;
	/* Go's zero time.Time is how Alertmanager says "not set". */
	if (t == (time_t)-62135596800LL && ms == 0) {
		*out_ms = 0;
		return 0;
	}
	*out_ms = (int64_t)t * 1000 + ms;
	return 0;
}

const char *timefmt_format(int64_t ms, char *buf, size_t size)
{
	int64_t secs = ms / 1000, frac = ms % 1000;
	struct tm tm;
	time_t t;

	if (!buf || size == 0)
		return buf;
	/* Floor, so times before 1970 still print a positive fraction. */
	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm)) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	         tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	return buf;
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
