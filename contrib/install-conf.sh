#!/bin/sh
# install-conf.sh — meson install step for the configuration file.
#
#	install-conf.sh SAMPLE /ABSOLUTE/SYSCONFDIR/pwreset/pwreset.conf
#
# The file holds the database password and the site's settings: an
# existing one is never overwritten (a reinstall must not undo the admin's
# edits), and a new one is 0640 so that only root and the service's group
# (chgrp'd by the package, or by hand) read it.  Under DESTDIR (a package
# build) the file is always new.
set -eu

src=$1
dest=${DESTDIR:-}$2

if [ -e "$dest" ]; then
	echo "install-conf: keeping $dest (the new sample is in $src)"
	exit 0
fi
install -d -m 0755 "$(dirname "$dest")"
install -m 0640 "$src" "$dest"
echo "install-conf: installed $dest (0640)"
