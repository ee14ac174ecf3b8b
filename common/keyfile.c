#include "common/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int key_file_read(const char *path, uint8_t *key, size_t cap, size_t *len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	n = read(fd, key, cap);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r' || key[n - 1] == ' ' ||
			 key[n - 1] == '\t'))
		n--;
	if ((size_t)n < KEY_FILE_MIN)
		return -ENOKEY;
	*len = (size_t)n;
	return 0;
}

