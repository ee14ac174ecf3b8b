/*
 * Reading chat questions (aggregator/analysis/chat_intent.h): intents,
 * services, time expressions, and follow-ups within a conversation.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "aggregator/analysis/chat_intent.h"
#include "tests/lib/leakcheck.h"

#define NOW   1795771200000ll /* 2026-11-27T09:20:00Z */
#define MIN   60000ll
#define HOUR  (60 * MIN)

static const char *const services[] = { "orders", "users", "payments", "payments-db" };

static struct chat_question ask(const char *q, const struct chat_question *prev)
{
	struct chat_question out;

	chat_understand(q, services, 4, prev, NOW, &out);
	return out;
}

TestSuite(chat_intent, .fini = test_no_leaks);

Test(chat_intent, each_kind_of_question_has_its_intent)
{
	static const struct {
		const char *q;
		enum chat_intent intent;
		const char *service;
	} cases[] = {
		{ "Which services are unhealthy?", CHAT_HEALTH, "" },
		{ "how is payments doing", CHAT_HEALTH, "payments" },
		{ "Why is payments slow?", CHAT_WHY, "payments" },
		{ "what's wrong with orders", CHAT_WHY, "orders" },
		{ "What happened since 08:00?", CHAT_HAPPENED, "" },
		{ "summarize the incidents of the last 2 hours", CHAT_HAPPENED, "" },
		{ "What did prp do?", CHAT_ACTIONS, "" },
		{ "did the breaker open on payments", CHAT_ACTIONS, "payments" },
		{ "what is predicted for users", CHAT_PREDICT, "users" },
		{ "will anything breach its SLO?", CHAT_PREDICT, "" },
		{ "show me the topology", CHAT_TOPOLOGY, "" },
		{ "who calls payments-db?", CHAT_TOPOLOGY, "payments-db" },
		{ "any open anomalies?", CHAT_ANOMALIES, "" },
		{ "help", CHAT_HELP, "" },
		{ "payments", CHAT_HEALTH, "payments" },
		{ "what is the meaning of life", CHAT_UNKNOWN, "" },
		{ "", CHAT_UNKNOWN, "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct chat_question q = ask(cases[i].q, NULL);

		cr_expect_eq(q.intent, cases[i].intent, "'%s': %s, want %s", cases[i].q,
			     chat_intent_name(q.intent), chat_intent_name(cases[i].intent));
		cr_expect_str_eq(q.service, cases[i].service, "'%s'", cases[i].q);
		cr_expect_eq(q.until_ms, NOW);
		cr_expect_lt(q.since_ms, NOW);
	}
}

Test(chat_intent, the_longest_service_named_as_a_word_wins)
{
	cr_assert_str_eq(ask("why is payments-db slow", NULL).service, "payments-db");
	cr_assert_str_eq(ask("why is PAYMENTS slow", NULL).service, "payments");
	cr_assert_str_eq(ask("why is paymentsx slow", NULL).service, "");
	cr_assert_str_eq(ask("is users. ok", NULL).service, "users");
}

Test(chat_intent, time_expressions)
{
	int64_t since;

	cr_assert(chat_time_range("in the last 30 minutes", NOW, &since));
	cr_assert_eq(since, NOW - 30 * MIN);
	cr_assert(chat_time_range("past 2h", NOW, &since));
	cr_assert_eq(since, NOW - 2 * HOUR);
	cr_assert(chat_time_range("the last hour", NOW, &since));
	cr_assert_eq(since, NOW - HOUR);
	cr_assert(chat_time_range("since 08:00", NOW, &since));
	cr_assert_eq(since, NOW - 80 * MIN);
	cr_assert(chat_time_range("since 10:00", NOW, &since), "later today: yesterday's");
	cr_assert_eq(since, NOW - 80 * MIN + 2 * HOUR - 24 * HOUR);
	cr_assert(chat_time_range("since 2026-11-27T09:00:00Z?", NOW, &since));
	cr_assert_eq(since, NOW - 20 * MIN);
	cr_assert(chat_time_range("what happened today", NOW, &since));
	cr_assert_eq(since, NOW - 9 * HOUR - 20 * MIN);
	cr_assert_not(chat_time_range("since forever", NOW, &since));
	cr_assert_not(chat_time_range("last 0 minutes", NOW, &since));
	cr_assert_not(chat_time_range("last 99999999999 days", NOW, &since));
	cr_assert_not(chat_time_range("why is payments slow", NOW, &since));
}

Test(chat_intent, follow_ups_take_what_they_leave_out)
{
	struct chat_question first = ask("why is payments slow in the last 10 minutes", NULL), q;

	cr_assert_eq(first.intent, CHAT_WHY);
	cr_assert_eq(first.since_ms, NOW - 10 * MIN);

	q = ask("and users?", &first);
	cr_assert_eq(q.intent, CHAT_WHY);
	cr_assert_str_eq(q.service, "users");
	cr_assert(q.followup);
	cr_assert_eq(q.since_ms, NOW - 10 * MIN, "the range carries over");

	q = ask("what did prp do about it?", &first);
	cr_assert_eq(q.intent, CHAT_ACTIONS);
	cr_assert_str_eq(q.service, "payments");

	q = ask("and in the last hour?", &first);
	cr_assert_eq(q.intent, CHAT_WHY);
	cr_assert_str_eq(q.service, "payments");
	cr_assert_eq(q.since_ms, NOW - HOUR);

	/* a new question is not a follow-up */
	q = ask("which services are unhealthy", &first);
	cr_assert_eq(q.intent, CHAT_HEALTH);
	cr_assert_str_eq(q.service, "");
	cr_assert_not(q.followup);
}

Test(chat_intent, any_bytes_are_safe)
{
	char q[CHAT_QUERY_MAX * 2];

	for (size_t i = 0; i < sizeof(q) - 1; i++)
		q[i] = (char)(1 + (i * 131) % 255);
	q[sizeof(q) - 1] = '\0';
	(void)ask(q, NULL);
	memset(q, ':', sizeof(q) - 1);
	(void)ask(q, NULL);
}
