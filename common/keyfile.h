/*
 * Key files: the shared secret an agent signs its frames with (HMAC-SHA256),
 * as both the agent (key_file) and the aggregator (its keys directory) read
 * it: the file's bytes, trailing whitespace dropped, at least KEY_FILE_MIN
 * of them. `head -c 32 /dev/urandom | base64 > FILE` makes a good one.
 */
#ifndef PRP_COMMON_KEYFILE_H
#define PRP_COMMON_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define KEY_FILE_MIN 16
#define KEY_FILE_MAX 256

/* Reads @path into @key (@cap bytes): 0, -ENOKEY when shorter than KEY_FILE_MIN, or -errno. */
int key_file_read(const char *path, uint8_t *key, size_t cap, size_t *len);

#endif
