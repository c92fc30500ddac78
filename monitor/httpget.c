/*
 * One document over HTTP/1.1 (httpget.h says what and why).
 *
 * Each connection is a bufferevent whose input stops growing at
 * head_max + 1 bytes (its read watermark), and a timer for its deadline,
 * which also ends the wait for a client to close after its answer.
 * The listener is disabled while conns_max connections are open, and
 * for a moment after accept fails (out of descriptors: it would fail
 * again at once, the loop spinning).
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

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "clock.h"
#include "log.h"
#include "tailq.h"

#define BACKLOG		128
#define ACCEPT_PAUSE_MS	100	/* after accept failed */

struct hconn {
	TAILQ_ENTRY(hconn)	 c_entry;
	struct httpget		*c_h;
	struct bufferevent	*c_bev;
	struct event		*c_deadline;
};

struct httpget {
	struct httpget_conf	 h_conf;
	struct event_base	*h_base;
	struct evconnlistener	*h_lev;
	struct event		*h_resume;	/* accepting again */
	TAILQ_HEAD(, hconn)	 h_conns;
	size_t			 h_nconns;
	int			 h_port;
};

static void
conn_free(struct hconn *c)
{
	struct httpget *h = c->c_h;

	TAILQ_REMOVE(&h->h_conns, c, c_entry);
	bufferevent_free(c->c_bev);
	event_free(c->c_deadline);
	free(c);
	if (h->h_nconns-- == h->h_conf.hc_conns_max &&
	    !evtimer_pending(h->h_resume, NULL))
		evconnlistener_enable(h->h_lev);
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

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;	/* EOF or an error: either ends it */
	conn_free(arg);
}

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
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_setcb(bev, on_drain, NULL, on_event, arg);
	bufferevent_enable(bev, EV_READ);
}

/* Writes the head of an answer, and body unless NULL; then closes. */
static void
answer(struct hconn *c, int code, const char *reason, const char *extra,
    const char *type, struct evbuffer *body, size_t length)
{
	struct evbuffer *out = bufferevent_get_output(c->c_bev);

	bufferevent_disable(c->c_bev, EV_READ);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", code, reason,
	    type, length, extra);
	if (body != NULL)
		evbuffer_add_buffer(out, body);
	bufferevent_setcb(c->c_bev, NULL, on_written, on_event, c);
}

/* An error's answer: its reason as a line of text. */
static void
refuse(struct hconn *c, int code, const char *reason, const char *extra)
{
	struct evbuffer *body = evbuffer_new();

	if (body == NULL) {
		conn_free(c);
		return;
	}
	evbuffer_add_printf(body, "%s\n", reason);
	answer(c, code, reason, extra, "text/plain; charset=utf-8", body,
	    evbuffer_get_length(body));
	evbuffer_free(body);
}

/* The document, or its head alone. */
static void
serve(struct hconn *c, bool head)
{
	const struct httpget_conf *conf = &c->c_h->h_conf;
	struct evbuffer *body = evbuffer_new();

	if (body == NULL) {
		refuse(c, 500, "Internal Server Error", "");
		return;
	}
	conf->hc_render(conf->hc_arg, body);
	answer(c, 200, "OK", "", conf->hc_type, head ? NULL : body,
	    evbuffer_get_length(body));
	evbuffer_free(body);
}

/* Answers a request line: "METHOD TARGET HTTP/x.y". */
static void
on_request_line(struct hconn *c, char *line)
{
	char *save, *method = strtok_r(line, " ", &save),
	    *target = strtok_r(NULL, " ", &save),
	    *version = strtok_r(NULL, " ", &save);

	if (method == NULL || target == NULL || version == NULL ||
	    strtok_r(NULL, " ", &save) != NULL ||
	    strncmp(version, "HTTP/1.", 7) != 0)
		refuse(c, 400, "Bad Request", "");
	else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		refuse(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
	else if (strcmp(target, c->c_h->h_conf.hc_path) != 0)
		refuse(c, 404, "Not Found", "");
	else
		serve(c, strcmp(method, "HEAD") == 0);
}

/* Waits for the whole head (up to its blank line), then answers. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct hconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	size_t max = c->c_h->h_conf.hc_head_max;
	char *line;

	if ((end.pos == -1 && evbuffer_get_length(in) > max) ||
	    (end.pos != -1 && (size_t)end.pos + 4 > max)) {
		refuse(c, 431, "Request Header Fields Too Large", "");
		return;
	}
	if (end.pos == -1)
		return;
	if ((line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF_STRICT)) ==
	    NULL) {
		refuse(c, 500, "Internal Server Error", "");
		return;
	}
	on_request_line(c, line);
	free(line);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct httpget *h = arg;
	struct hconn *c = calloc(1, sizeof(*c));

	(void)lev;
	(void)sa;
	(void)salen;
	if (c == NULL || (c->c_bev = bufferevent_socket_new(h->h_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    (c->c_deadline = evtimer_new(h->h_base, on_deadline, c)) == NULL) {
		log_warnx("http: out of memory for a connection");
		if (c != NULL && c->c_bev != NULL)
			bufferevent_free(c->c_bev);
		else
			evutil_closesocket(fd);
		free(c);
		return;
	}
	c->c_h = h;
	TAILQ_INSERT_TAIL(&h->h_conns, c, c_entry);
	if (++h->h_nconns == h->h_conf.hc_conns_max)
		evconnlistener_disable(h->h_lev);
	clock_timer_in(c->c_deadline, h->h_conf.hc_deadline_ms);
	bufferevent_setwatermark(c->c_bev, EV_READ, 0,
	    h->h_conf.hc_head_max + 1);
	bufferevent_setcb(c->c_bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->c_bev, EV_READ);
}

static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct httpget *h = arg;

	log_warn("http: accept");
	evconnlistener_disable(lev);
	clock_timer_in(h->h_resume, ACCEPT_PAUSE_MS);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct httpget *h = arg;

	(void)fd;
	(void)what;
	if (h->h_nconns < h->h_conf.hc_conns_max)
		evconnlistener_enable(h->h_lev);
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
	    (h->h_resume = evtimer_new(base, on_resume, h)) == NULL)
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
	while ((c = TAILQ_FIRST(&h->h_conns)) != NULL) {
		TAILQ_REMOVE(&h->h_conns, c, c_entry);
		bufferevent_free(c->c_bev);
		event_free(c->c_deadline);
		free(c);
	}
	if (h->h_lev != NULL)
		evconnlistener_free(h->h_lev);
	event_free(h->h_resume);
	free(h);
}
