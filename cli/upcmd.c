#include "upcmd.h"

#include <stdbool.h>
#include <string.h>

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

int
upcmd_split(const char *cmd, char **words, size_t max, char *buf,
    size_t buflen, const char **why)
{
	const char *p = cmd;
	char *out = buf;
	size_t n = 0;

	if (max == 0 || buflen <= strlen(cmd)) {
		*why = "the command is too long";
		return -1;
	}
	for (;;) {
		while (blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (n + 1 >= max) {
			*why = "too many words";
			return -1;
		}
		words[n++] = out;
		while (*p != '\0' && !blank(*p)) {
			char q = *p++;

			if (q == '\\') {
				if (*p != '\0')
					*out++ = *p++;
			} else if (q == '\'') {
				while (*p != '\0' && *p != '\'')
					*out++ = *p++;
				if (*p++ != '\'')
					goto unbalanced;
			} else if (q == '"') {
				while (*p != '\0' && *p != '"') {
					if (*p == '\\' && p[1] != '\0' &&
					    strchr("\\\"$`", p[1]) != NULL)
						p++;
					*out++ = *p++;
				}
				if (*p++ != '"')
					goto unbalanced;
			} else
				*out++ = q;
		}
		*out++ = '\0';
	}
	words[n] = NULL;
	return (int)n;
unbalanced:
	*why = "unbalanced quotes";
	return -1;
}

static const char *
base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Options that turn rsync's server side into something else. */
static bool
forbidden_rsync_option(const char *w)
{
	static const char *const bad[] = {
		"--daemon", "--config", "--log-file", "--write-devices",
		"--copy-devices",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);

		if (strncmp(w, bad[i], len) == 0 &&
		    (w[len] == '\0' || w[len] == '=' || w[len] == '-'))
			return true;
	}
	return false;
}

enum upcmd_kind
upcmd_judge(char *const *words, const char **why)
{
	const char *prog = words[0] ? base(words[0]) : "";

	if (strcmp(words[0] ? words[0] : "", "internal-sftp") == 0 ||
	    strcmp(prog, "sftp-server") == 0)
		return UPCMD_SFTP;
	if (strcmp(prog, "rsync") != 0) {
		*why = "only sftp, scp and rsync uploads are served here";
		return UPCMD_REFUSED;
	}
	if (words[1] == NULL || strcmp(words[1], "--server") != 0) {
		*why = "rsync runs here only as the server of a transfer";
		return UPCMD_REFUSED;
	}
	for (size_t i = 2; words[i] != NULL; i++)
		if (forbidden_rsync_option(words[i])) {
			*why = "an rsync option not served here";
			return UPCMD_REFUSED;
		}
	return UPCMD_RSYNC;
}
