/*
 * Access lists (--allow, --deny, --allow-file, --deny-file): Node's
 * BlockList as flags. A rule is a range of addresses of one family, from
 * a single address, a CIDR range (10.0.0.0/8) or A-B, and allows or
 * denies. A peer (or, for connect, a destination) is allowed when it
 * matches no deny rule and, when any allow rule was given, one allow rule:
 * deny wins whatever the order. An allow file counts as an allow rule
 * even when it holds none, so an empty allow list admits nobody.
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is IPv4, in a rule as in
 * an address checked: 127.0.0.2 matches ::ffff:127.0.0.2 both ways. An
 * IPv6 rule that is not wholly in ::ffff:0:0/96 (::/0, say) stays IPv6
 * and matches IPv6 addresses only. An address that is not IP (a UNIX
 * peer) matches no rule.
 *
 * Lists are short and checked once per connection: a linear scan.
 */

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netkit.h"

/* The longest line of a file kept; a comment may go on beyond it. */
#define ACL_LINE_MAX 512

/* The longest address in a rule (an IPv6 address with an IPv4 tail). */
#define ACL_ADDR_MAX 64

/* A rule: every address from lo to hi, of len bytes (4 or 16). */
struct acl_rule {
	unsigned char lo[16];
	unsigned char hi[16];
	unsigned char len;
	unsigned char allow;
};

struct acl {
	struct acl_rule *rules;
	size_t n;
	size_t cap;
	int allow_given; /* an allow rule or file was given */
	char error[512];
};

/* Make an empty list; NULL when out of memory. */
struct acl *
acl_new(void)
{
	return (calloc(1, sizeof(struct acl)));
}

/* Free a list. */
void
acl_free(struct acl *acl)
{
	if (acl == NULL)
		return;
	free(acl->rules);
	free(acl);
}

/* What the last acl_add or acl_add_file that failed said. */
const char *
acl_error(const struct acl *acl)
{
	return (acl->error);
}

/* A spec in a message: quoted, cut short, unprintable bytes as '?'. */
static void
acl_quote(const char *spec, size_t n, char *buf, size_t size)
{
	size_t i, o = 0;

	if (n > 64)
		n = 64;
	for (i = 0; i < n && o + 1 < size; i++) {
		buf[o++] = isprint((unsigned char)spec[i]) ? spec[i] : '?';
	}
	buf[o] = '\0';
}

/* Whether 16 bytes are an IPv4-mapped IPv6 address. */
static int
acl_mapped(const unsigned char *a)
{
	static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };

	return (memcmp(a, prefix, sizeof prefix) == 0);
}

/*
 * Parse an address of n bytes into a (IPv4: its first 4 bytes); its
 * length, 4 or 16, or 0 when it is none.
 */
static int
acl_addr(const char *s, size_t n, unsigned char *a)
{
	char buf[ACL_ADDR_MAX];

	if (n == 0 || n >= sizeof buf)
		return (0);
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(a, 0, 16);
	if (inet_pton(AF_INET, buf, a) == 1)
		return (4);
	if (inet_pton(AF_INET6, buf, a) == 1)
		return (16);
	return (0);
}

/* An IPv4-mapped address becomes the IPv4 address it maps. */
static void
acl_unmap(unsigned char *a)
{
	memmove(a, a + 12, 4);
	memset(a + 4, 0, 12);
}

/* Set the range of a CIDR prefix of plen bits around a, of len bytes. */
static void
acl_cidr(struct acl_rule *r, const unsigned char *a, int len, long plen)
{
	int i;
	unsigned char m;

	for (i = 0; i < len; i++) {
		if (plen >= 8)
			m = 0xff;
		else if (plen <= 0)
			m = 0;
		else
			m = (unsigned char)(0xff << (8 - plen));
		plen -= 8;
		r->lo[i] = a[i] & m;
		r->hi[i] = a[i] | (unsigned char)~m;
	}
}

/*
 * Parse a spec of n bytes into a rule: ADDR, ADDR/PREFIX or A-B. -1 with
 * the reason in why when it is not one.
 */
static int
acl_parse(const char *spec, size_t n, struct acl_rule *r, char *why,
    size_t size)
{
	char q[80];
	const char *slash, *dash;
	unsigned char lo[16], hi[16];
	int llen, hlen, mlo, mhi;
	long plen = 0;
	size_t i;

	acl_quote(spec, n, q, sizeof q);
	memset(r, 0, sizeof *r);
	slash = memchr(spec, '/', n);
	dash = memchr(spec, '-', n);
	if (slash != NULL && dash == NULL) {
		if ((llen = acl_addr(spec, (size_t)(slash - spec), lo)) == 0)
			goto bad;
		i = (size_t)(slash - spec) + 1;
		if (i == n || n - i > 3)
			goto badprefix;
		for (; i < n; i++) {
			if (spec[i] < '0' || spec[i] > '9')
				goto badprefix;
			plen = plen * 10 + (spec[i] - '0');
		}
		if (plen > llen * 8)
			goto badprefix;
		acl_cidr(r, lo, llen, plen);
		memcpy(lo, r->lo, 16);
		memcpy(hi, r->hi, 16);
		hlen = llen;
	} else if (dash != NULL && slash == NULL) {
		llen = acl_addr(spec, (size_t)(dash - spec), lo);
		hlen = acl_addr(dash + 1, n - (size_t)(dash - spec) - 1, hi);
		if (llen == 0 || hlen == 0)
			goto bad;
	} else if (dash == NULL && slash == NULL) {
		if ((llen = acl_addr(spec, n, lo)) == 0)
			goto bad;
		memcpy(hi, lo, 16);
		hlen = llen;
	} else
		goto bad;

	/* Both ends IPv4 or mapped: an IPv4 rule. */
	mlo = llen == 4 || acl_mapped(lo);
	mhi = hlen == 4 || acl_mapped(hi);
	if (mlo && mhi) {
		if (llen == 16)
			acl_unmap(lo);
		if (hlen == 16)
			acl_unmap(hi);
		llen = hlen = 4;
	}
	if (llen != hlen) {
		snprintf(why, size, "range '%s' mixes IPv4 and IPv6", q);
		return (-1);
	}
	if (memcmp(lo, hi, (size_t)llen) > 0) {
		snprintf(why, size, "range '%s' ends below its start", q);
		return (-1);
	}
	memcpy(r->lo, lo, 16);
	memcpy(r->hi, hi, 16);
	r->len = (unsigned char)llen;
	return (0);

badprefix:
	snprintf(why, size, "bad prefix length in '%s' (0 to %d)", q, llen * 8);
	return (-1);
bad:
	snprintf(why, size, "bad address '%s'", q);
	return (-1);
}

/* Add the rule of a spec of n bytes; -1 with the reason in why. */
static int
acl_add_n(struct acl *acl, const char *spec, size_t n, int allow, char *why,
    size_t size)
{
	struct acl_rule r, *p;
	size_t cap;

	if (acl_parse(spec, n, &r, why, size) == -1)
		return (-1);
	r.allow = allow != 0;
	if (acl->n == acl->cap) {
		cap = acl->cap == 0 ? 8 : acl->cap * 2;
		if ((p = realloc(acl->rules, cap * sizeof *p)) == NULL) {
			snprintf(why, size, "out of memory");
			return (-1);
		}
		acl->rules = p;
		acl->cap = cap;
	}
	acl->rules[acl->n++] = r;
	if (allow)
		acl->allow_given = 1;
	return (0);
}

/*
 * Add a rule: spec is an address, a CIDR range or A-B; allow or deny.
 * -1 with the reason in acl_error when spec is none of them.
 */
int
acl_add(struct acl *acl, const char *spec, int allow)
{
	return (acl_add_n(acl, spec, strlen(spec), allow, acl->error,
	    sizeof acl->error));
}

/*
 * Read one line of f into buf (its newline dropped); *cut says whether
 * it went on beyond buf. -1 at the end of the file.
 */
static int
acl_line(FILE *f, char *buf, size_t size, size_t *len, int *cut)
{
	size_t n = 0;
	int c;

	*cut = 0;
	while ((c = getc(f)) != EOF && c != '\n') {
		if (n + 1 < size)
			buf[n++] = (char)c;
		else if (memchr(buf, '#', n) == NULL) {
			*cut = 1; /* not a comment that goes on: bad */
			break;
		}
	}
	buf[n] = '\0';
	*len = n;
	return (c == EOF && n == 0 ? -1 : 0);
}

/*
 * Add a rule for each line of the file path: a spec as acl_add takes,
 * with "#" starting a comment, spaces around it and blank lines ignored.
 * -1 with the reason in acl_error: "PATH:LINE: bad address 'xyz'", or
 * "PATH: No such file or directory (ENOENT)".
 */
int
acl_add_file(struct acl *acl, const char *path, int allow)
{
	char buf[ACL_LINE_MAX], why[160]; /* a spec's reason, quoted */
	unsigned long line = 0;
	size_t len, start;
	char *hash;
	FILE *f;
	int cut, err;

	if (allow)
		acl->allow_given = 1;
	if ((f = fopen(path, "re")) == NULL)
		goto fail;
	errno = 0;
	while (acl_line(f, buf, sizeof buf, &len, &cut) == 0) {
		line++;
		if ((hash = memchr(buf, '#', len)) != NULL) {
			len = (size_t)(hash - buf);
			cut = 0;
		}
		if (memchr(buf, '\0', len) != NULL) {
			snprintf(acl->error, sizeof acl->error,
			    "%s:%lu: a NUL byte", path, line);
			fclose(f);
			return (-1);
		}
		if (cut) {
			snprintf(acl->error, sizeof acl->error,
			    "%s:%lu: line too long", path, line);
			fclose(f);
			return (-1);
		}
		while (len > 0 && isspace((unsigned char)buf[len - 1]))
			len--;
		for (start = 0;
		     start < len && isspace((unsigned char)buf[start]); start++)
			;
		if (start == len)
			continue;
		if (acl_add_n(acl, buf + start, len - start, allow, why,
			sizeof why) == -1) {
			snprintf(acl->error, sizeof acl->error, "%s:%lu: %s",
			    path, line, why);
			fclose(f);
			return (-1);
		}
	}
	if (!ferror(f)) {
		fclose(f);
		return (0);
	}
	err = errno != 0 ? errno : EIO; /* what getc failed with */
	fclose(f);
	errno = err;
fail:
	snprintf(acl->error, sizeof acl->error, "%s: %s (%s)", path,
	    strerror(errno), log_errno_name(errno));
	return (-1);
}

/*
 * The bytes of an IP socket address to match (4 or 16, an IPv4-mapped
 * address as IPv4); 0 for another kind of address.
 */
static int
acl_key(const struct sockaddr *sa, unsigned char *a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET) {
		memcpy(a, &sin->sin_addr, 4);
		return (4);
	}
	if (sa->sa_family != AF_INET6)
		return (0);
	memcpy(a, &sin6->sin6_addr, 16);
	if (!acl_mapped(a))
		return (16);
	acl_unmap(a);
	return (4);
}

/*
 * Whether the lists allow the address sa: it matches no deny rule and, if
 * any allow rule was given, one allow rule. A NULL list allows all.
 */
int
acl_allows(const struct acl *acl, const struct sockaddr *sa)
{
	const struct acl_rule *r, *end;
	unsigned char a[16];
	int len, allowed;

	if (acl == NULL)
		return (1);
	allowed = !acl->allow_given;
	if ((len = acl_key(sa, a)) == 0)
		return (allowed);
	for (r = acl->rules, end = acl->rules + acl->n; r < end; r++) {
		if (r->len != len || memcmp(r->lo, a, (size_t)len) > 0 ||
		    memcmp(a, r->hi, (size_t)len) > 0)
			continue;
		if (!r->allow)
			return (0);
		allowed = 1;
	}
	return (allowed);
}
