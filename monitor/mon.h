/*
 * The monitor's shared state: the daemon context, the tenants it listens
 * to and their streams. The modules that act on them: collect.c (the
 * per-tenant PULL sockets and the reports), feed.c (streammgr's
 * statistics and events), view.c (what is known of each stream: reports
 * summed, the latest statistics), decide.c (the policy's decisions,
 * violations, the pause), smgrctl.c (scale and drain requests to
 * streammgr), dashline.c (the interval's dashboard lines and streammgr's
 * events), dash.c (log/monitor.log, log/metrics.jsonl), prom.c (the
 * Prometheus endpoint).
 */
#ifndef MYSIMBDP_MONITOR_MON_H
#define MYSIMBDP_MONITOR_MON_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "bucket.h"
#include "conf.h"
#include "tailq.h"
#include "policy.h"
#include "report.h"
#include "rulecount.h"
#include "zevent.h"

/*
 * Rejections by quality rule, the last slot "other" (rulecount.h). Kept
 * where they are read (a tenant's batch apps since the start, a stream's
 * latest statistics), not in every sum: 1.8 KB each.
 */
#define MRULES	32

struct mrules {
	struct rule_count r_slot[MRULES];
	size_t		 r_n;
};

/* Figures summed over reports. */
struct magg {
	uint64_t	 g_reports;
	uint64_t	 g_messages;
	uint64_t	 g_rows;
	uint64_t	 g_bytes;
	uint64_t	 g_errors;
	uint64_t	 g_ingest_us_sum;
	uint64_t	 g_ingest_us_max;
};

/*
 * The pause (monitor/decide.c): a stream is paused only once streammgr
 * said ok to the drain; a drain refused or unanswered leaves it running
 * and the next statistics try again.
 */
enum mpause {
	MP_NONE,		/* not paused */
	MP_ASKED,		/* a drain sent, no reply yet */
	MP_PAUSED		/* streammgr took the drain */
};

/*
 * The recent reports of one instance, for the ingest-time average: the
 * time of one unit of work may come in the report after its messages
 * (a report is cut when its interval is over), so the average is taken
 * over every report of the last monitor.report_ttl.
 */
#define MINST_KEEP	8
struct minst {
	TAILQ_ENTRY(minst) mi_entry;
	char		 mi_id[REPORT_INSTANCE_MAX + 1];
	uint64_t	 mi_at_ms;		/* monotonic, the latest */
	uint64_t	 mi_when[MINST_KEEP];	/* 0: empty slot */
	int64_t		 mi_messages[MINST_KEEP];
	int64_t		 mi_ingest_us[MINST_KEEP];
	unsigned	 mi_next;
};

TAILQ_HEAD(minst_list, minst);

/* streammgr's statistics of a stream (docs/protocols.md). */
struct mstats {
	char		 st_state[16];
	int64_t		 st_desired;
	int64_t		 st_running;
	int64_t		 st_min;
	int64_t		 st_max;
	int64_t		 st_backlog;
	int64_t		 st_inflight;
	int64_t		 st_lag;		/* accepted since its oldest held */
	int64_t		 st_queue_bytes;
	double		 st_in_rate;
	double		 st_out_rate;
	int64_t		 st_accepted;
	int64_t		 st_acked;
	int64_t		 st_redelivered;
	int64_t		 st_dead_letters;
	int64_t		 st_rejected;
	int64_t		 st_throttled;
	int64_t		 st_too_large;		/* the quota refusals, */
	int64_t		 st_rate_limited;	/* counted apart from */
	int64_t		 st_queue_full;		/* draining, no-space... */
	int64_t		 st_quality_rejected;	/* dead letters for a rule */
	int64_t		 st_restarts;
};

struct mtenant;

struct mstream {
	TAILQ_ENTRY(mstream) ms_entry;
	struct mtenant	*ms_tenant;
	char		 ms_name[STREAM_NAME_MAX + 1];
	const struct conf_stream *ms_conf;	/* inside ms_tenant's profile */
	bool		 ms_have_stats;
	uint64_t	 ms_stats_ms;		/* monotonic, last statistics */
	struct mstats	 ms_stats;
	struct mstats	 ms_prev;		/* the statistics before */
	struct mrules	 ms_rules;		/* the latest quality_rules */
	struct minst_list ms_insts;
	struct magg	 ms_total;		/* since the monitor started */
	struct magg	 ms_tick;		/* since the last dashboard line */
	int64_t		 ms_tick_dead;		/* dead letters since then */
	int64_t		 ms_tick_rejected;	/* REJECTs since then */
	int64_t		 ms_tick_throttled;	/* of them: rate, queue-full */
	struct policy_state ms_policy;
	struct policy_decision ms_last;		/* the latest decision */
	double		 ms_ingest_us;		/* < 0: no fresh reports */
	uint64_t	 ms_violating_ms;	/* 0: no violation going on */
	uint64_t	 ms_qwin_ms;		/* the quality window's start */
	int64_t		 ms_qwin_settled;	/* acked + dead letters in it */
	int64_t		 ms_qwin_refused;	/* of which for a rule */
	enum mpause	 ms_pause;		/* the monitor's drain */
	char		 ms_pause_why[300];	/* its reason, for the dashboard */
	uint64_t	 ms_ups;
	uint64_t	 ms_downs;
};

TAILQ_HEAD(mstream_list, mstream);

struct mon;

struct mtenant {
	TAILQ_ENTRY(mtenant) mt_entry;
	struct mon	*mt_mon;
	struct conf_tenant *mt_conf;		/* a reference */
	char		 mt_id[TENANT_ID_MAX + 1];
	struct zrouter	*mt_pull;		/* run/<id>/metrics.sock */
	struct mstream_list mt_streams;
	struct magg	 mt_batch_total;	/* batch apps' reports */
	struct magg	 mt_batch_tick;
	struct mrules	 mt_batch_rules;	/* their "quality", in all */
	uint64_t	 mt_dropped[REPORT_NVERDICTS];
	uint64_t	 mt_dropped_tick[REPORT_NVERDICTS];
	struct bucket	 mt_rate;		/* max_reports_per_second */
	struct bucket	 mt_bytes;		/* max_report_bytes_per_second */
	bool		 mt_limited;		/* said so in the log */
	bool		 mt_byte_limited;	/* the same, of the bytes */
};

TAILQ_HEAD(mtenant_list, mtenant);

struct smgrctl;
struct feed;
struct dash;
struct prom;

struct ship;

struct mon {
	struct event_base *m_base;
	struct conf_platform *m_conf;
	char		*m_conf_file;
	void		*m_zctx;
	struct mtenant_list m_tenants;
	struct feed	*m_feed;
	struct smgrctl	*m_ctl;
	struct dash	*m_dash;
	struct prom	*m_prom;
	struct ship	*m_ship;		/* records to MongoDB, or NULL */
	struct event	*m_tick_ev;
	uint64_t	 m_stats_msgs;		/* from streammgr */
	uint64_t	 m_decisions;
	uint64_t	 m_ctl_failures;
};

#endif
