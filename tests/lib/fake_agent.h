/*
 * A fake agent for tests of the aggregator's commands: a thread that
 * speaks the wire protocol (docs/protocol.md) to an ingest URL the way
 * prp-agent does, without eBPF: a request every interval with a HELLO
 * (host, and whatever the test adds: services, addresses), the results
 * of the commands it got, and no windows. It records every command and
 * answers each once, as told: succeed, fail, or never.
 */
#ifndef PRP_TESTS_LIB_FAKE_AGENT_H
#define PRP_TESTS_LIB_FAKE_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum fake_agent_answer {
	FAKE_AGENT_SUCCEED = 0, /* {"status": "succeeded", "result": {"applied": COMMAND}} */
	FAKE_AGENT_FAIL,	/* {"status": "failed", "result": "refused by the fake agent"} */
	FAKE_AGENT_IGNORE,	/* no answer at all */
};

struct fake_agent_config {
	const char *url; /* the ingest URL */
	const char *tenant;
	const char *agent_id;
	const char *key;
	const char *hello_extra; /* JSON members added to the HELLO ("\"services\": []"), or NULL */
	unsigned interval_ms;	 /* between requests; 0: 100 */
};

struct fake_agent;

/* Starts the thread; asserts on failure. Stop with fake_agent_stop(). */
struct fake_agent *fake_agent_start(const struct fake_agent_config *c);
void fake_agent_stop(struct fake_agent *a);
void fake_agent_set_answer(struct fake_agent *a, enum fake_agent_answer answer);
/* Replaces the HELLO's extra members from the next request on. */
void fake_agent_set_hello(struct fake_agent *a, const char *hello_extra);

/* The commands got so far, [{id, command, args}] in order; new reference. */
json_t *fake_agent_commands(struct fake_agent *a);
/* How many commands named @command (NULL: any) it got. */
size_t fake_agent_count(struct fake_agent *a, const char *command);
/* Waits up to @timeout_ms for the count to reach @n; true when it did. */
bool fake_agent_wait(struct fake_agent *a, const char *command, size_t n, int timeout_ms);
/* Waits for a reply to a request sent after the call: the aggregator has seen the latest HELLO. */
bool fake_agent_sync(struct fake_agent *a, int timeout_ms);

#endif
