#!/bin/sh
# Removes what recipes/install.sh (and the installer package) installed.
#
#   recipes/uninstall.sh PREFIX [DESTDIR]    (called by `make uninstall`)
#
# RECIPES_DIR as for install.sh. Removes also the pre-0.3.0 layout
# (PREFIX/share/jcds2-uploader). The installer package's receipt is left to
# `pkgutil --forget`, which only its owner should run (see README.md).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 PREFIX [DESTDIR]" >&2
	exit 2
fi
prefix=${1%/}
destdir=${2:-}
recipes=${RECIPES_DIR:-/Library/AutoPkg/Recipes/jcds2-uploader}
recipes=${recipes%/}
case $prefix$recipes in
*..*)
	echo "uninstall.sh: refusing a path with '..'" >&2
	exit 2
	;;
esac

for f in "$destdir$prefix/bin/jcds2-uploader" \
	"$destdir$recipes/JCDS2PackageUploader.py" \
	"$destdir$recipes/JCDS2PackageUploader.recipe" \
	"$destdir$recipes/jcds2-uploader"; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		rm -f "$f"
		echo "removed $f"
	fi
done
# Only our files lived there; a folder the user added files to stays.
rm -rf "$destdir$recipes/__pycache__"
rmdir "$destdir$recipes" 2>/dev/null || true
for d in "$destdir$prefix/share/doc/jcds2-uploader" "$destdir$prefix/share/jcds2-uploader"; do
	if [ -d "$d" ]; then
		rm -rf "$d"
		echo "removed $d"
	fi
done
