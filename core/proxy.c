/* Trusted proxies and X-Forwarded-For (proxy.h). */
#include "proxy.h"

#include "auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest address text accepted, IPv6 with an IPv4 tail included. */
#define PROXY_ADDR_MAX 46

/* text[0..len) as one address (no prefix): family and bytes. 0 or -1. */
static int proxy_addr(const char *text, size_t len, int *family, unsigned char addr[16])
{
	char buf[PROXY_ADDR_MAX];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static void proxy_mask(unsigned char *addr, int len, int bits)
{
	for (int i = 0; i < len; i++) {
		int keep = bits - 8 * i;
		if (keep <= 0)
			addr[i] = 0;
		else if (keep < 8)
			addr[i] &= (unsigned char)(0xff << (8 - keep));
	}
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4, in place. */
static void proxy_unmap(int *family, unsigned char addr[16])
{
	static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (*family == AF_INET6 && memcmp(addr, prefix, sizeof(prefix)) == 0) {
		memmove(addr, addr + 12, 4);
		*family = AF_INET;
	}
}

int proxy_net_parse(const char *text, proxy_net *out)
{
	const char *slash;
	size_t alen;
	int max;

	if (!text || !out)
		return -1;
	memset(out, 0, sizeof(*out));
	slash = strchr(text, '/');
	alen = slash ? (size_t)(slash - text) : strlen(text);
	if (proxy_addr(text, alen, &out->family, out->addr) < 0)
		return -1;
	max = out->family == AF_INET ? 32 : 128;
	out->bits = max;
	if (slash) {
		const char *p = slash + 1;
		int v = 0;

		if (!*p || strlen(p) > 3)
			return -1;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (*p - '0');
		}
		if (v > max)
			return -1;
		out->bits = v;
	}
	/* ::ffff:a.b.c.d is matched as IPv4 (proxy_trusted unmaps peers), so
	 * the entry is too; a prefix that does not cover the ::ffff: part
	 * would mix the two families. */
	if (out->family == AF_INET6) {
		int family = AF_INET6;

		proxy_unmap(&family, out->addr);
		if (family == AF_INET) {
			if (out->bits < 96)
				return -1;
			out->family = AF_INET;
			out->bits -= 96;
			max = 32;
		}
	}
	proxy_mask(out->addr, max / 8, out->bits);
	return 0;
}

/* family/addr inside net? */
static int proxy_in(const proxy_net *net, int family, const unsigned char *addr)
{
	unsigned char a[16];
	int len = family == AF_INET ? 4 : 16;

	if (net->family != family)
		return 0;
	memcpy(a, addr, (size_t)len);
	proxy_mask(a, len, net->bits);
	return memcmp(a, net->addr, (size_t)len) == 0;
}

/* family/addr (unmapped) inside one of nets? */
static int proxy_any(const proxy_net *nets, size_t n, int family, const unsigned char addr[16])
{
	for (size_t i = 0; i < n; i++)
		if (proxy_in(&nets[i], family, addr))
			return 1;
	return 0;
}

int proxy_trusted(const proxy_net *nets, size_t n, const struct sockaddr *sa)
{
	unsigned char addr[16];

	if (!sa || n == 0)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return proxy_any(nets, n, AF_INET, addr);
	}
	if (sa->sa_family == AF_INET6) {
		int family = AF_INET6;

		memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		proxy_unmap(&family, addr);
		return proxy_any(nets, n, family, addr);
	}
	return 0;
}

static int proxy_blank(char c)
{
	return c == ' ' || c == '\t';
}

const char *proxy_client(const proxy_net *nets, size_t n, const struct sockaddr *peer, const char *xff, char *buf,
                         size_t size)
{
	unsigned char addr[16];
	int family = 0; /* of the last entry read: 0 before the first */
	const char *end;

	if (!buf || size == 0)
		return buf;
	if (!xff || !proxy_trusted(nets, n, peer))
		return auth_peer_name(peer, buf, size);
	/* From the right: each trusted entry is one more proxy on the way. */
	end = xff + strlen(xff);
	while (end > xff) {
		const char *start = end, *b, *e;

		while (start > xff && start[-1] != ',')
			start--;
		for (b = start; b < end && proxy_blank(*b); b++)
			;
		for (e = end; e > b && proxy_blank(e[-1]); e--)
			;
		if (proxy_addr(b, (size_t)(e - b), &family, addr) < 0)
			return auth_peer_name(peer, buf, size);
		proxy_unmap(&family, addr);
		if (!proxy_any(nets, n, family, addr))
			break;
		end = start > xff ? start - 1 : xff;
	}
	if (!family)
		return auth_peer_name(peer, buf, size);
	if (!inet_ntop(family, addr, buf, (socklen_t)size))
		snprintf(buf, size, "unknown");
	return buf;
}
