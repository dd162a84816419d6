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
 * which is the language parsed by hand below:
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
 * The input has an explicit length: a NUL byte is just an invalid
 * character. Nothing here allocates.
 */

#include <string.h>

#include "netkit.h"

/* Longest IPv6 address without a zone id: six groups and an IPv4 address. */
#define ISIP_V6_MAXLEN 45

/* Whether c is a hex digit. */
static inline int
isip_xdigit(unsigned char c)
{
	return ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'));
}

/* Whether c may appear in an IPv6 zone id. */
static inline int
isip_zonechar(unsigned char c)
{
	return ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	    c == '-' || c == '.' || c == ':');
}

/* Check a dotted-quad IPv4 address from p to end. */
static int
isip_v4_span(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *start;
	unsigned int value;
	int part;

	for (part = 0; part < 4; part++) {
		if (part != 0) {
			if (p == end || *p != '.')
				return (0);
			p++;
		}
		start = p;
		value = 0;
		while (p != end && *p >= '0' && *p <= '9' && p - start < 4) {
			value = value * 10 + (*p - '0');
			p++;
		}
		if (p == start || p - start > 3 || value > 255)
			return (0);
		if (*start == '0' && p - start > 1)
			return (0);
	}
	return (p == end);
}

/* Check an IPv6 address without zone id from p to end. */
static int
isip_v6_span(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *start;
	int groups = 0, compressed = 0;

	if ((size_t)(end - p) > ISIP_V6_MAXLEN)
		return (0);
	if (end - p >= 2 && p[0] == ':' && p[1] == ':') {
		compressed = 1;
		p += 2;
		if (p == end)
			return (1);
	}
	for (;;) {
		/* At the start of a group. */
		start = p;
		while (p != end && isip_xdigit(*p))
			p++;
		if (p != end && *p == '.') {
			/* An IPv4 address can only be the last two groups. */
			if (!isip_v4_span(start, end))
				return (0);
			groups += 2;
			break;
		}
		if (p == start || p - start > 4)
			return (0);
		groups++;
		if (p == end)
			break;
		if (*p != ':')
			return (0);
		p++;
		if (p == end)
			return (0); /* a single trailing colon */
		if (*p == ':') {
			if (compressed)
				return (0);
			compressed = 1;
			p++;
			if (p == end)
				break;
		}
		if (groups >= 8)
			return (0);
	}
	if (compressed)
		return (groups <= 7);
	return (groups == 8);
}

/* Whether s is an IPv4 address, as net.isIPv4(). */
int
isip_v4(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	/* The longest is 255.255.255.255. */
	if (len > 15)
		return (0);
	return (isip_v4_span(p, p + len));
}

/* Whether s is an IPv6 address with an optional zone id, as net.isIPv6(). */
int
isip_v6(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	const unsigned char *zone, *z;

	zone = memchr(p, '%', len);
	if (zone == NULL)
		return (isip_v6_span(p, end));
	if (!isip_v6_span(p, zone))
		return (0);
	if (zone + 1 == end)
		return (0); /* the zone id may not be empty */
	for (z = zone + 1; z != end; z++) {
		if (!isip_zonechar(*z))
			return (0);
	}
	return (1);
}

/* Which IP version s is (4 or 6), or 0 for neither, as net.isIP(). */
int
isip(const char *s, size_t len)
{
	if (isip_v4(s, len))
		return (4);
	if (isip_v6(s, len))
		return (6);
	return (0);
}
