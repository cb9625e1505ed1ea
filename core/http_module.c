#include "http_module.h"

#include "http_client.h"
#include "log.h"

#include <crier/plugin_util.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODULE_DIR "lib/crier/"

static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
/* The module's table once loaded and checked, under load_mu. */
static const http_client_module *module_table;
static int failure_logged; /* under load_mu */
/* The same once libcurl is initialized too: what every request reads,
 * without the lock. */
static const http_client_module *_Atomic module;

/* The first of <prefix>/lib/crier/ and <dir>/lib/crier/ (see http_module.h)
 * that holds the module, into path. */
static int find_module(char *path, size_t pathlen, char *err, size_t errlen)
{
	char dir[PATH_MAX], prefix[PATH_MAX], installed[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	if (n <= 0) {
		crier_fail(err, errlen, "cannot find " HTTP_MODULE_FILE ": /proc/self/exe: %s", strerror(errno));
		return -1;
	}
	dir[n] = '\0';
	*strrchr(dir, '/') = '\0'; /* an absolute path: it has one */
	snprintf(prefix, sizeof(prefix), "%s", dir);
	char *slash = strrchr(prefix, '/');
	if (slash)
		*slash = '\0';
	snprintf(installed, sizeof(installed), "%s/" MODULE_DIR HTTP_MODULE_FILE, prefix);
	if (access(installed, R_OK) == 0) {
		snprintf(path, pathlen, "%s", installed);
		return 0;
	}
	snprintf(path, pathlen, "%s/" MODULE_DIR HTTP_MODULE_FILE, dir);
	if (access(path, R_OK) == 0)
		return 0;
	crier_fail(
	    err, errlen,
	    "crierd's HTTP helper for plugins is missing: neither %s nor %s exists (make builds it, make install "
	    "installs it)",
	    installed, path);
	return -1;
}

/* Called with load_mu held. */
static const http_client_module *load_locked(char *err, size_t errlen)
{
	char path[PATH_MAX + 64];

	if (!module_table) {
		if (find_module(path, sizeof(path), err, errlen) < 0)
			goto fail;
		dlerror();
		void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!dl) {
			const char *why = dlerror();
			crier_fail(err, errlen, "%s: cannot load: %s", path, why ? why : "unknown dlopen error");
			goto fail;
		}
		const http_client_module *m = dlsym(dl, HTTP_CLIENT_MODULE_SYMBOL);
		if (!m || m->version != HTTP_CLIENT_MODULE_VERSION) {
			crier_fail(err, errlen,
			           "%s: not the HTTP helper of this crierd (interface version %u, expected %u)", path,
			           m ? m->version : 0, HTTP_CLIENT_MODULE_VERSION);
			/* Unloaded, so that a mended install is read afresh next time. */
			dlclose(dl);
			goto fail;
		}
		module_table = m; /* and dl stays open until exit */
	}
	if (module_table->global_init() < 0) {
		crier_fail(err, errlen, "libcurl could not initialize");
		goto fail;
	}
	atomic_store(&module, module_table);
	return module_table;
fail:
	/* Once: the core logs each failed delivery with this error already,
	 * when the plugin passes it on. */
	if (!failure_logged) {
		failure_logged = 1;
		log_error("cannot load crierd's HTTP helper: plugins' HTTP requests fail until it loads", " error=%s",
		          log_q(err));
	}
	return NULL;
}

static const http_client_module *load(char *err, size_t errlen)
{
	const http_client_module *m = atomic_load(&module);

	if (m)
		return m;
	pthread_mutex_lock(&load_mu);
	m = atomic_load(&module);
	if (!m)
		m = load_locked(err, errlen);
	pthread_mutex_unlock(&load_mu);
	return m;
}

int http_module_request(void **handle, const crier_http_request *req, crier_http_response *resp)
{
	char err[sizeof(resp->error) + 512];
	const http_client_module *m = load(err, sizeof(err));

	if (!m) {
		memset(resp, 0, sizeof(*resp));
		snprintf(resp->error, sizeof(resp->error), "%.*s", (int)sizeof(resp->error) - 1, err);
		return -1;
	}
	return m->request(handle, req, resp);
}

void http_module_close(void **handle)
{
	/* A handle comes from the module, so it is loaded when there is one. */
	const http_client_module *m = atomic_load(&module);

	if (handle && *handle && m)
		m->close(handle);
}

void http_module_response_free(crier_http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

void http_module_cleanup(void)
{
	const http_client_module *m = atomic_exchange(&module, NULL);

	if (m)
		m->global_cleanup();
}
