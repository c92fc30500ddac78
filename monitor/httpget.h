/*
 * A plain HTTP/1.1 server of one document: GET (or HEAD) of one path,
 * each answer closing its connection. The monitor's Prometheus endpoint.
 *
 * Why not libevent's evhttp: in libevent 2.1 (Debian 12) its timeout
 * starts again at every byte read and it has no cap on connections, so
 * clients that send a byte now and then held every descriptor the
 * monitor had (1,100 did; reports and control need descriptors too).
 * Here a connection has a deadline for its whole request and answer,
 * and at most conns_max are open: a new one takes the place of the
 * oldest still sending its head (httpget.c says why).
 *
 * Answers: 200 with the document (HEAD: its headers alone, as for every
 * status), 404 for another path, 405 for another method, 400 for a
 * request line that is not HTTP/1.0 or 1.1, 431 for a head over
 * head_max bytes. What follows the head (a body) is read and dropped.
 */
#ifndef MYSIMBDP_MONITOR_HTTPGET_H
#define MYSIMBDP_MONITOR_HTTPGET_H

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>

struct httpget;

struct httpget_conf {
	const char	*hc_path;		/* "/metrics" */
	const char	*hc_type;		/* its Content-Type */
	size_t		 hc_conns_max;
	size_t		 hc_head_max;		/* bytes of a request's head */
	int		 hc_deadline_ms;	/* to read it and answer */
	void		(*hc_render)(void *, struct evbuffer *);
	void		*hc_arg;
};

/*
 * Listens on address (a numeric IPv4 or IPv6 address) and port (0: any
 * free one). Returns NULL with why in err.
 */
struct httpget	*httpget_listen(struct event_base *base, const char *address,
		    int port, const struct httpget_conf *conf, char *err,
		    size_t errlen);

/* The port it listens on. */
int		 httpget_port(const struct httpget *h);

/* Connections open now. */
size_t		 httpget_conns(const struct httpget *h);

/* Closes every connection and the socket. Accepts NULL. */
void		 httpget_free(struct httpget *h);

#endif
