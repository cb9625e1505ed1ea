/*
 * The TLS layer of the libmicrohttpd that crierd links, as refusals.
 *
 * Why this file exists: crierd serves plain HTTP (TLS belongs to the reverse
 * proxy in front of it, docs/configuration.md), but Debian builds libmicrohttpd
 * with HTTPS, so linking libmicrohttpd.so maps GnuTLS and what GnuTLS needs
 * (p11-kit, nettle, hogweed, gmp, tasn1, idn2, unistring, ffi), and
 * libmicrohttpd's constructor initializes GnuTLS. Measured with
 * tests/bench/rss_map.py, that is 2.5 MiB of crierd's 10.6 MiB idle RSS, for
 * code crierd never runs.
 *
 * So crierd links the same package's static archive (libmicrohttpd.a, from
 * libmicrohttpd-dev) and this file answers the GnuTLS calls the archive
 * makes. Only gnutls_global_init and gnutls_global_deinit are called in
 * crierd's life (from libmicrohttpd's constructor and destructor); they
 * succeed and do nothing. Every other call belongs to MHD_USE_TLS, which
 * crierd never passes: each fails with GNUTLS_E_UNIMPLEMENTED_FEATURE and
 * leaves its out-parameters NULL, so a daemon started with TLS would fail
 * to start rather than serve without it (tests/unit/test_http_notls.c).
 *
 * The names are GnuTLS's, not this file's prefix: the archive calls them.
 * They are hidden, so they never leave the executable: a library loaded
 * later (libcurl, through crier-http.so, brings the real GnuTLS with it)
 * binds to the real functions, never to these.
 *
 * libmicrohttpd is LGPL-2.1+; linking its archive keeps crierd relinkable
 * against another build of it, since crier is built from its source.
 */

#pragma GCC visibility push(hidden)
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#pragma GCC visibility pop

#include <stddef.h>

enum { refused = GNUTLS_E_UNIMPLEMENTED_FEATURE };

/* ---- called: libmicrohttpd's constructor and destructor ---- */

int gnutls_global_init(void)
{
	return 0;
}

void gnutls_global_deinit(void)
{
}

const char *gnutls_strerror(int error)
{
	return error == refused ? "TLS is not built into crierd" : "TLS error (TLS is not built into crierd)";
}

/* gnutls_malloc is a variable in GnuTLS; libmicrohttpd reads it only to
 * allocate PSK keys, which never happens here. */
gnutls_alloc_function gnutls_malloc = NULL;

/* ---- never called: everything MHD_USE_TLS would need ---- */

int gnutls_priority_init(gnutls_priority_t *priority_cache, const char *priorities, const char **err_pos)
{
	(void)priorities;
	*priority_cache = NULL;
	if (err_pos)
		*err_pos = NULL;
	return refused;
}

void gnutls_priority_deinit(gnutls_priority_t priority_cache)
{
	(void)priority_cache;
}

int gnutls_certificate_allocate_credentials(gnutls_certificate_credentials_t *res)
{
	*res = NULL;
	return refused;
}

void gnutls_certificate_free_credentials(gnutls_certificate_credentials_t sc)
{
	(void)sc;
}

int gnutls_psk_allocate_server_credentials(gnutls_psk_server_credentials_t *sc)
{
	*sc = NULL;
	return refused;
}

void gnutls_psk_free_server_credentials(gnutls_psk_server_credentials_t sc)
{
	(void)sc;
}

int gnutls_dh_params_init(gnutls_dh_params_t *dh_params)
{
	*dh_params = NULL;
	return refused;
}

void gnutls_dh_params_deinit(gnutls_dh_params_t dh_params)
{
	(void)dh_params;
}

int gnutls_dh_params_import_pkcs3(gnutls_dh_params_t params, const gnutls_datum_t *pkcs3_params,
                                  gnutls_x509_crt_fmt_t format)
{
	(void)params, (void)pkcs3_params, (void)format;
	return refused;
}

int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
	(void)flags;
	*session = NULL;
	return refused;
}

void gnutls_deinit(gnutls_session_t session)
{
	(void)session;
}

/* The credential setters below take what gnutls_*_allocate_* refused to
 * make, so they are unreachable; they refuse too, rather than trust that. */

void gnutls_certificate_set_dh_params(gnutls_certificate_credentials_t res, gnutls_dh_params_t dh_params)
{
	(void)res, (void)dh_params;
}

int gnutls_certificate_set_x509_key_mem(gnutls_certificate_credentials_t res, const gnutls_datum_t *cert,
                                        const gnutls_datum_t *key, gnutls_x509_crt_fmt_t type)
{
	(void)res, (void)cert, (void)key, (void)type;
	return refused;
}

int gnutls_certificate_set_x509_key_mem2(gnutls_certificate_credentials_t res, const gnutls_datum_t *cert,
                                         const gnutls_datum_t *key, gnutls_x509_crt_fmt_t type, const char *pass,
                                         unsigned int flags)
{
	(void)res, (void)cert, (void)key, (void)type, (void)pass, (void)flags;
	return refused;
}

int gnutls_certificate_set_x509_trust_mem(gnutls_certificate_credentials_t res, const gnutls_datum_t *ca,
                                          gnutls_x509_crt_fmt_t type)
{
	(void)res, (void)ca, (void)type;
	return refused;
}

void gnutls_certificate_set_retrieve_function2(gnutls_certificate_credentials_t cred,
                                               gnutls_certificate_retrieve_function2 *func)
{
	(void)cred, (void)func;
}

void gnutls_certificate_set_retrieve_function3(gnutls_certificate_credentials_t cred,
                                               gnutls_certificate_retrieve_function3 *func)
{
	(void)cred, (void)func;
}

void gnutls_psk_set_server_credentials_function(gnutls_psk_server_credentials_t cred,
                                                gnutls_psk_server_credentials_function *func)
{
	(void)cred, (void)func;
}

/* Session calls: there is never a session (gnutls_init refused). */

int gnutls_credentials_set(gnutls_session_t session, gnutls_credentials_type_t type, void *cred)
{
	(void)session, (void)type, (void)cred;
	return refused;
}

int gnutls_priority_set(gnutls_session_t session, gnutls_priority_t priority)
{
	(void)session, (void)priority;
	return refused;
}

int gnutls_alpn_set_protocols(gnutls_session_t session, const gnutls_datum_t *protocols, unsigned protocols_size,
                              unsigned flags)
{
	(void)session, (void)protocols, (void)protocols_size, (void)flags;
	return refused;
}

void gnutls_certificate_server_set_request(gnutls_session_t session, gnutls_certificate_request_t req)
{
	(void)session, (void)req;
}

void gnutls_transport_set_int2(gnutls_session_t session, int r, int s)
{
	(void)session, (void)r, (void)s;
}

void gnutls_session_set_ptr(gnutls_session_t session, void *ptr)
{
	(void)session, (void)ptr;
}

void *gnutls_session_get_ptr(gnutls_session_t session)
{
	(void)session;
	return NULL;
}

int gnutls_handshake(gnutls_session_t session)
{
	(void)session;
	return refused;
}

int gnutls_bye(gnutls_session_t session, gnutls_close_request_t how)
{
	(void)session, (void)how;
	return refused;
}

ssize_t gnutls_record_recv(gnutls_session_t session, void *data, size_t data_size)
{
	(void)session, (void)data, (void)data_size;
	return refused;
}

ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t data_size)
{
	(void)session, (void)data, (void)data_size;
	return refused;
}

size_t gnutls_record_check_pending(gnutls_session_t session)
{
	(void)session;
	return 0;
}

int gnutls_record_get_direction(gnutls_session_t session)
{
	(void)session;
	return 0;
}

gnutls_cipher_algorithm_t gnutls_cipher_get(gnutls_session_t session)
{
	(void)session;
	return GNUTLS_CIPHER_UNKNOWN;
}

gnutls_protocol_t gnutls_protocol_get_version(gnutls_session_t session)
{
	(void)session;
	return GNUTLS_VERSION_UNKNOWN;
}
