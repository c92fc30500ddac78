/* A table of pointers by 32-bit id (idtab.h). */
#include "idtab.h"

#include <errno.h>
#include <stdlib.h>

static size_t
home(const struct idtab *t, uint32_t id)
{
	/* Fibonacci hashing, the product's top bits: consecutive ids
	 * spread over the table. */
	return (size_t)((uint32_t)(id * 2654435769u) >>
	    (32 - __builtin_ctzl(t->t_cap)));
}

static void
place(struct idtab *t, uint32_t id, void *p)
{
	size_t k;

	for (k = home(t, id); t->t_slots[k].p != NULL; k = (k + 1) &
	    (t->t_cap - 1))
		;
	t->t_slots[k] = (struct idtab_slot){ id, p };
}

int
idtab_put(struct idtab *t, uint32_t id, void *p)
{
	if ((t->t_n + 1) * 2 > t->t_cap) {
		struct idtab old = *t;
		size_t cap = t->t_cap ? t->t_cap * 2 : 16;

		if ((t->t_slots = calloc(cap, sizeof(*t->t_slots))) == NULL) {
			*t = old;
			errno = ENOMEM;
			return -1;
		}
		t->t_cap = cap;
		for (size_t k = 0; k < old.t_cap; k++)
			if (old.t_slots[k].p != NULL)
				place(t, old.t_slots[k].id, old.t_slots[k].p);
		free(old.t_slots);
	}
	place(t, id, p);
	t->t_n++;
	return 0;
}

/* The slot of id, or t_cap. */
static size_t
find(const struct idtab *t, uint32_t id)
{
	if (t->t_cap == 0)
		return 0;
	for (size_t k = home(t, id);; k = (k + 1) & (t->t_cap - 1)) {
		if (t->t_slots[k].p == NULL)
			return t->t_cap;
		if (t->t_slots[k].id == id)
			return k;
	}
}

void *
idtab_get(const struct idtab *t, uint32_t id)
{
	size_t k = find(t, id);

	return k < t->t_cap ? t->t_slots[k].p : NULL;
}

void *
idtab_del(struct idtab *t, uint32_t id)
{
	size_t mask = t->t_cap - 1, k = find(t, id), j;
	void *p;

	if (k >= t->t_cap)
		return NULL;
	p = t->t_slots[k].p;
	/* Backward shift: each later entry of the run whose home is not
	 * between the hole and it moves into the hole, which moves on. */
	for (j = (k + 1) & mask; t->t_slots[j].p != NULL; j = (j + 1) & mask)
		if (((j - home(t, t->t_slots[j].id)) & mask) >= ((j - k) &
		    mask)) {
			t->t_slots[k] = t->t_slots[j];
			k = j;
		}
	t->t_slots[k].p = NULL;
	t->t_n--;
	return p;
}

void
idtab_each(const struct idtab *t, void (*fn)(void *))
{
	for (size_t k = 0; k < t->t_cap; k++)
		if (t->t_slots[k].p != NULL)
			fn(t->t_slots[k].p);
}

void
idtab_free(struct idtab *t)
{
	free(t->t_slots);
	*t = (struct idtab){ 0 };
}
