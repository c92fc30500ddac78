/*
 * Platform settings (conf/mysimbdp.cfg) and tenant profiles
 * (conf/tenants/<id>.cfg), read with libconfig and validated against one
 * table per group (conf.c). Every error names file, line and setting.
 */
#ifndef MYSIMBDP_CONF_H
#define MYSIMBDP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sysexits.h>

#define TENANT_ID_MAX 32
/* A stream's name, or a subscription's: "<stream>.<subscription>". */
#define STREAM_NAME_MAX (2 * TENANT_ID_MAX + 1)

/* Resource limits applied to a tenant app; 0 means "not limited". */
struct conf_limits {
	uint64_t	 l_cpu_ms;
	uint64_t	 l_memory;
	int64_t		 l_open_files;
	uint64_t	 l_file_size;
	int64_t		 l_processes;
};

/*
 * What a tenant's apps may use together (its "resources" group), enforced
 * by the tenant's cgroup where cgroup v2 has the controller (cgroup.c);
 * 0 means "not limited".
 */
struct conf_resources {
	uint64_t	 r_memory;	/* memory.max, bytes */
	int64_t		 r_cpu_percent;	/* cpu.max: 100 is one core */
	int64_t		 r_processes;	/* pids.max */
};

struct conf_batch_app {
	char		*a_name;
	char		**a_argv;	/* argv[0] resolved to an absolute path */
	char		**a_datasets;	/* empty: the app for top-level files */
	uint64_t	 a_timeout_ms;
	int64_t		 a_retries;
	uint64_t	 a_stop_timeout_ms;
	struct conf_limits a_limits;
};

struct conf_quota {
	uint64_t	 q_window_ms;
	int64_t		 q_max_files;	/* 0: no limit */
	uint64_t	 q_max_bytes;	/* 0: no limit */
};

/*
 * Files encrypted for the platform (docs/encryption.md): each file is
 * decrypted with one of the identities before its app runs.
 */
struct conf_encryption {
	bool		 e_enabled;	/* the profile has the group */
	char		*e_method;	/* "age" */
	char		**e_keys;	/* identity files, absolute paths */
};

/*
 * A data quality rule (docs/quality.md): checks on one field of every
 * document an app stores; a document that fails one is not stored.
 */
struct conf_rule {
	char		*r_name;
	char		*r_field;	/* a key, or a dotted path */
	bool		 r_required;	/* there and not null */
	char		*r_type;	/* "string", "number", ...; NULL: any */
	char		*r_min;		/* numbers, as written; NULL: none */
	char		*r_max;
	char		**r_values;	/* allowed strings; empty: any */
	char		*r_pattern;	/* POSIX extended regex; NULL: none */
	uint64_t	 r_max_age_ms;	/* a date no older; 0: none */
	bool		 r_unique;	/* once per file (unit) */
};

/* The rules of some datasets of a tenant (or of a stream), and their
 * threshold (datasets only). */
struct conf_quality {
	bool		 q_enabled;	/* a stream's: the group is there */
	char		**q_datasets;	/* empty: top-level files */
	int64_t		 q_max_rejected_percent;	/* 100: no threshold */
	uint64_t	 q_window_ms;	/* a stream's: the share's window */
	bool		 q_pause;	/* a stream's: drain it when over */
	struct conf_rule *q_rules;
	size_t		 q_nrules;
};

struct conf_batch {
	bool		 b_enabled;	/* the profile has a batch group */
	char		**b_formats;
	uint64_t	 b_max_file_size;
	struct conf_quota b_quota;
	int64_t		 b_max_concurrent;
	int64_t		 b_weight;
	uint64_t	 b_retention_ms;
	uint64_t	 b_partial_grace_ms;
	uint64_t	 b_upload_settle_ms;	/* 0: a close means complete */
	struct conf_encryption b_encryption;
	struct conf_quality *b_quality;
	size_t		 b_nquality;
	struct conf_batch_app *b_apps;
	size_t		 b_napps;
};

struct conf_instances {
	int64_t		 i_min;
	int64_t		 i_max;
	int64_t		 i_initial;	/* desired count at start-up */
};

/*
 * How the monitor scales a stream: its "scaling" group. Without the group
 * the monitor only watches the stream.
 */
struct conf_scaling {
	bool		 sc_enabled;		/* the stream has the group */
	int64_t		 sc_target_backlog;	/* per instance; 0: not used */
	uint64_t	 sc_max_ingest_time_ms;	/* per message; 0: not used */
	int64_t		 sc_tolerance_pct;
	uint64_t	 sc_scale_down_delay_ms;
	uint64_t	 sc_cooldown_ms;
	uint64_t	 sc_pause_after_ms;	/* 0: never pause intake */
};

/* One named stream of a tenant: its queue, endpoints and instances. */
struct conf_stream {
	char		*s_name;
	char		**s_argv;	/* argv[0] resolved to an absolute path */
	struct conf_instances s_instances;
	uint64_t	 s_max_message_size;
	uint64_t	 s_max_queue_bytes;
	int64_t		 s_max_messages_per_second;	/* 0: no limit */
	char		*s_durability;	/* "fsync", "os" or "memory" */
	uint64_t	 s_ack_timeout_ms;
	int64_t		 s_max_deliveries;
	uint64_t	 s_stop_timeout_ms;
	uint64_t	 s_start_timeout_ms;	/* to its HELLO */
	struct conf_limits s_limits;
	struct conf_scaling s_scaling;
	struct conf_quality s_quality;	/* rules for its documents */
	/*
	 * Subscriptions besides the stream's own app (docs/configuration.md,
	 * "Subscriptions"): each named "<stream>.<name>", with its own app,
	 * instances, acks and limits, and the stream's settings for the
	 * rest (queue, durability, quality). s_parent: a subscription's
	 * stream, NULL for a stream.
	 */
	struct conf_stream *s_subs;
	size_t		 s_nsubs;
	const struct conf_stream *s_parent;
};

/*
 * The write concern apps get in MONGO_URL (mongodb:// URLs only, and only
 * the options the URL does not set itself).
 */
struct conf_mongo_write {
	char		*mw_w;		/* "majority" or a number of members */
	bool		 mw_journal;
	uint64_t	 mw_wtimeout_ms;	/* 0: none */
	bool		 mw_set;	/* a tenant's: present, replaces the
					   platform's */
};

/*
 * A log rotated by size (common/applog.c): tenant apps' stdout/stderr
 * (the platform file's "app_logs" group, which a tenant's profile may
 * override setting by setting: each log/<tenant>/<name>.log)
 * and the monitor's own files ("monitor.logs"). A log is rotated before
 * it would pass al_max_size and keeps al_backups older files.
 */
struct conf_app_logs {
	uint64_t	 al_max_size;
	int64_t		 al_backups;
	uint64_t	 al_rate;	/* app_logs: bytes a second read from
					   an app's pipe; 0: no limit */
};

/* One tenant profile; shared by reference so running jobs keep theirs. */
struct conf_tenant {
	int		 t_refs;
	char		*t_file;
	char		*t_id;
	char		*t_mongo_db;
	char		*t_mongo_url;	/* NULL: the platform's */
	struct conf_mongo_write t_mongo_write;
	char		*t_user;	/* NULL: run as the daemon's user */
	uid_t		 t_uid;
	gid_t		 t_gid;
	struct conf_resources t_resources;
	struct conf_app_logs t_app_logs;	/* left out: the platform's
						   (conf_tenant_app_logs) */
	struct conf_batch t_batch;
	struct conf_stream *t_streams;
	size_t		 t_nstreams;
	char		**t_producer_keys;	/* CURVE public keys, Z85 */
};

struct conf_platform_batch {
	int64_t		 pb_workers;
	uint64_t	 pb_scan_interval_ms;
	uint64_t	 pb_settle_ms;
	uint64_t	 pb_shutdown_grace_ms;
	uint64_t	 pb_retry_backoff_ms;
	uint64_t	 pb_retry_backoff_max_ms;
	int64_t		 pb_app_nice;	/* batch apps' nice value */
	char		*pb_age;	/* the age program (encryption) */
};

struct conf_platform_stream {
	uint64_t	 ps_stats_interval_ms;
	uint64_t	 ps_shutdown_grace_ms;
	uint64_t	 ps_restart_backoff_ms;
	uint64_t	 ps_restart_backoff_max_ms;
	uint64_t	 ps_min_uptime_ms;
	int64_t		 ps_crashloop_restarts;
	uint64_t	 ps_segment_size;	/* queue segments */
	/* What all queues may hold in memory; 0: 40% of the machine's. */
	uint64_t	 ps_max_memory;
};

/* The monitor daemon: the platform file's "monitor" group. */
struct conf_platform_monitor {
	uint64_t	 pm_interval_ms;	/* dashboard line per stream */
	bool		 pm_http;		/* serve Prometheus text */
	char		*pm_http_address;	/* a loopback address */
	int64_t		 pm_http_port;		/* 0: any free port */
	uint64_t	 pm_report_ttl_ms;	/* reports count this long */
	uint64_t	 pm_max_report_size;
	uint64_t	 pm_control_timeout_ms;	/* wait for streammgr's reply */
	int64_t		 pm_max_reports_per_second;	/* per tenant; 0: no limit */
	uint64_t	 pm_max_report_bytes;	/* a second, per tenant; 0: none */
	struct conf_app_logs pm_logs;	/* monitor.log, metrics.jsonl */
};

/*
 * Producers on other hosts (the platform file's "remote" group): a TCP
 * address streammgr listens on with CURVE, and this node's key pair.
 */
struct conf_platform_remote {
	char		*pr_listen;	/* "tcp://ADDR:PORT"; NULL: none */
	char		*pr_server_key;	/* absolute; secret key file */
	char		**pr_operator_keys;	/* CURVE public keys, Z85 */
};

/* The control ports of a node, after its producers' port (PORT). */
#define CONF_CONTROL_STREAMMGR	1	/* PORT + 1 */
#define CONF_CONTROL_BATCHMGR	2	/* PORT + 2 */

/*
 * A cluster description (docs/deployment.md): one file, the same on every
 * node, naming each node, how others reach it and which tenants it
 * serves. The platform file's "cluster" group names the file and which
 * node this is.
 */
struct conf_node {
	char		*n_name;
	char		*n_address;	/* HOST:PORT, its remote.listen's port */
	char		*n_server_key;	/* its public key, Z85 */
	char		**n_tenants;
};

struct conf_cluster {
	char		*c_file;
	struct conf_node *c_nodes;
	size_t		 c_nnodes;
};

struct conf_platform_cluster {
	char		*pc_file;	/* absolute; NULL: no cluster */
	char		*pc_node;	/* this node's name in it */
};

struct conf_platform {
	char		*p_file;
	char		*p_state_dir;	/* absolute */
	char		*p_tenants_dir;	/* absolute */
	char		*p_apps_dir;	/* absolute */
	char		*p_mongo_url;	/* never NULL: file://<state>/coredms by default */
	struct conf_mongo_write p_mongo_write;
	char		*p_mongo_records_db;	/* the platform's own records */
	char		*p_log_level;
	struct conf_platform_batch p_batch;
	struct conf_platform_stream p_stream;
	struct conf_platform_monitor p_monitor;
	struct conf_app_logs p_app_logs;
	struct conf_platform_remote p_remote;
	struct conf_platform_cluster p_cluster_conf;
	struct conf_cluster *p_cluster;	/* loaded from pc_file, or NULL */
};

/* One error in parts: line 0 and setting NULL when it has none. */
struct conf_error {
	char		*ce_file;
	unsigned	 ce_line;
	char		*ce_setting;
	char		*ce_problem;
};

/*
 * Collected errors, each as one message "file:line: setting: problem"
 * (e_msgs) and in parts (e_list).
 */
struct conf_errors {
	char		**e_msgs;
	struct conf_error *e_list;
	size_t		 e_count;
};

/* The tenant profiles found in one folder. */
struct conf_tenant_set {
	struct conf_tenant **ts_tenants;	/* the files that loaded */
	size_t		 ts_count;
	char		**ts_failed;		/* ids whose file had errors */
	size_t		 ts_nfailed;
};

void conf_errors_free(struct conf_errors *errs);
/* Prints every error, one per line, to stderr. */
void conf_errors_print(const struct conf_errors *errs);

/*
 * Loads the platform file. Relative paths in it resolve against the folder
 * that holds it. Returns NULL when it has errors, all appended to errs.
 */
struct conf_platform *conf_platform_load(const char *file,
    struct conf_errors *errs);
void conf_platform_free(struct conf_platform *p);

/*
 * Loads one tenant profile; relative app paths resolve against apps_dir.
 * The profile's id must match the file name. Returns NULL on errors.
 */
struct conf_tenant *conf_tenant_load(const char *file, const char *apps_dir,
    struct conf_errors *errs);
struct conf_tenant *conf_tenant_ref(struct conf_tenant *t);
void conf_tenant_unref(struct conf_tenant *t);

/*
 * Loads every "*.cfg" file in dir. Files with errors are left out of the
 * set and named in ts_failed. Returns 0, or -1 if the folder cannot be read.
 */
int conf_tenants_load(const char *dir, const char *apps_dir,
    struct conf_tenant_set *set, struct conf_errors *errs);
void conf_tenant_set_free(struct conf_tenant_set *set);

/* The profile with this id in set, or NULL. */
struct conf_tenant *conf_tenant_set_find(const struct conf_tenant_set *set,
    const char *id);

/* Whether id's file was in the folder but had errors. */
bool conf_tenant_set_failed(const struct conf_tenant_set *set,
    const char *id);

/*
 * Validates a platform file (and the tenants folder it names), one tenant
 * profile (a file with an "id" setting), or a folder of profiles.
 * Returns the number of errors found. warns (may be NULL) gets what
 * loads but will not work: an app that is not an executable file.
 */
size_t conf_check_path(const char *path, struct conf_errors *errs,
    struct conf_errors *warns);

/* The app that serves dataset ("" for top-level files), or NULL. */
const struct conf_batch_app *conf_batch_app_for(const struct conf_tenant *t,
    const char *dataset);

/* The quality rules of dataset ("" for top-level files), or NULL. */
const struct conf_quality *conf_quality_for(const struct conf_tenant *t,
    const char *dataset);

/* The stream or subscription ("<stream>.<sub>") named name, or NULL. */
const struct conf_stream *conf_stream_find(const struct conf_tenant *t,
    const char *name);

/* Whether s is a valid tenant or dataset id: [a-z0-9_-]{1,32}. */
bool conf_valid_id(const char *s);

/* Whether s names a stream ("id") or a subscription ("id.id"). */
bool conf_valid_stream_name(const char *s);

/* Loads a cluster description; NULL after adding its errors to errs. */
struct conf_cluster *conf_cluster_load(const char *file,
    struct conf_errors *errs);
void conf_cluster_free(struct conf_cluster *c);

/* The node named name, or the node serving tenant; NULL if none. */
const struct conf_node *conf_cluster_node(const struct conf_cluster *c,
    const char *name);
const struct conf_node *conf_cluster_tenant_node(const struct conf_cluster *c,
    const char *tenant);

/*
 * Whether this node serves tenant: always without a cluster, else when
 * the description gives the tenant to this node.
 */
bool conf_serves_tenant(const struct conf_platform *p, const char *tenant);

/*
 * Leaves in set only the tenants this node serves (conf_serves_tenant),
 * logging each profile it leaves out at debug level.
 */
void conf_tenant_set_keep_served(const struct conf_platform *p,
    struct conf_tenant_set *set);

/*
 * "tcp://ADDR:PORT+offset" for a node whose remote.listen is
 * "tcp://ADDR:PORT" (malloc'd), or NULL when it has none or no fixed
 * port. offset: CONF_CONTROL_*.
 */
char *conf_remote_endpoint(const char *listen, int offset);

/* The MongoDB URL of a tenant: its own or the platform's. */
const char *conf_tenant_mongo_url(const struct conf_platform *p,
    const struct conf_tenant *t);

/* The URL a tenant's apps get as MONGO_URL: conf_tenant_mongo_url() with
 * the write concern the URL does not set itself (malloc'd). */
char *conf_tenant_app_mongo_url(const struct conf_platform *p,
    const struct conf_tenant *t);

/* The app_logs settings of a tenant's logs: the settings its profile
 * gives, the platform's for the others. */
struct conf_app_logs conf_tenant_app_logs(const struct conf_platform *p,
    const struct conf_tenant *t);

/* The platform's URL with its write concern, as the monitor writes the
 * platform's own records (malloc'd). */
char *conf_platform_app_mongo_url(const struct conf_platform *p);

/* One setting of the schema, as conf_settings_walk shows it. */
struct conf_setting {
	const char	*cs_path;	/* "batch.apps[].limits.cpu" */
	const char	*cs_type;	/* "integer", "size", "duration", "string",
					   "boolean", "strings", "argv", "group",
					   "list" (of groups) */
	const char	*cs_default;	/* as written in a file; NULL: none */
	bool		 cs_required;
};

/*
 * Calls fn for every setting of the platform file (platform) or of a
 * tenant profile, groups before their members, in the order of the
 * schema tables: the one list of settings the loader knows, for the
 * documentation check (tests) and for tools.
 */
void conf_settings_walk(bool platform,
    void (*fn)(const struct conf_setting *, void *), void *arg);

#endif
