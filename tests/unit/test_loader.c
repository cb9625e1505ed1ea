/* The plugin loader refuses every kind of broken plugin, naming the file. */
#include "check.h"
#include "plugin_loader.h"

#include <stdlib.h>

static const char *dir(void)
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
	plugin_lib *lib = plugin_loader_open(dir(), name, err, sizeof(err));
	CHECK(lib == NULL);
	plugin_loader_close(lib);
	char file[64];
	snprintf(file, sizeof(file), "%s.so", name);
	CHECK(strstr(err, file) != NULL);
	if (!strstr(err, want))
		fprintf(stderr, "  %s: expected \"%s\" in: %s\n", name, want, err);
	CHECK(strstr(err, want) != NULL);
}

int main(void)
{
	char err[1024] = "";
	plugin_lib *lib = plugin_loader_open(dir(), "good", err, sizeof(err));
	if (!lib)
		fprintf(stderr, "  good: %s\n", err);
	CHECK(lib != NULL);
	if (lib) {
		CHECK(lib->api->abi_version == CRIER_ABI_VERSION);
		CHECK_STR(lib->api->name, "good");
	}
	plugin_loader_close(lib);

	refused("missing", "not found");
	refused("nosym", "no crier_plugin_negotiate symbol");
	refused("none", "speaks none of the ABI versions");
	refused("abi", "chose ABI version 99");
	refused("nulldeliver", "mandatory function deliver is NULL");
	refused("undef", "crier_test_symbol_that_does_not_exist");
	refused("misnamed", "calls itself \"good\"");
	return check_summary("test_loader");
}
