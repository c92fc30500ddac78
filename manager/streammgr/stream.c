#include "stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bson/bson.h>
#include <zmq.h>

#include "clock.h"
#include "deadletter.h"
#include "jsonline.h"
#include "log.h"
#include "publish.h"
#include "record.h"
#include "state.h"
#include "supervise.h"
#include "syncer.h"
#include "wirebatch.h"
#include "zrouter.h"

#define MSG_ID_MAX	64	/* bytes of a producer's msg-id */
#define WORK_ARGS	3	/* frames counted after an instance's command */
#define BUDGET		1024	/* messages per socket per loop turn */
#define CREDIT_MAX	65536
#define WORK_BUDGET	CREDIT_MAX /* ids looked up per work turn, about */
/*
 * Bytes of deliveries queued to one instance beyond what its socket
 * holds, about 16 batched deliveries. What an instance that reads nothing
 * makes streammgr hold beyond its queue, which acks (even of ids it never
 * read) empty, so max_queue_bytes does not count it.
 */
#define WORK_OUT_MAX	(16 * DELIVERY_BYTES)
/* An instance's largest frame: an ACK of a whole credit is 512 KiB. */
#define WORK_FRAME_MAX	(1u << 20)
/* Instances' commands partway, in all (a whole credit's ACK: 512 KiB). */
#define WORK_IN_MAX	((size_t)64 << 20)
#define BATCH_BYTES	(4u << 20) /* written per commit, at most (roughly) */
#define STATUSES_KEEP	(64u << 10) /* statuses a reply slot keeps, at most */
#define RID_MAX		255	/* bytes of a routing id (libzmq's bound) */
#define INGRESS_FRAME_MAX ((size_t)256 << 20) /* max_message_size's bound */
/* Not reached by one turn's replies (a producer is read only once they
 * are out), but by OKs held for a sync that takes long, and the bound on
 * PONGs to a PING flood. */
#define INGRESS_OUT_MAX	((size_t)64 << 20)
#define DELIVERY_BATCH	256	/* messages in one batched delivery */
#define DELIVERY_BYTES	(256u << 10) /* payload bytes in one, roughly */

static bool on_producer(void *, const unsigned char *, size_t,
    const struct zmtp_msg *);
static void on_producers_turn(void *);
static void flush_dead(struct stream *);
static int ingress_note(struct ingress *, struct stream *);
static bool on_work(void *, const unsigned char *, size_t,
    const struct zmtp_msg *);
static void work_turn(void *);
static void work_room(void *);
static void on_ack_timeout(evutil_socket_t, short, void *);
static void held_flush(struct stream *);
static void arm_ack_timer(struct stream *);
static void on_flush(evutil_socket_t, short, void *);
static void unhold(struct qmsg *);
static void flush_settled(struct stream *);
static void set_floor(struct stream *, struct stream *);
static bool held_elsewhere(const struct stream *, const struct stream *,
    uint64_t);

/*
 * Connecting needs write access to the socket file; who may connect is
 * decided by run/<tenant>/, 0700 and the tenant's.
 */
static void
open_to_tenant(const char *ep)
{
	if (chmod(ep + strlen("ipc://"), 0666) < 0)
		log_warn("chmod %s", ep + strlen("ipc://"));
}

/* Binds run/<tenant>/<stream>.<suffix>, our own ROUTER (zrouter.h). */
static struct zrouter *
bind_own(struct smgr *m, struct stream *s, const char *suffix,
    const struct zrouter_conf *conf, char *err, size_t errlen)
{
	char *ep = state_endpoint(m->m_conf, "run/%s/%s.%s", s->s_tid,
	    s->s_name, suffix);
	struct zrouter *r = zrouter_bind(m->m_base, ep, conf, err, errlen);

	if (r != NULL)
		open_to_tenant(ep);
	free(ep);
	return r;
}

/*
 * The producers' socket on this host, our own ROUTER (zrouter.h), read
 * only while a producer's replies are out: one that does not read them
 * holds one turn's replies here (and the OKs held for a sync under way),
 * not a queue of them.
 */
static struct zrouter *
bind_ingress(struct smgr *m, struct stream *s, char *err, size_t errlen)
{
	const struct zrouter_conf conf = {
		.zc_frame_max = INGRESS_FRAME_MAX,
		.zc_out_max = INGRESS_OUT_MAX,
		.zc_budget = BUDGET,
		.zc_handshake_ms = 30000,	/* as the work socket's */
		/* Producers partway through messages: two of the largest in
		 * all, so that one of them is not cut for another's byte. */
		.zc_in_max = 2 * (INGRESS_FRAME_MAX + (64u << 10)),
		.zc_read_when_written = true,
		.zc_msg_cb = on_producer,
		.zc_turn_cb = on_producers_turn,
		.zc_arg = s,
	};
	return bind_own(m, s, "in", &conf, err, errlen);
}

/*
 * The instances' socket, our own ROUTER (zrouter.h): a send to a gone
 * instance fails (EHOSTUNREACH), one to an instance with WORK_OUT_MAX
 * bytes waiting with EAGAIN.
 */
static struct zrouter *
bind_work(struct smgr *m, struct stream *s, char *err, size_t errlen)
{
	const struct zrouter_conf conf = {
		.zc_frame_max = WORK_FRAME_MAX,
		.zc_out_max = WORK_OUT_MAX,
		.zc_budget = BUDGET,
		/* libzmq's default ZMQ_HANDSHAKE_IVL, which this had. */
		.zc_handshake_ms = 30000,
		.zc_in_max = WORK_IN_MAX,
		.zc_msg_cb = on_work,
		.zc_room_cb = work_room,
		.zc_turn_cb = work_turn,
		.zc_arg = s,
	};
	return bind_own(m, s, "work", &conf, err, errlen);
}

/* A requeue's new file that a crash cut short (the file is whole). */
static void
split_gone(struct stream *s, const char *file)
{
	char err[300];
	off_t size;

	switch (dead_letter_split_gone(file, &size, err, sizeof(err))) {
	case 1:
		log_warnx("tenant %s: stream %s: %s.tmp: the %jd bytes a "
		    "requeue cut short by a crash left removed", s->s_tid,
		    s->s_name, file, (intmax_t)size);
		break;
	case -1:
		log_warnx("tenant %s: stream %s: %s", s->s_tid, s->s_name,
		    err);
		break;
	}
}

static int
open_dead_letters(struct smgr *m, struct stream *s, char *err, size_t errlen)
{
	char *dir = state_path(m->m_conf, "queue/%s/%s", s->s_tid, s->s_name);
	char *file = state_path(m->m_conf, "queue/%s/%s/dead-letters.jsonl",
	    s->s_tid, s->s_name);
	int rc = 0;
	off_t cut;

	if (state_mkdirs(dir, 0700) < 0) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		rc = -1;
	} else if ((s->s_dead_fd = open(file, O_RDWR | O_APPEND | O_CREAT |
	    O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		snprintf(err, errlen, "open %s: %s", file, strerror(errno));
		rc = -1;
	} else if ((cut = jsonline_cut_torn(s->s_dead_fd)) < 0) {
		log_warn("tenant %s: stream %s: %s: a line cut short by a "
		    "crash cannot be cut off", s->s_tid, s->s_name, file);
	} else if (cut > 0) {
		/* Its message was not released: it comes back. */
		log_warnx("tenant %s: stream %s: %s: %jd bytes of a dead "
		    "letter cut short by a crash removed", s->s_tid,
		    s->s_name, file, (intmax_t)cut);
	}
	if (rc == 0)
		split_gone(s, file);
	free(dir);
	free(file);
	return rc;
}

static int
open_instnum(struct smgr *m, struct stream *s, char *err, size_t errlen)
{
	char *dir = state_path(m->m_conf, "queue/%s/%s", s->s_tid, s->s_name);
	int rc = instnum_open(&s->s_instnum, dir, err, errlen);

	free(dir);
	return rc;
}

/* joins: s is a subscription, whose list made now says it joins. */
static int
open_settled(struct smgr *m, struct stream *s, bool joins, char *err,
    size_t errlen)
{
	char *dir = state_path(m->m_conf, "queue/%s/%s", s->s_tid, s->s_name);

	s->s_settled = settled_open(dir, joins, err, errlen);
	free(dir);
	return s->s_settled != NULL ? 0 : -1;
}

static enum journal_mode
journal_mode(const struct conf_stream *c)
{
	if (strcmp(c->s_durability, "fsync") == 0)
		return JOURNAL_FSYNC;
	return strcmp(c->s_durability, "os") == 0 ? JOURNAL_OS :
	    JOURNAL_MEMORY;
}

/* s_mode, not a compare of s_conf's word: store() asks for each message. */
static bool
durable(const struct stream *s)
{
	return s->s_mode != JOURNAL_MEMORY;
}

static struct stream *
root_of(struct stream *s)
{
	return s->s_source != NULL ? s->s_source : s;
}

/* A copy of message seq for subscription s; NULL: ENOMEM. */
static struct qmsg *
copy_to(struct stream *s, uint64_t seq, uint64_t seg, const void *data,
    size_t len)
{
	struct qmsg *m = queue_restore(&s->s_queue, seq, data, len);

	if (m != NULL)
		m->m_seg = seg;
	return m;
}

/*
 * Whether subscription s is new to the queue on disk: added to the
 * profile while streammgr was down, its settled list made for it and
 * given no floor yet (by this start or one that did not finish). Like
 * one added by reload, it takes the messages accepted from now on
 * (open_journal sets its floor), none that the journal still holds.
 */
static bool
joins_at_start(const struct stream *s)
{
	return s->s_source != NULL && s->s_source->s_journal == NULL &&
	    s->s_settled != NULL && settled_joining(s->s_settled);
}

/*
 * Each member gets the unreleased messages it had not settled (its
 * settled.log). One that every member had settled, its A record not yet
 * written at the crash, is an orphan: released once the journal is open.
 */
static int
restore_one(void *arg, uint64_t seq, uint64_t seg, const void *data,
    size_t len)
{
	struct stream *s = arg;
	bool taken = false;

	if (!settled_has(s->s_settled, seq)) {
		if (copy_to(s, seq, seg, data, len) == NULL)
			return -1;
		taken = true;
	}
	for (size_t k = 0; k < s->s_nsubs; k++)
		if (!joins_at_start(s->s_subs[k]) &&
		    !settled_has(s->s_subs[k]->s_settled, seq)) {
			if (copy_to(s->s_subs[k], seq, seg, data, len) == NULL)
				return -1;
			taken = true;
		}
	if (!taken) {
		struct orphan *v = reallocarray(s->s_orphans,
		    s->s_norphans + 1, sizeof(*v));

		if (v == NULL)
			return -1;
		s->s_orphans = v;
		v[s->s_norphans++] = (struct orphan){ seq, seg };
	}
	return 0;
}

/* After recovery: orphans released, the settled lists' sets freed. */
static void
recovery_done(struct stream *s)
{
	char err[300];

	for (size_t k = 0; k < s->s_norphans; k++)
		journal_release(s->s_journal, s->s_orphans[k].seg,
		    s->s_orphans[k].seq);
	free(s->s_orphans);
	s->s_orphans = NULL;
	if (s->s_norphans > 0) {
		log_info("tenant %s: stream %s: %zu message%s every member "
		    "had settled released", s->s_tid, s->s_name,
		    s->s_norphans, s->s_norphans == 1 ? "" : "s");
		s->s_norphans = 0;
		/* Not fatal: the releases stay noted for the next write. */
		if (journal_commit(s->s_journal, err, sizeof(err)) < 0)
			log_warnx("tenant %s: stream %s: %s (releases not on "
			    "disk yet)", s->s_tid, s->s_name, err);
	}
	settled_loaded_free(s->s_settled);
	for (size_t k = 0; k < s->s_nsubs; k++)
		settled_loaded_free(s->s_subs[k]->s_settled);
}

/*
 * The damaged segments: the messages lost by number, and those whose
 * numbers nothing readable tells (a segment cut to nothing or inside its
 * H with no neighbour to bound it), which may be none or many. Releases
 * they held that cannot be read are lost too, uncounted (no record says
 * how many): the messages they released come back.
 */
static void
report_damage(const struct stream *s, const struct journal_report *r)
{
	char lost[96] = "", uncounted[160] = "";
	const char *where = r->r_kept == 0 ? "set aside as damaged-seg-*.log" :
	    "left in place for want of room (set aside as damaged-seg-*.log "
	    "once their messages are delivered, or by a later start)";

	if (r->r_lost > 0)
		snprintf(lost, sizeof(lost), " (numbers %" PRIu64 "..%" PRIu64
		    ")", r->r_lost_first, r->r_lost_last);
	if (r->r_uncounted > 0)
		snprintf(uncounted, sizeof(uncounted), "; what %" PRIu64
		    " of them lost cannot be counted (no readable record "
		    "gives its numbers)", r->r_uncounted);
	log_warnx("tenant %s: stream %s: %" PRIu64 " damaged queue segment%s "
	    "(%" PRIu64 " unreadable bytes) %s; %" PRIu64 " message%s "
	    "lost%s%s, every readable one kept (releases not readable are "
	    "lost: what they released is delivered again)",
	    s->s_tid, s->s_name, r->r_damaged, r->r_damaged == 1 ? "" : "s",
	    r->r_bad_bytes, where, r->r_lost, r->r_lost == 1 ? "" : "s", lost,
	    uncounted);
}

/* Says what the start found on disk, loss above all. */
static void
report_recovery(const struct stream *s)
{
	const struct journal_report *r = &s->s_recovery;

	if (r->r_messages > 0)
		log_info("tenant %s: stream %s: %" PRIu64 " message%s (%" PRIu64
		    " bytes) restored from the queue on disk", s->s_tid,
		    s->s_name, r->r_messages, r->r_messages == 1 ? "" : "s",
		    r->r_bytes);
	if (r->r_torn_bytes > 0)
		log_warnx("tenant %s: stream %s: %" PRIu64 " bytes of a write "
		    "cut short by a crash removed from the queue's newest "
		    "segment (never answered OK with durability \"fsync\"; "
		    "a reused segment file's earlier records count too)",
		    s->s_tid, s->s_name, r->r_torn_bytes);
	if (r->r_damaged > 0)
		report_damage(s, r);
	if (r->r_no_space != 0)
		log_warnx("tenant %s: stream %s: no room on disk for the "
		    "queue's writes (%s): new messages get THROTTLE no-space "
		    "until a write succeeds", s->s_tid, s->s_name,
		    strerror(r->r_no_space));
}

/* Whether name is one of stream s's subscriptions. */
static bool
has_sub(const struct stream *s, const char *name)
{
	for (size_t k = 0; k < s->s_nsubs; k++)
		if (strcmp(s->s_subs[k]->s_name, name) == 0)
			return true;
	return false;
}

/*
 * Calls fn(s, qfd, name, arg) for each folder of queue/<tenant>/ (qfd) of a
 * subscription of s that its profile no longer has ("<stream>.<name>"):
 * removed while streammgr was down, or by a reload.
 */
static void
each_gone_sub(struct smgr *m, struct stream *s,
    void (*fn)(struct stream *, int, const char *, void *), void *arg)
{
	char *dir = state_path(m->m_conf, "queue/%s", s->s_tid);
	size_t len = strlen(s->s_name);
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			log_warn("tenant %s: stream %s: %s", s->s_tid,
			    s->s_name, dir);
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, s->s_name, len) == 0 &&
		    de->d_name[len] == '.' && !has_sub(s, de->d_name))
			fn(s, dirfd(d), de->d_name, arg);
	closedir(d);
	free(dir);
}

static void
raise_past_dead_letters(struct stream *s, const char *member, uint64_t *next)
{
	char *file = state_path(s->s_mgr->m_conf,
	    "queue/%s/%s/dead-letters.jsonl", s->s_tid, member);
	char err[300];
	uint64_t id;

	if (dead_letter_max_id(file, &id, err, sizeof(err)) < 0)
		log_warnx("tenant %s: stream %s: %s: dead-letter ids may be "
		    "given again", s->s_tid, member, err);
	else if (id >= *next)
		*next = id + 1;
	free(file);
}

/* each_gone_sub: *arg past that subscription's letters (a folder). */
static void
past_gone_letters(struct stream *s, int qfd, const char *name, void *arg)
{
	struct stat st;

	if (fstatat(qfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		raise_past_dead_letters(s, name, arg);
}

/*
 * The number after every dead letter of s's group: their ids must not be
 * given again, and durability "memory" leaves no trace of them in the
 * journal. A file that cannot be read is said and passed over. Those of
 * a subscription removed are read too: its file stays, and one of that
 * name put back finds its letters there.
 */
static uint64_t
after_dead_letters(struct stream *s)
{
	uint64_t next = 1;

	for (size_t k = 0; k <= s->s_nsubs; k++)
		raise_past_dead_letters(s, k == 0 ? s->s_name :
		    s->s_subs[k - 1]->s_name, &next);
	each_gone_sub(s->s_mgr, s, past_gone_letters, &next);
	return next;
}

/*
 * The lowest number s's group may give next beside the journal's: above
 * every dead letter's id, at least every member's floor, and above every
 * number a member's list holds. A floor set while the queue was in
 * memory may be above anything on disk; numbers below it would count as
 * settled for that member at the next recovery. So would a number given
 * again whose first message a power cut (or damage) took off the journal
 * after the member settled it.
 */
static uint64_t
next_at_least(struct stream *s)
{
	uint64_t next = after_dead_letters(s);

	for (size_t k = 0; k <= s->s_nsubs; k++) {
		struct stream *member = k == 0 ? s : s->s_subs[k - 1];

		if (settled_floor(member->s_settled) > next)
			next = settled_floor(member->s_settled);
		if (settled_top(member->s_settled) >= next)
			next = settled_top(member->s_settled) + 1;
	}
	return next;
}

static int
open_journal(struct smgr *m, struct stream *s, const struct conf_stream *c,
    char *err, size_t errlen)
{
	char *dir = state_path(m->m_conf, "queue/%s/%s", s->s_tid, s->s_name);
	uint64_t next, above;

	s->s_journal = journal_open(dir, journal_mode(c),
	    m->m_conf->p_stream.ps_segment_size, restore_one, s, &next,
	    &s->s_recovery, err, errlen);
	free(dir);
	if (s->s_journal == NULL)
		return -1;
	if ((above = next_at_least(s)) > next) {
		journal_set_next(s->s_journal, above);
		next = above;
	}
	if (queue_set_next(&s->s_queue, next) < 0)
		fatal("%s: queue_set_next", __func__);
	for (size_t k = 0; k < s->s_nsubs; k++)
		if (s->s_subs[k]->s_settled != NULL &&
		    settled_joining(s->s_subs[k]->s_settled))
			set_floor(s->s_subs[k], s);
	report_recovery(s);
	recovery_done(s);
	return 0;
}

/* What a stream and a subscription both have: name, dead letters, work
 * socket. NULL with err set. */
static struct stream *
member_new(struct smgr *m, struct conf_tenant *t, const struct conf_stream *c,
    char *err, size_t errlen)
{
	struct stream *s = calloc(1, sizeof(*s));

	if (s == NULL || queue_init(&s->s_queue) < 0)
		fatal("%s: calloc", __func__);
	s->s_mgr = m;
	s->s_dead_fd = -1;
	s->s_held_tail = &s->s_held;
	snprintf(s->s_tid, sizeof(s->s_tid), "%s", t->t_id);
	snprintf(s->s_name, sizeof(s->s_name), "%s", c->s_name);
	TAILQ_INIT(&s->s_instances);
	s->s_sv = (struct sv){ .sv_state = SV_RUNNING };
	s->s_last_tick_ms = clock_mono_ms();
	s->s_tenant = conf_tenant_ref(t);
	s->s_conf = c;
	s->s_mode = journal_mode(c);
	s->s_desired = (int)c->s_instances.i_initial;
	/* Only a fanned-out stream's members keep settled lists. */
	if (open_dead_letters(m, s, err, errlen) < 0 ||
	    open_instnum(m, s, err, errlen) < 0 ||
	    ((c->s_parent != NULL || c->s_nsubs > 0) &&
	    open_settled(m, s, c->s_parent != NULL, err, errlen) < 0) ||
	    (s->s_work = bind_work(m, s, err, errlen)) == NULL) {
		stream_free(s);
		return NULL;
	}
	s->s_ack_ev = evtimer_new(m->m_base, on_ack_timeout, s);
	if (s->s_ack_ev == NULL)
		fatalx("%s: cannot watch the sockets", __func__);
	return s;
}

/*
 * Subscription s of r joins a running stream (added, or put back by
 * reload): the messages accepted before are not its own, after a
 * restart either.
 */
static void
set_floor(struct stream *s, struct stream *r)
{
	char err[300];

	if (r->s_journal != NULL && s->s_settled != NULL &&
	    settled_set_floor(s->s_settled, r->s_queue.q_next, err,
	    sizeof(err)) < 0)
		log_warnx("tenant %s: stream %s: %s (after a restart it may "
		    "get messages accepted before it)", s->s_tid, s->s_name,
		    err);
}

struct stream *
stream_add_sub(struct stream *r, struct conf_tenant *t,
    const struct conf_stream *c, char *err, size_t errlen)
{
	struct stream *s, **v;

	/* A stream that gains its first subscription by reload starts its
	 * own list now. */
	if (r->s_settled == NULL && open_settled(r->s_mgr, r, false, err,
	    errlen) < 0)
		return NULL;
	if ((s = member_new(r->s_mgr, t, c, err, errlen)) == NULL)
		return NULL;
	set_floor(s, r);
	if ((v = reallocarray(r->s_subs, r->s_nsubs + 1, sizeof(*v))) == NULL)
		fatal("%s: reallocarray", __func__);
	r->s_subs = v;
	v[r->s_nsubs++] = s;
	s->s_source = r;
	return s;
}

/*
 * The settled lists of s's subscriptions that its profile no longer
 * has: removed while streammgr was down. Deleted, as a removal by reload
 * deletes the list (stream_abandon): recovery then releases what only
 * they held, and one put back later starts afresh from a floor. Their
 * dead letters and instance numbers stay.
 */
static void
drop_gone_list(struct stream *s, int qfd, const char *name, void *arg)
{
	char list[300];

	(void)arg;
	snprintf(list, sizeof(list), "%s/settled.log", name);
	if (unlinkat(qfd, list, 0) == 0)
		log_info("tenant %s: subscription %s: removed from the "
		    "profile while streammgr was down: what it held is "
		    "released", s->s_tid, name);
	else if (errno != ENOENT && errno != ENOTDIR)
		log_warn("tenant %s: subscription %s: %s", s->s_tid, name,
		    list);
}

static void
drop_gone_lists(struct smgr *m, struct stream *s)
{
	each_gone_sub(m, s, drop_gone_list, NULL);
}

/*
 * Whether stream s has a settled list on disk though its profile has no
 * subscription left: the last one removed while streammgr was down. The
 * list still says what the stream's app settled while the subscription
 * held those messages; recovery must not give them to it again.
 */
static bool
had_list(struct smgr *m, const struct stream *s)
{
	char *file = state_path(m->m_conf, "queue/%s/%s/settled.log",
	    s->s_tid, s->s_name);
	bool there = access(file, F_OK) == 0;

	free(file);
	return there;
}

struct stream *
stream_new(struct smgr *m, struct conf_tenant *t, const struct conf_stream *c,
    char *err, size_t errlen)
{
	struct stream *s = member_new(m, t, c, err, errlen);

	if (s == NULL)
		return NULL;
	/* The subscriptions first: the journal restores into them too. */
	for (size_t k = 0; k < c->s_nsubs; k++)
		if (stream_add_sub(s, t, &c->s_subs[k], err, errlen) == NULL) {
			stream_free_group(s);
			return NULL;
		}
	drop_gone_lists(m, s);
	if (s->s_settled == NULL && had_list(m, s) &&
	    open_settled(m, s, false, err, errlen) < 0) {
		stream_free_group(s);
		return NULL;
	}
	if (open_journal(m, s, c, err, errlen) < 0 ||
	    (s->s_in = bind_ingress(m, s, err, errlen)) == NULL) {
		stream_free_group(s);
		return NULL;
	}
	/* Read for recovery alone: a stream without subscriptions keeps
	 * no list. */
	if (c->s_nsubs == 0 && s->s_settled != NULL) {
		settled_close(s->s_settled, true);
		s->s_settled = NULL;
	}
	s->s_flush_ev = event_new(m->m_base, -1, 0, on_flush, s);
	if (s->s_flush_ev == NULL)
		fatalx("%s: cannot watch the sockets", __func__);
	return s;
}

void
stream_free_group(struct stream *s)
{
	while (s->s_nsubs > 0)
		stream_free(s->s_subs[s->s_nsubs - 1]);
	stream_free(s);
}

/* Takes subscription s out of its stream's list. */
static void
unlink_sub(struct stream *s)
{
	struct stream *r = s->s_source;

	for (size_t k = 0; k < r->s_nsubs; k++)
		if (r->s_subs[k] == s) {
			r->s_subs[k] = r->s_subs[--r->s_nsubs];
			break;
		}
	s->s_source = NULL;
}

void
stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	if (s->s_source != NULL)
		unlink_sub(s);
	if (s->s_nsubs > 0)
		fatalx("%s: stream %s freed before its subscriptions",
		    __func__, s->s_name);
	/* Dead letters not written yet: their messages were not released
	 * (the journal gives them back at the next start). */
	for (size_t k = 0; k < s->s_ndead; k++) {
		free(s->s_dead[k].dp_why);
		free(s->s_dead[k].dp_quality);
	}
	free(s->s_dead);
	held_flush(s);
	free(s->s_subs);
	if (s->s_volatile > 0)
		log_warnx("tenant %s: stream %s: %zu accepted message%s not "
		    "delivered are lost (durability \"memory\")", s->s_tid,
		    s->s_name, s->s_volatile, s->s_volatile == 1 ? "" : "s");
	if (s->s_journal != NULL) {
		char err[300];

		if (journal_commit(s->s_journal, err, sizeof(err)) < 0)
			log_warnx("tenant %s: stream %s: %s (acked messages "
			    "will be delivered again)", s->s_tid, s->s_name,
			    err);
		journal_close(s->s_journal);
	}
	queue_clear(&s->s_queue);
	if (s->s_ack_ev)
		event_free(s->s_ack_ev);
	if (s->s_flush_ev)
		event_free(s->s_flush_ev);
	if (s->s_restart_ev)
		event_free(s->s_restart_ev);
	zrouter_free(s->s_in);
	zrouter_free(s->s_work);
	if (s->s_dead_fd >= 0)
		close(s->s_dead_fd);
	instnum_close(&s->s_instnum);
	squality_free(&s->s_quality);
	flush_settled(s);
	settled_close(s->s_settled, false);
	free(s->s_orphans);
	if (s->s_tenant)
		conf_tenant_unref(s->s_tenant);
	free(s);
}

void
stream_set_conf(struct stream *s, struct conf_tenant *t,
    const struct conf_stream *c)
{
	struct conf_tenant *old = s->s_tenant;

	s->s_tenant = conf_tenant_ref(t);
	s->s_conf = c;
	s->s_mode = journal_mode(c);
	conf_tenant_unref(old);
	/* New messages follow the new durability; held ones stay put. */
	if (s->s_journal != NULL)
		journal_set_mode(s->s_journal, journal_mode(c),
		    s->s_queue.q_next);
	if (s->s_desired < c->s_instances.i_min)
		s->s_desired = (int)c->s_instances.i_min;
	if (s->s_desired > c->s_instances.i_max)
		s->s_desired = (int)c->s_instances.i_max;
}

void
stream_revive(struct stream *s, struct conf_tenant *t,
    const struct conf_stream *c)
{
	char err[300];

	stream_set_conf(s, t, c);
	if (s->s_settled == NULL && (c->s_parent != NULL || c->s_nsubs > 0)) {
		if (open_settled(s->s_mgr, s, s->s_source != NULL, err,
		    sizeof(err)) < 0)
			log_warnx("tenant %s: %s (after a crash it may get "
			    "again what it settled)", s->s_tid, err);
		/* Removed, its list deleted (stream_abandon): it starts
		 * afresh, as a subscription added anew. */
		else if (s->s_source != NULL)
			set_floor(s, s->s_source);
	}
	log_info("tenant %s: %s %s: profile back; serving again", s->s_tid,
	    s->s_source ? "subscription" : "stream", s->s_name);
	supervise_event(s, SE_REVIVE);
}

struct stream *
stream_find(struct smgr *m, const char *tenant, const char *name)
{
	return streamidx_find(&m->m_index, tenant, name);
}

/* ---- releases, dead letters, redelivery -------------------------- */

/*
 * Writes member s's settled list; not fatal, as for releases: an
 * unwritten entry means one more delivery after a restart.
 */
static void
flush_settled(struct stream *s)
{
	char err[300];

	if (s->s_settled != NULL &&
	    settled_flush(s->s_settled, err, sizeof(err)) < 0)
		log_warnx("tenant %s: stream %s: %s (acks not on disk yet)",
		    s->s_tid, s->s_name, err);
}

/* flush_group_settled for one list. */
static bool
flush_one_settled(struct settled *st, bool sync, char *err, size_t errlen)
{
	return st == NULL || (settled_flush(st, err, errlen) == 0 &&
	    (!sync || settled_sync(st, err, errlen) == 0));
}

/*
 * Writes the settled lists of r's whole group now, not at the end of
 * the turn, with sync each one written to synced; false with err when
 * one could not be (what it wrote may be on disk all the same).
 */
static bool
flush_group_settled(struct stream *r, bool sync, char *err, size_t errlen)
{
	bool ok = flush_one_settled(r->s_settled, sync, err, errlen);

	for (size_t k = 0; k < r->s_nsubs; k++)
		if (!flush_one_settled(r->s_subs[k]->s_settled, sync, err,
		    errlen))
			ok = false;
	return ok;
}

/*
 * Numbers of r up to end refused by the disk after its members' entries
 * of them were written (or may have been): never given out again, as a
 * later message under one would be hidden from those members.
 */
static void
skip_numbers(struct stream *r, uint64_t end)
{
	if (queue_set_next(&r->s_queue, end) < 0)
		fatal("%s: queue_set_next", __func__);
	journal_set_next(r->s_journal, end);
}

/* settled_compact: an entry of member arg is needed while another
 * member holds the message. */
static bool
settled_live(void *arg, uint64_t seq)
{
	struct stream *s = arg;

	return held_elsewhere(root_of(s), s, seq);
}

static void
compact_settled(struct stream *s)
{
	char err[300];

	if (s->s_settled == NULL || !settled_wants_compact(s->s_settled))
		return;
	if (settled_compact(s->s_settled, settled_live, s, err,
	    sizeof(err)) < 0)
		log_warnx("tenant %s: stream %s: %s", s->s_tid, s->s_name,
		    err);
}

/* Writes the releases and settled lists noted in this loop turn. */
static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	char err[300];

	(void)fd;
	(void)what;
	/* Dead letters first: their releases go in this commit. */
	flush_dead(s);
	for (size_t k = 0; k < s->s_nsubs; k++)
		flush_dead(s->s_subs[k]);
	/* Not fatal: an unwritten release means one more delivery after a
	 * restart, and it is tried again with the next write. */
	if (journal_commit(s->s_journal, err, sizeof(err)) < 0)
		log_warnx("tenant %s: stream %s: %s (acks not on disk yet)",
		    s->s_tid, s->s_name, err);
	flush_settled(s);
	compact_settled(s);
	for (size_t k = 0; k < s->s_nsubs; k++) {
		flush_settled(s->s_subs[k]);
		compact_settled(s->s_subs[k]);
	}
}

/* Asks for the flush at the end of this loop turn. */
static void
want_flush(struct stream *r)
{
	if (!event_pending(r->s_flush_ev, EV_TIMEOUT, NULL))
		event_active(r->s_flush_ev, EV_TIMEOUT, 0);
}

/* Member s will not need message seq that others hold (it settled it,
 * or never takes it): noted in its settled list when stored on disk. */
static void
note_settled(struct stream *s, const struct qmsg *m)
{
	struct stream *r = root_of(s);

	if (m->m_seg == 0 || s->s_settled == NULL)
		return;
	settled_note(s->s_settled, m->m_seq);
	want_flush(r);
}

/* Whether a member of r's group other than s still holds message seq. */
static bool
held_elsewhere(const struct stream *r, const struct stream *s, uint64_t seq)
{
	if (r != s && queue_get(&r->s_queue, seq) != NULL)
		return true;
	for (size_t k = 0; k < r->s_nsubs; k++)
		if (r->s_subs[k] != s && queue_get(&r->s_subs[k]->s_queue,
		    seq) != NULL)
			return true;
	return false;
}

/*
 * A message leaves member s's queue for good (acked, dead-lettered, or
 * the subscription removed); the stream releases it from the journal
 * when no member holds it any more.
 */
static void
release(struct stream *s, struct qmsg *m)
{
	struct stream *r = root_of(s);

	if (held_elsewhere(r, s, m->m_seq))
		note_settled(s, m);
	else if (m->m_seg != 0) {
		journal_release(r->s_journal, m->m_seg, m->m_seq);
		want_flush(r);
	} else if (r->s_volatile > 0)
		r->s_volatile--;
	queue_remove(&s->s_queue, m);
}

void
stream_abandon(struct stream *s)
{
	struct instance *i, *next;
	struct qmsg *m;
	size_t n = 0;

	while ((m = queue_first(&s->s_queue)) != NULL) {
		unhold(m);
		release(s, m);
		n++;
	}
	if (n > 0)
		log_info("tenant %s: stream %s: %zu message%s held for it "
		    "released", s->s_tid, s->s_name, n, n == 1 ? "" : "s");
	/* An instance draining (scaled down, stopped) waited for these:
	 * it holds nothing now. */
	TAILQ_FOREACH_SAFE(i, &s->s_instances, i_entry, next)
		supervise_instance(i, IE_SETTLED);
	/* Gone for good: a subscription added again starts afresh. */
	settled_close(s->s_settled, true);
	s->s_settled = NULL;
	stream_check_idle(s);
}

/*
 * Appends len bytes to the dead-letter file, on disk before it returns
 * with durability "fsync". On failure the file is cut back to where it
 * was, so no half line is left.
 */
static int
dead_letters_append(struct stream *s, const char *data, size_t len)
{
	off_t end = lseek(s->s_dead_fd, 0, SEEK_END);
	int saved;

	if (end >= 0 && write(s->s_dead_fd, data, len) == (ssize_t)len &&
	    (s->s_mode != JOURNAL_FSYNC ||
	    fdatasync(s->s_dead_fd) == 0))
		return 0;
	saved = errno;
	if (end >= 0 && ftruncate(s->s_dead_fd, end) < 0)
		log_warn("ftruncate dead-letters.jsonl");
	errno = saved;
	return -1;
}

/*
 * Keeps in-flight m held by no instance until ack_timeout, when it comes
 * back as any message not acked does: its dead letter could not be
 * written, and given back at once to an app that rejects it at once it
 * would go round as fast as the app answers.
 */
static void
hold_back(struct stream *s, struct qmsg *m)
{
	queue_hold(&s->s_queue, m, clock_mono_ms() +
	    s->s_conf->s_ack_timeout_ms);
	arm_ack_timer(s);
}

/*
 * A line about one of s's messages, a second at most after the last of
 * its kind (lr), saying how many went unlogged since ("N more <what>"):
 * an app that rejects, or holds, every message would otherwise write one
 * to the platform's log for each (each is counted, and a dead letter is
 * in dead-letters.jsonl with its reason).
 */
static void LOG_FMT(4, 5)
log_rated(struct stream *s, struct lograte *lr, const char *what,
    const char *fmt, ...)
{
	uint64_t unlogged;
	char text[1024], more[96] = "";
	va_list ap;

	if (!lograte_due(lr, clock_mono_ms(), &unlogged))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (unlogged > 0)
		snprintf(more, sizeof(more), " (%" PRIu64 " more %s since the "
		    "last such line)", unlogged, what);
	log_info("tenant %s: stream %s: %s%s", s->s_tid, s->s_name, text,
	    more);
}

/* A dead letter written: m leaves the queue, counted. */
static void
dead_lettered(struct stream *s, struct qmsg *m, const struct dead_pending *d)
{
	if (s->s_dead_failing)
		log_info("tenant %s: stream %s: dead letters are written "
		    "again", s->s_tid, s->s_name);
	s->s_dead_failing = false;
	s->s_n.dead_letters++;
	if (d->dp_quality != NULL) {
		/* Counted once, as its dead letter: one held back by a full
		 * disk is rejected again later. */
		s->s_n.quality_rejected++;
		squality_count(&s->s_quality, &s->s_conf->s_quality,
		    d->dp_quality);
	}
	log_rated(s, &s->s_dead_logged, "dead-lettered", "message %" PRIu64
	    " dead-lettered after %u deliveries: %s", m->m_seq,
	    m->m_deliveries, d->dp_why);
	publish_event(s, "dead-letter", d->dp_why);
	release(s, m);
}

/*
 * Moves an in-flight message to the dead letters, with the others of
 * this turn (flush_dead): held by no instance meanwhile, so neither its
 * holder's exit nor a late ACK gives it back. quality: the app's reason
 * when it is a data quality rule's, else NULL.
 */
static void
dead_letter(struct stream *s, struct qmsg *m, const char *why,
    const char *quality)
{
	struct dead_pending *d;

	if (s->s_ndead == s->s_dead_cap) {
		size_t cap = s->s_dead_cap ? 2 * s->s_dead_cap : 16;

		if ((d = reallocarray(s->s_dead, cap, sizeof(*d))) == NULL)
			fatal("%s: reallocarray", __func__);
		s->s_dead = d;
		s->s_dead_cap = cap;
	}
	d = &s->s_dead[s->s_ndead++];
	d->dp_seq = m->m_seq;
	d->dp_deadline_ms = clock_mono_ms() + s->s_conf->s_ack_timeout_ms;
	d->dp_why = strdup(why);
	d->dp_quality = quality != NULL ? strdup(quality) : NULL;
	if (d->dp_why == NULL || (quality != NULL && d->dp_quality == NULL))
		fatal("%s: strdup", __func__);
	queue_hold(&s->s_queue, m, d->dp_deadline_ms);
	want_flush(root_of(s));
}

/* The message d is for, if it is still held for it, else NULL. */
static struct qmsg *
dead_message(struct stream *s, const struct dead_pending *d)
{
	struct qmsg *m = queue_get(&s->s_queue, d->dp_seq);

	if (m == NULL || m->m_state != QM_INFLIGHT || m->m_holder != NULL ||
	    m->m_deadline_ms != d->dp_deadline_ms)
		return NULL;
	return m;
}

/*
 * The lines of the dead letters d[0..n) whose messages are still held for
 * them (ms[k], else NULL), in one buffer of *len bytes (NULL: none).
 */
static char *
dead_lines(struct stream *s, const struct dead_pending *d, size_t n,
    struct qmsg **ms, size_t *len)
{
	size_t cap = 0, jlen;
	char *buf = NULL, *json;

	*len = 0;
	for (size_t k = 0; k < n; k++) {
		if ((ms[k] = dead_message(s, &d[k])) == NULL)
			continue;
		json = dead_letter_format(s->s_tid, s->s_name, ms[k]->m_seq,
		    ms[k]->m_deliveries, d[k].dp_why, ms[k]->m_data,
		    ms[k]->m_len, &jlen);
		if (json == NULL)
			fatalx("%s: dead_letter_format", __func__);
		if (*len + jlen > cap) {
			cap = 2 * (*len + jlen);
			if ((buf = realloc(buf, cap)) == NULL)
				fatal("%s: realloc", __func__);
		}
		memcpy(buf + *len, json, jlen);
		*len += jlen;
		bson_free(json);
	}
	return buf;
}

/* A dead letter not written (err): m stays, held back for ack_timeout. */
static void
dead_kept(struct stream *s, struct qmsg *m, const char *why, int err)
{
	if (!s->s_dead_failing) {
		errno = err;
		log_warn("tenant %s: stream %s: message %" PRIu64 " kept in "
		    "the queue, tried again after ack_timeout, as is every "
		    "message until a dead letter is written: cannot write it "
		    "to dead-letters.jsonl (%s)", s->s_tid, s->s_name,
		    m->m_seq, why);
	}
	s->s_dead_failing = true;
	hold_back(s, m);
}

/*
 * Writes this turn's dead letters in one write, on disk (one sync) with
 * durability "fsync" before any of their messages is released. When they
 * cannot be written (a full disk) their messages stay in the queue
 * instead (dead_kept). One given back meanwhile (the queue cleared) is
 * left out.
 */
static void
flush_dead(struct stream *s)
{
	struct dead_pending *d = s->s_dead;
	size_t n = s->s_ndead, len;
	struct qmsg **ms;
	char *buf;
	int rc = 0, err = 0;

	if (n == 0)
		return;
	/* Taken: whatever the releases below may cause starts a new list. */
	s->s_dead = NULL;
	s->s_ndead = s->s_dead_cap = 0;
	if ((ms = calloc(n, sizeof(*ms))) == NULL)
		fatal("%s: calloc", __func__);
	buf = dead_lines(s, d, n, ms, &len);
	if (len > 0 && (rc = dead_letters_append(s, buf, len)) < 0)
		err = errno;
	free(buf);
	for (size_t k = 0; k < n; k++) {
		if (ms[k] != NULL && rc == 0)
			dead_lettered(s, ms[k], &d[k]);
		else if (ms[k] != NULL)
			dead_kept(s, ms[k], d[k].dp_why, err);
		free(d[k].dp_why);
		free(d[k].dp_quality);
	}
	free(ms);
	free(d);
	/* A drain may have waited for these (an ack timeout's: its own
	 * check came before). */
	if (rc == 0)
		stream_check_idle(s);
}

/* Takes m from its holder's count (the holder may be NULL: gone). */
static void
unhold(struct qmsg *m)
{
	struct instance *i = m->m_holder;

	if (i != NULL && i->i_inflight > 0)
		i->i_inflight--;
}

/* An in-flight message comes back: again, or to the dead letters. */
static void
give_back(struct stream *s, struct qmsg *m, const char *why)
{
	struct instance *holder = m->m_holder;

	unhold(m);
	if (m->m_deliveries >= s->s_conf->s_max_deliveries) {
		char reason[400];

		snprintf(reason, sizeof(reason), "%.300s (delivered %u times, "
		    "max_deliveries %lld)", why, m->m_deliveries,
		    (long long)s->s_conf->s_max_deliveries);
		dead_letter(s, m, reason, NULL);
	} else
		queue_requeue(&s->s_queue, m);
	if (holder != NULL)
		supervise_instance(holder, IE_SETTLED);
}

void
stream_release(struct stream *s, struct instance *i, const char *why)
{
	struct qmsg *m, *next;

	TAILQ_FOREACH_SAFE(m, &s->s_queue.q_inflight, m_entry, next)
		if (m->m_holder == i)
			give_back(s, m, why);
	stream_dispatch(s);
}

static void
arm_ack_timer(struct stream *s)
{
	struct qmsg *m = queue_oldest(&s->s_queue);
	uint64_t now;

	if (m == NULL || evtimer_pending(s->s_ack_ev, NULL))
		return;
	now = clock_mono_ms();
	clock_timer_in(s->s_ack_ev, m->m_deadline_ms > now ?
	    m->m_deadline_ms - now : 0);
}

static void
on_ack_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	uint64_t now = clock_mono_ms();
	struct qmsg *m;

	(void)fd;
	(void)what;
	while ((m = queue_oldest(&s->s_queue)) != NULL &&
	    m->m_deadline_ms <= now) {
		struct instance *i = m->m_holder;

		log_rated(s, &s->s_late_logged, "not acked in time", "message %"
		    PRIu64 " not acked by %s within ack_timeout", m->m_seq,
		    i ? i->i_id : "?");
		give_back(s, m, "ack timeout");
	}
	stream_dispatch(s);
	/* libevent's clock is coarser than ours: a timer that fired a few
	 * ms before the oldest deadline must be set again, or the messages
	 * held would never time out. */
	arm_ack_timer(s);
	stream_check_idle(s);
}

/* ---- delivery ------------------------------------------------------ */

static bool
can_take(const struct instance *i)
{
	return lifecycle_inst_takes(i->i_state) && i->i_inflight < i->i_credit;
}

/*
 * Queues m to i, for fill to write with those after it. Returns 0, or
 * -1: i's connection is gone (EHOSTUNREACH), or EAGAIN: its queue is
 * full (WORK_OUT_MAX).
 */
static int
send_delivery(struct stream *s, struct instance *i, struct qmsg *m)
{
	unsigned char id[8];

	for (int b = 0; b < 8; b++)
		id[b] = (unsigned char)(m->m_seq >> (56 - 8 * b));
	return zrouter_queue(s->s_work, i->i_rid, i->i_ridlen,
	    (const struct zmtp_frame[]){ { id, sizeof(id) },
	    { m->m_data, m->m_len } }, 2);
}

/*
 * Sends n messages to i as one batched delivery [""][deliveries], built
 * in the manager's scratch buffer (what the socket does not take at once
 * is copied behind it). Returns 0, or -1 as send_delivery (or ENOMEM).
 */
static int
send_batch(struct stream *s, struct instance *i, struct qmsg **ms, size_t n)
{
	struct smgr *m = s->s_mgr;
	size_t size = 0;
	unsigned char *p;

	for (size_t k = 0; k < n; k++)
		size += WB_DELIVERY_OVERHEAD + ms[k]->m_len;
	if (size > m->m_scratch_cap) {
		if ((p = realloc(m->m_scratch, size)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		m->m_scratch = p;
		m->m_scratch_cap = size;
	}
	p = m->m_scratch;
	for (size_t k = 0; k < n; k++)
		p = wb_write_delivery(p, ms[k]->m_seq, ms[k]->m_data,
		    ms[k]->m_len);
	return zrouter_send(s->s_work, i->i_rid, i->i_ridlen,
	    (const struct zmtp_frame[]){ { "", 0 }, { m->m_scratch, size } },
	    2);
}

/* i's connection is gone: its exit will follow. ms go back, uncounted. */
static void
undeliverable(struct stream *s, struct instance *i, struct qmsg **ms,
    size_t n)
{
	log_warnx("tenant %s: stream %s: instance %s: cannot deliver: %s",
	    s->s_tid, s->s_name, i->i_id, strerror(errno));
	supervise_instance(i, IE_BYE);
	for (size_t k = 0; k < n; k++)
		queue_unsend(&s->s_queue, ms[k]);
}

/*
 * Sends ms (n of them, 1 unless i takes batches) to i and counts the
 * redeliveries. Returns false when they could not go: they go back,
 * pending (counted in max_queue_bytes), for i when its queue has room
 * again (the work socket's room callback, work_room), or for another;
 * when i's connection is gone, i is leaving.
 */
static bool
deliver(struct stream *s, struct instance *i, struct qmsg **ms, size_t n)
{
	if ((i->i_batch ? send_batch(s, i, ms, n) :
	    send_delivery(s, i, ms[0])) < 0) {
		i->i_inflight -= (uint32_t)n;
		if (errno != EAGAIN)
			undeliverable(s, i, ms, n);
		else
			for (size_t k = 0; k < n; k++)
				queue_unsend(&s->s_queue, ms[k]);
		return false;
	}
	for (size_t k = 0; k < n; k++)
		if (ms[k]->m_deliveries > 1)
			s->s_n.redelivered++;
	return true;
}

/*
 * Fills i's credit from the queue: one delivery at a time, or batches of
 * up to DELIVERY_BATCH messages and DELIVERY_BYTES when i takes them.
 * Returns whether anything was sent.
 */
static bool
fill_credit(struct stream *s, struct instance *i, uint64_t deadline)
{
	struct qmsg *batch[DELIVERY_BATCH], *m;
	size_t n = 0, bytes = 0, max = i->i_batch ? DELIVERY_BATCH : 1;
	bool sent = false;

	while (can_take(i) && (m = queue_next(&s->s_queue)) != NULL) {
		queue_deliver(&s->s_queue, m, i, deadline);
		i->i_inflight++;
		batch[n++] = m;
		bytes += m->m_len;
		if (n < max && bytes < DELIVERY_BYTES)
			continue;
		if (!deliver(s, i, batch, n))
			return sent;
		sent = true;
		n = bytes = 0;
	}
	return (n > 0 && deliver(s, i, batch, n)) || sent;
}

/*
 * fill_credit, then the single deliveries it queued (send_delivery) in
 * one write: a sendmsg for each cost about 2 µs of the loop's time a
 * message (docs/benchmarks.md, "Protocol 1").
 */
static bool
fill(struct stream *s, struct instance *i, uint64_t deadline)
{
	bool sent = fill_credit(s, i, deadline);

	if (sent && !i->i_batch)
		zrouter_flush(s->s_work, i->i_rid, i->i_ridlen);
	return sent;
}

void
stream_dispatch(struct stream *s)
{
	struct instance *i, *start;
	uint64_t deadline = clock_mono_ms() + s->s_conf->s_ack_timeout_ms;
	bool sent = false;

	if (TAILQ_EMPTY(&s->s_instances) || s->s_queue.q_pending == 0)
		return;
	start = s->s_rr ? s->s_rr : TAILQ_FIRST(&s->s_instances);
	i = start;
	do {
		sent |= fill(s, i, deadline);
		if ((i = TAILQ_NEXT(i, i_entry)) == NULL)
			i = TAILQ_FIRST(&s->s_instances);
	} while (i != start && s->s_queue.q_pending > 0);
	/* Next time start after the instance that was served first. */
	s->s_rr = TAILQ_NEXT(start, i_entry);
	if (sent)
		arm_ack_timer(s);
}

/* ---- ingress ------------------------------------------------------- */

/*
 * A refusal over a quota: counted, and reported (log and event) at most
 * once a second per kind with the number refused in between.
 */
static void
violation(struct stream *s, enum violation v, const char *what)
{
	static const char *const kinds[V_COUNT] = { "size", "rate",
	    "queue-bytes", "disk", "memory" };
	uint64_t unreported;
	char detail[400];

	if (!lograte_due(&s->s_viol[v], clock_mono_ms(), &unreported))
		return;
	snprintf(detail, sizeof(detail), "%s: %s (%" PRIu64 " more refused "
	    "since the last report)", kinds[v], what, unreported);
	log_warnx("tenant %s: stream %s: violation %s", s->s_tid, s->s_name,
	    detail);
	publish_event(s, "violation", detail);
}

/* Whether subscription s takes copies of new messages: not while it is
 * draining, drained or retiring (docs/architecture.md, "Fan-out"). */
static bool
subscribed(const struct stream *s)
{
	return lifecycle_refusal(&s->s_sv) == NULL;
}

/*
 * Removes every member's messages numbered from seq on (never stored),
 * and what members noted as settled of them: the numbers are given out
 * again. counted: the members' accepted counted them (an admission;
 * not a requeue, nor a copy that failed half way).
 */
static void
drop_tail_all(struct stream *r, uint64_t seq, bool counted)
{
	queue_drop_tail(&r->s_queue, seq);
	settled_unnote_from(r->s_settled, seq);
	for (size_t k = 0; k < r->s_nsubs; k++) {
		struct stream *sub = r->s_subs[k];
		size_t n = queue_drop_tail(&sub->s_queue, seq);

		if (counted)
			sub->s_n.accepted -= n;
		settled_unnote_from(sub->s_settled, seq);
	}
}

/* Stream r stores message m: in the journal's batch when durable. */
static void
store(struct stream *r, struct qmsg *m, const void *data, size_t len)
{
	if (durable(r))
		m->m_seg = journal_add(r->s_journal, m->m_seq, data, len);
	else
		r->s_volatile++;
}

/*
 * Adds a message to the queue of stream s and of each subscription that
 * takes it, stored once (the journal's batch, written at the next
 * commit, when the stream is durable). Returns 0 or -1 (ENOMEM).
 */
static int
enqueue(struct stream *s, const void *data, size_t len)
{
	struct qmsg *m = queue_append(&s->s_queue, data, len);

	if (m == NULL) {
		log_warn("tenant %s: stream %s: queue_append", s->s_tid,
		    s->s_name);
		return -1;
	}
	for (size_t k = 0; k < s->s_nsubs; k++)
		if (subscribed(s->s_subs[k]) && copy_to(s->s_subs[k], m->m_seq,
		    0, data, len) == NULL) {
			log_warn("tenant %s: stream %s: queue_append",
			    s->s_tid, s->s_subs[k]->s_name);
			drop_tail_all(s, m->m_seq, false);
			return -1;
		}
	store(s, m, data, len);
	for (size_t k = 0; k < s->s_nsubs; k++) {
		struct qmsg *c = queue_get(&s->s_subs[k]->s_queue, m->m_seq);

		if (c != NULL) {
			c->m_seg = m->m_seg;
			s->s_subs[k]->s_n.accepted++;
		} else	/* draining: not its after a restart either */
			note_settled(s->s_subs[k], m);
	}
	return 0;
}

/*
 * A requeued dead letter goes back to member s alone, under a new number
 * of its stream. Returns 0 or -1 (ENOMEM).
 */
static int
enqueue_for(struct stream *s, const void *data, size_t len)
{
	struct stream *r = root_of(s);
	uint64_t seq = r->s_queue.q_next;
	struct qmsg *m;

	if (s == r)
		m = queue_append(&r->s_queue, data, len);
	else if ((m = queue_restore(&s->s_queue, seq, data, len)) != NULL &&
	    queue_set_next(&r->s_queue, seq + 1) < 0)
		fatal("%s: queue_set_next", __func__);
	if (m == NULL) {
		log_warn("tenant %s: stream %s: queue_append", s->s_tid,
		    s->s_name);
		return -1;
	}
	store(r, m, data, len);
	/* The others never get it, after a restart either. */
	if (s != r)
		note_settled(r, m);
	for (size_t k = 0; k < r->s_nsubs; k++)
		if (r->s_subs[k] != s)
			note_settled(r->s_subs[k], m);
	return 0;
}

/* Takes a token for one message; false when the rate is used up. */
static bool
take_token(struct stream *s, uint64_t now)
{
	return bucket_take(&s->s_rate,
	    (double)s->s_conf->s_max_messages_per_second, now);
}

/*
 * The member whose held bytes len more would take past max_queue_bytes
 * (the stream itself, or a subscription that takes the message), or
 * NULL: each holds its own backlog, and the slowest one sets the limit.
 */
static struct stream *
over_queue(struct stream *s, size_t len)
{
	uint64_t max = s->s_conf->s_max_queue_bytes;

	if (s->s_queue.q_bytes + len > max)
		return s;
	for (size_t k = 0; k < s->s_nsubs; k++)
		if (subscribed(s->s_subs[k]) &&
		    s->s_subs[k]->s_queue.q_bytes + len > max)
			return s->s_subs[k];
	return NULL;
}

/*
 * What the message adds in memory with a copy for each member that takes
 * it, which stream.max_memory bounds together with what every queue of
 * the node holds: the node's bound, whichever tenant sends.
 * max_queue_bytes counts payloads only, and queues hold blocks (a
 * million one-byte messages: 80 MB held for 1 MB counted). now:
 * what the queues' open blocks leave room for is free; else the most it
 * can add, with every queue empty.
 */
static uint64_t
memory_cost(const struct stream *s, size_t len, bool now)
{
	/* Each copy takes the stream's number (enqueue), which may be
	 * pages past a subscription's own next one: one that took no copy
	 * of a requeued dead letter, or of numbers a restart skipped. */
	uint64_t seq = s->s_queue.q_next;
	uint64_t cost = now ? queue_append_cost(&s->s_queue, seq, len) :
	    queue_cost(len);

	for (size_t k = 0; k < s->s_nsubs; k++)
		if (subscribed(s->s_subs[k]))
			cost += now ? queue_append_cost(&s->s_subs[k]->s_queue,
			    seq, len) : queue_cost(len);
	return cost;
}

/*
 * One of admit's refusals: its reply ("REJECT too-large: ...",
 * "THROTTLE rate: ...") made in buf, *counter one more, and what follows
 * the reason's word reported as a violation of kind v. Returns buf.
 */
static const char * LOG_FMT(6, 7)
refuse(struct stream *s, enum violation v, uint64_t *counter, char *buf,
    size_t buflen, const char *fmt, ...)
{
	const char *detail;
	va_list ap;

	(*counter)++;
	va_start(ap, fmt);
	vsnprintf(buf, buflen, fmt, ap);
	va_end(ap);
	detail = strstr(buf, ": ");
	violation(s, v, detail != NULL ? detail + 2 : buf);
	return buf;
}

/*
 * Decides on one message; returns the reply status. An accepted message
 * is in the queue, and in the journal's batch when the stream is
 * durable: its OK waits for the commit.
 */
static const char *
admit(struct stream *s, const void *data, size_t len, uint64_t now,
    char *buf, size_t buflen)
{
	const struct conf_stream *c = s->s_conf;
	struct stream *full;
	const char *refusal;
	uint64_t cost;

	if ((refusal = lifecycle_refusal(&s->s_sv)) != NULL)
		return refusal;
	if (len == 0)
		return "REJECT empty: no payload";
	if (len > c->s_max_message_size)
		return refuse(s, V_SIZE, &s->s_n.too_large, buf, buflen,
		    "REJECT too-large: %zu bytes > max_message_size %" PRIu64,
		    len, c->s_max_message_size);
	/* Past a bound on empty queues too: it never fits, and a
	 * THROTTLE would have its producer send it again for ever. */
	if (len > c->s_max_queue_bytes)
		return refuse(s, V_SIZE, &s->s_n.too_large, buf, buflen,
		    "REJECT too-large: %zu bytes > max_queue_bytes %" PRIu64,
		    len, c->s_max_queue_bytes);
	if ((cost = memory_cost(s, len, false)) > s->s_mgr->m_max_memory)
		return refuse(s, V_MEMORY, &s->s_n.no_memory, buf, buflen,
		    "REJECT too-large: %zu bytes hold %" PRIu64 " in memory "
		    "with the copies of its members, over stream.max_memory %"
		    PRIu64, len, cost, s->s_mgr->m_max_memory);
	if ((full = over_queue(s, len)) != NULL) {
		if (full != s)
			full->s_n.queue_full++;
		/* A subscription's backlog is named; the stream's own is
		 * not. */
		return refuse(s, V_QUEUE, &s->s_n.queue_full, buf, buflen,
		    "THROTTLE queue-full: max_queue_bytes %" PRIu64
		    " reached%s%s", c->s_max_queue_bytes,
		    full != s ? " by subscription " : "",
		    full != s ? full->s_name : "");
	}
	if (queue_memory() + memory_cost(s, len, true) >
	    s->s_mgr->m_max_memory)
		return refuse(s, V_MEMORY, &s->s_n.no_memory, buf, buflen,
		    "THROTTLE no-memory: the node's queues hold %" PRIu64
		    " bytes of stream.max_memory %" PRIu64, queue_memory(),
		    s->s_mgr->m_max_memory);
	if (!take_token(s, now))
		return refuse(s, V_RATE, &s->s_n.rate_limited, buf, buflen,
		    "THROTTLE rate: over max_messages_per_second %" PRId64,
		    c->s_max_messages_per_second);
	if (enqueue(s, data, len) < 0)
		return "THROTTLE no-memory: streammgr is out of memory";
	s->s_n.accepted++;
	return "OK";
}

/*
 * A reply held until the turn's writes are stored: to one message
 * ([msg-id][status]), or to a batch ([""][header][statuses], protocol 2).
 */
struct reply {
	struct stream	*s;		/* NULL: refused before any stream */
	unsigned char	 rid[RID_MAX];
	unsigned char	 mid[MSG_ID_MAX]; /* msg-id, or the batch's header */
	uint8_t		 ridlen;
	uint8_t		 midlen;
	const char	*status;	/* one message's; NULL: no answer */
	bool		 batch;
	uint32_t	 count;		/* messages answered */
	struct wb_buf	 statuses;	/* batch: kept across turns */
	char		 buf[320];
};

_Static_assert(WB_HEADER_LEN <= MSG_ID_MAX, "a reply echoes a header");

const char *
stream_ingress_check(int nframes, size_t midlen, char *buf, size_t buflen)
{
	if (nframes != 2) {
		snprintf(buf, buflen, "REJECT malformed: expected 2 frames, "
		    "got %d", nframes);
		return buf;
	}
	if (midlen == 0 || midlen > MSG_ID_MAX)
		return "REJECT malformed: msg-id must be 1 to 64 bytes";
	return NULL;
}

const char *
stream_batch_check(const void *header, size_t hlen, const void *records,
    size_t rlen, char *buf, size_t buflen)
{
	const char *why;
	uint64_t first;
	uint32_t count;

	if (!wb_get_header(header, hlen, &first, &count))
		return "REJECT malformed: a batch header is 12 bytes: first "
		    "id, count 1 to 65536";
	if ((why = wb_check_records(records, rlen, count)) != NULL) {
		snprintf(buf, buflen, "REJECT malformed: batch of %" PRIu32
		    ": %s", count, why);
		return buf;
	}
	return NULL;
}

/* A reply to a message of stream s (NULL: none yet), from nobody yet. */
static void
reply_init(struct reply *r, struct stream *s)
{
	r->s = s;
	r->ridlen = 0;
	r->midlen = 0;
	r->status = NULL;
	r->batch = false;
	r->count = 1;
}

/*
 * The msg-id or batch header to echo in a reply: f, or its first max
 * bytes when it is longer (malformed). A producer's 256 MiB msg-id echoed
 * whole would sit in the reply queue of one that does not read.
 */
static void
echo_of(struct reply *r, const struct zmtp_frame *f, size_t max)
{
	r->midlen = (uint8_t)(f->len < max ? f->len : max);
	memcpy(r->mid, f->data, r->midlen);
}

/* Counts a reply's status by its first letter. */
static void
count_status(struct stream *s, const char *status)
{
	if (status[0] == 'T')
		s->s_n.throttled++;
	else if (status[0] == 'R')
		s->s_n.rejected++;
}

/*
 * Receives the frames of a message after its routing id into f (up to
 * 3), dropping any more. Returns how many frames there were.
 */
static int
recv_frames(void *sock, zmq_msg_t *first, zmq_msg_t f[3])
{
	zmq_msg_t *prev = first;
	int n = 0;

	for (int k = 0; k < 3; k++)
		zmq_msg_init(&f[k]);
	while (n < 3 && zmq_msg_more(prev)) {
		if (zmq_msg_recv(&f[n], sock, 0) < 0)
			return n;
		prev = &f[n++];
	}
	if (zmq_msg_more(prev)) {
		zmq_msg_t tmp;
		int more = 1;

		zmq_msg_init(&tmp);
		while (more && zmq_msg_recv(&tmp, sock, 0) >= 0) {
			n++;
			more = zmq_msg_more(&tmp);
		}
		zmq_msg_close(&tmp);
	}
	return n;
}

/*
 * Decides on every message of a batch, one status each, or one status
 * for all when the batch as a whole is malformed (nothing stored).
 */
static void
admit_batch(struct stream *s, const struct zmtp_frame *header,
    const struct zmtp_frame *records, uint64_t now, struct reply *r)
{
	const char *why, *st;
	struct wb_reader rd;
	const void *data;
	uint64_t first;
	size_t len;

	r->batch = true;
	r->statuses.b_len = 0;
	s->s_n.batches++;
	echo_of(r, header, WB_HEADER_LEN);
	why = stream_batch_check(header->data, header->len, records->data,
	    records->len, r->buf, sizeof(r->buf));
	if (why != NULL) {
		r->count = 1;
		s->s_n.rejected++;
		if (wb_put_status(&r->statuses, why, strlen(why)) == -1)
			r->batch = false;	/* no memory: no answer */
		return;
	}
	wb_get_header(header->data, header->len, &first, &r->count);
	wb_reader_init(&rd, records->data, records->len);
	while (wb_next_record(&rd, &data, &len) == 1) {
		st = admit(s, data, len, now, r->buf, sizeof(r->buf));
		count_status(s, st);
		if (wb_put_status(&r->statuses, st, strlen(st)) == -1) {
			/* Stored or not, the producer hears no-reply. */
			r->batch = false;
			return;
		}
	}
}

/*
 * A message refused as a whole before any stream saw it: one status for
 * a single message or for all of a batch's.
 */
static void
refuse_whole(struct reply *r, const struct zmtp_frame *f, size_t n,
    const char *why)
{
	r->s = NULL;
	if (n == 3 && f[0].len == 0) {
		r->batch = true;
		r->statuses.b_len = 0;
		echo_of(r, &f[1], WB_HEADER_LEN);
		if (wb_put_status(&r->statuses, why, strlen(why)) == -1)
			r->batch = false;
	} else if (n >= 1) {
		echo_of(r, &f[0], MSG_ID_MAX);
		r->status = why;
	}
}

/*
 * Decides on a producer's message: its n frames after the routing id
 * (and the route), the first three of them in f, for stream r->s, or
 * refused with why when it is NULL. r->status is NULL and r->batch
 * false when there is nothing to answer.
 */
static void
decide(struct ingress *in, const struct zmtp_frame *f, size_t n,
    const char *why, uint64_t now, struct reply *r)
{
	if (r->s == NULL) {
		refuse_whole(r, f, n, why);
		return;
	}
	if (ingress_note(in, r->s) < 0) {
		/* Too many streams in one turn: the producer tries again. */
		refuse_whole(r, f, n, "THROTTLE busy: too many streams in one "
		    "turn");
		return;
	}
	if (n == 0) {
		r->s->s_n.rejected++;	/* no msg-id to answer to */
	} else if (n == 3 && f[0].len == 0) {
		admit_batch(r->s, &f[1], &f[2], now, r);
	} else {
		echo_of(r, &f[0], MSG_ID_MAX);
		r->status = stream_ingress_check(n > INT_MAX ? INT_MAX :
		    (int)n, f[0].len, r->buf, sizeof(r->buf));
		if (r->status == NULL)
			r->status = admit(r->s, f[1].data, f[1].len, now,
			    r->buf, sizeof(r->buf));
		count_status(r->s, r->status);
	}
}

/*
 * Receives one message of a shared libzmq socket (remote.c), whose
 * first frame after the routing id names the stream (in->route finds
 * it), and decides on it. Returns 0 when there is none, else the number
 * of messages it held.
 */
static uint32_t
receive_one(struct ingress *in, uint64_t now, struct reply *r)
{
	const char *why = "REJECT malformed: no stream named";
	zmq_msg_t rid, route, f[3], *last = &rid;
	struct zmtp_frame v[3];
	int n;

	zmq_msg_init(&rid);
	if (zmq_msg_recv(&rid, in->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&rid);
		return 0;
	}
	reply_init(r, NULL);
	r->ridlen = (uint8_t)(zmq_msg_size(&rid) < RID_MAX ?
	    zmq_msg_size(&rid) : RID_MAX);
	memcpy(r->rid, zmq_msg_data(&rid), r->ridlen);
	zmq_msg_init(&route);
	if (zmq_msg_more(&rid) && zmq_msg_recv(&route, in->sock, 0) >= 0) {
		last = &route;
		r->s = in->route(in->arg, &route, r->buf, sizeof(r->buf));
		why = r->buf;
	}
	n = recv_frames(in->sock, last, f);
	for (int k = 0; k < 3; k++)
		v[k] = (struct zmtp_frame){ zmq_msg_data(&f[k]),
		    zmq_msg_size(&f[k]) };
	decide(in, v, (size_t)n, why, now, r);
	for (int k = 0; k < 3; k++)
		zmq_msg_close(&f[k]);
	zmq_msg_close(&route);
	zmq_msg_close(&rid);
	return r->count;
}

/* A batch's statuses with every OK replaced by text. Returns how many. */
static uint64_t
replace_oks(struct wb_buf *b, const char *text)
{
	struct wb_buf out = { 0 };
	struct wb_reader rd;
	const char *st;
	uint64_t n = 0;
	size_t len;

	wb_reader_init(&rd, b->b_data, b->b_len);
	while (wb_next_status(&rd, &st, &len) == 1) {
		bool ok = len == 2 && memcmp(st, "OK", 2) == 0;

		if (ok)
			n++;
		if (wb_put_status(&out, ok ? text : st,
		    ok ? strlen(text) : len) == -1) {
			wb_free(&out);
			b->b_len = 0;	/* no answer: the producer retries */
			return n;
		}
	}
	wb_free(b);
	*b = out;
	return n;
}

/*
 * Whether a subscription of r takes no copies of new messages (draining,
 * drained) and keeps a list: the turn noted its messages there.
 */
static bool
sub_refuses(const struct stream *r)
{
	for (size_t k = 0; k < r->s_nsubs; k++)
		if (r->s_subs[k]->s_settled != NULL &&
		    !subscribed(r->s_subs[k]))
			return true;
	return false;
}

/*
 * Stores the batch: one write and, with fsync, one fdatasync for all the
 * messages of this turn (group commit). When the disk refuses, the
 * batch's messages leave the queue and their OKs become THROTTLEs: a
 * producer hears OK only for what is stored. Their numbers are given
 * out again, unless a member's entries of them were written first.
 */
static void
commit_batch(struct stream *s, uint64_t first, struct reply *r, int n,
    bool wait)
{
	char err[300], text[320];
	uint64_t refused = 0, end = s->s_queue.q_next;
	bool ahead;

	if (journal_pending(s->s_journal) == 0)
		return;
	/* A subscription that refuses these messages has its entries
	 * written first, not at the end of the turn: a kill between the
	 * journal's write and them would give it the messages at the
	 * restart. */
	ahead = sub_refuses(s);
	if ((!ahead || flush_group_settled(s, false, err, sizeof(err))) &&
	    (wait ? journal_commit(s->s_journal, err, sizeof(err)) :
	    journal_write(s->s_journal, err, sizeof(err))) == 0)
		return;
	journal_drop_batch(s->s_journal);	/* pending if a list failed */
	drop_tail_all(s, first, true);
	if (ahead)
		skip_numbers(s, end);
	snprintf(text, sizeof(text), "THROTTLE no-space: %.290s", err);
	for (int k = 0; k < n; k++) {
		if (r[k].s != s)
			continue;
		if (r[k].batch) {
			refused += replace_oks(&r[k].statuses, text);
			continue;
		}
		if (r[k].status == NULL || r[k].status[0] != 'O')
			continue;
		memcpy(r[k].buf, text, sizeof(text));
		r[k].status = r[k].buf;
		refused++;
	}
	s->s_n.accepted -= refused;
	s->s_n.throttled += refused;
	s->s_n.no_space += refused;
	violation(s, V_DISK, err);
}

/*
 * A reply's frames after the routing id: [msg-id][status], or
 * [""][header][statuses]. Returns how many (0: nothing to answer).
 */
static size_t
reply_frames(const struct reply *r, struct zmtp_frame f[3])
{
	if (r->batch && r->statuses.b_len > 0) {
		f[0] = (struct zmtp_frame){ "", 0 };
		f[1] = (struct zmtp_frame){ r->mid, r->midlen };
		f[2] = (struct zmtp_frame){ r->statuses.b_data,
		    r->statuses.b_len };
		return 3;
	}
	if (!r->batch && r->status != NULL) {
		f[0] = (struct zmtp_frame){ r->mid, r->midlen };
		f[1] = (struct zmtp_frame){ r->status, strlen(r->status) };
		return 2;
	}
	return 0;
}

/*
 * A producer on the node left INGRESS_OUT_MAX of replies unread: cut off
 * rather than left without some of them (it would wait for those for
 * good); it sends again what got no reply.
 */
static void
cut_producer(struct stream *s, const struct reply *r)
{
	log_warnx("tenant %s: stream %s: a producer cut off: it left %zu "
	    "MiB of replies unread", s->s_tid, s->s_name,
	    INGRESS_OUT_MAX >> 20);
	zrouter_cut(s->s_in, r->rid, r->ridlen);
}

/*
 * Sends n replies: on stream fixed's own socket (each peer's written at
 * once when the next reply is another's), or on the shared libzmq sock.
 * A reply its producer is gone for is dropped, as is one a producer on
 * another host does not read (libzmq's high-water mark): the producer
 * sends again.
 */
static void
send_replies(struct stream *fixed, void *sock, const struct reply *r,
    int n)
{
	struct zmtp_frame f[3];
	size_t nf;

	for (int k = 0; k < n; k++) {
		nf = reply_frames(&r[k], f);
		if (fixed != NULL) {
			if (nf > 0 && zrouter_queue(fixed->s_in, r[k].rid,
			    r[k].ridlen, f, nf) == -1 && errno == EAGAIN)
				cut_producer(fixed, &r[k]);
			if (k + 1 == n || r[k + 1].ridlen != r[k].ridlen ||
			    memcmp(r[k + 1].rid, r[k].rid, r[k].ridlen) != 0)
				zrouter_flush(fixed->s_in, r[k].rid,
				    r[k].ridlen);
			continue;
		}
		if (nf == 0 ||
		    zmq_send(sock, r[k].rid, r[k].ridlen, ZMQ_SNDMORE) < 0)
			continue;
		for (size_t j = 0; j < nf; j++)
			if (zmq_send(sock, f[j].data, f[j].len,
			    j + 1 < nf ? ZMQ_SNDMORE : 0) < 0)
				break;
	}
}

/*
 * Notes that this turn admits into s: where its queue stood before, so
 * that a failed commit takes back only this turn's messages.
 */
static int
ingress_note(struct ingress *in, struct stream *s)
{
	for (int k = 0; k < in->ntouched; k++)
		if (in->touched[k].s == s)
			return 0;
	if (in->ntouched == TOUCHED_MAX)
		return -1;
	in->touched[in->ntouched++] = (struct touched){ s, s->s_queue.q_next,
	    s->s_n.accepted };
	return 0;
}

/* Whether the turn has written enough for one commit. */
static bool
ingress_full(const struct ingress *in)
{
	for (int k = 0; k < in->ntouched; k++)
		if (journal_pending(in->touched[k].s->s_journal) >= BATCH_BYTES)
			return true;
	return false;
}

/*
 * OKs held for a sync (syncer.h): a turn of a stream's own ingress
 * socket writes its batch with journal_write, and its replies wait here,
 * in the order of the turns, until a sync begun after that write has
 * ended. Replies of a turn that wrote nothing wait behind the turns
 * before it, so that each producer's replies keep their order.
 */
struct held {
	struct held	*next;
	uint64_t	 gen;		/* the journal's write to await */
	int		 n;
	struct reply	 r[];
};

static void on_synced(void *cookie, uint64_t gen, int err);

/* Takes out a sync of s's journal unless one is out or none is due. */
static void
sync_begin(struct stream *s)
{
	uint64_t gen;
	int fd = journal_sync_begin(s->s_journal, &gen);

	if (fd == -2) {	/* no descriptor (EMFILE): sync on the loop */
		journal_sync(s->s_journal);
		on_synced(s, gen, 0);
	} else if (fd >= 0)
		syncer_sync(fd, gen, on_synced, s);
}

/* Sends the replies of the turns whose writes are synced. */
static void
held_release(struct stream *s)
{
	uint64_t synced = s->s_journal != NULL ?
	    journal_synced(s->s_journal) : UINT64_MAX;
	struct held *h;

	if (s->s_held == NULL)
		return;
	while ((h = s->s_held) != NULL && h->gen <= synced) {
		if ((s->s_held = h->next) == NULL)
			s->s_held_tail = &s->s_held;
		send_replies(s, NULL, h->r, h->n);
		for (int k = 0; k < h->n; k++)
			wb_free(&h->r[k].statuses);
		free(h);
	}
}

/*
 * A sync of s's queue ended. One that failed leaves the file's state
 * unknown (Linux may have dropped the pages it could not write, and a
 * second fdatasync would then succeed on what is not on disk): streammgr
 * stops rather than answer OK for them; a restart reads back what the
 * disk holds, and producers send again what got no OK.
 */
static void
on_synced(void *cookie, uint64_t gen, int err)
{
	struct stream *s = cookie;

	if (err != 0)
		fatalx("tenant %s: stream %s: fdatasync of the queue in %s: "
		    "%s: stopping, as what is on disk is unknown (a restart "
		    "reads it back)", s->s_tid, s->s_name,
		    journal_dir(s->s_journal), strerror(err));
	journal_sync_end(s->s_journal, gen);
	held_release(s);
	sync_begin(s);		/* what was written meanwhile */
}

/*
 * Holds the n replies of this turn behind s's sync when they must wait:
 * the turn wrote messages not yet synced, or earlier turns' replies
 * wait. Returns whether it did (the replies are moved, r[] is reset).
 */
static bool
held_add(struct stream *s, struct reply *r, int n)
{
	uint64_t gen = s->s_journal != NULL ?
	    journal_written(s->s_journal) : 0;
	struct held *h;

	if (n == 0 || (s->s_held == NULL && (s->s_journal == NULL ||
	    journal_synced(s->s_journal) >= gen)))
		return false;
	if ((h = malloc(sizeof(*h) + (size_t)n * sizeof(*r))) == NULL) {
		/* Out of memory: wait for the sync here instead. */
		held_flush(s);
		return false;
	}
	h->next = NULL;
	h->gen = gen;
	h->n = n;
	for (int k = 0; k < n; k++) {
		h->r[k] = r[k];
		if (r[k].status == r[k].buf)
			h->r[k].status = h->r[k].buf;
		r[k].statuses = (struct wb_buf){ 0 };
	}
	*s->s_held_tail = h;
	s->s_held_tail = &h->next;
	if (s->s_journal != NULL)
		sync_begin(s);
	return true;
}

/*
 * Waits for s's syncs and sends every held reply: s is going, and no
 * sync may call back for it after.
 */
static void
held_flush(struct stream *s)
{
	while (s->s_journal != NULL && (journal_syncing(s->s_journal) ||
	    journal_synced(s->s_journal) < journal_written(s->s_journal))) {
		sync_begin(s);
		syncer_wait();
	}
	held_release(s);
}

/* One loop runs at a time: the replies of one turn fit here. */
static struct reply replies[BUDGET];

/*
 * Ends a turn of n messages: stores each stream's in one commit (on a
 * stream's own socket a write, its OKs held for the sync), answers them
 * and dispatches.
 */
static void
end_turn(struct ingress *in, int n)
{
	for (int k = 0; k < in->ntouched; k++)
		commit_batch(in->touched[k].s, in->touched[k].first, replies,
		    n, in->fixed == NULL);
	if (in->fixed == NULL || !held_add(in->fixed, replies, n)) {
		send_replies(in->fixed, in->sock, replies, n);
		/* Kept for the next turn, unless one large batch would hold
		 * its size in this slot for good. */
		for (int k = 0; k < n; k++)
			if (replies[k].statuses.b_cap > STATUSES_KEEP)
				wb_free(&replies[k].statuses);
	}
	/* Sending may have eaten the edge of the socket's ZMQ_FD. */
	if (n > 0 && in->ev != NULL)
		zevent_kick(in->ev);
	for (int k = 0; k < in->ntouched; k++) {
		struct stream *s = in->touched[k].s;

		if (s->s_n.accepted == in->touched[k].accepted)
			continue;
		stream_dispatch(s);
		for (size_t j = 0; j < s->s_nsubs; j++)
			stream_dispatch(s->s_subs[j]);
	}
}

void
stream_ingress(struct ingress *in)
{
	uint64_t now = clock_mono_ms();
	uint32_t got, msgs = 0;
	int n = 0;

	in->ntouched = 0;
	while (n < BUDGET && msgs < BUDGET &&
	    (got = receive_one(in, now, &replies[n])) > 0) {
		n++;
		msgs += got;
		if (ingress_full(in))
			break;
	}
	end_turn(in, n);
}

/*
 * A stream's own producers' socket (zrouter.h): each peer's messages of
 * a loop turn are a turn of the ingress, ended by on_producers_turn.
 */
static struct {
	struct ingress	 in;
	int		 n;
	uint32_t	 msgs;
	uint64_t	 now;
} turn;

static bool
on_producer(void *arg, const unsigned char *rid, size_t ridlen,
    const struct zmtp_msg *m)
{
	struct stream *s = arg;
	struct reply *r;

	if (turn.n == 0) {
		turn.in.fixed = s;
		turn.in.ntouched = 0;
		turn.msgs = 0;
		turn.now = clock_mono_ms();
	}
	r = &replies[turn.n++];
	reply_init(r, s);
	r->ridlen = (uint8_t)ridlen;
	memcpy(r->rid, rid, ridlen);
	decide(&turn.in, m->zm_f, m->zm_nframes, NULL, turn.now, r);
	turn.msgs += r->count;
	return turn.n < BUDGET && turn.msgs < BUDGET &&
	    !ingress_full(&turn.in);
}

static void
on_producers_turn(void *arg)
{
	int n = turn.n;

	(void)arg;
	turn.n = 0;
	end_turn(&turn.in, n);
}

/* ---- requeue of dead letters --------------------------------------- */

/* The room a requeue has, as admit bounds a producer's messages: the
 * stream's max_queue_bytes (payloads) and the node's max_memory (a block
 * and a page kept aside: what its first letter may open). */
struct requeue_room {
	const struct stream *s;
	uint64_t	 payload;
	uint64_t	 memory;
	const char	*full;	/* what a letter waits for */
};

static enum dl_fit
requeue_fits(size_t len, void *arg)
{
	struct requeue_room *rm = arg;
	uint64_t cost = queue_packed_cost(len);

	/* Past a bound on empty queues: waiting would not help (admit's
	 * REJECT too-large). */
	if (len > rm->s->s_conf->s_max_queue_bytes ||
	    queue_cost(len) > rm->s->s_mgr->m_max_memory)
		return DL_NEVER;
	if (len > rm->payload)
		rm->full = "max_queue_bytes";
	else if (cost > rm->memory)
		rm->full = "stream.max_memory";
	else {
		rm->payload -= len;
		rm->memory -= cost;
		return DL_TAKE;
	}
	return DL_WAIT;
}

static struct requeue_room
requeue_room(const struct stream *s)
{
	uint64_t held = s->s_queue.q_bytes, mem = queue_memory() +
	    queue_cost(0), max = s->s_mgr->m_max_memory;

	return (struct requeue_room){
		.s = s,
		.payload = s->s_conf->s_max_queue_bytes > held ?
		    s->s_conf->s_max_queue_bytes - held : 0,
		.memory = max > mem ? max - mem : 0,
	};
}

/*
 * Moves the chosen dead letters back into the queue, as many as it has
 * room for (a requeue of a large file must not take the node's memory):
 * stored first (as the stream's durability says), then taken out of the
 * file, so a crash in between can repeat a letter but never lose one.
 */
int
stream_requeue(struct stream *s, const uint64_t *ids, size_t nids,
    struct requeue_result *res, char *err, size_t errlen)
{
	char *file = state_path(s->s_mgr->m_conf,
	    "queue/%s/%s/dead-letters.jsonl", s->s_tid, s->s_name);
	struct requeue_room room = requeue_room(s);
	struct dead_letter_split ds;
	struct stream *r = root_of(s);
	uint64_t first = r->s_queue.q_next, end;
	bool written;
	int rc = -1, fd;

	memset(res, 0, sizeof(*res));
	if (dead_letter_split(file, ids, nids, requeue_fits, &room, &ds, err,
	    errlen) < 0)
		goto out;
	for (size_t k = 0; k < ds.ds_ntaken; k++)
		if (enqueue_for(s, ds.ds_taken[k].dl_payload,
		    ds.ds_taken[k].dl_len) < 0) {
			snprintf(err, errlen, "out of memory");
			/* The letters requeued so far: their records too,
			 * or the next commit would store them. */
			journal_drop_batch(r->s_journal);
			drop_tail_all(r, first, false);
			goto out;
		}
	/* The other members' entries first (they never take these
	 * numbers), then the letters: a crash between the two must not
	 * hand the letters to every member. Synced when the commit syncs
	 * the letters, for a power cut. So once an entry may be on disk,
	 * its number is never given out again (a later message under it
	 * would be hidden from them). */
	end = r->s_queue.q_next;
	written = flush_group_settled(r,
	    journal_mode(r->s_conf) == JOURNAL_FSYNC, err, errlen);
	if (!written || (journal_pending(r->s_journal) > 0 &&
	    journal_commit(r->s_journal, err, errlen) < 0)) {
		journal_drop_batch(r->s_journal);	/* done by the commit */
		drop_tail_all(r, first, false);
		skip_numbers(r, end);
		goto out;
	}
	if (ds.ds_ntaken > 0 && (fd = dead_letter_keep(file, &ds, err,
	    errlen)) < 0) {
		res->rq_kept = true;
		log_warnx("tenant %s: stream %s: requeued dead letters stay "
		    "in the file as well: %s", s->s_tid, s->s_name, err);
	} else if (ds.ds_ntaken > 0) {
		close(s->s_dead_fd);
		s->s_dead_fd = fd;
	}
	res->rq_requeued = ds.ds_ntaken;
	res->rq_left = ds.ds_left;
	res->rq_full = room.full;
	res->rq_never = ds.ds_never;
	if (ds.ds_ntaken > 0) {
		log_info("tenant %s: stream %s: %zu dead letter%s requeued",
		    s->s_tid, s->s_name, ds.ds_ntaken, ds.ds_ntaken == 1 ?
		    "" : "s");
		stream_dispatch(s);
	}
	rc = 0;
out:
	dead_letter_split_free(&ds);
	free(file);
	return rc;
}

/* ---- work: instances' commands -------------------------------------- */

static void
reply_one(struct stream *s, const struct stream_frame *rid, const char *text)
{
	(void)zrouter_send(s->s_work, rid->f_data, rid->f_len,
	    &(struct zmtp_frame){ text, strlen(text) }, 1);
}

/*
 * Answers i's BYE, after the deliveries queued to it: when its queue is
 * full (WORK_OUT_MAX) it stays owed, tried again once it has room
 * (work_room).
 */
static void
answer_bye(struct stream *s, struct instance *i)
{
	if (!i->i_bye_owed)
		return;
	if (zrouter_send(s->s_work, i->i_rid, i->i_ridlen,
	    &(struct zmtp_frame){ "BYE", 3 }, 1) < 0) {
		/* Full: tried again once it has room (work_room). */
		if (errno != EAGAIN)	/* gone */
			i->i_bye_owed = false;
		return;
	}
	i->i_bye_owed = false;
}

static struct instance *
by_rid(struct stream *s, const struct stream_frame *rid)
{
	struct instance *i;

	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		if (i->i_ridlen == rid->f_len && memcmp(i->i_rid, rid->f_data,
		    rid->f_len) == 0)
			return i;
	return NULL;
}

static bool
frame_is(const struct stream_frame *f, const char *word)
{
	size_t n = strlen(word);

	return f->f_len == n && memcmp(f->f_data, word, n) == 0;
}

/*
 * Copies a reason frame into buf as printable UTF-8, cut between
 * characters to fit: it goes into log lines and the dead-letter file's
 * JSON, which libbson cannot write with invalid UTF-8. A control
 * character, or a byte that does not start a valid character, becomes
 * '?'.
 */
static void
frame_reason(const struct stream_frame *f, char *buf, size_t buflen)
{
	const unsigned char *p = f->f_data;
	size_t o = 0;

	for (size_t i = 0, n; i < f->f_len; i += n) {
		n = jsonline_utf8_char((const char *)p + i, f->f_len - i);
		if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			n = n ? n : 1;
			if (o + 1 >= buflen)
				break;
			buf[o++] = '?';
		} else {
			if (o + n >= buflen)
				break;
			memcpy(buf + o, p + i, n);
			o += n;
		}
	}
	buf[o] = '\0';
}

/*
 * The instance id of a HELLO, when the frame can be one (printable ASCII
 * without spaces, that fits): streammgr looks it up and logs it.
 * Otherwise "", which is no instance's.
 */
static void
frame_instance(const struct stream_frame *f, char *buf, size_t buflen)
{
	const unsigned char *p = f->f_data;

	buf[0] = '\0';
	if (f->f_len >= buflen)
		return;
	for (size_t i = 0; i < f->f_len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return;
	memcpy(buf, p, f->f_len);
	buf[f->f_len] = '\0';
}

/* A HELLO's credit: decimal digits only, 1 to CREDIT_MAX. */
static bool
frame_credit(const struct stream_frame *f, uint32_t *credit)
{
	const unsigned char *p = f->f_data;
	uint32_t v = 0;

	for (size_t i = 0; i < f->f_len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(p[i] - '0');
		if (v > CREDIT_MAX)
			return false;
	}
	*credit = v;
	return f->f_len > 0 && v >= 1;
}

/* A HELLO's features: words separated by spaces, unknown ones ignored. */
static bool
has_feature(const struct stream_frame *f, const char *word)
{
	const char *p = f->f_data, *end = p + f->f_len;
	size_t n = strlen(word);

	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t len = (size_t)((sp ? sp : end) - p);

		if (len == n && memcmp(p, word, n) == 0)
			return true;
		p += len + 1;
	}
	return false;
}

/* HELLO instance-id credit [features] */
static const char *
decode_hello(const struct stream_frame *args, int nargs, size_t ridlen,
    struct work_request *w)
{
	if (nargs < 2 || nargs > 3 || ridlen > ROUTING_ID_MAX)
		return "ERR malformed: HELLO instance-id credit [features]";
	frame_instance(&args[0], w->w_instance, sizeof(w->w_instance));
	if (!frame_credit(&args[1], &w->w_credit)) {
		w->w_credit = 0;
		return "ERR bad-credit: 1 to 65536";
	}
	w->w_batch = nargs == 3 && has_feature(&args[2], "batch");
	return NULL;
}

/*
 * ACKR ranges: pairs of first, last, at most CREDIT_MAX ids in all (no
 * instance holds more), so a frame costs at most that many lookups.
 */
static const char *
decode_ranges(const struct stream_frame *args, int nargs,
    struct work_request *w)
{
	struct wb_reader r;
	uint64_t first, last, ids = 0;

	if (nargs != 1 || args[0].f_len == 0 || args[0].f_len % 16 != 0)
		return "ERR malformed: ranges must be pairs of 8-byte ids";
	wb_reader_init(&r, args[0].f_data, args[0].f_len);
	while (wb_next_range(&r, &first, &last) == 1)
		/* The span first, so that 0..UINT64_MAX cannot wrap to 0. */
		if (last < first || last - first >= CREDIT_MAX ||
		    (ids += last - first + 1) > CREDIT_MAX)
			return "ERR malformed: ranges are first <= last, at "
			    "most 65536 ids in all";
	w->w_cmd = WORK_ACK;
	w->w_ranges = true;
	w->w_ids = args[0].f_data;
	w->w_nids = args[0].f_len / 16;
	return NULL;
}

const char *
stream_work_decode(const struct stream_frame *cmd,
    const struct stream_frame *args, int nargs, size_t ridlen,
    struct work_request *w)
{
	memset(w, 0, sizeof(*w));
	if (frame_is(cmd, "HELLO")) {
		w->w_cmd = WORK_HELLO;
		return decode_hello(args, nargs, ridlen, w);
	}
	if (frame_is(cmd, "BYE")) {
		w->w_cmd = WORK_BYE;
		return NULL;
	}
	if (frame_is(cmd, "ACKR")) {
		w->w_cmd = WORK_ACK;
		return decode_ranges(args, nargs, w);
	}
	if (frame_is(cmd, "ACK"))
		w->w_cmd = WORK_ACK;
	else if (frame_is(cmd, "NACK"))
		w->w_cmd = WORK_NACK;
	else if (frame_is(cmd, "REJECT"))
		w->w_cmd = WORK_REJECT;
	else {
		w->w_cmd = WORK_UNKNOWN;
		return "ERR unknown-command";
	}
	if (nargs < 1 || nargs > (w->w_cmd == WORK_ACK ? 1 : 2) ||
	    args[0].f_len == 0 || args[0].f_len % 8 != 0)
		return "ERR malformed: ids must be 8-byte ids";
	w->w_ids = args[0].f_data;
	w->w_nids = args[0].f_len / 8;
	if (nargs == 2)
		frame_reason(&args[1], w->w_reason, sizeof(w->w_reason));
	return NULL;
}

uint64_t
stream_work_id(const struct work_request *w, size_t k)
{
	return wb_get_be64(w->w_ids + 8 * k);
}

void
stream_work_span(const struct work_request *w, size_t k, uint64_t *first,
    uint64_t *last)
{
	if (w->w_ranges) {
		*first = wb_get_be64(w->w_ids + 16 * k);
		*last = wb_get_be64(w->w_ids + 16 * k + 8);
	} else
		*first = *last = stream_work_id(w, k);
}

static void
hello(struct stream *s, const struct stream_frame *rid,
    const struct work_request *w)
{
	struct instance *i;

	if ((i = supervise_find_id(s, w->w_instance)) == NULL ||
	    (i->i_ridlen && by_rid(s, rid) != i)) {
		log_warnx("tenant %s: stream %s: HELLO from unknown instance "
		    "\"%s\" refused", s->s_tid, s->s_name, w->w_instance);
		reply_one(s, rid, "ERR unknown-instance");
		return;
	}
	memcpy(i->i_rid, rid->f_data, rid->f_len);
	i->i_ridlen = rid->f_len;
	i->i_credit = w->w_credit;
	i->i_batch = w->w_batch;
	supervise_instance(i, IE_HELLO);
	log_debug("tenant %s: stream %s: instance %s ready, credit %u",
	    s->s_tid, s->s_name, i->i_id, w->w_credit);
	stream_dispatch(s);
}

/* What settle() does to each message in flight it names. */
struct settling {
	struct stream	*s;
	struct instance	*from;
	enum work_cmd	 cmd;
	const char	*why;
	const char	*quality;
	uint64_t	 settled;	/* of the ids named */
};

/*
 * Settles one message in flight. An ACK, NACK or REJECT from an instance
 * that does not hold it (it was never given to it, or was given to
 * another after ack_timeout) is ignored, counted as stray: the holder
 * decides, and no instance may settle another's work (a late ACK means
 * the holder does the work again: at-least-once). quality: the app's
 * reason when a REJECT is for a data quality rule (it begins
 * "quality: ", as libmysimbdp words it: docs/quality.md), else NULL.
 */
static void
settle_one(struct qmsg *m, void *arg)
{
	struct settling *t = arg;
	struct stream *s = t->s;
	struct instance *holder = m->m_holder, *from = t->from;

	if (holder != from) {
		log_debug("tenant %s: stream %s: %s of message %" PRIu64
		    " from %s ignored: %s holds it", s->s_tid, s->s_name,
		    t->cmd == WORK_ACK ? "ACK" : t->cmd == WORK_NACK ?
		    "NACK" : "REJECT", m->m_seq, from->i_id,
		    holder ? holder->i_id : "no instance");
		return;
	}
	t->settled++;
	if (t->cmd == WORK_NACK) {
		give_back(s, m, t->why);
		return;
	}
	unhold(m);
	if (t->cmd == WORK_ACK) {
		from->i_acked++;
		s->s_n.acked++;
		release(s, m);
	} else
		dead_letter(s, m, t->why, t->quality);
	if (holder != NULL)
		supervise_instance(holder, IE_SETTLED);
}

/*
 * ACK, NACK or REJECT of the ids (or ranges) in w. An id not in flight
 * to from (settled already, never delivered, not given yet, or held by
 * another instance) is ignored, at no cost beyond the in-flight ones
 * (queue_each_inflight: the holder is checked only on those), and
 * counted in stray_acks. Returns the work done, in ids looked at, for
 * on_work's budget.
 */
static uint64_t
settle(struct stream *s, struct instance *from, const struct work_request *w)
{
	const char *reason = w->w_reason;
	/* Room for all of it: a cut could split a UTF-8 character. */
	char why[sizeof("rejected by : ") + INSTANCE_ID_MAX + WORK_REASON_MAX];
	struct settling t = { s, from, w->w_cmd, why, w->w_cmd ==
	    WORK_REJECT && strncmp(reason, "quality: ", 9) == 0 ? reason :
	    NULL, 0 };
	uint64_t work = 0, named = 0, stray;

	if (w->w_cmd == WORK_NACK)
		snprintf(why, sizeof(why), "nacked by %s%s%s", from->i_id,
		    *reason ? ": " : "", reason);
	else if (w->w_cmd == WORK_REJECT)
		snprintf(why, sizeof(why), "rejected by %s%s%s", from->i_id,
		    *reason ? ": " : "", reason);
	for (size_t k = 0; k < w->w_nids; k++) {
		uint64_t id, last;

		stream_work_span(w, k, &id, &last);
		named += last - id + 1;
		work += 1 + queue_each_inflight(&s->s_queue, id, last,
		    settle_one, &t);
	}
	/* Counted, not refused: a late ack after a redelivery is one too,
	 * as is any id another instance holds. */
	stray = named - t.settled;
	from->i_stray_acks += stray;
	s->s_n.stray_acks += stray;
	return work;
}

/* Runs one command; returns the work it took (on_work). */
static uint64_t
command(struct stream *s, const struct stream_frame *rid,
    const struct stream_frame *c, const struct stream_frame *a, int nargs)
{
	struct work_request w;
	struct instance *i;
	const char *why;

	why = stream_work_decode(c, a, nargs, rid->f_len, &w);
	if (w.w_cmd == WORK_HELLO) {
		if (why != NULL)
			reply_one(s, rid, why);
		else
			hello(s, rid, &w);
		return 1;
	}
	if ((i = by_rid(s, rid)) == NULL) {
		reply_one(s, rid, "ERR hello-first");
		return 1;
	}
	if (why != NULL) {
		reply_one(s, rid, why);
		return 1;
	}
	if (w.w_cmd == WORK_BYE) {
		supervise_instance(i, IE_BYE);
		i->i_bye_owed = true;
		answer_bye(s, i);
		log_debug("tenant %s: stream %s: instance %s said BYE",
		    s->s_tid, s->s_name, i->i_id);
		return 1;
	}
	return settle(s, i, &w);
}

/*
 * One message of an instance's (rid): [command][args...]. Returns whether
 * the same instance's next one may follow in this turn: ids looked at
 * count too (an ACKR of 65536 ids costs more than a frame).
 */
static bool
on_work(void *arg, const unsigned char *rid, size_t ridlen,
    const struct zmtp_msg *msg)
{
	struct stream *s = arg;
	const struct stream_frame r = { rid, ridlen };
	struct stream_frame c, a[WORK_ARGS];
	int nargs = 0;

	/* Past WORK_ARGS frames, the command sees that many (too many). */
	for (size_t k = 1; k < msg->zm_nframes && nargs < WORK_ARGS; k++)
		a[nargs++] = (struct stream_frame){ msg->zm_f[k].data,
		    msg->zm_f[k].len };
	c = (struct stream_frame){ msg->zm_f[0].data, msg->zm_f[0].len };
	s->s_turn_work += command(s, &r, &c, a, nargs);
	return s->s_turn_work < WORK_BUDGET;
}

/* After an instance's messages of a turn: what waits is delivered. */
static void
work_turn(void *arg)
{
	struct stream *s = arg;

	/* The turn's REJECTs in one write (and sync) before more goes. */
	flush_dead(s);
	s->s_turn_work = 0;
	stream_dispatch(s);
	stream_check_idle(s);
}

/*
 * An instance whose queue was full took what waited for it: the BYEs a
 * full queue held back (only those: a BYE is answered at once otherwise)
 * go, then what waits is delivered.
 */
static void
work_room(void *arg)
{
	struct stream *s = arg;
	struct instance *i;

	TAILQ_FOREACH(i, &s->s_instances, i_entry)
		answer_bye(s, i);
	work_turn(s);
}

uint64_t
stream_lag(const struct stream *s)
{
	const struct stream *r = s->s_source ? s->s_source : s;
	const struct qmsg *m = queue_first(&s->s_queue);

	return m != NULL && r->s_queue.q_next > m->m_seq ?
	    r->s_queue.q_next - m->m_seq : 0;
}

void
stream_check_idle(struct stream *s)
{
	if (queue_idle(&s->s_queue))
		supervise_event(s, SE_IDLE);
}
