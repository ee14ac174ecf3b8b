/*
 * GET /predictions/all, GET /predictions/{service}, POST /predict,
 * POST /forecast.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_PREDICTIONS_H
#define PRP_AGGREGATOR_HTTP_API_PREDICTIONS_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

int api_predictions_all(struct req *rq, struct resp *rp);
int api_predictions_service(struct req *rq, struct resp *rp);
int api_predictions_predict(struct req *rq, struct resp *rp);
int api_predictions_forecast(struct req *rq, struct resp *rp);

#endif
