/*
 * The programs the upload shell runs, inside a tenant's staging folder
 * (`mysimbdp sshd-jail`, docs/deployment.md, "Uploads over SSH"): sshd
 * chroots the tenant's user there, so each program and every shared
 * library it loads must be there too, at the path the dynamic loader
 * looks for it.
 *
 * A jail is a list of files, each a host path and its path inside the
 * jail. They are first copied into a stock folder of the platform's
 * (refreshed when the host's file changes, e.g. after a package
 * upgrade), then hard-linked from there into each tenant's staging
 * folder (copied when that is another file system), so a thousand
 * tenants cost one copy. Folders and files are root's, mode 0755. Each
 * jail also gets dev/null, which sftp-server needs, and the tenant
 * user's passwd entry (sshjail_user).
 */
#ifndef MYSIMBDP_SSHJAIL_H
#define MYSIMBDP_SSHJAIL_H

#include <stdbool.h>
#include <stddef.h>

struct sshjail;

struct sshjail *sshjail_new(void);
void sshjail_free(struct sshjail *);

/*
 * Adds host's file at path jail (absolute) and, with libs, the shared
 * libraries it loads (as ldd(1) lists them) at their own paths. Returns
 * 0, or -1 with err set.
 */
int sshjail_add(struct sshjail *, const char *host, const char *jail,
    bool libs, char *err, size_t errlen);

/* Copies what changed on the host into stock. Returns 0, or -1 with err. */
int sshjail_stock(const struct sshjail *, const char *stock, char *err,
    size_t errlen);

/*
 * Links stock's files into root (made by sshjail_stock), replacing what
 * is not them, and makes root/dev/null. A folder on the way that is not a folder of root's is an
 * error. Returns 0, or -1 with err set.
 */
int sshjail_fill(const struct sshjail *, const char *stock, const char *root,
    char *err, size_t errlen);

/*
 * Gives root an etc/passwd and etc/group with user's entry and group's
 * only (sftp-server looks its user up, and stops without one). Returns
 * 0, or -1 with err set.
 */
int sshjail_user(const char *root, const char *user, char *err,
    size_t errlen);

#endif
