/*
 * SHA-256 against the FIPS 180-4 vectors and coreutils' sha256sum, file
 * hashes, and the deterministic document ids built from them. The
 * vectors and boundaries run twice: through the CPU's SHA extensions
 * where it has them, and through the portable code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdbool.h>

#include <mysimbdp.h>

/* clientlib/mysimbdp-internal.h: the portable code alone, or not. */
void msb__sha256_portable(bool on);

#include "util.h"

static void
expect_sha256(const void *data, size_t len, const char *want)
{
	char hex[MSB_HASH_HEX_SIZE];

	msb_sha256_hex(data, len, hex);
	assert_string_equal(hex, want);
}

static int
portable_on(void **state)
{
	(void)state;
	msb__sha256_portable(true);
	return 0;
}

static int
portable_off(void **state)
{
	(void)state;
	msb__sha256_portable(false);
	return 0;
}

/* Every length up to 2,000 bytes of varied data, in one piece: the same
 * digest through both paths. */
static void
both_paths_agree(void **state)
{
	unsigned char data[2000];
	uint32_t x = 2463534242u;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	for (size_t len = 0; len <= sizeof(data); len++) {
		char a[MSB_HASH_HEX_SIZE], b[MSB_HASH_HEX_SIZE];

		msb_sha256_hex(data, len, a);
		msb__sha256_portable(true);
		msb_sha256_hex(data, len, b);
		msb__sha256_portable(false);
		if (strcmp(a, b) != 0)
			fail_msg("length %zu: %s by default, %s portable", len,
			    a, b);
	}
}

static void
known_vectors(void **state)
{
	char *million = malloc(1000000);

	expect_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	expect_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	expect_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1");
	expect_sha256("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	memset(million, 'a', 1000000);
	expect_sha256(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/*
 * Every length around the block and padding boundaries, hashed in one
 * piece and as a file (read in pieces), against sha256sum.
 */
static void
boundaries_against_sha256sum(void **state)
{
	char *dir = tu_mkdtemp("hash"), *path = tu_join(dir, "data");
	unsigned char data[300];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= 200; len += (len < 140 ? 1 : 13)) {
		char cmd[512], want[80] = "", hex[MSB_HASH_HEX_SIZE],
		    fhex[MSB_HASH_HEX_SIZE];
		FILE *p;

		tu_write_file(path, (const char *)data, (ssize_t)len);
		snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
		if ((p = popen(cmd, "r")) == NULL)
			fail_msg("popen");
		if (fscanf(p, "%64s", want) != 1)
			fail_msg("sha256sum gave nothing");
		pclose(p);
		msb_sha256_hex(data, len, hex);
		assert_string_equal(hex, want);
		assert_int_equal(msb_file_hash(path, fhex), MSB_OK);
		assert_string_equal(fhex, want);
	}
	tu_rmtree(dir);
	free(path);
	free(dir);
}

static void
missing_file(void **state)
{
	char hex[MSB_HASH_HEX_SIZE];

	errno = 0;
	assert_int_equal(msb_file_hash("/nonexistent/file", hex), MSB_ERROR);
	assert_int_equal(errno, ENOENT);
}

static const char hash[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void
document_ids_are_deterministic(void **state)
{
	char a[MSB_DOC_ID_SIZE], b[MSB_DOC_ID_SIZE];

	assert_ptr_equal(msb_doc_id(a, hash, 7), a);
	assert_string_equal(a, "ba7816bf8f01cfea414140de:7");
	assert_string_equal(msb_doc_id(b, hash, 7), a);
	assert_string_equal(msb_doc_id(b, hash, 8),
	    "ba7816bf8f01cfea414140de:8");
	assert_string_equal(msb_doc_id(b, hash, UINT64_MAX),
	    "ba7816bf8f01cfea414140de:18446744073709551615");
	assert_string_equal(msb_doc_id(b, hash, 0), "ba7816bf8f01cfea414140de:0");
	assert_string_equal(msb_doc_id(b, hash, 1000),
	    "ba7816bf8f01cfea414140de:1000");
	/* Upper-case hex gives the same id. */
	assert_string_equal(msb_doc_id(b, "BA7816BF8F01CFEA414140DE", 7), a);

	errno = 0;
	assert_null(msb_doc_id(b, "ba7816bf", 1));
	assert_int_equal(errno, EINVAL);
	assert_null(msb_doc_id(b, "zz7816bf8f01cfea414140de5dae", 1));
	assert_null(msb_doc_id(b, NULL, 1));
}

static void
append_id_leads_the_document(void **state)
{
	bson_t doc = BSON_INITIALIZER;
	bson_iter_t it;

	assert_int_equal(msb_doc_append_id(&doc, hash, 3), MSB_OK);
	BSON_APPEND_INT32(&doc, "x", 1);
	assert_true(bson_iter_init(&it, &doc));
	assert_true(bson_iter_next(&it));
	assert_string_equal(bson_iter_key(&it), "_id");
	assert_string_equal(bson_iter_utf8(&it, NULL),
	    "ba7816bf8f01cfea414140de:3");
	assert_int_equal(msb_doc_append_id(&doc, "nothex", 3), MSB_ERROR);
	bson_destroy(&doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_vectors),
		cmocka_unit_test(boundaries_against_sha256sum),
		cmocka_unit_test_setup_teardown(known_vectors, portable_on,
		    portable_off),
		cmocka_unit_test_setup_teardown(boundaries_against_sha256sum,
		    portable_on, portable_off),
		cmocka_unit_test(both_paths_agree),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(document_ids_are_deterministic),
		cmocka_unit_test(append_id_leads_the_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
