/*
 * WAL checkpoints on a thread of their own (checkpoint.h).
 *
 * The writer's WAL hook says, after each commit, how long the log is; when
 * it has grown by `pages` since the last checkpoint, this thread copies it
 * back with a PASSIVE checkpoint, which never blocks the writer. Under a
 * steady stream of commits, though, some always land during the copy, so
 * the log is never wholly copied when the next one begins and SQLite never
 * starts it over: it would grow without end. Once it is twice `pages` long,
 * a RESTART checkpoint holds the writer back for the little left to copy,
 * and the next commit writes from the start of the log again.
 */
#include "checkpoint.h"

#include "log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct checkpoint {
	sqlite3 *writer; /* borrowed: its WAL hook is ours */
	sqlite3 *db;     /* ours, for the copying */
	int pages;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu: */
	int wanted, stop;
	int last_log; /* the log's length after the last checkpoint */
};

/* On the writer's thread, after each commit: n frames in the log. */
static int checkpoint_hook(void *arg, sqlite3 *db, const char *name, int n)
{
	checkpoint *k = arg;

	(void)db;
	(void)name;
	if (n < k->pages)
		return SQLITE_OK;
	pthread_mutex_lock(&k->mu);
	/* Grown by `pages` since the last checkpoint, or started over since. */
	/* Also while one is under way (last_log is still the one before): the
	 * next starts as soon as it ends. That keeps the log short, and the
	 * RESTART's stall with it: measured, it beats waiting for `pages` more
	 * (10,500-10,900 against 11,200 requests/s under bench.py). */
	if (!k->wanted && (n >= k->last_log + k->pages || n < k->last_log)) {
		k->wanted = 1;
		pthread_cond_signal(&k->cv);
	}
	pthread_mutex_unlock(&k->mu);
	return SQLITE_OK;
}

/*
 * Both connections wait for each other by polling every 100 µs, for at most
 * 5 s: SQLite's own handler sleeps 1, 2, 5, 10… ms, and a RESTART that
 * sleeps holds the writer back all that while.
 */
static int checkpoint_busy(void *arg, int tries)
{
	static const struct timespec tick = {0, 100000};

	(void)arg;
	if (tries >= 50000)
		return 0;
	nanosleep(&tick, NULL);
	return 1;
}

static void *checkpoint_main(void *arg)
{
	checkpoint *k = arg;

	pthread_setname_np(pthread_self(), "crier-ckpt");
	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->wanted && !k->stop)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stop)
			break;
		k->wanted = 0;
		pthread_mutex_unlock(&k->mu);

		int log = 0, copied = 0;
		int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
		if (rc == SQLITE_OK && log >= 2 * k->pages) {
			/* What the writer added meanwhile, copied without holding it
			 * back, leaves the RESTART little to do while it does. */
			rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
			if (rc == SQLITE_OK)
				rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_RESTART, &log, &copied);
		}
		/* BUSY: the writer held on longer than the busy timeout; the
		 * next commit asks again. */
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_warn("checkpoint failed; the write-ahead log grows until one succeeds", " error=%s",
			         log_q(sqlite3_errmsg(k->db)));

		pthread_mutex_lock(&k->mu);
		k->last_log = log;
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

checkpoint *checkpoint_start(sqlite3 *db, const char *path, int pages, char *err, size_t errlen)
{
	checkpoint *k = calloc(1, sizeof(*k));

	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->writer = db;
	k->pages = pages > 0 ? pages : CHECKPOINT_PAGES_DEFAULT;
	if (pthread_mutex_init(&k->mu, NULL) != 0 || pthread_cond_init(&k->cv, NULL) != 0) {
		snprintf(err, errlen, "cannot create the checkpointer's lock");
		free(k);
		return NULL;
	}
	if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    /* A RESTART waits for the last readers while it holds the writer's
	     * lock: it must notice them gone at once, not after SQLite's sleeps. */
	    sqlite3_busy_handler(k->db, checkpoint_busy, k) != SQLITE_OK ||
	    /* A connection learns the journal mode on its first read; until then
	     * a checkpoint thinks there is no log. */
	    sqlite3_exec(k->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s for checkpoints: %s", path,
		         k->db ? sqlite3_errmsg(k->db) : "out of memory");
		goto fail;
	}
	/* The copying grows the database file. Grown a page at a time, every
	 * checkpoint's fsync must also commit the file's new size to the
	 * journal (milliseconds, with the writer held back during a RESTART);
	 * grown in chunks, almost none must. */
	int chunk = 8 << 20;
	sqlite3_file_control(k->db, "main", SQLITE_FCNTL_CHUNK_SIZE, &chunk);
	if (pthread_create(&k->thread, NULL, checkpoint_main, k) != 0) {
		snprintf(err, errlen, "cannot start the checkpointer thread");
		goto fail;
	}
	/* From here on the writer never checkpoints by itself. */
	sqlite3_wal_hook(db, checkpoint_hook, k);
	sqlite3_busy_handler(db, checkpoint_busy, k);
	return k;
fail:
	sqlite3_close(k->db);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k);
	return NULL;
}

void checkpoint_stop(checkpoint *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	sqlite3_wal_hook(k->writer, NULL, NULL);
	sqlite3_busy_timeout(k->writer, 5000);
	sqlite3_close(k->db);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k);
}
