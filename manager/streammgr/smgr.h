/*
 * streammgr's shared state: the daemon context, streams and instances.
 * The modules that act on them, each calling only those below it:
 * scontrol.c (control requests, statistics), stream.c (endpoints, queue,
 * delivery, acks, dead letters), supervise.c (starting, stopping and
 * restarting instances, by lifecycle.c's transitions) and publish.c
 * (events and statistics to subscribers).
 */
#ifndef MYSIMBDP_SMGR_H
#define MYSIMBDP_SMGR_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

#include "bucket.h"
#include "conf.h"
#include "tailq.h"
#include "instnum.h"
#include "journal.h"
#include "lifecycle.h"
#include "lograte.h"
#include "queue.h"
#include "settled.h"
#include "squality.h"
#include "streamidx.h"
#include "zevent.h"

#define INSTANCE_ID_MAX 80
#define ROUTING_ID_MAX 255

struct stream;
struct cgroup_leaf;

struct instance {
	TAILQ_ENTRY(instance) i_entry;
	struct stream	*i_stream;
	char		 i_id[INSTANCE_ID_MAX];	/* MYSIMBDP_INSTANCE */
	pid_t		 i_pid;
	struct cgroup_leaf *i_leaf;	/* its cgroup, or NULL */
	struct applog	*i_log;		/* its log while running */
	enum inst_state	 i_state;		/* lifecycle_instance() */
	unsigned char	 i_rid[ROUTING_ID_MAX];	/* its DEALER, after HELLO */
	size_t		 i_ridlen;
	uint32_t	 i_credit;
	bool		 i_batch;		/* HELLO said "batch" */
	bool		 i_bye_owed;		/* BYE said, not answered yet */
	uint32_t	 i_inflight;
	uint64_t	 i_acked;
	uint64_t	 i_stray_acks;	/* see stream_counters */
	uint64_t	 i_started_ms;		/* monotonic */
	struct event	*i_kill_ev;		/* IE_TIMEOUT after start_timeout
						   (no HELLO) or stop_timeout */
	bool		 i_lingered;		/* stopped: not gone after BYE */
	bool		 i_no_hello;		/* stopped: no HELLO in time */
};

TAILQ_HEAD(instance_list, instance);

struct stream_counters {
	uint64_t	 accepted;
	uint64_t	 batches;	/* producer batches received */
	uint64_t	 acked;
	uint64_t	 redelivered;
	uint64_t	 dead_letters;
	uint64_t	 quality_rejected; /* of which: a quality rule's */
	uint64_t	 rejected;	/* all REJECTs */
	uint64_t	 throttled;	/* all THROTTLEs */
	uint64_t	 too_large;	/* of which: max_message_size */
	uint64_t	 rate_limited;	/* max_messages_per_second */
	uint64_t	 queue_full;	/* max_queue_bytes */
	uint64_t	 no_space;	/* the disk refused the write */
	uint64_t	 no_memory;	/* stream.max_memory */
	uint64_t	 restarts;
	/* Ids an instance acked, nacked or rejected that settled nothing:
	 * not in flight, or (NACK, REJECT) held by another instance. */
	uint64_t	 stray_acks;
};

/* Kinds of quota violation, each reported at most once a second. */
enum violation { V_SIZE, V_RATE, V_QUEUE, V_DISK, V_MEMORY, V_COUNT };

/*
 * A dead letter not written yet: its message, held by no instance until
 * dp_deadline_ms, goes to dead-letters.jsonl with the others of its turn
 * in one write (and one sync), and is released only then.
 */
struct dead_pending {
	uint64_t	 dp_seq;
	uint64_t	 dp_deadline_ms;	/* as held: still this one's */
	char		*dp_why;
	char		*dp_quality;		/* a quality rule's, or NULL */
};

struct smgr;
struct remote;

/*
 * A stream, or one of its subscriptions (docs/architecture.md, "Fan-out"):
 * a subscription has its own queue (a copy of each message, with the
 * stream's number and journal segment), instances, acks and dead letters,
 * but no ingress and no journal: the stream stores each message once and
 * releases it when no member holds it any more.
 */
struct stream {
	TAILQ_ENTRY(stream) s_entry;
	struct streamidx_entry s_idx;		/* in m_index while served */
	struct smgr	*s_mgr;
	struct stream	*s_source;		/* a subscription: its stream */
	struct stream	**s_subs;		/* a stream: its subscriptions */
	size_t		 s_nsubs;
	struct settled	*s_settled;		/* settled while others hold */
	struct orphan {				/* recovery: held by no one */
		uint64_t seq;
		uint64_t seg;
	}		*s_orphans;
	size_t		 s_norphans;
	struct conf_tenant *s_tenant;		/* a reference */
	const struct conf_stream *s_conf;	/* inside s_tenant */
	char		 s_tid[TENANT_ID_MAX + 1];
	char		 s_name[STREAM_NAME_MAX + 1];
	struct zrouter	*s_in;			/* producers' ROUTER */
	struct zrouter	*s_work;		/* work ROUTER (our own) */
	uint64_t	 s_turn_work;		/* of an instance's turn */
	struct queue	 s_queue;
	struct journal	*s_journal;		/* the queue on disk */
	enum journal_mode s_mode;		/* s_conf's durability */
	struct held	*s_held;		/* OKs awaiting a sync, */
	struct held	**s_held_tail;		/* oldest first */
	struct event	*s_flush_ev;		/* writes noted releases */
	size_t		 s_volatile;		/* held, not on disk */
	struct bucket	 s_rate;		/* max_messages_per_second */
	struct lograte	 s_viol[V_COUNT];
	struct journal_report s_recovery;	/* what the start found */
	int		 s_dead_fd;		/* dead-letters.jsonl */
	bool		 s_dead_failing;	/* its last write failed */
	struct lograte	 s_dead_logged;		/* a line a second at most */
	struct lograte	 s_late_logged;		/* ack timeouts, the same */
	struct dead_pending *s_dead;		/* this turn's dead letters */
	size_t		 s_ndead, s_dead_cap;
	struct sv	 s_sv;			/* lifecycle_stream() */
	int		 s_desired;
	struct instance_list s_instances;
	struct instnum	 s_instnum;		/* for instance ids */
	struct instance	*s_rr;			/* where delivery resumes */
	struct event	*s_restart_ev;
	struct lograte	 s_start_failed;	/* logged once a second */
	struct event	*s_ack_ev;		/* ack timeout of the oldest */
	struct stream_counters s_n;
	struct squality	 s_quality;		/* per rule, log/quality.jsonl */
	struct stream_counters s_last;		/* at the previous stats tick */
	uint64_t	 s_last_tick_ms;
	double		 s_in_rate;		/* accepted per second */
	double		 s_out_rate;		/* acked per second */
};

TAILQ_HEAD(stream_list, stream);

struct smgr {
	struct event_base *m_base;
	struct conf_platform *m_conf;
	char		*m_conf_file;
	void		*m_zctx;
	struct ctlsock	*m_ctl;			/* run/streammgr.ctl */
	struct remote	*m_remote;		/* remote.listen, or NULL */
	void		*m_pub;			/* statistics PUB */
	int		 m_quality_fd;		/* log/quality.jsonl */
	struct event	*m_stats_ev;
	struct event	*m_grace_ev;		/* shutdown deadline */
	struct stream_list m_streams;
	struct streamidx m_index;		/* m_streams by tenant, name */
	unsigned	 m_next_instance;	/* instance ids unique per run */
	bool		 m_stopping;
	uint64_t	 m_boot_ms;		/* wall clock, for instance ids */
	uint64_t	 m_max_memory;		/* stream.max_memory, in effect */
	unsigned char	*m_scratch;		/* a batched delivery, built */
	size_t		 m_scratch_cap;
};

#endif
