/*
 * Unit tests for monitor/httpget.c, the monitor's HTTP server of one
 * document: its answers to good and bad requests over real TCP sockets
 * on loopback, its cap on connections, its deadline for a whole
 * request, and the memory its answers hold.
 *
 * The event loop runs in turns of at most TURN_MS while a test waits for
 * what it expects; every wait ends at a deadline only a hang crosses
 * (5 s x MYSIMBDP_TEST_TIME_FACTOR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "httpget.h"
#include "testwait.h"

#define TURN_MS		10
#define CONNS_MAX	4
#define HEAD_MAX	512
#define DEADLINE_MS	300
#define DOC		"doc 1\n"
#define SLOW_READERS	12	/* half of them for each of two renders */
#define BIG_DOC		(256 * 1024)

struct env {
	struct event_base	*e_base;
	struct httpget		*e_h;
	int			 e_renders;
	int			 e_render_ms;	/* each render takes this */
	size_t			 e_doc_bytes;	/* at least, with lines */
};

/* Document n: "doc n\n", then lines naming n and their number until it
 * has at least bytes. */
static void
doc_text(struct evbuffer *out, int n, size_t bytes)
{
	evbuffer_add_printf(out, "doc %d\n", n);
	for (size_t k = 0; evbuffer_get_length(out) < bytes; k++)
		evbuffer_add_printf(out, "doc %d line %zu\n", n, k);
}

/* "doc N\n", N the render's number: DOC the first time (with lines
 * after it when e_doc_bytes asks for them). */
static void
render(void *arg, struct evbuffer *out)
{
	struct env *e = arg;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) /
	    1000000 < e->e_render_ms);
	e->e_renders++;
	doc_text(out, e->e_renders, e->e_doc_bytes);
}

/* A server of DOC of conns_max connections, each with deadline_ms. */
static int
setup_conf(void **state, int deadline_ms, size_t conns_max)
{
	struct env *e = calloc(1, sizeof(*e));
	const struct httpget_conf conf = {
		.hc_path = "/metrics",
		.hc_type = "text/plain",
		.hc_conns_max = conns_max,
		.hc_head_max = HEAD_MAX,
		.hc_deadline_ms = deadline_ms,
		.hc_render = render,
		.hc_arg = e,
	};
	char err[256];

	assert_non_null(e);
	assert_non_null(e->e_base = event_base_new());
	e->e_h = httpget_listen(e->e_base, "127.0.0.1", 0, &conf, err,
	    sizeof(err));
	if (e->e_h == NULL)
		fail_msg("httpget_listen: %s", err);
	assert_true(httpget_port(e->e_h) > 0);
	*state = e;
	return 0;
}

static int
setup(void **state)
{
	return setup_conf(state, DEADLINE_MS, CONNS_MAX);
}

/* Deadlines no test reaches: what ends a connection is the test's. */
static int
setup_no_deadline(void **state)
{
	return setup_conf(state, 3600 * 1000, CONNS_MAX);
}

/* No deadline, and room for SLOW_READERS connections. */
static int
setup_many(void **state)
{
	return setup_conf(state, 3600 * 1000, SLOW_READERS);
}

static int
teardown(void **state)
{
	struct env *e = *state;

	httpget_free(e->e_h);
	event_base_free(e->e_base);
	free(e);
	return 0;
}

/* One turn of the loop, TURN_MS at most. */
static void
turn(struct env *e)
{
	loop_turn(e->e_base, TURN_MS);
}

/* A non-blocking TCP connection to the server (accepted or not yet). */
static int
connect_to(struct env *e)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)httpget_port(e->e_h)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/* Reads fd until the server closes it; returns what came (NUL-ended). */
static char *
read_all(struct env *e, int fd)
{
	static char buf[8192];
	int64_t until = deadline();
	size_t have = 0;
	ssize_t r;

	for (;;) {
		check_deadline(until);
		turn(e);
		r = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r == 0 || (r == -1 && errno == ECONNRESET))
			break;
		if (r > 0)
			have += (size_t)r;
		else
			assert_int_equal(errno, EAGAIN);
	}
	buf[have] = '\0';
	close(fd);
	return buf;
}

/* The whole answer to request. */
static char *
ask(struct env *e, const char *request)
{
	int fd = connect_to(e);

	assert_int_equal(write(fd, request, strlen(request)),
	    (ssize_t)strlen(request));
	return read_all(e, fd);
}

/* GET of the path: 200, the document, its type and length. */
static void
test_get(void **state)
{
	struct env *e = *state;
	char *a = ask(e, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Accept: */*\r\n\r\n");

	assert_non_null(strstr(a, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(a, "\r\nContent-Type: text/plain\r\n"));
	assert_non_null(strstr(a, "\r\nContent-Length: 6\r\n"));
	assert_non_null(strstr(a, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(a, "\r\nDate: "));
	assert_string_equal(strstr(a, "\r\n\r\n") + 4, DOC);
	assert_int_equal(e->e_renders, 1);
}

/* HEAD: the same head, no body. */
static void
test_head(void **state)
{
	struct env *e = *state;
	char *a = ask(e, "HEAD /metrics HTTP/1.0\r\n\r\n");

	assert_non_null(strstr(a, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(a, "\r\nContent-Length: 6\r\n"));
	assert_string_equal(strstr(a, "\r\n\r\n") + 4, "");
}

/* Other paths, methods and lines: refused, each with its code. */
static void
test_refusals(void **state)
{
	struct env *e = *state;
	static const struct {
		const char *request, *status;
	} cases[] = {
		{ "GET /other HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n" },
		{ "GET /metrics?x=1 HTTP/1.1\r\n\r\n",
		    "HTTP/1.1 404 Not Found\r\n" },
		{ "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		    "HTTP/1.1 405 Method Not Allowed\r\n" },
		{ "GET /metrics\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n" },
		{ "GET /metrics SMTP/1.0\r\n\r\n",
		    "HTTP/1.1 400 Bad Request\r\n" },
		{ "GET  /metrics HTTP/1.1 x\r\n\r\n",
		    "HTTP/1.1 400 Bad Request\r\n" },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char *a = ask(e, cases[k].request);

		if (strncmp(a, cases[k].status, strlen(cases[k].status)) != 0)
			fail_msg("%s: got %.40s", cases[k].request, a);
	}
	assert_non_null(strstr(ask(e, "PUT /metrics HTTP/1.1\r\n\r\n"),
	    "\r\nAllow: GET, HEAD\r\n"));
	/* A NUL in the line is not cut there. */
	{
		static const char nul[] = "GET /metrics HTTP/1.1\0zz\r\n\r\n";
		int fd = connect_to(e);

		assert_int_equal(write(fd, nul, sizeof(nul) - 1),
		    (ssize_t)sizeof(nul) - 1);
		assert_non_null(strstr(read_all(e, fd),
		    "HTTP/1.1 400 Bad Request\r\n"));
	}
	/* HEAD's answer has no body, whatever its status. */
	assert_string_equal(strstr(ask(e, "HEAD /other HTTP/1.1\r\n\r\n"),
	    "\r\n\r\n"), "\r\n\r\n");
	assert_int_equal(e->e_renders, 0);
}

/* Leniencies RFC 9112 asks of a server: bare LF ends lines, empty lines
 * before the request line are skipped, a target may be a whole URL. */
static void
test_lenient(void **state)
{
	struct env *e = *state;
	static const char *const requests[] = {
		"GET /metrics HTTP/1.1\n\n",
		"\r\n\r\nGET /metrics HTTP/1.0\r\nHost: x\r\n\r\n",
		"GET http://127.0.0.1:9470/metrics HTTP/1.1\r\n\r\n",
	};

	for (size_t k = 0; k < sizeof(requests) / sizeof(requests[0]); k++)
		assert_non_null(strstr(ask(e, requests[k]),
		    "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(e->e_renders, 3);
}

/* A head over HEAD_MAX, ended or not: 431, not buffered further. */
static void
test_head_too_large(void **state)
{
	struct env *e = *state;
	char req[HEAD_MAX + 64];
	char *a;

	snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nX: %0*d\r\n\r\n",
	    HEAD_MAX, 0);
	a = ask(e, req);
	assert_non_null(strstr(a, "HTTP/1.1 431 "));
	req[HEAD_MAX + 2] = '\0';	/* no end of the head at all */
	a = ask(e, req);
	assert_non_null(strstr(a, "HTTP/1.1 431 "));
	assert_int_equal(e->e_renders, 0);
}

/*
 * A client that sends a byte of its head every 50 ms is cut at the
 * deadline all the same: the deadline is the whole request's, not one
 * between two reads.
 */
static void
test_trickle_cut(void **state)
{
	struct env *e = *state;
	int64_t until = deadline(), started = now_ms(), next = 0;
	int fd = connect_to(e);
	char c;

	for (;;) {
		ssize_t r;

		check_deadline(until);
		if (now_ms() >= next) {
			next = now_ms() + 50;
			if (send(fd, "X", 1, MSG_NOSIGNAL) == -1) {
				assert_true(errno == EPIPE ||
				    errno == ECONNRESET);
				break;
			}
		}
		turn(e);
		r = read(fd, &c, 1);
		if (r == 0 || (r == -1 && errno == ECONNRESET))
			break;
		assert_int_equal(r, -1);
		assert_int_equal(errno, EAGAIN);
	}
	/* Not cut for another reason, at once (the timer's and this
	 * clock's milliseconds may differ by one). */
	assert_true(now_ms() - started > DEADLINE_MS / 2);
	close(fd);
	assert_int_equal(httpget_conns(e->e_h), 0);
}

/* Whether the server has closed fd (read gives its end), not waiting. */
static bool
closed_by_server(int fd)
{
	char c;
	ssize_t r = read(fd, &c, 1);

	if (r == -1 && errno == EAGAIN)
		return false;
	assert_true(r == 0 || (r == -1 && errno == ECONNRESET));
	return true;
}

/*
 * CONNS_MAX silent clients, then a scrape: it takes the place of the
 * oldest silent one, which is closed, and is answered; the other silent
 * ones stay open (no deadline is reached here: without the eviction the
 * scrape would wait an hour). Clients that have their answers and do
 * not close hold their places: the next connection waits in the
 * backlog until one of them closes.
 */
static void
test_conns_capped(void **state)
{
	struct env *e = *state;
	int64_t until = deadline();
	int silent[CONNS_MAX], fd, lingering[CONNS_MAX];
	const char *get = "GET /metrics HTTP/1.1\r\n\r\n";

	for (int k = 0; k < CONNS_MAX; k++) {
		silent[k] = connect_to(e);
		while (httpget_conns(e->e_h) < (size_t)k + 1) {
			check_deadline(until);
			turn(e);
		}
	}
	assert_non_null(strstr(ask(e, get), "HTTP/1.1 200 OK\r\n"));
	assert_true(closed_by_server(silent[0]));
	for (int k = 1; k < CONNS_MAX; k++)
		assert_false(closed_by_server(silent[k]));
	for (int k = 0; k < CONNS_MAX; k++)
		close(silent[k]);
	while (httpget_conns(e->e_h) > 0) {
		check_deadline(until);
		turn(e);
	}

	/* Answered, never closed: no place to take. */
	for (int k = 0; k < CONNS_MAX; k++) {
		char buf[512];
		ssize_t r;

		lingering[k] = connect_to(e);
		assert_int_equal(write(lingering[k], get, strlen(get)),
		    (ssize_t)strlen(get));
		while ((r = read(lingering[k], buf, sizeof(buf))) <= 0) {
			assert_int_equal(errno, EAGAIN);
			check_deadline(until);
			turn(e);
		}
	}
	fd = connect_to(e);
	assert_int_equal(write(fd, get, strlen(get)), (ssize_t)strlen(get));
	for (int k = 0; k < 5; k++)
		turn(e);
	assert_int_equal(httpget_conns(e->e_h), CONNS_MAX);
	assert_int_equal(e->e_renders, 1 + CONNS_MAX);
	close(lingering[0]);
	assert_non_null(strstr(read_all(e, fd), "HTTP/1.1 200 OK\r\n"));
	for (int k = 1; k < CONNS_MAX; k++)
		close(lingering[k]);
}

/*
 * Requests that come while the next render must wait (a render of 100
 * ms: the next not before 900 ms later) are answered together by it,
 * each with the document rendered after it came; a HEAD among them
 * with its head alone. Before, each request had a render of its own,
 * at once: a client asking without pause kept the loop rendering.
 */
static void
test_renders_shared(void **state)
{
	struct env *e = *state;
	const char *get = "GET /metrics HTTP/1.1\r\n\r\n";
	const char *head = "HEAD /metrics HTTP/1.1\r\n\r\n";
	int fd[CONNS_MAX];
	char *a;

	e->e_render_ms = 100;
	a = ask(e, get);
	assert_string_equal(strstr(a, "\r\n\r\n") + 4, "doc 1\n");
	for (int k = 0; k < CONNS_MAX; k++) {
		const char *req = k == 0 ? head : get;

		fd[k] = connect_to(e);
		assert_int_equal(write(fd[k], req, strlen(req)),
		    (ssize_t)strlen(req));
	}
	for (int k = 0; k < CONNS_MAX; k++) {
		a = read_all(e, fd[k]);
		assert_non_null(strstr(a, "HTTP/1.1 200 OK\r\n"));
		assert_non_null(strstr(a, "\r\nContent-Length: 6\r\n"));
		assert_string_equal(strstr(a, "\r\n\r\n") + 4,
		    k == 0 ? "" : "doc 2\n");
	}
	assert_int_equal(e->e_renders, 2);
}

/*
 * Bytes the process's heap holds now: malloc's count, or ASan's, which
 * replaces malloc (and leaves glibc's mallinfo2 with nothing to count).
 */
#ifdef __SANITIZE_ADDRESS__
size_t __sanitizer_get_current_allocated_bytes(void);

static size_t
heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;	/* small blocks, and mmap()ed */
}
#endif

/* What the heap has gained since it held base bytes. */
static size_t
heap_gained(size_t base)
{
	size_t now = heap_in_use();

	return now > base ? now - base : 0;
}

/* A client of test_doc_shared: its answer as it comes. */
struct reader {
	int	 r_fd;
	int	 r_doc;		/* the render it must get */
	char	*r_buf;
	size_t	 r_have;
	bool	 r_done;
};

/* Reads what r's socket has now; true once the server has closed it. */
static bool
read_some(struct reader *r, size_t max)
{
	while (r->r_have < max) {
		ssize_t n = read(r->r_fd, r->r_buf + r->r_have,
		    max - r->r_have);

		if (n == 0)
			return true;
		if (n == -1) {
			assert_int_equal(errno, EAGAIN);
			return false;
		}
		r->r_have += (size_t)n;
	}
	return false;
}

/* The port of fd's own end, or of its peer's. */
static int
port_of_end(int fd, bool peer)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if ((peer ? getpeername(fd, (struct sockaddr *)&sin, &len) :
	    getsockname(fd, (struct sockaddr *)&sin, &len)) == -1 ||
	    sin.sin_family != AF_INET)
		return -1;
	return ntohs(sin.sin_port);
}

/*
 * A connection whose answer stays in the server's output until it is
 * read: the server's end of it (a descriptor of this process, found by
 * its peer's port) and its own have small socket buffers. Loopback's
 * grow to megabytes: the answers would leave the server at once.
 */
static int
connect_slow(struct env *e, int64_t until)
{
	int fd = connect_to(e), small = 4096, port = port_of_end(fd, false);
	size_t conns = httpget_conns(e->e_h);
	int server = -1;

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	while (httpget_conns(e->e_h) == conns) {
		check_deadline(until);
		turn(e);
	}
	for (int k = 0; k < 1024 && server == -1; k++)
		if (k != fd && port_of_end(k, true) == port &&
		    port_of_end(k, false) == httpget_port(e->e_h))
			server = k;
	assert_true(server != -1);
	assert_int_equal(setsockopt(server, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	return fd;
}

/*
 * Slow readers of a large document, half of them answered by a render
 * and half by the next, which comes while the first half are still
 * reading: the server holds the two documents once each, not once a
 * connection (before, each output had its copy: 12 readers of 1 MiB
 * held 12 MiB and more). A reader of each that resets its connection
 * partway takes nothing from the others: each of them gets the whole
 * document of its render, and when all are gone the documents are too.
 */
static void
test_doc_shared(void **state)
{
	struct env *e = *state;
	struct reader r[SLOW_READERS];
	int64_t until = deadline();
	size_t base, held, left;
	struct evbuffer *want[3];
	const char *get = "GET /metrics HTTP/1.1\r\n\r\n";
	char head[128], *bufs[SLOW_READERS];
	int half = SLOW_READERS / 2;

	e->e_doc_bytes = BIG_DOC;
	for (int k = 0; k < SLOW_READERS; k++)
		assert_non_null(bufs[k] = malloc(2 * BIG_DOC));
	base = heap_in_use();
	for (int n = 1; n <= 2; n++) {
		struct reader *rn = r + (n - 1) * half;

		/* The requests of a half all at once: one render answers
		 * them. */
		for (int k = 0; k < half; k++)
			rn[k] = (struct reader){
			    .r_fd = connect_slow(e, until), .r_doc = n,
			    .r_buf = bufs[(n - 1) * half + k] };
		for (int k = 0; k < half; k++)
			assert_int_equal(write(rn[k].r_fd, get, strlen(get)),
			    (ssize_t)strlen(get));
		while (e->e_renders < n) {
			check_deadline(until);
			turn(e);
		}
		/* The first half reads a little before the next render. */
		for (int k = 0; k < half && n == 1; k++)
			while (rn[k].r_have == 0) {
				check_deadline(until);
				turn(e);
				assert_false(read_some(&rn[k], 100));
			}
	}
	assert_int_equal(e->e_renders, 2);
	held = heap_gained(base);
	print_message("held for %d readers of two %d-byte documents: "
	    "%zu bytes\n", SLOW_READERS, BIG_DOC, held);
	assert_true(held < 3 * (size_t)BIG_DOC);

	/* One of each render resets its connection partway. */
	close(r[0].r_fd);
	close(r[half].r_fd);
	r[0].r_done = r[half].r_done = true;
	do {
		check_deadline(until);
		turn(e);
		left = 0;
		for (int k = 0; k < SLOW_READERS; k++)
			if (!r[k].r_done) {
				r[k].r_done = read_some(&r[k],
				    2 * BIG_DOC - 1);
				left += !r[k].r_done;
			}
	} while (left > 0);
	for (int n = 1; n <= 2; n++) {
		assert_non_null(want[n] = evbuffer_new());
		doc_text(want[n], n, BIG_DOC);
	}
	for (int k = 0; k < SLOW_READERS; k++) {
		struct evbuffer *w = want[r[k].r_doc];
		size_t len = evbuffer_get_length(w);
		char *body;

		if (k != 0 && k != half) {
			r[k].r_buf[r[k].r_have] = '\0';
			snprintf(head, sizeof(head), "\r\nContent-Length: "
			    "%zu\r\n", len);
			assert_non_null(strstr(r[k].r_buf, head));
			assert_non_null(body = strstr(r[k].r_buf,
			    "\r\n\r\n"));
			body += 4;
			assert_int_equal(r[k].r_have - (size_t)(body -
			    r[k].r_buf), len);
			assert_memory_equal(body, evbuffer_pullup(w, -1), len);
			close(r[k].r_fd);
		}
	}
	evbuffer_free(want[1]);
	evbuffer_free(want[2]);
	while (httpget_conns(e->e_h) > 0) {
		check_deadline(until);
		turn(e);
	}
	turn(e);	/* libevent frees a closed connection's buffers here */
	held = heap_gained(base);
	assert_true(held < BIG_DOC / 4);
	for (int k = 0; k < SLOW_READERS; k++)
		free(bufs[k]);
}

static void
test_bad_address(void **state)
{
	struct env *e = *state;
	const struct httpget_conf conf = { .hc_path = "/", .hc_type = "x",
	    .hc_conns_max = 1, .hc_head_max = 1, .hc_deadline_ms = 1,
	    .hc_render = render, .hc_arg = e };
	char err[256];

	assert_null(httpget_listen(e->e_base, "localhost", 0, &conf, err,
	    sizeof(err)));
	assert_string_equal(err, "localhost: not a numeric IP address");
	assert_null(httpget_listen(e->e_base, "127.0.0.1",
	    httpget_port(e->e_h), &conf, err, sizeof(err)));
	assert_string_equal(err, "Address already in use");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lenient, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_head_too_large, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_trickle_cut, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_conns_capped,
		    setup_no_deadline, teardown),
		cmocka_unit_test_setup_teardown(test_renders_shared,
		    setup_no_deadline, teardown),
		cmocka_unit_test_setup_teardown(test_doc_shared, setup_many,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_address, setup,
		    teardown),
	};

	/* As in the daemons (common/daemon.c): a write to a connection
	 * its client reset is an error, not the end of the process. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
