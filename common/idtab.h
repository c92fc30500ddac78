/*
 * A table of pointers by 32-bit id: open addressing with linear probing,
 * at most half full, deletion by backward shift (no tombstones, so a
 * table of connections that come and go never needs rebuilding).
 * streammgr's zrouter.c finds its connections by routing id with it,
 * batchmgr its inotify watches by descriptor.
 */
#ifndef IDTAB_H
#define IDTAB_H

#include <stddef.h>
#include <stdint.h>

struct idtab {
	struct idtab_slot {
		uint32_t	 id;
		void		*p;	/* NULL: empty */
	}		*t_slots;
	size_t		 t_cap;		/* a power of two, or 0 */
	size_t		 t_n;
};

/* Adds p (not NULL) under id, which is not in t. Returns 0, or -1 (ENOMEM). */
int	 idtab_put(struct idtab *t, uint32_t id, void *p);

/* What id is under, or NULL. */
void	*idtab_get(const struct idtab *t, uint32_t id);

/* Removes id if it is there; returns what was under it, or NULL. */
void	*idtab_del(struct idtab *t, uint32_t id);

/* Calls fn with each pointer, in no order; fn must not change t. */
void	 idtab_each(const struct idtab *t, void (*fn)(void *));

void	 idtab_free(struct idtab *t);

#endif
