/*
 * fuzz-events: events_format_line() with fuzzed names, keys and values.
 *
 * Input: byte 0 picks the format (bit 0: JSON) and whether the buffer is
 * small (bit 1; byte 1 is then its size); the rest is split at NUL bytes
 * into the name, then pairs of segments: a type byte and the key, then the
 * value (a string; for a number, up to 8 bytes of it; for a boolean,
 * whether it is empty). Text lines only ever have constant names and keys,
 * so in text mode those are mapped onto [a-z._].
 *
 * With a buffer large enough for any line, checked:
 * - JSON: one line ending in '\n', no raw control byte, valid UTF-8, and
 *   valid JSON (parsed by the small checker below) whose members are the
 *   event name then the fields, in order, with the same values: strings
 *   with each byte that does not start a valid UTF-8 sequence replaced by
 *   U+FFFD, numbers and booleans exactly.
 * - text: one line "event=NAME key=value ...": a value is written as a
 *   JSON string exactly when it is empty or has a space, '"', '=', '\' or
 *   a control byte (DEL included), and reads back as above; otherwise it is
 *   written as is.
 * With a small buffer: never more than the buffer (an exact-size heap
 * block), always ending in '\n', and a prefix of the full line.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netkit.h"

#define MAX_FIELDS 16

/* Stubs: events.c writes through log.c, unused by events_format_line(). */
void
log_write(const char *p, size_t n)
{
	(void)p;
	(void)n;
}

void
log_vline(const char *fmt, va_list ap)
{
	(void)fmt;
	(void)ap;
}

struct sbuf {
	unsigned char *p;
	size_t len, size;
};

static void
sbuf_add(struct sbuf *b, const void *p, size_t n)
{
	if (b->len + n > b->size) {
		b->size = (b->len + n) * 2 + 16;
		if ((b->p = realloc(b->p, b->size)) == NULL)
			abort();
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static const unsigned char *cur_line;
static size_t cur_len;

/* Stop on a failed check, showing the line. */
static void
fail(const char *what)
{
	size_t i;

	fprintf(stderr, "fuzz-events: %s; line (%zu bytes): ", what, cur_len);
	for (i = 0; i < cur_len; i++) {
		if (cur_line[i] >= 0x20 && cur_line[i] < 0x7f)
			fputc(cur_line[i], stderr);
		else
			fprintf(stderr, "<%02x>", cur_line[i]);
	}
	fprintf(stderr, "\n");
	abort();
}

/* The length of a valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, j;
	uint32_t cp, min;

	if (s[0] < 0x80)
		return (1);
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return (0);
	if (n < len)
		return (0);
	for (j = 1; j < len; j++) {
		if ((s[j] & 0xc0) != 0x80)
			return (0);
		cp = cp << 6 | (s[j] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return (0);
	return (len);
}

/* What a string should read back as: bad bytes become U+FFFD one each. */
static void
sanitize(const char *str, struct sbuf *b)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), k;

	while (n > 0) {
		if ((k = utf8_seq(s, n)) == 0) {
			sbuf_add(b, "\xef\xbf\xbd", 3);
			k = 1;
		} else
			sbuf_add(b, s, k);
		s += k;
		n -= k;
	}
}

/* Append code point cp as UTF-8. */
static void
put_utf8(struct sbuf *b, uint32_t cp)
{
	unsigned char u[4];

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		sbuf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		sbuf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		sbuf_add(b, u, 3);
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		sbuf_add(b, u, 4);
	}
}

/* A JSON reader over s[0..n). */
struct jp {
	const unsigned char *s;
	size_t n, i;
};

static void
jp_ws(struct jp *j)
{
	while (j->i < j->n &&
	    (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
		j->s[j->i] == '\r'))
		j->i++;
}

static int
jp_peek(struct jp *j)
{
	return (j->i < j->n ? j->s[j->i] : -1);
}

/* Four hex digits. */
static uint32_t
jp_hex4(struct jp *j)
{
	uint32_t v = 0;
	int k, c;

	for (k = 0; k < 4; k++) {
		c = jp_peek(j);
		if (c >= '0' && c <= '9')
			v = v * 16 + (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (uint32_t)(c - 'A' + 10);
		else
			fail("JSON: bad \\u escape");
		j->i++;
	}
	return (v);
}

/* A string: escapes decoded into out, raw bytes valid UTF-8, no controls. */
static void
jp_string(struct jp *j, struct sbuf *out)
{
	uint32_t cp, lo;
	size_t k;
	int c;

	if (jp_peek(j) != '"')
		fail("JSON: a string was expected");
	j->i++;
	for (;;) {
		c = jp_peek(j);
		if (c == -1)
			fail("JSON: unterminated string");
		if (c == '"') {
			j->i++;
			return;
		}
		if (c < 0x20)
			fail("JSON: raw control byte in a string");
		if (c != '\\') {
			if ((k = utf8_seq(j->s + j->i, j->n - j->i)) == 0)
				fail("JSON: invalid UTF-8 in a string");
			sbuf_add(out, j->s + j->i, k);
			j->i += k;
			continue;
		}
		j->i++;
		c = jp_peek(j);
		j->i++;
		switch (c) {
		case '"':
			sbuf_add(out, "\"", 1);
			break;
		case '\\':
			sbuf_add(out, "\\", 1);
			break;
		case '/':
			sbuf_add(out, "/", 1);
			break;
		case 'b':
			sbuf_add(out, "\b", 1);
			break;
		case 'f':
			sbuf_add(out, "\f", 1);
			break;
		case 'n':
			sbuf_add(out, "\n", 1);
			break;
		case 'r':
			sbuf_add(out, "\r", 1);
			break;
		case 't':
			sbuf_add(out, "\t", 1);
			break;
		case 'u':
			cp = jp_hex4(j);
			if (cp >= 0xdc00 && cp <= 0xdfff)
				fail("JSON: lone low surrogate");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (jp_peek(j) != '\\')
					fail("JSON: lone high surrogate");
				j->i++;
				if (jp_peek(j) != 'u')
					fail("JSON: lone high surrogate");
				j->i++;
				lo = jp_hex4(j);
				if (lo < 0xdc00 || lo > 0xdfff)
					fail("JSON: bad surrogate pair");
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			put_utf8(out, cp);
			break;
		default:
			fail("JSON: bad escape");
		}
	}
}

/* A number, as its text. */
static void
jp_number(struct jp *j, struct sbuf *out)
{
	size_t start = j->i;

	if (jp_peek(j) == '-')
		j->i++;
	if (jp_peek(j) == '0')
		j->i++;
	else if (jp_peek(j) >= '1' && jp_peek(j) <= '9') {
		while (jp_peek(j) >= '0' && jp_peek(j) <= '9')
			j->i++;
	} else
		fail("JSON: bad number");
	if (jp_peek(j) == '.') {
		j->i++;
		if (!(jp_peek(j) >= '0' && jp_peek(j) <= '9'))
			fail("JSON: bad fraction");
		while (jp_peek(j) >= '0' && jp_peek(j) <= '9')
			j->i++;
	}
	if (jp_peek(j) == 'e' || jp_peek(j) == 'E') {
		j->i++;
		if (jp_peek(j) == '+' || jp_peek(j) == '-')
			j->i++;
		if (!(jp_peek(j) >= '0' && jp_peek(j) <= '9'))
			fail("JSON: bad exponent");
		while (jp_peek(j) >= '0' && jp_peek(j) <= '9')
			j->i++;
	}
	sbuf_add(out, j->s + start, j->i - start);
}

/* A literal word. */
static int
jp_word(struct jp *j, const char *w)
{
	size_t n = strlen(w);

	if (j->n - j->i < n || memcmp(j->s + j->i, w, n) != 0)
		return (0);
	j->i += n;
	return (1);
}

/* One member value: its type ('s', 'n', 't', 'f') and its text. */
static int
jp_value(struct jp *j, struct sbuf *out)
{
	int c = jp_peek(j);

	if (c == '"') {
		jp_string(j, out);
		return ('s');
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		jp_number(j, out);
		return ('n');
	}
	if (jp_word(j, "true"))
		return ('t');
	if (jp_word(j, "false"))
		return ('f');
	fail("JSON: bad value");
	return (0);
}

struct field {
	char *key;
	int type;
	char *s;
	long long n;
};

/* The expected text of a field's value: its type, and sanitized string. */
static int
expect_value(const struct field *f, struct sbuf *want)
{
	char num[32];

	switch (f->type) {
	case EVF_INT:
		snprintf(num, sizeof num, "%lld", f->n);
		sbuf_add(want, num, strlen(num));
		return ('n');
	case EVF_BOOL:
		return (f->n ? 't' : 'f');
	default:
		sanitize(f->s, want);
		return ('s');
	}
}

static int
buf_eq(const struct sbuf *a, const struct sbuf *b)
{
	return (a->len == b->len &&
	    (a->len == 0 || memcmp(a->p, b->p, a->len) == 0));
}

/* The JSON line: an object of "event" then the fields, in order. */
static void
check_json(const unsigned char *line, size_t len, const char *name,
    const struct field *f, size_t nf)
{
	struct jp j = { line, len - 1, 0 };
	struct sbuf got = { 0 }, want = { 0 };
	size_t i;
	int type, wtype;

	jp_ws(&j);
	if (jp_peek(&j) != '{')
		fail("JSON: not an object");
	j.i++;
	for (i = 0; i <= nf; i++) {
		jp_ws(&j);
		if (i > 0) {
			if (jp_peek(&j) != ',')
				fail("JSON: ',' expected");
			j.i++;
			jp_ws(&j);
		}
		got.len = want.len = 0;
		jp_string(&j, &got);
		if (i == 0)
			sbuf_add(&want, "event", 5);
		else
			sanitize(f[i - 1].key, &want);
		if (!buf_eq(&got, &want))
			fail("JSON: wrong key");
		jp_ws(&j);
		if (jp_peek(&j) != ':')
			fail("JSON: ':' expected");
		j.i++;
		jp_ws(&j);
		got.len = want.len = 0;
		type = jp_value(&j, &got);
		if (i == 0) {
			wtype = 's';
			sanitize(name, &want);
		} else
			wtype = expect_value(&f[i - 1], &want);
		if (type != wtype || !buf_eq(&got, &want))
			fail("JSON: wrong value");
	}
	jp_ws(&j);
	if (jp_peek(&j) != '}')
		fail("JSON: '}' expected");
	j.i++;
	jp_ws(&j);
	if (j.i != j.n)
		fail("JSON: trailing bytes");
	free(got.p);
	free(want.p);
}

/* Whether the text format must quote s. */
static int
needs_quote(const char *s)
{
	if (*s == '\0')
		return (1);
	for (; *s != '\0'; s++) {
		if (strchr(" \"=\\", *s) != NULL || (unsigned char)*s < 0x20 ||
		    (unsigned char)*s == 0x7f)
			return (1);
	}
	return (0);
}

/* The text line: event=NAME then " key=value" for each field. */
static void
check_text(const unsigned char *line, size_t len, const char *name,
    const struct field *f, size_t nf)
{
	struct jp j = { line, len - 1, 0 };
	struct sbuf got = { 0 }, want = { 0 };
	char num[32];
	size_t i, start, klen;
	const char *key, *val;

	for (i = 0; i <= nf; i++) {
		key = i == 0 ? "event" : f[i - 1].key;
		klen = strlen(key);
		if (i > 0) {
			if (jp_peek(&j) != ' ')
				fail("text: ' ' expected");
			j.i++;
		}
		if (j.n - j.i < klen + 1 ||
		    memcmp(line + j.i, key, klen) != 0 ||
		    line[j.i + klen] != '=')
			fail("text: wrong key");
		j.i += klen + 1;
		if (i == 0) {
			if (j.n - j.i < strlen(name) ||
			    memcmp(line + j.i, name, strlen(name)) != 0)
				fail("text: wrong name");
			j.i += strlen(name);
			continue;
		}
		got.len = want.len = 0;
		if (f[i - 1].type == EVF_STR) {
			val = f[i - 1].s;
			if (needs_quote(val)) {
				jp_string(&j, &got);
				sanitize(val, &want);
				if (!buf_eq(&got, &want))
					fail("text: wrong quoted value");
				continue;
			}
			if (jp_peek(&j) == '"')
				fail("text: a plain value is quoted");
		} else if (f[i - 1].type == EVF_INT) {
			snprintf(num, sizeof num, "%lld", f[i - 1].n);
			val = num;
		} else
			val = f[i - 1].n ? "true" : "false";
		start = j.i;
		while (j.i < j.n && line[j.i] != ' ')
			j.i++;
		if (j.i - start != strlen(val) ||
		    memcmp(line + start, val, j.i - start) != 0)
			fail("text: wrong plain value");
	}
	if (j.i != j.n)
		fail("text: trailing bytes");
	free(got.p);
	free(want.p);
}

/* Map a name or key of the text format onto [a-z._]. */
static void
tame(char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz._";

	if (*s == '\0')
		return;
	for (; *s != '\0'; s++)
		*s = ok[(unsigned char)*s % (sizeof ok - 1)];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct field f[MAX_FIELDS];
	struct ev_field ev[MAX_FIELDS];
	enum events_format format;
	char *copy, *seg[2 * MAX_FIELDS + 1], *name;
	unsigned char *line, *small;
	size_t nseg = 0, nf = 0, i, len, slen, lsize, ssize = 0;
	int smallbuf;

	if (size < 2)
		return (0);
	format = (data[0] & 1) ? EVENTS_JSON : EVENTS_TEXT;
	smallbuf = (data[0] & 2) != 0;
	if (smallbuf)
		ssize = 1 + data[1];
	data += 2;
	size -= 2;

	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	seg[nseg++] = copy;
	for (i = 0; i < size && nseg < 2 * MAX_FIELDS + 1; i++) {
		if (copy[i] == '\0')
			seg[nseg++] = copy + i + 1;
	}
	name = seg[0];
	for (i = 1; i + 1 < nseg; i += 2) {
		f[nf].type = "sib"[(unsigned char)seg[i][0] % 3];
		f[nf].key = seg[i][0] != '\0' ? seg[i] + 1 : seg[i];
		f[nf].s = seg[i + 1];
		f[nf].n = 0;
		if (f[nf].type == EVF_INT) {
			slen = strlen(seg[i + 1]);
			memcpy(&f[nf].n, seg[i + 1], slen < 8 ? slen : 8);
		} else if (f[nf].type == EVF_BOOL)
			f[nf].n = seg[i + 1][0] != '\0';
		nf++;
	}
	if (format == EVENTS_TEXT) {
		tame(name);
		for (i = 0; i < nf; i++)
			tame(f[i].key);
	}
	for (i = 0; i < nf; i++) {
		ev[i].key = f[i].key;
		ev[i].type = f[i].type;
		ev[i].s = f[i].type == EVF_STR ? f[i].s : NULL;
		ev[i].n = f[i].n;
	}

	/* Room for the worst case: every byte as \u00XX, every number long. */
	lsize = 64 + 6 * size + 40 * (nf + 1);
	if ((line = malloc(lsize)) == NULL)
		abort();
	len = events_format_line((char *)line, lsize, format, name, ev, nf);
	cur_line = line;
	cur_len = len;
	if (len == 0 || len > lsize)
		fail("bad length");
	if (len == lsize)
		fail("the line filled the worst-case buffer");
	if (line[len - 1] != '\n' || memchr(line, '\n', len - 1) != NULL)
		fail("not one line");
	if (format == EVENTS_JSON) {
		for (i = 0; i < len - 1; i++) {
			if (line[i] < 0x20 || line[i] == 0x7f)
				fail("raw control byte");
		}
		check_json(line, len, name, f, nf);
	} else
		check_text(line, len, name, f, nf);

	if (smallbuf) {
		/* Truncated: within the buffer, a prefix, still one line. */
		if ((small = malloc(ssize)) == NULL)
			abort();
		slen = events_format_line((char *)small, ssize, format, name,
		    ev, nf);
		cur_line = small;
		cur_len = slen;
		if (slen < 1 || slen > ssize)
			fail("small buffer: bad length");
		if (slen - 1 != (len - 1 < ssize - 1 ? len - 1 : ssize - 1))
			fail("small buffer: wrong length");
		if (small[slen - 1] != '\n' ||
		    memcmp(small, line, slen - 1) != 0)
			fail("small buffer: not a prefix of the line");
		free(small);
	}
	free(line);
	free(copy);
	return (0);
}
