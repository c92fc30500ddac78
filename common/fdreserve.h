#ifndef FDRESERVE_H
#define FDRESERVE_H

/*
 * A descriptor held in reserve for accept() at the process's limit: see
 * fdreserve.c. Called once at start-up, before any thread.
 */
void fdreserve_init(void);

#endif
