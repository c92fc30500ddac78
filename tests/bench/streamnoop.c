/*
 * streamnoop: the no-op stream app of the stream benchmark
 * (scripts/bench stream).
 *
 * usage: streamnoop [credit]
 *
 * Started by streammgr as a tenant's stream app: reads the environment
 * contract, connects to ZMQ_STREAM_ENDPOINT and acks every message as
 * soon as it has it, touching nothing else, so the benchmark measures the
 * platform's path (ingress, queue, delivery, acks) and not an app. Acks
 * go out batched, as libmysimbdp sends them (credit/4 per frame, and
 * whatever is queued before recv waits). credit defaults to the
 * library's (0: 256).
 *
 * Exits 0 once a stop is complete (MSB_STOPPED), 1 when streammgr refused
 * it or the socket failed.
 */
#include <stdio.h>
#include <stdlib.h>

#include <mysimbdp.h>

#include "benchutil.h"

int
main(int argc, char *argv[])
{
	struct msb_stream *st = NULL;
	struct msb_message msg;
	struct msb_env env;
	uint32_t credit = 0;
	char err[2048];
	int rc;

	if (argc > 2) {
		fprintf(stderr, "usage: streamnoop [credit]\n");
		return EX_USAGE_CODE;
	}
	if (argc == 2)
		credit = (uint32_t)bench_number(argv[1], "credit", 0, 65536);
	msb_init();
	if (msb_env_load(&env, err, sizeof(err)) != MSB_OK ||
	    msb_stream_open_env(&st, &env, credit, err, sizeof(err)) !=
	    MSB_OK) {
		fprintf(stderr, "streamnoop: %s\n", err);
		msb_cleanup();
		return 1;
	}
	while ((rc = msb_stream_recv(st, &msg, -1)) == MSB_OK)
		if ((rc = msb_stream_ack(st, msg.id)) != MSB_OK &&
		    rc != MSB_TEMPFAIL)
			break;
	if (rc != MSB_STOPPED)
		fprintf(stderr, "streamnoop: %s\n", msb_stream_error(st));
	msb_stream_close(st);
	msb_cleanup();
	return rc == MSB_STOPPED ? 0 : 1;
}
