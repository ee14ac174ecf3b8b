/* POST /chat: the operator's questions, answered from live data (aggregator/analysis/chat.h). */
#ifndef PRP_AGGREGATOR_HTTP_API_CHAT_H
#define PRP_AGGREGATOR_HTTP_API_CHAT_H

#include "aggregator/http/req.h"
#include "aggregator/http/resp.h"

#define API_CHAT_BODY_MAX (16 * 1024)

int api_chat(struct req *rq, struct resp *rp);

#endif
