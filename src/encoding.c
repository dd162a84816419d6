/*
 * encoding.c: the streaming codecs of --encoding (Node's setEncoding(): how
 * received bytes are written to stdout) and --write-encoding (Node's
 * write(data, encoding): how stdin is decoded before it is sent).
 *
 * A codec sees a stream in chunks split anywhere, and gives the same output
 * (and, decoding, the same bad offset) however the stream is split: the few
 * bytes of an unfinished unit are held in the codec between calls.
 *
 *	encode binary	identity
 *	encode ascii	each byte & 0x7f (Node's 'ascii' strips the high bit)
 *	encode hex	two lowercase digits per byte
 *	encode base64	standard alphabet, '=' padding at the end; holds 0-2 bytes
 *	encode utf8	valid UTF-8 as is; each maximal subpart of an invalid
 *			sequence (WHATWG, as V8 and Node's StringDecoder) becomes
 *			one U+FFFD; holds up to 3 bytes of a split character; an
 *			unfinished character at the end is one U+FFFD
 *	decode binary	identity
 *	decode utf8	identity, but the input must be valid UTF-8; holds up to 3
 *			bytes of a split character until it is complete
 *	decode hex	pairs of digits of either case; whitespace anywhere
 *	decode base64	standard alphabet; whitespace anywhere; '=' padding
 *			optional, then only whitespace (or the rest of the
 *			padding) may follow; a last quantum of 1 character is bad
 *
 * Whitespace is space, tab, CR and LF. On malformed input a decoder
 * returns every byte whose bits all came before the bad byte (with base64,
 * that includes the whole bytes of an unfinished quantum), sets *bad and
 * the 0-based stream offset of the bad byte: the first byte of an invalid
 * UTF-8 sequence, the stray character, or the start of an unfinished unit
 * at the end (a lone hex digit, a 1-character base64 quantum). The error
 * is sticky: later calls return nothing and the same offset. The parser
 * never gives ascii for decoding; a codec made so anyway is the identity.
 *
 * Nothing here allocates but codec_new().
 */

#include <stdlib.h>
#include <string.h>

#include "netkit.h"

struct codec {
	enum encoding enc;
	int decode;

	uint64_t pos; /* stream offset of the next input byte */
	int failed; /* malformed input seen; bad_off says where */
	uint64_t bad_off;

	/*
	 * The unfinished unit: utf8 bytes, base64 input sextets or output
	 * bytes, one hex digit's value. unit_off is the stream offset of its
	 * first input byte.
	 */
	unsigned char hold[4];
	unsigned int nhold;
	uint64_t unit_off;

	unsigned int need; /* utf8: bytes the held character still lacks */
	unsigned char lo, hi; /* utf8: range of its next continuation byte */

	unsigned int npad; /* base64 decode: '=' seen so far */
};

static const char encoding_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char encoding_hexdigits[] = "0123456789abcdef";

/* The names of the encodings; an alias follows its encoding's name. */
static const struct {
	const char *name;
	enum encoding enc;
} encoding_names[] = {
	{ "binary", ENC_BINARY },
	{ "latin1", ENC_BINARY },
	{ "utf8", ENC_UTF8 },
	{ "utf-8", ENC_UTF8 },
	{ "ascii", ENC_ASCII },
	{ "base64", ENC_BASE64 },
	{ "hex", ENC_HEX },
};
#define ENCODING_NNAMES (sizeof encoding_names / sizeof encoding_names[0])

/* Parse an encoding name; for_write refuses those write() cannot take. */
int
encoding_parse(const char *name, int for_write, enum encoding *out)
{
	size_t i;

	for (i = 0; i < ENCODING_NNAMES; i++) {
		if (strcmp(name, encoding_names[i].name) != 0)
			continue;
		if (for_write && encoding_names[i].enc == ENC_ASCII)
			return (-1);
		*out = encoding_names[i].enc;
		return (0);
	}
	return (-1);
}

/*
 * The n-th encoding's name (aliases left out) that encoding_parse takes
 * with for_write, or NULL past the last: the words shell completion offers.
 */
const char *
encoding_name(size_t n, int for_write)
{
	size_t i;

	for (i = 0; i < ENCODING_NNAMES; i++) {
		if (i > 0 && encoding_names[i].enc == encoding_names[i - 1].enc)
			continue;
		if (for_write && encoding_names[i].enc == ENC_ASCII)
			continue;
		if (n-- == 0)
			return (encoding_names[i].name);
	}
	return (NULL);
}

/* A codec for one stream: decode 0 encodes for stdout, 1 decodes stdin. */
struct codec *
codec_new(enum encoding enc, int decode)
{
	struct codec *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return (NULL);
	c->enc = enc;
	c->decode = decode != 0;
	return (c);
}

/* Free a codec; NULL is fine. */
void
codec_free(struct codec *c)
{
	free(c);
}

/* An upper bound of what one feed of len bytes, or a finish, can produce. */
size_t
codec_max_out(const struct codec *c, size_t len)
{
	if (len > (SIZE_MAX - 8) / 3)
		return (SIZE_MAX);
	switch (c->enc) {
	case ENC_UTF8:
		/* Encoding: a U+FFFD per byte, plus the held bytes flushed. */
		return (c->decode ? len + 3 : 3 * len + 3);
	case ENC_BASE64:
		if (c->decode)
			return ((len + 3) / 4 * 3 + 2);
		return ((len + 2) / 3 * 4 + 4);
	case ENC_HEX:
		return (c->decode ? (len + 1) / 2 : 2 * len);
	case ENC_BINARY:
	case ENC_ASCII:
	default:
		return (len);
	}
}

/* Record malformed input at stream offset off. */
static void
codec_fail(struct codec *c, uint64_t off, int *bad, uint64_t *bad_offset)
{
	c->failed = 1;
	c->bad_off = off;
	c->nhold = 0;
	if (bad != NULL)
		*bad = 1;
	if (bad_offset != NULL)
		*bad_offset = off;
}

/* Whether c is the whitespace the decoders skip. */
static inline int
codec_space(unsigned char ch)
{
	return (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n');
}

/*
 * Start a UTF-8 character at lead byte b: the continuation bytes it needs
 * (0 for ASCII) and the range of the first one, or -1 for a byte that
 * cannot start a character (80-C1, F5-FF). The ranges exclude overlongs,
 * surrogates and code points above U+10FFFF, so that the first byte out
 * of range ends a maximal subpart.
 */
static int
codec_utf8_lead(unsigned char b, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xbf;
	if (b < 0x80)
		return (0);
	if (b < 0xc2)
		return (-1);
	if (b < 0xe0)
		return (1);
	if (b < 0xf0) {
		if (b == 0xe0)
			*lo = 0xa0;
		else if (b == 0xed)
			*hi = 0x9f;
		return (2);
	}
	if (b < 0xf5) {
		if (b == 0xf0)
			*lo = 0x90;
		else if (b == 0xf4)
			*hi = 0x8f;
		return (3);
	}
	return (-1);
}

/* Append U+FFFD. */
static inline size_t
codec_fffd(unsigned char *o, size_t n)
{
	o[n++] = 0xef;
	o[n++] = 0xbf;
	o[n++] = 0xbd;
	return (n);
}

/* UTF-8 both ways: encoding replaces what is invalid, decoding refuses it. */
static size_t
codec_utf8(struct codec *c, const unsigned char *in, size_t len,
    unsigned char *o, int *bad, uint64_t *bad_offset)
{
	size_t i = 0, n = 0;
	unsigned char b;
	int need;

	while (i < len) {
		b = in[i];
		if (c->nhold == 0) {
			/* The common case: a run of ASCII. */
			if (b < 0x80) {
				o[n++] = b;
				i++;
				continue;
			}
			need = codec_utf8_lead(b, &c->lo, &c->hi);
			if (need == -1) {
				if (c->decode) {
					codec_fail(c, c->pos + i, bad,
					    bad_offset);
					return (n);
				}
				n = codec_fffd(o, n);
			} else {
				c->hold[0] = b;
				c->nhold = 1;
				c->need = (unsigned int)need;
				c->unit_off = c->pos + i;
			}
			i++;
			continue;
		}
		if (b < c->lo || b > c->hi) {
			/* The held bytes are a maximal subpart; b starts anew. */
			if (c->decode) {
				codec_fail(c, c->unit_off, bad, bad_offset);
				return (n);
			}
			n = codec_fffd(o, n);
			c->nhold = 0;
			continue;
		}
		c->hold[c->nhold++] = b;
		c->lo = 0x80;
		c->hi = 0xbf;
		if (--c->need == 0) {
			memcpy(o + n, c->hold, c->nhold);
			n += c->nhold;
			c->nhold = 0;
		}
		i++;
	}
	c->pos += len;
	return (n);
}

/* Base64 encoding, holding the 0-2 bytes of an unfinished triple. */
static size_t
codec_b64_encode(struct codec *c, const unsigned char *in, size_t len,
    unsigned char *o)
{
	size_t i = 0, n = 0;
	uint32_t v;

	while (c->nhold > 0 && c->nhold < 3 && i < len)
		c->hold[c->nhold++] = in[i++];
	if (c->nhold > 0 && c->nhold < 3)
		return (0);
	for (;;) {
		if (c->nhold == 3) {
			v = (uint32_t)c->hold[0] << 16 |
			    (uint32_t)c->hold[1] << 8 | c->hold[2];
			c->nhold = 0;
		} else if (len - i >= 3) {
			v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			    in[i + 2];
			i += 3;
		} else
			break;
		o[n++] = encoding_b64[v >> 18];
		o[n++] = encoding_b64[(v >> 12) & 0x3f];
		o[n++] = encoding_b64[(v >> 6) & 0x3f];
		o[n++] = encoding_b64[v & 0x3f];
	}
	while (i < len)
		c->hold[c->nhold++] = in[i++];
	return (n);
}

/* The value of a base64 character, or -1. */
static inline int
codec_b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return (ch - 'A');
	if (ch >= 'a' && ch <= 'z')
		return (ch - 'a' + 26);
	if (ch >= '0' && ch <= '9')
		return (ch - '0' + 52);
	if (ch == '+')
		return (62);
	if (ch == '/')
		return (63);
	return (-1);
}

/* The whole bytes of the held 2 or 3 sextets of an unfinished quantum. */
static size_t
codec_b64_partial(const struct codec *c, unsigned char *o, size_t n)
{
	if (c->nhold >= 2)
		o[n++] = (unsigned char)(c->hold[0] << 2 | c->hold[1] >> 4);
	if (c->nhold >= 3)
		o[n++] = (unsigned char)(c->hold[1] << 4 | c->hold[2] >> 2);
	return (n);
}

/* Base64 decoding, holding the sextets of an unfinished quantum. */
static size_t
codec_b64_decode(struct codec *c, const unsigned char *in, size_t len,
    unsigned char *o, int *bad, uint64_t *bad_offset)
{
	size_t i, n = 0;
	unsigned char ch;
	int v;

	for (i = 0; i < len; i++) {
		ch = in[i];
		if (codec_space(ch))
			continue;
		if (c->npad > 0) {
			/* Only the rest of the padding may follow it. */
			if (ch == '=' && c->nhold + c->npad < 4) {
				c->npad++;
				continue;
			}
			codec_fail(c, c->pos + i, bad, bad_offset);
			return (n);
		}
		if (ch == '=') {
			if (c->nhold < 2) {
				/* After a whole quantum, or after one char. */
				codec_fail(c,
				    c->nhold == 0 ? c->pos + i : c->unit_off,
				    bad, bad_offset);
				return (n);
			}
			n = codec_b64_partial(c, o, n);
			c->npad = 1;
			continue;
		}
		if ((v = codec_b64_value(ch)) == -1) {
			n = codec_b64_partial(c, o, n);
			codec_fail(c, c->pos + i, bad, bad_offset);
			return (n);
		}
		if (c->nhold == 0)
			c->unit_off = c->pos + i;
		c->hold[c->nhold++] = (unsigned char)v;
		if (c->nhold == 4) {
			o[n++] = (unsigned char)(c->hold[0] << 2 |
			    c->hold[1] >> 4);
			o[n++] = (unsigned char)(c->hold[1] << 4 |
			    c->hold[2] >> 2);
			o[n++] = (unsigned char)(c->hold[2] << 6 | c->hold[3]);
			c->nhold = 0;
		}
	}
	c->pos += len;
	return (n);
}

/* The value of a hex digit of either case, or -1. */
static inline int
codec_hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return (ch - '0');
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return (ch - 'a' + 10);
	return (-1);
}

/* Hex decoding, holding the first digit of an unfinished pair. */
static size_t
codec_hex_decode(struct codec *c, const unsigned char *in, size_t len,
    unsigned char *o, int *bad, uint64_t *bad_offset)
{
	size_t i, n = 0;
	int v;

	for (i = 0; i < len; i++) {
		if (codec_space(in[i]))
			continue;
		if ((v = codec_hex_value(in[i])) == -1) {
			codec_fail(c, c->pos + i, bad, bad_offset);
			return (n);
		}
		if (c->nhold == 0) {
			c->hold[0] = (unsigned char)v;
			c->nhold = 1;
			c->unit_off = c->pos + i;
		} else {
			o[n++] = (unsigned char)(c->hold[0] << 4 | v);
			c->nhold = 0;
		}
	}
	c->pos += len;
	return (n);
}

/* Transform one chunk of the stream into out (codec_max_out(len) bytes). */
size_t
codec_feed(struct codec *c, const char *in, size_t len, char *out, int *bad,
    uint64_t *bad_offset)
{
	const unsigned char *ui = (const unsigned char *)in;
	unsigned char *uo = (unsigned char *)out;
	size_t i;

	if (c->failed) {
		if (bad != NULL)
			*bad = 1;
		if (bad_offset != NULL)
			*bad_offset = c->bad_off;
		return (0);
	}
	switch (c->enc) {
	case ENC_UTF8:
		return (codec_utf8(c, ui, len, uo, bad, bad_offset));
	case ENC_BASE64:
		if (c->decode)
			return (codec_b64_decode(c, ui, len, uo, bad,
			    bad_offset));
		c->pos += len;
		return (codec_b64_encode(c, ui, len, uo));
	case ENC_HEX:
		if (c->decode)
			return (codec_hex_decode(c, ui, len, uo, bad,
			    bad_offset));
		for (i = 0; i < len; i++) {
			uo[2 * i] = encoding_hexdigits[ui[i] >> 4];
			uo[2 * i + 1] = encoding_hexdigits[ui[i] & 0xf];
		}
		c->pos += len;
		return (2 * len);
	case ENC_ASCII:
		if (!c->decode) {
			for (i = 0; i < len; i++)
				uo[i] = ui[i] & 0x7f;
			c->pos += len;
			return (len);
		}
		/* FALLTHROUGH */
	case ENC_BINARY:
	default:
		if (len > 0)
			memmove(out, in, len);
		c->pos += len;
		return (len);
	}
}

/* End of the stream: flush what is held, or report an unfinished unit. */
size_t
codec_finish(struct codec *c, char *out, int *bad, uint64_t *bad_offset)
{
	unsigned char *uo = (unsigned char *)out;
	size_t n = 0;
	uint32_t v;

	if (c->failed) {
		if (bad != NULL)
			*bad = 1;
		if (bad_offset != NULL)
			*bad_offset = c->bad_off;
		return (0);
	}
	if (c->nhold == 0)
		return (0);
	switch (c->enc) {
	case ENC_UTF8:
		if (c->decode) {
			codec_fail(c, c->unit_off, bad, bad_offset);
			return (0);
		}
		n = codec_fffd(uo, 0);
		break;
	case ENC_BASE64:
		if (c->decode) {
			/* Held only while unpadded: 1 to 3 sextets. */
			if (c->nhold == 1) {
				codec_fail(c, c->unit_off, bad, bad_offset);
				return (0);
			}
			if (c->npad == 0)
				n = codec_b64_partial(c, uo, 0);
			break;
		}
		v = (uint32_t)c->hold[0] << 16;
		if (c->nhold == 2)
			v |= (uint32_t)c->hold[1] << 8;
		uo[0] = encoding_b64[v >> 18];
		uo[1] = encoding_b64[(v >> 12) & 0x3f];
		uo[2] = c->nhold == 2 ? encoding_b64[(v >> 6) & 0x3f] : '=';
		uo[3] = '=';
		n = 4;
		break;
	case ENC_HEX:
		codec_fail(c, c->unit_off, bad, bad_offset);
		return (0);
	default:
		break;
	}
	c->nhold = 0;
	return (n);
}
