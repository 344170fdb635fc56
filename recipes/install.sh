#!/bin/sh
# Installs jcds2-uploader and its AutoPkg shim processor.
#
#   recipes/install.sh PREFIX [DESTDIR]      (called by `make install`)
#
# Layout (PREFIX defaults to /usr/local; DESTDIR, for packaging, is
# prepended to every path and defaults to nothing):
#
#   PREFIX/bin/jcds2-uploader                         the binary
#   PREFIX/share/jcds2-uploader/JCDS2PackageUploader.py      the shim processor
#   PREFIX/share/jcds2-uploader/JCDS2PackageUploader.recipe  the shared-processor stub
#   PREFIX/share/jcds2-uploader/jcds2-uploader        -> ../../bin/jcds2-uploader
#   PREFIX/share/doc/jcds2-uploader/                  README, MIGRATING, examples
#
# The relative link lets the shim find the binary "beside" itself whatever
# PREFIX is, also when AutoPkg runs from launchd or cron with a short PATH.
# The examples are kept out of share/jcds2-uploader so that putting that
# folder in RECIPE_SEARCH_DIRS adds only the shared processor.
#
# The binary is taken from bin/jcds2-uploader in the source tree, or from
# $JCDS2_UPLOADER_BIN when set.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 PREFIX [DESTDIR]" >&2
	exit 2
fi
prefix=${1:-/usr/local}
destdir=${2:-}
case $prefix in
/*) ;;
*)
	echo "install.sh: PREFIX must be an absolute path, not '$prefix'" >&2
	exit 2
	;;
esac
prefix=${prefix%/}

here=$(cd "$(dirname "$0")" && pwd)
binary=${JCDS2_UPLOADER_BIN:-$here/../bin/jcds2-uploader}
if [ ! -x "$binary" ]; then
	echo "install.sh: $binary is missing; build it first (make build)" >&2
	exit 1
fi

bindir=$destdir$prefix/bin
sharedir=$destdir$prefix/share/jcds2-uploader
docdir=$destdir$prefix/share/doc/jcds2-uploader

install -d -m 0755 "$bindir" "$sharedir" "$docdir" "$docdir/examples"
install -m 0755 "$binary" "$bindir/jcds2-uploader"
install -m 0644 "$here/JCDS2PackageUploader.py" "$here/JCDS2PackageUploader.recipe" "$sharedir/"
rm -f "$sharedir/jcds2-uploader"
ln -s ../../bin/jcds2-uploader "$sharedir/jcds2-uploader"
install -m 0644 "$here/README.md" "$here/MIGRATING.md" "$docdir/"
for f in "$here"/examples/*; do
	install -m 0644 "$f" "$docdir/examples/"
done

echo "installed $prefix/bin/jcds2-uploader"
echo "installed the AutoPkg processor in $prefix/share/jcds2-uploader"
echo "AutoPkg must be able to find it; once, as the user that runs autopkg:"
echo "  ln -s $prefix/share/jcds2-uploader ~/Library/AutoPkg/Recipes/jcds2-uploader"
