/*
 * OpenTelemetry's own verdict on an OTLP/HTTP JSON trace body, for the tests
 * of the OTLP exporter (tests/node/otlp_check.mjs through node).
 */
#ifndef PRP_TESTS_LIB_OTEL_CHECK_H
#define PRP_TESTS_LIB_OTEL_CHECK_H

#include <stddef.h>

/*
 * Checks @body: 0 when valid OTLP, 1 when refused, with the checker's
 * message in @msg. Installs the npm packages first (tests/node/install.sh);
 * fails the test when node or npm is missing or the install fails.
 */
int otel_check(const char *body, char *msg, size_t msglen);

#endif
