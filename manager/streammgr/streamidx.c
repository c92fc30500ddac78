#include "streamidx.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_BUCKETS	64

/* FNV-1a over tid, a NUL, then name: "a"+"bc" and "ab"+"c" differ. */
static uint64_t
key_hash(const char *tid, const char *name)
{
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)tid; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h *= 1099511628211ULL;
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static struct streamidx_entry **
bucket(struct streamidx_entry **buckets, size_t mask, const char *tid,
    const char *name)
{
	return &buckets[key_hash(tid, name) & mask];
}

int
streamidx_init(struct streamidx *x)
{
	x->x_buckets = calloc(FIRST_BUCKETS, sizeof(*x->x_buckets));
	if (x->x_buckets == NULL) {
		errno = ENOMEM;
		return -1;
	}
	x->x_mask = FIRST_BUCKETS - 1;
	x->x_n = 0;
	return 0;
}

void
streamidx_free(struct streamidx *x)
{
	free(x->x_buckets);
	x->x_buckets = NULL;
	x->x_mask = 0;
	x->x_n = 0;
}

/* Doubles the buckets; on a failure keeps the old ones. */
static void
grow(struct streamidx *x)
{
	size_t n = x->x_mask + 1, mask = 2 * n - 1;
	struct streamidx_entry **b, *e, *next;

	if (n > SIZE_MAX / 2 / sizeof(*b) ||
	    (b = calloc(2 * n, sizeof(*b))) == NULL)
		return;
	for (size_t k = 0; k < n; k++)
		for (e = x->x_buckets[k]; e != NULL; e = next) {
			struct streamidx_entry **head = bucket(b, mask,
			    e->e_tid, e->e_name);

			next = e->e_next;
			e->e_next = *head;
			*head = e;
		}
	free(x->x_buckets);
	x->x_buckets = b;
	x->x_mask = mask;
}

void
streamidx_add(struct streamidx *x, struct streamidx_entry *e,
    const char *tid, const char *name, void *item)
{
	struct streamidx_entry **head;

	if (x->x_n > x->x_mask)
		grow(x);
	e->e_tid = tid;
	e->e_name = name;
	e->e_item = item;
	head = bucket(x->x_buckets, x->x_mask, tid, name);
	e->e_next = *head;
	*head = e;
	x->x_n++;
}

void
streamidx_remove(struct streamidx *x, struct streamidx_entry *e)
{
	struct streamidx_entry **p;

	p = bucket(x->x_buckets, x->x_mask, e->e_tid, e->e_name);
	for (; *p != NULL; p = &(*p)->e_next)
		if (*p == e) {
			*p = e->e_next;
			e->e_next = NULL;
			x->x_n--;
			return;
		}
}

void *
streamidx_find(const struct streamidx *x, const char *tid, const char *name)
{
	const struct streamidx_entry *e;

	e = *bucket(x->x_buckets, x->x_mask, tid, name);
	for (; e != NULL; e = e->e_next)
		if (strcmp(e->e_tid, tid) == 0 && strcmp(e->e_name, name) == 0)
			return e->e_item;
	return NULL;
}
