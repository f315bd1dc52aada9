#!/bin/sh
# The release number is set once, in configure.ac; everything else that
# states it must agree: the generated <hakmem_version.h>, the launcher,
# rpm/hakmem.spec, and the files written by hand that cannot be generated
# before configure runs (debian/changelog, NEWS).
# Exit 0 pass, 1 fail.

src=${top_srcdir:-.}
build=${top_builddir:-.}
status=0
fail() {
    echo "FAIL: $*"
    status=1
}

version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$build/config.h")
[ -n "$version" ] || { echo "FAIL: no PACKAGE_VERSION in $build/config.h"; exit 1; }
echo "configure.ac: $version"

macros=$(for part in MAJOR MINOR PATCH; do
    sed -n "s/^#define HAKMEM_VERSION_$part \([0-9]*\)$/\1/p" "$build/include/hakmem_version.h"
done | paste -sd.)
[ "$macros" = "$version" ] || fail "hakmem_version.h says $macros"

launcher=$("$build/hakmem" --version)
[ "$launcher" = "hakmem $version" ] || fail "hakmem --version says $launcher"

if [ -f "$build/rpm/hakmem.spec" ]; then
    spec=$(sed -n 's/^Version: *//p' "$build/rpm/hakmem.spec")
    [ "$spec" = "$version" ] || fail "rpm/hakmem.spec says $spec"
fi

# "hakmem (0.1.0-1) unstable; urgency=medium": the upstream part, before
# the last hyphen, is ours; the Debian revision is the packager's.
deb=$(sed -n '1s/^hakmem (\(.*\)-[^-]*).*/\1/p' "$src/debian/changelog")
[ "$deb" = "$version" ] || fail "debian/changelog's first entry is for ${deb:-(none)}, not $version"

news=$(sed -n '1s/^hakmem \([^ ]*\).*/\1/p' "$src/NEWS")
[ "$news" = "$version" ] || fail "NEWS starts with ${news:-(no version)}, not $version"

exit $status
