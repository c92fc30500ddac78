/*
 * <sys/queue.h> plus the iterator glibc's copy lacks: TAILQ_FOREACH_SAFE
 * walks a list while the body may remove the current element.
 */
#ifndef MYSIMBDP_TAILQ_H
#define MYSIMBDP_TAILQ_H

#include <sys/queue.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

#endif
