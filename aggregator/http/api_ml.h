/*
 * GET /ml/status and POST /ml/toggle: which detection method runs, its
 * state, and switching it at run time.
 */
#ifndef PRP_AGGREGATOR_HTTP_API_ML_H
#define PRP_AGGREGATOR_HTTP_API_ML_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

int api_ml_status(struct req *rq, struct resp *rp);
/*
 * Body (all optional): {"method": "robust"|"slo", "enabled": bool}. With
 * neither, switches to the other method. Answers the new status.
 */
int api_ml_toggle(struct req *rq, struct resp *rp);

#endif
