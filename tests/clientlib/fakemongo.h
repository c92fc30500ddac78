/*
 * A stand-in MongoDB server for the sink tests, for machines without one:
 * it speaks enough of the wire protocol (the OP_QUERY handshake, OP_MSG
 * commands) for libmongoc to connect and run insert and update commands,
 * keeps the documents it was sent by _id, answers a second insert of an
 * _id with a duplicate-key error (11000) as mongod does, replaces (or
 * with upsert stores) the document of an update by _id, and can be told
 * to fail in the ways the sink must tell apart. It is not a database:
 * only "insert" and "update" (whole replacements by _id) do anything,
 * and "listIndexes" answers (see fake_set_dup_unnamed).
 */
#ifndef MSB_TEST_FAKEMONGO_H
#define MSB_TEST_FAKEMONGO_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

struct fakemongo;

/* Listens on 127.0.0.1 (a free port) and serves in a thread. */
struct fakemongo *fake_start(void);
void	 fake_stop(struct fakemongo *fm);
int	 fake_port(const struct fakemongo *fm);

/* Every document of later inserts and updates fails with this write
 * error (0: off). */
void	 fake_set_write_error(struct fakemongo *fm, int code);
/* Later inserts and updates of a document that has this top-level field
 * fail with 121 (DocumentValidationFailure), as a validator would refuse
 * them; the others are written ("": off). */
void	 fake_set_refuse(struct fakemongo *fm, const char *field);
/* The unique index a forced 11000 names ("_id", the default, or another
 * field); a second insert of an _id always names "_id". */
void	 fake_set_dup_key(struct fakemongo *fm, const char *key);
/* A forced 11000 names no index (no keyPattern, "E11000 duplicate key
 * error collection: acme.listings"), as FerretDB v1 answers; listIndexes
 * lists _id's index and, when dup_key is another field, a unique one on
 * it. */
void	 fake_set_dup_unnamed(struct fakemongo *fm, bool on);
/* Later writes succeed but report this write concern error (0: off). */
void	 fake_set_wc_error(struct fakemongo *fm, int code);
/* Later writes get the connection closed instead of a reply. */
void	 fake_set_hangup(struct fakemongo *fm, bool on);
/* Later writes get no reply, and the connection is kept open: a server
 * that accepted and then stopped answering. */
void	 fake_set_silent(struct fakemongo *fm, bool on);

size_t	 fake_count(struct fakemongo *fm);	/* distinct _ids stored */
int	 fake_inserts(struct fakemongo *fm);	/* insert commands seen */
int	 fake_updates(struct fakemongo *fm);	/* update commands seen */
/*
 * A copy of the document stored under id (bson_destroy it), or NULL. id
 * is "s:<string>", "i:<integer>" or "o:<24 hex>".
 */
bson_t	*fake_find(struct fakemongo *fm, const char *id);
/* The writeConcern of the last insert as JSON ("" if none). */
void	 fake_last_wc(struct fakemongo *fm, char *buf, size_t len);

#endif
