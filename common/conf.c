/*
 * Configuration: libconfig parses, then one table per group validates.
 *
 * Each table row gives a setting's name, type, bounds and default (spelled
 * as it would be in the file, so defaults go through the same parser as
 * user values). The walker reports every unknown setting, wrong type,
 * out-of-range value and bad unit with file, line and setting path, and
 * keeps going so one run shows every error.
 */
#include "conf.h"
#include "curvekey.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonline.h"
#include "log.h"
#include "units.h"

enum field_type {
	FT_INT,
	FT_SIZE,
	FT_DURATION,
	FT_STRING,
	FT_BOOL,
	FT_STRLIST,	/* array of strings -> NULL-terminated char ** */
	FT_ARGV,	/* a string, or an array of strings */
	FT_GROUP,	/* nested struct at off */
	FT_GROUPLIST,	/* list of groups -> array + count */
};

#define F_REQUIRED	0x1

struct schema;

struct field {
	const char	*name;
	enum field_type	 type;
	size_t		 off;
	const char	*def;		/* default, as written in a file */
	int64_t		 min, max;	/* for INT, SIZE (bytes), DURATION (ms) */
	unsigned	 flags;
	const struct schema *sub;	/* GROUP, GROUPLIST */
	size_t		 count_off;	/* GROUPLIST: where the count goes */
	const char	*(*check)(const char *);	/* STRING, STRLIST items */
};

struct schema {
	const struct field *fields;
	size_t		 nfields;
	size_t		 elem_size;	/* GROUPLIST element size */
	size_t		 present_off;	/* bool set when the group is present */
};

#define NO_PRESENT ((size_t)-1)
#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

struct walk {
	const char	*file;
	struct conf_errors *errs;
	size_t		 before;	/* error count when the walk started */
};

static const char *check_id(const char *);
static const char *check_mongo_url(const char *);
static const char *check_user(const char *);
static const char *check_nonempty(const char *);
static const char *check_format(const char *);
static const char *check_log_level(const char *);
static const char *check_write_w(const char *);
static const char *check_durability(const char *);
static const char *check_ip_address(const char *);
static const char *check_curve_public(const char *);
static const char *check_tcp_endpoint(const char *);
static const char *check_node_address(const char *);
static const char *check_method(const char *);
static const char *check_absolute(const char *);
static const char *check_rule_type(const char *);
static const char *check_number(const char *);
static const char *check_pattern(const char *);

/* Tenant profile tables. */

static const struct field limits_fields[] = {
	{ "cpu", FT_DURATION, offsetof(struct conf_limits, l_cpu_ms), "0",
	    0, INT64_MAX, 0, NULL, 0, NULL },
	{ "memory", FT_SIZE, offsetof(struct conf_limits, l_memory), "0",
	    0, INT64_MAX, 0, NULL, 0, NULL },
	{ "open_files", FT_INT, offsetof(struct conf_limits, l_open_files), "0",
	    0, 1048576, 0, NULL, 0, NULL },
	{ "file_size", FT_SIZE, offsetof(struct conf_limits, l_file_size), "0",
	    0, INT64_MAX, 0, NULL, 0, NULL },
	{ "processes", FT_INT, offsetof(struct conf_limits, l_processes), "0",
	    0, 4194304, 0, NULL, 0, NULL },
};
static const struct schema limits_schema = {
	limits_fields, NFIELDS(limits_fields), 0, NO_PRESENT
};

/* The tenant's cgroup (cgroup.c): all its apps together. */
static const struct field resources_fields[] = {
	{ "memory", FT_SIZE, offsetof(struct conf_resources, r_memory), "0",
	    0, INT64_MAX, 0, NULL, 0, NULL },
	{ "cpu_percent", FT_INT, offsetof(struct conf_resources, r_cpu_percent),
	    "0", 0, 100000, 0, NULL, 0, NULL },
	{ "processes", FT_INT, offsetof(struct conf_resources, r_processes), "0",
	    0, 4194304, 0, NULL, 0, NULL },
};
static const struct schema resources_schema = {
	resources_fields, NFIELDS(resources_fields), 0, NO_PRESENT
};

static const struct field app_fields[] = {
	{ "name", FT_STRING, offsetof(struct conf_batch_app, a_name), "default",
	    0, 0, 0, NULL, 0, check_id },
	{ "app", FT_ARGV, offsetof(struct conf_batch_app, a_argv), NULL,
	    0, 0, F_REQUIRED, NULL, 0, NULL },
	{ "datasets", FT_STRLIST, offsetof(struct conf_batch_app, a_datasets),
	    "[]", 0, 0, 0, NULL, 0, check_id },
	{ "timeout", FT_DURATION, offsetof(struct conf_batch_app, a_timeout_ms),
	    "10m", 1, INT64_MAX, 0, NULL, 0, NULL },
	{ "retries", FT_INT, offsetof(struct conf_batch_app, a_retries), "3",
	    0, 100, 0, NULL, 0, NULL },
	{ "stop_timeout", FT_DURATION,
	    offsetof(struct conf_batch_app, a_stop_timeout_ms), "10s",
	    0, 3600000, 0, NULL, 0, NULL },
	{ "limits", FT_GROUP, offsetof(struct conf_batch_app, a_limits), NULL,
	    0, 0, 0, &limits_schema, 0, NULL },
};
static const struct schema app_schema = {
	app_fields, NFIELDS(app_fields), sizeof(struct conf_batch_app), NO_PRESENT
};

static const struct field quota_fields[] = {
	{ "window", FT_DURATION, offsetof(struct conf_quota, q_window_ms), "1h",
	    1000, INT64_MAX, 0, NULL, 0, NULL },
	{ "max_files", FT_INT, offsetof(struct conf_quota, q_max_files), "0",
	    0, INT64_MAX, 0, NULL, 0, NULL },
	{ "max_bytes", FT_SIZE, offsetof(struct conf_quota, q_max_bytes), "0",
	    0, INT64_MAX, 0, NULL, 0, NULL },
};
static const struct schema quota_schema = {
	quota_fields, NFIELDS(quota_fields), 0, NO_PRESENT
};

static const struct field encryption_fields[] = {
	{ "method", FT_STRING, offsetof(struct conf_encryption, e_method),
	    "age", 0, 0, 0, NULL, 0, check_method },
	{ "keys", FT_STRLIST, offsetof(struct conf_encryption, e_keys), NULL,
	    0, 0, F_REQUIRED, NULL, 0, check_absolute },
};
static const struct schema encryption_schema = {
	encryption_fields, NFIELDS(encryption_fields), 0,
	offsetof(struct conf_encryption, e_enabled)
};

static const struct field rule_fields[] = {
	{ "name", FT_STRING, offsetof(struct conf_rule, r_name), NULL,
	    0, 0, F_REQUIRED, NULL, 0, check_id },
	{ "field", FT_STRING, offsetof(struct conf_rule, r_field), NULL,
	    0, 0, F_REQUIRED, NULL, 0, check_nonempty },
	{ "required", FT_BOOL, offsetof(struct conf_rule, r_required), "false",
	    0, 0, 0, NULL, 0, NULL },
	{ "type", FT_STRING, offsetof(struct conf_rule, r_type), NULL,
	    0, 0, 0, NULL, 0, check_rule_type },
	{ "min", FT_STRING, offsetof(struct conf_rule, r_min), NULL,
	    0, 0, 0, NULL, 0, check_number },
	{ "max", FT_STRING, offsetof(struct conf_rule, r_max), NULL,
	    0, 0, 0, NULL, 0, check_number },
	{ "values", FT_STRLIST, offsetof(struct conf_rule, r_values), "[]",
	    0, 0, 0, NULL, 0, NULL },
	{ "pattern", FT_STRING, offsetof(struct conf_rule, r_pattern), NULL,
	    0, 0, 0, NULL, 0, check_pattern },
	{ "max_age", FT_DURATION, offsetof(struct conf_rule, r_max_age_ms), "0",
	    0, INT64_MAX, 0, NULL, 0, NULL },
	{ "unique", FT_BOOL, offsetof(struct conf_rule, r_unique), "false",
	    0, 0, 0, NULL, 0, NULL },
};
static const struct schema rule_schema = {
	rule_fields, NFIELDS(rule_fields), sizeof(struct conf_rule), NO_PRESENT
};

static const struct field quality_fields[] = {
	{ "datasets", FT_STRLIST, offsetof(struct conf_quality, q_datasets),
	    "[]", 0, 0, 0, NULL, 0, check_id },
	{ "max_rejected_percent", FT_INT,
	    offsetof(struct conf_quality, q_max_rejected_percent), "100",
	    0, 100, 0, NULL, 0, NULL },
	{ "rules", FT_GROUPLIST, offsetof(struct conf_quality, q_rules), NULL,
	    0, 0, F_REQUIRED, &rule_schema,
	    offsetof(struct conf_quality, q_nrules), NULL },
};
static const struct schema quality_schema = {
	quality_fields, NFIELDS(quality_fields), sizeof(struct conf_quality),
	NO_PRESENT
};

/* A stream's: its refused messages are dead letters; the monitor watches
 * their share over a window. */
static const struct field squality_fields[] = {
	{ "max_rejected_percent", FT_INT,
	    offsetof(struct conf_quality, q_max_rejected_percent), "100",
	    0, 100, 0, NULL, 0, NULL },
	{ "window", FT_DURATION, offsetof(struct conf_quality, q_window_ms),
	    "1m", 1000, 86400000, 0, NULL, 0, NULL },
	{ "pause", FT_BOOL, offsetof(struct conf_quality, q_pause), "false",
	    0, 0, 0, NULL, 0, NULL },
	{ "rules", FT_GROUPLIST, offsetof(struct conf_quality, q_rules), NULL,
	    0, 0, F_REQUIRED, &rule_schema,
	    offsetof(struct conf_quality, q_nrules), NULL },
};
static const struct schema squality_schema = {
	squality_fields, NFIELDS(squality_fields), 0,
	offsetof(struct conf_quality, q_enabled)
};

static const struct field batch_fields[] = {
	{ "formats", FT_STRLIST, offsetof(struct conf_batch, b_formats), NULL,
	    0, 0, F_REQUIRED, NULL, 0, check_format },
	{ "max_file_size", FT_SIZE, offsetof(struct conf_batch, b_max_file_size),
	    "1G", 1, INT64_MAX, 0, NULL, 0, NULL },
	{ "quota", FT_GROUP, offsetof(struct conf_batch, b_quota), NULL,
	    0, 0, 0, &quota_schema, 0, NULL },
	{ "max_concurrent", FT_INT, offsetof(struct conf_batch, b_max_concurrent),
	    "1", 1, 1024, 0, NULL, 0, NULL },
	{ "weight", FT_INT, offsetof(struct conf_batch, b_weight), "1",
	    1, 100, 0, NULL, 0, NULL },
	{ "retention", FT_DURATION, offsetof(struct conf_batch, b_retention_ms),
	    "7d", 0, INT64_MAX, 0, NULL, 0, NULL },
	{ "partial_grace", FT_DURATION,
	    offsetof(struct conf_batch, b_partial_grace_ms), "1h",
	    0, INT64_MAX, 0, NULL, 0, NULL },
	{ "upload_settle", FT_DURATION,
	    offsetof(struct conf_batch, b_upload_settle_ms), "0s",
	    0, 86400000, 0, NULL, 0, NULL },
	{ "encryption", FT_GROUP, offsetof(struct conf_batch, b_encryption),
	    NULL, 0, 0, 0, &encryption_schema, 0, NULL },
	{ "quality", FT_GROUPLIST, offsetof(struct conf_batch, b_quality), NULL,
	    0, 0, 0, &quality_schema, offsetof(struct conf_batch, b_nquality),
	    NULL },
	{ "apps", FT_GROUPLIST, offsetof(struct conf_batch, b_apps), NULL,
	    0, 0, F_REQUIRED, &app_schema, offsetof(struct conf_batch, b_napps),
	    NULL },
};
static const struct schema batch_schema = {
	batch_fields, NFIELDS(batch_fields), 0,
	offsetof(struct conf_batch, b_enabled)
};

static const struct field instances_fields[] = {
	{ "min", FT_INT, offsetof(struct conf_instances, i_min), "1",
	    0, 1024, 0, NULL, 0, NULL },
	{ "max", FT_INT, offsetof(struct conf_instances, i_max), "1",
	    1, 1024, 0, NULL, 0, NULL },
	{ "initial", FT_INT, offsetof(struct conf_instances, i_initial), "-1",
	    -1, 1024, 0, NULL, 0, NULL },
};
static const struct schema instances_schema = {
	instances_fields, NFIELDS(instances_fields), 0, NO_PRESENT
};

static const struct field scaling_fields[] = {
	{ "target_backlog_per_instance", FT_INT,
	    offsetof(struct conf_scaling, sc_target_backlog), "0",
	    0, INT64_MAX, 0, NULL, 0, NULL },
	{ "max_ingest_time", FT_DURATION,
	    offsetof(struct conf_scaling, sc_max_ingest_time_ms), "0",
	    0, 3600000, 0, NULL, 0, NULL },
	{ "tolerance_percent", FT_INT,
	    offsetof(struct conf_scaling, sc_tolerance_pct), "10",
	    0, 100, 0, NULL, 0, NULL },
	{ "scale_down_delay", FT_DURATION,
	    offsetof(struct conf_scaling, sc_scale_down_delay_ms), "5m",
	    0, 86400000, 0, NULL, 0, NULL },
	{ "cooldown", FT_DURATION, offsetof(struct conf_scaling, sc_cooldown_ms),
	    "3s", 0, 86400000, 0, NULL, 0, NULL },
	{ "pause_after", FT_DURATION,
	    offsetof(struct conf_scaling, sc_pause_after_ms), "0",
	    0, 86400000, 0, NULL, 0, NULL },
};
static const struct schema scaling_schema = {
	scaling_fields, NFIELDS(scaling_fields), 0,
	offsetof(struct conf_scaling, sc_enabled)
};

/* What a stream's app and each subscription set for themselves. */
#define MEMBER_FIELDS \
	{ "app", FT_ARGV, offsetof(struct conf_stream, s_argv), NULL, \
	    0, 0, F_REQUIRED, NULL, 0, NULL }, \
	{ "instances", FT_GROUP, offsetof(struct conf_stream, s_instances), \
	    NULL, 0, 0, 0, &instances_schema, 0, NULL }, \
	{ "ack_timeout", FT_DURATION, \
	    offsetof(struct conf_stream, s_ack_timeout_ms), "30s", \
	    100, 86400000, 0, NULL, 0, NULL }, \
	{ "max_deliveries", FT_INT, \
	    offsetof(struct conf_stream, s_max_deliveries), "5", \
	    1, 1000, 0, NULL, 0, NULL }, \
	{ "stop_timeout", FT_DURATION, \
	    offsetof(struct conf_stream, s_stop_timeout_ms), "10s", \
	    0, 3600000, 0, NULL, 0, NULL }, \
	{ "start_timeout", FT_DURATION, \
	    offsetof(struct conf_stream, s_start_timeout_ms), "30s", \
	    100, 86400000, 0, NULL, 0, NULL }, \
	{ "limits", FT_GROUP, offsetof(struct conf_stream, s_limits), NULL, \
	    0, 0, 0, &limits_schema, 0, NULL }, \
	{ "scaling", FT_GROUP, offsetof(struct conf_stream, s_scaling), NULL, \
	    0, 0, 0, &scaling_schema, 0, NULL }

/* A subscription: what is its own; the rest comes from its stream. */
static const struct field sub_fields[] = {
	{ "name", FT_STRING, offsetof(struct conf_stream, s_name), NULL,
	    0, 0, F_REQUIRED, NULL, 0, check_id },
	MEMBER_FIELDS,
};
static const struct schema sub_schema = {
	sub_fields, NFIELDS(sub_fields), sizeof(struct conf_stream),
	NO_PRESENT
};

static const struct field stream_fields[] = {
	{ "name", FT_STRING, offsetof(struct conf_stream, s_name), "default",
	    0, 0, 0, NULL, 0, check_id },
	MEMBER_FIELDS,
	{ "max_message_size", FT_SIZE,
	    offsetof(struct conf_stream, s_max_message_size), "1M",
	    1, 256 << 20, 0, NULL, 0, NULL },
	{ "max_queue_bytes", FT_SIZE,
	    offsetof(struct conf_stream, s_max_queue_bytes), "256M",
	    1024, INT64_MAX, 0, NULL, 0, NULL },
	{ "max_messages_per_second", FT_INT,
	    offsetof(struct conf_stream, s_max_messages_per_second), "0",
	    0, 100000000, 0, NULL, 0, NULL },
	{ "durability", FT_STRING, offsetof(struct conf_stream, s_durability),
	    "fsync", 0, 0, 0, NULL, 0, check_durability },
	{ "quality", FT_GROUP, offsetof(struct conf_stream, s_quality), NULL,
	    0, 0, 0, &squality_schema, 0, NULL },
	{ "subscriptions", FT_GROUPLIST, offsetof(struct conf_stream, s_subs),
	    NULL, 0, 0, 0, &sub_schema, offsetof(struct conf_stream, s_nsubs),
	    NULL },
};
static const struct schema stream_schema = {
	stream_fields, NFIELDS(stream_fields), sizeof(struct conf_stream),
	NO_PRESENT
};

static const struct field mongo_write_fields[] = {
	{ "w", FT_STRING, offsetof(struct conf_mongo_write, mw_w), "majority",
	    0, 0, 0, NULL, 0, check_write_w },
	{ "journal", FT_BOOL, offsetof(struct conf_mongo_write, mw_journal),
	    "true", 0, 0, 0, NULL, 0, NULL },
	{ "wtimeout", FT_DURATION, offsetof(struct conf_mongo_write,
	    mw_wtimeout_ms), "10s", 0, 3600000, 0, NULL, 0, NULL },
};
static const struct schema pmongo_write_schema = {
	mongo_write_fields, NFIELDS(mongo_write_fields), 0, NO_PRESENT
};
/* A tenant's group replaces the platform's as a whole. */
static const struct schema tmongo_write_schema = {
	mongo_write_fields, NFIELDS(mongo_write_fields), 0,
	offsetof(struct conf_mongo_write, mw_set)
};

/*
 * app_logs, the platform's and a tenant's. Both maxima keep (backups + 1)
 * x max_size within a signed 64 bits. The monitor's own logs take the
 * first two: no pipe, no rate.
 */
#define APPLOGS_FIELDS(max_size, backups, rate)				\
	{ "max_size", FT_SIZE, offsetof(struct conf_app_logs, al_max_size), \
	    max_size, 4096, INT64_C(1) << 40, 0, NULL, 0, NULL },	\
	{ "backups", FT_INT, offsetof(struct conf_app_logs, al_backups), \
	    backups, 0, 100, 0, NULL, 0, NULL },			\
	{ "rate", FT_SIZE, offsetof(struct conf_app_logs, al_rate),	\
	    rate, 0, INT64_C(1) << 40, 0, NULL, 0, NULL },

/* No defaults: what a profile leaves out is the platform's (TAL_UNSET). */
static const struct field tapplogs_fields[] = {
	APPLOGS_FIELDS(NULL, NULL, NULL)
};
static const struct schema tapplogs_schema = {
	tapplogs_fields, NFIELDS(tapplogs_fields), 0, NO_PRESENT
};
#define TAL_UNSET ((struct conf_app_logs){ UINT64_MAX, -1, UINT64_MAX })

static const struct field tenant_fields[] = {
	{ "id", FT_STRING, offsetof(struct conf_tenant, t_id), NULL,
	    0, 0, F_REQUIRED, NULL, 0, check_id },
	{ "mongo_db", FT_STRING, offsetof(struct conf_tenant, t_mongo_db), NULL,
	    0, 0, 0, NULL, 0, check_id },
	{ "mongo_url", FT_STRING, offsetof(struct conf_tenant, t_mongo_url), NULL,
	    0, 0, 0, NULL, 0, check_mongo_url },
	{ "mongo_write", FT_GROUP, offsetof(struct conf_tenant, t_mongo_write),
	    NULL, 0, 0, 0, &tmongo_write_schema, 0, NULL },
	{ "user", FT_STRING, offsetof(struct conf_tenant, t_user), NULL,
	    0, 0, 0, NULL, 0, check_user },
	{ "resources", FT_GROUP, offsetof(struct conf_tenant, t_resources), NULL,
	    0, 0, 0, &resources_schema, 0, NULL },
	{ "app_logs", FT_GROUP, offsetof(struct conf_tenant, t_app_logs), NULL,
	    0, 0, 0, &tapplogs_schema, 0, NULL },
	{ "batch", FT_GROUP, offsetof(struct conf_tenant, t_batch), NULL,
	    0, 0, 0, &batch_schema, 0, NULL },
	{ "streams", FT_GROUPLIST, offsetof(struct conf_tenant, t_streams), NULL,
	    0, 0, 0, &stream_schema, offsetof(struct conf_tenant, t_nstreams),
	    NULL },
	{ "producer_keys", FT_STRLIST,
	    offsetof(struct conf_tenant, t_producer_keys), "", 0, 0, 0, NULL,
	    0, check_curve_public },
};
static const struct schema tenant_schema = {
	tenant_fields, NFIELDS(tenant_fields), 0, NO_PRESENT
};

/* Platform tables. */

static const struct field pbatch_fields[] = {
	{ "workers", FT_INT, offsetof(struct conf_platform_batch, pb_workers),
	    "4", 1, 4096, 0, NULL, 0, NULL },
	{ "scan_interval", FT_DURATION,
	    offsetof(struct conf_platform_batch, pb_scan_interval_ms), "5s",
	    100, 86400000, 0, NULL, 0, NULL },
	{ "settle", FT_DURATION,
	    offsetof(struct conf_platform_batch, pb_settle_ms), "1s",
	    0, 3600000, 0, NULL, 0, NULL },
	{ "shutdown_grace", FT_DURATION,
	    offsetof(struct conf_platform_batch, pb_shutdown_grace_ms), "10s",
	    0, 3600000, 0, NULL, 0, NULL },
	{ "retry_backoff", FT_DURATION,
	    offsetof(struct conf_platform_batch, pb_retry_backoff_ms), "1s",
	    0, 86400000, 0, NULL, 0, NULL },
	{ "retry_backoff_max", FT_DURATION,
	    offsetof(struct conf_platform_batch, pb_retry_backoff_max_ms), "5m",
	    0, 86400000, 0, NULL, 0, NULL },
	{ "app_nice", FT_INT, offsetof(struct conf_platform_batch, pb_app_nice),
	    "19", 0, 19, 0, NULL, 0, NULL },
	{ "age", FT_STRING, offsetof(struct conf_platform_batch, pb_age),
	    "/usr/bin/age", 0, 0, 0, NULL, 0, check_absolute },
};
static const struct schema pbatch_schema = {
	pbatch_fields, NFIELDS(pbatch_fields), 0, NO_PRESENT
};

static const struct field pstream_fields[] = {
	{ "stats_interval", FT_DURATION,
	    offsetof(struct conf_platform_stream, ps_stats_interval_ms), "1s",
	    100, 3600000, 0, NULL, 0, NULL },
	{ "shutdown_grace", FT_DURATION,
	    offsetof(struct conf_platform_stream, ps_shutdown_grace_ms), "10s",
	    0, 3600000, 0, NULL, 0, NULL },
	{ "restart_backoff", FT_DURATION,
	    offsetof(struct conf_platform_stream, ps_restart_backoff_ms),
	    "100ms", 0, 3600000, 0, NULL, 0, NULL },
	{ "restart_backoff_max", FT_DURATION,
	    offsetof(struct conf_platform_stream, ps_restart_backoff_max_ms),
	    "30s", 0, 86400000, 0, NULL, 0, NULL },
	{ "min_uptime", FT_DURATION,
	    offsetof(struct conf_platform_stream, ps_min_uptime_ms), "1s",
	    0, 3600000, 0, NULL, 0, NULL },
	{ "crashloop_restarts", FT_INT,
	    offsetof(struct conf_platform_stream, ps_crashloop_restarts), "5",
	    1, 1000, 0, NULL, 0, NULL },
	{ "segment_size", FT_SIZE,
	    offsetof(struct conf_platform_stream, ps_segment_size), "64M",
	    4096, 1 << 30, 0, NULL, 0, NULL },
	{ "max_memory", FT_SIZE,
	    offsetof(struct conf_platform_stream, ps_max_memory), "0",
	    0, INT64_C(1) << 50, 0, NULL, 0, NULL },
};
static const struct schema pstream_schema = {
	pstream_fields, NFIELDS(pstream_fields), 0, NO_PRESENT
};

static const struct field papplogs_fields[] = {
	APPLOGS_FIELDS("16M", "3", "4M")
};
static const struct schema papplogs_schema = {
	papplogs_fields, NFIELDS(papplogs_fields), 0, NO_PRESENT
};
static const struct schema pmlogs_schema = {
	papplogs_fields, 2, 0, NO_PRESENT
};

static const struct field pmonitor_fields[] = {
	{ "interval", FT_DURATION,
	    offsetof(struct conf_platform_monitor, pm_interval_ms), "1s",
	    100, 3600000, 0, NULL, 0, NULL },
	{ "http", FT_BOOL, offsetof(struct conf_platform_monitor, pm_http),
	    "true", 0, 0, 0, NULL, 0, NULL },
	{ "http_address", FT_STRING,
	    offsetof(struct conf_platform_monitor, pm_http_address),
	    "127.0.0.1", 0, 0, 0, NULL, 0, check_ip_address },
	{ "http_port", FT_INT,
	    offsetof(struct conf_platform_monitor, pm_http_port), "9470",
	    0, 65535, 0, NULL, 0, NULL },
	{ "report_ttl", FT_DURATION,
	    offsetof(struct conf_platform_monitor, pm_report_ttl_ms), "5s",
	    100, 3600000, 0, NULL, 0, NULL },
	{ "max_report_size", FT_SIZE,
	    offsetof(struct conf_platform_monitor, pm_max_report_size), "4K",
	    256, 65536, 0, NULL, 0, NULL },
	{ "control_timeout", FT_DURATION,
	    offsetof(struct conf_platform_monitor, pm_control_timeout_ms), "2s",
	    100, 60000, 0, NULL, 0, NULL },
	{ "max_reports_per_second", FT_INT,
	    offsetof(struct conf_platform_monitor, pm_max_reports_per_second),
	    "10000", 0, 100000000, 0, NULL, 0, NULL },
	{ "max_report_bytes_per_second", FT_SIZE,
	    offsetof(struct conf_platform_monitor, pm_max_report_bytes),
	    "4M", 0, INT64_C(1) << 40, 0, NULL, 0, NULL },
	{ "logs", FT_GROUP, offsetof(struct conf_platform_monitor, pm_logs),
	    NULL, 0, 0, 0, &pmlogs_schema, 0, NULL },
};
static const struct schema pmonitor_schema = {
	pmonitor_fields, NFIELDS(pmonitor_fields), 0, NO_PRESENT
};

static const struct field premote_fields[] = {
	{ "listen", FT_STRING, offsetof(struct conf_platform_remote,
	    pr_listen), NULL, 0, 0, 0, NULL, 0, check_tcp_endpoint },
	{ "server_key", FT_STRING, offsetof(struct conf_platform_remote,
	    pr_server_key), "node.key", 0, 0, 0, NULL, 0, check_nonempty },
	{ "operator_keys", FT_STRLIST, offsetof(struct conf_platform_remote,
	    pr_operator_keys), "", 0, 0, 0, NULL, 0, check_curve_public },
};
static const struct schema premote_schema = {
	premote_fields, NFIELDS(premote_fields), 0, NO_PRESENT
};

static const struct field pcluster_fields[] = {
	{ "file", FT_STRING, offsetof(struct conf_platform_cluster, pc_file),
	    NULL, 0, 0, 0, NULL, 0, check_nonempty },
	{ "node", FT_STRING, offsetof(struct conf_platform_cluster, pc_node),
	    NULL, 0, 0, 0, NULL, 0, check_id },
};
static const struct schema pcluster_schema = {
	pcluster_fields, NFIELDS(pcluster_fields), 0, NO_PRESENT
};

/* The cluster description's own file. */
static const struct field node_fields[] = {
	{ "name", FT_STRING, offsetof(struct conf_node, n_name), NULL,
	    0, 0, F_REQUIRED, NULL, 0, check_id },
	{ "address", FT_STRING, offsetof(struct conf_node, n_address), NULL,
	    0, 0, F_REQUIRED, NULL, 0, check_node_address },
	{ "server_key", FT_STRING, offsetof(struct conf_node, n_server_key),
	    NULL, 0, 0, F_REQUIRED, NULL, 0, check_curve_public },
	{ "tenants", FT_STRLIST, offsetof(struct conf_node, n_tenants), "",
	    0, 0, 0, NULL, 0, check_id },
};
static const struct schema node_schema = {
	node_fields, NFIELDS(node_fields), sizeof(struct conf_node), NO_PRESENT
};
static const struct field cluster_fields[] = {
	{ "nodes", FT_GROUPLIST, offsetof(struct conf_cluster, c_nodes), NULL,
	    0, 0, F_REQUIRED, &node_schema,
	    offsetof(struct conf_cluster, c_nnodes), NULL },
};
static const struct schema cluster_schema = {
	cluster_fields, NFIELDS(cluster_fields), 0, NO_PRESENT
};

static const struct field platform_fields[] = {
	{ "state_dir", FT_STRING, offsetof(struct conf_platform, p_state_dir),
	    "var", 0, 0, 0, NULL, 0, check_nonempty },
	{ "tenants_dir", FT_STRING, offsetof(struct conf_platform, p_tenants_dir),
	    "tenants", 0, 0, 0, NULL, 0, check_nonempty },
	{ "apps_dir", FT_STRING, offsetof(struct conf_platform, p_apps_dir),
	    ".", 0, 0, 0, NULL, 0, check_nonempty },
	{ "mongo_url", FT_STRING, offsetof(struct conf_platform, p_mongo_url),
	    NULL, 0, 0, 0, NULL, 0, check_mongo_url },
	{ "mongo_write", FT_GROUP, offsetof(struct conf_platform, p_mongo_write),
	    NULL, 0, 0, 0, &pmongo_write_schema, 0, NULL },
	{ "mongo_records_db", FT_STRING, offsetof(struct conf_platform,
	    p_mongo_records_db), "mysimbdp", 0, 0, 0, NULL, 0, check_id },
	{ "log_level", FT_STRING, offsetof(struct conf_platform, p_log_level),
	    "info", 0, 0, 0, NULL, 0, check_log_level },
	{ "batch", FT_GROUP, offsetof(struct conf_platform, p_batch), NULL,
	    0, 0, 0, &pbatch_schema, 0, NULL },
	{ "stream", FT_GROUP, offsetof(struct conf_platform, p_stream), NULL,
	    0, 0, 0, &pstream_schema, 0, NULL },
	{ "monitor", FT_GROUP, offsetof(struct conf_platform, p_monitor), NULL,
	    0, 0, 0, &pmonitor_schema, 0, NULL },
	{ "app_logs", FT_GROUP, offsetof(struct conf_platform, p_app_logs), NULL,
	    0, 0, 0, &papplogs_schema, 0, NULL },
	{ "remote", FT_GROUP, offsetof(struct conf_platform, p_remote), NULL,
	    0, 0, 0, &premote_schema, 0, NULL },
	{ "cluster", FT_GROUP, offsetof(struct conf_platform, p_cluster_conf),
	    NULL, 0, 0, 0, &pcluster_schema, 0, NULL },
};
static const struct schema platform_schema = {
	platform_fields, NFIELDS(platform_fields), 0, NO_PRESENT
};

/* The schema as a list of settings. */

static const char *
field_type_name(enum field_type t)
{
	switch (t) {
	case FT_INT:		return "integer";
	case FT_SIZE:		return "size";
	case FT_DURATION:	return "duration";
	case FT_STRING:		return "string";
	case FT_BOOL:		return "boolean";
	case FT_STRLIST:	return "strings";
	case FT_ARGV:		return "argv";
	case FT_GROUP:		return "group";
	case FT_GROUPLIST:	return "list";
	}
	return "?";
}

static void
settings_walk(const struct schema *sc, const char *prefix,
    void (*fn)(const struct conf_setting *, void *), void *arg)
{
	for (size_t i = 0; i < sc->nfields; i++) {
		const struct field *f = &sc->fields[i];
		char path[256];
		struct conf_setting cs;

		snprintf(path, sizeof(path), "%s%s", prefix, f->name);
		cs.cs_path = path;
		cs.cs_type = field_type_name(f->type);
		cs.cs_default = f->def;
		cs.cs_required = (f->flags & F_REQUIRED) != 0;
		fn(&cs, arg);
		if (f->sub != NULL) {
			char sub[sizeof(path) + 3];

			snprintf(sub, sizeof(sub), "%s%s.", path,
			    f->type == FT_GROUPLIST ? "[]" : "");
			settings_walk(f->sub, sub, fn, arg);
		}
	}
}

void
conf_settings_walk(bool platform,
    void (*fn)(const struct conf_setting *, void *), void *arg)
{
	settings_walk(platform ? &platform_schema : &tenant_schema, "", fn,
	    arg);
}

/* Errors. */

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		fatal("%s: strdup", __func__);
	return d;
}

/* Adds "file[:line]: [setting: ]problem", and its parts. */
static void LOG_FMT(5, 6)
errs_add(struct conf_errors *errs, const char *file, unsigned line,
    const char *setting, const char *fmt, ...)
{
	struct conf_error *e;
	char msg[1024], where[32] = "", *text;
	va_list ap;
	char **n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (setting != NULL && *setting == '\0')
		setting = NULL;
	if (line > 0)
		snprintf(where, sizeof(where), ":%u", line);
	if (asprintf(&text, "%s%s: %s%s%s", file, where, setting ? setting :
	    "", setting ? ": " : "", msg) < 0)
		fatal("%s: asprintf", __func__);
	n = realloc(errs->e_msgs, (errs->e_count + 1) * sizeof(*n));
	if (n == NULL)
		fatal("%s: realloc", __func__);
	errs->e_msgs = n;
	e = realloc(errs->e_list, (errs->e_count + 1) * sizeof(*e));
	if (e == NULL)
		fatal("%s: realloc", __func__);
	errs->e_list = e;
	e[errs->e_count] = (struct conf_error){ xstrdup(file), line,
	    setting ? xstrdup(setting) : NULL, xstrdup(msg) };
	n[errs->e_count++] = text;
}

/* Adds "file:line: path: problem" for a setting, or "file: ..." without one. */
static void LOG_FMT(4, 5)
walk_error(struct walk *w, const config_setting_t *s, const char *path,
    const char *fmt, ...)
{
	char msg[800];
	const char *file = w->file;
	unsigned line = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s != NULL && config_setting_source_file(s) != NULL)
		file = config_setting_source_file(s);
	if (s != NULL && config_setting_source_line(s) > 0)
		line = config_setting_source_line(s);
	errs_add(w->errs, file, line, path, "%s", msg);
}

void
conf_errors_free(struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->e_count; i++) {
		free(errs->e_msgs[i]);
		free(errs->e_list[i].ce_file);
		free(errs->e_list[i].ce_setting);
		free(errs->e_list[i].ce_problem);
	}
	free(errs->e_msgs);
	free(errs->e_list);
	errs->e_msgs = NULL;
	errs->e_list = NULL;
	errs->e_count = 0;
}

void
conf_errors_print(const struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->e_count; i++)
		fprintf(stderr, "%s\n", errs->e_msgs[i]);
}

/* Checks for string values; each returns NULL or the problem. */

bool
conf_valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TENANT_ID_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static const char *
check_id(const char *s)
{
	return conf_valid_id(s) ? NULL :
	    "must be 1 to 32 characters from a-z, 0-9, '_' and '-'";
}

bool
conf_valid_stream_name(const char *s)
{
	const char *dot = strchr(s, '.');
	char head[TENANT_ID_MAX + 1];

	if (dot == NULL)
		return conf_valid_id(s);
	if ((size_t)(dot - s) > TENANT_ID_MAX)
		return false;
	memcpy(head, s, (size_t)(dot - s));
	head[dot - s] = '\0';
	return conf_valid_id(head) && conf_valid_id(dot + 1);
}

static const char *
check_nonempty(const char *s)
{
	return *s ? NULL : "must not be empty";
}

static const char *
check_mongo_url(const char *s)
{
	if (strncmp(s, "mongodb://", 10) == 0 ||
	    strncmp(s, "mongodb+srv://", 14) == 0)
		return NULL;
	if (strncmp(s, "file://", 7) == 0 && s[7] == '/')
		return NULL;
	return "must start with mongodb://, mongodb+srv:// or file:///";
}

static const char *
check_user(const char *s)
{
	const struct passwd *pw = getpwnam(s);

	if (pw == NULL)
		return "no such user on this system";
	/* The daemons' own files are root's, readable by group root. */
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return "is root or in group root: the tenant's apps would "
		    "reach every tenant's files; name an unprivileged user";
	return NULL;
}

static const char *
check_format(const char *s)
{
	if (*s == '\0' || strlen(s) > 16 || strchr(s, '.') || strchr(s, '/'))
		return "must be a file extension without the dot, like \"csv\"";
	return NULL;
}

static const char *
check_method(const char *s)
{
	return strcmp(s, "age") == 0 ? NULL : "must be \"age\" (the only "
	    "method: docs/encryption.md)";
}

static const char *
check_absolute(const char *s)
{
	return s[0] == '/' ? NULL : "must be an absolute path";
}

/* The types of docs/quality.md, as BSON types or groups of them. */
static const char *const rule_types[] = { "string", "number", "int",
    "double", "bool", "date", "object", "array", "objectid", NULL };

static const char *
check_rule_type(const char *s)
{
	for (const char *const *t = rule_types; *t; t++)
		if (strcmp(s, *t) == 0)
			return NULL;
	return "must be one of string, number, int, double, bool, date, "
	    "object, array, objectid";
}

static const char *
check_number(const char *s)
{
	char *end;

	errno = 0;
	(void)strtod(s, &end);
	return *s != '\0' && *end == '\0' && errno == 0 ? NULL : "must be a "
	    "number written as a string, like \"0\" or \"12.5\"";
}

static const char *
check_pattern(const char *s)
{
	static char why[160];
	regex_t re;
	int rc;

	if ((rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB)) == 0) {
		regfree(&re);
		return NULL;
	}
	snprintf(why, sizeof(why), "not a POSIX extended regular expression: ");
	regerror(rc, &re, why + strlen(why), sizeof(why) - strlen(why));
	return why;
}

static const char *
check_durability(const char *s)
{
	if (strcmp(s, "fsync") == 0 || strcmp(s, "os") == 0 ||
	    strcmp(s, "memory") == 0)
		return NULL;
	return "must be \"fsync\", \"os\" or \"memory\"";
}

/*
 * The monitor's HTTP endpoint shows every tenant's figures: loopback by
 * default; the operator may choose the node's address for a Prometheus
 * on another host (docs/deployment.md). A name would be resolved at each
 * start: a numeric address says exactly where.
 */
static const char *
check_ip_address(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1)
		return NULL;
	return "must be a numeric IP address like \"127.0.0.1\"";
}

static const char *
check_curve_public(const char *s)
{
	return curvekey_valid(s) ? NULL : "must be a CURVE public key: 40 "
	    "characters of Z85 (the public-key of `mysimbdp keygen`'s .pub "
	    "file)";
}

/* How other hosts reach a node: HOST:PORT, PORT its remote.listen's. */
static const char *
check_node_address(const char *s)
{
	const char *colon = strrchr(s, ':');
	unsigned long port;
	char *end;

	if (colon == NULL || colon == s)
		return "must be HOST:PORT, like \"10.0.0.1:7100\"";
	port = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || port == 0 || port > 65533)
		return "must be HOST:PORT with PORT 1 to 65533 (the control "
		    "ports are PORT + 1 and + 2)";
	return NULL;
}

/* Remote producers come over TCP; ipc stays per stream (run/). */
static const char *
check_tcp_endpoint(const char *s)
{
	const char *colon = strrchr(s, ':');

	if (strncmp(s, "tcp://", 6) != 0 || colon == NULL || colon < s + 6 ||
	    colon[1] == '\0' || (strcmp(colon + 1, "*") != 0 &&
	    strspn(colon + 1, "0123456789") != strlen(colon + 1)))
		return "must be \"tcp://ADDRESS:PORT\", like "
		    "\"tcp://0.0.0.0:7100\" (PORT \"*\": any free one)";
	return NULL;
}

/* Not 0: libmysimbdp refuses unacknowledged writes (no counts). */
static const char *
check_write_w(const char *s)
{
	size_t n = strspn(s, "0123456789");

	if (strcmp(s, "majority") == 0 || (n > 0 && n <= 2 && s[n] == '\0' &&
	    s[strspn(s, "0")] != '\0'))
		return NULL;
	return "must be \"majority\" or a number of members (1-99)";
}

static const char *
check_log_level(const char *s)
{
	if (strcmp(s, "debug") == 0 || strcmp(s, "info") == 0)
		return NULL;
	return "must be \"debug\" or \"info\"";
}

/* Value conversion. */

static const char *
type_name(enum field_type t)
{
	switch (t) {
	case FT_INT:		return "an integer";
	case FT_SIZE:		return "a size string like \"64M\"";
	case FT_DURATION:	return "a duration string like \"30s\"";
	case FT_STRING:		return "a string";
	case FT_BOOL:		return "true or false";
	case FT_STRLIST:	return "an array of strings like [\"a\", \"b\"]";
	case FT_ARGV:		return "a string or an array of strings";
	case FT_GROUP:		return "a group { ... }";
	case FT_GROUPLIST:	return "a list of groups ( { ... }, ... )";
	}
	return "?";
}

static void
strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static char **
strv_alloc(size_t n)
{
	char **v = calloc(n + 1, sizeof(*v));

	if (v == NULL)
		fatal("%s: calloc", __func__);
	return v;
}

/*
 * libconfig 1.5 reads an integer literal without the L suffix as 32 bits
 * and silently wraps larger ones. Compare the value with the literal on
 * the setting's source line, so 5000000000 is an error, not 705032704.
 * Returns true when the value is the literal (or the literal is not found).
 */
static bool
int_not_wrapped(struct walk *w, const config_setting_t *s)
{
	const char *file = config_setting_source_file(s);
	const char *name = config_setting_name(s), *p, *at;
	unsigned line = config_setting_source_line(s), n = 0;
	size_t cap = 0, len = strlen(name);
	char *text = NULL, *end;
	bool fits = true;
	long long lit;
	FILE *f;

	if (name == NULL || (f = fopen(file ? file : w->file, "re")) == NULL)
		return true;
	while (getline(&text, &cap, f) > 0)
		if (++n == line)
			break;
	fclose(f);
	for (at = text; n == line && at && (at = strstr(at, name)) != NULL;
	    at += len) {
		if (at > text && (isalnum((unsigned char)at[-1]) ||
		    at[-1] == '_' || at[-1] == '-'))
			continue;
		for (p = at + len; *p == ' ' || *p == '\t'; p++)
			;
		if (*p != '=' && *p != ':')
			continue;
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			break;
		errno = 0;
		lit = strtoll(p, &end, 10);
		if (end != p && (errno == ERANGE ||
		    lit != config_setting_get_int64(s)))
			fits = false;
		break;
	}
	free(text);
	return fits;
}

/* A value as an error quotes it: bytes that are not UTF-8 as \xNN. */
#define SHOWN_MAX 300
static const char *
shown(const char *v, char *buf)
{
	jsonline_text(v, strlen(v), buf, SHOWN_MAX);
	return buf;
}

/*
 * Reads a scalar (INT, SIZE, DURATION) from either the setting or, when
 * s is NULL, the default text. Checks the range. Returns 0 or -1.
 */
static int
read_number(struct walk *w, const struct field *f, const config_setting_t *s,
    const char *path, void *dst)
{
	const char *why = NULL, *text = f->def;
	int64_t v = 0;
	uint64_t u;
	int stype = s ? config_setting_type(s) : CONFIG_TYPE_NONE;

	if (s && (f->type == FT_INT || f->type == FT_SIZE) &&
	    (stype == CONFIG_TYPE_INT || stype == CONFIG_TYPE_INT64)) {
		if (stype == CONFIG_TYPE_INT && !int_not_wrapped(w, s)) {
			walk_error(w, s, path, "does not fit in 32 bits: write "
			    "it with the L suffix (5000000000L)%s",
			    f->type == FT_SIZE ? " or as a size string (\"5G\")"
			    : "");
			return -1;
		}
		v = config_setting_get_int64(s);
	} else if (s && f->type == FT_INT) {
		goto badtype;
	} else {
		if (s) {
			if (stype != CONFIG_TYPE_STRING)
				goto badtype;
			text = config_setting_get_string(s);
		}
		if (f->type == FT_INT) {
			char *end;

			errno = 0;
			v = strtoll(text, &end, 10);
			if (errno || *end)
				why = "bad integer";
		} else if (f->type == FT_SIZE) {
			if (units_parse_size(text, &u, &why) == 0)
				v = u > INT64_MAX ? INT64_MAX : (int64_t)u;
		} else if (units_parse_duration(text, &u, &why) == 0)
			v = u > INT64_MAX ? INT64_MAX : (int64_t)u;
		if (why) {
			char buf[SHOWN_MAX];

			walk_error(w, s, path, "\"%s\": %s", shown(text, buf),
			    why);
			return -1;
		}
	}
	if (v < f->min || v > f->max) {
		char lo[32], hi[32];

		if (f->type == FT_SIZE) {
			units_fmt_size((uint64_t)f->min, lo, sizeof(lo));
			units_fmt_size((uint64_t)f->max, hi, sizeof(hi));
		} else if (f->type == FT_DURATION) {
			units_fmt_duration((uint64_t)f->min, lo, sizeof(lo));
			units_fmt_duration((uint64_t)f->max, hi, sizeof(hi));
		} else {
			snprintf(lo, sizeof(lo), "%lld", (long long)f->min);
			snprintf(hi, sizeof(hi), "%lld", (long long)f->max);
		}
		if (f->max == INT64_MAX)
			walk_error(w, s, path, "out of range (must be at "
			    "least %s)", lo);
		else
			walk_error(w, s, path, "out of range (%s to %s)", lo,
			    hi);
		return -1;
	}
	if (f->type == FT_INT)
		*(int64_t *)dst = v;
	else
		*(uint64_t *)dst = (uint64_t)v;
	return 0;
badtype:
	walk_error(w, s, path, "must be %s", type_name(f->type));
	return -1;
}

/*
 * Settings end up in JSON (records, status replies, an app's
 * MYSIMBDP_QUALITY) and in apps' environments: text, so UTF-8. what is
 * "" or "element N: ". Returns 0, or -1 having said why.
 */
static int
check_utf8(struct walk *w, const config_setting_t *s, const char *path,
    const char *what, const char *v)
{
	char buf[SHOWN_MAX];

	if (bson_utf8_validate(v, strlen(v), false))
		return 0;
	walk_error(w, s, path, "%s\"%s\": not UTF-8 (settings are written "
	    "into JSON records and apps' environments)", what, shown(v, buf));
	return -1;
}

static int
read_string(struct walk *w, const struct field *f, const config_setting_t *s,
    const char *path, char **dst)
{
	const char *v, *why;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		walk_error(w, s, path, "must be %s", type_name(f->type));
		return -1;
	}
	v = config_setting_get_string(s);
	if (f->check && (why = f->check(v)) != NULL) {
		char buf[SHOWN_MAX];

		walk_error(w, s, path, "\"%s\": %s", shown(v, buf), why);
		return -1;
	}
	if (check_utf8(w, s, path, "", v) < 0)
		return -1;
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

/* FT_STRLIST and FT_ARGV. */
static int
read_strlist(struct walk *w, const struct field *f, const config_setting_t *s,
    const char *path, char ***dst)
{
	int stype = config_setting_type(s), n, bad = 0;
	char **v;

	if (f->type == FT_ARGV && stype == CONFIG_TYPE_STRING) {
		v = strv_alloc(1);
		v[0] = xstrdup(config_setting_get_string(s));
		bad |= check_utf8(w, s, path, "", v[0]) < 0;
	} else if (stype == CONFIG_TYPE_ARRAY || stype == CONFIG_TYPE_LIST) {
		n = config_setting_length(s);
		v = strv_alloc((size_t)n);
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s,
			    (unsigned)i);
			const char *why;

			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				walk_error(w, e, path, "element %d: must be a "
				    "string", i);
				bad = 1;
				v[i] = xstrdup("");
				continue;
			}
			v[i] = xstrdup(config_setting_get_string(e));
			if (f->check && (why = f->check(v[i])) != NULL) {
				char buf[SHOWN_MAX];

				walk_error(w, e, path, "\"%s\": %s",
				    shown(v[i], buf), why);
				bad = 1;
			} else {
				char what[32];

				snprintf(what, sizeof(what), "element %d: ", i);
				bad |= check_utf8(w, e, path, what, v[i]) < 0;
			}
		}
	} else {
		walk_error(w, s, path, "must be %s", type_name(f->type));
		return -1;
	}
	if (f->type == FT_ARGV && (v[0] == NULL || v[0][0] == '\0')) {
		walk_error(w, s, path, "must name a program");
		bad = 1;
	} else if ((f->flags & F_REQUIRED) && v[0] == NULL) {
		walk_error(w, s, path, "must not be empty");
		bad = 1;
	}
	strv_free(*dst);
	*dst = v;
	return bad ? -1 : 0;
}

static void walk_group(struct walk *, const struct schema *,
    const config_setting_t *, const char *, void *);

/* Fills the defaults of every field in a schema, recursing into groups. */
static void
apply_defaults(struct walk *w, const struct schema *sc, void *base)
{
	for (size_t i = 0; i < sc->nfields; i++) {
		const struct field *f = &sc->fields[i];
		void *dst = (char *)base + f->off;

		switch (f->type) {
		case FT_INT:
		case FT_SIZE:
		case FT_DURATION:
			if (f->def && read_number(w, f, NULL, f->name, dst) < 0)
				fatalx("%s: bad built-in default for %s",
				    __func__, f->name);
			break;
		case FT_STRING:
			if (f->def)
				*(char **)dst = xstrdup(f->def);
			break;
		case FT_STRLIST:
			if (f->def)
				*(char ***)dst = strv_alloc(0);
			break;
		case FT_BOOL:
			if (f->def)
				*(bool *)dst = strcmp(f->def, "true") == 0;
			break;
		case FT_GROUP:
			apply_defaults(w, f->sub, dst);
			break;
		default:
			break;
		}
	}
}

static void
read_grouplist(struct walk *w, const struct field *f, const config_setting_t *s,
    const char *path, void *dst)
{
	const struct schema *sc = f->sub;
	int n = config_setting_length(s);
	char *items, elem_path[600];

	if (config_setting_type(s) != CONFIG_TYPE_LIST) {
		walk_error(w, s, path, "must be %s", type_name(f->type));
		return;
	}
	if (n == 0) {
		walk_error(w, s, path, "must not be empty");
		return;
	}
	items = calloc((size_t)n, sc->elem_size);
	if (items == NULL)
		fatal("%s: calloc", __func__);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s,
		    (unsigned)i);
		void *elem = items + (size_t)i * sc->elem_size;

		snprintf(elem_path, sizeof(elem_path), "%s[%d]", path, i);
		apply_defaults(w, sc, elem);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			walk_error(w, e, elem_path, "must be a group { ... }");
			continue;
		}
		walk_group(w, sc, e, elem_path, elem);
	}
	*(void **)dst = items;
	*(size_t *)((char *)dst - f->off + f->count_off) = (size_t)n;
}

static const struct field *
find_field(const struct schema *sc, const char *name)
{
	for (size_t i = 0; i < sc->nfields; i++)
		if (strcmp(sc->fields[i].name, name) == 0)
			return &sc->fields[i];
	return NULL;
}

/* Reads one present setting s described by f into dst. */
static void
read_field(struct walk *w, const struct field *f, const config_setting_t *s,
    const char *path, void *dst)
{
	switch (f->type) {
	case FT_INT:
	case FT_SIZE:
	case FT_DURATION:
		read_number(w, f, s, path, dst);
		break;
	case FT_STRING:
		read_string(w, f, s, path, dst);
		break;
	case FT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			walk_error(w, s, path, "must be %s", type_name(f->type));
		else
			*(bool *)dst = config_setting_get_bool(s);
		break;
	case FT_STRLIST:
	case FT_ARGV:
		read_strlist(w, f, s, path, dst);
		break;
	case FT_GROUP:
		if (config_setting_type(s) != CONFIG_TYPE_GROUP)
			walk_error(w, s, path, "must be %s", type_name(f->type));
		else
			walk_group(w, f->sub, s, path, dst);
		break;
	case FT_GROUPLIST:
		read_grouplist(w, f, s, path, dst);
		break;
	}
}

/*
 * Validates group g against sc into base (whose defaults are already set):
 * every member must be known, every required field present.
 */
static void
walk_group(struct walk *w, const struct schema *sc, const config_setting_t *g,
    const char *path, void *base)
{
	int n = config_setting_length(g);
	char sub[512];

	if (sc->present_off != NO_PRESENT)
		*(bool *)((char *)base + sc->present_off) = true;
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g,
		    (unsigned)i);
		const char *name = config_setting_name(s);
		const struct field *f = find_field(sc, name);

		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
		    name);
		if (f == NULL) {
			walk_error(w, s, sub, "unknown setting");
			continue;
		}
		read_field(w, f, s, sub, (char *)base + f->off);
	}
	for (size_t i = 0; i < sc->nfields; i++) {
		const struct field *f = &sc->fields[i];

		if (!(f->flags & F_REQUIRED) ||
		    config_setting_get_member(g, f->name) != NULL)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
		    f->name);
		walk_error(w, g, sub, "missing required setting");
	}
}

/* Frees everything a schema owns inside base (not base itself). */
static void
free_fields(const struct schema *sc, void *base)
{
	for (size_t i = 0; i < sc->nfields; i++) {
		const struct field *f = &sc->fields[i];
		void *p = (char *)base + f->off;

		switch (f->type) {
		case FT_STRING:
			free(*(char **)p);
			break;
		case FT_STRLIST:
		case FT_ARGV:
			strv_free(*(char ***)p);
			break;
		case FT_GROUP:
			free_fields(f->sub, p);
			break;
		case FT_GROUPLIST: {
			size_t n = *(size_t *)((char *)base + f->count_off);
			char *items = *(char **)p;

			for (size_t j = 0; j < n; j++)
				free_fields(f->sub, items + j * f->sub->elem_size);
			free(items);
			break;
		}
		default:
			break;
		}
	}
}

/*
 * Parses file with libconfig and walks its root with sc. Returns 0 when no
 * error was added.
 */
static int
load_file(const char *file, const struct schema *sc, void *base,
    struct conf_errors *errs, config_t *cfg)
{
	struct walk w = { file, errs, errs->e_count };

	config_init(cfg);
	apply_defaults(&w, sc, base);
	errno = 0;
	if (config_read_file(cfg, file) != CONFIG_TRUE) {
		struct stat st;

		/* libconfig leaves errno alone for some failures. */
		if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
			errs_add(errs, file, 0, NULL, "cannot read: %s", strerror(
			    stat(file, &st) == 0 && S_ISDIR(st.st_mode) ? EISDIR :
			    errno ? errno : EIO));
		else
			errs_add(errs, config_error_file(cfg) ?
			    config_error_file(cfg) : file,
			    (unsigned)config_error_line(cfg), NULL, "%s",
			    config_error_text(cfg));
		return -1;
	}
	walk_group(&w, sc, config_root_setting(cfg), "", base);
	return errs->e_count == w.before ? 0 : -1;
}

/* Joins a relative path onto dir; absolute paths are kept. */
static char *
path_resolve(const char *dir, const char *path)
{
	char *out;

	if (path[0] == '/')
		return xstrdup(path);
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		fatal("%s: asprintf", __func__);
	return out;
}

/* The absolute folder holding file. */
static char *
file_dir(const char *file)
{
	char *copy = xstrdup(file), *slash = strrchr(copy, '/'), *abs;
	char cwd[PATH_MAX];

	if (slash == NULL) {
		free(copy);
		copy = xstrdup(".");
	} else if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	abs = realpath(copy, NULL);
	if (abs == NULL) {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			fatal("%s: getcwd", __func__);
		abs = path_resolve(cwd, copy);
	}
	free(copy);
	return abs;
}

static void
resolve_in_place(char **path, const char *dir)
{
	char *abs = path_resolve(dir, *path);

	free(*path);
	*path = abs;
}

char *
conf_remote_endpoint(const char *listen, int offset)
{
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	unsigned long port;
	char *end, *ep;

	/* A host, then digits only: strtoul alone takes " +7100". */
	if (colon == NULL || colon == listen ||
	    !isdigit((unsigned char)colon[1]))
		return NULL;
	port = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || port == 0 ||
	    port + (unsigned long)offset > 65535)
		return NULL;
	if (asprintf(&ep, "%.*s:%lu", (int)(colon - listen), listen,
	    port + (unsigned long)offset) < 0)
		fatal("%s: asprintf", __func__);
	return ep;
}

/* Operators need the control ports, which follow a fixed listen port. */
static void
remote_check(struct walk *w, config_t *cfg, const struct conf_platform *p)
{
	const config_setting_t *s = config_lookup(cfg, "remote.operator_keys");
	char *ep;

	if (p->p_remote.pr_operator_keys == NULL ||
	    p->p_remote.pr_operator_keys[0] == NULL)
		return;
	if ((ep = conf_remote_endpoint(p->p_remote.pr_listen,
	    CONF_CONTROL_BATCHMGR)) != NULL) {
		free(ep);
		return;
	}
	walk_error(w, s, "remote.operator_keys", "needs remote.listen with a "
	    "port number below 65534: the control sockets listen on the "
	    "next two ports");
}

/*
 * A report larger than a second of the byte rate would never pass:
 * every report up to max_report_size must fit in the bucket.
 */
static void
monitor_check(struct walk *w, config_t *cfg, const struct conf_platform *p)
{
	const config_setting_t *s = config_lookup(cfg,
	    "monitor.max_report_bytes_per_second");
	const struct conf_platform_monitor *pm = &p->p_monitor;

	if (pm->pm_max_report_bytes == 0 ||
	    pm->pm_max_report_bytes >= pm->pm_max_report_size)
		return;
	walk_error(w, s, "monitor.max_report_bytes_per_second", "%llu is "
	    "below monitor.max_report_size (%llu): such a report could never "
	    "pass", (unsigned long long)pm->pm_max_report_bytes,
	    (unsigned long long)pm->pm_max_report_size);
}

/* Names unique, each tenant served by one node at most. */
static void
cluster_check(struct walk *w, config_t *cfg, const struct conf_cluster *c)
{
	const config_setting_t *list = config_lookup(cfg, "nodes");

	for (size_t i = 0; i < c->c_nnodes; i++) {
		const struct conf_node *n = &c->c_nodes[i];
		const config_setting_t *ns = list ?
		    config_setting_get_elem(list, (unsigned)i) : NULL;
		char path[64];

		snprintf(path, sizeof(path), "nodes[%zu]", i);
		for (size_t j = 0; j < i; j++) {
			const struct conf_node *o = &c->c_nodes[j];

			if (n->n_name && o->n_name &&
			    strcmp(n->n_name, o->n_name) == 0)
				walk_error(w, ns, path, "name \"%s\" is used "
				    "twice", n->n_name);
			for (char **t = n->n_tenants; t && *t; t++)
				for (char **u = o->n_tenants; u && *u; u++)
					if (strcmp(*t, *u) == 0)
						walk_error(w, ns, path, "tenant "
						    "\"%s\" is served by node "
						    "\"%s\" already", *t,
						    o->n_name);
		}
	}
}

struct conf_cluster *
conf_cluster_load(const char *file, struct conf_errors *errs)
{
	struct conf_cluster *c = calloc(1, sizeof(*c));
	struct walk w = { file, errs, errs->e_count };
	config_t cfg;

	if (c == NULL)
		fatal("%s: calloc", __func__);
	c->c_file = xstrdup(file);
	if (load_file(file, &cluster_schema, c, errs, &cfg) == 0)
		cluster_check(&w, &cfg, c);
	config_destroy(&cfg);
	if (errs->e_count != w.before) {
		conf_cluster_free(c);
		return NULL;
	}
	return c;
}

void
conf_cluster_free(struct conf_cluster *c)
{
	if (c == NULL)
		return;
	free_fields(&cluster_schema, c);
	free(c->c_file);
	free(c);
}

const struct conf_node *
conf_cluster_node(const struct conf_cluster *c, const char *name)
{
	for (size_t i = 0; c && i < c->c_nnodes; i++)
		if (strcmp(c->c_nodes[i].n_name, name) == 0)
			return &c->c_nodes[i];
	return NULL;
}

const struct conf_node *
conf_cluster_tenant_node(const struct conf_cluster *c, const char *tenant)
{
	for (size_t i = 0; c && i < c->c_nnodes; i++)
		for (char **t = c->c_nodes[i].n_tenants; t && *t; t++)
			if (strcmp(*t, tenant) == 0)
				return &c->c_nodes[i];
	return NULL;
}

bool
conf_serves_tenant(const struct conf_platform *p, const char *tenant)
{
	const struct conf_node *n;

	if (p->p_cluster == NULL)
		return true;
	n = conf_cluster_tenant_node(p->p_cluster, tenant);
	return n != NULL && strcmp(n->n_name, p->p_cluster_conf.pc_node) == 0;
}

void
conf_tenant_set_keep_served(const struct conf_platform *p,
    struct conf_tenant_set *set)
{
	size_t kept = 0;

	for (size_t i = 0; i < set->ts_count; i++) {
		struct conf_tenant *t = set->ts_tenants[i];

		if (conf_serves_tenant(p, t->t_id)) {
			set->ts_tenants[kept++] = t;
			continue;
		}
		log_debug("tenant %s: served by another node (%s): not "
		    "loaded here", t->t_id, p->p_cluster->c_file);
		conf_tenant_unref(t);
	}
	set->ts_count = kept;
	kept = 0;
	for (size_t i = 0; i < set->ts_nfailed; i++) {
		if (conf_serves_tenant(p, set->ts_failed[i]))
			set->ts_failed[kept++] = set->ts_failed[i];
		else
			free(set->ts_failed[i]);
	}
	set->ts_nfailed = kept;
}

/* The cluster file named by the platform file, and this node in it. */
static int
cluster_load(const char *file, config_t *cfg, struct conf_platform *p,
    struct conf_errors *errs)
{
	const config_setting_t *s = config_lookup(cfg, "cluster.node");
	struct conf_platform_cluster *pc = &p->p_cluster_conf;

	if (pc->pc_file == NULL)
		return 0;
	if (pc->pc_node == NULL) {
		s = config_lookup(cfg, "cluster.file");
		errs_add(errs, file, s ? (unsigned)config_setting_source_line(
		    s) : 0, "cluster.node", "missing: which node of %s this "
		    "is", pc->pc_file);
		return -1;
	}
	if ((p->p_cluster = conf_cluster_load(pc->pc_file, errs)) == NULL)
		return -1;
	if (conf_cluster_node(p->p_cluster, pc->pc_node) == NULL) {
		errs_add(errs, file, s ? (unsigned)config_setting_source_line(
		    s) : 0, "cluster.node", "\"%s\" is not a node of %s",
		    pc->pc_node, pc->pc_file);
		return -1;
	}
	return 0;
}

struct conf_platform *
conf_platform_load(const char *file, struct conf_errors *errs)
{
	struct conf_platform *p = calloc(1, sizeof(*p));
	config_t cfg;
	char *dir;
	int rc;

	if (p == NULL)
		fatal("%s: calloc", __func__);
	p->p_file = xstrdup(file);
	rc = load_file(file, &platform_schema, p, errs, &cfg);
	if (rc == 0) {
		struct walk w = { file, errs, errs->e_count };

		/* Both say theirs: a file's errors are told at once. */
		remote_check(&w, &cfg, p);
		monitor_check(&w, &cfg, p);
		if (errs->e_count > w.before)
			rc = -1;
	}
	dir = file_dir(file);
	if (rc == 0 && p->p_cluster_conf.pc_file) {
		resolve_in_place(&p->p_cluster_conf.pc_file, dir);
		rc = cluster_load(file, &cfg, p, errs);
	}
	config_destroy(&cfg);
	if (rc < 0) {
		free(dir);
		conf_platform_free(p);
		return NULL;
	}
	resolve_in_place(&p->p_state_dir, dir);
	resolve_in_place(&p->p_tenants_dir, dir);
	resolve_in_place(&p->p_apps_dir, dir);
	resolve_in_place(&p->p_remote.pr_server_key, dir);
	free(dir);
	if (p->p_mongo_url == NULL &&
	    asprintf(&p->p_mongo_url, "file://%s/coredms", p->p_state_dir) < 0)
		fatal("%s: asprintf", __func__);
	return p;
}

void
conf_platform_free(struct conf_platform *p)
{
	if (p == NULL)
		return;
	free_fields(&platform_schema, p);
	conf_cluster_free(p->p_cluster);
	free(p->p_file);
	free(p);
}

/* The id a tenant file must carry: its name without ".cfg". */
static char *
file_tenant_id(const char *file)
{
	const char *base = strrchr(file, '/');
	char *id;
	size_t n;

	base = base ? base + 1 : file;
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".cfg") == 0)
		n -= 4;
	id = xstrdup(base);
	id[n] = '\0';
	return id;
}

/*
 * A batch app's log is log/<tenant>/<name>.log and a stream's
 * stream-<stream>.log: an app named stream-x beside a stream x would
 * have two daemons write and rotate one file.
 */
static void
app_log_check(struct walk *w, const config_setting_t *as, const char *path,
    const struct conf_batch_app *a, const struct conf_tenant *t)
{
	if (strncmp(a->a_name, "stream-", strlen("stream-")) != 0)
		return;
	for (size_t j = 0; j < t->t_nstreams; j++)
		if (strcmp(a->a_name + strlen("stream-"),
		    t->t_streams[j].s_name) == 0)
			walk_error(w, as, path, "name \"%s\" is the log of "
			    "stream \"%s\" (log/%s/%s.log): name the app "
			    "otherwise", a->a_name, t->t_streams[j].s_name,
			    t->t_id ? t->t_id : "<tenant>", a->a_name);
}

/* Batch apps: unique names, one default app, each dataset served once,
 * no log of a stream's. */
static void
batch_check(struct walk *w, config_t *cfg, const struct conf_tenant *t)
{
	const config_setting_t *apps = config_lookup(cfg, "batch.apps");
	const char *dflt = NULL;

	for (size_t i = 0; i < t->t_batch.b_napps; i++) {
		const struct conf_batch_app *a = &t->t_batch.b_apps[i];
		const config_setting_t *as = apps ?
		    config_setting_get_elem(apps, (unsigned)i) : NULL;
		char path[64];

		snprintf(path, sizeof(path), "batch.apps[%zu]", i);
		if (a->a_datasets == NULL || a->a_datasets[0] == NULL) {
			if (dflt)
				walk_error(w, as, path, "apps \"%s\" and \"%s\" "
				    "both serve top-level files (give one of "
				    "them datasets)", dflt, a->a_name);
			dflt = a->a_name;
		}
		app_log_check(w, as, path, a, t);
		for (size_t j = 0; j < i; j++) {
			const struct conf_batch_app *b = &t->t_batch.b_apps[j];

			if (strcmp(a->a_name, b->a_name) == 0)
				walk_error(w, as, path, "name \"%s\" is used "
				    "twice", a->a_name);
			for (char **d = a->a_datasets; d && *d; d++)
				for (char **e = b->a_datasets; e && *e; e++)
					if (strcmp(*d, *e) == 0)
						walk_error(w, as, path,
						    "dataset \"%s\" is served "
						    "by \"%s\" already", *d,
						    b->a_name);
		}
	}
}

/*
 * The identity files of batch.encryption: there, regular files, and no
 * one's but their owner's (a tenant's app must never read them). One
 * that is not there yet (or in a folder check-config's user cannot read)
 * is a warning, as a missing app is.
 */
static void
keys_check(struct walk *w, config_t *cfg, const struct conf_tenant *t)
{
	const config_setting_t *keys = config_lookup(cfg,
	    "batch.encryption.keys");
	char **k = t->t_batch.b_encryption.e_keys;
	struct stat st;

	for (size_t i = 0; k && k[i]; i++) {
		const config_setting_t *ks = keys ?
		    config_setting_get_elem(keys, (unsigned)i) : NULL;

		if (k[i][0] != '/')
			continue;	/* said already */
		if (stat(k[i], &st) < 0)
			continue;	/* a warning (key_warnings) */
		if (!S_ISREG(st.st_mode))
			walk_error(w, ks, "batch.encryption.keys", "%s: not a "
			    "regular file", k[i]);
		else if (st.st_mode & 077)
			walk_error(w, ks, "batch.encryption.keys", "%s: mode "
			    "%04o: others may read it (chmod 600)", k[i],
			    (unsigned)(st.st_mode & 07777));
		/* Its owner may rewrite it: the daemons' user (or root),
		 * never a tenant's. */
		else if (st.st_uid != geteuid() && st.st_uid != 0)
			walk_error(w, ks, "batch.encryption.keys", "%s: owned "
			    "by uid %u, not by the daemons' user (uid %u) or "
			    "root", k[i], (unsigned)st.st_uid,
			    (unsigned)geteuid());
	}
}

/* Whether a rule checks something beyond naming a field. */
static bool
rule_checks(const struct conf_rule *r)
{
	return r->r_required || r->r_type || r->r_min || r->r_max ||
	    (r->r_values && r->r_values[0]) || r->r_pattern ||
	    r->r_max_age_ms || r->r_unique;
}

/* Every rule checks something, names are unique in q, min <= max. */
static void
rules_check(struct walk *w, const config_setting_t *qs, const char *path,
    const struct conf_quality *q)
{
	for (size_t k = 0; k < q->q_nrules; k++) {
		const struct conf_rule *r = &q->q_rules[k];

		if (!rule_checks(r))
			walk_error(w, qs, path, "rule \"%s\" checks nothing "
			    "(give it required, type, min, max, values, "
			    "pattern, max_age or unique)", r->r_name);
		if (r->r_min && r->r_max && check_number(r->r_min) == NULL &&
		    check_number(r->r_max) == NULL &&
		    strtod(r->r_min, NULL) > strtod(r->r_max, NULL))
			walk_error(w, qs, path, "rule \"%s\": min %s is above "
			    "max %s", r->r_name, r->r_min, r->r_max);
		for (size_t l = 0; l < k; l++)
			if (strcmp(r->r_name, q->q_rules[l].r_name) == 0)
				walk_error(w, qs, path, "rule name \"%s\" is "
				    "used twice", r->r_name);
	}
}

/*
 * batch.quality and each stream's: the rules (rules_check), and a
 * dataset has one group, and groups name datasets the apps serve.
 */
static void
quality_check(struct walk *w, config_t *cfg, const struct conf_tenant *t)
{
	const config_setting_t *list = config_lookup(cfg, "batch.quality");
	const config_setting_t *streams = config_lookup(cfg, "streams");
	const struct conf_batch *b = &t->t_batch;
	bool top = false;
	char path[64];

	for (size_t i = 0; i < t->t_nstreams; i++) {
		const config_setting_t *ss = streams ?
		    config_setting_get_elem(streams, (unsigned)i) : NULL;

		snprintf(path, sizeof(path), "streams[%zu].quality", i);
		rules_check(w, ss ? config_setting_get_member(ss, "quality") : NULL,
		    path, &t->t_streams[i].s_quality);
	}

	for (size_t i = 0; i < b->b_nquality; i++) {
		const struct conf_quality *q = &b->b_quality[i];
		const config_setting_t *qs = list ?
		    config_setting_get_elem(list, (unsigned)i) : NULL;

		snprintf(path, sizeof(path), "batch.quality[%zu]", i);
		rules_check(w, qs, path, q);
		if (q->q_datasets == NULL || q->q_datasets[0] == NULL) {
			if (top)
				walk_error(w, qs, path, "top-level files have "
				    "rules in two groups");
			top = true;
		}
		for (char **d = q->q_datasets; d && *d; d++) {
			if (conf_batch_app_for(t, *d) == NULL)
				walk_error(w, qs, path, "no app serves dataset "
				    "\"%s\"", *d);
			for (size_t j = 0; j < i; j++)
				for (char **e = b->b_quality[j].q_datasets;
				    e && *e; e++)
					if (strcmp(*d, *e) == 0)
						walk_error(w, qs, path,
						    "dataset \"%s\" has rules "
						    "in two groups", *d);
		}
	}
}

/* min <= initial <= max; initial defaults to min. */
static void
instances_check(struct walk *w, const config_setting_t *ss, const char *path,
    struct conf_instances *in)
{
	const config_setting_t *is = ss ?
	    config_setting_get_member(ss, "instances") : NULL;
	char ipath[160];

	snprintf(ipath, sizeof(ipath), "%s.instances", path);
	if (in->i_min > in->i_max)
		walk_error(w, is ? is : ss, ipath, "min %lld is above max %lld",
		    (long long)in->i_min, (long long)in->i_max);
	if (in->i_initial < 0)
		in->i_initial = in->i_min;
	else if (in->i_initial < in->i_min || in->i_initial > in->i_max)
		walk_error(w, is ? is : ss, ipath, "initial %lld is outside "
		    "min..max (%lld..%lld)", (long long)in->i_initial,
		    (long long)in->i_min, (long long)in->i_max);
}

/*
 * A subscription is named "<stream>.<name>" and takes its stream's
 * queue limits, durability and quality rules (shared, owned by the
 * stream: sub_schema does not free them).
 */
static void
sub_link(struct conf_stream *sub, const struct conf_stream *st)
{
	size_t n = strlen(st->s_name) + 1 + strlen(sub->s_name) + 1;
	char *full = malloc(n);

	if (full == NULL)
		fatal("%s: malloc", __func__);
	snprintf(full, n, "%s.%s", st->s_name, sub->s_name);
	free(sub->s_name);
	sub->s_name = full;
	sub->s_parent = st;
	sub->s_max_message_size = st->s_max_message_size;
	sub->s_max_queue_bytes = st->s_max_queue_bytes;
	sub->s_max_messages_per_second = st->s_max_messages_per_second;
	sub->s_durability = st->s_durability;
	sub->s_quality = st->s_quality;
}

/* A stream's subscriptions: unique names, then linked to it. */
static void
subs_check(struct walk *w, const config_setting_t *ss, const char *path,
    struct conf_stream *st)
{
	const config_setting_t *list = ss ?
	    config_setting_get_member(ss, "subscriptions") : NULL;

	for (size_t k = 0; k < st->s_nsubs; k++) {
		struct conf_stream *sub = &st->s_subs[k];
		const config_setting_t *us = list ?
		    config_setting_get_elem(list, (unsigned)k) : NULL;
		char spath[128];

		snprintf(spath, sizeof(spath), "%s.subscriptions[%zu]", path, k);
		for (size_t j = 0; j < k; j++)
			if (sub->s_name && st->s_subs[j].s_name &&
			    strcmp(sub->s_name, st->s_subs[j].s_name) == 0)
				walk_error(w, us, spath, "name \"%s\" is used "
				    "twice", sub->s_name);
		instances_check(w, us, spath, &sub->s_instances);
	}
	if (st->s_name == NULL)
		return;
	for (size_t k = 0; k < st->s_nsubs; k++)
		if (st->s_subs[k].s_name != NULL)
			sub_link(&st->s_subs[k], st);
}

/* Streams: unique names, min <= initial <= max, their subscriptions. */
static void
streams_check(struct walk *w, config_t *cfg, struct conf_tenant *t)
{
	const config_setting_t *list = config_lookup(cfg, "streams");

	for (size_t i = 0; i < t->t_nstreams; i++) {
		struct conf_stream *st = &t->t_streams[i];
		const config_setting_t *ss = list ?
		    config_setting_get_elem(list, (unsigned)i) : NULL;
		char path[64];

		snprintf(path, sizeof(path), "streams[%zu]", i);
		for (size_t j = 0; j < i; j++)
			if (st->s_name && t->t_streams[j].s_name &&
			    strcmp(st->s_name, t->t_streams[j].s_name) == 0)
				walk_error(w, ss, path, "name \"%s\" is used "
				    "twice", st->s_name);
		instances_check(w, ss, path, &st->s_instances);
		subs_check(w, ss, path, st);
	}
}

/* A scaling group must name at least one metric to scale on. */
static void
scaling_check_one(struct walk *w, const config_setting_t *ss,
    const char *path, const struct conf_scaling *sc)
{
	char spath[160];

	if (!sc->sc_enabled || sc->sc_target_backlog > 0 ||
	    sc->sc_max_ingest_time_ms > 0)
		return;
	snprintf(spath, sizeof(spath), "%s.scaling", path);
	walk_error(w, ss ? config_setting_get_member(ss, "scaling") : NULL,
	    spath, "set target_backlog_per_instance or max_ingest_time (or "
	    "both)");
}

static void
scaling_check(struct walk *w, config_t *cfg, const struct conf_tenant *t)
{
	const config_setting_t *list = config_lookup(cfg, "streams");

	for (size_t i = 0; i < t->t_nstreams; i++) {
		const struct conf_stream *st = &t->t_streams[i];
		const config_setting_t *ss = list ?
		    config_setting_get_elem(list, (unsigned)i) : NULL;
		const config_setting_t *subs = ss ?
		    config_setting_get_member(ss, "subscriptions") : NULL;
		char path[96];

		snprintf(path, sizeof(path), "streams[%zu]", i);
		scaling_check_one(w, ss, path, &st->s_scaling);
		for (size_t k = 0; k < st->s_nsubs; k++) {
			snprintf(path, sizeof(path),
			    "streams[%zu].subscriptions[%zu]", i, k);
			scaling_check_one(w, subs ? config_setting_get_elem(subs,
			    (unsigned)k) : NULL, path, &st->s_subs[k].s_scaling);
		}
	}
}

/* Checks that span several settings, after the table walk. */
static void
tenant_check(struct walk *w, config_t *cfg, struct conf_tenant *t)
{
	const config_setting_t *root = config_root_setting(cfg);
	char *want = file_tenant_id(w->file);

	if (t->t_id && strcmp(t->t_id, want) != 0)
		walk_error(w, config_setting_get_member(root, "id"), "id",
		    "\"%s\" does not match the file name (expected \"%s\")",
		    t->t_id, want);
	free(want);
	batch_check(w, cfg, t);
	keys_check(w, cfg, t);
	quality_check(w, cfg, t);
	streams_check(w, cfg, t);
	scaling_check(w, cfg, t);
}

static void
tenant_resolve(struct conf_tenant *t, const char *apps_dir)
{
	struct passwd *pw;

	if (t->t_mongo_db == NULL)
		t->t_mongo_db = xstrdup(t->t_id);
	t->t_uid = getuid();
	t->t_gid = getgid();
	if (t->t_user && (pw = getpwnam(t->t_user)) != NULL) {
		t->t_uid = pw->pw_uid;
		t->t_gid = pw->pw_gid;
	}
	for (size_t i = 0; i < t->t_batch.b_napps; i++)
		resolve_in_place(&t->t_batch.b_apps[i].a_argv[0], apps_dir);
	for (size_t i = 0; i < t->t_nstreams; i++) {
		resolve_in_place(&t->t_streams[i].s_argv[0], apps_dir);
		for (size_t k = 0; k < t->t_streams[i].s_nsubs; k++)
			resolve_in_place(&t->t_streams[i].s_subs[k].s_argv[0],
			    apps_dir);
	}
}

struct conf_tenant *
conf_tenant_load(const char *file, const char *apps_dir,
    struct conf_errors *errs)
{
	struct conf_tenant *t = calloc(1, sizeof(*t));
	struct walk w = { file, errs, errs->e_count };
	config_t cfg;
	int rc;

	if (t == NULL)
		fatal("%s: calloc", __func__);
	t->t_refs = 1;
	t->t_file = xstrdup(file);
	t->t_app_logs = TAL_UNSET;
	/* Cross-setting checks run even after other errors, to show all. */
	load_file(file, &tenant_schema, t, errs, &cfg);
	tenant_check(&w, &cfg, t);
	rc = errs->e_count == w.before ? 0 : -1;
	config_destroy(&cfg);
	if (rc < 0) {
		conf_tenant_unref(t);
		return NULL;
	}
	tenant_resolve(t, apps_dir);
	return t;
}

struct conf_tenant *
conf_tenant_ref(struct conf_tenant *t)
{
	t->t_refs++;
	return t;
}

void
conf_tenant_unref(struct conf_tenant *t)
{
	if (t == NULL || --t->t_refs > 0)
		return;
	free_fields(&tenant_schema, t);
	free(t->t_file);
	free(t);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted "*.cfg" names in dir, or NULL with errno set. */
static char **
list_cfg_files(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char **grown;

		if (de->d_name[0] == '.' || len <= 4 ||
		    strcmp(de->d_name + len - 4, ".cfg") != 0)
			continue;
		grown = realloc(names, (n + 1) * sizeof(*names));
		if (grown == NULL)
			fatal("%s: realloc", __func__);
		names = grown;
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	*count = n;
	return names ? names : strv_alloc(0);
}

int
conf_tenants_load(const char *dir, const char *apps_dir,
    struct conf_tenant_set *set, struct conf_errors *errs)
{
	size_t n;
	char **names = list_cfg_files(dir, &n);

	memset(set, 0, sizeof(*set));
	if (names == NULL) {
		errs_add(errs, dir, 0, NULL, "cannot read tenants folder: %s",
		    strerror(errno));
		return -1;
	}
	set->ts_tenants = calloc(n + 1, sizeof(*set->ts_tenants));
	set->ts_failed = calloc(n + 1, sizeof(*set->ts_failed));
	if (set->ts_tenants == NULL || set->ts_failed == NULL)
		fatal("%s: calloc", __func__);
	for (size_t i = 0; i < n; i++) {
		char *file = path_resolve(dir, names[i]);
		struct conf_tenant *t = conf_tenant_load(file, apps_dir, errs);

		if (t)
			set->ts_tenants[set->ts_count++] = t;
		else
			set->ts_failed[set->ts_nfailed++] = file_tenant_id(file);
		free(file);
		free(names[i]);
	}
	free(names);
	return 0;
}

void
conf_tenant_set_free(struct conf_tenant_set *set)
{
	for (size_t i = 0; i < set->ts_count; i++)
		conf_tenant_unref(set->ts_tenants[i]);
	for (size_t i = 0; i < set->ts_nfailed; i++)
		free(set->ts_failed[i]);
	free(set->ts_tenants);
	free(set->ts_failed);
	memset(set, 0, sizeof(*set));
}

struct conf_tenant *
conf_tenant_set_find(const struct conf_tenant_set *set, const char *id)
{
	for (size_t i = 0; i < set->ts_count; i++)
		if (strcmp(set->ts_tenants[i]->t_id, id) == 0)
			return set->ts_tenants[i];
	return NULL;
}

bool
conf_tenant_set_failed(const struct conf_tenant_set *set, const char *id)
{
	for (size_t i = 0; i < set->ts_nfailed; i++)
		if (strcmp(set->ts_failed[i], id) == 0)
			return true;
	return false;
}

/* Whether file looks like a tenant profile: it has a top-level "id". */
static bool
is_tenant_file(const char *file)
{
	config_t cfg;
	bool yes;

	config_init(&cfg);
	yes = config_read_file(&cfg, file) == CONFIG_TRUE &&
	    config_lookup(&cfg, "id") != NULL;
	config_destroy(&cfg);
	return yes;
}

/* Warns when the app of setting (at path) is not an executable file. */
static void
app_warning(config_t *cfg, const char *file, const char *lookup,
    const char *setting, const char *path, struct conf_errors *warns)
{
	const config_setting_t *s = config_lookup(cfg, lookup);
	unsigned line = s ? (unsigned)config_setting_source_line(s) : 0;
	struct stat st;

	if (stat(path, &st) == -1)
		errs_add(warns, file, line, setting, "%s: %s: the app cannot "
		    "start", path, strerror(errno));
	else if (!S_ISREG(st.st_mode) || access(path, X_OK) == -1)
		errs_add(warns, file, line, setting, "%s: not an executable "
		    "file: the app cannot start", path);
}

/* Warns of each app of t that could not start, where a profile names
 * it: the profile loads (an app may be installed after it), but a
 * manager would fail every job or instance. */
static void
app_warnings(const struct conf_tenant *t, struct conf_errors *warns)
{
	char lookup[96], setting[96];
	config_t cfg;

	config_init(&cfg);
	if (config_read_file(&cfg, t->t_file) == CONFIG_TRUE) {
		for (size_t i = 0; i < t->t_batch.b_napps; i++) {
			snprintf(lookup, sizeof(lookup), "batch.apps.[%zu].app",
			    i);
			snprintf(setting, sizeof(setting), "batch.apps[%zu].app",
			    i);
			app_warning(&cfg, t->t_file, lookup, setting,
			    t->t_batch.b_apps[i].a_argv[0], warns);
		}
		for (size_t i = 0; i < t->t_nstreams; i++) {
			const struct conf_stream *st = &t->t_streams[i];

			snprintf(lookup, sizeof(lookup), "streams.[%zu].app", i);
			snprintf(setting, sizeof(setting), "streams[%zu].app", i);
			app_warning(&cfg, t->t_file, lookup, setting,
			    st->s_argv[0], warns);
			for (size_t k = 0; k < st->s_nsubs; k++) {
				snprintf(lookup, sizeof(lookup), "streams.[%zu]."
				    "subscriptions.[%zu].app", i, k);
				snprintf(setting, sizeof(setting), "streams[%zu]."
				    "subscriptions[%zu].app", i, k);
				app_warning(&cfg, t->t_file, lookup, setting,
				    st->s_subs[k].s_argv[0], warns);
			}
		}
	}
	config_destroy(&cfg);
}

/* The line of setting in file (read again), or 0. */
static unsigned
setting_line(const char *file, const char *setting)
{
	const config_setting_t *st;
	unsigned line = 0;
	config_t cfg;

	config_init(&cfg);
	if (config_read_file(&cfg, file) == CONFIG_TRUE &&
	    (st = config_lookup(&cfg, setting)) != NULL)
		line = (unsigned)config_setting_source_line(st);
	config_destroy(&cfg);
	return line;
}

/* Warns of each identity of batch.encryption that cannot be read. */
static void
key_warnings(const struct conf_tenant *t, struct conf_errors *warns)
{
	char **k = t->t_batch.b_encryption.e_keys;
	struct stat st;

	for (size_t i = 0; k && k[i]; i++) {
		const char *why;

		if (stat(k[i], &st) == 0)
			continue;
		why = strerror(errno);
		errs_add(warns, t->t_file, setting_line(t->t_file,
		    "batch.encryption.keys"), "batch.encryption.keys", "%s: %s: "
		    "files encrypted for it cannot be decrypted", k[i], why);
	}
}

static void
set_warnings(const struct conf_tenant_set *set, struct conf_errors *warns)
{
	for (size_t i = 0; warns != NULL && i < set->ts_count; i++) {
		app_warnings(set->ts_tenants[i], warns);
		key_warnings(set->ts_tenants[i], warns);
	}
}


/*
 * A producer key is one tenant's: streammgr refuses a key two tenants
 * list at every connection; check-config says so before.
 */
static void
shared_keys(const struct conf_tenant_set *set, struct conf_errors *errs)
{
	for (size_t i = 0; i < set->ts_count; i++) {
		const struct conf_tenant *t = set->ts_tenants[i];

		for (size_t j = 0; j < i; j++) {
			const struct conf_tenant *u = set->ts_tenants[j];

			for (char **k = t->t_producer_keys; k && *k; k++)
				for (char **l = u->t_producer_keys; l && *l;
				    l++)
					if (strcmp(*k, *l) == 0)
						errs_add(errs, t->t_file,
						    setting_line(t->t_file,
						    "producer_keys"),
						    "producer_keys", "\"%s\" is "
						    "tenant %s's too: a key must "
						    "be one tenant's", *k,
						    u->t_id);
		}
	}
}

size_t
conf_check_path(const char *path, struct conf_errors *errs,
    struct conf_errors *warns)
{
	struct conf_tenant_set set;
	struct conf_platform *p;
	struct conf_tenant *t;
	struct stat st;
	size_t before = errs->e_count;
	char cwd[PATH_MAX];

	if (stat(path, &st) < 0) {
		errs_add(errs, path, 0, NULL, "%s", strerror(errno));
		return 1;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("%s: getcwd", __func__);
	if (S_ISDIR(st.st_mode)) {
		conf_tenants_load(path, cwd, &set, errs);
		set_warnings(&set, warns);
		shared_keys(&set, errs);
		conf_tenant_set_free(&set);
	} else if (is_tenant_file(path)) {
		if ((t = conf_tenant_load(path, cwd, errs)) != NULL &&
		    warns != NULL) {
			app_warnings(t, warns);
			key_warnings(t, warns);
		}
		conf_tenant_unref(t);
	} else if ((p = conf_platform_load(path, errs)) != NULL) {
		conf_tenants_load(p->p_tenants_dir, p->p_apps_dir, &set, errs);
		set_warnings(&set, warns);
		shared_keys(&set, errs);
		conf_tenant_set_free(&set);
		conf_platform_free(p);
	}
	return errs->e_count - before;
}

const struct conf_batch_app *
conf_batch_app_for(const struct conf_tenant *t, const char *dataset)
{
	for (size_t i = 0; i < t->t_batch.b_napps; i++) {
		const struct conf_batch_app *a = &t->t_batch.b_apps[i];

		if (*dataset == '\0' && a->a_datasets[0] == NULL)
			return a;
		for (char **d = a->a_datasets; *d; d++)
			if (strcmp(*d, dataset) == 0)
				return a;
	}
	return NULL;
}

const struct conf_quality *
conf_quality_for(const struct conf_tenant *t, const char *dataset)
{
	for (size_t i = 0; i < t->t_batch.b_nquality; i++) {
		const struct conf_quality *q = &t->t_batch.b_quality[i];

		if (*dataset == '\0' && q->q_datasets[0] == NULL)
			return q;
		for (char **d = q->q_datasets; *d; d++)
			if (strcmp(*d, dataset) == 0)
				return q;
	}
	return NULL;
}

const char *
conf_tenant_mongo_url(const struct conf_platform *p,
    const struct conf_tenant *t)
{
	return t->t_mongo_url ? t->t_mongo_url : p->p_mongo_url;
}

/* Whether the URL's query sets option (case-insensitive, as MongoDB's). */
static bool
url_has_option(const char *query, const char *option)
{
	size_t n = strlen(option);

	for (const char *q = query; q != NULL && *q; q = strchr(q, '&')) {
		if (*q == '&' || *q == '?')
			q++;
		if (strncasecmp(q, option, n) == 0 && q[n] == '=')
			return true;
	}
	return false;
}

/* url with the write concern of mw where the URL does not set it. */
static char *
url_with_write(const char *url, const struct conf_mongo_write *mw)
{
	const char *query = strchr(url, '?'), *hosts;
	char *out, sep;
	size_t len;
	FILE *f;

	if (strncmp(url, "mongodb", 7) != 0)
		return xstrdup(url);
	if ((f = open_memstream(&out, &len)) == NULL)
		fatal("%s: open_memstream", __func__);
	fputs(url, f);
	hosts = strstr(url, "://");
	/* "mongodb://h" needs the slash before its options. */
	if (query == NULL && hosts != NULL && strchr(hosts + 3, '/') == NULL)
		fputc('/', f);
	sep = query == NULL ? '?' : '&';
	if (query != NULL && query[1] == '\0')
		sep = '\0';	/* "...?" ends the URL: nothing to join */
#define OPTION(name, ...) do {						\
	if (!url_has_option(query, name)) {				\
		if (sep != '\0')					\
			fputc(sep, f);					\
		sep = '&';						\
		fprintf(f, name "=" __VA_ARGS__);			\
	}								\
} while (0)
	OPTION("w", "%s", mw->mw_w);
	OPTION("journal", "%s", mw->mw_journal ? "true" : "false");
	if (mw->mw_wtimeout_ms > 0)
		OPTION("wtimeoutMS", "%llu",
		    (unsigned long long)mw->mw_wtimeout_ms);
#undef OPTION
	if (fclose(f) != 0)
		fatal("%s: open_memstream", __func__);
	return out;
}

char *
conf_tenant_app_mongo_url(const struct conf_platform *p,
    const struct conf_tenant *t)
{
	return url_with_write(conf_tenant_mongo_url(p, t),
	    t->t_mongo_write.mw_set ? &t->t_mongo_write : &p->p_mongo_write);
}

struct conf_app_logs
conf_tenant_app_logs(const struct conf_platform *p,
    const struct conf_tenant *t)
{
	struct conf_app_logs c = p->p_app_logs;
	const struct conf_app_logs *own = &t->t_app_logs;

	if (own->al_max_size != TAL_UNSET.al_max_size)
		c.al_max_size = own->al_max_size;
	if (own->al_backups != TAL_UNSET.al_backups)
		c.al_backups = own->al_backups;
	if (own->al_rate != TAL_UNSET.al_rate)
		c.al_rate = own->al_rate;
	return c;
}

char *
conf_platform_app_mongo_url(const struct conf_platform *p)
{
	return url_with_write(p->p_mongo_url, &p->p_mongo_write);
}

const struct conf_stream *
conf_stream_find(const struct conf_tenant *t, const char *name)
{
	for (size_t i = 0; i < t->t_nstreams; i++) {
		const struct conf_stream *st = &t->t_streams[i];

		if (strcmp(st->s_name, name) == 0)
			return st;
		for (size_t k = 0; k < st->s_nsubs; k++)
			if (strcmp(st->s_subs[k].s_name, name) == 0)
				return &st->s_subs[k];
	}
	return NULL;
}
