#!/bin/sh
# Installs jcds2-uploader and its AutoPkg shim processor.
#
#   recipes/install.sh PREFIX [DESTDIR]      (called by `make install`, and by
#                                              packaging/stage-pkg.sh)
#
# Layout (PREFIX defaults to /usr/local; RECIPES_DIR, from the environment,
# defaults to /Library/AutoPkg/Recipes/jcds2-uploader; DESTDIR, for
# packaging, is prepended to every path and defaults to nothing):
#
#   PREFIX/bin/jcds2-uploader                          the binary
#   RECIPES_DIR/JCDS2PackageUploader.py                the shim processor
#   RECIPES_DIR/JCDS2PackageUploader.recipe            the shared-processor stub
#   RECIPES_DIR/jcds2-uploader  -> PREFIX/bin/jcds2-uploader
#   PREFIX/share/doc/jcds2-uploader/                   README, LICENSE, CHANGELOG,
#                                                      MIGRATING, examples
#
# AutoPkg searches /Library/AutoPkg/Recipes (and ~/Library/AutoPkg/Recipes)
# for recipes by default, so the stub is found with no per-user step. The
# link lets the shim find the binary beside itself whatever PREFIX is, also
# when AutoPkg runs from launchd or cron with a short PATH; it is absolute,
# to the final PREFIX (not DESTDIR), so it is right once a package installs
# the staged tree.
#
# The binary is taken from bin/jcds2-uploader in the source tree, or from
# $JCDS2_UPLOADER_BIN when set. Nothing is built here: `sudo make install`
# must not run the Go toolchain as root.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 PREFIX [DESTDIR]" >&2
	exit 2
fi
prefix=${1:-/usr/local}
destdir=${2:-}
recipes=${RECIPES_DIR:-/Library/AutoPkg/Recipes/jcds2-uploader}
for p in "$prefix" "$recipes"; do
	case $p in
	/*) ;;
	*)
		echo "install.sh: PREFIX and RECIPES_DIR must be absolute paths, not '$p'" >&2
		exit 2
		;;
	esac
done
prefix=${prefix%/}
recipes=${recipes%/}

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
binary=${JCDS2_UPLOADER_BIN:-$top/bin/jcds2-uploader}
if [ ! -x "$binary" ]; then
	echo "install.sh: $binary is missing; build it first, as yourself: make build" >&2
	exit 1
fi

bindir=$destdir$prefix/bin
recipedir=$destdir$recipes
docdir=$destdir$prefix/share/doc/jcds2-uploader

install -d -m 0755 "$bindir" "$recipedir" "$docdir" "$docdir/examples"
install -m 0755 "$binary" "$bindir/jcds2-uploader"
install -m 0644 "$here/JCDS2PackageUploader.py" "$here/JCDS2PackageUploader.recipe" "$recipedir/"
rm -f "$recipedir/jcds2-uploader"
ln -s "$prefix/bin/jcds2-uploader" "$recipedir/jcds2-uploader"
install -m 0644 "$top/README.md" "$top/LICENSE" "$top/CHANGELOG.md" "$docdir/"
install -m 0644 "$here/README.md" "$docdir/AutoPkg.md"
install -m 0644 "$here/MIGRATING.md" "$docdir/"
for f in "$here"/examples/*; do
	install -m 0644 "$f" "$docdir/examples/"
done
# The layout before 0.3.0 kept the processor in PREFIX/share/jcds2-uploader
# and had users link it into ~/Library/AutoPkg/Recipes. Two stubs with one
# identifier would leave AutoPkg to pick either.
if [ -d "$destdir$prefix/share/jcds2-uploader" ]; then
	rm -rf "$destdir$prefix/share/jcds2-uploader"
	echo "removed the old $prefix/share/jcds2-uploader; delete any link to it in ~/Library/AutoPkg/Recipes"
fi

echo "installed $prefix/bin/jcds2-uploader"
echo "installed the AutoPkg processor in $recipes"
