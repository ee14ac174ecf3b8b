#!/bin/sh
# build-deb.sh: prp-agent and prp-aggregator .deb packages from the programs
# `make all` built, with dpkg-deb alone (no debhelper). `make deb` runs it;
# so does tests/integration/packaging/test_packages.c. docs/install.md says
# what the packages hold.
#
#   BUILD_DIR=build [PKG_DIR=build/pkg] [SOURCE_DATE_EPOCH=N] packaging/build-deb.sh
#
# Reproducible: the same programs and SOURCE_DATE_EPOCH give byte-identical
# packages (every time stamp is SOURCE_DATE_EPOCH, owners are root, file
# names are sorted, compression is single-threaded).
set -eu

# shellcheck source=packaging/pkg-common.sh
. "$(dirname "$0")/pkg-common.sh"

ARCH=$(dpkg --print-architecture)
DEB_VERSION=$VERSION-$RELEASE
WORK=$PKG_DIR/deb

# Debian's changelog, written from VERSION so that the version lives in one place.
write_changelog() { # PACKAGE_ROOT PACKAGE
	{
		printf 'prp (%s) unstable; urgency=medium\n\n' "$DEB_VERSION"
		printf '  * Packaged from the prp sources at version %s.\n\n' "$VERSION"
		printf ' -- %s  %s\n' "$MAINTAINER" \
			"$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
	} | gzip -9n >"$1/usr/share/doc/$2/changelog.Debian.gz"
}

# The Depends of the ELF files under $1, from the shlibs of the installed
# libraries (dpkg-shlibdeps wants a debian/control to read; a stub does).
shlib_depends() { # PACKAGE_ROOT
	stub=$WORK/shlibdeps
	rm -rf "$stub"
	mkdir -p "$stub/debian"
	printf 'Source: prp\n\nPackage: stub\nArchitecture: any\n' >"$stub/debian/control"
	(cd "$stub" && dpkg-shlibdeps -O "$1"/usr/bin/*) | sed -n 's/^shlibs:Depends=//p'
	rm -rf "$stub"
}

build_one() { # PACKAGE
	pkg=$1
	root=$WORK/$pkg
	stage_package "$pkg" "$root" lib/systemd/system
	install -D -m 0644 "$TOP/packaging/deb/copyright" "$root/usr/share/doc/$pkg/copyright"
	write_changelog "$root" "$pkg"

	mkdir -p "$root/DEBIAN"
	for s in postinst prerm postrm; do
		install -m 0755 "$TOP/packaging/deb/$pkg/$s" "$root/DEBIAN/$s"
	done
	# every file under /etc is a conffile
	(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
	chmod 0644 "$root/DEBIAN/conffiles"
	(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z |
		xargs -0 md5sum | sed 's| \./| |') >"$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/md5sums"

	depends=$(shlib_depends "$root")
	[ -n "$depends" ] || pkg_die "$pkg: dpkg-shlibdeps found no dependencies"
	# apparent sizes in KiB, as dpkg-gencontrol counts them (1 per directory)
	size=$(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%s\n' |
		awk '{ s += int(($1 + 1023) / 1024) } END { print s }')
	dirs=$(cd "$root" && find . -path ./DEBIAN -prune -o -type d -print | wc -l)
	sed -e "s|@VERSION@|$DEB_VERSION|" -e "s|@ARCH@|$ARCH|" \
		-e "s|@MAINTAINER@|$MAINTAINER|" -e "s|@INSTALLED_SIZE@|$((size + dirs))|" \
		-e "s|@SHLIBS@|$depends|" "$TOP/packaging/deb/$pkg/control" >"$root/DEBIAN/control"
	chmod 0644 "$root/DEBIAN/control"

	clamp_times "$root"
	out=$PKG_DIR/${pkg}_${DEB_VERSION}_$ARCH.deb
	rm -f "$out"
	dpkg-deb --root-owner-group -Zxz --threads-max=1 --build "$root" "$out" >/dev/null
	echo "  DEB      $out" | sed "s|$TOP/||"
}

rm -rf "$WORK"
build_one prp-agent
build_one prp-aggregator
rm -rf "$WORK"
