#include "sshjail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define JAIL_FILES_MAX	64

struct sshjail_file {
	char	*f_host;
	char	*f_jail;
};

struct sshjail {
	struct sshjail_file	j_files[JAIL_FILES_MAX];
	size_t			j_count;
};

struct sshjail *
sshjail_new(void)
{
	return calloc(1, sizeof(struct sshjail));
}

void
sshjail_free(struct sshjail *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->j_count; i++) {
		free(j->j_files[i].f_host);
		free(j->j_files[i].f_jail);
	}
	free(j);
}

static int
add_file(struct sshjail *j, const char *host, const char *jail, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < j->j_count; i++)
		if (strcmp(j->j_files[i].f_jail, jail) == 0)
			return 0;
	if (jail[0] != '/' || strstr(jail, "/..") != NULL) {
		snprintf(err, errlen, "%s: not an absolute path", jail);
		return -1;
	}
	if (j->j_count == JAIL_FILES_MAX) {
		snprintf(err, errlen, "more than %d files", JAIL_FILES_MAX);
		return -1;
	}
	j->j_files[j->j_count].f_host = strdup(host);
	j->j_files[j->j_count].f_jail = strdup(jail);
	if (!j->j_files[j->j_count].f_host || !j->j_files[j->j_count].f_jail) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	j->j_count++;
	return 0;
}

/* ldd(1)'s list of what prog loads, read into buf. */
static int
run_ldd(const char *prog, char *buf, size_t len, char *err, size_t errlen)
{
	size_t got = 0;
	int fds[2], status = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) < 0) {
		snprintf(err, errlen, "ldd: pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "ldd: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		execlp("ldd", "ldd", prog, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (got < len - 1 && (n = read(fds[0], buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	buf[got] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == len - 1) {
		snprintf(err, errlen, "%s: ldd lists more than %zu bytes", prog,
		    len - 1);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		snprintf(err, errlen, "ldd: not found (Debian's libc-bin)");
		return -1;
	}
	/* A static program makes ldd exit 1: it loads nothing. */
	if (strstr(buf, "not found") != NULL) {
		snprintf(err, errlen, "%s: a library is not found (ldd)", prog);
		return -1;
	}
	return 0;
}

/*
 * The path on each line of ldd's list: "name => /path (0x...)" or
 * "/path (0x...)" (the loader); lines without one (the vDSO, "statically
 * linked") are skipped.
 */
static int
add_libs(struct sshjail *j, const char *prog, char *err, size_t errlen)
{
	char buf[16384];

	if (run_ldd(prog, buf, sizeof(buf), err, errlen) < 0)
		return -1;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *path = strstr(line, "=> "), *end;

		path = path ? path + 3 : line + strspn(line, " \t");
		if (*path != '/')
			continue;
		if ((end = strstr(path, " (")) != NULL)
			*end = '\0';
		if (add_file(j, path, path, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int
sshjail_add(struct sshjail *j, const char *host, const char *jail,
    bool libs, char *err, size_t errlen)
{
	if (access(host, X_OK) < 0) {
		snprintf(err, errlen, "%s: %s", host, strerror(errno));
		return -1;
	}
	if (add_file(j, host, jail, err, errlen) < 0)
		return -1;
	return libs ? add_libs(j, host, err, errlen) : 0;
}

/* buf = a then b; -1 with err set when that does not fit. */
static int
join(char *buf, const char *a, const char *b, char *err, size_t errlen)
{
	if (snprintf(buf, PATH_MAX, "%s%s", a, b) < PATH_MAX)
		return 0;
	snprintf(err, errlen, "%s...: path too long", a);
	return -1;
}

/* Makes the folders of path's parent below top, each root's and 0755. */
static int
make_parents(const char *top, const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	size_t toplen = strlen(top);
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + toplen + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(dir, 0755) == 0 && chmod(dir, 0755) < 0) {
			snprintf(err, errlen, "chmod %s: %s", dir,
			    strerror(errno));
			return -1;
		}
		if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != 0 || (st.st_mode & 022) != 0) {
			snprintf(err, errlen, "%s: not a folder of root's that "
			    "only root may write", dir);
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* Copies from into a new file to (replaced), mode 0755, with from's mtime. */
static int
copy_file(const char *from, const char *to, char *err, size_t errlen)
{
	char tmp[PATH_MAX], buf[65536];
	int in, out = -1, rc = -1;
	struct timespec times[2];
	struct stat st;
	ssize_t n;

	if (join(tmp, to, ".mysimbdp-new", err, errlen) < 0)
		return -1;
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &st) < 0)
		goto fail;
	unlink(tmp);
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700)) < 0)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto fail;
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	if (n < 0 || fchmod(out, 0755) < 0 || futimens(out, times) < 0 ||
	    fsync(out) < 0 || close(out) < 0) {
		out = -1;
		goto fail;
	}
	out = -1;
	if (rename(tmp, to) < 0)
		goto fail;
	rc = 0;
fail:
	if (rc < 0) {
		snprintf(err, errlen, "copy %s to %s: %s", from, to,
		    strerror(errno));
		unlink(tmp);
	}
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	return rc;
}

int
sshjail_stock(const struct sshjail *j, const char *stock, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < j->j_count; i++) {
		const struct sshjail_file *f = &j->j_files[i];
		char path[PATH_MAX];
		struct stat host, have;

		if (join(path, stock, f->f_jail, err, errlen) < 0)
			return -1;
		if (stat(f->f_host, &host) < 0) {
			snprintf(err, errlen, "%s: %s", f->f_host,
			    strerror(errno));
			return -1;
		}
		if (lstat(path, &have) == 0 && S_ISREG(have.st_mode) &&
		    have.st_size == host.st_size &&
		    have.st_mtim.tv_sec == host.st_mtim.tv_sec &&
		    have.st_mtim.tv_nsec == host.st_mtim.tv_nsec)
			continue;
		if (make_parents(stock, path, err, errlen) < 0 ||
		    copy_file(f->f_host, path, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Puts stock's file at path: a hard link, or a copy across file systems. */
static int
link_file(const char *from, const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	struct stat want, have;

	if (stat(from, &want) < 0) {
		snprintf(err, errlen, "%s: %s", from, strerror(errno));
		return -1;
	}
	if (lstat(path, &have) == 0 && have.st_dev == want.st_dev &&
	    have.st_ino == want.st_ino)
		return 0;
	if (join(tmp, path, ".mysimbdp-new", err, errlen) < 0)
		return -1;
	unlink(tmp);
	if (link(from, tmp) == 0) {
		if (rename(tmp, path) == 0)
			return 0;
		snprintf(err, errlen, "rename %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (errno != EXDEV) {
		snprintf(err, errlen, "link %s to %s: %s", from, tmp,
		    strerror(errno));
		return -1;
	}
	return copy_file(from, path, err, errlen);
}

/*
 * root/dev/null, which sftp-server opens before anything else (OpenSSH's
 * sanitise_stdfd): a device node, so it fails on a file system mounted
 * nodev, said here rather than by every sftp session.
 */
static int
make_devnull(const char *root, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int fd;

	if (join(path, root, "/dev/null", err, errlen) < 0 ||
	    join(tmp, path, ".mysimbdp-new", err, errlen) < 0 ||
	    make_parents(root, path, err, errlen) < 0)
		return -1;
	if (lstat(path, &st) < 0 || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != makedev(1, 3) || (st.st_mode & 07777) != 0666) {
		unlink(tmp);
		if (mknod(tmp, S_IFCHR | 0666, makedev(1, 3)) < 0 ||
		    chmod(tmp, 0666) < 0 || rename(tmp, path) < 0) {
			snprintf(err, errlen, "mknod %s: %s", path,
			    strerror(errno));
			unlink(tmp);
			return -1;
		}
	}
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s (a file system mounted nodev?)",
		    path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int
sshjail_fill(const struct sshjail *j, const char *stock, const char *root,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < j->j_count; i++) {
		char from[PATH_MAX], path[PATH_MAX];

		if (join(from, stock, j->j_files[i].f_jail, err, errlen) < 0 ||
		    join(path, root, j->j_files[i].f_jail, err, errlen) < 0 ||
		    make_parents(root, path, err, errlen) < 0 ||
		    link_file(from, path, err, errlen) < 0)
			return -1;
	}
	return make_devnull(root, err, errlen);
}

/* Writes text into path (replaced), root's, mode 0644. */
static int
write_text(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd;

	if (join(tmp, path, ".mysimbdp-new", err, errlen) < 0)
		return -1;
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
	    write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0 ||
	    close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
sshjail_user(const char *root, const char *user, char *err, size_t errlen)
{
	const struct passwd *pw = getpwnam(user);
	const struct group *gr;
	char path[PATH_MAX], text[512];

	if (pw == NULL) {
		snprintf(err, errlen, "user %s: no such user", user);
		return -1;
	}
	/* Programs ask only for the user's own entry and group's. */
	snprintf(text, sizeof(text), "%s:x:%u:%u::/incoming:%s\n", pw->pw_name,
	    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, pw->pw_shell);
	if (join(path, root, "/etc/passwd", err, errlen) < 0 ||
	    make_parents(root, path, err, errlen) < 0 ||
	    write_text(path, text, err, errlen) < 0)
		return -1;
	gr = getgrgid(pw->pw_gid);
	snprintf(text, sizeof(text), "%s:x:%u:\n", gr ? gr->gr_name : user,
	    (unsigned)pw->pw_gid);
	if (join(path, root, "/etc/group", err, errlen) < 0)
		return -1;
	return write_text(path, text, err, errlen);
}
