/*
 * A stand-in for an OpenAI-compatible chat completions server, for the
 * tests of aggregator/analysis/llm.c (no model can be downloaded here):
 * listens on 127.0.0.1 at a free port, answers POST .../chat/completions
 * by a script of modes (request i gets script[i], the last mode repeats),
 * and keeps the last request's line, Authorization header and body.
 *
 * Linked into every unit test, so it uses only libc, sockets, pthreads,
 * jansson, criterion and tests/lib: no aggregator symbol.
 */
#ifndef PRP_TESTS_LIB_LLM_SERVER_H
#define PRP_TESTS_LIB_LLM_SERVER_H

#include <stddef.h>

enum llm_server_mode {
	LLM_SERVER_NORMAL,	  /* 200, choices[0].message.content = the text (see below) */
	LLM_SERVER_SLOW,	  /* NORMAL after the delay (llm_server_set_delay_ms) */
	LLM_SERVER_ERROR,	  /* 500 with an error object */
	LLM_SERVER_TOO_MANY,	  /* 429 with an error object */
	LLM_SERVER_UNAUTHORIZED,  /* 401 whose error message quotes the Authorization it got */
	LLM_SERVER_MALFORMED,	  /* 200 with a body that is not JSON */
	LLM_SERVER_NO_CHOICES,	  /* 200 {"choices": []} */
	LLM_SERVER_NULL_CONTENT,  /* 200, content null (a tool call answer) */
	LLM_SERVER_HUGE,	  /* 200 with 2 MiB of JSON, Content-Length announced */
	LLM_SERVER_HUGE_STREAMED, /* the same with no Content-Length: ends when the socket closes */
	LLM_SERVER_CLOSE,	  /* closes the connection without an answer */
};

struct llm_server;

/* Starts it answering request i with @script[min(i, @n - 1)] (@n >= 1); asserts on failure. */
struct llm_server *llm_server_start(const enum llm_server_mode *script, size_t n);
/* Stops it, waiting for the connections in flight (a SLOW one is cut short). NULL: nothing. */
void llm_server_stop(struct llm_server *s);

/*
 * The content of NORMAL and SLOW answers: @text (copied), or NULL (the
 * default) to echo the request body it got, so that a test can parse what
 * was sent out of the answer.
 */
void llm_server_set_text(struct llm_server *s, const char *text);
void llm_server_set_delay_ms(struct llm_server *s, unsigned ms); /* SLOW's; default 1000 */

unsigned llm_server_port(const struct llm_server *s);
/* "http://127.0.0.1:PORT" (a base URL); borrowed, lives as long as @s. */
const char *llm_server_url(const struct llm_server *s);
/* Requests received completely so far. */
size_t llm_server_count(struct llm_server *s);
/*
 * Copies (caller frees) of the last request's "METHOD PATH", its
 * Authorization value ("Bearer KEY"; NULL when absent) and its body; each
 * out pointer may be NULL. Returns 0, or -ENOENT before the first request.
 */
int llm_server_last(struct llm_server *s, char **line, char **authorization, char **body);

#endif
