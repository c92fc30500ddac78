#include "job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "app.h"
#include "clock.h"
#include "log.h"
#include "qgate.h"
#include "quality.h"
#include "spawn.h"
#include "staging.h"
#include "state.h"
#include "tenant.h"
#include "units.h"

#define RESULT_MAX (64 * 1024)
/* A held record's first wait: retry_backoff may be 0, a full disk not
 * worth a busy loop. */
#define RECORD_RETRY_MIN_MS 100

static void job_start(struct batch *, struct job *);
static void on_timeout(evutil_socket_t, short, void *);

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		fatal("%s: strdup", __func__);
	return d;
}

/* A job of t's for processing/[dataset/]name, in b_jobs, in no queue. */
static struct job *
job_new(struct tenant *t, const char *dataset, const char *name,
    uint64_t bytes)
{
	struct batch *b = t->t_batch;
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		fatal("%s: calloc", __func__);
	j->j_tenant = t;
	j->j_dataset = xstrdup(dataset);
	j->j_name = xstrdup(name);
	j->j_bytes = bytes;
	j->j_plain_fd = -1;
	j->j_timer = evtimer_new(b->b_base, on_timeout, j);
	if (j->j_timer == NULL)
		fatalx("%s: evtimer_new", __func__);
	t->t_jobs++;
	TAILQ_INSERT_TAIL(&b->b_jobs, j, j_entry);
	return j;
}

void
job_enqueue(struct tenant *t, const char *dataset, const char *name,
    uint64_t bytes, bool recovered)
{
	struct job *j = job_new(t, dataset, name, bytes);

	j->j_recovered = recovered;
	j->j_state = JOB_QUEUED;
	sched_push(&t->t_queue, &j->j_item);
}

static char *rejects_path(struct batch *, struct job *);

/* The decrypted file and the rows the rules refused: the attempt's. */
static void
attempt_clear(struct batch *b, struct job *j)
{
	char *rejects;

	if (j->j_rejects) {
		rejects = rejects_path(b, j);
		unlink(rejects);
		free(rejects);
		j->j_rejects = false;
	}
	if (j->j_plain_fd >= 0)
		close(j->j_plain_fd);
	j->j_plain_fd = -1;
}

static void
job_free(struct batch *b, struct job *j)
{
	struct tenant *t = j->j_tenant;

	attempt_clear(b, j);
	TAILQ_REMOVE(&b->b_jobs, j, j_entry);
	event_free(j->j_timer);
	if (j->j_conf)
		conf_tenant_unref(j->j_conf);
	free(j->j_record_reason);
	if (j->j_record_summary)
		bson_destroy(j->j_record_summary);
	free(j->j_dataset);
	free(j->j_name);
	free(j);
	t->t_jobs--;
	staging_job_ended(b, t);
	tenant_release(t);
}

static char *
result_path(struct batch *b, struct job *j)
{
	return state_path(b->b_conf, "work/%s/.result-%s.json", j->j_tenant->t_id,
	    j->j_id);
}

static char *
rejects_path(struct batch *b, struct job *j)
{
	return state_path(b->b_conf, "work/%s/.rejects-%s.jsonl",
	    j->j_tenant->t_id, j->j_id);
}

/*
 * Takes the app's summary from its result file. The file lives in the
 * tenant's work folder, so it is opened without following links, must be
 * a small regular file, and is removed after reading.
 */
static bson_t *
read_summary(struct batch *b, struct job *j, char *why, size_t whylen)
{
	char *path = result_path(b, j), buf[RESULT_MAX + 1];
	bson_error_t berr;
	bson_t *doc = NULL;
	struct stat st;
	ssize_t n;
	int fd;

	why[0] = '\0';
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		free(path);
		return NULL;	/* the app wrote none */
	}
	if (fd < 0)
		snprintf(why, whylen, "result file: %s", strerror(errno));
	unlink(path);
	free(path);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > RESULT_MAX) {
		snprintf(why, whylen, "result file: not a regular file of at "
		    "most %d bytes", RESULT_MAX);
		close(fd);
		return NULL;
	}
	n = read(fd, buf, RESULT_MAX);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	doc = bson_new_from_json((const uint8_t *)buf, n, &berr);
	if (doc == NULL)
		snprintf(why, whylen, "result file: not a JSON object: %.200s",
		    berr.message);
	return doc;
}

static void
fill_record(struct record *r, struct job *j, const char *status,
    const char *reason)
{
	record_init(r);
	r->r_tenant = j->j_tenant->t_id;
	r->r_dataset = j->j_dataset;
	r->r_file = j->j_name;
	r->r_app = j->j_app ? j->j_app->a_name : NULL;
	r->r_job = j->j_id;
	r->r_status = status;
	r->r_reason = reason;
	r->r_bytes = j->j_bytes;
	r->r_attempt = j->j_attempt;
	r->r_recovered = j->j_recovered;
	r->r_forced = j->j_forced;
}

static uint64_t
backoff_ms(struct batch *b, struct job *j)
{
	uint64_t ms = b->b_conf->p_batch.pb_retry_backoff_ms;
	uint64_t max = b->b_conf->p_batch.pb_retry_backoff_max_ms;

	for (int i = 1; i < j->j_attempt && ms < max; i++)
		ms *= 2;
	return ms < max ? ms : max;
}

/*
 * Moves the file to done/ or failed/, with the rows the rules refused
 * beside it. Returns -1 when the move failed (logged).
 */
static int
settle_file(struct batch *b, struct job *j, enum stage_area to)
{
	char final[NAME_MAX + 1], *rejects;

	if (tenant_move(j->j_tenant, AREA_PROCESSING, to, j->j_dataset,
	    j->j_name, final, sizeof(final)) < 0) {
		log_warn("tenant %s: move %s from processing to %s",
		    j->j_tenant->t_id, j->j_name, state_area_names[to]);
		return -1;
	}
	if (!j->j_rejects)
		return 0;
	rejects = rejects_path(b, j);
	qgate_keep_rejects(j->j_tenant, rejects, to, j->j_dataset, final,
	    j->j_id);
	free(rejects);
	return 0;
}

/*
 * Writes the record of the job's end, then moves its file to done/,
 * failed/, quarantine/ or rejected/. Returns -1, nothing moved, when the
 * record could not be written, when the file could not be placed there
 * (its name taken and too long for a suffix: cut, it would be another
 * name), or when the move failed after the record (no inode left for
 * done/<dataset>): j_recorded then says only the move is left, so that a
 * retry does not record the job twice, and the file does not stay in
 * processing/ with no job (its name blocked, run again at a restart).
 */
static int
record_and_move(struct batch *b, struct job *j, const struct record *r,
    enum stage_area to)
{
	char *rejects;
	int rc;

	if (to == AREA_REJECTED) {	/* staging_reject() checks the name */
		rc = staging_reject(b, j->j_tenant, AREA_PROCESSING,
		    j->j_dataset, j->j_name, j->j_bytes, r->r_reason,
		    j->j_recorded);
		j->j_recorded |= rc == 1;
		return rc == 0 ? 0 : -1;
	}
	if (!tenant_can_place(j->j_tenant, to, j->j_dataset, j->j_name) ||
	    (!j->j_recorded && batch_record(b, r) < 0))
		return -1;
	j->j_recorded = true;
	if (to != AREA_QUARANTINE)
		return settle_file(b, j, to);
	rejects = rejects_path(b, j);
	rc = qgate_quarantine(j->j_tenant, j->j_dataset, j->j_name,
	    conf_quality_for(j->j_conf, j->j_dataset), r->r_summary,
	    r->r_reason, rejects, j->j_id);
	free(rejects);
	return rc;
}

/* Keeps the record r (copied) for finish_again(), after a backoff. */
static void
hold(struct batch *b, struct job *j, const struct record *r,
    enum stage_area to)
{
	j->j_record = *r;
	if (r->r_reason)
		j->j_record.r_reason = j->j_record_reason = xstrdup(r->r_reason);
	if (r->r_summary)
		j->j_record.r_summary = j->j_record_summary =
		    bson_copy(r->r_summary);
	j->j_record_to = to;
	j->j_record_delay_ms = b->b_conf->p_batch.pb_retry_backoff_ms;
	if (j->j_record_delay_ms < RECORD_RETRY_MIN_MS)
		j->j_record_delay_ms = RECORD_RETRY_MIN_MS;
	j->j_state = JOB_RECORDING;
	clock_timer_in(j->j_timer, j->j_record_delay_ms);
}

/*
 * Ends the job: its record, then its file's move. A record that cannot
 * be written (a full disk) holds the move, or the file would be settled
 * with no record at all: the job keeps the record and tries both again
 * after a backoff, the file in processing/ meanwhile (a restart runs it
 * again: docs/architecture.md, "Decisions").
 */
static void
finish(struct batch *b, struct job *j, const struct record *r,
    enum stage_area to)
{
	if (record_and_move(b, j, r, to) == 0)
		job_free(b, j);
	else
		hold(b, j, r, to);
}

void
job_hold_rejection(struct tenant *t, const char *dataset, const char *name,
    uint64_t bytes, const char *reason, bool recorded)
{
	struct job *j = job_new(t, dataset, name, bytes);
	struct record r;

	j->j_unclaimed = true;
	j->j_recorded = recorded;
	fill_record(&r, j, "rejected", reason);
	hold(t->t_batch, j, &r, AREA_REJECTED);
	log_info("tenant %s: %s%s%s: rejected (%s), held in processing/ "
	    "until its %s", t->t_id, dataset, *dataset ? "/" : "", name,
	    reason, recorded ? "move to rejected/ can be done" :
	    "record can be written");
}

/* A held record's backoff is over: try it again, waiting longer each time. */
static void
finish_again(struct batch *b, struct job *j)
{
	uint64_t max = b->b_conf->p_batch.pb_retry_backoff_max_ms;

	if (record_and_move(b, j, &j->j_record, j->j_record_to) == 0) {
		job_free(b, j);
		return;
	}
	j->j_record_delay_ms = j->j_record_delay_ms < max / 2 ?
	    j->j_record_delay_ms * 2 : max;
	if (j->j_record_delay_ms < RECORD_RETRY_MIN_MS)
		j->j_record_delay_ms = RECORD_RETRY_MIN_MS;
	clock_timer_in(j->j_timer, j->j_record_delay_ms);
}

/* What an attempt's end means, from its wait status. */
struct verdict {
	bool	 v_ok;
	bool	 v_tempfail;	/* exit 75: does not count against retries */
	bool	 v_permanent;	/* retrying cannot help */
	bool	 v_held;	/* ran well; the rest waits for a restart */
	char	 v_reason[256];
};

/* The "error" of the app's result summary, or NULL. */
static const char *
summary_error(const bson_t *summary)
{
	bson_iter_t it;

	if (summary == NULL || !bson_iter_init_find(&it, summary, "error") ||
	    !BSON_ITER_HOLDS_UTF8(&it))
		return NULL;
	return bson_iter_utf8(&it, NULL);
}

/*
 * What an attempt's end means, from its wait status and its summary
 * (which may say why the file will never work).
 */
static void
judge(struct job *j, int status, const bson_t *summary, struct verdict *v)
{
	const char *why;
	char dur[32];

	memset(v, 0, sizeof(*v));
	if (j->j_timed_out) {
		snprintf(v->v_reason, sizeof(v->v_reason), "timeout: still "
		    "running after %s", units_fmt_duration(
		    j->j_app->a_timeout_ms, dur, sizeof(dur)));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) ==
	    APP_EXIT_DONE) {
		v->v_ok = true;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) ==
	    APP_EXIT_TEMPFAIL) {
		v->v_tempfail = true;
		snprintf(v->v_reason, sizeof(v->v_reason),
		    "tempfail: exit 75 (try again later)");
	} else if (WIFEXITED(status) && (WEXITSTATUS(status) ==
	    APP_EXIT_DATAERR || WEXITSTATUS(status) == APP_EXIT_NOINPUT)) {
		/* The app says the file will never work: no retry. */
		v->v_permanent = true;
		why = summary_error(summary);
		snprintf(v->v_reason, sizeof(v->v_reason), "data: exit %d "
		    "(the app says this file will never work)%s%.200s",
		    WEXITSTATUS(status), why ? ": " : "", why ? why : "");
	} else if (WIFEXITED(status)) {
		snprintf(v->v_reason, sizeof(v->v_reason), "exit: status %d",
		    WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		char how[96];

		app_describe_exit(status, how, sizeof(how));
		snprintf(v->v_reason, sizeof(v->v_reason), "signal: %s", how);
	}
}

/*
 * The tenant's self that takes over a retired self's file to retry:
 * its profile came back while the job ran, and its recovery left the
 * file in processing/ to this job (job_holds). NULL: none, the file
 * waits there for the tenant's next start.
 */
static struct tenant *
successor(struct batch *b, struct job *j)
{
	return j->j_tenant->t_retired ? tenant_find(b, j->j_tenant->t_id) :
	    NULL;
}

/* Moves a job (not queued) to its tenant's new self t. */
static void
hand_over(struct job *j, struct tenant *t)
{
	struct tenant *old = j->j_tenant;

	j->j_tenant = t;
	t->t_jobs++;
	old->t_jobs--;
	tenant_release(old);
}

/*
 * Settles a finished attempt: done/, a retry after backoff, or failed/.
 * r carries the attempt's figures; its status and reason are set here.
 * An ok or failed end of a retired tenant's job settles the file as
 * any other: the tenant's new self, if any, left it to this job.
 */
static void
conclude(struct batch *b, struct job *j, struct record *r,
    const struct verdict *v)
{
	struct tenant *heir;
	bool retry;

	/*
	 * The record goes first, the move after: killed in between, the file
	 * is still in processing/ and runs again at the next start (a second
	 * record, marked recovered); the other way round it would sit in
	 * done/ or failed/ with no record at all. finish() holds the move
	 * while the record cannot be written.
	 */
	if (v->v_ok) {
		r->r_status = "ok";
		finish(b, j, r, AREA_DONE);
		return;
	}
	r->r_reason = v->v_reason;
	if (!v->v_tempfail)
		j->j_failures++;
	retry = !v->v_permanent && (v->v_tempfail ||
	    j->j_failures <= j->j_app->a_retries);
	heir = successor(b, j);
	if (j->j_interrupted || v->v_held || (retry && (b->b_stopping ||
	    (j->j_tenant->t_retired && heir == NULL)))) {
		/* The file stays in processing/ and runs at the next start. */
		r->r_status = "retry";
		if (j->j_interrupted && !v->v_held)
			r->r_reason = "interrupted: batchmgr stopped the app "
			    "while shutting down";
		batch_record(b, r);
		job_free(b, j);
		return;
	}
	if (retry) {
		uint64_t delay = backoff_ms(b, j);

		r->r_status = "retry";
		batch_record(b, r);
		/* After the record: r names the tenant by the retired self's
		 * t_id, which the hand-over may free. */
		if (heir != NULL)
			hand_over(j, heir);
		j->j_state = JOB_BACKOFF;
		clock_timer_in(j->j_timer, delay);
		log_debug("tenant %s: %s: retry in %llums (%s)",
		    j->j_tenant->t_id, j->j_name, (unsigned long long)delay,
		    v->v_reason);
		return;
	}
	r->r_status = j->j_timed_out ? "timeout" : "failed";
	log_info("tenant %s: %s failed after %d attempts: %s",
	    j->j_tenant->t_id, j->j_name, j->j_attempt, v->v_reason);
	finish(b, j, r, AREA_FAILED);
}

static void
release_slot(struct batch *b, struct job *j)
{
	if (!j->j_tenant->t_retired)
		sched_finished(&b->b_sched, &j->j_tenant->t_queue);
	else
		b->b_sched.s_running--;
}

static void decrypted(struct batch *, struct job *, int);
static void job_run_app(struct batch *, struct job *);

/* The record of a finished run of the app: its end and its summary. */
static void
fill_run(struct record *r, struct job *j, int status, const struct rusage *ru,
    const bson_t *summary)
{
	fill_record(r, j, NULL, NULL);
	if (WIFEXITED(status))
		r->r_exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		r->r_signal = WTERMSIG(status);
	r->r_start_ms = j->j_start_ms;
	r->r_end_ms = record_now_ms();
	r->r_cpu_ms = (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) *
	    1000 + (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) /
	    1000;
	r->r_max_rss_kb = ru->ru_maxrss;
	r->r_summary = summary;
}

/*
 * The quality gate's first pass ended well: true when the job goes on
 * (the second pass started, or the file quarantined); false when v is
 * for conclude(): this run counts as the ingest (the app reported no
 * first-pass counts), or batchmgr is stopping and the job is held.
 */
static bool
gate(struct batch *b, struct job *j, int status, const struct rusage *ru,
    const bson_t *summary, struct verdict *v)
{
	const struct conf_quality *q = conf_quality_for(j->j_conf,
	    j->j_dataset);
	struct record r;
	char why[400], *rejects;

	j->j_validating = false;
	switch (q ? qgate_judge(q, summary, why, sizeof(why)) : QG_PASS) {
	case QG_PASS:
		rejects = rejects_path(b, j);
		unlink(rejects);
		free(rejects);
		/* Started now, the second pass would outlast the grace, or
		 * start after it and never be stopped: the next start runs
		 * both passes. */
		if (b->b_stopping) {
			v->v_ok = false;
			v->v_held = true;
			snprintf(v->v_reason, sizeof(v->v_reason),
			    "interrupted: batchmgr is shutting down; the "
			    "quality gate's second pass waits for the next "
			    "start");
			return false;
		}
		job_run_app(b, j);
		return true;
	case QG_OVER:
		release_slot(b, j);
		job_dispatch(b);
		/* The record first, then the file to quarantine/ (killed in
		 * between, it is still in processing/ and runs again at the
		 * next start). */
		fill_run(&r, j, status, ru, summary);
		r.r_status = "quarantined";
		r.r_reason = why;
		finish(b, j, &r, AREA_QUARANTINE);
		return true;
	case QG_NOT_APPLIED:
		log_warnx("tenant %s: %s: %s; this run counts as the ingest",
		    j->j_tenant->t_id, j->j_name, why);
		break;
	}
	return false;
}

static void
job_exited(struct batch *b, struct job *j, int status,
    const struct rusage *ru)
{
	struct verdict v;
	struct record r;
	char why[300];
	bson_t *summary;

	evtimer_del(j->j_timer);
	TAILQ_REMOVE(&b->b_running, j, j_run_entry);
	b->b_nrunning--;
	j->j_pid = 0;
	if (j->j_state == JOB_DECRYPTING) {
		decrypted(b, j, status);
		return;
	}
	summary = read_summary(b, j, why, sizeof(why));
	judge(j, status, summary, &v);
	if (j->j_validating && v.v_ok && gate(b, j, status, ru, summary,
	    &v)) {
		if (summary)
			bson_destroy(summary);
		return;
	}
	release_slot(b, j);
	/* Refill the slot before the bookkeeping below, so the next app
	 * starts on the other core while this one's outcome is recorded. */
	job_dispatch(b);
	fill_run(&r, j, status, ru, summary);
	if (why[0] && v.v_ok)
		log_warnx("tenant %s: %s: %s", j->j_tenant->t_id, j->j_name, why);
	conclude(b, j, &r, &v);
	if (summary)
		bson_destroy(summary);
}

/* The exec (or set-up) of an app failed: counts as a failed attempt. */
static void
job_spawn_failed(struct batch *b, struct job *j, const char *stage, int err)
{
	struct verdict v = { 0 };
	struct record r;

	release_slot(b, j);
	snprintf(v.v_reason, sizeof(v.v_reason), "spawn: %s %s: %s", stage,
	    j->j_app->a_argv[0], strerror(err));
	log_warnx("tenant %s: %s", j->j_tenant->t_id, v.v_reason);
	fill_record(&r, j, NULL, NULL);
	r.r_start_ms = j->j_start_ms;
	r.r_end_ms = record_now_ms();
	conclude(b, j, &r, &v);
}

/* The profile was reloaded without an app for a queued file's dataset. */
static void
job_no_app(struct batch *b, struct job *j)
{
	struct verdict v = { .v_permanent = true };
	struct record r;

	release_slot(b, j);
	snprintf(v.v_reason, sizeof(v.v_reason), "no-app: the profile no "
	    "longer has an app for dataset \"%s\"", j->j_dataset);
	fill_record(&r, j, NULL, NULL);
	conclude(b, j, &r, &v);
}

/* A process of the job's has started: it runs under the app's timeout. */
static void
job_running_pid(struct batch *b, struct job *j, pid_t pid)
{
	j->j_pid = pid;
	TAILQ_INSERT_TAIL(&b->b_running, j, j_run_entry);
	b->b_nrunning++;
	clock_timer_in(j->j_timer, j->j_app->a_timeout_ms);
}

/*
 * The file will never decrypt (not age, no identity of the tenant's
 * opens it, tampered with): rejected/ with the reason, no retry.
 */
static void
job_reject(struct batch *b, struct job *j, const char *why)
{
	struct record r;

	release_slot(b, j);
	log_warnx("tenant %s: %s: %s", j->j_tenant->t_id, j->j_name, why);
	fill_record(&r, j, "rejected", why);
	finish(b, j, &r, AREA_REJECTED);
}

/*
 * Starts age on the job's file (batch.encryption); decrypted() goes on
 * when it has exited.
 */
static void
job_decrypt(struct batch *b, struct job *j, const char *input)
{
	char why[300];
	const char *stage;

	switch (decrypt_start(b->b_conf, j->j_conf->t_batch.b_encryption.e_keys,
	    input, &j->j_decrypt, &stage, why, sizeof(why))) {
	case DECRYPT_NOT_AGE:
		job_reject(b, j, why);
		return;
	case DECRYPT_FAILED:
		job_spawn_failed(b, j, stage, errno);
		return;
	case DECRYPT_STARTED:
		break;
	}
	j->j_state = JOB_DECRYPTING;
	job_running_pid(b, j, j->j_decrypt.d_pid);
	log_debug("tenant %s: %s: decrypting with pid %d", j->j_tenant->t_id,
	    j->j_name, (int)j->j_pid);
}

/*
 * age has exited: the app runs on the plaintext, or the file goes to
 * rejected/ (age refused it), or the attempt failed (age was stopped: a
 * timeout, a shutdown), or it is held for the next start (batchmgr is
 * shutting down: the app, started now, would outlast the grace or start
 * after it and never be stopped; as gate() does).
 */
static void
decrypted(struct batch *b, struct job *j, int status)
{
	struct verdict v = { 0 };
	struct record r;
	bool whole;
	int fd;

	fd = decrypt_finish(&j->j_decrypt, status, v.v_reason,
	    sizeof(v.v_reason));
	whole = fd >= 0 && !j->j_timed_out && !j->j_interrupted;
	if (whole && !b->b_stopping) {
		j->j_state = JOB_RUNNING;
		j->j_plain_fd = fd;
		job_run_app(b, j);
		return;
	}
	if (fd >= 0)
		close(fd);
	if (whole) {
		v.v_held = true;
		snprintf(v.v_reason, sizeof(v.v_reason), "interrupted: "
		    "batchmgr is shutting down; the app runs on the file at "
		    "the next start");
	} else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		job_reject(b, j, v.v_reason);
		return;
	}
	release_slot(b, j);
	job_dispatch(b);
	fill_record(&r, j, NULL, NULL);
	r.r_start_ms = j->j_start_ms;
	r.r_end_ms = record_now_ms();
	if (j->j_timed_out)
		snprintf(v.v_reason, sizeof(v.v_reason), "timeout: still "
		    "decrypting after the app's timeout");
	conclude(b, j, &r, &v);
}

static void
job_start(struct batch *b, struct job *j)
{
	const struct conf_quality *q;
	struct tenant *t = j->j_tenant;
	char *input;

	if (j->j_conf)
		conf_tenant_unref(j->j_conf);
	j->j_conf = conf_tenant_ref(t->t_conf);
	j->j_app = conf_batch_app_for(j->j_conf, j->j_dataset);
	j->j_attempt++;
	j->j_timed_out = false;
	/* The previous attempt's files go with its id. */
	attempt_clear(b, j);
	snprintf(j->j_id, sizeof(j->j_id), "%s-%llx-%llu", t->t_id,
	    (unsigned long long)b->b_boot_ms,
	    (unsigned long long)++b->b_job_seq);
	j->j_start_ms = record_now_ms();
	j->j_state = JOB_RUNNING;
	if (j->j_app == NULL) {
		job_no_app(b, j);
		return;
	}
	input = tenant_path(t, AREA_PROCESSING, j->j_dataset, j->j_name);
	q = conf_quality_for(j->j_conf, j->j_dataset);
	/* retry --force marks the file itself, so the mark moves with it
	 * (a link's own: the file was checked to be regular, but never
	 * follow one). */
	j->j_forced = lgetxattr(input, QGATE_FORCE_XATTR, NULL, 0) >= 0;
	j->j_validating = q != NULL && q->q_max_rejected_percent < 100 &&
	    !j->j_forced;
	if (j->j_conf->t_batch.b_encryption.e_enabled)
		job_decrypt(b, j, input);
	else
		job_run_app(b, j);
	free(input);
}

/*
 * Starts the job's app on its file (the decrypted one if there is one),
 * with the dataset's quality rules: a first pass, or the ingest.
 */
static void
job_run_app(struct batch *b, struct job *j)
{
	const struct conf_quality *q = conf_quality_for(j->j_conf,
	    j->j_dataset);
	struct tenant *t = j->j_tenant;
	char *input, *result, *rules, *rejects;
	struct app_spec spec;
	struct app app;
	const char *stage;
	int rc, err;

	/* Both passes share the descriptor's offset: each starts at 0 (an
	 * app may read fd 0 rather than open /dev/stdin afresh). */
	if (j->j_plain_fd >= 0)
		(void)lseek(j->j_plain_fd, 0, SEEK_SET);
	input = j->j_plain_fd >= 0 ? strdup("/dev/stdin") :
	    tenant_path(t, AREA_PROCESSING, j->j_dataset, j->j_name);
	if (input == NULL)
		fatal("%s: strdup", __func__);
	result = result_path(b, j);
	rules = q ? quality_json(q) : NULL;
	rejects = q ? rejects_path(b, j) : NULL;
	j->j_rejects = rejects != NULL;
	spec = (struct app_spec){
		.as_platform = b->b_conf,
		.as_base = b->b_base,
		.as_tenant = j->j_conf,
		.as_argv = j->j_app->a_argv,
		.as_limits = &j->j_app->a_limits,
		.as_instance = j->j_id,
		.as_log = j->j_app->a_name,
		/* Throughput work below latency-bound work; without a cgroup
		 * cpu controller it is what keeps a spinning batch app from
		 * doubling the others' latencies on a small machine
		 * (t_misbehave.sh). */
		.as_nice = (int)b->b_conf->p_batch.pb_app_nice,
		.as_input_file = input,
		.as_input_fd = j->j_plain_fd,
		.as_dataset = j->j_dataset,
		.as_result_file = result,
		.as_quality = rules,
		.as_validate = j->j_validating,
		.as_rejects_file = rejects,
	};
	rc = app_start(&spec, &app, &stage);
	err = errno;
	free(input);
	free(result);
	free(rules);
	free(rejects);
	if (rc < 0) {
		j->j_pid = 0;
		j->j_leaf = NULL;
		j->j_log = NULL;
		job_spawn_failed(b, j, stage, err);
		return;
	}
	j->j_leaf = app.ap_leaf;
	j->j_log = app.ap_log;
	job_running_pid(b, j, app.ap_pid);
	log_debug("tenant %s: %s: started %s as pid %d (attempt %d)", t->t_id,
	    j->j_name, j->j_app->a_name, (int)j->j_pid, j->j_attempt);
}

void
job_dispatch(struct batch *b)
{
	struct sched_queue *q;
	struct sched_item *it;

	if (b->b_stopping)
		return;
	while ((it = sched_next(&b->b_sched, &q)) != NULL)
		job_start(b, (struct job *)it);
}

/*
 * One timer serves four purposes, told apart by the job's state: the
 * run's timeout, the grace between SIGTERM and SIGKILL, the backoff
 * before a retry, and the one before a held record's next try.
 */
static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct batch *b = j->j_tenant->t_batch;

	if (j->j_state == JOB_BACKOFF) {
		j->j_state = JOB_QUEUED;
		sched_push(&j->j_tenant->t_queue, &j->j_item);
		job_dispatch(b);
		return;
	}
	if (j->j_state == JOB_RECORDING) {
		finish_again(b, j);
		return;
	}
	if ((j->j_state != JOB_RUNNING && j->j_state != JOB_DECRYPTING) ||
	    j->j_pid <= 0)
		return;
	if (!j->j_timed_out && !j->j_interrupted) {
		j->j_timed_out = true;
		log_info("tenant %s: %s: timeout, stopping pid %d",
		    j->j_tenant->t_id, j->j_name, (int)j->j_pid);
		spawn_signal_group(j->j_pid, SIGTERM);
		clock_timer_in(j->j_timer, j->j_app->a_stop_timeout_ms);
		return;
	}
	log_info("tenant %s: %s: pid %d ignored SIGTERM, killing its group",
	    j->j_tenant->t_id, j->j_name, (int)j->j_pid);
	spawn_signal_group(j->j_pid, SIGKILL);
}

static struct job *
find_running(struct batch *b, pid_t pid)
{
	struct job *j;

	TAILQ_FOREACH(j, &b->b_running, j_run_entry)
		if (j->j_pid == pid)
			return j;
	return NULL;
}

static bool
reap_find(pid_t pid, struct app_found *f, void *arg)
{
	struct job *j = find_running(arg, pid);

	if (j == NULL)
		return false;
	f->af_run = j;
	f->af_leaf = &j->j_leaf;
	f->af_log = &j->j_log;
	return true;
}

static void
reap_exited(void *run, int status, const struct rusage *ru, void *arg)
{
	job_exited(arg, run, status, ru);
}

void
job_reap(struct batch *b)
{
	const struct app_reaper r = {
		.ar_find = reap_find,
		.ar_exited = reap_exited,
		.ar_arg = b,
	};

	app_reap(&r);
	job_dispatch(b);
}

void
job_forget_tenant(struct batch *b, struct tenant *t)
{
	struct job *j, *next;

	TAILQ_FOREACH_SAFE(j, &b->b_jobs, j_entry, next) {
		if (j->j_tenant != t || j->j_state == JOB_RUNNING ||
		    j->j_state == JOB_DECRYPTING)
			continue;
		if (j->j_state == JOB_QUEUED)
			sched_unlink(&t->t_queue, &j->j_item);
		if (j->j_state == JOB_RECORDING && j->j_unclaimed)
			log_info("tenant %s: %s: left in processing/ %s; the "
			    "next start looks at it again", t->t_id,
			    j->j_name, j->j_recorded ? "after the record of "
			    "its rejection" : "with no record of its "
			    "rejection");
		else if (j->j_state == JOB_RECORDING)
			log_info("tenant %s: %s: left in processing/ %s; it "
			    "runs again at the next start", t->t_id,
			    j->j_name, j->j_recorded ? "after its record" :
			    "with no record");
		job_free(b, j);
	}
}

bool
job_holds(const struct batch *b, const char *id, const char *dataset,
    const char *name)
{
	const struct job *j;

	TAILQ_FOREACH(j, &b->b_jobs, j_entry)
		if (strcmp(j->j_tenant->t_id, id) == 0 &&
		    strcmp(j->j_dataset, dataset) == 0 &&
		    strcmp(j->j_name, name) == 0)
			return true;
	return false;
}

int
job_running(const struct batch *b)
{
	return b->b_nrunning;
}

/* shutdown_grace has passed: stop what is still running. */
static void
on_stop_grace(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	struct job *j;

	TAILQ_FOREACH(j, &b->b_running, j_run_entry) {
		j->j_interrupted = true;
		log_info("tenant %s: %s: stopping pid %d for shutdown",
		    j->j_tenant->t_id, j->j_name, (int)j->j_pid);
		spawn_signal_group(j->j_pid, SIGTERM);
		clock_timer_in(j->j_timer, j->j_app->a_stop_timeout_ms);
	}
}

int
job_shutdown(struct batch *b)
{
	struct tenant *t, *next;

	b->b_stopping = true;
	TAILQ_FOREACH_SAFE(t, &b->b_tenants, t_entry, next)
		job_forget_tenant(b, t);
	if (job_running(b) > 0) {
		b->b_stop_ev = evtimer_new(b->b_base, on_stop_grace, b);
		if (b->b_stop_ev == NULL)
			fatalx("%s: evtimer_new", __func__);
		clock_timer_in(b->b_stop_ev,
		    b->b_conf->p_batch.pb_shutdown_grace_ms);
	}
	return job_running(b);
}
