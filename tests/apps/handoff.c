/*
 * handoff: a stream app for tests/integration/t_stream_late_settle.sh.
 * Two instances of it pass one message from the first to the second,
 * then the first settles it late, in this order, each step awaited:
 *
 *   A  the first instance to get a message (it made DIR/a) holds it and
 *      never acks it; after ack_timeout streammgr delivers it again,
 *      perhaps to A itself, which holds that delivery too;
 *   B  the other instance gets it, makes DIR/b-has and holds it;
 *   A  sees DIR/b-has, sends its NACK, REJECT or ACK (MODE) of the
 *      message it no longer holds, then makes DIR/a-settled;
 *   B  sees DIR/a-settled and acks the message.
 *
 * Each delivery is a line "ROLE ID" in DIR/deliveries, with " late" when
 * it came after A's settle (a delivery that should not have happened);
 * those are acked at once, so the stream drains either way. A writes its
 * instance id to DIR/a-id, so that the test can tell its counts.
 *
 * usage: handoff nack|reject|ack DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mysimbdp.h>

#define POLL_MS 20

struct handoff {
	struct msb_stream	*stream;
	const char		*dir;
	const char		*mode;		/* nack, reject or ack */
	char			 role;		/* 'A', 'B', or 0: none yet */
	uint64_t		 held;		/* the message, 0: none */
	bool			 done;		/* A settled / B acked */
};

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "handoff: %s\n", what);
	exit(1);
}

static char *
path(const struct handoff *h, const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", h->dir, name);
	return buf;
}

static bool
exists(const struct handoff *h, const char *name)
{
	return access(path(h, name), F_OK) == 0;
}

static void
mark(const struct handoff *h, const char *name)
{
	if (mkdir(path(h, name), 0755) < 0 && errno != EEXIST)
		die(strerror(errno));
}

static void
log_delivery(const struct handoff *h, uint64_t id, bool late)
{
	char line[64];
	int fd, n;

	n = snprintf(line, sizeof(line), "%c %" PRIu64 "%s\n", h->role, id,
	    late ? " late" : "");
	fd = open(path(h, "deliveries"), O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		die("cannot write DIR/deliveries");
	close(fd);
}

static void
ack(struct handoff *h, uint64_t id)
{
	if (msb_stream_ack(h->stream, id) != MSB_OK ||
	    msb_stream_flush(h->stream) != MSB_OK)
		die(msb_stream_error(h->stream));
}

/* DIR/a-id: A's MYSIMBDP_INSTANCE, whole once there (a rename). */
static void
write_id(const struct handoff *h)
{
	const char *id = getenv("MYSIMBDP_INSTANCE");
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s", path(h, "a-id.new"));
	if (id == NULL || (f = fopen(tmp, "w")) == NULL)
		die("cannot write DIR/a-id.new");
	if (fprintf(f, "%s\n", id) < 0 || fclose(f) != 0 ||
	    rename(tmp, path(h, "a-id")) < 0)
		die("cannot write DIR/a-id");
}

static void
delivered(struct handoff *h, uint64_t id)
{
	bool late = exists(h, "a-settled");

	if (h->role == 0) {
		h->role = mkdir(path(h, "a"), 0755) == 0 ? 'A' : 'B';
		if (h->role == 'A')
			write_id(h);
	}
	log_delivery(h, id, late);
	if (late && (h->role == 'A' || h->done)) {
		ack(h, id);
		return;
	}
	h->held = id;
	if (h->role == 'B')
		mark(h, "b-has");
}

/* The next step of the handoff, once what it waits for is there. */
static void
step(struct handoff *h)
{
	int rc;

	if (h->held == 0 || h->done)
		return;
	if (h->role == 'A' && exists(h, "b-has")) {
		if (strcmp(h->mode, "ack") == 0)
			rc = msb_stream_ack(h->stream, h->held);
		else if (strcmp(h->mode, "reject") == 0)
			rc = msb_stream_reject(h->stream, h->held, "late");
		else
			rc = msb_stream_nack(h->stream, h->held, "late");
		if (rc != MSB_OK || msb_stream_flush(h->stream) != MSB_OK)
			die(msb_stream_error(h->stream));
		mark(h, "a-settled");
		h->done = true;
	} else if (h->role == 'B' && exists(h, "a-settled")) {
		ack(h, h->held);
		h->done = true;
	}
}

int
main(int argc, char **argv)
{
	struct handoff h = { 0 };
	struct msb_env env;
	struct msb_message msg;
	char err[256];
	int rc;

	if (argc != 3 || (strcmp(argv[1], "nack") != 0 &&
	    strcmp(argv[1], "reject") != 0 && strcmp(argv[1], "ack") != 0)) {
		fprintf(stderr, "usage: handoff nack|reject|ack DIR\n");
		return 64;
	}
	h.mode = argv[1];
	h.dir = argv[2];
	if (msb_env_load(&env, err, sizeof(err)) != MSB_OK ||
	    msb_stream_open_env(&h.stream, &env, 1, err, sizeof(err)) !=
	    MSB_OK)
		die(err);
	while ((rc = msb_stream_recv(h.stream, &msg, POLL_MS)) != MSB_STOPPED) {
		if (rc == MSB_ERROR)
			die(msb_stream_error(h.stream));
		if (rc == MSB_OK)
			delivered(&h, msg.id);
		step(&h);
	}
	msb_stream_close(h.stream);
	return 0;
}
