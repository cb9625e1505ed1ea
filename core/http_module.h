/*
 * The host table's http_request and http_response_free for plugin instances,
 * with libcurl loaded on first use: the first request dlopen()s crier-http.so
 * (http_client.c and libcurl, see http_client.h) and initializes libcurl. A
 * crierd, or a plugin host process, whose plugins never call http_request
 * never maps libcurl, OpenSSL, Kerberos, LDAP and the rest behind it.
 *
 * crier-http.so is looked for next to the running program: in
 * <prefix>/lib/crier/ for <prefix>/bin/crierd (where make install puts
 * both), then in <dir>/lib/crier/ for <dir>/crierd (the build tree). Once
 * loaded it stays loaded until exit. A failed load is tried again on the
 * next request; each failure is the request's error, the first is logged.
 */
#ifndef CRIER_HTTP_MODULE_H
#define CRIER_HTTP_MODULE_H

#include <crier/plugin.h>

/* The module's file name. */
#define HTTP_MODULE_FILE "crier-http.so"

/* http_client_request (see http_client.h), after loading the module if need
 * be; thread-safe. When it cannot be loaded: -1, resp->error says why and
 * names the file. req and what it points to are borrowed. */
int http_module_request(void **handle, const crier_http_request *req, crier_http_response *resp);

/* Free the handle in *handle (may be NULL, which never loads anything) and
 * set *handle to NULL. */
void http_module_close(void **handle);

/* Free resp->body and reset it to NULL; safe to call twice. */
void http_module_response_free(crier_http_response *resp);

/* Release libcurl if the module was loaded; nothing otherwise. Call once at
 * exit, after every handle is closed. */
void http_module_cleanup(void);

#endif
