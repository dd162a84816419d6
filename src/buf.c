/*
 * A byte buffer: bytes appended at the end, consumed from the front. The
 * one buffer type of the pump and the hub. Memory is taken only when bytes
 * must wait, and given back on request once the buffer is empty.
 */

#include <stdlib.h>
#include <string.h>

#include "netkit.h"

/* The smallest allocation a buffer makes. */
#define BUF_MIN (64 * 1024)

/* Make room for n more bytes after the data; -1 when out of memory. */
int
buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *np;

	if (b->cap - b->off - b->len >= n)
		return (0);
	if (b->off > 0 && b->cap - b->len >= n) {
		/* Moving the data to the front makes the room. */
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
		return (0);
	}
	if (b->off > 0) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
	}
	cap = b->cap < BUF_MIN ? BUF_MIN : b->cap;
	while (cap < b->len + n)
		cap *= 2;
	np = realloc(b->p, cap);
	if (np == NULL)
		return (-1);
	b->p = np;
	b->cap = cap;
	return (0);
}

/* Append len bytes; -1 when out of memory. */
int
buf_add(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) == -1)
		return (-1);
	memcpy(b->p + b->off + b->len, data, len);
	b->len += len;
	return (0);
}

/* Forget the first n bytes. */
void
buf_drop(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
}

/* Give the memory back if the buffer is empty. */
void
buf_release(struct buf *b)
{
	if (b->len != 0)
		return;
	free(b->p);
	b->p = NULL;
	b->off = b->cap = 0;
}

/* Free what the buffer holds. */
void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->off = b->len = b->cap = 0;
}
