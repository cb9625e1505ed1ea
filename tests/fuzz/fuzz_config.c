/*
 * libFuzzer target: config_load() on any bytes, written as the one *.json
 * file of a configuration folder. Either it loads (and frees cleanly) or it
 * refuses with a message naming the file.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], file[96];

static void cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/crier-fuzz-config-%ld", (long)getpid());
		if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
			abort();
		snprintf(file, sizeof(file), "%s/fuzz.json", dir);
		atexit(cleanup);
	}
	FILE *f = fopen(file, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	char err[1024];
	memset(err, 'x', sizeof(err));
	config *c = config_load(dir, err, sizeof(err));
	if (c) {
		/* A configuration that loads is whole. */
		if (!c->state_dir || !c->listen_host || !c->group_by || !c->ur_services)
			abort();
		config_free(c);
	} else {
		/* A refusal is a terminated message that says where. */
		if (!memchr(err, '\0', sizeof(err)) || !strstr(err, "fuzz.json"))
			abort();
	}
	return 0;
}
