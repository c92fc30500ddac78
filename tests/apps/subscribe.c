/*
 * subscribe: prints what a PUB socket publishes, for the tests: one line
 * per message, "<topic>\t<body>", until COUNT messages whose topic starts
 * with PREFIX arrived or TIMEOUT_MS passed (exit 1 then).
 *
 * usage: subscribe ENDPOINT PREFIX COUNT TIMEOUT_MS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

int
main(int argc, char *argv[])
{
	void *ctx, *sub;
	int want, timeout, got = 0, zero = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: subscribe ENDPOINT PREFIX COUNT "
		    "TIMEOUT_MS\n");
		return 64;
	}
	want = atoi(argv[3]);
	timeout = atoi(argv[4]);
	ctx = zmq_ctx_new();
	sub = zmq_socket(ctx, ZMQ_SUB);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, argv[2], strlen(argv[2]));
	zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(sub, argv[1]) < 0) {
		fprintf(stderr, "subscribe: connect %s: %s\n", argv[1],
		    zmq_strerror(zmq_errno()));
		return 1;
	}
	while (got < want) {
		zmq_msg_t topic, body;

		zmq_msg_init(&topic);
		zmq_msg_init(&body);
		if (zmq_msg_recv(&topic, sub, 0) < 0 ||
		    !zmq_msg_more(&topic) || zmq_msg_recv(&body, sub, 0) < 0) {
			fprintf(stderr, "subscribe: %d of %d messages: %s\n",
			    got, want, zmq_strerror(zmq_errno()));
			return 1;
		}
		printf("%.*s\t%.*s\n", (int)zmq_msg_size(&topic),
		    (char *)zmq_msg_data(&topic), (int)zmq_msg_size(&body),
		    (char *)zmq_msg_data(&body));
		fflush(stdout);
		zmq_msg_close(&topic);
		zmq_msg_close(&body);
		got++;
	}
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return 0;
}
