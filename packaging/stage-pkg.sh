#!/bin/sh
# Stages the installer package's payload: a folder laid out as the files
# land on the Mac, for `pkgbuild --root ROOT --install-location /`.
#
#   packaging/stage-pkg.sh BINARY ROOT
#
#   ROOT/usr/local/bin/jcds2-uploader                                  BINARY
#   ROOT/Library/AutoPkg/Recipes/jcds2-uploader/JCDS2PackageUploader.py
#   ROOT/Library/AutoPkg/Recipes/jcds2-uploader/JCDS2PackageUploader.recipe
#   ROOT/Library/AutoPkg/Recipes/jcds2-uploader/jcds2-uploader -> /usr/local/bin/jcds2-uploader
#   ROOT/usr/local/share/doc/jcds2-uploader/...
#
# Runs anywhere (tested on Linux by recipes/test_packaging.py); only the
# pkgbuild step after it needs a Mac. ROOT is emptied first.
set -eu
if [ $# -ne 2 ]; then
	echo "usage: $0 BINARY ROOT" >&2
	exit 2
fi
binary=$1
root=$2
case $root in
"" | / | /usr | /usr/local)
	echo "stage-pkg.sh: refusing to stage into '$root'" >&2
	exit 2
	;;
esac
if [ ! -x "$binary" ]; then
	echo "stage-pkg.sh: $binary is missing or not executable; build it first (make build, or make release-snapshot for the universal binary)" >&2
	exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$root"
mkdir -p "$root"
JCDS2_UPLOADER_BIN=$binary RECIPES_DIR=/Library/AutoPkg/Recipes/jcds2-uploader \
	sh "$here/../recipes/install.sh" /usr/local "$root" >/dev/null
# pkgbuild records modes as staged; make them exact whatever the umask.
find "$root" -type d -exec chmod 0755 {} +
echo "staged the package payload in $root"
