/*
 * Unit tests for monitor/policy.c, the HPA-like scaling rule: ratio with
 * a tolerance, scale-up at once, scale-down after the delay (to the
 * highest recommendation seen in it), a cooldown between changes, the
 * clamp to [min, max], and no flapping under a load that oscillates.
 * The clock is the tests': every call says what time it is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

#define DELAY	30000
#define COOL	5000

static const struct policy_params base = {
	.pp_min = 1, .pp_max = 8, .pp_target_backlog = 100,
	.pp_max_ingest_us = 0, .pp_tolerance_pct = 10,
	.pp_down_delay_ms = DELAY, .pp_cooldown_ms = COOL,
};

/* One decision for current instances and backlog at time now. */
static struct policy_decision
decide(const struct policy_params *pp, struct policy_state *st, int current,
    int64_t backlog, double ingest_us, uint64_t now)
{
	struct policy_input in = { current, backlog, ingest_us };
	struct policy_decision d;

	memset(&d, 0xa5, sizeof(d));
	policy_decide(pp, st, &in, now, &d);
	return d;
}

static void
within_tolerance_keeps_the_count(void **state)
{
	struct policy_state st = { 0 };
	struct policy_decision d;

	/* 420 for 4 instances is 105 each: 5% over the target of 100. */
	d = decide(&base, &st, 4, 420, -1, 1000);
	assert_int_equal(d.pd_action, PA_KEEP);
	assert_int_equal(d.pd_desired, 4);
	d = decide(&base, &st, 4, 361, -1, 2000);
	assert_int_equal(d.pd_action, PA_KEEP);
	/* 460 is 15% over: ceil(460 / 100) = 5. */
	d = decide(&base, &st, 4, 460, -1, 3000);
	assert_int_equal(d.pd_action, PA_UP);
	assert_int_equal(d.pd_desired, 5);
}

static void
backlog_step_scales_up_at_once_and_clamps_to_max(void **state)
{
	struct policy_state st = { 0 };
	struct policy_decision d;

	d = decide(&base, &st, 1, 350, -1, 1000);
	assert_int_equal(d.pd_action, PA_UP);
	assert_int_equal(d.pd_desired, 4);
	assert_non_null(strstr(d.pd_reason, "unacked 350"));
	d = decide(&base, &st, 1, 5000, -1, 1000);
	assert_int_equal(d.pd_desired, 8);
	assert_int_equal(d.pd_recommended, 8);
}

static void
scale_down_waits_for_the_delay(void **state)
{
	struct policy_state st = { 0 };
	struct policy_decision d;

	d = decide(&base, &st, 4, 0, -1, 100000);
	assert_int_equal(d.pd_action, PA_KEEP);
	assert_non_null(strstr(d.pd_reason, "waiting for the scale-down"));
	d = decide(&base, &st, 4, 0, -1, 100000 + DELAY - 1);
	assert_int_equal(d.pd_action, PA_KEEP);
	d = decide(&base, &st, 4, 0, -1, 100000 + DELAY);
	assert_int_equal(d.pd_action, PA_DOWN);
	/* Never below min. */
	assert_int_equal(d.pd_desired, 1);
	assert_non_null(strstr(d.pd_reason, "low for 30s"));
}

static void
scale_down_takes_the_highest_recommendation_of_the_window(void **state)
{
	struct policy_state st = { 0 };
	struct policy_decision d;

	decide(&base, &st, 6, 100, -1, 0);		/* 1 */
	decide(&base, &st, 6, 250, -1, 10000);		/* 3 */
	decide(&base, &st, 6, 0, -1, 20000);		/* 1 */
	d = decide(&base, &st, 6, 50, -1, DELAY);
	assert_int_equal(d.pd_action, PA_DOWN);
	assert_int_equal(d.pd_desired, 3);
}

static void
a_busy_moment_restarts_the_delay(void **state)
{
	struct policy_state st = { 0 };
	struct policy_decision d;

	decide(&base, &st, 4, 0, -1, 0);
	decide(&base, &st, 4, 400, -1, 20000);		/* at target again */
	d = decide(&base, &st, 4, 0, -1, DELAY);
	assert_int_equal(d.pd_action, PA_KEEP);
	d = decide(&base, &st, 4, 0, -1, DELAY + DELAY - 1);
	assert_int_equal(d.pd_action, PA_KEEP);
	d = decide(&base, &st, 4, 0, -1, DELAY + DELAY);
	assert_int_equal(d.pd_action, PA_DOWN);
}

static void
cooldown_holds_changes_after_one(void **state)
{
	struct policy_state st = { 0 };
	struct policy_decision d;

	d = decide(&base, &st, 1, 200, -1, 1000);
	assert_int_equal(d.pd_action, PA_UP);
	policy_changed(&st, 1000);
	d = decide(&base, &st, 2, 600, -1, 1000 + COOL - 1);
	assert_int_equal(d.pd_action, PA_KEEP);
	assert_int_equal(d.pd_desired, 2);
	assert_non_null(strstr(d.pd_reason, "cooldown"));
	d = decide(&base, &st, 2, 600, -1, 1000 + COOL);
	assert_int_equal(d.pd_action, PA_UP);
	assert_int_equal(d.pd_desired, 6);
}

static void
cooldown_also_holds_a_due_scale_down(void **state)
{
	struct policy_params pp = base;
	struct policy_state st = { 0 };
	struct policy_decision d;

	pp.pp_down_delay_ms = 1000;
	pp.pp_cooldown_ms = 10000;
	policy_changed(&st, 0);
	decide(&pp, &st, 4, 0, -1, 100);
	d = decide(&pp, &st, 4, 0, -1, 5000);
	assert_int_equal(d.pd_action, PA_KEEP);
	assert_non_null(strstr(d.pd_reason, "cooldown"));
	d = decide(&pp, &st, 4, 0, -1, 10000);
	assert_int_equal(d.pd_action, PA_DOWN);
}

static void
min_is_kept_even_with_no_load(void **state)
{
	struct policy_params pp = base;
	struct policy_state st = { 0 };
	struct policy_decision d;

	pp.pp_min = 2;
	d = decide(&pp, &st, 2, 0, -1, 0);
	assert_int_equal(d.pd_action, PA_KEEP);
	d = decide(&pp, &st, 2, 0, -1, 10 * DELAY);
	assert_int_equal(d.pd_action, PA_KEEP);
	assert_int_equal(d.pd_desired, 2);
	/* Below min (a manual scale, then the profile changed): up to min. */
	d = decide(&pp, &st, 1, 0, -1, 11 * DELAY);
	assert_int_equal(d.pd_action, PA_UP);
	assert_int_equal(d.pd_desired, 2);
}

static void
zero_instances_scale_up_from_the_backlog(void **state)
{
	struct policy_params pp = base;
	struct policy_state st = { 0 };
	struct policy_decision d;

	pp.pp_min = 0;
	d = decide(&pp, &st, 0, 250, -1, 0);
	assert_int_equal(d.pd_action, PA_UP);
	assert_int_equal(d.pd_desired, 3);
	d = decide(&pp, &st, 0, 0, -1, 1);
	assert_int_equal(d.pd_action, PA_KEEP);
}

static void
ingest_time_above_the_maximum_scales_up(void **state)
{
	struct policy_params pp = base;
	struct policy_state st = { 0 };
	struct policy_decision d;

	pp.pp_target_backlog = 0;
	pp.pp_max_ingest_us = 5000;
	/* 12 ms for a maximum of 5: ceil(2 * 2.4) = 5. */
	d = decide(&pp, &st, 2, 0, 12000, 0);
	assert_int_equal(d.pd_action, PA_UP);
	assert_int_equal(d.pd_desired, 5);
	assert_non_null(strstr(d.pd_reason, "ingest time 12.00ms/message"));
	/* Within the tolerance: nothing. */
	d = decide(&pp, &st, 2, 0, 5400, 1);
	assert_int_equal(d.pd_action, PA_KEEP);
	/* No reports: the metric says nothing. */
	d = decide(&pp, &st, 2, 0, -1, 2);
	assert_int_equal(d.pd_action, PA_KEEP);
	assert_non_null(strstr(d.pd_reason, "no metric"));
}

static void
highest_metric_wins(void **state)
{
	struct policy_params pp = base;
	struct policy_state st = { 0 };
	struct policy_decision d;

	pp.pp_max_ingest_us = 5000;
	/* Backlog asks 3, ingest time asks ceil(2 * 3) = 6. */
	d = decide(&pp, &st, 2, 300, 15000, 0);
	assert_int_equal(d.pd_desired, 6);
	assert_non_null(strstr(d.pd_reason, "ingest time"));
	/* Backlog asks 7, ingest time within tolerance: 7. */
	d = decide(&pp, &st, 2, 700, 5000, 1);
	assert_int_equal(d.pd_desired, 7);
	assert_non_null(strstr(d.pd_reason, "unacked 700"));
}

/*
 * Runs ticks of a load that alternates between high and low every few
 * seconds (shorter than the delay), applying each decision as streammgr
 * would. Returns the number of changes.
 */
static int
changes_under(const struct policy_params *pp, int64_t high, int64_t low,
    int period_ticks, int ticks)
{
	struct policy_state st = { 0 };
	int current = pp->pp_min, changes = 0;

	for (int k = 0; k < ticks; k++) {
		uint64_t now = (uint64_t)k * 200;
		int64_t backlog = (k / period_ticks) % 2 ? low : high;
		struct policy_decision d = decide(pp, &st, current, backlog, -1,
		    now);

		if (d.pd_action == PA_KEEP)
			continue;
		current = d.pd_desired;
		policy_changed(&st, now);
		changes++;
	}
	return changes;
}

static void
no_flapping_under_oscillating_load(void **state)
{
	struct policy_params pp = base;

	/* Around the threshold, within the tolerance: up once, then never. */
	pp.pp_min = 4;
	assert_int_equal(changes_under(&pp, 430, 370, 3, 1000), 0);
	/* Busy 2 s, idle 2 s, for 200 s: up once, never down. */
	pp.pp_min = 1;
	assert_int_equal(changes_under(&pp, 800, 0, 10, 1000), 1);
	/* Busy and idle each longer than the delay: down, and up again. */
	assert_int_equal(changes_under(&pp, 800, 0, 200, 1000), 5);
}

static void
params_come_from_the_profile(void **state)
{
	struct conf_stream c;
	struct policy_params pp;

	memset(&c, 0, sizeof(c));
	c.s_instances.i_min = 2;
	c.s_instances.i_max = 9;
	c.s_scaling.sc_enabled = true;
	c.s_scaling.sc_target_backlog = 250;
	c.s_scaling.sc_max_ingest_time_ms = 20;
	c.s_scaling.sc_tolerance_pct = 15;
	c.s_scaling.sc_scale_down_delay_ms = 60000;
	c.s_scaling.sc_cooldown_ms = 3000;
	policy_params_from_conf(&c, &pp);
	assert_int_equal(pp.pp_min, 2);
	assert_int_equal(pp.pp_max, 9);
	assert_int_equal(pp.pp_target_backlog, 250);
	assert_true(pp.pp_max_ingest_us == 20000.0);
	assert_int_equal(pp.pp_tolerance_pct, 15);
	assert_int_equal(pp.pp_down_delay_ms, 60000);
	assert_int_equal(pp.pp_cooldown_ms, 3000);
}

/*
 * The count changed by someone else (an operator's scale, a reload's
 * new max) while the scale-down delay ran: the window starts over from
 * the new count, and a scale-down is never to more than the count.
 */
static void
a_count_changed_elsewhere_restarts_the_delay(void **state)
{
	struct policy_state st = { 0 };
	struct policy_decision d;

	(void)state;
	/* 250 for 4: 3 would do; the delay starts. */
	d = decide(&base, &st, 4, 250, -1, 1000);
	assert_int_equal(d.pd_action, PA_KEEP);
	/* An operator scales to 2; no load. */
	d = decide(&base, &st, 2, 0, -1, 2000);
	assert_int_equal(d.pd_action, PA_KEEP);
	d = decide(&base, &st, 2, 0, -1, 1000 + DELAY + 1);
	assert_int_equal(d.pd_action, PA_KEEP);	/* its own delay runs */
	d = decide(&base, &st, 2, 0, -1, 2000 + DELAY + 1);
	assert_int_equal(d.pd_action, PA_DOWN);
	assert_int_equal(d.pd_desired, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(within_tolerance_keeps_the_count),
		cmocka_unit_test(backlog_step_scales_up_at_once_and_clamps_to_max),
		cmocka_unit_test(scale_down_waits_for_the_delay),
		cmocka_unit_test(
		    scale_down_takes_the_highest_recommendation_of_the_window),
		cmocka_unit_test(a_busy_moment_restarts_the_delay),
		cmocka_unit_test(a_count_changed_elsewhere_restarts_the_delay),
		cmocka_unit_test(cooldown_holds_changes_after_one),
		cmocka_unit_test(cooldown_also_holds_a_due_scale_down),
		cmocka_unit_test(min_is_kept_even_with_no_load),
		cmocka_unit_test(zero_instances_scale_up_from_the_backlog),
		cmocka_unit_test(ingest_time_above_the_maximum_scales_up),
		cmocka_unit_test(highest_metric_wins),
		cmocka_unit_test(no_flapping_under_oscillating_load),
		cmocka_unit_test(params_come_from_the_profile),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
