/*
 * fuzz-codec: the streaming codecs of src/encoding.c.
 *
 * The first byte picks the encoding (byte % 5, enum encoding order) and the
 * direction ((byte / 5) % 2: 1 decodes); the rest is the stream. Checked:
 *
 * - one piece against a whole-buffer reference written from the rules at
 *   the top of encoding.c (output, bad flag, bad offset);
 * - the stream split in two at every point (streams up to SPLIT_ALL bytes;
 *   longer ones at a few points derived from the data), in 1-byte chunks,
 *   and in pseudo-random chunks with empty ones between: the same output,
 *   bad flag and bad offset as one piece; once bad, every later call
 *   returns nothing and the same offset;
 * - no call writes more than codec_max_out() (each output buffer is a heap
 *   block of exactly that size, so AddressSanitizer sees an overrun);
 * - round trips: decode(encode(x)) == x for base64 and hex (with whitespace
 *   inserted), and for utf8 when x is valid UTF-8; utf8 encoding always
 *   gives valid UTF-8, which utf8 decoding takes unchanged.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netkit.h"

#define SPLIT_ALL 512

struct result {
	unsigned char *p;
	size_t len;
	size_t size;
	int bad;
	uint64_t off;
};

static const char *enc_names[] = { "binary", "utf8", "ascii", "base64", "hex" };

static void
result_init(struct result *r)
{
	memset(r, 0, sizeof *r);
}

static void
result_free(struct result *r)
{
	free(r->p);
	result_init(r);
}

static void
result_add(struct result *r, const void *p, size_t n)
{
	if (r->len + n > r->size) {
		r->size = (r->len + n) * 2 + 16;
		if ((r->p = realloc(r->p, r->size)) == NULL)
			abort();
	}
	if (n > 0)
		memcpy(r->p + r->len, p, n);
	r->len += n;
}

/* Stop on a failed check, saying what and where. */
static void
fail(const char *what, enum encoding enc, int decode, const char *how,
    const struct result *want, const struct result *got)
{
	fprintf(stderr, "fuzz-codec: %s %s, %s: %s\n",
	    decode ? "decode" : "encode", enc_names[enc], how, what);
	if (want != NULL)
		fprintf(stderr, "  want %zu bytes, bad %d at %llu\n", want->len,
		    want->bad, (unsigned long long)want->off);
	if (got != NULL)
		fprintf(stderr, "  got  %zu bytes, bad %d at %llu\n", got->len,
		    got->bad, (unsigned long long)got->off);
	abort();
}

/*
 * Run a codec over in, cut into chunks of the given lengths (their sum is
 * len), then finish.
 */
static void
run(enum encoding enc, int decode, const unsigned char *in, size_t len,
    const size_t *chunks, size_t nchunks, const char *how, struct result *r)
{
	struct codec *c;
	size_t i, pos = 0, max, cap = 1, n;
	char *base, *out;
	int bad = 0;
	uint64_t off = 0;

	result_init(r);
	if (in == NULL)
		in = (const unsigned char *)"";
	if ((c = codec_new(enc, decode)) == NULL)
		abort();
	/*
	 * One heap block for the run; each call's output area ends where the
	 * block ends, so that writing past codec_max_out() is an overrun.
	 */
	for (i = 0; i <= nchunks; i++) {
		max = codec_max_out(c, i < nchunks ? chunks[i] : 0);
		if (max > cap)
			cap = max;
	}
	if ((base = malloc(cap)) == NULL)
		abort();
	for (i = 0; i <= nchunks; i++) {
		n = i < nchunks ? chunks[i] : 0;
		max = codec_max_out(c, n);
		out = base + cap - max;
		if (i < nchunks) {
			n = codec_feed(c, (const char *)in + pos, n, out, &bad,
			    &off);
			pos += chunks[i];
		} else
			n = codec_finish(c, out, &bad, &off);
		if (n > max)
			fail("more output than codec_max_out", enc, decode, how,
			    NULL, NULL);
		if (r->bad && n != 0)
			fail("output after the error", enc, decode, how, NULL,
			    NULL);
		if (r->bad && (!bad || off != r->off))
			fail("the error is not sticky", enc, decode, how, NULL,
			    NULL);
		if (bad && !r->bad) {
			r->bad = 1;
			r->off = off;
			if (off >= len)
				fail("bad offset past the stream", enc, decode,
				    how, NULL, r);
			/* Everything before pos was seen; nothing after. */
			if (i < nchunks && off >= pos)
				fail("bad offset past the chunk", enc, decode,
				    how, NULL, r);
		}
		result_add(r, out, n);
	}
	free(base);
	if (pos != len)
		abort();
	if (!decode && r->bad)
		fail("an encoder reported bad input", enc, decode, how, NULL,
		    r);
	codec_free(c);
}

/* The same result, or stop. */
static void
same(enum encoding enc, int decode, const char *how, const struct result *want,
    const struct result *got)
{
	if (want->len != got->len || want->bad != got->bad ||
	    (want->bad && want->off != got->off) ||
	    (want->len > 0 && memcmp(want->p, got->p, want->len) != 0))
		fail("results differ", enc, decode, how, want, got);
}

/* Run in one piece. */
static void
run_whole(enum encoding enc, int decode, const unsigned char *in, size_t len,
    struct result *r)
{
	run(enc, decode, in, len, &len, 1, "one piece", r);
}

/* The offset of the first invalid UTF-8 sequence in s, or n. */
static size_t
ref_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, len, j;
	uint32_t cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return (i);
		if (n - i < len)
			return (i);
		for (j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return (i);
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (i);
		i += len;
	}
	return (n);
}

/* WHATWG UTF-8 decoding: each maximal subpart of a bad sequence is U+FFFD. */
static void
ref_utf8_encode(const unsigned char *s, size_t n, struct result *r)
{
	static const unsigned char fffd[] = { 0xef, 0xbf, 0xbd };
	size_t i = 0, j, k, need;
	unsigned char b, lo, hi;

	while (i < n) {
		b = s[i];
		lo = 0x80;
		hi = 0xbf;
		if (b < 0x80) {
			result_add(r, &b, 1);
			i++;
			continue;
		} else if (b >= 0xc2 && b <= 0xdf)
			need = 1;
		else if (b >= 0xe0 && b <= 0xef) {
			need = 2;
			if (b == 0xe0)
				lo = 0xa0;
			if (b == 0xed)
				hi = 0x9f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			need = 3;
			if (b == 0xf0)
				lo = 0x90;
			if (b == 0xf4)
				hi = 0x8f;
		} else {
			result_add(r, fffd, 3);
			i++;
			continue;
		}
		for (j = i + 1, k = 0; k < need && j < n; j++, k++) {
			if (s[j] < (k == 0 ? lo : 0x80) ||
			    s[j] > (k == 0 ? hi : 0xbf))
				break;
		}
		if (k == need)
			result_add(r, s + i, j - i);
		else
			result_add(r, fffd, 3);
		i = j;
	}
}

static int
ref_space(unsigned char c)
{
	return (c == ' ' || c == '\t' || c == '\r' || c == '\n');
}

static int
ref_b64_value(unsigned char c)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p;

	if (c == 0 || (p = strchr(a, c)) == NULL)
		return (-1);
	return ((int)(p - a));
}

/* Whole-buffer base64 decoding, from the rules at the top of encoding.c. */
static void
ref_b64_decode(const unsigned char *s, size_t n, struct result *r)
{
	size_t *at, m = 0, p, i, j, keep, r4;
	unsigned char *ch, byte;
	uint32_t acc = 0;
	int bits = 0;

	/* Drop the whitespace, remembering where each character was. */
	if ((at = malloc((n + 1) * sizeof *at)) == NULL ||
	    (ch = malloc(n + 1)) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (!ref_space(s[i])) {
			ch[m] = s[i];
			at[m++] = i;
		}
	}
	/* The data is what comes before the first '='. */
	for (p = 0; p < m && ch[p] != '='; p++)
		;
	keep = p;
	for (i = 0; i < p; i++) {
		if (ref_b64_value(ch[i]) == -1) {
			r->bad = 1;
			r->off = at[i];
			keep = i;
			break;
		}
	}
	if (!r->bad) {
		r4 = p % 4;
		if (p < m && r4 < 2) {
			/* '=' after a whole quantum, or after one character. */
			r->bad = 1;
			r->off = r4 == 0 ? at[p] : at[p - 1];
		} else if (p < m) {
			/* Then at most 4 - r4 '=' and nothing else. */
			for (j = p; j < m; j++) {
				if (ch[j] != '=' || j - p >= 4 - r4) {
					r->bad = 1;
					r->off = at[j];
					break;
				}
			}
		} else if (r4 == 1) {
			r->bad = 1;
			r->off = at[p - 1];
		}
	}
	/* The whole bytes of the sextets kept. */
	for (i = 0; i < keep; i++) {
		acc = (acc << 6 | (uint32_t)ref_b64_value(ch[i])) & 0xffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			byte = (unsigned char)(acc >> bits);
			result_add(r, &byte, 1);
		}
	}
	free(ch);
	free(at);
}

static int
ref_hex_value(unsigned char c)
{
	static const char a[] = "0123456789abcdef0123456789ABCDEF";
	const char *p;

	if (c == 0 || (p = strchr(a, c)) == NULL)
		return (-1);
	return ((int)(p - a) % 16);
}

/* Whole-buffer hex decoding. */
static void
ref_hex_decode(const unsigned char *s, size_t n, struct result *r)
{
	size_t i, last = 0;
	int hi = -1, v;
	unsigned char byte;

	for (i = 0; i < n; i++) {
		if (ref_space(s[i]))
			continue;
		if ((v = ref_hex_value(s[i])) == -1) {
			r->bad = 1;
			r->off = i;
			return;
		}
		if (hi == -1) {
			hi = v;
			last = i;
		} else {
			byte = (unsigned char)(hi * 16 + v);
			result_add(r, &byte, 1);
			hi = -1;
		}
	}
	if (hi != -1) {
		r->bad = 1;
		r->off = last;
	}
}

/* Whole-buffer encoding and decoding, the expected results. */
static void
ref(enum encoding enc, int decode, const unsigned char *s, size_t n,
    struct result *r)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char hex[] = "0123456789abcdef";
	unsigned char q[4];
	size_t i, v;

	result_init(r);
	switch (enc) {
	case ENC_UTF8:
		if (!decode) {
			ref_utf8_encode(s, n, r);
			break;
		}
		v = ref_utf8_valid(s, n);
		result_add(r, s, v);
		if (v < n) {
			r->bad = 1;
			r->off = v;
		}
		break;
	case ENC_BASE64:
		if (decode) {
			ref_b64_decode(s, n, r);
			break;
		}
		for (i = 0; i < n; i += 3) {
			v = (size_t)s[i] << 16;
			if (i + 1 < n)
				v |= (size_t)s[i + 1] << 8;
			if (i + 2 < n)
				v |= s[i + 2];
			q[0] = (unsigned char)b64[v >> 18];
			q[1] = (unsigned char)b64[v >> 12 & 63];
			q[2] = i + 1 < n ? (unsigned char)b64[v >> 6 & 63]
					 : '=';
			q[3] = i + 2 < n ? (unsigned char)b64[v & 63] : '=';
			result_add(r, q, 4);
		}
		break;
	case ENC_HEX:
		if (decode) {
			ref_hex_decode(s, n, r);
			break;
		}
		for (i = 0; i < n; i++) {
			q[0] = (unsigned char)hex[s[i] >> 4];
			q[1] = (unsigned char)hex[s[i] & 15];
			result_add(r, q, 2);
		}
		break;
	case ENC_ASCII:
		if (!decode) {
			for (i = 0; i < n; i++) {
				q[0] = s[i] & 0x7f;
				result_add(r, q, 1);
			}
			break;
		}
		/* FALLTHROUGH */
	case ENC_BINARY:
	default:
		result_add(r, s, n);
		break;
	}
}

/* A small PRNG seeded from the data, for the split points. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

/* Every way of splitting the stream checked here gives the one-piece result. */
static void
check_splits(enum encoding enc, int decode, const unsigned char *in, size_t len,
    uint64_t seed, const struct result *whole)
{
	struct result r;
	size_t *chunks, i, k, n, left, tries;
	char how[64];

	if ((chunks = malloc((2 * len + 2) * sizeof *chunks)) == NULL)
		abort();

	/* In two at every point, or at a few points for long streams. */
	tries = len <= SPLIT_ALL ? len + 1 : 16;
	for (i = 0; i < tries; i++) {
		k = len <= SPLIT_ALL ? i : rng_next(&seed) % (len + 1);
		chunks[0] = k;
		chunks[1] = len - k;
		snprintf(how, sizeof how, "split at %zu", k);
		run(enc, decode, in, len, chunks, 2, how, &r);
		same(enc, decode, how, whole, &r);
		result_free(&r);
	}

	/* One byte at a time. */
	for (i = 0; i < len; i++)
		chunks[i] = 1;
	run(enc, decode, in, len, chunks, len, "1-byte chunks", &r);
	same(enc, decode, "1-byte chunks", whole, &r);
	result_free(&r);

	/* Random chunks of 0 to 7 bytes, then of 0 to 64. */
	for (tries = 0; tries < 2; tries++) {
		n = 0;
		left = len;
		while (left > 0) {
			k = rng_next(&seed) % (tries == 0 ? 8 : 65);
			if (k > left)
				k = left;
			chunks[n++] = k;
			left -= k;
		}
		run(enc, decode, in, len, chunks, n, "random chunks", &r);
		same(enc, decode, "random chunks", whole, &r);
		result_free(&r);
	}
	free(chunks);
}

/* decode(encode(x)) == x, with whitespace added to base64 and hex. */
static void
check_round_trip(enum encoding enc, const unsigned char *in, size_t len,
    const struct result *encoded, uint64_t seed)
{
	static const char ws[] = " \t\r\n";
	struct result spaced, back, want;
	size_t i;

	result_init(&spaced);
	for (i = 0; i < encoded->len; i++) {
		if (enc != ENC_UTF8 && rng_next(&seed) % 8 == 0)
			result_add(&spaced, &ws[rng_next(&seed) % 4], 1);
		result_add(&spaced, encoded->p + i, 1);
	}
	if (enc != ENC_UTF8 && rng_next(&seed) % 2 == 0)
		result_add(&spaced, "\n", 1);

	run_whole(enc, 1, spaced.p, spaced.len, &back);
	result_init(&want);
	if (enc == ENC_UTF8) {
		/* The encoder's output is valid UTF-8 and decodes unchanged. */
		if (ref_utf8_valid(encoded->p, encoded->len) != encoded->len)
			fail("encoding gives invalid UTF-8", enc, 0,
			    "one piece", NULL, NULL);
		result_add(&want, encoded->p, encoded->len);
		if (ref_utf8_valid(in, len) == len &&
		    (encoded->len != len ||
			(len > 0 && memcmp(encoded->p, in, len) != 0)))
			fail("valid UTF-8 changed by encoding", enc, 0,
			    "one piece", NULL, encoded);
	} else
		result_add(&want, in, len);
	same(enc, 1, "round trip", &want, &back);
	check_splits(enc, 1, spaced.p, spaced.len, seed, &back);
	result_free(&want);
	result_free(&back);
	result_free(&spaced);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole, want;
	enum encoding enc;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t i;
	int decode;

	if (size < 1)
		return (0);
	enc = (enum encoding)(data[0] % 5);
	decode = (data[0] / 5) % 2;
	data++;
	size--;
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ULL;
	if (seed == 0)
		seed = 1;

	run_whole(enc, decode, data, size, &whole);
	ref(enc, decode, data, size, &want);
	same(enc, decode, "one piece against the reference", &want, &whole);
	result_free(&want);
	check_splits(enc, decode, data, size, seed, &whole);
	if (!decode && (enc == ENC_BASE64 || enc == ENC_HEX || enc == ENC_UTF8))
		check_round_trip(enc, data, size, &whole, seed);
	result_free(&whole);
	return (0);
}
