#include "shipstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROTATED_MAX 100		/* monitor.logs.backups' upper bound */

int
shipstate_read(const char *path, struct ship_mark *marks, int n)
{
	FILE *f = fopen(path, "re");
	char name[SHIP_LOG_NAME_MAX];
	unsigned long long ino, off, base;
	int k = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while (k < n && fscanf(f, "%15s %llu %llu %llu", name, &ino, &off,
	    &base) == 4) {
		snprintf(marks[k].sm_log, sizeof(marks[k].sm_log), "%s", name);
		marks[k].sm_ino = (ino_t)ino;
		marks[k].sm_off = off;
		marks[k].sm_base = base;
		k++;
	}
	fclose(f);
	return k;
}

int
shipstate_write(const char *path, const struct ship_mark *marks, int n)
{
	char tmp[4096];
	FILE *f;
	int saved;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((f = fopen(tmp, "we")) == NULL)
		return -1;
	for (int k = 0; k < n; k++)
		fprintf(f, "%s %llu %llu %llu\n", marks[k].sm_log,
		    (unsigned long long)marks[k].sm_ino,
		    (unsigned long long)marks[k].sm_off,
		    (unsigned long long)marks[k].sm_base);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		saved = errno;
		fclose(f);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

char *
shipstate_path(const char *path, int k)
{
	char *p;

	if ((k == 0 ? asprintf(&p, "%s", path) : asprintf(&p, "%s.%d", path,
	    k)) < 0)
		return NULL;
	return p;
}

int
shipstate_index(const char *path, ino_t ino, int *oldest)
{
	struct stat st;
	int found = -1;
	char *p;

	*oldest = 0;
	for (int k = 0; k <= ROTATED_MAX; k++) {
		if ((p = shipstate_path(path, k)) == NULL)
			break;
		if (stat(p, &st) != 0) {
			free(p);
			if (k > 0)
				break;	/* rotated files are numbered 1.. */
			continue;
		}
		free(p);
		if (k > 0)
			*oldest = k;
		if (st.st_ino == ino && found < 0)
			found = k;
	}
	return found;
}

uint64_t
shipstate_backlog(const char *path, const struct ship_mark *mark)
{
	struct stat cur, old;
	uint64_t behind = 0;
	char *p;

	if (stat(path, &cur) != 0)
		cur.st_size = 0, cur.st_ino = 0;
	if (mark->sm_ino == 0 || mark->sm_ino == cur.st_ino)
		return (uint64_t)cur.st_size > mark->sm_off ?
		    (uint64_t)cur.st_size - mark->sm_off : 0;
	/* Rotated since: the rest of mark's file, and all that came after
	 * (the files between are counted whole). */
	for (int k = 1; k <= ROTATED_MAX; k++) {
		if (asprintf(&p, "%s.%d", path, k) < 0)
			break;
		if (stat(p, &old) != 0) {
			free(p);
			break;
		}
		free(p);
		if (old.st_ino == mark->sm_ino) {
			behind += (uint64_t)old.st_size > mark->sm_off ?
			    (uint64_t)old.st_size - mark->sm_off : 0;
			return behind + (uint64_t)cur.st_size;
		}
		behind += (uint64_t)old.st_size;
	}
	/* Its file is gone: what is there now is all behind. */
	return behind + (uint64_t)cur.st_size;
}
