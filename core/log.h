/* logfmt logging on stderr: ts=... level=... msg="..." key=value ...
 * Thread-safe: each line is written with a single write(2). */
#ifndef CRIER_LOG_H
#define CRIER_LOG_H

#include <stdarg.h>

typedef enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level;

/* Lines below this level are dropped. Default LOG_INFO; CRIER_LOG_LEVEL=debug lowers it. */
void log_set_level(log_level level);

/*
 * Write one line. msg is the human sentence (quoted as needed); kvfmt is a
 * printf format producing " key=value" pairs already in logfmt form, or NULL.
 * Use log_quote() for values that may hold spaces or quotes. Never pass a
 * secret: nothing here can tell one from an ordinary string.
 */
void log_write(log_level level, const char *msg, const char *kvfmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

/* Quote s for logfmt into buf (always NUL-terminated); returns buf. */
const char *log_quote(char *buf, unsigned long size, const char *s);

/* log_quote into one of four per-thread buffers (values up to ~1 KiB):
 * for use as an argument of log_write, at most four per line. */
const char *log_q(const char *s);

#endif
