/*
 * aggregator/analysis/llm.c against tests/lib/llm_server.c, the local
 * stand-in for a chat completions server: what is sent (endpoint, body,
 * bearer key), the strict parse of the answer, the timeout and the one
 * retry, the size bound, and that the key never reaches a log line or a
 * reason.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregator/analysis/llm.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/llm_server.h"

TestSuite(llm, .fini = test_no_leaks);

#define KEY_ENV "PRP_TEST_LLM_KEY"
#define KEY	"sk-test-5f0c1a9e7d3b42c8a6e1"

/* A client of @url with the test key in the environment, short pauses, and @timeout_ms. */
static struct llm *client(const char *url, unsigned timeout_ms)
{
	struct llm_config c;
	struct llm *l = NULL;
	char err[256] = "";

	cr_assert_eq(setenv(KEY_ENV, KEY, 1), 0);
	llm_config_init(&c);
	c.url = url;
	c.model = "test-model";
	c.api_key_env = KEY_ENV;
	c.timeout_ms = timeout_ms;
	c.retry_pause_ms = 50;
	cr_assert_eq(llm_new(&c, &l, err, sizeof(err)), 0, "%s", err);
	return l;
}

static struct llm_server *server(enum llm_server_mode first, enum llm_server_mode then)
{
	enum llm_server_mode script[2] = { first, then };

	return llm_server_start(script, 2);
}

/* Logs at debug into a pipe, so a test can read every line llm.c wrote. */
struct capture {
	int rfd, wfd;
	char text[65536];
};

static void capture_start(struct capture *c)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	c->rfd = p[0];
	c->wfd = p[1];
	log_init("test", LOG_LEVEL_DEBUG, LOG_TO_STDERR);
	log_set_fd(c->wfd);
}

static const char *capture_stop(struct capture *c)
{
	size_t len = 0;
	ssize_t n;

	log_set_fd(2);
	log_init("test", LOG_LEVEL_INFO, LOG_TO_STDERR);
	while ((n = read(c->rfd, c->text + len, sizeof(c->text) - 1 - len)) > 0)
		len += (size_t)n;
	c->text[len] = '\0';
	close(c->rfd);
	close(c->wfd);
	return c->text;
}

static uint64_t ms_since(uint64_t start_ns)
{
	return (time_mono_ns() - start_ns) / NSEC_PER_MSEC;
}

Test(llm, a_normal_answer_is_the_content_and_the_request_is_chat_completions)
{
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_NORMAL);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[LLM_WHY_MAX] = "x", *text = NULL, *line = NULL, *body = NULL;
	json_t *req, *msgs;

	llm_server_set_text(s, "  payments is the root cause: ECONNREFUSED on 412 calls.\n");
	cr_assert_eq(llm_complete(l, "be brief", "why is orders slow?", &text, why, sizeof(why)), 0,
		     "%s", why);
	cr_expect_str_eq(text, "payments is the root cause: ECONNREFUSED on 412 calls.");
	cr_expect_str_eq(why, "");
	cr_assert_eq(llm_server_last(s, &line, NULL, &body), 0);
	cr_expect_str_eq(line, "POST /v1/chat/completions");
	req = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
	cr_assert_not_null(req, "%s", body);
	cr_expect_str_eq(json_string_value(json_object_get(req, "model")), "test-model");
	cr_expect_float_eq(json_real_value(json_object_get(req, "temperature")),
			   LLM_TEMPERATURE_DEFAULT, 1e-9);
	msgs = json_object_get(req, "messages");
	cr_assert_eq(json_array_size(msgs), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
			 "system");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
			 "be brief");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(msgs, 1), "role")),
			 "user");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
			 "why is orders slow?");
	cr_expect_eq(llm_server_count(s), 1);
	json_decref(req);
	free(line);
	free(body);
	free(text);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, the_endpoint_follows_the_base_url)
{
	static const struct {
		const char *suffix, *path;
	} cases[] = {
		{ "", "/v1/chat/completions" },
		{ "/", "/v1/chat/completions" },
		{ "/v1", "/v1/chat/completions" },
		{ "/openai/v1/", "/openai/v1/chat/completions" },
		{ "/v1/chat/completions", "/v1/chat/completions" },
		{ "/api/chat/completions", "/api/chat/completions" },
	};
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_NORMAL);

	llm_server_set_text(s, "ok");
	for (size_t i = 0; i < PRP_ARRAY_SIZE(cases); i++) {
		char url[128], why[LLM_WHY_MAX], want[128], *text = NULL, *line = NULL;
		struct llm *l;

		snprintf(url, sizeof(url), "%s%s", llm_server_url(s), cases[i].suffix);
		l = client(url, 5000);
		snprintf(want, sizeof(want), "%s%s", llm_server_url(s), cases[i].path);
		cr_expect_str_eq(llm_endpoint(l), want);
		cr_assert_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), 0, "%s: %s", url,
			     why);
		cr_assert_eq(llm_server_last(s, &line, NULL, NULL), 0);
		snprintf(want, sizeof(want), "POST %s", cases[i].path);
		cr_expect_str_eq(line, want, "%s", url);
		free(line);
		free(text);
		llm_free(l);
	}
	llm_server_stop(s);
}

Test(llm, the_key_is_sent_as_bearer_and_never_logged_nor_in_a_reason)
{
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_UNAUTHORIZED);
	char why[LLM_WHY_MAX], *text = NULL, *auth = NULL;
	struct capture cap;
	const char *log;
	struct llm *l;
	int err;

	capture_start(&cap);
	l = client(llm_server_url(s), 5000);
	cr_assert_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(llm_server_last(s, NULL, &auth, NULL), 0);
	cr_expect_str_eq(auth, "Bearer " KEY);
	free(auth);
	free(text);
	/* a provider whose 401 quotes the key it got: the reason keeps only the code */
	err = llm_complete(l, "s", "u", &text, why, sizeof(why));
	cr_expect_eq(err, -EIO);
	cr_expect_null(text);
	cr_expect_str_eq(why, "HTTP 401 (invalid_api_key)");
	cr_expect_eq(llm_server_count(s), 2, "a 401 is not retried");
	llm_free(l);
	log = capture_stop(&cap);
	cr_expect(strstr(log, "llm: answered in"), "%s", log);
	cr_expect(strstr(log, "HTTP 401"), "%s", log);
	cr_expect_null(strstr(log, KEY), "the key is in the log: %s", log);
	cr_expect_null(strstr(log, "5f0c1a9e"), "part of the key is in the log: %s", log);
	llm_server_stop(s);
}

Test(llm, no_key_env_name_sends_no_authorization)
{
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_NORMAL);
	struct llm_config c;
	struct llm *l = NULL;
	char err[256] = "", why[LLM_WHY_MAX], *text = NULL, *auth = why;

	llm_config_init(&c);
	c.url = llm_server_url(s);
	c.model = "llama3.1:8b";
	c.api_key_env = "";
	cr_assert_eq(llm_new(&c, &l, err, sizeof(err)), 0, "%s", err);
	llm_server_set_text(s, "fine");
	cr_assert_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(llm_server_last(s, NULL, &auth, NULL), 0);
	cr_expect_null(auth);
	free(text);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, a_missing_key_variable_fails_without_a_request)
{
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_NORMAL);
	struct llm_config c;
	struct llm *l = NULL;
	char err[256] = "", why[LLM_WHY_MAX], *text = err;

	cr_assert_eq(unsetenv("PRP_TEST_LLM_NO_SUCH_KEY"), 0);
	llm_config_init(&c);
	c.url = llm_server_url(s);
	c.model = "m";
	c.api_key_env = "PRP_TEST_LLM_NO_SUCH_KEY";
	cr_assert_eq(llm_new(&c, &l, err, sizeof(err)), 0, "%s", err);
	cr_expect(llm_enabled(l));
	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -ENOKEY);
	cr_expect_null(text);
	cr_expect_str_eq(why, "no API key in $PRP_TEST_LLM_NO_SUCH_KEY");
	cr_expect_eq(llm_server_count(s), 0);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, a_slow_server_times_out_once_retried_and_bounded)
{
	struct llm_server *s = server(LLM_SERVER_SLOW, LLM_SERVER_SLOW);
	struct llm *l = client(llm_server_url(s), 300);
	char why[LLM_WHY_MAX], *text = NULL;
	uint64_t start, ms;

	llm_server_set_delay_ms(s, 5000);
	start = time_mono_ns();
	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -ETIMEDOUT);
	ms = ms_since(start);
	cr_expect_null(text);
	cr_expect_str_eq(why, "timed out after 300 ms");
	cr_expect_eq(llm_server_count(s), 2, "exactly one retry");
	/* two attempts of 300 ms and a 50 ms pause (about 650 ms); a loaded machine gets
	 * room, but never the 5 s of one slow answer */
	cr_expect_geq(ms, 600);
	cr_expect_lt(ms, 2500, "took %llu ms", (unsigned long long)ms);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, the_timeout_reason_is_in_seconds_when_whole)
{
	struct llm_server *s = server(LLM_SERVER_SLOW, LLM_SERVER_NORMAL);
	struct llm *l = client(llm_server_url(s), 1000);
	char why[LLM_WHY_MAX], *text = NULL;

	/* the first answer is late, the retry is on time */
	llm_server_set_delay_ms(s, 3000);
	llm_server_set_text(s, "late but there");
	cr_assert_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), 0, "%s", why);
	cr_expect_str_eq(text, "late but there");
	free(text);
	llm_free(l);
	llm_server_stop(s);

	s = server(LLM_SERVER_SLOW, LLM_SERVER_SLOW);
	llm_server_set_delay_ms(s, 3000);
	l = client(llm_server_url(s), 1000);
	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -ETIMEDOUT);
	cr_expect_str_eq(why, "timed out after 1 s");
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, a_500_then_success_succeeds_on_the_retry)
{
	struct llm_server *s = server(LLM_SERVER_ERROR, LLM_SERVER_NORMAL);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[LLM_WHY_MAX], *text = NULL;

	llm_server_set_text(s, "recovered");
	cr_assert_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), 0, "%s", why);
	cr_expect_str_eq(text, "recovered");
	cr_expect_eq(llm_server_count(s), 2);
	free(text);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, a_429_then_success_succeeds_on_the_retry)
{
	struct llm_server *s = server(LLM_SERVER_TOO_MANY, LLM_SERVER_NORMAL);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[LLM_WHY_MAX], *text = NULL;

	llm_server_set_text(s, "after the rate limit");
	cr_assert_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), 0, "%s", why);
	cr_expect_str_eq(text, "after the rate limit");
	cr_expect_eq(llm_server_count(s), 2);
	free(text);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, a_500_twice_fails_with_the_status)
{
	struct llm_server *s = server(LLM_SERVER_ERROR, LLM_SERVER_ERROR);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[LLM_WHY_MAX], *text = NULL;

	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -EIO);
	cr_expect_null(text);
	cr_expect(!strncmp(why, "HTTP 500", 8), "%s", why);
	cr_expect_eq(llm_server_count(s), 2, "exactly one retry");
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, a_429_twice_fails_with_the_status)
{
	struct llm_server *s = server(LLM_SERVER_TOO_MANY, LLM_SERVER_TOO_MANY);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[LLM_WHY_MAX], *text = NULL;

	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -EIO);
	cr_expect_str_eq(why, "HTTP 429 (rate_limit_exceeded)");
	cr_expect_eq(llm_server_count(s), 2);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, a_dropped_connection_is_retried_once)
{
	struct llm_server *s = server(LLM_SERVER_CLOSE, LLM_SERVER_CLOSE);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[LLM_WHY_MAX], *text = NULL;

	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -EIO);
	cr_expect_neq(why[0], '\0');
	cr_expect_eq(llm_server_count(s), 2);
	llm_free(l);
	llm_server_stop(s);

	s = server(LLM_SERVER_CLOSE, LLM_SERVER_NORMAL);
	l = client(llm_server_url(s), 5000);
	llm_server_set_text(s, "second time lucky");
	cr_assert_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), 0, "%s", why);
	cr_expect_str_eq(text, "second time lucky");
	free(text);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, a_refused_connection_fails_fast_after_one_retry)
{
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_NORMAL);
	char url[64], why[LLM_WHY_MAX], *text = NULL;
	struct llm *l;
	uint64_t start;

	/* a port that was just free and has no listener now */
	snprintf(url, sizeof(url), "%s", llm_server_url(s));
	llm_server_stop(s);
	l = client(url, 5000);
	start = time_mono_ns();
	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -EIO);
	cr_expect_lt(ms_since(start), 2000);
	cr_expect(strstr(why, "onnect") || strstr(why, "refused"), "%s", why);
	llm_free(l);
}

static void expect_failure(enum llm_server_mode mode, int want_err, const char *want_why,
			   bool prefix)
{
	struct llm_server *s = server(mode, LLM_SERVER_NORMAL);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[LLM_WHY_MAX], *text = NULL;

	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), want_err, "mode %d: %s",
		     mode, why);
	cr_expect_null(text);
	if (prefix)
		cr_expect(!strncmp(why, want_why, strlen(want_why)), "mode %d: %s", mode, why);
	else
		cr_expect_str_eq(why, want_why, "mode %d", mode);
	cr_expect_eq(llm_server_count(s), 1, "mode %d: a bad answer is not retried", mode);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, malformed_json_fails_with_the_parser_message)
{
	expect_failure(LLM_SERVER_MALFORMED, -EPROTO, "malformed JSON: ", true);
}

Test(llm, no_choices_fails)
{
	expect_failure(LLM_SERVER_NO_CHOICES, -EPROTO, "no choices", false);
}

Test(llm, a_null_content_fails)
{
	expect_failure(LLM_SERVER_NULL_CONTENT, -EPROTO,
		       "choices[0].message.content is not a string", false);
}

Test(llm, a_huge_answer_fails_at_the_bound)
{
	expect_failure(LLM_SERVER_HUGE, -EIO, "response larger than 1 MiB", false);
	expect_failure(LLM_SERVER_HUGE_STREAMED, -EIO, "response larger than 1 MiB", false);
}

Test(llm, an_empty_or_reasoning_only_content_fails_and_thinking_is_dropped)
{
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_NORMAL);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[LLM_WHY_MAX], *text = NULL;

	llm_server_set_text(s, " \n\t");
	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -EPROTO);
	cr_expect_str_eq(why, "empty content");
	llm_server_set_text(s, "<think>payments? maybe users</think>");
	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -EPROTO);
	cr_expect_str_eq(why, "empty content");
	llm_server_set_text(s, "<think>\nlet me see\n</think>\n\nusers is the cause.");
	cr_assert_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), 0, "%s", why);
	cr_expect_str_eq(text, "users is the cause.");
	free(text);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, disabled_without_a_url)
{
	struct llm_config c;
	struct llm *l = NULL;
	char err[256] = "", why[LLM_WHY_MAX], *text = err;

	llm_config_init(&c);
	cr_assert_eq(llm_new(&c, &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_not(llm_enabled(l));
	cr_expect_str_eq(llm_endpoint(l), "");
	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -EOPNOTSUPP);
	cr_expect_null(text);
	cr_expect_str_eq(why, "no LLM configured");
	llm_free(l);
	c.url = "";
	cr_assert_eq(llm_new(&c, &l, err, sizeof(err)), 0, "%s", err);
	cr_expect_not(llm_enabled(l));
	llm_free(l);
	cr_expect_not(llm_enabled(NULL));
	cr_expect_eq(llm_complete(NULL, "s", "u", &text, why, sizeof(why)), -EOPNOTSUPP);
	llm_free(NULL);
}

Test(llm, a_bad_config_is_refused_with_a_reason)
{
	struct llm_config c;
	struct llm *l = (struct llm *)&c;
	char err[256];

	llm_config_init(&c);
	c.url = "ftp://user:secret@host/";
	c.model = "m";
	cr_expect_eq(llm_new(&c, &l, err, sizeof(err)), -EINVAL);
	cr_expect_null(l);
	cr_expect(strstr(err, "http"), "%s", err);
	cr_expect_null(strstr(err, "secret"), "%s", err);
	c.url = "http://127.0.0.1:1";
	c.model = "";
	cr_expect_eq(llm_config_check(&c, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "model"), "%s", err);
	c.model = "m";
	c.temperature = 3;
	cr_expect_eq(llm_config_check(&c, err, sizeof(err)), -EINVAL);
	c.temperature = 0;
	cr_expect_eq(llm_config_check(&c, err, sizeof(err)), 0);
	cr_assert_eq(setenv(KEY_ENV, "sk-bad\r\nX-Injected: 1", 1), 0);
	c.api_key_env = KEY_ENV;
	cr_expect_eq(llm_new(&c, &l, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "$" KEY_ENV), "%s", err);
	cr_expect_null(strstr(err, "sk-bad"), "%s", err);
}

Test(llm, a_prompt_past_the_bound_is_refused_without_a_request)
{
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_NORMAL);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[LLM_WHY_MAX], *text = NULL, *big = malloc(LLM_PROMPT_MAX + 2);

	memset(big, 'e', LLM_PROMPT_MAX + 1);
	big[LLM_PROMPT_MAX + 1] = '\0';
	cr_expect_eq(llm_complete(l, "s", big, &text, why, sizeof(why)), -E2BIG);
	cr_expect_str_eq(why, "prompt larger than 256 KiB");
	cr_expect_eq(llm_server_count(s), 0);
	free(big);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, a_short_why_buffer_is_cut_and_terminated)
{
	struct llm_server *s = server(LLM_SERVER_NO_CHOICES, LLM_SERVER_NO_CHOICES);
	struct llm *l = client(llm_server_url(s), 5000);
	char why[6], *text = NULL;

	cr_expect_eq(llm_complete(l, "s", "u", &text, why, sizeof(why)), -EPROTO);
	cr_expect_str_eq(why, "no ch");
	cr_expect_eq(llm_complete(l, "s", "u", &text, NULL, 0), -EPROTO);
	llm_free(l);
	llm_server_stop(s);
}

Test(llm, explain_sends_the_standard_prompt_with_the_evidence)
{
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_NORMAL);
	struct llm *l = client(llm_server_url(s), 5000);
	const char *evidence = "payments: p99 1840 ms (baseline 120 ms) since 10:02:11Z\n"
			       "orders -> payments: 412 ECONNREFUSED";
	char why[LLM_WHY_MAX], *text = NULL;
	json_t *req, *msgs;
	const char *sys, *user;

	/* the echo: the answer is the request body */
	cr_assert_eq(llm_explain(l, "Explain the root cause of the incident.", evidence, &text, why,
				 sizeof(why)),
		     0, "%s", why);
	req = json_loads(text, 0, NULL);
	cr_assert_not_null(req, "%s", text);
	msgs = json_object_get(req, "messages");
	sys = json_string_value(json_object_get(json_array_get(msgs, 0), "content"));
	user = json_string_value(json_object_get(json_array_get(msgs, 1), "content"));
	cr_expect_str_eq(sys, llm_system_prompt());
	cr_expect(strstr(sys, "only the evidence"), "%s", sys);
	cr_expect(strstr(sys, "numbers"), "%s", sys);
	cr_expect(strstr(sys, "concise"), "%s", sys);
	cr_expect(!strncmp(user, "Explain the root cause of the incident.", 39), "%s", user);
	cr_expect(strstr(user, evidence), "%s", user);
	cr_expect(strstr(user, "<evidence>") < strstr(user, evidence), "%s", user);
	json_decref(req);
	free(text);
	text = llm_user_prompt("What happened?", "");
	cr_expect(strstr(text, "(none"), "%s", text);
	free(text);
	llm_free(l);
	llm_server_stop(s);
}

struct worker {
	const struct llm *l;
	int id, ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 5; i++) {
		char user[64], why[LLM_WHY_MAX], *text = NULL;

		snprintf(user, sizeof(user), "question %d from worker %d", i, w->id);
		if (llm_complete(w->l, "s", user, &text, why, sizeof(why)))
			continue;
		/* the echo holds this worker's question, not another's */
		if (strstr(text, user))
			w->ok++;
		free(text);
	}
	return NULL;
}

Test(llm, concurrent_callers_share_one_client)
{
	struct llm_server *s = server(LLM_SERVER_NORMAL, LLM_SERVER_NORMAL);
	struct llm *l = client(llm_server_url(s), 5000);
	struct worker w[8];
	pthread_t t[8];

	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ .l = l, .id = i };
		cr_assert_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(w[i].ok, 5, "worker %d: %d of 5", i, w[i].ok);
	}
	cr_expect_eq(llm_server_count(s), 40);
	llm_free(l);
	llm_server_stop(s);
}
