/*
 * isip.c: IP address recognition, exactly as Node 20's net.isIPv4(),
 * net.isIPv6() and net.isIP().
 *
 * Node defines them with two anchored regular expressions (no flags):
 *
 *	v4Seg  = (?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])
 *	v4Str  = (?:v4Seg\.){3}v4Seg
 *	v6Seg  = (?:[0-9a-fA-F]{1,4})
 *	IPv4   = ^v4Str$
 *	IPv6   = ^(?:(?:v6Seg:){7}(?:v6Seg|:)|
 *	            (?:v6Seg:){6}(?:v4Str|:v6Seg|:)|
 *	            (?:v6Seg:){5}(?::v4Str|(?::v6Seg){1,2}|:)|
 *	            (?:v6Seg:){4}(?:(?::v6Seg){0,1}:v4Str|(?::v6Seg){1,3}|:)|
 *	            ... down to ...
 *	            (?::(?:(?::v6Seg){0,5}:v4Str|(?::v6Seg){1,7}|:))
 *	         )(?:%[0-9a-zA-Z-.:]{1,})?$
 *
 * which is the language of isip_step() below:
 *
 * - IPv4: four decimal octets 0-255 separated by dots, no leading zero
 *   ("0" alone is fine, "01" is not), nothing else.
 * - IPv6: hex groups of 1 to 4 digits separated by single colons, where
 *   the last group may be an IPv4 address counting as two groups, and at
 *   most one "::" (anywhere, including at the start or the end) stands for
 *   at least one zero group. Without "::" there are exactly 8 groups; with
 *   it, at most 7. Then optionally '%' and a zone id of one or more of
 *   [0-9a-zA-Z.:-]. No brackets, no spaces, no other character.
 *
 * isip_step() says what a left-to-right scan knows after one more byte,
 * and isip_end() what an input ending there is. The first call to isip()
 * numbers every state the scan can reach (196) and tabulates the steps
 * for two bytes at once (56 KB, built in about 0.1 ms). From then on an
 * address costs one table lookup per two bytes and no branch on what the
 * bytes are: on mixed input that is about twice as fast as a hand-written
 * parser, whose branches guess wrong at every group or octet of
 * unpredictable length. netkit has one thread, so the tables need no lock.
 *
 * The input has an explicit length: a NUL byte is just an invalid
 * character. Nothing here allocates.
 */

#include <stdlib.h>
#include <string.h>

#include "netkit.h"

/* Byte classes: the bytes of a class are alike everywhere in an address. */
/* clang-format off */
enum isip_class {
	ISIP_C_OTHER,	/* in no address */
	ISIP_C_0,	/* '0' */
	ISIP_C_1,	/* '1' */
	ISIP_C_2,	/* '2' */
	ISIP_C_3,	/* '3' and '4' */
	ISIP_C_5,	/* '5' */
	ISIP_C_6,	/* '6' to '9' */
	ISIP_C_HEX,	/* 'a' to 'f' and 'A' to 'F' */
	ISIP_C_ZONE,	/* the other letters and '-', only in a zone id */
	ISIP_C_DOT,	/* '.' */
	ISIP_C_COLON,	/* ':' */
	ISIP_C_PERCENT, /* '%' */
	ISIP_NCLASS
};

/* What a scan has read last. */
enum isip_at {
	ISIP_AT_FAIL,	 /* something no address goes on from */
	ISIP_AT_START,	 /* nothing yet */
	ISIP_AT_COLON1,	 /* a ':' at the start, which needs another */
	ISIP_AT_GROUP,	 /* a hex digit of a group */
	ISIP_AT_COLON,	 /* a single ':' after a group */
	ISIP_AT_COLONS,	 /* the "::" */
	ISIP_AT_DOT,	 /* a '.' of an IPv4 address */
	ISIP_AT_OCTET,	 /* a digit of an IPv4 octet after a dot */
	ISIP_AT_PERCENT, /* the '%' before a zone id */
	ISIP_AT_ZONE	 /* a character of the zone id */
};

/* A group or octet read as a decimal octet: which digits may follow. */
enum isip_octet {
	ISIP_OCTET_NONE,  /* none: not an octet (hex letter, "01", > 255) */
	ISIP_OCTET_EMPTY, /* no digit yet */
	ISIP_OCTET_ZERO,  /* "0": none */
	ISIP_OCTET_ONE,	  /* "1": any two */
	ISIP_OCTET_TWO,	  /* "2": 0-4 and any, 5 and 0-5, or 6-9 */
	ISIP_OCTET_25,	  /* "25": 0-5 */
	ISIP_OCTET_ANY,	  /* "1x", "2[0-4]", "[3-9]": any one */
	ISIP_OCTET_FULL	  /* 3 digits, "2[6-9]", "[3-9]x": none */
};

/* The state of a scan: what of the input so far matters for the rest. */
struct isip_scan {
	unsigned char at;	  /* enum isip_at */
	unsigned char groups;	  /* IPv6 groups before the current one */
	unsigned char compressed; /* "::" read */
	unsigned char digits;	  /* hex digits of the current group */
	unsigned char octet;	  /* enum isip_octet: the group or octet */
	unsigned char dots;	  /* dots of the IPv4 address */
	unsigned char tail;	  /* the IPv4 address ends an IPv6 address */
};
/* clang-format on */

/* Room for the 196 states a scan can reach; times ISIP_NPAIR, < 65536. */
#define ISIP_MAXSTATE 256
/* Slots of the hash table that numbers them, roomy. */
#define ISIP_NSLOT 1024

/* A step two bytes at once: the next state times ISIP_NPAIR. */
#define ISIP_NPAIR (ISIP_NCLASS * ISIP_NCLASS)

static int isip_built;
static unsigned char isip_class[256];
/* From the start, one byte: the next state times ISIP_NPAIR. */
static unsigned short isip_first[ISIP_NCLASS];
/* By state times ISIP_NPAIR plus two byte classes: the next state, ditto. */
static unsigned short isip_next[ISIP_MAXSTATE * ISIP_NPAIR];
/* By state: the IP version of an input ending there, or 0. */
static unsigned char isip_version[ISIP_MAXSTATE];

/* The class of byte c. */
static int
isip_class_of(int c)
{
	static const unsigned char digit[10] = { ISIP_C_0, ISIP_C_1, ISIP_C_2,
		ISIP_C_3, ISIP_C_3, ISIP_C_5, ISIP_C_6, ISIP_C_6, ISIP_C_6,
		ISIP_C_6 };

	if (c >= '0' && c <= '9')
		return (digit[c - '0']);
	if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
		return (ISIP_C_HEX);
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')
		return (ISIP_C_ZONE);
	if (c == '.')
		return (ISIP_C_DOT);
	if (c == ':')
		return (ISIP_C_COLON);
	if (c == '%')
		return (ISIP_C_PERCENT);
	return (ISIP_C_OTHER);
}

/* Whether class k is a decimal digit. */
static int
isip_is_digit(int k)
{
	return (k >= ISIP_C_0 && k <= ISIP_C_6);
}

/* Whether class k is a hex digit. */
static int
isip_is_hex(int k)
{
	return (k >= ISIP_C_0 && k <= ISIP_C_HEX);
}

/* Whether class k may be in a zone id. */
static int
isip_is_zone(int k)
{
	return (k >= ISIP_C_0 && k <= ISIP_C_COLON);
}

/* The decimal octet o followed by class k. */
static int
isip_octet_next(int o, int k)
{
	if (!isip_is_digit(k))
		return (ISIP_OCTET_NONE);
	switch (o) {
	case ISIP_OCTET_EMPTY:
		if (k == ISIP_C_0)
			return (ISIP_OCTET_ZERO);
		if (k == ISIP_C_1)
			return (ISIP_OCTET_ONE);
		if (k == ISIP_C_2)
			return (ISIP_OCTET_TWO);
		return (ISIP_OCTET_ANY);
	case ISIP_OCTET_ONE:
		return (ISIP_OCTET_ANY);
	case ISIP_OCTET_TWO:
		if (k == ISIP_C_5)
			return (ISIP_OCTET_25);
		return (k == ISIP_C_6 ? ISIP_OCTET_FULL : ISIP_OCTET_ANY);
	case ISIP_OCTET_25:
		return (k == ISIP_C_6 ? ISIP_OCTET_NONE : ISIP_OCTET_FULL);
	case ISIP_OCTET_ANY:
		return (ISIP_OCTET_FULL);
	default:
		return (ISIP_OCTET_NONE); /* after "0", a third digit or none */
	}
}

/* Whether groups groups make a whole IPv6 address. */
static int
isip_groups_ok(int groups, int compressed)
{
	return (compressed ? groups <= 7 : groups == 8);
}

/* Start a group in n with its first digit, of class k, after scan s. */
static void
isip_group(struct isip_scan *n, const struct isip_scan *s, int k)
{
	n->at = ISIP_AT_GROUP;
	n->groups = s->groups;
	n->compressed = s->compressed;
	n->digits = 1;
	n->octet = isip_octet_next(ISIP_OCTET_EMPTY, k);
}

/* The scan s after a byte of class k. */
static struct isip_scan
isip_step(const struct isip_scan *s, int k)
{
	struct isip_scan n;
	int octet, whole;

	/* Only the fields that matter after this byte are set. */
	memset(&n, 0, sizeof n);
	n.at = ISIP_AT_FAIL;
	switch (s->at) {
	case ISIP_AT_START:
		if (isip_is_hex(k))
			isip_group(&n, s, k);
		else if (k == ISIP_C_COLON)
			n.at = ISIP_AT_COLON1;
		break;
	case ISIP_AT_COLON1:
		if (k == ISIP_C_COLON) {
			n.at = ISIP_AT_COLONS;
			n.compressed = 1;
		}
		break;
	case ISIP_AT_GROUP:
		whole = (s->groups == 0 && !s->compressed);
		if (isip_is_hex(k) && s->digits < 4) {
			n = *s;
			n.digits++;
			n.octet = isip_octet_next(s->octet, k);
		} else if (k == ISIP_C_COLON &&
		    s->groups + 1 < (s->compressed ? 7 : 8)) {
			/* A colon needs room for one more group after it. */
			n.at = ISIP_AT_COLON;
			n.groups = s->groups + 1;
			n.compressed = s->compressed;
		} else if (k == ISIP_C_DOT && s->octet != ISIP_OCTET_NONE &&
		    (whole || isip_groups_ok(s->groups + 2, s->compressed))) {
			/* An IPv4 address: the whole, or two last groups. */
			n.at = ISIP_AT_DOT;
			n.dots = 1;
			n.tail = !whole;
		} else if (k == ISIP_C_PERCENT &&
		    isip_groups_ok(s->groups + 1, s->compressed))
			n.at = ISIP_AT_PERCENT;
		break;
	case ISIP_AT_COLON:
		if (isip_is_hex(k))
			isip_group(&n, s, k);
		else if (k == ISIP_C_COLON && !s->compressed) {
			n.at = ISIP_AT_COLONS;
			n.groups = s->groups;
			n.compressed = 1;
		}
		break;
	case ISIP_AT_COLONS:
		if (isip_is_hex(k))
			isip_group(&n, s, k);
		else if (k == ISIP_C_PERCENT)
			n.at = ISIP_AT_PERCENT;
		break;
	case ISIP_AT_DOT:
		if (isip_is_digit(k)) {
			n = *s;
			n.at = ISIP_AT_OCTET;
			n.octet = isip_octet_next(ISIP_OCTET_EMPTY, k);
		}
		break;
	case ISIP_AT_OCTET:
		octet = isip_octet_next(s->octet, k);
		if (octet != ISIP_OCTET_NONE) {
			n = *s;
			n.octet = octet;
		} else if (k == ISIP_C_DOT && s->dots < 3) {
			n = *s;
			n.at = ISIP_AT_DOT;
			n.dots++;
			n.octet = ISIP_OCTET_NONE;
		} else if (k == ISIP_C_PERCENT && s->dots == 3 && s->tail)
			n.at = ISIP_AT_PERCENT;
		break;
	case ISIP_AT_PERCENT:
	case ISIP_AT_ZONE:
		if (isip_is_zone(k))
			n.at = ISIP_AT_ZONE;
		break;
	}
	/* Forget what cannot matter, so that fewer states mean the same. */
	if (n.at == ISIP_AT_GROUP && !(n.groups == 0 && !n.compressed) &&
	    !isip_groups_ok(n.groups + 2, n.compressed))
		n.octet = ISIP_OCTET_NONE; /* no IPv4 address can follow */
	return (n);
}

/* The IP version of an input whose scan ends in s, or 0 for none. */
static int
isip_end(const struct isip_scan *s)
{
	switch (s->at) {
	case ISIP_AT_GROUP:
		return (isip_groups_ok(s->groups + 1, s->compressed) ? 6 : 0);
	case ISIP_AT_COLONS:
	case ISIP_AT_ZONE:
		return (6);
	case ISIP_AT_OCTET:
		if (s->dots < 3)
			return (0);
		return (s->tail ? 6 : 4);
	default:
		return (0);
	}
}

/* Where to look for scan state s in a hash table of size slots. */
static unsigned int
isip_hash(const struct isip_scan *s, unsigned int size)
{
	uint64_t x = 0;

	memcpy(&x, s, sizeof *s < sizeof x ? sizeof *s : sizeof x);
	x *= 0x9e3779b97f4a7c15ull; /* Fibonacci hashing */
	return ((unsigned int)(x >> 32) % size);
}

/*
 * The number of scan state s in states[], added if new; n is the count
 * and slots[] (ISIP_NSLOT of them, zero at first) holds numbers plus one.
 */
static int
isip_number(struct isip_scan *states, int *n, unsigned short *slots,
    const struct isip_scan *s)
{
	unsigned int h;

	for (h = isip_hash(s, ISIP_NSLOT); slots[h] != 0;
	     h = (h + 1) % ISIP_NSLOT) {
		if (memcmp(&states[slots[h] - 1], s, sizeof *s) == 0)
			return (slots[h] - 1);
	}
	if (*n == ISIP_MAXSTATE)
		abort(); /* cannot be: see ISIP_MAXSTATE */
	states[*n] = *s;
	slots[h] = *n + 1;
	return ((*n)++);
}

/* Number the states a scan can reach and fill in the tables. */
static __attribute__((noinline)) void
isip_build(void)
{
	static struct isip_scan states[ISIP_MAXSTATE];
	static unsigned short next1[ISIP_MAXSTATE][ISIP_NCLASS];
	static unsigned short slots[ISIP_NSLOT];
	struct isip_scan start, s;
	int c, i, k, n = 0;

	for (c = 0; c < 256; c++)
		isip_class[c] = isip_class_of(c);

	memset(&start, 0, sizeof start);
	start.at = ISIP_AT_START;
	isip_number(states, &n, slots, &start); /* number 0 */
	/* states[] grows as new states turn up. */
	for (i = 0; i < n; i++) {
		isip_version[i] = isip_end(&states[i]);
		for (k = 0; k < ISIP_NCLASS; k++) {
			s = isip_step(&states[i], k);
			next1[i][k] = isip_number(states, &n, slots, &s);
		}
	}

	/* From here on, a state is its row in isip_next[]. */
	for (i = 0; i < n; i++) {
		for (k = 0; k < ISIP_NCLASS; k++)
			next1[i][k] *= ISIP_NPAIR;
	}
	memcpy(isip_first, next1[0], sizeof isip_first);
	/* Bytes of classes k, k2 from state i: k2 from the state after k. */
	for (i = 0; i < n; i++) {
		for (k = 0; k < ISIP_NCLASS; k++) {
			memcpy(&isip_next[i * ISIP_NPAIR + k * ISIP_NCLASS],
			    next1[next1[i][k] / ISIP_NPAIR], sizeof next1[i]);
		}
	}
	isip_built = 1;
}

/* Which IP version s is (4 or 6), or 0 for neither, as net.isIP(). */
int
isip(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	unsigned int state = 0;

	if (__builtin_expect(!isip_built, 0))
		isip_build();
	if (len % 2 == 1)
		state = isip_first[isip_class[*p++]];
	while (p != end) {
		state = isip_next[state + isip_class[p[0]] * ISIP_NCLASS +
		    isip_class[p[1]]];
		p += 2;
	}
	return (isip_version[state / ISIP_NPAIR]);
}

/* Whether s is an IPv4 address, as net.isIPv4(). */
int
isip_v4(const char *s, size_t len)
{
	/* The longest is 255.255.255.255. */
	return (len <= 15 && isip(s, len) == 4);
}

/* Whether s is an IPv6 address with an optional zone id, as net.isIPv6(). */
int
isip_v6(const char *s, size_t len)
{
	return (isip(s, len) == 6);
}
