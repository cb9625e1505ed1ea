/* Trusted proxies and X-Forwarded-For (core/proxy.h), table-driven. */
#include "check.h"
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static const struct {
	const char *text;
	int ok, family, bits;
	const char *net; /* the network as inet_ntop prints it */
} nets[] = {
    {"127.0.0.1", 1, AF_INET, 32, "127.0.0.1"},
    {"10.1.2.3/8", 1, AF_INET, 8, "10.0.0.0"},
    {"192.0.2.0/24", 1, AF_INET, 24, "192.0.2.0"},
    {"0.0.0.0/0", 1, AF_INET, 0, "0.0.0.0"},
    {"172.16.255.1/12", 1, AF_INET, 12, "172.16.0.0"},
    {"::1", 1, AF_INET6, 128, "::1"},
    {"fd00:1:2::9/8", 1, AF_INET6, 8, "fd00::"},
    {"2001:db8::/33", 1, AF_INET6, 33, "2001:db8::"},
    /* IPv4-mapped entries are IPv4, as peers are matched. */
    {"::ffff:127.0.0.1", 1, AF_INET, 32, "127.0.0.1"},
    {"::ffff:10.1.2.3/104", 1, AF_INET, 8, "10.0.0.0"},
    {"::ffff:0:0/96", 1, AF_INET, 0, "0.0.0.0"},
    {"::ffff:0:0/95", 0, 0, 0, NULL},
    {"10.0.0.0/33", 0, 0, 0, NULL},
    {"::/129", 0, 0, 0, NULL},
    {"10.0.0.0/", 0, 0, 0, NULL},
    {"10.0.0.0/8x", 0, 0, 0, NULL},
    {"10.0.0.0/-8", 0, 0, 0, NULL},
    {"10.0.0/8", 0, 0, 0, NULL},
    {"localhost", 0, 0, 0, NULL},
    {"", 0, 0, 0, NULL},
    {"/8", 0, 0, 0, NULL},
    {"1.2.3.4 ", 0, 0, 0, NULL},
    {"[::1]", 0, 0, 0, NULL},
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		proxy_net n;
		char buf[64] = "";
		int ok = proxy_net_parse(nets[i].text, &n) == 0;

		CHECK(ok == nets[i].ok);
		if (ok != nets[i].ok)
			fprintf(stderr, "  parse \"%s\"\n", nets[i].text);
		if (!ok || !nets[i].ok)
			continue;
		CHECK(n.family == nets[i].family);
		CHECK(n.bits == nets[i].bits);
		CHECK_STR(inet_ntop(n.family, n.addr, buf, sizeof(buf)), nets[i].net);
	}
	CHECK(proxy_net_parse(NULL, &(proxy_net){0}) < 0);
}

/* A peer address as a sockaddr (IPv4 or IPv6 from its text). */
static const struct sockaddr *peer(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return (struct sockaddr *)ss;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return (struct sockaddr *)ss;
	}
	return NULL;
}

static const struct {
	const char *peer, *xff, *client;
} clients[] = {
    /* Not a trusted peer: whatever it claims, it is the client. */
    {"203.0.113.5", "198.51.100.1", "203.0.113.5"},
    {"10.9.9.9", "198.51.100.1", "10.9.9.9"},
    /* A trusted proxy: the entry it appended. */
    {"127.0.0.1", "198.51.100.1", "198.51.100.1"},
    {"127.0.0.1", " 198.51.100.1 ", "198.51.100.1"},
    {"::1", "2001:db8::7", "2001:db8::7"},
    {"::ffff:127.0.0.1", "198.51.100.1", "198.51.100.1"},
    {"127.0.0.1", "::ffff:198.51.100.9", "198.51.100.9"},
    /* Whatever the client sent first is not believed: the rightmost
     * untrusted entry is the client. */
    {"127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"},
    {"127.0.0.1", "6.6.6.6,198.51.100.1", "198.51.100.1"},
    /* A chain of trusted proxies is walked through. */
    {"127.0.0.1", "6.6.6.6, 198.51.100.1, 10.0.0.2, 10.0.0.3", "198.51.100.1"},
    /* Only trusted addresses: the first of them. */
    {"127.0.0.1", "10.0.0.2, 10.0.0.3", "10.0.0.2"},
    /* Malformed where the client would be: the proxy itself. */
    {"127.0.0.1", "unknown", "127.0.0.1"},
    {"127.0.0.1", "198.51.100.1:4711", "127.0.0.1"},
    {"127.0.0.1", "198.51.100.1,", "127.0.0.1"},
    {"127.0.0.1", "", "127.0.0.1"},
    {"127.0.0.1", " , ", "127.0.0.1"},
    {"127.0.0.1", "1.2.3.4\n", "127.0.0.1"},
    {"127.0.0.1", "x, 10.0.0.3", "127.0.0.1"},
    /* Junk left of the client does not matter. */
    {"127.0.0.1", "junk, 198.51.100.1", "198.51.100.1"},
    {"127.0.0.1", NULL, "127.0.0.1"},
};

static void test_client(void)
{
	proxy_net trusted[3];
	struct sockaddr_storage ss;
	char buf[64];

	CHECK(proxy_net_parse("127.0.0.0/8", &trusted[0]) == 0);
	CHECK(proxy_net_parse("::1", &trusted[1]) == 0);
	CHECK(proxy_net_parse("10.0.0.0/24", &trusted[2]) == 0);
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		const struct sockaddr *sa = peer(clients[i].peer, &ss);

		CHECK(sa != NULL);
		CHECK_STR(proxy_client(trusted, 3, sa, clients[i].xff, buf, sizeof(buf)), clients[i].client);
	}
	/* No trusted proxies configured: the header is never read. */
	CHECK_STR(proxy_client(NULL, 0, peer("127.0.0.1", &ss), "198.51.100.1", buf, sizeof(buf)), "127.0.0.1");
	CHECK_STR(proxy_client(trusted, 3, NULL, "198.51.100.1", buf, sizeof(buf)), "unknown");
	/* A buffer too small for the address says so rather than cut it. */
	CHECK_STR(proxy_client(trusted, 3, peer("127.0.0.1", &ss), "2001:db8::1:2:3:4", buf, 8), "unknown");
	CHECK(proxy_trusted(trusted, 3, peer("10.0.0.255", &ss)));
	CHECK(!proxy_trusted(trusted, 3, peer("10.0.1.0", &ss)));
	CHECK(!proxy_trusted(trusted, 3, peer("::2", &ss)));
	CHECK(!proxy_trusted(trusted, 3, NULL));
	/* A mapped entry trusts the peer it names, mapped or not. */
	proxy_net mapped;
	CHECK(proxy_net_parse("::ffff:192.0.2.1", &mapped) == 0);
	CHECK(proxy_trusted(&mapped, 1, peer("192.0.2.1", &ss)));
	CHECK(proxy_trusted(&mapped, 1, peer("::ffff:192.0.2.1", &ss)));
	CHECK_STR(proxy_client(&mapped, 1, peer("192.0.2.1", &ss), "198.51.100.3", buf, sizeof(buf)), "198.51.100.3");
}

int main(void)
{
	test_parse();
	test_client();
	return check_summary("test_proxy");
}
