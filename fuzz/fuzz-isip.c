/*
 * fuzz-isip: isip(), isip_v4() and isip_v6() on arbitrary bytes, NULs
 * included, checked against invariants and against a slow reference.
 *
 * The reference is Node 20's two regular expressions (quoted at the top of
 * src/isip.c) run as written: each piece of the expression maps the set of
 * positions it may start at to the set of positions it may end at, so the
 * alternation and the bounded repetitions need no backtracking and no
 * reasoning about groups or "::". A match is the end of the input in the
 * final set. Any valid address part is at most 45 bytes, so a set of
 * positions fits in 64 bits.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netkit.h"

typedef uint64_t pset; /* bit p: a match may be at position p */

static const unsigned char *ref_s;
static size_t ref_n;

/* Stop on a mismatch, showing the input. */
static void
fail(const char *what, const unsigned char *s, size_t n)
{
	size_t i;

	fprintf(stderr, "fuzz-isip: %s; input (%zu bytes):", what, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %02x", s[i]);
	fprintf(stderr, "\n");
	abort();
}

/* The positions after one byte from S that pred accepts. */
static pset
ref_class(pset S, int (*pred)(int))
{
	pset T = 0;
	size_t p;

	for (; S != 0; S &= S - 1) {
		p = (size_t)__builtin_ctzll(S);
		if (p >= ref_n || !pred(ref_s[p]))
			continue;
		if (p + 1 >= 64)
			fail("reference: position out of range", ref_s, ref_n);
		T |= (pset)1 << (p + 1);
	}
	return (T);
}

/* clang-format off */
static int c_dot(int c) { return (c == '.'); }
static int c_colon(int c) { return (c == ':'); }
static int c_percent(int c) { return (c == '%'); }
static int c_0_9(int c) { return (c >= '0' && c <= '9'); }
static int c_1_9(int c) { return (c >= '1' && c <= '9'); }
static int c_0_4(int c) { return (c >= '0' && c <= '4'); }
static int c_0_5(int c) { return (c >= '0' && c <= '5'); }
static int c_1(int c) { return (c == '1'); }
static int c_2(int c) { return (c == '2'); }
static int c_5(int c) { return (c == '5'); }
/* clang-format on */
static int
c_hex(int c)
{
	return (strchr("0123456789abcdefABCDEF", c) != NULL && c != 0);
}
static int
c_zone(int c)
{
	return (c != 0 &&
	    strchr("0123456789abcdefghijklmnopqrstuvwxyz"
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:",
		c) != NULL);
}

/* v4Seg = 25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9] */
static pset
ref_v4seg(pset S)
{
	return (ref_class(ref_class(ref_class(S, c_2), c_5), c_0_5) |
	    ref_class(ref_class(ref_class(S, c_2), c_0_4), c_0_9) |
	    ref_class(ref_class(ref_class(S, c_1), c_0_9), c_0_9) |
	    ref_class(ref_class(S, c_1_9), c_0_9) | ref_class(S, c_0_9));
}

/* v4Str = (?:v4Seg\.){3}v4Seg */
static pset
ref_v4str(pset S)
{
	int i;

	for (i = 0; i < 3; i++)
		S = ref_class(ref_v4seg(S), c_dot);
	return (ref_v4seg(S));
}

/* v6Seg = [0-9a-fA-F]{1,4} */
static pset
ref_v6seg(pset S)
{
	pset T = 0;
	int i;

	for (i = 0; i < 4; i++) {
		S = ref_class(S, c_hex);
		T |= S;
	}
	return (T);
}

/* (?:v6Seg:){k} */
static pset
ref_heads(pset S, int k)
{
	while (k-- > 0)
		S = ref_class(ref_v6seg(S), c_colon);
	return (S);
}

/* (?::v6Seg){lo,hi} */
static pset
ref_tails(pset S, int lo, int hi)
{
	pset T = 0;
	int i;

	for (i = 0; i <= hi; i++) {
		if (i >= lo)
			T |= S;
		S = ref_v6seg(ref_class(S, c_colon));
	}
	return (T);
}

/* (?::v6Seg){0,m}:v4Str | (?::v6Seg){1,m+2} | : */
static pset
ref_rest(pset S, int m)
{
	return (ref_v4str(ref_class(ref_tails(S, 0, m), c_colon)) |
	    ref_tails(S, 1, m + 2) | ref_class(S, c_colon));
}

/* The address part of IPv6Reg, from position 0. */
static pset
ref_v6addr(void)
{
	pset S = 1, T = 0;
	int k;

	/* (?:v6Seg:){7}(?:v6Seg|:) */
	T |= ref_v6seg(ref_heads(S, 7)) | ref_class(ref_heads(S, 7), c_colon);
	/* (?:v6Seg:){6}(?:v4Str|:v6Seg|:) */
	T |= ref_v4str(ref_heads(S, 6)) |
	    ref_v6seg(ref_class(ref_heads(S, 6), c_colon)) |
	    ref_class(ref_heads(S, 6), c_colon);
	/* (?:v6Seg:){k}(?:(?::v6Seg){0,5-k}:v4Str|(?::v6Seg){1,7-k}|:) */
	for (k = 5; k >= 1; k--)
		T |= ref_rest(ref_heads(S, k), 5 - k);
	/* :(?:(?::v6Seg){0,5}:v4Str|(?::v6Seg){1,7}|:) */
	T |= ref_rest(ref_class(S, c_colon), 5);
	return (T);
}

/* ^v4Str$ */
static int
ref_isv4(void)
{
	return (ref_n < 64 && (ref_v4str(1) >> ref_n & 1));
}

/* ^(address)(?:%[0-9a-zA-Z-.:]{1,})?$ */
static int
ref_isv6(void)
{
	pset A = ref_v6addr();
	size_t p, q;

	for (p = 0; p < 64; p++) {
		if (!(A >> p & 1))
			continue;
		if (p == ref_n)
			return (1);
		if (!c_percent(ref_s[p]) || p + 1 == ref_n)
			continue;
		for (q = p + 1; q < ref_n && c_zone(ref_s[q]); q++)
			;
		if (q == ref_n)
			return (1);
	}
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const unsigned char *pct;
	size_t i, alen, dots = 0, colons = 0;
	int r, v4, v6;

	r = isip(s, size);
	v4 = isip_v4(s, size);
	v6 = isip_v6(s, size);
	if (v4 != 0 && v4 != 1)
		fail("isip_v4 is not 0 or 1", data, size);
	if (v6 != 0 && v6 != 1)
		fail("isip_v6 is not 0 or 1", data, size);
	if (r != (v4 ? 4 : v6 ? 6 : 0))
		fail("isip disagrees with isip_v4/isip_v6", data, size);
	if (v4 && v6)
		fail("both IPv4 and IPv6", data, size);

	if (v4) {
		if (size < 7 || size > 15)
			fail("IPv4 of a bad length", data, size);
		for (i = 0; i < size; i++) {
			if (data[i] == '.')
				dots++;
			else if (data[i] < '0' || data[i] > '9')
				fail("IPv4 with a non-digit", data, size);
		}
		if (dots != 3)
			fail("IPv4 without 3 dots", data, size);
	}
	if (v6) {
		pct = memchr(data, '%', size);
		alen = pct != NULL ? (size_t)(pct - data) : size;
		if (alen < 2 || alen > 45)
			fail("IPv6 address part of a bad length", data, size);
		for (i = 0; i < alen; i++) {
			if (data[i] == ':')
				colons++;
			else if (data[i] != '.' && !c_hex(data[i]))
				fail("IPv6 with a bad character", data, size);
		}
		if (colons < 2)
			fail("IPv6 with fewer than 2 colons", data, size);
		if (pct != NULL && alen + 1 == size)
			fail("IPv6 with an empty zone id", data, size);
		for (i = alen + 1; i < size; i++) {
			if (!c_zone(data[i]))
				fail("IPv6 zone id with a bad character", data,
				    size);
		}
	}

	ref_s = data;
	ref_n = size;
	if (ref_isv4() != v4)
		fail(v4 ? "isip_v4 accepts what Node refuses"
			: "isip_v4 refuses what Node accepts",
		    data, size);
	if (ref_isv6() != v6)
		fail(v6 ? "isip_v6 accepts what Node refuses"
			: "isip_v6 refuses what Node accepts",
		    data, size);
	return (0);
}
