#include "tests/lib/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Set once by a test before its calls (http.h): no lock. */
static char http_api_key[128];
static char http_cacert[512];

void http_set_api_key(const char *key)
{
	snprintf(http_api_key, sizeof(http_api_key), "%s", key ? key : "");
}

void http_set_cacert(const char *path)
{
	snprintf(http_cacert, sizeof(http_cacert), "%s", path ? path : "");
}

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
	return buf_append(userdata, p, size * n) ? 0 : size * n;
}

int http_call(const char *method, const char *url, const char *body, long *status, struct buf *resp,
	      struct buf *headers)
{
	return http_call_ct(method, url, body, NULL, status, resp, headers);
}

int http_call_ct(const char *method, const char *url, const char *body, const char *content_type,
		 long *status, struct buf *resp, struct buf *headers)
{
	return http_call_full(method, url, body, content_type, NULL, status, resp, headers);
}

int http_call_hdr(const char *method, const char *url, const char *body, const char *header,
		  long *status, struct buf *resp, struct buf *headers)
{
	return http_call_full(method, url, body, NULL, header ? header : "", status, resp, headers);
}

int http_call_full(const char *method, const char *url, const char *body, const char *content_type,
		   const char *auth_header, long *status, struct buf *resp, struct buf *headers)
{
	struct curl_slist *hdrs;
	char header[160], key[160];
	CURL *c;
	CURLcode rc;

	/* "Content-Type:" with no value makes curl send none */
	snprintf(header, sizeof(header), "Content-Type:%s%s",
		 content_type && !*content_type ? "" : " ",
		 content_type ? content_type : "application/json");
	hdrs = curl_slist_append(NULL, header);
	if (auth_header && *auth_header) {
		hdrs = curl_slist_append(hdrs, auth_header);
	} else if (!auth_header && http_api_key[0]) {
		snprintf(key, sizeof(key), "X-API-Key: %s", http_api_key);
		hdrs = curl_slist_append(hdrs, key);
	}
	c = curl_easy_init();
	if (!c) {
		curl_slist_free_all(hdrs);
		return -ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (http_cacert[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, http_cacert);
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

void http_header_value(const char *headers, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *p = headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1;
			size_t len;

			while (*v == ' ')
				v++;
			len = strcspn(v, "\r\n");
			snprintf(out, cap, "%.*s", (int)len, v);
			return;
		}
	}
}
