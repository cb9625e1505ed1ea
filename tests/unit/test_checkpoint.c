/*
 * Unit test for core/checkpoint.c: with checkpoints on their own thread, a
 * writer that never stops still sees its log copied back and started over,
 * so the -wal file stays small, and nothing written is lost.
 */
#include "check.h"
#include "checkpoint.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_log_stays_short(void)
{
	char dir[] = "/tmp/test_checkpoint.XXXXXX", path[256], wal[300], err[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL, *count = NULL;
	static char blob[3000];
	long biggest = 0;
	enum { COMMITS = 3000, PAGES = 64 };

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/t.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	memset(blob, 'x', sizeof(blob));
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE t(b BLOB)", NULL, NULL,
	                   NULL) == SQLITE_OK);
	checkpoint *k = checkpoint_start(db, path, PAGES, err, sizeof(err));
	CHECK(k != NULL);
	CHECK(sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?1)", -1, &ins, NULL) == SQLITE_OK);
	/* Each commit adds a page or so to the log: 3,000 pages (12 MB) in all
	 * if nothing were ever copied back. A pause of 100 us stands for the
	 * rest of a writer's work between commits. */
	int failed = 0;
	for (int i = 0; i < COMMITS; i++) {
		sqlite3_bind_blob(ins, 1, blob, sizeof(blob), SQLITE_STATIC);
		failed += sqlite3_step(ins) != SQLITE_DONE;
		sqlite3_reset(ins);
		usleep(100);
		long n = file_size(wal);
		if (n > biggest)
			biggest = n;
	}
	CHECK(failed == 0);
	/* The log starts over once it passes 2 x PAGES; the writer may run ahead
	 * of the thread for a while, but not for the whole run. */
	fprintf(stderr, "test_checkpoint: the -wal file grew to %ld bytes at most (%d commits, %d bytes each)\n",
	        biggest, (int)COMMITS, (int)sizeof(blob));
	CHECK(biggest > 0);
	CHECK(biggest < (long)COMMITS * 4120 / 4);
	checkpoint_stop(k);
	CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &count, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(count) == SQLITE_ROW && sqlite3_column_int(count, 0) == COMMITS);
	sqlite3_finalize(count);
	sqlite3_finalize(ins);
	CHECK(sqlite3_close(db) == SQLITE_OK);
	/* A second look, through a fresh connection: all there. */
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT count(*), sum(length(b)) FROM t", -1, &count, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(count) == SQLITE_ROW && sqlite3_column_int(count, 0) == COMMITS &&
	      sqlite3_column_int64(count, 1) == (sqlite3_int64)COMMITS * (sqlite3_int64)sizeof(blob));
	sqlite3_finalize(count);
	sqlite3_close(db);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", path);
	unlink(wal);
	unlink(path);
	rmdir(dir);
}

static void test_bad_path(void)
{
	sqlite3 *db = NULL;
	char err[256] = "";

	CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
	CHECK(checkpoint_start(db, "/nonexistent-dir/x.db", 100, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "cannot open /nonexistent-dir/x.db for checkpoints") != NULL);
	checkpoint_stop(NULL);
	sqlite3_close(db);
}

int main(void)
{
	test_log_stays_short();
	test_bad_path();
	return check_summary("test_checkpoint");
}
