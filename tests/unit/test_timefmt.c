/* core/timefmt.c: RFC 3339 parsing (strict), formatting, clocks. */
#include "check.h"
#include "timefmt.h"

#include <stdint.h>

/* Parse s; returns the result code and leaves ms at -42 when not set. */
static int parse(const char *s, int64_t *ms)
{
	*ms = -42;
	return timefmt_parse_rfc3339(s, ms);
}

static void test_parse_good(void)
{
	int64_t ms;

	CHECK(parse("2024-05-14T09:12:31.804Z", &ms) == 0 && ms == 1715677951804LL);
	/* Nanoseconds and a negative offset, as Alertmanager may send. */
	CHECK(parse("2018-03-07T06:33:21.873077559-05:00", &ms) == 0 && ms == 1520422401873LL);
	CHECK(parse("2026-11-21T12:01:00.969610453Z", &ms) == 0 && ms == 1795262460969LL);
	CHECK(parse("2026-11-21T12:01:47Z", &ms) == 0 && ms == 1795262507000LL);
	/* One and two fraction digits are tenths and hundredths. */
	CHECK(parse("2026-11-21T12:01:47.7Z", &ms) == 0 && ms == 1795262507700LL);
	CHECK(parse("2026-11-21T12:01:47.73Z", &ms) == 0 && ms == 1795262507730LL);
	/* Fractions are truncated to the millisecond, never rounded up. */
	CHECK(parse("2026-11-21T12:01:47.7309999Z", &ms) == 0 && ms == 1795262507730LL);
	CHECK(parse("2024-02-29T23:59:59+05:30", &ms) == 0 && ms == 1709231399000LL);
	CHECK(parse("2024-05-14T09:15:00+00:00", &ms) == 0 && ms == 1715678100000LL);
	CHECK(parse("2024-05-14T09:15:00-00:00", &ms) == 0 && ms == 1715678100000LL);
	CHECK(parse("2024-05-14t09:15:00z", &ms) == 0 && ms == 1715678100000LL);
	CHECK(parse("1970-01-01T00:00:00Z", &ms) == 0 && ms == 0);
	CHECK(parse("1969-12-31T23:59:59.999Z", &ms) == 0 && ms == -1);
	CHECK(parse("1969-12-31T23:59:59Z", &ms) == 0 && ms == -1000);
	CHECK(parse("9999-12-31T23:59:59.999Z", &ms) == 0 && ms == 253402300799999LL);
	/* A leap second is RFC 3339; it lands on the next minute. */
	CHECK(parse("2016-12-31T23:59:60Z", &ms) == 0 && ms == 1483228800000LL);
	/* Go's zero time means "unset". */
	CHECK(parse("0001-01-01T00:00:00Z", &ms) == 0 && ms == 0);
	CHECK(parse("0001-01-01T00:00:00.000Z", &ms) == 0 && ms == 0);
	/* The same instant written with an offset is still the zero time... */
	CHECK(parse("0001-01-01T02:00:00+02:00", &ms) == 0 && ms == 0);
	/* ...but a millisecond after it is a real (if odd) time. */
	CHECK(parse("0001-01-01T00:00:00.001Z", &ms) == 0 && ms == -62135596800000LL + 1);
}

static void test_parse_bad(void)
{
	static const char *const bad[] = {
	    "",
	    "x",
	    "2024-05-14",
	    "2024-05-14T09:12:31",          /* no offset */
	    "2024-05-14 09:12:31Z",         /* space is not RFC 3339's T */
	    "2024-05-14T09:12:31.Z",        /* empty fraction */
	    "2024-05-14T09:12:31Z ",        /* trailing blank */
	    " 2024-05-14T09:12:31Z",        /* leading blank */
	    "2024-05-14T09:12:31ZZ",        /* trailing junk */
	    "2024-05-14T09:12:31+0500",     /* offset without colon */
	    "2024-05-14T09:12:31+05",       /* short offset */
	    "2024-05-14T09:12:31+05:60",    /* offset minutes */
	    "2024-05-14T09:12:31+24:00",    /* offset hours */
	    "2024-13-01T00:00:00Z",         /* month */
	    "2024-00-01T00:00:00Z",         /* month */
	    "2024-05-00T00:00:00Z",         /* day */
	    "2023-02-29T00:00:00Z",         /* not a leap year */
	    "1900-02-29T00:00:00Z",         /* century, not a leap year */
	    "2024-04-31T00:00:00Z",         /* April has 30 days */
	    "2024-05-14T24:00:00Z",         /* hour */
	    "2024-05-14T09:60:00Z",         /* minute */
	    "2024-05-14T09:12:61Z",         /* second */
	    "2024-5-14T09:12:31Z",          /* one-digit month */
	    "24-05-14T09:12:31Z",           /* two-digit year */
	    "2024-05-14T9:12:31Z",          /* one-digit hour */
	    "+2024-05-14T09:12:31Z",        /* sign */
	    "2024-05-14T09:12:31.12a4Z",    /* junk in the fraction */
	    "2024-05-14T09:12:31,123Z",     /* comma fraction */
	    "2024-05-14T09:12:31.123+05:3", /* short offset minutes */
	    "1715678100",                   /* unix seconds are not RFC 3339 */
	};
	int64_t ms;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &ms);

		CHECK(rc == -1);
		CHECK(ms == -42);
		if (rc != -1)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
	}
	CHECK(timefmt_parse_rfc3339(NULL, &ms) == -1);
	CHECK(timefmt_parse_rfc3339("2024-05-14T09:12:31Z", NULL) == -1);
}

/* The length-bounded form reads only len bytes: what follows is not part of
 * the time, and a time cut short is refused. */
static void test_parse_bounded(void)
{
	const char *s = "2024-05-14T09:12:31.804Zjunk";
	int64_t ms = -42;

	CHECK(timefmt_parse_rfc3339n(s, 24, &ms) == 0 && ms == 1715677951804LL);
	CHECK(timefmt_parse_rfc3339n(s, 28, &ms) == -1);
	CHECK(timefmt_parse_rfc3339n(s, 23, &ms) == -1);
	CHECK(timefmt_parse_rfc3339n(s, 10, &ms) == -1);
	CHECK(timefmt_parse_rfc3339n(s, 0, &ms) == -1);
	CHECK(timefmt_parse_rfc3339n("2024-05-14T09:12:31\0Z", 21, &ms) == -1);
	CHECK(timefmt_parse_rfc3339n("2024-05-14T09:12:31.", 20, &ms) == -1);
	/* Leap day, leap second and year 0, as timegm() counts them. */
	CHECK(timefmt_parse_rfc3339n("2024-02-29T23:59:60Z", 20, &ms) == 0 && ms == 1709251200000LL);
	CHECK(timefmt_parse_rfc3339n("0000-03-01T00:00:00Z", 20, &ms) == 0 && ms == -62162035200000LL);
}

static void test_format(void)
{
	char buf[32], small[8];
	int64_t ms;

	CHECK_STR(timefmt_format(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
	CHECK_STR(timefmt_format(1795262460969LL, buf, sizeof(buf)), "2026-11-21T12:01:00.969Z");
	CHECK_STR(timefmt_format(1795262460009LL, buf, sizeof(buf)), "2026-11-21T12:01:00.009Z");
	CHECK_STR(timefmt_format(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999Z");
	CHECK_STR(timefmt_format(1709231399000LL, buf, sizeof(buf)), "2024-02-29T18:29:59.000Z");
	/* What it prints, it parses back to the same instant. */
	CHECK(timefmt_parse_rfc3339(timefmt_format(1520422401873LL, buf, sizeof(buf)), &ms) == 0 &&
	      ms == 1520422401873LL);
	/* A short buffer is cut, never overrun. */
	CHECK_STR(timefmt_format(0, small, sizeof(small)), "1970-01");
}

static void test_clocks(void)
{
	int64_t now = timefmt_now_ms(), m1 = timefmt_mono_ms(), m2 = timefmt_mono_ms();

	/* After 2024-01-01 and before 2100-01-01. */
	CHECK(now > 1704067200000LL && now < 4102444800000LL);
	CHECK(m1 > 0 && m2 >= m1);
}

int main(void)
{
	test_parse_good();
	test_parse_bad();
	test_parse_bounded();
	test_format();
	test_clocks();
	return check_summary("test_timefmt");
}
