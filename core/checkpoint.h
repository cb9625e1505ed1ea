/*
 * WAL checkpoints off the core thread. A checkpoint copies the log back into
 * the database file and fsyncs it: done by the writer itself (SQLite's
 * automatic checkpoint), that stalls every commit behind it. Here a thread
 * with its own connection does the copying, so commits go on meanwhile.
 */
#ifndef CRIER_CHECKPOINT_H
#define CRIER_CHECKPOINT_H

#include <stddef.h>

struct sqlite3;
typedef struct checkpoint checkpoint;

/*
 * Take over the checkpoints of db (the writer's connection, borrowed until
 * checkpoint_stop) for the database at path: one is started each time the
 * log has grown by pages pages. Turns db's automatic checkpoints off.
 * Returns NULL with err set (db is left as it was).
 */
checkpoint *checkpoint_start(struct sqlite3 *db, const char *path, int pages, char *err, size_t errlen);

/* pages when it is 0 or less, and store.checkpoint_pages when the
 * configuration does not say. */
#define CHECKPOINT_PAGES_DEFAULT 1000

/* Finish the checkpoint in progress, if any, stop the thread, free. Call
 * before closing db. NULL is fine. */
void checkpoint_stop(checkpoint *k);

#endif
