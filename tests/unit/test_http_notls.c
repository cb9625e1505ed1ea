/* crierd's libmicrohttpd without its TLS layer (core/http_notls.c): a plain
 * daemon serves; one asked for TLS fails to start instead of serving
 * without it; the refusals say what they are. */
#include "check.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* A real self-signed certificate and its key (P-256, CN=localhost, made for
 * this test only): with GnuTLS behind it, libmicrohttpd would start a TLS
 * daemon with them, so the refusal below is the stubs' doing. */
static const char pem_cert[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBfzCCASWgAwIBAgIUPeLPk/TQ1c2druQF2pUXUY8K8NgwCgYIKoZIzj0EAwIw\n"
                               "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTIxMzU0OVoYDzIxMjYxMDI4\n"
                               "MjEzNTQ5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
                               "PQMBBwNCAAR8QwVY+fqIV+kgfriGmjbQNTWW0bb+9tdu88fZDvpLlEfK7Vc3KvI2\n"
                               "cafE37l7GLDZrIZKuDzo14L2cCF3J0Dxo1MwUTAdBgNVHQ4EFgQUCf8aFMuVzYPV\n"
                               "MW/3iX0HmriAG6cwHwYDVR0jBBgwFoAUCf8aFMuVzYPVMW/3iX0HmriAG6cwDwYD\n"
                               "VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA7h2mz/I5vTlsBCHMe4U7\n"
                               "zzHZ/Zl/2zLrrte0IzZLxakCIGA7eWUjbGAP+7sPshG6YGmNcX1qwl6LqsrQUwir\n"
                               "olD0\n"
                               "-----END CERTIFICATE-----\n";
static const char pem_key[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1bRLY5oTLMrzpCih\n"
                              "EyIifZf6dDENsVyfcxvLJEIVCFShRANCAAR8QwVY+fqIV+kgfriGmjbQNTWW0bb+\n"
                              "9tdu88fZDvpLlEfK7Vc3KvI2cafE37l7GLDZrIZKuDzo14L2cCF3J0Dx\n"
                              "-----END PRIVATE KEY-----\n";

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **state)
{
	(void)cls, (void)url, (void)method, (void)version, (void)data, (void)size, (void)state;
	static const char body[] = "plain";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ok;
}

/* "GET / HTTP/1.0" to 127.0.0.1:port; the first bytes of the answer in buf. */
static int get(unsigned short port, char *buf, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	ssize_t n = -1;
	size_t got = 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, req, sizeof req - 1) != sizeof req - 1)
		goto out;
	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
out:
	close(fd);
	return n < 0 ? -1 : 0;
}

static void test_plain_serves(void)
{
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, answer,
	                                        NULL, MHD_OPTION_END);
	CHECK(d != NULL);
	if (!d)
		return;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	CHECK(info && info->port > 0);
	char buf[512];
	CHECK(info && get(info->port, buf, sizeof buf) == 0);
	CHECK(strncmp(buf, "HTTP/1.0 200", 12) == 0 || strncmp(buf, "HTTP/1.1 200", 12) == 0);
	CHECK(strstr(buf, "\r\n\r\nplain") != NULL);
	MHD_stop_daemon(d);
}

static void test_tls_refused(void)
{
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, answer, NULL,
	                     MHD_OPTION_HTTPS_MEM_KEY, pem_key, MHD_OPTION_HTTPS_MEM_CERT, pem_cert, MHD_OPTION_END);
	CHECK(d == NULL);
	if (d)
		MHD_stop_daemon(d);
}

static void test_refusals_named(void)
{
	CHECK(gnutls_global_init() == 0);
	gnutls_session_t s = (gnutls_session_t)&s;
	CHECK(gnutls_init(&s, GNUTLS_SERVER) == GNUTLS_E_UNIMPLEMENTED_FEATURE);
	CHECK(s == NULL);
	CHECK_STR(gnutls_strerror(GNUTLS_E_UNIMPLEMENTED_FEATURE), "TLS is not built into crierd");
	gnutls_global_deinit();
}

int main(void)
{
	test_plain_serves();
	test_tls_refused();
	test_refusals_named();
	return check_summary("test_http_notls");
}
