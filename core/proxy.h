/*
 * Trusted reverse proxies (http.trusted_proxies) and the client behind them.
 *
 * Behind a proxy every request comes from the proxy's address, so the
 * subscribe API's rate limit would count every visitor as one. A proxy that
 * crierd is told to trust reports the client in X-Forwarded-For; each proxy
 * on the way appends the address it saw, so the last entry is the one the
 * trusted proxy vouches for and everything left of it is whatever the
 * client chose to send. The client is therefore the rightmost entry that is
 * not itself a trusted proxy. A peer that is not trusted is the client,
 * whatever it claims.
 *
 * Pure functions: safe on any thread.
 */
#ifndef CRIER_PROXY_H
#define CRIER_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

/* One address or network: "10.0.0.0/8", "192.0.2.7", "fd00::/8", "::1". */
typedef struct proxy_net {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* the network, host bits cleared; 4 bytes for AF_INET */
	int bits;               /* prefix length: 0-32 or 0-128 */
} proxy_net;

/* Parses text into *out. 0, or -1 when text is not an address, optionally
 * with "/bits" in range (host bits past the prefix are cleared). */
int proxy_net_parse(const char *text, proxy_net *out);

/* 1 when sa is inside one of nets[0..n) (borrowed); an IPv4-mapped IPv6
 * peer is matched as IPv4. NULL sa is never trusted. */
int proxy_trusted(const proxy_net *nets, size_t n, const struct sockaddr *sa);

/*
 * The client's address, as text, into buf (size bytes; returns buf).
 * peer: the TCP peer (borrowed, may be NULL: "unknown"); xff: the
 * X-Forwarded-For header or NULL. When the peer is trusted and xff names
 * addresses, the rightmost one outside nets (or the leftmost, when all are
 * inside); otherwise the peer's own address. A malformed entry where the
 * client should be (a port, "unknown", junk) gives the peer's own address:
 * such a request counts against the proxy, never against a made-up client.
 */
const char *proxy_client(const proxy_net *nets, size_t n, const struct sockaddr *peer, const char *xff, char *buf,
                         size_t size);

#endif
