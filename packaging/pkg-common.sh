# Sourced by packaging/build-deb.sh and packaging/build-rpm.sh (docs/install.md):
# the settings both package formats share, and the staged trees they are made
# from. Not executable on its own.
#
# In:  BUILD_DIR (default build/), where `make all` put the programs;
#      PKG_DIR (default $BUILD_DIR/pkg), where the packages go;
#      SOURCE_DATE_EPOCH (default: the time of the last commit).
# Out: TOP, BUILD_DIR, PKG_DIR (absolute), VERSION, RELEASE, MAINTAINER,
#      SOURCE_DATE_EPOCH (exported), and stage_package().

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$(cd "$TOP" && cd "${BUILD_DIR:-build}" && pwd)
PKG_DIR=${PKG_DIR:-$BUILD_DIR/pkg}
mkdir -p "$PKG_DIR"
PKG_DIR=$(cd "$PKG_DIR" && pwd)

# The one place the version comes from (the Makefile reads it too).
VERSION=$(cat "$TOP/VERSION")
# The packaging's own revision of that version: bump it for a package-only fix.
# (RELEASE and MAINTAINER are used by the scripts that source this file.)
# shellcheck disable=SC2034
RELEASE=1
# shellcheck disable=SC2034
MAINTAINER="prp maintainers <maintainers@users.noreply.r-seed-272bde5a.example>"

# Reproducible builds (https://reproducible-builds.org/specs/source-date-epoch/):
# every time stamp in the packages is this one.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$TOP" log -1 --format=%ct 2>/dev/null || true)
	# not a git checkout (a source tarball): the VERSION file's time
	[ -n "$SOURCE_DATE_EPOCH" ] || SOURCE_DATE_EPOCH=$(stat -c %Y "$TOP/VERSION")
fi
export SOURCE_DATE_EPOCH
# Sorting and messages must not depend on the caller's locale or time zone.
export LC_ALL=C TZ=UTC
umask 022

pkg_die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# A program from $BUILD_DIR, stripped (Debian policy; the build keeps -g).
stage_program() { # NAME DEST_ROOT
	[ -x "$BUILD_DIR/$1" ] || pkg_die "$BUILD_DIR/$1 is missing: run 'make all' first"
	install -D -m 0755 "$BUILD_DIR/$1" "$2/usr/bin/$1"
	strip --strip-unneeded --remove-section=.comment --remove-section=.note "$2/usr/bin/$1"
}

# A man page of packaging/man, its version and date filled in, gzipped
# without a name or time stamp.
stage_man() { # PAGE DEST_ROOT
	section=${1##*.}
	date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
	mkdir -p "$2/usr/share/man/man$section"
	sed -e "s/@VERSION@/$VERSION/g" -e "s/@DATE@/$date/g" "$TOP/packaging/man/$1" |
		gzip -9n >"$2/usr/share/man/man$section/$1.gz"
}

# A directory tree copied with plain modes: 0755 directories, 0644 files.
stage_tree() { # SRC DEST
	mkdir -p "$2"
	(cd "$1" && find . -type d | sort) | while read -r d; do
		install -d -m 0755 "$2/$d"
	done
	(cd "$1" && find . -type f | sort) | while read -r f; do
		install -m 0644 "$1/$f" "$2/$f"
	done
}

# The files of package $1 (prp-agent or prp-aggregator) under $2, with the
# systemd units in $3 (lib/systemd/system for Debian, usr/lib/systemd/system
# for RPM). Every time stamp is SOURCE_DATE_EPOCH. Directories the package
# makes at install time (/var/lib/prp, the spool, /etc/prp/keys) are not
# here: their owners and modes are the maintainer scripts' business.
stage_package() { # PACKAGE DEST_ROOT UNIT_DIR
	rm -rf "$2"
	mkdir -p "$2"
	case "$1" in
	prp-agent)
		stage_program prp-agent "$2"
		# The BPF programs are inside the binary (bpftool skeletons): one
		# ELF header of its own and one per embedded object.
		n=$(grep -obUaP '\x7fELF' "$2/usr/bin/prp-agent" | wc -l)
		[ "$n" -ge 2 ] || pkg_die "prp-agent embeds no BPF object"
		install -D -m 0644 "$TOP/packaging/etc/agent.yaml" "$2/etc/prp/agent.yaml"
		install -D -m 0644 "$TOP/packaging/systemd/prp-agent.service" \
			"$2/$3/prp-agent.service"
		install -D -m 0644 "$TOP/packaging/tmpfiles/prp-agent.conf" \
			"$2/usr/lib/tmpfiles.d/prp-agent.conf"
		stage_man prp-agent.8 "$2"
		;;
	prp-aggregator)
		for p in prp-aggregator prpctl prp-detect; do
			stage_program "$p" "$2"
		done
		install -D -m 0644 "$TOP/packaging/etc/aggregator.yaml" "$2/etc/prp/aggregator.yaml"
		install -D -m 0644 "$TOP/packaging/systemd/prp-aggregator.service" \
			"$2/$3/prp-aggregator.service"
		# http.dashboard_dir "auto" looks here first
		stage_tree "$TOP/dashboard" "$2/usr/share/prp/dashboard"
		# examples, to copy where Grafana, Prometheus and policy.dir want them
		stage_tree "$TOP/packaging/grafana" "$2/usr/share/prp/grafana"
		stage_tree "$TOP/packaging/prometheus" "$2/usr/share/prp/prometheus"
		stage_tree "$TOP/policies" "$2/usr/share/prp/policies"
		stage_man prp-aggregator.8 "$2"
		stage_man prpctl.1 "$2"
		stage_man prp-detect.1 "$2"
		install -D -m 0644 "$TOP/packaging/bash-completion/prpctl" \
			"$2/usr/share/bash-completion/completions/prpctl"
		;;
	*)
		pkg_die "unknown package '$1'"
		;;
	esac
}

# Sets every time stamp under $1 to SOURCE_DATE_EPOCH.
clamp_times() { # DIR
	find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}
