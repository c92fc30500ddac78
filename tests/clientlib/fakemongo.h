/*
 * A stand-in MongoDB server for the sink tests, for machines without one:
 * it speaks enough of the wire protocol (the OP_QUERY handshake, OP_MSG
 * commands) for libmongoc to connect and run insert commands, keeps the
 * _ids it was sent, answers a second insert of an _id with a duplicate-key
 * error (11000) as mongod does, and can be told to fail in the ways the
 * sink must tell apart. It is not a database: only "insert" does anything.
 */
#ifndef MSB_TEST_FAKEMONGO_H
#define MSB_TEST_FAKEMONGO_H

#include <stdbool.h>
#include <stddef.h>

struct fakemongo;

/* Listens on 127.0.0.1 (a free port) and serves in a thread. */
struct fakemongo *fake_start(void);
void	 fake_stop(struct fakemongo *fm);
int	 fake_port(const struct fakemongo *fm);

/* Every document of later inserts fails with this write error (0: off). */
void	 fake_set_write_error(struct fakemongo *fm, int code);
/* Later inserts succeed but report this write concern error (0: off). */
void	 fake_set_wc_error(struct fakemongo *fm, int code);
/* Later inserts get the connection closed instead of a reply. */
void	 fake_set_hangup(struct fakemongo *fm, bool on);

size_t	 fake_count(struct fakemongo *fm);	/* distinct _ids stored */
int	 fake_inserts(struct fakemongo *fm);	/* insert commands seen */
/* The writeConcern of the last insert as JSON ("" if none). */
void	 fake_last_wc(struct fakemongo *fm, char *buf, size_t len);

#endif
