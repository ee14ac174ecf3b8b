#!/bin/sh
# Installs the Node packages of tests/node (package-lock.json, exact
# versions) into tests/node/node_modules, with `npm ci`, when node_modules
# is missing or was installed from another lock file; otherwise does
# nothing, quickly. The C tests that run Node call it first, so `make test`
# installs what it needs. Fails, with the reason on stderr, when node or
# npm is missing (packaging/install-deps.sh installs them) or npm ci fails.
#
# Criterion runs tests in parallel and each may call this: an flock keeps
# two `npm ci` from removing each other's node_modules.
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
stamp="$dir/node_modules/.prp-package-lock.json" # the lock file it was installed from

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "tests/node/install.sh: '$tool' is not installed; run packaging/install-deps.sh" \
			"as root (Debian: apt-get install nodejs npm)" >&2
		exit 1
	fi
done

fresh() {
	[ -d "$dir/node_modules" ] && cmp -s "$dir/package-lock.json" "$stamp"
}

fresh && exit 0
lock="${TMPDIR:-/tmp}/prp-tests-node-install.$(id -u).lock"
exec 9>"$lock"
flock 9
fresh && exit 0 # another test installed it while this one waited
echo "tests/node/install.sh: npm ci in $dir" >&2
# --ignore-scripts: nothing here needs an install script (protobufjs' only
# checks versions of its CLI; playwright-core has none and downloads no
# browser: dashboard_check.mjs drives Debian's chromium), and none should run
# unasked
if ! (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2); then
	echo "tests/node/install.sh: npm ci failed in $dir (offline? the registry is" \
		"$(npm config get registry))" >&2
	exit 1
fi
cp "$dir/package-lock.json" "$stamp"
