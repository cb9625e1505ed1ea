/* The plugin loader refuses every kind of broken plugin, naming the file. */
#include "check.h"
#include "plugin_loader.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

static char *dir(void)
{
	static char buf[512];
	const char *b = getenv("CRIER_BUILD");
	snprintf(buf, sizeof(buf), "%s/tests/plugins", b ? b : "build");
	return buf;
}

/* Load name and expect a refusal whose message contains both the file name and want. */
static void refused(const char *name, const char *want)
{
	char err[1024] = "";
	char *const dirs[] = {dir(), NULL};
	plugin_lib *lib = plugin_loader_open(dirs, name, err, sizeof(err));
	CHECK(lib == NULL);
	plugin_loader_close(lib);
	char file[64];
	snprintf(file, sizeof(file), "%s.so", name);
	CHECK(strstr(err, file) != NULL);
	if (!strstr(err, want))
		fprintf(stderr, "  %s: expected \"%s\" in: %s\n", name, want, err);
	CHECK(strstr(err, want) != NULL);
}

/*
 * Several folders: searched in order, and the first that has the file wins
 * even when that copy is broken (a later folder never silently stands in).
 */
static void search_order(void)
{
	char tmp[] = "/tmp/crier-test-loader-XXXXXX", link[600], target[600], err[1024] = "";
	char *const dirs[] = {tmp, dir(), NULL};
	char *const absent[] = {"/nonexistent/crier-a", "/nonexistent/crier-b", NULL};
	plugin_lib *lib;

	CHECK(mkdtemp(tmp) != NULL);
	lib = plugin_loader_open(dirs, "good", err, sizeof(err));
	CHECK(lib != NULL);
	if (lib)
		CHECK(strstr(lib->path, dir()) == lib->path);
	plugin_loader_close(lib);

	snprintf(link, sizeof(link), "%s/good.so", tmp);
	CHECK(realpath(dir(), target) != NULL);
	strcat(target, "/nulldeliver.so");
	CHECK(symlink(target, link) == 0);
	lib = plugin_loader_open(dirs, "good", err, sizeof(err));
	CHECK(lib == NULL);
	CHECK(strstr(err, link) != NULL && strstr(err, "mandatory function deliver is NULL") != NULL);
	plugin_loader_close(lib);
	unlink(link);
	rmdir(tmp);

	lib = plugin_loader_open(absent, "good", err, sizeof(err));
	CHECK(lib == NULL);
	CHECK_STR(err, "plugin \"good\": good.so not found in daemon.plugin_dir (/nonexistent/crier-a, "
	               "/nonexistent/crier-b); build it with make");
}

int main(void)
{
	char err[1024] = "";
	char *const dirs[] = {dir(), NULL};
	plugin_lib *lib = plugin_loader_open(dirs, "good", err, sizeof(err));
	if (!lib)
		fprintf(stderr, "  good: %s\n", err);
	CHECK(lib != NULL);
	if (lib) {
		CHECK(lib->api->abi_version == CRIER_ABI_VERSION);
		CHECK_STR(lib->api->name, "good");
	}
	plugin_loader_close(lib);
	search_order();

	refused("missing", "not found");
	refused("nosym", "no crier_plugin_negotiate symbol");
	refused("none", "speaks none of the ABI versions");
	refused("abi", "chose ABI version 99");
	refused("nulldeliver", "mandatory function deliver is NULL");
	refused("undef", "crier_test_symbol_that_does_not_exist");
	refused("misnamed", "calls itself \"good\"");
	return check_summary("test_loader");
}
