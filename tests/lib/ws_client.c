/*
 * The test WebSocket client (ws_client.h). Writes go out whole with
 * MSG_NOSIGNAL, so a server that has closed makes a send fail, not kill
 * the test with SIGPIPE.
 */
#include "tests/lib/ws_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/timeutil.h"

#define WS_CLIENT_MAX_MESSAGE (16u << 20)
#define WS_CLIENT_READ	      65536
#define WS_CLIENT_GUID	      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static void b64(const uint8_t *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	out[o] = '\0';
}

static int ws_client_write(struct ws_client *c, const void *p, size_t n)
{
	for (size_t put = 0; put < n;) {
		ssize_t w = send(c->fd, (const char *)p + put, n - put, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		put += (size_t)w;
	}
	return 0;
}

/* Reads once, waiting up to @timeout_ms: > 0 bytes, 0 timeout, -1 end or error. */
static int ws_client_fill(struct ws_client *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char chunk[WS_CLIENT_READ];
	ssize_t n;

	if (poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
		return 0;
	n = read(c->fd, chunk, sizeof(chunk));
	if (n <= 0)
		return -1;
	return buf_append(&c->in, chunk, (size_t)n) ? -1 : (int)n;
}

static int ms_left(uint64_t deadline)
{
	uint64_t now = time_mono_ns();

	return now >= deadline ? 0 : (int)((deadline - now) / NSEC_PER_MSEC) + 1;
}

/* The value of header @name in the header block @h (up to its blank line) into @out, or NULL. */
static const char *header(const char *h, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	for (const char *line = strstr(h, "\r\n"); line && line[2] != '\r';
	     line = strstr(line + 2, "\r\n")) {
		const char *v = line + 2;

		if (!strncasecmp(v, name, nl) && v[nl] == ':') {
			size_t len;

			v += nl + 1;
			v += strspn(v, " \t");
			len = strcspn(v, "\r");
			while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
				len--;
			snprintf(out, cap, "%.*s", (int)len, v);
			return out;
		}
	}
	return NULL;
}

static void request_header(char *req, size_t cap, const char *name, const char *value,
			   const char *dflt)
{
	size_t used = strlen(req);

	if (!value)
		value = dflt;
	if (*value)
		snprintf(req + used, cap - used, "%s: %s\r\n", name, value);
}

/* Checks a 101: Upgrade, Connection and Sec-WebSocket-Accept for @key. */
static int check_101(const char *h, const char *key)
{
	char cat[128], want[32], v[256];
	uint8_t sha1[20];

	snprintf(cat, sizeof(cat), "%s%s", key, WS_CLIENT_GUID);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, cat, strlen(cat), sha1) < 0)
		return -EIO;
	b64(sha1, sizeof(sha1), want);
	if (!header(h, "Upgrade", v, sizeof(v)) || strcasecmp(v, "websocket") ||
	    !header(h, "Connection", v, sizeof(v)) || !strcasestr(v, "upgrade") ||
	    !header(h, "Sec-WebSocket-Accept", v, sizeof(v)) || strcmp(v, want))
		return -EPROTO;
	return 0;
}

/* Reads a refused handshake's body (Content-Length bytes, or to the end). */
static void read_body(struct ws_client *c, const char *h, uint64_t deadline)
{
	char v[32];
	size_t want = header(h, "Content-Length", v, sizeof(v)) ? strtoul(v, NULL, 10) : SIZE_MAX;

	while (c->in.len < want && ws_client_fill(c, ms_left(deadline)) > 0)
		;
	c->body = strndup(c->in.data ? (const char *)c->in.data : "",
			  c->in.len < want ? c->in.len : want);
}

int ws_client_open(struct ws_client *c, unsigned port, const struct ws_client_options *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint64_t deadline =
		time_mono_ns() + (uint64_t)(o->timeout_ms ? o->timeout_ms : 5000) * NSEC_PER_MSEC;
	char req[4096], key[32], *h;
	uint8_t nonce[16];
	int err;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	buf_init(&c->in,
		 (o->max_message ? o->max_message : WS_CLIENT_MAX_MESSAGE) + 2 * WS_CLIENT_READ);
	buf_init(&c->msg, o->max_message ? o->max_message : WS_CLIENT_MAX_MESSAGE);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (o->rcvbuf)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof(o->rcvbuf));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
		return -EIO;
	b64(nonce, sizeof(nonce), key);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n",
		 o->path ? o->path : "/stream/anomalies", port);
	request_header(req, sizeof(req), "Upgrade", o->upgrade, "websocket");
	request_header(req, sizeof(req), "Connection", o->connection, "Upgrade");
	request_header(req, sizeof(req), "Sec-WebSocket-Key", o->key, key);
	request_header(req, sizeof(req), "Sec-WebSocket-Version", o->version, "13");
	request_header(req, sizeof(req), "X-API-Key", o->api_key, "");
	snprintf(req + strlen(req), sizeof(req) - strlen(req), "\r\n");
	if ((err = ws_client_write(c, req, strlen(req))) ||
	    (o->extra_len && (err = ws_client_write(c, o->extra, o->extra_len))))
		return err;
	for (;;) {
		const char *end = c->in.len ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
		size_t used;

		if (!end) {
			if (!ms_left(deadline) || ws_client_fill(c, ms_left(deadline)) < 0)
				return -EIO;
			continue;
		}
		used = (size_t)(end - (const char *)c->in.data) + 4;
		h = strndup((const char *)c->in.data, used - 2); /* with the last line's \r\n */
		memmove(c->in.data, c->in.data + used, c->in.len - used);
		c->in.len -= used;
		break;
	}
	err = sscanf(h, "HTTP/1.1 %d", &c->status) == 1 ? 0 : -EPROTO;
	if (!err && c->status == 101)
		err = check_101(h, o->key && *o->key ? o->key : key);
	else if (!err)
		read_body(c, h, deadline);
	free(h);
	return err;
}

int ws_client_send(struct ws_client *c, int opcode, const void *p, size_t len)
{
	static const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	uint8_t hdr[14];
	size_t n = 2;
	uint8_t *frame;
	int err;

	hdr[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		hdr[1] = (uint8_t)(0x80 | len);
	} else if (len <= 0xffff) {
		hdr[1] = 0x80 | 126;
		hdr[n++] = (uint8_t)(len >> 8);
		hdr[n++] = (uint8_t)len;
	} else {
		hdr[1] = 0x80 | 127;
		for (int s = 56; s >= 0; s -= 8)
			hdr[n++] = (uint8_t)((uint64_t)len >> s);
	}
	memcpy(hdr + n, mask, 4);
	n += 4;
	frame = malloc(n + len);
	if (!frame)
		return -ENOMEM;
	memcpy(frame, hdr, n);
	for (size_t i = 0; i < len; i++)
		frame[n + i] = ((const uint8_t *)p)[i] ^ mask[i & 3];
	err = ws_client_write(c, frame, n + len);
	free(frame);
	return err;
}

int ws_client_send_text(struct ws_client *c, const char *text)
{
	return ws_client_send(c, WS_CLIENT_TEXT, text, strlen(text));
}

int ws_client_send_raw(struct ws_client *c, const void *p, size_t len)
{
	return ws_client_write(c, p, len);
}

/* One message out of c->in: 1, 0 when none is whole yet, -1 for a frame a server must not send. */
static int ws_client_parse(struct ws_client *c, struct ws_client_msg *m)
{
	for (;;) {
		const uint8_t *d = c->in.data;
		size_t hdr = 2, total;
		uint64_t len;
		bool fin;
		int op;

		if (c->in.len < 2)
			return 0;
		fin = d[0] & 0x80;
		if (d[1] & 0x80 || d[0] & 0x70)
			return -1; /* masked, or RSV bits */
		len = d[1] & 0x7f;
		if (len == 126) {
			hdr = 4;
			if (c->in.len < hdr)
				return 0;
			len = (uint64_t)d[2] << 8 | d[3];
		} else if (len == 127) {
			hdr = 10;
			if (c->in.len < hdr)
				return 0;
			len = 0;
			for (int i = 2; i < 10; i++)
				len = len << 8 | d[i];
		}
		if (len > c->msg.max_bytes)
			return -1;
		total = hdr + (size_t)len;
		if (c->in.len < total)
			return 0;
		op = d[0] & 0x0f;
		if (op & 0x8) {
			m->opcode = op;
			m->close_code = 0;
			if (op == WS_CLIENT_CLOSE) {
				m->close_code =
					len >= 2 ? (uint16_t)(d[hdr] << 8 | d[hdr + 1]) : 1005;
				m->data = strndup((const char *)d + hdr + (len >= 2 ? 2 : 0),
						  len >= 2 ? (size_t)len - 2 : 0);
			} else {
				m->data = strndup((const char *)d + hdr, (size_t)len);
			}
			m->len = strlen(m->data);
		} else {
			if (op)
				c->msg_opcode = (uint8_t)op;
			if ((!op && !c->msg_opcode) || (op && c->msg.len) ||
			    buf_append(&c->msg, d + hdr, (size_t)len))
				return -1;
		}
		memmove(c->in.data, c->in.data + total, c->in.len - total);
		c->in.len -= total;
		if (op & 0x8)
			return 1;
		if (fin) { /* the message is whole */
			m->opcode = c->msg_opcode;
			m->close_code = 0;
			m->len = c->msg.len;
			m->data = malloc(c->msg.len + 1);
			memcpy(m->data, c->msg.data ? (const char *)c->msg.data : "", c->msg.len);
			m->data[c->msg.len] = '\0';
			buf_reset(&c->msg);
			c->msg_opcode = 0;
			return 1;
		}
	}
}

int ws_client_next(struct ws_client *c, int timeout_ms, struct ws_client_msg *m)
{
	uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;

	for (;;) {
		int r = ws_client_parse(c, m);

		if (r)
			return r;
		if (!ms_left(deadline))
			return 0;
		if (ws_client_fill(c, ms_left(deadline)) < 0)
			return ws_client_parse(c, m) == 1 ? 1 : -1;
	}
}

json_t *ws_client_next_json(struct ws_client *c, int timeout_ms, uint16_t *close_code)
{
	uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	struct ws_client_msg m;

	if (close_code)
		*close_code = 0;
	while (ws_client_next(c, ms_left(deadline), &m) == 1) {
		json_t *v = NULL;
		int op = m.opcode;

		if (op == WS_CLIENT_PING)
			ws_client_send(c, WS_CLIENT_PONG, m.data, m.len);
		else if (op == WS_CLIENT_CLOSE && close_code)
			*close_code = m.close_code;
		else if (op == WS_CLIENT_TEXT)
			v = json_loadb(m.data, m.len, 0, NULL);
		free(m.data);
		if (v || op == WS_CLIENT_CLOSE)
			return v;
	}
	return NULL;
}

int ws_client_wait_close(struct ws_client *c, int timeout_ms, size_t *skipped)
{
	uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
	struct ws_client_msg m;
	int r;

	if (skipped)
		*skipped = 0;
	while ((r = ws_client_next(c, ms_left(deadline), &m)) == 1) {
		int op = m.opcode;
		uint16_t code = m.close_code;

		free(m.data);
		if (op == WS_CLIENT_CLOSE)
			return code;
		if (skipped && (op == WS_CLIENT_TEXT || op == WS_CLIENT_BINARY))
			(*skipped)++;
	}
	return r;
}

bool ws_client_wait_eof(struct ws_client *c, int timeout_ms)
{
	uint64_t deadline = time_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;

	while (ms_left(deadline)) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		char chunk[WS_CLIENT_READ];

		if (poll(&p, 1, ms_left(deadline)) <= 0)
			continue;
		if (read(c->fd, chunk, sizeof(chunk)) <= 0)
			return true;
	}
	return false;
}

void ws_client_close(struct ws_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->body);
	c->body = NULL;
	buf_release(&c->in);
	buf_release(&c->msg);
}
