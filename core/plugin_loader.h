/* Loading plugin shared objects and negotiating the ABI (include/crier/plugin.h). */
#ifndef CRIER_PLUGIN_LOADER_H
#define CRIER_PLUGIN_LOADER_H

#include "crier/plugin.h"

#include <stddef.h>

/* ABI versions this build of crierd offers. */
#define PLUGIN_LOADER_ABI_MIN CRIER_ABI_VERSION_MIN
#define PLUGIN_LOADER_ABI_MAX CRIER_ABI_VERSION

typedef struct plugin_lib {
	char *name;              /* owned */
	char *path;              /* owned */
	void *dl;                /* dlopen handle */
	const crier_plugin *api; /* borrowed from the shared object */
} plugin_lib;

/*
 * dlopen <dir>/<name>.so from the first of dirs (borrowed, NULL-terminated)
 * that holds it, with RTLD_NOW | RTLD_LOCAL, and negotiate. Refuses (NULL,
 * err naming the file) a file in none of them, unresolved symbols, a missing
 * crier_plugin_negotiate, no common ABI version, a version outside the
 * offered range, a NULL mandatory function or a name that does not match.
 */
plugin_lib *plugin_loader_open(char *const *dirs, const char *name, char *err, size_t errlen);

/* Where plugin_loader_open finds name: the index in dirs (borrowed,
 * NULL-terminated) of the first folder with a readable <name>.so, or -1. */
int plugin_loader_find(char *const *dirs, const char *name);
void plugin_loader_close(plugin_lib *lib);

#endif
