/*
 * The scaling policy of one stream, after the Kubernetes Horizontal Pod
 * Autoscaler: each metric recommends ceil(current * value / target)
 * instances, or the current count when value/target is within the
 * tolerance of 1; the highest recommendation wins; it is clamped to
 * [min, max]. A higher count is asked for at once, a lower one only when
 * every recommendation for scale_down_delay was lower (and then the
 * highest of them), and no change comes within cooldown of the last.
 * Pure functions of their arguments: the caller brings the clock.
 */
#ifndef MYSIMBDP_MONITOR_POLICY_H
#define MYSIMBDP_MONITOR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct policy_params {
	int		 pp_min;
	int		 pp_max;
	int64_t		 pp_target_backlog;	/* per instance; 0: not used */
	double		 pp_max_ingest_us;	/* per message; 0: not used */
	int		 pp_tolerance_pct;
	uint64_t	 pp_down_delay_ms;
	uint64_t	 pp_cooldown_ms;
};

/* What the monitor knows of the stream now. */
struct policy_input {
	int		 pi_current;	/* instances streammgr keeps (desired) */
	int64_t		 pi_backlog;	/* messages not acked: waiting + in flight */
	double		 pi_ingest_us;	/* average per message; < 0: unknown */
};

/* What the policy remembers between calls; zero it to start. */
struct policy_state {
	bool		 ps_changed;		/* a change was made */
	uint64_t	 ps_changed_ms;		/* when */
	bool		 ps_low;		/* recommendations below current */
	uint64_t	 ps_low_since_ms;
	int		 ps_low_max;		/* the highest of them */
	int		 ps_low_current;	/* the count they were below */
};

enum policy_action { PA_KEEP, PA_UP, PA_DOWN };

struct policy_decision {
	enum policy_action pd_action;
	int		 pd_desired;	/* == current when PA_KEEP */
	int		 pd_recommended; /* this call's, clamped */
	char		 pd_reason[200];
};

/* The policy's parameters from a stream's profile. */
void policy_params_from_conf(const struct conf_stream *c,
    struct policy_params *pp);

/*
 * Decides at now_ms (monotonic) what st's stream should run. Updates st
 * (the scale-down window); the caller reports a change it carried out
 * with policy_changed. Always fills d.
 */
void policy_decide(const struct policy_params *pp, struct policy_state *st,
    const struct policy_input *in, uint64_t now_ms,
    struct policy_decision *d);

/* Records that a change was asked for at now_ms: the cooldown starts. */
void policy_changed(struct policy_state *st, uint64_t now_ms);

#endif
