#include "tests/lib/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
	return buf_append(userdata, p, size * n) ? 0 : size * n;
}

int http_call(const char *method, const char *url, const char *body, long *status, struct buf *resp,
	      struct buf *headers)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	CURLcode rc;

	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	if (headers) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, headers);
	}
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return rc == CURLE_OK ? 0 : -EIO;
}
