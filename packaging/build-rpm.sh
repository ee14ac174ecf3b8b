#!/bin/sh
# build-rpm.sh: prp-agent and prp-aggregator .rpm packages from the programs
# `make all` built, with rpmbuild and packaging/rpm/prp.spec, from the same
# staged files as the .deb packages. `make rpm` runs it; so does
# tests/integration/packaging/test_packages.c.
#
#   BUILD_DIR=build [PKG_DIR=build/pkg] [SOURCE_DATE_EPOCH=N] packaging/build-rpm.sh
set -eu

# shellcheck source=packaging/pkg-common.sh
. "$(dirname "$0")/pkg-common.sh"

command -v rpmbuild >/dev/null || pkg_die "rpmbuild is missing (Debian: apt-get install rpm)"
WORK=$PKG_DIR/rpm
rm -rf "$WORK"
mkdir -p "$WORK/top"
for pkg in prp-agent prp-aggregator; do
	stage_package "$pkg" "$WORK/stage/$pkg" usr/lib/systemd/system
	clamp_times "$WORK/stage/$pkg"
done

# rpmbuild writes only under _topdir; HOME keeps it from reading a ~/.rpmmacros.
HOME=$WORK rpmbuild --quiet -bb \
	--define "_topdir $WORK/top" \
	--define "prp_version $VERSION" \
	--define "prp_release $RELEASE" \
	--define "prp_stage $WORK/stage" \
	--define "prp_copyright $TOP/packaging/deb/copyright" \
	--define "prp_maintainer $MAINTAINER" \
	--define "prp_changelog_date $(date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')" \
	"$TOP/packaging/rpm/prp.spec" >"$WORK/rpmbuild.log" 2>&1 ||
	{ cat "$WORK/rpmbuild.log" >&2; pkg_die "rpmbuild failed"; }

for f in "$WORK"/top/RPMS/*/*.rpm; do
	cp "$f" "$PKG_DIR/"
	echo "  RPM      $PKG_DIR/$(basename "$f")" | sed "s|$TOP/||"
done
rm -rf "$WORK"
