/*
 * SHA-256 (FIPS 180-4), self-contained so the library needs no crypto
 * library. It names content, it does not protect secrets: no constant-time
 * care is needed.
 *
 * On x86-64 CPUs with the SHA extensions the blocks go through them (the
 * way libcrypto does, without loading it into every app): a file's hash is
 * a full pass before its first row gets an id, and the portable code runs
 * at about a fifth of their speed (docs/benchmarks.md, "CSV ingestion").
 */
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHANI_CODE 1
#endif

#include "mysimbdp-internal.h"

static const uint32_t k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t
ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void
block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^
		    (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^
		    (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3];
	e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t s1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = hh + s1 + ch + k[i] + w[i];
		uint32_t s0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = s0 + maj;

		hh = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d;
	h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

#ifdef HAVE_SHANI_CODE
/*
 * n blocks through the SHA extensions: four rounds per step, the state
 * kept as ABEF and CDGH as the instructions want it (Intel's "SHA
 * Extensions" paper; the same sequence as libcrypto's and the Linux
 * kernel's).
 */
__attribute__((target("sha,sse4.1")))
static void
blocks_shani(uint32_t h[8], const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL,
	    0x0405060700010203LL);
	__m128i st0, st1, tmp, msg, w[4], abef, cdgh;

	tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xb1);
	st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1b);
	st0 = _mm_alignr_epi8(tmp, st1, 8);		/* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xf0);		/* CDGH */
	for (; n > 0; n--, p += 64) {
		abef = st0;
		cdgh = st1;
		for (int i = 0; i < 16; i++) {
			if (i < 4)
				w[i] = _mm_shuffle_epi8(_mm_loadu_si128(
				    (const __m128i *)(p + 16 * i)), bswap);
			else
				w[i & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(
				    _mm_sha256msg1_epu32(w[i & 3],
				    w[(i - 3) & 3]), _mm_alignr_epi8(
				    w[(i - 1) & 3], w[(i - 2) & 3], 4)),
				    w[(i - 1) & 3]);
			msg = _mm_add_epi32(w[i & 3],
			    _mm_loadu_si128((const __m128i *)&k[4 * i]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
			st0 = _mm_sha256rnds2_epu32(st0, st1,
			    _mm_shuffle_epi32(msg, 0x0e));
		}
		st0 = _mm_add_epi32(st0, abef);
		st1 = _mm_add_epi32(st1, cdgh);
	}
	tmp = _mm_shuffle_epi32(st0, 0x1b);
	st1 = _mm_shuffle_epi32(st1, 0xb1);
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(tmp, st1, 0xf0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(st1, tmp, 8));
}
#endif

/*
 * Whether the CPU has the SHA extensions and SSE4.1, asked once through
 * cpuid (clang has no "sha" for __builtin_cpu_supports): 1 yes, 0 no,
 * -1 not asked yet. Asking twice at once gives the same answer.
 */
static atomic_int have_shani = -1;

static bool
cpu_has_shani(void)
{
	int v = atomic_load_explicit(&have_shani, memory_order_relaxed);
	unsigned a, b, c, d;

	if (v < 0) {
		v = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) &&
		    __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
		    (b & (1u << 29)) ? 1 : 0;
		atomic_store_explicit(&have_shani, v, memory_order_relaxed);
	}
	return v == 1;
}

/* Set by msb__sha256_portable: the tests check both paths. */
static atomic_bool portable_only;

void
msb__sha256_portable(bool on)
{
	atomic_store(&portable_only, on);
}

/* Hashes n whole blocks into h. */
static void
blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
#ifdef HAVE_SHANI_CODE
	if (n > 0 && !atomic_load_explicit(&portable_only,
	    memory_order_relaxed) && cpu_has_shani()) {
		blocks_shani(h, p, n);
		return;
	}
#endif
	for (; n > 0; n--, p += 64)
		block(h, p);
}

void
msb__sha256_init(struct msb__sha256 *ctx)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(ctx->h, iv, sizeof(iv));
	ctx->nbytes = 0;
	ctx->nbuf = 0;
}

void
msb__sha256_update(struct msb__sha256 *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;

	ctx->nbytes += len;
	if (ctx->nbuf > 0) {
		size_t n = 64 - ctx->nbuf;

		if (n > len)
			n = len;
		memcpy(ctx->buf + ctx->nbuf, p, n);
		ctx->nbuf += n;
		p += n;
		len -= n;
		if (ctx->nbuf < 64)
			return;
		blocks(ctx->h, ctx->buf, 1);
		ctx->nbuf = 0;
	}
	blocks(ctx->h, p, len / 64);
	p += len / 64 * 64;
	len %= 64;
	memcpy(ctx->buf, p, len);
	ctx->nbuf = len;
}

void
msb__sha256_final(struct msb__sha256 *ctx, unsigned char out[32])
{
	uint64_t bits = ctx->nbytes * 8;

	ctx->buf[ctx->nbuf++] = 0x80;
	if (ctx->nbuf > 56) {
		memset(ctx->buf + ctx->nbuf, 0, 64 - ctx->nbuf);
		blocks(ctx->h, ctx->buf, 1);
		ctx->nbuf = 0;
	}
	memset(ctx->buf + ctx->nbuf, 0, 56 - ctx->nbuf);
	for (int i = 0; i < 8; i++)
		ctx->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	blocks(ctx->h, ctx->buf, 1);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(ctx->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(ctx->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(ctx->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)ctx->h[i];
	}
}

void
msb__hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

void
msb_sha256_hex(const void *data, size_t len, char hex[MSB_HASH_HEX_SIZE])
{
	struct msb__sha256 ctx;
	unsigned char md[32];

	msb__sha256_init(&ctx);
	msb__sha256_update(&ctx, data, len);
	msb__sha256_final(&ctx, md);
	msb__hex(md, sizeof(md), hex);
}
