/*
 * TLS on a connection (OpenSSL 3), driven by hand on the non-blocking
 * socket: the pump reads and writes a session through tls_io_ops, whose
 * calls answer IO_WANT_POLLIN / IO_WANT_POLLOUT as libtls does, so the
 * relay's flow control, half-close and timeout rules stay what they are.
 *
 * A client verifies as Node's tls.connect does: the chain is checked to its
 * end (every error accepted on the way, so the result is OpenSSL's final
 * one, not the first it met), then the name against the certificate's SAN
 * (never the CN); an IP literal sends no SNI and is matched against IP
 * SANs. Codes are Node's err.code: the X509_V_ERR_ name without its prefix,
 * ERR_TLS_CERT_ALTNAME_INVALID for a name mismatch, ERR_SSL_<REASON> for
 * any other handshake failure.
 *
 * The end of a session: stdin's EOF sends close_notify, then FIN; the
 * peer's close_notify reads as EOF. A peer that closes TCP without
 * close_notify reads as EOF too (SSL_OP_IGNORE_UNEXPECTED_EOF, so the
 * session still sends after it, as a half-closed one must), and
 * tls_close_notify() tells the two apart by the alert itself, seen
 * through the message callback (OpenSSL marks both as a received
 * shutdown).
 */

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "netkit.h"

struct tls_config {
	SSL_CTX *ctx;
	int server;
	int insecure; /* --tls-insecure */
	const char *servername; /* --tls-servername */
	unsigned char *alpn; /* wire format: length-prefixed names */
	size_t alpn_len;
};

struct tls {
	SSL *ssl;
	struct tls_config *cfg;
	int fd;
	char name[256]; /* the name checked (client), or "" */
	int name_is_ip;
	char code[64]; /* the failure, Node's code */
	char message[256];
	int verify_error; /* X509_V_OK, or the chain's final error */
	int name_ok;
	int shut; /* close_notify sent */
	int bare_eof; /* the peer closed TCP without close_notify */
	int notify_seen; /* the peer's close_notify alert arrived */
	/* the handshake on the loop */
	struct event_base *base;
	struct event *ev;
	struct event *timer;
	void (*done)(struct tls *, int, void *);
	void *arg;
};

/* Node's codes for the chain errors it names; else OpenSSL's name. */
static const struct {
	int err;
	const char *code;
} tls_verify_codes[] = {
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "UNABLE_TO_GET_ISSUER_CERT" },
	{ X509_V_ERR_UNABLE_TO_GET_CRL, "UNABLE_TO_GET_CRL" },
	{ X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
	    "UNABLE_TO_DECRYPT_CERT_SIGNATURE" },
	{ X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE,
	    "UNABLE_TO_DECRYPT_CRL_SIGNATURE" },
	{ X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY,
	    "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY" },
	{ X509_V_ERR_CERT_SIGNATURE_FAILURE, "CERT_SIGNATURE_FAILURE" },
	{ X509_V_ERR_CRL_SIGNATURE_FAILURE, "CRL_SIGNATURE_FAILURE" },
	{ X509_V_ERR_CERT_NOT_YET_VALID, "CERT_NOT_YET_VALID" },
	{ X509_V_ERR_CERT_HAS_EXPIRED, "CERT_HAS_EXPIRED" },
	{ X509_V_ERR_CRL_NOT_YET_VALID, "CRL_NOT_YET_VALID" },
	{ X509_V_ERR_CRL_HAS_EXPIRED, "CRL_HAS_EXPIRED" },
	{ X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD,
	    "ERROR_IN_CERT_NOT_BEFORE_FIELD" },
	{ X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD,
	    "ERROR_IN_CERT_NOT_AFTER_FIELD" },
	{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
	    "DEPTH_ZERO_SELF_SIGNED_CERT" },
	{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "SELF_SIGNED_CERT_IN_CHAIN" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
	    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY" },
	{ X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
	    "UNABLE_TO_VERIFY_LEAF_SIGNATURE" },
	{ X509_V_ERR_CERT_CHAIN_TOO_LONG, "CERT_CHAIN_TOO_LONG" },
	{ X509_V_ERR_CERT_REVOKED, "CERT_REVOKED" },
	{ X509_V_ERR_INVALID_CA, "INVALID_CA" },
	{ X509_V_ERR_PATH_LENGTH_EXCEEDED, "PATH_LENGTH_EXCEEDED" },
	{ X509_V_ERR_INVALID_PURPOSE, "INVALID_PURPOSE" },
	{ X509_V_ERR_CERT_UNTRUSTED, "CERT_UNTRUSTED" },
	{ X509_V_ERR_CERT_REJECTED, "CERT_REJECTED" },
	{ X509_V_ERR_HOSTNAME_MISMATCH, "HOSTNAME_MISMATCH" },
};

/* Node's code of a chain verification result. */
static const char *
tls_verify_code(int err)
{
	size_t i;

	for (i = 0; i < sizeof tls_verify_codes / sizeof tls_verify_codes[0];
	     i++) {
		if (tls_verify_codes[i].err == err)
			return (tls_verify_codes[i].code);
	}
	return ("CERT_VERIFY_FAILED");
}

/*
 * Keep the first queued OpenSSL error as ERR_SSL_<REASON> with its reason
 * as the message ("wrong version number"); fall back to errno, then to a
 * plain protocol error.
 */
static void
tls_fail_ssl(char *code, size_t csize, char *msg, size_t msize, int err)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	size_t i, n;

	ERR_clear_error();
	if (reason != NULL) {
		n = (size_t)snprintf(code, csize, "ERR_SSL_");
		for (i = 0; reason[i] != '\0' && n + 1 < csize; i++, n++) {
			if (reason[i] == ' ' || reason[i] == '-')
				code[n] = '_';
			else if (reason[i] >= 'a' && reason[i] <= 'z')
				code[n] = (char)(reason[i] - 'a' + 'A');
			else
				code[n] = reason[i];
		}
		code[n] = '\0';
		snprintf(msg, msize, "%s", reason);
	} else if (err != 0) {
		snprintf(code, csize, "%s", log_errno_name(err));
		snprintf(msg, msize, "%s", strerror(err));
	} else {
		snprintf(code, csize, "ECONNRESET");
		snprintf(msg, msize, "%s",
		    "connection closed during the TLS "
		    "handshake");
	}
}

/* A configuration failure: the file, OpenSSL's reason and its code. */
static void
tls_config_error(struct tls_error *e, const char *what, const char *path)
{
	unsigned long last = ERR_peek_last_error();

	while (ERR_peek_error() != last)
		(void)ERR_get_error(); /* keep the last: the real reason */
	snprintf(e->where, sizeof e->where, "%s%s%s", what,
	    path != NULL ? " " : "", path != NULL ? path : "");
	tls_fail_ssl(e->code, sizeof e->code, e->message, sizeof e->message,
	    errno);
}

/* A file the options name must be readable: -1 with errno's code if not. */
static int
tls_config_file(struct tls_error *e, const char *what, const char *path)
{
	if (path == NULL || access(path, R_OK) == 0)
		return (0);
	snprintf(e->where, sizeof e->where, "%s %s", what, path);
	snprintf(e->code, sizeof e->code, "%s", log_errno_name(errno));
	snprintf(e->message, sizeof e->message, "%s", strerror(errno));
	return (-1);
}

/* Every chain error is accepted on the way: the final result decides. */
static int
tls_verify_cb(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return (1);
}

/* The server picks the first of its own protocols that the client offers. */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct tls_config *cfg = arg;
	size_t i, j;

	(void)ssl;
	for (i = 0; i < cfg->alpn_len; i += 1 + cfg->alpn[i]) {
		for (j = 0; j < inlen; j += 1 + in[j]) {
			if (in[j] == cfg->alpn[i] && j + 1 + in[j] <= inlen &&
			    memcmp(in + j + 1, cfg->alpn + i + 1, in[j]) == 0) {
				*out = cfg->alpn + i + 1;
				*outlen = cfg->alpn[i];
				return (SSL_TLSEXT_ERR_OK);
			}
		}
	}
	return (SSL_TLSEXT_ERR_ALERT_FATAL); /* no_application_protocol */
}

/* "h2,http/1.1" in ALPN's wire format; -1 on a bad list. */
static int
tls_alpn_wire(const char *list, unsigned char **out, size_t *outlen)
{
	size_t len = strlen(list), n = 0, start = 0, i;
	unsigned char *w;

	if ((w = malloc(len + 1)) == NULL)
		return (-1);
	for (i = 0; i <= len; i++) {
		if (list[i] != ',' && list[i] != '\0')
			continue;
		if (i == start || i - start > 255) {
			free(w);
			return (-1);
		}
		w[n++] = (unsigned char)(i - start);
		memcpy(w + n, list + start, i - start);
		n += i - start;
		start = i + 1;
	}
	*out = w;
	*outlen = n;
	return (0);
}

/*
 * The TLS settings of a command: its own certificate and key (a key that
 * does not match is an error here, before any connection), the trusted
 * CAs, the versions, ALPN. NULL with a message in err on failure.
 */
struct tls_config *
tls_config_new(const struct options *o, int server, struct tls_error *err)
{
	struct tls_config *cfg;
	struct stat st;
	int min = TLS1_2_VERSION;

	if ((cfg = calloc(1, sizeof *cfg)) == NULL) {
		snprintf(err->where, sizeof err->where, "--tls");
		snprintf(err->code, sizeof err->code, "ENOMEM");
		snprintf(err->message, sizeof err->message, "%s",
		    strerror(ENOMEM));
		return (NULL);
	}
	cfg->server = server;
	cfg->insecure = o->tls_insecure;
	cfg->servername = o->tls_servername;
	cfg->ctx = SSL_CTX_new(server ? TLS_server_method()
				      : TLS_client_method());
	if (cfg->ctx == NULL) {
		tls_config_error(err, "TLS", NULL);
		goto fail;
	}
	if (o->tls_min_version == 13)
		min = TLS1_3_VERSION;
	SSL_CTX_set_min_proto_version(cfg->ctx, min);
	SSL_CTX_set_options(cfg->ctx,
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_ENABLE_KTLS |
		SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(cfg->ctx,
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (tls_config_file(err, "--tls-cert", o->tls_cert) == -1 ||
	    tls_config_file(err, "--tls-key", o->tls_key) == -1 ||
	    tls_config_file(err, "--tls-ca", o->tls_ca) == -1)
		goto fail;
	if (o->tls_cert != NULL &&
	    SSL_CTX_use_certificate_chain_file(cfg->ctx, o->tls_cert) != 1) {
		tls_config_error(err, "--tls-cert", o->tls_cert);
		goto fail;
	}
	if (o->tls_key != NULL &&
	    SSL_CTX_use_PrivateKey_file(cfg->ctx, o->tls_key,
		SSL_FILETYPE_PEM) != 1) {
		tls_config_error(err, "--tls-key", o->tls_key);
		goto fail;
	}
	if (o->tls_cert != NULL && o->tls_key != NULL &&
	    SSL_CTX_check_private_key(cfg->ctx) != 1) {
		tls_config_error(err, "--tls-key", o->tls_key);
		goto fail;
	}
	if (o->tls_ca != NULL) {
		if ((stat(o->tls_ca, &st) == 0 && S_ISDIR(st.st_mode)
			    ? SSL_CTX_load_verify_dir(cfg->ctx, o->tls_ca)
			    : SSL_CTX_load_verify_file(cfg->ctx, o->tls_ca)) !=
		    1) {
			tls_config_error(err, "--tls-ca", o->tls_ca);
			goto fail;
		}
		ERR_clear_error();
	} else if (!server)
		SSL_CTX_set_default_verify_paths(cfg->ctx);
	if (!server)
		SSL_CTX_set_verify(cfg->ctx, SSL_VERIFY_PEER, tls_verify_cb);
	else if (o->tls_verify_client) {
		SSL_CTX_set_verify(cfg->ctx,
		    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		if (o->tls_ca != NULL)
			SSL_CTX_set_client_CA_list(cfg->ctx,
			    SSL_load_client_CA_file(o->tls_ca));
		ERR_clear_error();
	}
	if (o->tls_alpn != NULL) {
		if (tls_alpn_wire(o->tls_alpn, &cfg->alpn, &cfg->alpn_len) ==
		    -1) {
			snprintf(err->where, sizeof err->where, "--tls-alpn");
			snprintf(err->code, sizeof err->code, "EINVAL");
			snprintf(err->message, sizeof err->message,
			    "bad protocol list '%s'", o->tls_alpn);
			goto fail;
		}
		if (server)
			SSL_CTX_set_alpn_select_cb(cfg->ctx, tls_alpn_select,
			    cfg);
		else if (SSL_CTX_set_alpn_protos(cfg->ctx, cfg->alpn,
			     (unsigned int)cfg->alpn_len) != 0) {
			tls_config_error(err, "--tls-alpn", NULL);
			goto fail;
		}
	}
	return (cfg);

fail:
	tls_config_free(cfg);
	return (NULL);
}

/* Free a command's TLS settings. */
void
tls_config_free(struct tls_config *cfg)
{
	if (cfg == NULL)
		return;
	SSL_CTX_free(cfg->ctx);
	free(cfg->alpn);
	free(cfg);
}

/* See the peer's close_notify alert as it arrives. */
static void
tls_msg_cb(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	const unsigned char *b = buf;
	struct tls *t = arg;

	(void)version;
	(void)ssl;
	if (!write_p && content_type == SSL3_RT_ALERT && len >= 2 &&
	    b[1] == SSL_AD_CLOSE_NOTIFY)
		t->notify_seen = 1;
}

/* Whether s is an IPv4 or IPv6 literal. */
static int
tls_is_ip(const char *s)
{
	return (isip(s, strlen(s)) != 0);
}

/*
 * A session on a connected socket. A client checks host (or
 * --tls-servername) and sends it as SNI unless it is an IP literal.
 */
struct tls *
tls_new(struct tls_config *cfg, int fd, const char *host)
{
	struct tls *t;
	const char *name;

	if ((t = calloc(1, sizeof *t)) == NULL)
		return (NULL);
	t->cfg = cfg;
	t->fd = fd;
	t->verify_error = X509_V_OK;
	if ((t->ssl = SSL_new(cfg->ctx)) == NULL ||
	    SSL_set_fd(t->ssl, fd) != 1) {
		tls_free(t);
		return (NULL);
	}
	SSL_set_msg_callback(t->ssl, tls_msg_cb);
	SSL_set_msg_callback_arg(t->ssl, t);
	if (cfg->server) {
		SSL_set_accept_state(t->ssl);
		return (t);
	}
	SSL_set_connect_state(t->ssl);
	name = cfg->servername != NULL ? cfg->servername : host;
	if (name == NULL)
		name = "";
	snprintf(t->name, sizeof t->name, "%s", name);
	t->name_is_ip = tls_is_ip(t->name);
	if (*t->name != '\0' && !t->name_is_ip)
		SSL_set_tlsext_host_name(t->ssl, t->name);
	return (t);
}

/* Free a session (the descriptor stays open). */
void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->ev != NULL)
		event_free(t->ev);
	if (t->timer != NULL)
		event_free(t->timer);
	SSL_free(t->ssl);
	free(t);
}

/* The client's checks once the handshake is done: chain, then name. */
static int
tls_check_peer(struct tls *t)
{
	X509 *cert;
	long v;

	cert = SSL_get0_peer_certificate(t->ssl);
	v = SSL_get_verify_result(t->ssl);
	if (cert == NULL) {
		snprintf(t->code, sizeof t->code, "ERR_TLS_NO_PEER_CERT");
		snprintf(t->message, sizeof t->message,
		    "certificate verify failed: the peer sent no certificate");
		t->verify_error = -1;
		return (-1);
	}
	if (v != X509_V_OK) {
		t->verify_error = (int)v;
		snprintf(t->code, sizeof t->code, "%s",
		    tls_verify_code((int)v));
		snprintf(t->message, sizeof t->message,
		    "certificate verify failed: %s",
		    X509_verify_cert_error_string(v));
		return (-1);
	}
	if (*t->name == '\0')
		t->name_ok = 1;
	else if (t->name_is_ip)
		t->name_ok = X509_check_ip_asc(cert, t->name, 0) == 1;
	else
		t->name_ok = X509_check_host(cert, t->name, 0,
				 X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
				 NULL) == 1;
	if (!t->name_ok) {
		snprintf(t->code, sizeof t->code,
		    "ERR_TLS_CERT_ALTNAME_INVALID");
		snprintf(t->message, sizeof t->message,
		    "certificate's names do not match %s%.200s",
		    t->name_is_ip ? "IP: " : "Host: ", t->name);
		return (-1);
	}
	return (0);
}

/*
 * One step of the handshake. 0 when done (and, for a client, verified
 * unless --tls-insecure), IO_WANT_POLLIN / IO_WANT_POLLOUT, or -1 with the
 * failure in tls_code() and tls_message().
 */
int
tls_handshake(struct tls *t)
{
	int r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(t->ssl);
	if (r != 1) {
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			return (IO_WANT_POLLIN);
		if (e == SSL_ERROR_WANT_WRITE)
			return (IO_WANT_POLLOUT);
		tls_fail_ssl(t->code, sizeof t->code, t->message,
		    sizeof t->message, e == SSL_ERROR_SYSCALL ? errno : 0);
		return (-1);
	}
	if (!t->cfg->server && tls_check_peer(t) == -1 && !t->cfg->insecure)
		return (-1);
	return (0);
}

/* The failure's code (Node's err.code) and message. */
const char *
tls_code(const struct tls *t)
{
	return (t->code);
}

/* The failure's human message. */
const char *
tls_message(const struct tls *t)
{
	return (t->message);
}

/* Go on with the handshake from the loop. */
static void
tls_drive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls *t = arg;
	int r;

	(void)fd;
	if (what & EV_TIMEOUT && fd == -1) {
		event_del(t->ev);
		snprintf(t->code, sizeof t->code, "ETIMEDOUT");
		snprintf(t->message, sizeof t->message,
		    "TLS handshake timed out");
		t->done(t, -1, t->arg);
		return;
	}
	r = tls_handshake(t);
	if (r == IO_WANT_POLLIN || r == IO_WANT_POLLOUT) {
		event_del(t->ev);
		event_assign(t->ev, t->base, t->fd,
		    r == IO_WANT_POLLIN ? EV_READ : EV_WRITE, tls_drive_cb, t);
		event_add(t->ev, NULL);
		return;
	}
	if (t->timer != NULL)
		event_del(t->timer);
	t->done(t, r, t->arg);
}

/*
 * Run the handshake on the loop, bounded by ms (0: no bound); done gets 0
 * or -1 (tls_code, tls_message). -1 at once when out of memory.
 */
int
tls_drive(struct tls *t, struct event_base *base, long ms,
    void (*done)(struct tls *, int, void *), void *arg)
{
	struct timeval tv;

	t->base = base;
	t->done = done;
	t->arg = arg;
	t->ev = event_new(base, t->fd, EV_WRITE, tls_drive_cb, t);
	if (t->ev == NULL)
		return (-1);
	if (ms > 0) {
		t->timer = evtimer_new(base, tls_drive_cb, t);
		if (t->timer == NULL)
			return (-1);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(t->timer, &tv);
	}
	event_add(t->ev, NULL);
	return (0);
}

/* Whether the peer's close_notify arrived. */
int
tls_close_notify(const struct tls *t)
{
	return (t->notify_seen && !t->bare_eof);
}

/* Map SSL_get_error after a read or write to the io_ops answers. */
static ssize_t
tls_io_result(struct tls *t, int r, size_t n)
{
	int e;

	if (r == 1)
		return ((ssize_t)n);
	t->code[0] = '\0'; /* only this failure's own code counts */
	e = SSL_get_error(t->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return (IO_WANT_POLLIN);
	case SSL_ERROR_WANT_WRITE:
		return (IO_WANT_POLLOUT);
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return (0);
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == 0) {
			t->bare_eof = 1; /* an EOF without close_notify */
			return (0);
		}
		return (-1);
	case SSL_ERROR_SSL:
		if (ERR_GET_REASON(ERR_peek_error()) ==
		    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			t->bare_eof = 1;
			return (0);
		}
		/* FALLTHROUGH */
	default:
		tls_fail_ssl(t->code, sizeof t->code, t->message,
		    sizeof t->message, 0);
		errno = EPROTO;
		return (-1);
	}
}

/* io_ops.read: plaintext from the session. */
static ssize_t
tls_io_read(void *arg, void *data, size_t len)
{
	struct tls *t = arg;
	size_t n = 0;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_read_ex(t->ssl, data, len, &n);
	return (tls_io_result(t, r, n));
}

/* io_ops.write: plaintext into the session. */
static ssize_t
tls_io_write(void *arg, const void *data, size_t len)
{
	struct tls *t = arg;
	size_t n = 0;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_write_ex(t->ssl, data, len, &n);
	return (tls_io_result(t, r, n));
}

/*
 * io_ops.shutdown: send close_notify (once; the FIN follows). 0 when sent,
 * IO_WANT_POLLOUT while the socket has no room for it, -1 on an error.
 */
static int
tls_io_shutdown(void *arg)
{
	struct tls *t = arg;
	int r;

	if (t->shut)
		return (0);
	ERR_clear_error();
	r = SSL_shutdown(t->ssl);
	if (r < 0) {
		r = SSL_get_error(t->ssl, r);
		ERR_clear_error();
		if (r == SSL_ERROR_WANT_WRITE)
			return (IO_WANT_POLLOUT);
		if (r != SSL_ERROR_WANT_READ)
			return (-1);
	}
	t->shut = 1;
	return (0);
}

/* io_ops.close: free the session. */
static void
tls_io_close(void *arg)
{
	tls_free(arg);
}

const struct io_ops tls_io_ops = { tls_io_read, tls_io_write, tls_io_shutdown,
	tls_io_close };

/* Which directions use kernel TLS: "none", "tx", "rx" or "both". */
static const char *
tls_ktls(const struct tls *t)
{
	int tx = BIO_get_ktls_send(SSL_get_wbio(t->ssl)) > 0;
	int rx = BIO_get_ktls_recv(SSL_get_rbio(t->ssl)) > 0;

	if (tx && rx)
		return ("both");
	return (tx ? "tx" : rx ? "rx" : "none");
}

/* Report socket.secure for connection id. */
void
tls_event_secure(const struct tls *t, int id)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char alpn_s[256], peer[256], fp[EVP_MAX_MD_SIZE * 3 + 1];
	const char *sni, *code = NULL;
	X509 *cert;
	int authorized;

	if (!events_enabled())
		return;
	SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
	snprintf(alpn_s, sizeof alpn_s, "%.*s", (int)alpn_len,
	    alpn != NULL ? (const char *)alpn : "");
	if (t->cfg->server) {
		sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
		if (sni == NULL)
			sni = "";
	} else
		sni = t->name_is_ip ? "" : t->name;
	*peer = *fp = '\0';
	cert = SSL_get0_peer_certificate(t->ssl);
	if (cert != NULL) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
		    NID_commonName, peer, sizeof peer);
		if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1) {
			/* "AB:CD:...", as Node prints it. */
			for (i = 0; i < mdlen; i++)
				snprintf(fp + (i == 0 ? 0 : i * 3 - 1),
				    i == 0 ? 3 : 4, "%s%02X", i > 0 ? ":" : "",
				    md[i]);
		}
	}
	if (t->cfg->server)
		authorized = cert != NULL &&
		    SSL_get_verify_result(t->ssl) == X509_V_OK &&
		    (SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER);
	else
		authorized = t->verify_error == X509_V_OK && t->name_ok;
	if (!authorized && *t->code != '\0')
		code = t->code;
	{
		struct ev_field f[] = { EVI("id", id),
			EVS("protocol", SSL_get_version(t->ssl)),
			EVS("cipher", SSL_get_cipher_name(t->ssl)),
			EVS("alpn", alpn_s), EVS("servername", sni),
			EVB("authorized", authorized),
			EVS("authorization_error", code), EVS("peer", peer),
			EVS("fingerprint256", fp), EVS("ktls", tls_ktls(t)) };
		size_t n = sizeof f / sizeof f[0];

		if (code == NULL) {
			/* The key is there only when not authorized. */
			memmove(&f[6], &f[7], (n - 7) * sizeof f[0]);
			n--;
		}
		events_emit("socket.secure", f, n);
	}
}
