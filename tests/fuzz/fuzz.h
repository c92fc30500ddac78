/*
 * What the libFuzzer targets in tests/fuzz share: the entry point
 * libFuzzer calls, invariant checks that abort with a message (libFuzzer
 * keeps the input as a crash file), a private temporary folder, and
 * inputs split into frames.
 */
#ifndef MYSIMBDP_FUZZ_H
#define MYSIMBDP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer calls this once per input; it returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Checks an invariant: when cond is false, prints where and what and
 * aborts, which libFuzzer reports as a crash with the input saved.
 */
#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

__attribute__((__noreturn__, __format__(__printf__, 4, 5)))
void fuzz_fail(const char *file, int line, const char *cond,
    const char *fmt, ...);

/*
 * A folder of this process under $TMPDIR (made on the first call, removed
 * with what is in it at exit). Returns its path.
 */
const char *fuzz_tmpdir(void);

/* Writes len bytes to path (created or replaced); aborts on failure. */
void fuzz_write_file(const char *path, const void *data, size_t len);

/* Removes every file in dir (not dir itself); aborts on failure. */
void fuzz_empty_dir(const char *dir);

/* Whether len bytes at s are UTF-8 with no NUL and no control character. */
bool fuzz_printable_utf8(const char *s, size_t len);

#define FUZZ_FRAMES_MAX 8

/* An input split into ZeroMQ-like frames. */
struct fuzz_frames {
	int		 n;
	const uint8_t	*data[FUZZ_FRAMES_MAX];
	size_t		 len[FUZZ_FRAMES_MAX];
};

/*
 * Splits an input into frames: its first byte (mod FUZZ_FRAMES_MAX, plus
 * one) is the number of frames; each frame but the last is a length byte
 * and that many bytes, the last frame is what remains. A short input
 * gives fewer frames.
 */
void fuzz_split_frames(const uint8_t *data, size_t size,
    struct fuzz_frames *f);

#endif
