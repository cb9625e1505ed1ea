/* Unit tests for core/auth.c: constant-time compare, header parsing, the
 * per-request decision and loopback detection. */
#include "auth.h"
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int eq(const char *a, const char *b)
{
	return auth_equal(a, strlen(a), b, strlen(b));
}

static void test_equal(void)
{
	CHECK(eq("s3cret", "s3cret") == 1);
	CHECK(eq("s3cres", "s3cret") == 0);
	CHECK(eq("t3cret", "s3cret") == 0);
	CHECK(eq("s3cre", "s3cret") == 0);
	CHECK(eq("s3crett", "s3cret") == 0);
	CHECK(eq("", "s3cret") == 0);
	CHECK(eq("s3cret", "") == 0);
	CHECK(eq("", "") == 1);
	/* The secret is walked cyclically: a repetition of it must not match. */
	CHECK(eq("abcabc", "abc") == 0);
	CHECK(eq("abc", "abcabc") == 0);
	CHECK(eq("a", "aa") == 0);
	CHECK(eq("aa", "a") == 0);
	/* Embedded NUL bytes are compared, not treated as terminators. */
	CHECK(auth_equal("ab\0c", 4, "ab\0c", 4) == 1);
	CHECK(auth_equal("ab\0c", 4, "ab\0d", 4) == 0);
	CHECK(auth_equal("ab", 2, "ab\0", 3) == 0);
	/* Every single-bit difference anywhere is caught. */
	{
		char a[40], b[40];
		int all_caught = 1;

		memset(a, 'k', sizeof(a));
		for (size_t i = 0; i < sizeof(a); i++) {
			for (int bit = 0; bit < 8; bit++) {
				memcpy(b, a, sizeof(a));
				b[i] = (char)(b[i] ^ (1 << bit));
				if (auth_equal(b, sizeof(b), a, sizeof(a)))
					all_caught = 0;
			}
		}
		CHECK(all_caught);
		CHECK(auth_equal(a, sizeof(a), a, sizeof(a)) == 1);
	}
}

static void test_base64(void)
{
	unsigned char out[64];
	size_t n = 99;

	CHECK(auth_base64_decode("YWxhZGRpbjpvcGVuc2VzYW1l", 24, out, sizeof(out), &n) == 0);
	CHECK(n == 18 && memcmp(out, "aladdin:opensesame", 18) == 0);
	/* Padding: present, absent, partial groups. */
	CHECK(auth_base64_decode("YQ==", 4, out, sizeof(out), &n) == 0 && n == 1 && out[0] == 'a');
	CHECK(auth_base64_decode("YQ", 2, out, sizeof(out), &n) == 0 && n == 1 && out[0] == 'a');
	CHECK(auth_base64_decode("YWI=", 4, out, sizeof(out), &n) == 0 && n == 2 && memcmp(out, "ab", 2) == 0);
	CHECK(auth_base64_decode("", 0, out, sizeof(out), &n) == 0 && n == 0);
	/* Bad input. */
	CHECK(auth_base64_decode("Y", 1, out, sizeof(out), &n) == -1);
	CHECK(auth_base64_decode("YQ=", 3, out, sizeof(out), &n) == -1);
	CHECK(auth_base64_decode("YQ===", 5, out, sizeof(out), &n) == -1);
	CHECK(auth_base64_decode("Y*==", 4, out, sizeof(out), &n) == -1);
	CHECK(auth_base64_decode("YW Jj", 5, out, sizeof(out), &n) == -1);
	CHECK(auth_base64_decode("YR==", 4, out, sizeof(out), &n) == -1); /* non-zero trailing bits */
	CHECK(auth_base64_decode("=YQ=", 4, out, sizeof(out), &n) == -1);
	/* Output bound respected. */
	CHECK(auth_base64_decode("YWJj", 4, out, 2, &n) == -1);
	CHECK(auth_base64_decode("YWJj", 4, out, 3, &n) == 0 && n == 3);
}

static void test_bearer(void)
{
	const char *tok = NULL;
	size_t len = 0;

	CHECK(auth_parse_bearer("Bearer abc.def", &tok, &len) == 0);
	CHECK(tok && len == 7 && memcmp(tok, "abc.def", 7) == 0);
	CHECK(auth_parse_bearer("bearer xyz", &tok, &len) == 0 && len == 3 && memcmp(tok, "xyz", 3) == 0);
	CHECK(auth_parse_bearer("BEARER   xyz  ", &tok, &len) == 0 && len == 3 && memcmp(tok, "xyz", 3) == 0);
	CHECK(auth_parse_bearer("Bearer\txyz", &tok, &len) == 0 && len == 3);
	CHECK(auth_parse_bearer("Bearer", &tok, &len) == -1);
	CHECK(auth_parse_bearer("Bearer   ", &tok, &len) == -1);
	CHECK(auth_parse_bearer("Bearerxyz", &tok, &len) == -1);
	CHECK(auth_parse_bearer("Basic eHl6", &tok, &len) == -1);
	CHECK(auth_parse_bearer("", &tok, &len) == -1);
	CHECK(auth_parse_bearer(NULL, &tok, &len) == -1);
	{
		size_t big = AUTH_HEADER_MAX + 16;
		char *h = malloc(big + 1);

		CHECK(h != NULL);
		if (h) {
			memcpy(h, "Bearer ", 7);
			memset(h + 7, 'a', big - 7);
			h[big] = '\0';
			CHECK(auth_parse_bearer(h, &tok, &len) == -1);
			free(h);
		}
	}
}

static void test_basic(void)
{
	char buf[256];
	const char *u = NULL, *p = NULL;
	size_t ul = 0, pl = 0;

	/* aladdin:opensesame */
	CHECK(auth_parse_basic("Basic YWxhZGRpbjpvcGVuc2VzYW1l", buf, sizeof(buf), &u, &ul, &p, &pl) == 0);
	CHECK_STR(u, "aladdin");
	CHECK_STR(p, "opensesame");
	CHECK(ul == 7 && pl == 10);
	/* Scheme is case-insensitive; the password may hold colons. "am:pa:ss" */
	CHECK(auth_parse_basic("basic YW06cGE6c3M=", buf, sizeof(buf), &u, &ul, &p, &pl) == 0);
	CHECK_STR(u, "am");
	CHECK_STR(p, "pa:ss");
	/* Empty password ("am:"). */
	CHECK(auth_parse_basic("Basic YW06", buf, sizeof(buf), &u, &ul, &p, &pl) == 0);
	CHECK_STR(p, "");
	CHECK(pl == 0);
	/* Not Basic at all. */
	CHECK(auth_parse_basic("Bearer YW06", buf, sizeof(buf), &u, &ul, &p, &pl) == 1);
	CHECK(auth_parse_basic("Basically YW06", buf, sizeof(buf), &u, &ul, &p, &pl) == 1);
	CHECK(auth_parse_basic(NULL, buf, sizeof(buf), &u, &ul, &p, &pl) == 1);
	/* Basic but malformed. */
	CHECK(auth_parse_basic("Basic", buf, sizeof(buf), &u, &ul, &p, &pl) == -1);
	CHECK(auth_parse_basic("Basic !!!!", buf, sizeof(buf), &u, &ul, &p, &pl) == -1);
	CHECK(auth_parse_basic("Basic YWxhZGRpbg==", buf, sizeof(buf), &u, &ul, &p, &pl) == -1); /* no colon */
	CHECK(auth_parse_basic("Basic YQBiOmM=", buf, sizeof(buf), &u, &ul, &p, &pl) == -1);     /* "a\0b:c" */
	/* Oversize for the buffer: 12 decoded bytes into 8. */
	CHECK(auth_parse_basic("Basic YWFhYWFhOmJiYmJi", buf, 8, &u, &ul, &p, &pl) == -1);
	/* Oversize header. */
	{
		size_t big = AUTH_HEADER_MAX + 8;
		char *h = malloc(big + 1);

		CHECK(h != NULL);
		if (h) {
			memcpy(h, "Basic ", 6);
			memset(h + 6, 'Q', big - 6);
			h[big] = '\0';
			CHECK(auth_parse_basic(h, buf, sizeof(buf), &u, &ul, &p, &pl) == -1);
			free(h);
		}
	}
}

static void v4(struct sockaddr_in *sa, const char *ip)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sa->sin_addr);
}

static void v6(struct sockaddr_in6 *sa, const char *ip)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &sa->sin6_addr);
}

static void test_loopback(void)
{
	struct sockaddr_in a;
	struct sockaddr_in6 b;
	char name[64];

	v4(&a, "127.0.0.1");
	CHECK(auth_is_loopback((struct sockaddr *)&a));
	CHECK_STR(auth_peer_name((struct sockaddr *)&a, name, sizeof(name)), "127.0.0.1");
	v4(&a, "127.8.9.10");
	CHECK(auth_is_loopback((struct sockaddr *)&a));
	v4(&a, "10.0.0.1");
	CHECK(!auth_is_loopback((struct sockaddr *)&a));
	v4(&a, "128.0.0.1");
	CHECK(!auth_is_loopback((struct sockaddr *)&a));
	v6(&b, "::1");
	CHECK(auth_is_loopback((struct sockaddr *)&b));
	CHECK_STR(auth_peer_name((struct sockaddr *)&b, name, sizeof(name)), "::1");
	v6(&b, "::ffff:127.0.0.5");
	CHECK(auth_is_loopback((struct sockaddr *)&b));
	v6(&b, "::ffff:192.168.1.1");
	CHECK(!auth_is_loopback((struct sockaddr *)&b));
	v6(&b, "::2");
	CHECK(!auth_is_loopback((struct sockaddr *)&b));
	v6(&b, "fe80::1");
	CHECK(!auth_is_loopback((struct sockaddr *)&b));
	CHECK(!auth_is_loopback(NULL));
	CHECK_STR(auth_peer_name(NULL, name, sizeof(name)), "unknown");
}

static void test_check(void)
{
	struct sockaddr_in lo, far;
	config_auth none = {0};
	char tok[] = "tok-123", user[] = "am", pass[] = "pw", empty[] = "";
	config_auth token_only = {.token = tok};
	config_auth basic_only = {.username = user, .password = pass};
	config_auth both = {.token = tok, .username = user, .password = pass};
	config_auth empty_token = {.token = empty};
	const char *why = NULL;

	v4(&lo, "127.0.0.1");
	v4(&far, "192.0.2.7");

	/* No credentials: loopback only. */
	CHECK(auth_check(&none, NULL, NULL, (struct sockaddr *)&lo, &why) == AUTH_OK);
	CHECK(why == NULL);
	CHECK(auth_check(&none, NULL, NULL, (struct sockaddr *)&far, &why) == AUTH_LOOPBACK_ONLY);
	CHECK(why != NULL);
	CHECK(auth_check(NULL, NULL, NULL, (struct sockaddr *)&far, &why) == AUTH_LOOPBACK_ONLY);
	/* An empty configured token counts as none, never as "empty matches". */
	CHECK(auth_check(&empty_token, "Bearer ", "", (struct sockaddr *)&far, &why) == AUTH_LOOPBACK_ONLY);

	/* Token. */
	CHECK(auth_check(&token_only, "Bearer tok-123", NULL, (struct sockaddr *)&far, &why) == AUTH_OK);
	CHECK(auth_check(&token_only, "bearer tok-123", NULL, (struct sockaddr *)&far, &why) == AUTH_OK);
	CHECK(auth_check(&token_only, NULL, "tok-123", (struct sockaddr *)&far, &why) == AUTH_OK);
	CHECK(auth_check(&token_only, "Bearer nope", NULL, (struct sockaddr *)&far, &why) == AUTH_DENIED);
	CHECK(why && strstr(why, "tok-123") == NULL && strstr(why, "nope") == NULL);
	CHECK(auth_check(&token_only, NULL, "tok-12", (struct sockaddr *)&far, &why) == AUTH_DENIED);
	CHECK(auth_check(&token_only, NULL, NULL, (struct sockaddr *)&far, &why) == AUTH_DENIED);
	CHECK_STR(why, "missing credentials");
	/* Loopback does not bypass configured credentials. */
	CHECK(auth_check(&token_only, NULL, NULL, (struct sockaddr *)&lo, &why) == AUTH_DENIED);
	/* A wrong header with a right query token still gets in. */
	CHECK(auth_check(&token_only, "Bearer nope", "tok-123", (struct sockaddr *)&far, &why) == AUTH_OK);
	/* Basic credentials against a token-only source. */
	CHECK(auth_check(&token_only, "Basic YW06cHc=", NULL, (struct sockaddr *)&far, &why) == AUTH_DENIED);

	/* Basic ("am:pw", "am:px", "ax:pw"). */
	CHECK(auth_check(&basic_only, "Basic YW06cHc=", NULL, (struct sockaddr *)&far, &why) == AUTH_OK);
	CHECK(auth_check(&basic_only, "Basic YW06cHg=", NULL, (struct sockaddr *)&far, &why) == AUTH_DENIED);
	CHECK(auth_check(&basic_only, "Basic YXg6cHc=", NULL, (struct sockaddr *)&far, &why) == AUTH_DENIED);
	CHECK(auth_check(&basic_only, "Basic %%%", NULL, (struct sockaddr *)&far, &why) == AUTH_DENIED);
	CHECK_STR(why, "malformed basic credentials");
	/* A query token does not open a basic-only source. */
	CHECK(auth_check(&basic_only, NULL, "pw", (struct sockaddr *)&far, &why) == AUTH_DENIED);
	CHECK(auth_check(&basic_only, "Digest x", NULL, (struct sockaddr *)&far, &why) == AUTH_DENIED);

	/* Both. */
	CHECK(auth_check(&both, "Basic YW06cHc=", NULL, (struct sockaddr *)&far, &why) == AUTH_OK);
	CHECK(auth_check(&both, "Bearer tok-123", NULL, (struct sockaddr *)&far, &why) == AUTH_OK);
	CHECK(auth_check(&both, "Bearer pw", NULL, (struct sockaddr *)&far, &why) == AUTH_DENIED);
}

int main(void)
{
	test_equal();
	test_base64();
	test_bearer();
	test_basic();
	test_loopback();
	test_check();
	return check_summary("test_auth");
}
