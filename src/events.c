/*
 * Every line the user can parse: --events (text or json) and -v.
 *
 * Text:  event=socket.close id=1 had_error=false bytes_read=5 ...
 *        a value with a space, '"', '=', '\' or a control byte is written
 *        as a JSON string.
 * JSON:  {"event":"socket.close","id":1,"had_error":false,...}
 *        counts, ids, ports and descriptors are numbers, had_error a
 *        boolean, everything else a string.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "netkit.h"

static enum events_format events_format;
static int events_verbose_on;

/* Choose the event format and whether -v lines are printed. */
void
events_init(enum events_format format, int verbose)
{
	events_format = format;
	events_verbose_on = verbose;
}

/* Whether event lines are wanted at all. */
int
events_enabled(void)
{
	return (events_format != EVENTS_OFF);
}

/* A bounded output buffer for one line. */
struct evbuf {
	char *p;
	size_t len;
	size_t size;
};

/* Append bytes, silently truncating at the end of the buffer. */
static void
evbuf_add(struct evbuf *b, const char *s, size_t n)
{
	if (b->len + n > b->size)
		n = b->size - b->len;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Append a NUL-terminated string. */
static void
evbuf_str(struct evbuf *b, const char *s)
{
	evbuf_add(b, s, strlen(s));
}

/* The length of a valid UTF-8 sequence at s (of at most n bytes), or 0. */
static size_t
events_utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return (0);
	if (n < len)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
	}
	if (c == 0xe0 && s[1] < 0xa0)
		return (0);
	if (c == 0xed && s[1] > 0x9f)
		return (0);
	if (c == 0xf0 && s[1] < 0x90)
		return (0);
	if (c == 0xf4 && s[1] > 0x8f)
		return (0);
	return (len);
}

/* Append s as a JSON string; invalid UTF-8 becomes U+FFFD. */
static void
events_json_string(struct evbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), len;
	char esc[8];

	evbuf_add(b, "\"", 1);
	while (n > 0) {
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s;
			evbuf_add(b, esc, 2);
		} else if (*s == '\n')
			evbuf_add(b, "\\n", 2);
		else if (*s == '\r')
			evbuf_add(b, "\\r", 2);
		else if (*s == '\t')
			evbuf_add(b, "\\t", 2);
		else if (*s < 0x20 || *s == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", *s);
			evbuf_add(b, esc, 6);
		} else if (*s < 0x80)
			evbuf_add(b, (const char *)s, 1);
		else if ((len = events_utf8_len(s, n)) != 0) {
			evbuf_add(b, (const char *)s, len);
			s += len;
			n -= len;
			continue;
		} else
			evbuf_add(b, "\\ufffd", 6);
		s++;
		n--;
	}
	evbuf_add(b, "\"", 1);
}

/* Whether a text value must be quoted. */
static int
events_text_quote(const char *s)
{
	if (*s == '\0')
		return (1);
	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '"' || *s == '=' || *s == '\\' ||
		    (unsigned char)*s < 0x20 || *s == 0x7f)
			return (1);
	}
	return (0);
}

/* Format one event line (with its newline) into buf; returns its length. */
size_t
events_format_line(char *buf, size_t size, enum events_format format,
    const char *name, const struct ev_field *f, size_t n)
{
	struct evbuf b = { buf, 0, size - 1 };
	char num[32];
	size_t i;

	if (size == 0)
		return (0);
	if (format == EVENTS_JSON) {
		evbuf_str(&b, "{\"event\":");
		events_json_string(&b, name);
	} else {
		evbuf_str(&b, "event=");
		evbuf_str(&b, name);
	}
	for (i = 0; i < n; i++) {
		if (format == EVENTS_JSON) {
			evbuf_add(&b, ",", 1);
			events_json_string(&b, f[i].key);
			evbuf_add(&b, ":", 1);
		} else {
			evbuf_add(&b, " ", 1);
			evbuf_str(&b, f[i].key);
			evbuf_add(&b, "=", 1);
		}
		switch (f[i].type) {
		case EVF_INT:
			snprintf(num, sizeof num, "%lld", f[i].n);
			evbuf_str(&b, num);
			break;
		case EVF_BOOL:
			evbuf_str(&b, f[i].n ? "true" : "false");
			break;
		default:
			if (format == EVENTS_JSON || events_text_quote(f[i].s))
				events_json_string(&b, f[i].s);
			else
				evbuf_str(&b, f[i].s);
			break;
		}
	}
	if (format == EVENTS_JSON)
		evbuf_add(&b, "}", 1);
	buf[b.len++] = '\n';
	return (b.len);
}

/* Emit one event line in the chosen format. */
void
events_emit(const char *name, const struct ev_field *f, size_t n)
{
	char line[8192];
	size_t len;

	if (events_format == EVENTS_OFF)
		return;
	len = events_format_line(line, sizeof line, events_format, name, f, n);
	log_write(line, len);
}

/* A human line for -v. */
void
events_verbose(const char *fmt, ...)
{
	va_list ap;

	if (!events_verbose_on)
		return;
	va_start(ap, fmt);
	log_vline(fmt, ap);
	va_end(ap);
}
