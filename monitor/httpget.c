/*
 * One document over HTTP/1.1 (httpget.h says what and why).
 *
 * Each connection is a bufferevent whose input stops growing at
 * head_max + 1 bytes (its read watermark), and a timer for its deadline,
 * which also ends the wait for a client to close after its answer.
 *
 * At conns_max open, a new connection takes the place of the oldest one
 * still sending its head, which is closed: idle connections made one
 * after the other cannot keep a scrape out (a scraper sends its head at
 * once). Only when every open connection has its answer does the
 * listener wait for one to end. It also waits a moment after accept
 * fails for a cause libevent does not try again at once (in the
 * daemons, common/fdreserve.c turns "out of descriptors" into a closed
 * connection instead).
 *
 * The document is rendered for requests, never before one came (no
 * answer is older than its request), and one render answers every
 * request waiting for it; after a render that took d, the next waits
 * until 9 d have passed (at most RENDER_GAP_MAX_MS, and a quarter of
 * the deadline): a client asking without pause gets its answers, and
 * renders take at most a tenth of the loop's time (1,000 tenants' is
 * 1.1 MB and 4-6 ms: a scraper in a loop kept the monitor busy).
 *
 * A render's document is one block (struct hdoc) that the outputs of
 * the connections it answers refer to (evbuffer_add_reference), never
 * copy: 32 slow readers of 1.1 MB held 35 MB when each had a copy. It
 * counts them, and goes with the last of them, however each ends
 * (written, cut, reset), whatever renders come after it.
 */
#include "httpget.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "clock.h"
#include "log.h"
#include "tailq.h"

#define BACKLOG		128
#define ACCEPT_PAUSE_MS	100	/* after accept failed */
#define RENDER_SHARE	10	/* renders take at most 1/10 of the time */
#define RENDER_GAP_MAX_MS 1000

/* A rendered document, shared by the outputs that refer to it. */
struct hdoc {
	size_t			 d_refs;	/* outputs, and its render */
	size_t			 d_len;
	unsigned char		 d_data[];
};

struct hconn {
	TAILQ_ENTRY(hconn)	 c_entry;	/* oldest first */
	struct httpget		*c_h;
	struct bufferevent	*c_bev;
	struct event		*c_deadline;
	bool			 c_answered;	/* its request is read */
	bool			 c_waiting;	/* for the next render */
	bool			 c_head;	/* HEAD: no body */
};

struct httpget {
	struct httpget_conf	 h_conf;
	struct event_base	*h_base;
	struct evconnlistener	*h_lev;
	struct event		*h_resume;	/* accepting again */
	struct event		*h_render;	/* for the waiting requests */
	int64_t			 h_render_at;	/* no render before (ms) */
	TAILQ_HEAD(, hconn)	 h_conns;
	size_t			 h_nconns;
	size_t			 h_nreading;	/* requests not read yet */
	bool			 h_listening;
	int			 h_port;
};

/*
 * Accepting while a connection may be taken (one free, or one still
 * reading its head to close) and no pause after a failed accept runs.
 */
static void
watch_listener(struct httpget *h)
{
	bool want = (h->h_nconns < h->h_conf.hc_conns_max ||
	    h->h_nreading > 0) && !evtimer_pending(h->h_resume, NULL);

	if (want == h->h_listening)
		return;
	h->h_listening = want;
	if (want)
		evconnlistener_enable(h->h_lev);
	else
		evconnlistener_disable(h->h_lev);
}

static void
conn_destroy(struct hconn *c)
{
	struct httpget *h = c->c_h;

	TAILQ_REMOVE(&h->h_conns, c, c_entry);
	h->h_nconns--;
	if (!c->c_answered)
		h->h_nreading--;
	bufferevent_free(c->c_bev);
	event_free(c->c_deadline);
	free(c);
}

static void
conn_free(struct hconn *c)
{
	struct httpget *h = c->c_h;

	conn_destroy(c);
	watch_listener(h);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;

	(void)fd;
	(void)what;
	log_debug("http: a connection past its %d ms: closed",
	    c->c_h->h_conf.hc_deadline_ms);
	conn_free(c);
}

/*
 * The end of the client's side, or an error. A client that closed its
 * side after its request still gets the answer being written.
 */
static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct hconn *c = arg;

	if (c->c_answered && what == (BEV_EVENT_READING | BEV_EVENT_EOF) &&
	    (c->c_waiting ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)) {
		bufferevent_disable(bev, EV_READ);
		return;
	}
	conn_free(c);
}

/* What comes after the head (a body, more requests) is read and let go:
 * a client writing before it reads cannot stall its answer. */
static void
on_drain(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	(void)arg;
	evbuffer_drain(in, evbuffer_get_length(in));
}

/*
 * The answer is out: the connection ends (Connection: close) once the
 * client has closed its side. Closing ours with its bytes unread would
 * send a reset, which may destroy the answer before it is read.
 */
static void
on_written(struct bufferevent *bev, void *arg)
{
	(void)arg;
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_setcb(bev, on_drain, NULL, on_event, arg);
	bufferevent_enable(bev, EV_READ);
}

/*
 * Its request is read: what follows is drained, and the connection is
 * no longer one a new one may take the place of.
 */
static void
request_read(struct hconn *c)
{
	if (c->c_answered)
		return;
	c->c_answered = true;
	c->c_h->h_nreading--;
	bufferevent_setwatermark(c->c_bev, EV_READ, 0, 0);
	bufferevent_setcb(c->c_bev, on_drain, NULL, on_event, c);
	watch_listener(c->c_h);
}

/*
 * Writes an answer's head for a body of length bytes; the caller adds
 * the body (none to HEAD, whatever the status). Then the connection
 * closes.
 */
static void
answer(struct hconn *c, int code, const char *reason, const char *extra,
    const char *type, size_t length)
{
	struct evbuffer *out = bufferevent_get_output(c->c_bev);
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
	    &tm) == 0)
		date[0] = '\0';
	request_read(c);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%sConnection: "
	    "close\r\n\r\n", code, reason, date, type, length, extra);
	bufferevent_setcb(c->c_bev, on_drain, on_written, on_event, c);
}

/* An error's answer: its reason as a line of text (to GET). */
static void
refuse(struct hconn *c, bool head, int code, const char *reason,
    const char *extra)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%s\n", reason);

	answer(c, code, reason, extra, "text/plain; charset=utf-8",
	    (size_t)n);
	if (!head)
		evbuffer_add(bufferevent_get_output(c->c_bev), body, (size_t)n);
}

static void
doc_unref(struct hdoc *d)
{
	if (--d->d_refs == 0)
		free(d);
}

/* An output no longer refers to its document (written, or freed). */
static void
doc_released(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	doc_unref(arg);
}

/*
 * The document to GET: a reference to d in c's output. Without memory
 * for the reference, a copy; without memory for that, the connection
 * is closed (its head announced the length).
 */
static void
serve_doc(struct hconn *c, struct hdoc *d)
{
	struct evbuffer *out = bufferevent_get_output(c->c_bev);

	answer(c, 200, "OK", "", c->c_h->h_conf.hc_type, d->d_len);
	if (c->c_head || d->d_len == 0)
		return;
	if (evbuffer_add_reference(out, d->d_data, d->d_len, doc_released,
	    d) == 0) {
		d->d_refs++;
		return;
	}
	if (evbuffer_add(out, d->d_data, d->d_len) == -1) {
		log_warnx("http: out of memory for an answer");
		conn_free(c);
	}
}

/* How long after a render of took_ms the next may start. */
static int64_t
render_gap_ms(const struct httpget *h, int64_t took_ms)
{
	int64_t gap = took_ms * (RENDER_SHARE - 1);
	int64_t cap = h->h_conf.hc_deadline_ms / 4;

	if (cap > RENDER_GAP_MAX_MS)
		cap = RENDER_GAP_MAX_MS;
	return gap < cap ? gap : cap;
}

/* Renders the document once and answers every request waiting for it. */
static void
on_render(evutil_socket_t fd, short what, void *arg)
{
	struct httpget *h = arg;
	const struct httpget_conf *conf = &h->h_conf;
	struct evbuffer *body;
	struct hconn *c, *next;
	int64_t t0 = clock_mono_ns(), took_ms;
	struct hdoc *d;
	size_t len;

	(void)fd;
	(void)what;
	/* Those waiting may all have gone (a reset, the deadline): no
	 * render, and no pause after it for the next request. */
	TAILQ_FOREACH(c, &h->h_conns, c_entry)
		if (c->c_waiting)
			break;
	if (c == NULL)
		return;
	if ((body = evbuffer_new()) == NULL)
		fatal("%s: evbuffer_new", __func__);
	conf->hc_render(conf->hc_arg, body);
	len = evbuffer_get_length(body);
	if ((d = malloc(sizeof(*d) + len)) != NULL) {
		d->d_refs = 1;
		d->d_len = len;
		evbuffer_remove(body, d->d_data, len);
	}
	evbuffer_free(body);
	TAILQ_FOREACH_SAFE(c, &h->h_conns, c_entry, next) {
		if (!c->c_waiting)
			continue;
		c->c_waiting = false;
		if (d == NULL)
			refuse(c, c->c_head, 500, "Internal Server Error", "");
		else
			serve_doc(c, d);
	}
	if (d != NULL)
		doc_unref(d);
	took_ms = (clock_mono_ns() - t0) / 1000000;
	h->h_render_at = clock_mono_ms() + render_gap_ms(h, took_ms);
}

/* The document, or its head alone: at the next render. */
static void
serve(struct hconn *c, bool head)
{
	struct httpget *h = c->c_h;
	int64_t wait = h->h_render_at - clock_mono_ms();

	request_read(c);
	c->c_waiting = true;
	c->c_head = head;
	if (!evtimer_pending(h->h_render, NULL))
		clock_timer_in(h->h_render, wait > 0 ? (uint64_t)wait : 0);
}

/* The path of a request's target: itself, or that of an absolute URL. */
static const char *
target_path(const char *target)
{
	const char *p;

	if (strncmp(target, "http://", 7) != 0)
		return target;
	p = strchr(target + 7, '/');
	return p != NULL ? p : "/";
}

/* Answers a request line: "METHOD TARGET HTTP/1.x". */
static void
on_request_line(struct hconn *c, char *line, size_t len)
{
	bool whole = strlen(line) == len;	/* no NUL inside */
	char *save, *method = strtok_r(line, " ", &save),
	    *target = strtok_r(NULL, " ", &save),
	    *version = strtok_r(NULL, " ", &save);
	bool head = method != NULL && strcmp(method, "HEAD") == 0;

	if (!whole || method == NULL || target == NULL ||
	    version == NULL || strtok_r(NULL, " ", &save) != NULL ||
	    (strcmp(version, "HTTP/1.1") != 0 &&
	    strcmp(version, "HTTP/1.0") != 0))
		refuse(c, head, 400, "Bad Request", "");
	else if (strcmp(method, "GET") != 0 && !head)
		refuse(c, head, 405, "Method Not Allowed",
		    "Allow: GET, HEAD\r\n");
	else if (strcmp(target_path(target), c->c_h->h_conf.hc_path) != 0)
		refuse(c, head, 404, "Not Found", "");
	else
		serve(c, head);
}

/* Where the head ends (its blank line, CRLF or bare LF), or -1. */
static ev_ssize_t
head_end(struct evbuffer *in)
{
	struct evbuffer_ptr crlf = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	struct evbuffer_ptr lf = evbuffer_search(in, "\n\n", 2, NULL);

	if (crlf.pos == -1)
		return lf.pos == -1 ? -1 : lf.pos + 2;
	if (lf.pos == -1 || crlf.pos + 1 < lf.pos)
		return crlf.pos + 4;
	return lf.pos + 2;
}

/* Waits for the whole head (up to its blank line), then answers. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct hconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	ev_ssize_t end = head_end(in);
	size_t max = c->c_h->h_conf.hc_head_max, len;
	char *line;

	if ((end == -1 && evbuffer_get_length(in) > max) ||
	    (end != -1 && (size_t)end > max)) {
		refuse(c, false, 431, "Request Header Fields Too Large", "");
		return;
	}
	if (end == -1)
		return;
	/* Empty lines before the request line are skipped (RFC 9112). */
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL &&
	    len == 0)
		free(line);
	if (line == NULL) {
		refuse(c, false, 400, "Bad Request", "");
		return;
	}
	on_request_line(c, line, len);
	free(line);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct httpget *h = arg;
	struct hconn *c, *old;

	(void)lev;
	(void)sa;
	(void)salen;
	if (h->h_nconns >= h->h_conf.hc_conns_max) {
		TAILQ_FOREACH(old, &h->h_conns, c_entry)
			if (!old->c_answered)
				break;
		if (old == NULL) {	/* not listening then: never here */
			evutil_closesocket(fd);
			return;
		}
		log_debug("http: %zu connections open: the oldest without "
		    "its request closed", h->h_nconns);
		conn_destroy(old);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->c_bev = bufferevent_socket_new(h->h_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (c->c_deadline = evtimer_new(h->h_base, on_deadline, c)) == NULL) {
		log_warnx("http: out of memory for a connection");
		if (c != NULL && c->c_bev != NULL)
			bufferevent_free(c->c_bev);
		else
			evutil_closesocket(fd);
		free(c);
		watch_listener(h);
		return;
	}
	c->c_h = h;
	TAILQ_INSERT_TAIL(&h->h_conns, c, c_entry);
	h->h_nconns++;
	h->h_nreading++;
	clock_timer_in(c->c_deadline, h->h_conf.hc_deadline_ms);
	bufferevent_setwatermark(c->c_bev, EV_READ, 0,
	    h->h_conf.hc_head_max + 1);
	bufferevent_setcb(c->c_bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->c_bev, EV_READ);
	watch_listener(h);
}

static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct httpget *h = arg;

	(void)lev;
	log_warn("http: accept");
	clock_timer_in(h->h_resume, ACCEPT_PAUSE_MS);
	watch_listener(h);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	watch_listener(arg);
}

/* address:port as a socket address; its length, or 0 when not numeric. */
static socklen_t
sockaddr_of(const char *address, int port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return sizeof(*sin6);
	}
	return 0;
}

static int
port_of(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

struct httpget *
httpget_listen(struct event_base *base, const char *address, int port,
    const struct httpget_conf *conf, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sockaddr_of(address, port, &ss);
	struct httpget *h;

	if (sslen == 0) {
		snprintf(err, errlen, "%s: not a numeric IP address", address);
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->h_resume = evtimer_new(base, on_resume, h)) == NULL ||
	    (h->h_render = evtimer_new(base, on_render, h)) == NULL)
		fatal("%s: calloc", __func__);
	h->h_conf = *conf;
	h->h_base = base;
	TAILQ_INIT(&h->h_conns);
	if ((h->h_lev = evconnlistener_new_bind(base, on_accept, h,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_REUSEABLE, BACKLOG, (struct sockaddr *)&ss,
	    (int)sslen)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		httpget_free(h);
		return NULL;
	}
	h->h_listening = true;
	evconnlistener_set_error_cb(h->h_lev, on_accept_error);
	h->h_port = port_of(evconnlistener_get_fd(h->h_lev));
	return h;
}

int
httpget_port(const struct httpget *h)
{
	return h->h_port;
}

size_t
httpget_conns(const struct httpget *h)
{
	return h->h_nconns;
}

void
httpget_free(struct httpget *h)
{
	struct hconn *c;

	if (h == NULL)
		return;
	while ((c = TAILQ_FIRST(&h->h_conns)) != NULL)
		conn_destroy(c);
	if (h->h_lev != NULL)
		evconnlistener_free(h->h_lev);
	event_free(h->h_resume);
	event_free(h->h_render);
	free(h);
}
