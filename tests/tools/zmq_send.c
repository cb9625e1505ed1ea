/*
 * zmq_send ENDPOINT [TIMEOUT_MS] < message
 *
 * Sends standard input as one message over a ZeroMQ REQ socket and prints
 * the answer: what a producer using crier's zmq.ingest endpoint does. Used
 * by tests/integration/test_zmq_ingest.py (Debian's Python has no pyzmq).
 * Exit 0 with an answer, 2 on usage or I/O errors, 3 on timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: zmq_send ENDPOINT [TIMEOUT_MS] < message\n");
		return 2;
	}
	long timeout = argc == 3 ? strtol(argv[2], NULL, 10) : 5000;
	size_t cap = 1 << 16, len = 0;
	char *msg = malloc(cap);
	if (!msg)
		return 2;
	size_t n;
	while ((n = fread(msg + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap) {
			char *grown = realloc(msg, cap * 2);
			if (!grown) {
				free(msg);
				return 2;
			}
			msg = grown;
			cap *= 2;
		}
	}
	int rc = 2;
	void *ctx = zmq_ctx_new();
	void *s = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
	int linger = 0;
	if (!s) {
		fprintf(stderr, "zmq_send: cannot create a socket\n");
		goto out;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(s, argv[1]) < 0 || zmq_send(s, msg, len, 0) < 0) {
		fprintf(stderr, "zmq_send: %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
		goto out;
	}
	zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN};
	if (zmq_poll(&item, 1, timeout) <= 0) {
		fprintf(stderr, "zmq_send: no answer within %ld ms\n", timeout);
		rc = 3;
		goto out;
	}
	char reply[4096];
	int got = zmq_recv(s, reply, sizeof(reply) - 1, 0);
	if (got < 0) {
		fprintf(stderr, "zmq_send: %s\n", zmq_strerror(zmq_errno()));
		goto out;
	}
	reply[got < (int)sizeof(reply) ? got : (int)sizeof(reply) - 1] = '\0';
	printf("%s\n", reply);
	rc = 0;
out:
	if (s)
		zmq_close(s);
	if (ctx)
		zmq_ctx_term(ctx);
	free(msg);
	return rc;
}
