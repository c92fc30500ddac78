#include "check.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "units.h"

bool
check_name_partial(const char *name)
{
	static const char *const suffixes[] = {
		".part", ".partial", ".tmp", ".filepart", ".crdownload", "~",
	};
	size_t len = strlen(name);

	if (name[0] == '.')
		return true;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && strcasecmp(name + len - sl, suffixes[i]) == 0)
			return true;
	}
	return false;
}

const char *
check_file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "regular file";
	if (S_ISLNK(mode))
		return "symlink";
	if (S_ISDIR(mode))
		return "directory";
	if (S_ISFIFO(mode))
		return "fifo";
	if (S_ISSOCK(mode))
		return "socket";
	if (S_ISCHR(mode))
		return "character device";
	if (S_ISBLK(mode))
		return "block device";
	return "unknown file type";
}

const char *
check_stat(const struct stat *st, const struct conf_batch *b, char *buf,
    size_t len)
{
	char have[32], max[32];

	if (S_ISLNK(st->st_mode)) {
		snprintf(buf, len, "symlink: symbolic links are not accepted");
		return buf;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(buf, len, "not-regular: a %s, not a regular file",
		    check_file_kind(st->st_mode));
		return buf;
	}
	if (st->st_nlink > 1) {
		snprintf(buf, len, "hard-link: the file has %ju links; hard "
		    "links are not accepted", (uintmax_t)st->st_nlink);
		return buf;
	}
	if ((uint64_t)st->st_size > b->b_max_file_size) {
		snprintf(buf, len, "too-large: %s (%jd bytes) exceeds "
		    "max_file_size %s",
		    units_fmt_size((uint64_t)st->st_size, have, sizeof(have)),
		    (intmax_t)st->st_size,
		    units_fmt_size(b->b_max_file_size, max, sizeof(max)));
		return buf;
	}
	return NULL;
}

/* The last '.' of name before end, or NULL (a leading one is no dot). */
static const char *
last_dot(const char *name, const char *end)
{
	const char *dot = NULL;

	for (const char *c = name + 1; c < end; c++)
		if (*c == '.')
			dot = c;
	return dot;
}

const char *
check_format(const char *name, const struct conf_batch *b, char *buf,
    size_t len)
{
	size_t n = strlen(name), extlen;
	const char *end = name + n, *dot;
	size_t off;

	/* An encrypted file is named for its plaintext, plus ".age". */
	if (b->b_encryption.e_enabled) {
		if (n < 5 || strcasecmp(end - 4, ".age") != 0) {
			snprintf(buf, len, "encryption: not named *.age: this "
			    "tenant's files must be encrypted with age "
			    "(batch.encryption)");
			return buf;
		}
		end -= 4;
	}
	dot = last_dot(name, end);
	extlen = dot ? (size_t)(end - dot - 1) : 0;
	if (dot != NULL)
		for (char **f = b->b_formats; *f; f++)
			if (strlen(*f) == extlen &&
			    strncasecmp(dot + 1, *f, extlen) == 0)
				return NULL;
	off = (size_t)snprintf(buf, len, "format: %s%.*s%s not accepted "
	    "(formats:", dot ? "extension \"" : "no extension",
	    (int)extlen, dot ? dot + 1 : "", dot ? "\"" : "");
	for (char **f = b->b_formats; *f && off < len; f++)
		off += (size_t)snprintf(buf + off, len - off, " %s", *f);
	if (off < len)
		snprintf(buf + off, len - off, ")");
	return buf;
}
