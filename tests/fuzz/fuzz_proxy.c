/*
 * libFuzzer target: http.trusted_proxies entries and X-Forwarded-For
 * (core/proxy.h) on any bytes. Input: one byte choosing the TCP peer, then
 * the text, parsed both as a network and as the header. The promises: a
 * network that parses has its prefix in range and no host bits; the client
 * is always an address that parses back, never cut short, and from a peer
 * that is not a trusted proxy, that peer whatever the header says.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_assert(int cond)
{
	if (!cond)
		abort();
}

static void fuzz_check_net(const char *text)
{
	proxy_net n;
	if (proxy_net_parse(text, &n) < 0)
		return;
	int max = n.family == AF_INET ? 32 : 128;
	fuzz_assert(n.family == AF_INET || n.family == AF_INET6);
	fuzz_assert(n.bits >= 0 && n.bits <= max);
	for (int bit = n.bits; bit < max; bit++)
		fuzz_assert(!(n.addr[bit / 8] & (0x80 >> (bit % 8))));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const peers[] = {"127.0.0.1",        "10.0.0.9",    "::1",
	                                    "::ffff:127.0.0.2", "2001:db8::1", "198.51.100.4"};
	proxy_net trusted[3];
	struct sockaddr_storage ss;
	char buf[64], small[8];
	unsigned char scratch[16];
	char *text;

	if (size < 1)
		return 0;
	fuzz_assert(proxy_net_parse("127.0.0.0/8", &trusted[0]) == 0 && proxy_net_parse("::1", &trusted[1]) == 0 &&
	            proxy_net_parse("10.0.0.0/24", &trusted[2]) == 0);
	const char *p = peers[data[0] % (sizeof(peers) / sizeof(peers[0]))];
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, p, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
	} else {
		fuzz_assert(inet_pton(AF_INET6, p, &in6->sin6_addr) == 1);
		in6->sin6_family = AF_INET6;
	}
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';

	fuzz_check_net(text);
	const char *client = proxy_client(trusted, 3, (struct sockaddr *)&ss, text, buf, sizeof(buf));
	fuzz_assert(client == buf);
	fuzz_assert(inet_pton(AF_INET, buf, scratch) == 1 || inet_pton(AF_INET6, buf, scratch) == 1);
	if (!proxy_trusted(trusted, 3, (struct sockaddr *)&ss))
		fuzz_assert(strcmp(buf, p) == 0 || strcmp(buf, "127.0.0.2") == 0 ||
		            strcmp(buf, "::ffff:127.0.0.2") == 0);
	client = proxy_client(trusted, 3, (struct sockaddr *)&ss, text, small, sizeof(small));
	fuzz_assert(client == small && strlen(small) < sizeof(small));
	free(text);
	return 0;
}
