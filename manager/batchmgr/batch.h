/*
 * batchmgr's shared state: the daemon context, tenants and jobs. The
 * modules that act on them are staging.c (watching, checking, claiming),
 * job.c (running apps and recording outcomes), tenant.c (folders) and
 * bcontrol.c (the control socket).
 */
#ifndef MYSIMBDP_BATCH_H
#define MYSIMBDP_BATCH_H

#include <dirent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "conf.h"
#include "decrypt.h"
#include "idtab.h"
#include "tailq.h"
#include "quota.h"
#include "record.h"
#include "sched.h"
#include "state.h"

struct cgroup_leaf;
struct ctlsock;
struct tenant;

/*
 * JOB_DECRYPTING: age runs on the file (decrypt.c); then JOB_RUNNING.
 * JOB_RECORDING: the outcome is known but its record could not be
 * written; the record and the file's move are tried again (job.c).
 */
enum job_state { JOB_QUEUED, JOB_DECRYPTING, JOB_RUNNING, JOB_BACKOFF,
	JOB_RECORDING };

struct job {
	struct sched_item j_item;	/* first: sched items are jobs */
	TAILQ_ENTRY(job) j_entry;	/* in b_jobs */
	TAILQ_ENTRY(job) j_run_entry;	/* in b_running while a process runs */
	struct tenant	*j_tenant;
	struct conf_tenant *j_conf;	/* the profile it started with */
	const struct conf_batch_app *j_app;
	enum job_state	 j_state;
	char		*j_dataset;	/* "" for top-level files */
	char		*j_name;
	char		 j_id[96];	/* MYSIMBDP_INSTANCE */
	uint64_t	 j_bytes;
	int		 j_attempt;	/* attempts started */
	int		 j_failures;	/* attempts that count against retries */
	bool		 j_recovered;
	bool		 j_unclaimed;	/* a rejection held (job_hold_rejection) */
	bool		 j_recorded;	/* its record written: only the move left */
	pid_t		 j_pid;
	struct cgroup_leaf *j_leaf;	/* its cgroup while running, or NULL */
	struct applog	*j_log;		/* its app's log while running */
	struct decrypt	 j_decrypt;	/* while JOB_DECRYPTING */
	int		 j_plain_fd;	/* the decrypted file, or -1 */
	bool		 j_validating;	/* the quality gate's first pass */
	bool		 j_forced;	/* past the gate (retry --force) */
	bool		 j_rejects;	/* this attempt was given a rejects file */
	int64_t		 j_start_ms;
	bool		 j_timed_out;
	bool		 j_interrupted;	/* stopped by a batchmgr shutdown */
	struct event	*j_timer;	/* timeout, kill grace or backoff */
	/* JOB_RECORDING: the record, its own copies, where the file goes. */
	struct record	 j_record;
	char		*j_record_reason;
	bson_t		*j_record_summary;
	enum stage_area	 j_record_to;
	uint64_t	 j_record_delay_ms;
};
TAILQ_HEAD(jobs, job);

struct watch {
	TAILQ_ENTRY(watch) w_entry;	/* its tenant's */
	int		 w_wd;
	struct tenant	*w_tenant;
	char		*w_dataset;	/* "" for incoming/ itself */
};
TAILQ_HEAD(watches, watch);

/* A file of incoming/ recorded rejected whose move to rejected/ failed. */
struct unmoved {
	TAILQ_ENTRY(unmoved) u_entry;
	char		*u_dataset;
	char		*u_name;
	ino_t		 u_ino;		/* the file recorded, not another */
	struct timespec	 u_ctime;	/* of that name since */
};
TAILQ_HEAD(unmoveds, unmoved);

struct tenant {
	TAILQ_ENTRY(tenant) t_entry;
	struct batch	*t_batch;
	struct conf_tenant *t_conf;
	char		 t_id[TENANT_ID_MAX + 1];
	struct sched_queue t_queue;
	struct quota	 t_quota;
	int		 t_jobs;	/* jobs alive: queued, running, backoff */
	bool		 t_retired;	/* profile removed; freed at t_jobs 0 */
	bool		 t_deferred;	/* a name waited for processing/ */
	bool		 t_scan_due;	/* in the periodic scan's round */
	bool		 t_sweep_due;	/* its retention sweep is due */
	int64_t		 t_swept_ms;	/* last retention sweep begun */
	struct watches	 t_watches;	/* of its incoming/ folders */
	struct unmoveds	 t_unmoved;	/* recorded, not moved (staging.c) */
};
TAILQ_HEAD(tenants, tenant);

/*
 * A staging/<id> descriptor held for the next operation on that tenant
 * (tenant.c): a few, the most recently used.
 */
struct tenant_dir {
	struct tenant	*td_tenant;	/* NULL: free */
	int		 td_fd;
	uint64_t	 td_used;	/* b_dirs_clock at its last use */
};
#define TENANT_DIRS 4

struct batch {
	struct event_base *b_base;
	char		*b_conf_file;
	struct conf_platform *b_conf;
	struct sched	 b_sched;
	struct tenants	 b_tenants;
	struct jobs	 b_jobs;	/* every job alive */
	struct jobs	 b_running;	/* the running ones (found by pid) */
	int		 b_nrunning;
	int		 b_ingest_fd;	/* log/ingest.jsonl */
	int		 b_quality_fd;	/* log/quality.jsonl */
	int		 b_staging_fd;	/* staging/ (tenant.c) */
	struct tenant_dir b_dirs[TENANT_DIRS];
	uint64_t	 b_dirs_clock;
	int		 b_inotify_fd;
	struct event	*b_inotify_ev;
	struct event	*b_scan_ev;
	struct event	*b_settle_ev;
	struct event	*b_step_ev;	/* the next step of a scan round */
	struct tenant	*b_scan_t;	/* the round's tenant being scanned, */
	DIR		*b_scan_dir;	/* its incoming/ listed this far */
	struct tenant	*b_scan_from;	/* the next due from here (or NULL) */
	struct event	*b_sweep_ev;	/* the next step of a retention sweep */
	struct tenant	*b_sweep_t;	/* the tenant being swept, */
	int		 b_sweep_area;	/* 0: its done/, 1: its rejected/, */
	DIR		*b_sweep_top;	/* listed this far, */
	DIR		*b_sweep_ds;	/* and a dataset folder in it, */
	char		*b_sweep_dsname; /* named so */
	struct event	*b_stop_ev;
	void		*b_zctx;	/* ZeroMQ, for the control socket */
	struct ctlsock	*b_ctl;		/* run/batchmgr.ctl (bcontrol.c) */
	struct zap	*b_zap;		/* operators on other hosts, or NULL */
	uint64_t	 b_refused_ms;	/* the last refused operator, logged */
	struct idtab	 b_watches;	/* by inotify descriptor */
	bool		 b_stopping;
	bool		 b_record_failing; /* the last record failed */
	uint64_t	 b_job_seq;
	int64_t		 b_boot_ms;
};

/*
 * Appends a record to log/ingest.jsonl, then its quality to
 * log/quality.jsonl. Returns 0, or -1 (logged) when the record could not
 * be written: the caller then leaves the file where it is.
 */
int batch_record(struct batch *b, const struct record *r);

#endif
