/* Ingest authentication: bearer, basic, loopback-only. */
#include "auth.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* All ones when x != 0, zero otherwise, without a branch. */
static size_t auth_mask_nonzero(size_t x)
{
	return (size_t)0 - ((x | ((size_t)0 - x)) >> (sizeof(size_t) * CHAR_BIT - 1));
}

int auth_equal(const void *presented, size_t plen, const void *secret, size_t slen)
{
	const volatile unsigned char *p = presented;
	const volatile unsigned char *s = secret;
	unsigned char diff = 0;
	size_t j = 0;

	/* An empty secret protects nothing, so its length is no secret. */
	if (slen == 0)
		return plen == 0;
	/* The loop runs over the presented bytes only, walking the secret
	 * cyclically; j wraps without a branch so neither the loop count nor
	 * the branch pattern depends on slen. */
	for (size_t i = 0; i < plen; i++) {
		diff |= (unsigned char)(p[i] ^ s[j]);
		j++;
		j &= auth_mask_nonzero(j ^ slen);
	}
	diff |= (unsigned char)(auth_mask_nonzero(plen ^ slen) & 1u);
	return diff == 0;
}

static int auth_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int auth_base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outsize, size_t *outlen)
{
	size_t n = inlen, pad = 0, need, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (!in || !out || !outlen)
		return -1;
	while (n > 0 && in[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	/* Padding, when used, must complete the last quantum. */
	if (pad > 0 && inlen % 4 != 0)
		return -1;
	if (n % 4 == 1)
		return -1;
	need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	if (need > outsize)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = auth_b64_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Non-zero leftover bits mean a non-canonical encoding. */
	if (acc != 0)
		return -1;
	*outlen = o;
	return 0;
}

static int auth_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Match "<scheme><blanks><credentials>" and return the trimmed credentials,
 * or -1 when header uses another scheme or carries nothing. */
static int auth_split_scheme(const char *header, const char *scheme, const char **cred, size_t *credlen)
{
	size_t sl = strlen(scheme), n;
	const char *p;

	if (!header)
		return -1;
	while (auth_is_blank(*header))
		header++;
	n = strnlen(header, AUTH_HEADER_MAX + 1);
	if (n > AUTH_HEADER_MAX)
		return -1;
	if (n <= sl || strncasecmp(header, scheme, sl) != 0 || !auth_is_blank(header[sl]))
		return -1;
	p = header + sl;
	while (auth_is_blank(*p))
		p++;
	n = strlen(p);
	while (n > 0 && auth_is_blank(p[n - 1]))
		n--;
	if (n == 0)
		return -1;
	*cred = p;
	*credlen = n;
	return 0;
}

int auth_parse_bearer(const char *header, const char **tok, size_t *toklen)
{
	if (!tok || !toklen)
		return -1;
	return auth_split_scheme(header, "Bearer", tok, toklen);
}

int auth_parse_basic(const char *header, char *buf, size_t bufsize, const char **user, size_t *userlen,
                     const char **pass, size_t *passlen)
{
	const char *cred, *colon;
	size_t credlen, len;

	if (!buf || bufsize < 2 || !user || !userlen || !pass || !passlen)
		return -1;
	if (!header)
		return 1;
	if (auth_split_scheme(header, "Basic", &cred, &credlen) != 0) {
		/* "Basic" alone, or with only blanks after it, is still Basic. */
		const char *h = header;

		while (auth_is_blank(*h))
			h++;
		if (strncasecmp(h, "Basic", 5) == 0 && (h[5] == '\0' || auth_is_blank(h[5])))
			return -1;
		return 1;
	}
	/* One byte is kept for the terminating NUL. */
	if (auth_base64_decode(cred, credlen, (unsigned char *)buf, bufsize - 1, &len) != 0)
		goto bad;
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c < 0x20 || c == 0x7f)
			goto bad;
	}
	colon = memchr(buf, ':', len);
	if (!colon)
		goto bad;
	buf[colon - buf] = '\0';
	*user = buf;
	*userlen = (size_t)(colon - buf);
	*pass = colon + 1;
	*passlen = len - *userlen - 1;
	return 0;
bad:
	explicit_bzero(buf, bufsize);
	return -1;
}

int auth_is_loopback(const struct sockaddr *sa)
{
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

const char *auth_peer_name(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *addr = NULL;

	if (!buf || size == 0)
		return buf;
	if (sa && sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa && sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!addr || !inet_ntop(sa->sa_family, addr, buf, (socklen_t)size))
		snprintf(buf, size, "unknown");
	return buf;
}

static int auth_has_token(const config_auth *a)
{
	return a && a->token && a->token[0];
}

static int auth_has_basic(const config_auth *a)
{
	return a && a->username && a->username[0] && a->password;
}

int auth_unconfigured(const config_auth *a)
{
	return !auth_has_token(a) && !auth_has_basic(a);
}

auth_result auth_check(const config_auth *a, const char *authorization, const char *query_token,
                       const struct sockaddr *peer, const char **why)
{
	const char *reason = NULL;
	int ok = 0;

	if (auth_unconfigured(a)) {
		if (auth_is_loopback(peer)) {
			if (why)
				*why = NULL;
			return AUTH_OK;
		}
		if (why)
			*why = "no credentials configured and the peer is not loopback";
		return AUTH_LOOPBACK_ONLY;
	}
	if (authorization) {
		const char *tok, *user, *pass;
		size_t toklen, userlen, passlen;
		char buf[AUTH_HEADER_MAX];
		int r;

		if (auth_parse_bearer(authorization, &tok, &toklen) == 0) {
			if (!auth_has_token(a))
				reason = "bearer token presented but no token is configured";
			else if (auth_equal(tok, toklen, a->token, strlen(a->token)))
				ok = 1;
			else
				reason = "wrong bearer token";
		} else if ((r = auth_parse_basic(authorization, buf, sizeof(buf), &user, &userlen, &pass, &passlen)) ==
		           0) {
			if (!auth_has_basic(a)) {
				reason = "basic credentials presented but basic auth is not configured";
			} else {
				/* Both halves are always compared so timing does not
				 * tell a wrong user from a wrong password. */
				int u = auth_equal(user, userlen, a->username, strlen(a->username));
				int pw = auth_equal(pass, passlen, a->password, strlen(a->password));

				if (u & pw)
					ok = 1;
				else
					reason = "wrong username or password";
			}
			explicit_bzero(buf, sizeof(buf));
		} else if (r < 0) {
			reason = "malformed basic credentials";
		} else {
			reason = "unsupported authorization scheme";
		}
	}
	if (!ok && query_token) {
		if (!auth_has_token(a)) {
			if (!reason)
				reason = "query token presented but no token is configured";
		} else if (auth_equal(query_token, strlen(query_token), a->token, strlen(a->token))) {
			ok = 1;
		} else if (!reason) {
			reason = "wrong query token";
		}
	}
	if (ok) {
		if (why)
			*why = NULL;
		return AUTH_OK;
	}
	if (why)
		*why = reason ? reason : "missing credentials";
	return AUTH_DENIED;
}
