/*
 * One test plugin, built several ways (-DVARIANT_x) into
 * $(BUILD)/tests/plugins/<name>.so, to check that the loader refuses each
 * kind of broken plugin with a message naming the file.
 */
#include "crier/plugin.h"

#include <stddef.h>

static int v_init(const crier_host_api *api, crier_host *host, const char *config_json, crier_instance **out, char *err,
                  size_t errlen)
{
	(void)api;
	(void)host;
	(void)config_json;
	(void)err;
	(void)errlen;
	static int dummy;
	*out = (crier_instance *)&dummy;
	return 0;
}

__attribute__((unused)) static crier_result v_deliver(crier_instance *inst, crier_delivery *d)
{
	(void)inst;
	(void)d;
	return CRIER_OK;
}

static void v_destroy(crier_instance *inst)
{
	(void)inst;
}

#if defined(VARIANT_UNDEF)
/* Resolved only at load time: RTLD_NOW must refuse it. */
extern int crier_test_symbol_that_does_not_exist(void);
#endif

/* Unused in the nosym and none variants: that is what they test. */
__attribute__((unused)) static const crier_plugin table = {
#if defined(VARIANT_ABI)
    .abi_version = 99,
#else
    .abi_version = CRIER_ABI_VERSION,
#endif
    .name = PLUGIN_NAME,
    .description = "test plugin",
    .init = v_init,
#if defined(VARIANT_NULL)
    .deliver = NULL,
#else
    .deliver = v_deliver,
#endif
    .destroy = v_destroy,
};

#if !defined(VARIANT_NOSYM)
CRIER_PLUGIN_EXPORT const crier_plugin *crier_plugin_negotiate(unsigned host_min, unsigned host_max)
{
#if defined(VARIANT_NONE)
	(void)host_min;
	(void)host_max;
	return NULL;
#else
#if defined(VARIANT_UNDEF)
	if (host_min > 1000)
		crier_test_symbol_that_does_not_exist();
#endif
	if (host_min > CRIER_ABI_VERSION || host_max < CRIER_ABI_VERSION)
		return NULL;
	return &table;
#endif
}
#endif
