#include "progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "units.h"

void
progress_start(struct progress *p, enum progress_mode mode,
    const char *label, const char *unit, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->p_on = mode == PROGRESS_ON ||
	    (mode == PROGRESS_AUTO && isatty(STDERR_FILENO));
	p->p_label = label;
	p->p_unit = unit;
	p->p_total = total;
	p->p_start_ms = clock_mono_ms();
	p->p_shown_ms = p->p_start_ms;
}

/* "42% 120.0M/285.7M" with a known total, else "120.0M". */
static void
fmt_bytes(const struct progress *p, char *buf, size_t len)
{
	char done[32], total[32];

	units_fmt_size(p->p_bytes, done, sizeof(done));
	if (p->p_total == 0) {
		snprintf(buf, len, "%s", done);
		return;
	}
	snprintf(buf, len, "%d%% %s/%s", p->p_bytes >= p->p_total ? 100 :
	    (int)(p->p_bytes * 100 / p->p_total), done,
	    units_fmt_size(p->p_total, total, sizeof(total)));
}

static void
draw(struct progress *p, int64_t now)
{
	double secs = (double)(now - p->p_start_ms) / 1000.0;
	char bytes[80], line[512];
	int n;

	fmt_bytes(p, bytes, sizeof(bytes));
	n = snprintf(line, sizeof(line), "%s: %s, %" PRIu64 " %s, %.1f %s/s",
	    p->p_label, bytes, p->p_count, p->p_unit, secs > 0 ?
	    (double)p->p_count / secs : 0.0, p->p_unit);
	if (n < 0)
		return;
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	/* Spaces blank out what a longer line before left. */
	fprintf(stderr, "\r%s%*s", line, p->p_width > n ? p->p_width - n : 0,
	    "");
	fflush(stderr);
	p->p_width = n;
	p->p_shown = true;
	p->p_shown_ms = now;
}

void
progress_update(struct progress *p, uint64_t bytes, uint64_t count)
{
	int64_t now;

	p->p_bytes = bytes;
	p->p_count = count;
	if (!p->p_on)
		return;
	now = clock_mono_ms();
	if (now - p->p_shown_ms >= PROGRESS_EVERY_MS)
		draw(p, now);
}

void
progress_break(struct progress *p)
{
	if (!p->p_shown)
		return;
	fputc('\n', stderr);
	p->p_shown = false;
	p->p_width = 0;
}

void
progress_finish(struct progress *p)
{
	if (!p->p_on)
		return;
	draw(p, clock_mono_ms());
	progress_break(p);
}
