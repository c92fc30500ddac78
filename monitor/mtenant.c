#include "mtenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "log.h"

static struct mstream *
stream_new(struct mtenant *t, const struct conf_stream *c)
{
	struct mstream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		fatal("%s: calloc", __func__);
	s->ms_tenant = t;
	s->ms_conf = c;
	snprintf(s->ms_name, sizeof(s->ms_name), "%s", c->s_name);
	s->ms_ingest_us = -1;
	TAILQ_INIT(&s->ms_insts);
	TAILQ_INSERT_TAIL(&t->mt_streams, s, ms_entry);
	return s;
}

static void
stream_free(struct mtenant *t, struct mstream *s)
{
	struct minst *i;

	while ((i = TAILQ_FIRST(&s->ms_insts)) != NULL) {
		TAILQ_REMOVE(&s->ms_insts, i, mi_entry);
		free(i);
	}
	TAILQ_REMOVE(&t->mt_streams, s, ms_entry);
	free(s);
}

/* A view for each stream and subscription of profile c not viewed yet. */
static void
add_missing(struct mtenant *t, const struct conf_tenant *c)
{
	for (size_t i = 0; i < c->t_nstreams; i++) {
		const struct conf_stream *st = &c->t_streams[i];

		if (mtenant_stream(t, st->s_name) == NULL)
			stream_new(t, st);
		for (size_t k = 0; k < st->s_nsubs; k++)
			if (mtenant_stream(t, st->s_subs[k].s_name) == NULL)
				stream_new(t, &st->s_subs[k]);
	}
}

/* Frees t, which is not (or no longer) in the monitor's list. */
static void
destroy(struct mtenant *t)
{
	struct mstream *s;

	collect_close(t);
	while ((s = TAILQ_FIRST(&t->mt_streams)) != NULL)
		stream_free(t, s);
	conf_tenant_unref(t->mt_conf);
	free(t);
}

struct mtenant *
mtenant_new(struct mon *m, struct conf_tenant *c)
{
	struct mtenant *t = calloc(1, sizeof(*t));
	char err[512];

	if (t == NULL)
		fatal("%s: calloc", __func__);
	t->mt_mon = m;
	t->mt_conf = conf_tenant_ref(c);
	snprintf(t->mt_id, sizeof(t->mt_id), "%s", c->t_id);
	TAILQ_INIT(&t->mt_streams);
	if (collect_open(t, err, sizeof(err)) < 0) {
		log_warnx("tenant %s: %s; its reports are not received",
		    c->t_id, err);
		destroy(t);
		return NULL;
	}
	add_missing(t, c);
	TAILQ_INSERT_TAIL(&m->m_tenants, t, mt_entry);
	log_info("tenant %s: listening for reports (%zu stream%s)", t->mt_id,
	    c->t_nstreams, c->t_nstreams == 1 ? "" : "s");
	return t;
}

void
mtenant_free(struct mtenant *t)
{
	TAILQ_REMOVE(&t->mt_mon->m_tenants, t, mt_entry);
	destroy(t);
}

void
mtenant_update(struct mtenant *t, struct conf_tenant *c)
{
	struct mstream *s, *next;

	/* The views point into the old profile: move them all first. */
	TAILQ_FOREACH_SAFE(s, &t->mt_streams, ms_entry, next) {
		const struct conf_stream *sc = conf_stream_find(c, s->ms_name);

		if (sc != NULL) {
			s->ms_conf = sc;
			continue;
		}
		log_info("tenant %s: stream %s: no longer in the profile",
		    t->mt_id, s->ms_name);
		stream_free(t, s);
	}
	add_missing(t, c);
	conf_tenant_unref(t->mt_conf);
	t->mt_conf = conf_tenant_ref(c);
}

struct mtenant *
mtenant_find(struct mon *m, const char *id)
{
	struct mtenant *t;

	TAILQ_FOREACH(t, &m->m_tenants, mt_entry)
		if (strcmp(t->mt_id, id) == 0)
			return t;
	return NULL;
}

struct mstream *
mtenant_stream(struct mtenant *t, const char *name)
{
	struct mstream *s;

	TAILQ_FOREACH(s, &t->mt_streams, ms_entry)
		if (strcmp(s->ms_name, name) == 0)
			return s;
	return NULL;
}
