/*
 * WebSocket filters (ws_filter.h). The JSON form takes what the SSE query
 * takes (aggregator/http/api_stream.c), as arrays or as the same comma
 * lists, with the same severity names and aliases; a bad filter leaves the
 * one in force unchanged.
 */
#include "aggregator/stream/ws_filter.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aggregator/http/api_anomalies.h"

void ws_filter_set(struct ws_filter *w, const struct bus_filter *f)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->tenant, sizeof(w->tenant), "%s", f->tenant ? f->tenant : "");
	w->f = *f;
	w->f.tenant = w->tenant;
	w->f.services = NULL;
	w->f.nservices = 0;
	if (!f->services)
		return;
	for (size_t i = 0; i < f->nservices && i < WS_FILTER_SERVICES_MAX; i++) {
		snprintf(w->services[i], sizeof(w->services[i]), "%s", f->services[i]);
		w->service_ptrs[i] = w->services[i];
		w->f.nservices++;
	}
	w->f.services = w->service_ptrs;
}

/* The string @v without NUL bytes, or NULL. */
static const char *ws_filter_string(const json_t *v)
{
	const char *s = json_string_value(v);

	return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/*
 * Calls @add(@w, item) for each name of @v: an array of strings or one
 * comma list. The count, or -1 (a name empty, too long, or not a string).
 */
static int ws_filter_names(const json_t *v, int (*add)(void *, const char *, size_t), void *arg)
{
	const char *s;
	size_t i;
	json_t *item;
	int n = 0;

	if (json_is_array(v)) {
		json_array_foreach(v, i, item) {
			s = ws_filter_string(item);
			if (!s || !*s || add(arg, s, strlen(s)))
				return -1;
			n++;
		}
		return n;
	}
	if (!(s = ws_filter_string(v)))
		return -1;
	while (*s) {
		size_t len = strcspn(s, ",");

		if (!len || add(arg, s, len))
			return -1;
		n++;
		s += len;
		if (*s == ',' && !*++s)
			return -1; /* a trailing comma */
	}
	return n;
}

static int ws_filter_add_service(void *arg, const char *s, size_t len)
{
	struct ws_filter *w = arg;

	if (len >= SERVICE_NAME_MAX || w->f.nservices == WS_FILTER_SERVICES_MAX)
		return -1;
	memcpy(w->services[w->f.nservices], s, len);
	w->services[w->f.nservices][len] = '\0';
	w->service_ptrs[w->f.nservices] = w->services[w->f.nservices];
	w->f.nservices++;
	return 0;
}

static int ws_filter_add_type(void *arg, const char *s, size_t len)
{
	struct ws_filter *w = arg;
	char name[BUS_TYPE_MAX];
	int t;

	if (len >= sizeof(name))
		return -1;
	memcpy(name, s, len);
	name[len] = '\0';
	t = bus_type_find(name);
	if (t < 0)
		return -1;
	w->f.types |= 1u << t;
	return 0;
}

int ws_filter_parse(struct ws_filter *w, const char *tenant, json_t *filters, char *err,
		    size_t errlen)
{
	struct ws_filter next;
	const char *key;
	json_t *v;

	ws_filter_set(&next, &(struct bus_filter){ .tenant = tenant });
	if (filters && !json_is_null(filters) && !json_is_object(filters)) {
		snprintf(err, errlen, "filters: an object");
		return -EINVAL;
	}
	json_object_foreach(filters, key, v) {
		const char *s;

		if (json_is_null(v))
			continue;
		if (!strcmp(key, "services")) {
			next.f.services = next.service_ptrs;
			if (ws_filter_names(v, ws_filter_add_service, &next) < 0) {
				snprintf(err, errlen,
					 "filters.services: at most %d service names of 1 to %d "
					 "characters",
					 WS_FILTER_SERVICES_MAX, SERVICE_NAME_MAX - 1);
				return -EINVAL;
			}
			if (!next.f.nservices)
				next.f.services = NULL;
		} else if (!strcmp(key, "severity")) {
			s = ws_filter_string(v);
			if (!s || api_anomalies_severity_parse(s, &next.f.min_severity)) {
				snprintf(err, errlen,
					 "filters.severity: info, warning or critical (or low, "
					 "medium, high)");
				return -EINVAL;
			}
		} else if (!strcmp(key, "events")) {
			if (ws_filter_names(v, ws_filter_add_type, &next) < 0) {
				snprintf(err, errlen, "filters.events: a list of event types");
				return -EINVAL;
			}
		} else {
			snprintf(err, errlen,
				 "filters: unknown member '%.32s' (services, severity, events)",
				 key);
			return -EINVAL;
		}
	}
	ws_filter_set(w, &next.f);
	return 0;
}

json_t *ws_filter_json(const struct ws_filter *w)
{
	json_t *services = json_null(), *events = json_null();

	if (w->f.services) {
		services = json_array();
		for (size_t i = 0; i < w->f.nservices; i++)
			json_array_append_new(services, json_string(w->f.services[i]));
	}
	if (w->f.types && w->f.types != BUS_ALL_TYPES) {
		events = json_array();
		for (int t = 0; t < BUS_TYPE_COUNT; t++)
			if (w->f.types & (1u << t))
				json_array_append_new(events,
						      json_string(bus_type_name((enum bus_type)t)));
	}
	return json_pack("{s:o, s:s, s:o}", "services", services, "severity",
			 api_anomalies_severity_name(w->f.min_severity), "events", events);
}
