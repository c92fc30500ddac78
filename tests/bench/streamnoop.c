/*
 * streamnoop: the no-op stream app of the stream benchmark
 * (scripts/bench stream).
 *
 * usage: streamnoop [credit [delay_us [hold]]]
 *
 * Started by streammgr as a tenant's stream app: reads the environment
 * contract, connects to ZMQ_STREAM_ENDPOINT and acks every message as
 * soon as it has it, touching nothing else, so the benchmark measures the
 * platform's path (ingress, queue, delivery, acks) and not an app. Acks
 * go out batched, as libmysimbdp sends them (credit/4 per frame, and
 * whatever is queued before recv waits). credit defaults to the
 * library's (0: 1024). delay_us makes it a slow app: it sleeps that long
 * before each ack (the monitor benchmark's backlog lasts). hold 1 never
 * acks the first message it gets (a stuck message: the backlog
 * benchmark's memory with the oldest unacked far behind the newest).
 *
 * Exits 0 once a stop is complete (MSB_STOPPED), 1 when streammgr refused
 * it or the socket failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mysimbdp.h>

#include "benchutil.h"

int
main(int argc, char *argv[])
{
	struct msb_stream *st = NULL;
	struct msb_message msg;
	struct msb_env env;
	uint32_t credit = 0;
	long delay_us = 0, hold = 0;
	char err[2048];
	int rc;

	if (argc > 4) {
		fprintf(stderr, "usage: streamnoop [credit [delay_us [hold]]]\n");
		return EX_USAGE;
	}
	if (argc >= 2)
		credit = (uint32_t)bench_number(argv[1], "credit", 0, 65536);
	if (argc >= 3)
		delay_us = bench_number(argv[2], "delay_us", 0, 10000000);
	if (argc == 4)
		hold = bench_number(argv[3], "hold", 0, 1);
	msb_init();
	if (msb_env_load(&env, err, sizeof(err)) != MSB_OK ||
	    msb_stream_open_env(&st, &env, credit, err, sizeof(err)) !=
	    MSB_OK) {
		fprintf(stderr, "streamnoop: %s\n", err);
		msb_cleanup();
		return 1;
	}
	while ((rc = msb_stream_recv(st, &msg, -1)) == MSB_OK) {
		if (hold-- > 0)
			continue;
		if (delay_us > 0)
			usleep((useconds_t)delay_us);
		if ((rc = msb_stream_ack(st, msg.id)) != MSB_OK &&
		    rc != MSB_TEMPFAIL)
			break;
		/* A slow app sends each ack at once, as one that commits. */
		if (delay_us > 0 && (rc = msb_stream_flush(st)) != MSB_OK &&
		    rc != MSB_TEMPFAIL)
			break;
	}
	if (rc != MSB_STOPPED)
		fprintf(stderr, "streamnoop: %s\n", msb_stream_error(st));
	msb_stream_close(st);
	msb_cleanup();
	return rc == MSB_STOPPED ? 0 : 1;
}
