/* The name of an enum http_method (bpf/http.h), for windows and spans. */
#ifndef PRP_AGENT_HTTP_METHOD_H
#define PRP_AGENT_HTTP_METHOD_H

/* "GET", "POST", ...; "OTHER" for HTTP_METHOD_OTHER and anything unknown. */
const char *http_method_name(unsigned method);

#endif
