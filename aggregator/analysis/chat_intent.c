/*
 * Reading a chat question (chat_intent.h). The query is lowercased into a
 * copy with every run of non-word characters turned into one space and a
 * space at both ends, so that " word " finds whole words and phrases
 * without a tokenizer. Intents are tried in a fixed order, the most
 * specific first ("why" before "slow", "predict" before "will").
 */
#include "aggregator/analysis/chat_intent.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

#define MIN_MS	(60ll * 1000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS	(24 * HOUR_MS)

static const char *const intent_names[CHAT_INTENT_COUNT] = {
	[CHAT_UNKNOWN] = "unknown",	[CHAT_HEALTH] = "health",     [CHAT_WHY] = "why",
	[CHAT_HAPPENED] = "happened", [CHAT_ACTIONS] = "actions",   [CHAT_PREDICT] = "predict",
	[CHAT_TOPOLOGY] = "topology", [CHAT_ANOMALIES] = "anomalies", [CHAT_HELP] = "help",
};

const char *chat_intent_name(enum chat_intent i)
{
	return i >= 0 && i < CHAT_INTENT_COUNT ? intent_names[i] : "unknown";
}

/* Words (as " word ", matched in the normalized text) that say each intent. */
struct intent_words {
	enum chat_intent intent;
	const char *const *words;
};

static const char *const why_words[] = { " why ",	  " root cause ", " cause ",
					 " wrong with ",  " what s wrong ", " explain ",
					 " reason ",	  NULL };
static const char *const predict_words[] = { " predict",  " forecast", " going to ", " will ",
					     " breach",	  " about to ", " next hour ", NULL };
static const char *const actions_words[] = { " did prp ",	" prp do ",   " did you ",
					     " action",		" remediat",  " polic",
					     " breaker",	" restart",   " rate limit",
					     " what was done ", NULL };
static const char *const topology_words[] = { " topology ", " depend", " call graph ",
					      " calls ",    " who calls ", " upstream ",
					      " downstream ", " architecture ", NULL };
static const char *const happened_words[] = { " what happened ", " happen", " summar", " incident",
					      " recap ",	 " since ",  " timeline ",
					      " went on ",	 NULL };
static const char *const anomalies_words[] = { " anomal", " alert", NULL };
static const char *const health_words[] = { " unhealthy ", " healthy ", " health ", " status ",
					    " how is ",	   " how are ",	" down ",     " up ",
					    " ok ",	   " okay ",	" slow ",     " failing ",
					    " broken ",	   " sick ",	" errors ",   " latency ",
					    NULL };
static const char *const help_words[] = { " help ", " what can you ", " how do i ", " who are you ",
					  NULL };

/* In order: the first that matches wins. */
static const struct intent_words intents[] = {
	{ CHAT_HELP, help_words },	   { CHAT_WHY, why_words },
	{ CHAT_PREDICT, predict_words },   { CHAT_ACTIONS, actions_words },
	{ CHAT_TOPOLOGY, topology_words }, { CHAT_HAPPENED, happened_words },
	{ CHAT_ANOMALIES, anomalies_words }, { CHAT_HEALTH, health_words },
};

/*
 * @q lowercased, every run of other characters as one space, a space at
 * each end. Letters, digits, "-" and "_" make words; "." and ":" only
 * between two of them ("10:00", "1.5", "api.v2"), else they end a sentence.
 */
static void normalize(const char *q, char *out, size_t cap)
{
	size_t n = 0;

	out[n++] = ' ';
	for (; *q && n + 2 < cap; q++) {
		unsigned char c = (unsigned char)*q, next = (unsigned char)q[1];
		bool word = isalnum(c) || c == '-' || c == '_' ||
			    ((c == '.' || c == ':') && isalnum(next) &&
			     isalnum((unsigned char)out[n - 1]));

		if (word)
			out[n++] = (char)tolower(c);
		else if (out[n - 1] != ' ')
			out[n++] = ' ';
	}
	if (out[n - 1] != ' ')
		out[n++] = ' ';
	out[n] = '\0';
}

static bool has_any(const char *norm, const char *const *words)
{
	for (; *words; words++)
		if (strstr(norm, *words))
			return true;
	return false;
}

/* The longest known service named as a whole word of @norm (also with an "s" or "'s"). */
static const char *find_service(const char *norm, const char *const *services, size_t n)
{
	const char *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < n; i++) {
		char word[SERVICE_NAME_MAX + 4];
		size_t len = strlen(services[i]);

		if (!len || len <= best_len || len + 3 > sizeof(word))
			continue;
		snprintf(word, sizeof(word), " %s ", services[i]);
		for (char *p = word; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (strstr(norm, word)) {
			best = services[i];
			best_len = len;
		}
	}
	return best;
}

static int64_t unit_ms(const char *u)
{
	static const struct {
		const char *name;
		int64_t ms;
	} units[] = {
		{ "s", 1000 },	      { "sec", 1000 },	  { "secs", 1000 },   { "second", 1000 },
		{ "seconds", 1000 },  { "m", MIN_MS },	  { "min", MIN_MS },  { "mins", MIN_MS },
		{ "minute", MIN_MS }, { "minutes", MIN_MS }, { "h", HOUR_MS }, { "hr", HOUR_MS },
		{ "hrs", HOUR_MS },   { "hour", HOUR_MS }, { "hours", HOUR_MS }, { "d", DAY_MS },
		{ "day", DAY_MS },    { "days", DAY_MS },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(u, units[i].name))
			return units[i].ms;
	return 0;
}

/* "last 30 minutes", "past 2h", "last hour": the span's length, or 0. */
static int64_t parse_last(const char *norm)
{
	static const char *const leads[] = { " last ", " past ", " previous " };

	for (size_t i = 0; i < 3; i++) {
		const char *p = strstr(norm, leads[i]);
		char num[16] = "", unit[16] = "";
		int64_t n = 1, u;

		if (!p)
			continue;
		p += strlen(leads[i]);
		if (sscanf(p, "%15[0-9] %15[a-z]", num, unit) == 2 ||
		    sscanf(p, "%15[0-9]%15[a-z]", num, unit) == 2)
			n = strtoll(num, NULL, 10);
		else if (sscanf(p, "%15[a-z]", unit) != 1)
			continue;
		u = unit_ms(unit);
		if (u && n > 0 && n <= 366 * DAY_MS / u)
			return n * u;
	}
	return 0;
}

/* "since 10:00" (UTC), "since <ISO 8601>": the start, or 0. */
static int64_t parse_since(const char *query, const char *norm, int64_t now_ms)
{
	const char *p = strstr(norm, " since ");
	unsigned hh, mm;
	char *iso;

	if (!p)
		return 0;
	p += 7;
	if (sscanf(p, "%2u:%2u", &hh, &mm) == 2 && hh < 24 && mm < 60) {
		int64_t day = now_ms - now_ms % DAY_MS, t = day + hh * HOUR_MS + mm * MIN_MS;

		return t >= now_ms ? t - DAY_MS : t; /* now itself is no span: yesterday's */
	}
	/* an ISO time keeps its case ("T", "Z"): read it from the query itself */
	p = strcasestr(query, "since ");
	if (!p)
		return 0;
	p += 6;
	while (*p == ' ')
		p++;
	iso = strndup(p, strcspn(p, " ,?!"));
	if (iso) {
		uint64_t ns;
		int64_t t = !time_parse_iso(iso, &ns) ? (int64_t)(ns / 1000000) : 0;

		free(iso);
		if (t > 0 && t < now_ms)
			return t;
	}
	return 0;
}

bool chat_time_range(const char *query, int64_t now_ms, int64_t *since_ms)
{
	char norm[CHAT_QUERY_MAX + 8];
	int64_t len, since;

	normalize(query, norm, sizeof(norm));
	if ((len = parse_last(norm))) {
		*since_ms = now_ms - len;
		return true;
	}
	if ((since = parse_since(query, norm, now_ms))) {
		*since_ms = since;
		return true;
	}
	if (strstr(norm, " today ") && now_ms % DAY_MS) {
		*since_ms = now_ms - now_ms % DAY_MS;
		return true;
	}
	return false;
}

/* How far back each intent looks when the question does not say. */
static int64_t default_span(enum chat_intent i)
{
	switch (i) {
	case CHAT_HEALTH:
	case CHAT_ANOMALIES:
		return 5 * MIN_MS;
	case CHAT_WHY:
	case CHAT_TOPOLOGY:
		return 15 * MIN_MS;
	default:
		return HOUR_MS;
	}
}

void chat_understand(const char *query, const char *const *services, size_t nservices,
		     const struct chat_question *prev, int64_t now_ms, struct chat_question *out)
{
	char norm[CHAT_QUERY_MAX + 8];
	const char *svc;
	int64_t since;

	memset(out, 0, sizeof(*out));
	normalize(query, norm, sizeof(norm));
	for (size_t i = 0; i < sizeof(intents) / sizeof(intents[0]) && !out->intent; i++)
		if (has_any(norm, intents[i].words))
			out->intent = intents[i].intent;
	svc = find_service(norm, services, nservices);
	if (svc)
		snprintf(out->service, sizeof(out->service), "%s", svc);
	out->range_given = chat_time_range(query, now_ms, &since);

	if (prev && prev->intent != CHAT_UNKNOWN && prev->intent != CHAT_HELP) {
		if (!out->intent && (svc || out->range_given)) {
			/* "and users?", "and in the last hour?" */
			out->intent = prev->intent;
			out->followup = true;
			if (!svc)
				snprintf(out->service, sizeof(out->service), "%s", prev->service);
		} else if (out->intent && !svc && prev->service[0] &&
			   (out->intent == CHAT_WHY || out->intent == CHAT_PREDICT ||
			    out->intent == CHAT_ACTIONS || out->intent == CHAT_TOPOLOGY)) {
			/* "why?", "what did prp do about it?" */
			snprintf(out->service, sizeof(out->service), "%s", prev->service);
			out->followup = true;
		}
		if (out->followup && !out->range_given && prev->range_given) {
			out->since_ms = prev->since_ms;
			out->until_ms = prev->until_ms;
			out->range_given = true;
			return;
		}
	}
	/* a bare service name asks how it is */
	if (!out->intent && svc)
		out->intent = CHAT_HEALTH;
	out->until_ms = now_ms;
	out->since_ms = out->range_given ? since : now_ms - default_span(out->intent);
}
