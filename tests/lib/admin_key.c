#include "tests/lib/admin_key.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "common/keyfile.h"

int admin_key_read(const char *data, char *out, size_t cap)
{
	char path[4096];
	size_t len = 0;
	int err;

	out[0] = '\0';
	if (!cap)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/admin.key", data);
	err = key_file_read(path, (uint8_t *)out, cap - 1, &len);
	out[err ? 0 : len] = '\0';
	return err;
}
