/*
 * GET /anomalies, GET /anomalies/{id}, GET /predict, POST /detect/manual.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_ANOMALIES_H
#define PRP_AGGREGATOR_HTTP_API_ANOMALIES_H

#include <jansson.h>

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"
#include "aggregator/store/store.h"

int api_anomalies_list(struct req *rq, struct resp *rp);
int api_anomalies_get(struct req *rq, struct resp *rp);
/* GET /predict: the open anomalies now. */
int api_anomalies_open(struct req *rq, struct resp *rp);
/* POST /detect/manual */
int api_anomalies_detect_now(struct req *rq, struct resp *rp);

/* The JSON record of API.md for @a (a new reference). */
json_t *api_anomalies_item(const struct store_anomaly *a);
/* "info", "warning", "critical". */
const char *api_anomalies_severity_name(enum store_severity s);
/* Parses a severity or its alias (low, medium, high): 0 or -EINVAL. */
int api_anomalies_severity_parse(const char *s, enum store_severity *out);

#endif
