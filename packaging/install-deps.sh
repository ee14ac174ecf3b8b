#!/bin/sh
# Installs the Debian packages prp needs to build, test and run.
# Idempotent and quick when everything is present: it asks dpkg first and
# calls apt-get only for what is missing. Run as root (make calls it with
# the current user; it refuses politely when it cannot install).
set -eu

# One list, grouped by why we need it; keep it sorted within each group.
BUILD="clang gcc libbpf-dev libcurl4-openssl-dev libelf-dev libgnutls28-dev libjansson-dev
	libmicrohttpd-dev libnanomsg-dev libsqlite3-dev libyaml-dev llvm make pkg-config zlib1g-dev
	bpftool"
# prometheus: its promtool and a real server check /metrics
# nodejs (and npm, below): tests/node/otlp_check.mjs checks OTLP bodies with OpenTelemetry's schema
# chromium: tests/node/dashboard_check.mjs drives the dashboard in a real headless browser
# (playwright-core, which downloads no browser of its own)
# dpkg-dev (dpkg-shlibdeps), lintian, rpm (rpmbuild) and rpmlint: make deb, make rpm and
# tests/integration/packaging/test_packages.c, which also runs systemd-analyze (systemd)
TEST="apache2-utils chromium curl dpkg-dev iproute2 libclang-rt-14-dev libcriterion-dev lintian
	nodejs openssl procps prometheus python3 rpm rpmlint systemd valgrind wrk"
PACKAGES="$BUILD $TEST"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
# Debian's nodejs comes without npm, NodeSource's with it: ask for the command.
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -z "$missing" ]; then
	[ "${1:-}" = "--quiet" ] || echo "install-deps: all packages present"
	exit 0
fi

echo "install-deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: not root: run 'apt-get install$missing' as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A machine that never ran 'apt-get update' has empty lists; try once without
# (fast when lists are fresh), then refresh and try again.
# shellcheck disable=SC2086
if ! apt-get install -y --no-install-recommends $missing; then
	apt-get update
	apt-get install -y --no-install-recommends $missing
fi
