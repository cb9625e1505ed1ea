#include "plugin_loader.h"

#include "text.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int plugin_loader_find(char *const *dirs, const char *name)
{
	/* The first folder that has it wins: a team's folder listed after the
	 * shipped one cannot replace a shipped plugin by accident. */
	for (int i = 0; dirs[i]; i++) {
		char path[4096];
		if (snprintf(path, sizeof(path), "%s/%s.so", dirs[i], name) < (int)sizeof(path) &&
		    access(path, R_OK) == 0)
			return i;
	}
	return -1;
}

plugin_lib *plugin_loader_open(char *const *dirs, const char *name, char *err, size_t errlen)
{
	char searched[512];
	plugin_lib *lib = calloc(1, sizeof(*lib));
	if (!lib) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	lib->name = strdup(name);
	if (!lib->name) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	int dir = plugin_loader_find(dirs, name);
	if (dir < 0) {
		text_join(searched, sizeof(searched), (const char *const *)dirs);
		snprintf(err, errlen, "plugin \"%s\": %s.so not found in daemon.plugin_dir (%s); build it with make",
		         name, name, searched);
		goto fail;
	}
	if (asprintf(&lib->path, "%s/%s.so", dirs[dir], name) < 0) {
		lib->path = NULL;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	dlerror();
	lib->dl = dlopen(lib->path, RTLD_NOW | RTLD_LOCAL);
	if (!lib->dl) {
		const char *why = dlerror();
		snprintf(err, errlen, "%s: cannot load: %s", lib->path, why ? why : "unknown dlopen error");
		goto fail;
	}
	crier_plugin_negotiate_fn negotiate;
	*(void **)&negotiate = dlsym(lib->dl, CRIER_PLUGIN_SYMBOL);
	if (!negotiate) {
		snprintf(err, errlen, "%s: not a crier plugin (no %s symbol)", lib->path, CRIER_PLUGIN_SYMBOL);
		goto fail;
	}
	lib->api = negotiate(PLUGIN_LOADER_ABI_MIN, PLUGIN_LOADER_ABI_MAX);
	if (!lib->api) {
		snprintf(err, errlen, "%s: speaks none of the ABI versions %d..%d this crierd offers", lib->path,
		         PLUGIN_LOADER_ABI_MIN, PLUGIN_LOADER_ABI_MAX);
		goto fail;
	}
	if (lib->api->abi_version < PLUGIN_LOADER_ABI_MIN || lib->api->abi_version > PLUGIN_LOADER_ABI_MAX) {
		snprintf(err, errlen, "%s: chose ABI version %u, outside the offered %d..%d", lib->path,
		         lib->api->abi_version, PLUGIN_LOADER_ABI_MIN, PLUGIN_LOADER_ABI_MAX);
		goto fail;
	}
	const char *missing = !lib->api->init      ? "init"
	                      : !lib->api->deliver ? "deliver"
	                      : !lib->api->destroy ? "destroy"
	                                           : NULL;
	if (missing) {
		snprintf(err, errlen, "%s: mandatory function %s is NULL", lib->path, missing);
		goto fail;
	}
	if (!lib->api->name || strcmp(lib->api->name, name) != 0) {
		snprintf(err, errlen, "%s: calls itself \"%s\", expected \"%s\"", lib->path,
		         lib->api->name ? lib->api->name : "(null)", name);
		goto fail;
	}
	return lib;
fail:
	plugin_loader_close(lib);
	return NULL;
}

void plugin_loader_close(plugin_lib *lib)
{
	if (!lib)
		return;
	if (lib->dl)
		dlclose(lib->dl);
	free(lib->name);
	free(lib->path);
	free(lib);
}
