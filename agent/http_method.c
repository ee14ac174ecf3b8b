#include "agent/http_method.h"

#include "common/compiler.h"

const char *http_method_name(unsigned method)
{
	static const char *const names[] = { "OTHER",  "GET",  "POST",	"PUT",
					     "DELETE", "HEAD", "PATCH", "OPTIONS" };

	return method < PRP_ARRAY_SIZE(names) ? names[method] : "OTHER";
}
