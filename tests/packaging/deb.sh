#!/bin/bash
# The Debian package: dpkg-buildpackage builds it from packaging/debian,
# lintian finds no errors, and installed on this machine it puts the
# unit, the configuration and the kiwi user in place.  It is purged
# again at the end (the user too, which Debian leaves behind on purpose).
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
need_root
command -v dpkg-buildpackage >/dev/null || { echo "SKIP: no dpkg-dev"; exit 77; }
if dpkg-query -W -f='${Status}' kiwi 2>/dev/null | grep -q "ok installed"; then
	echo "SKIP: a kiwi package is installed on this machine already"
	exit 77
fi
had_user=0
getent passwd kiwi >/dev/null && had_user=1

tree=$T_TMP/src/kiwi-0.1.0
mkdir -p "$tree"
(cd "$KIWI_SRC" && git ls-files -z 2>/dev/null || find . -type f -print0) |
	(cd "$KIWI_SRC" && xargs -0 cp --parents -t "$tree")
cp -r "$tree/packaging/debian" "$tree/debian"
(cd "$tree" && DEB_BUILD_OPTIONS="parallel=$(nproc)" \
	dpkg-buildpackage -b -us -uc >"$T_TMP/build.log" 2>&1) ||
	{ tail -40 "$T_TMP/build.log"; fail "dpkg-buildpackage failed"; }
deb=$(ls "$T_TMP"/src/kiwi_0.1.0-1_*.deb)
if command -v lintian >/dev/null; then
	lintian --tag-display-limit 0 "$deb" >"$T_TMP/lintian.log" 2>&1 || true
	if grep -q '^E:' "$T_TMP/lintian.log"; then
		cat "$T_TMP/lintian.log"
		fail "lintian reports errors"
	fi
fi

on_exit "dpkg --purge kiwi"
[ $had_user = 1 ] || on_exit "deluser --system kiwi; delgroup --system kiwi"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" \
	>"$T_TMP/install.log" 2>&1 ||
	{ cat "$T_TMP/install.log"; fail "the package did not install"; }
for f in /usr/sbin/kiwi /lib/systemd/system/kiwi.service /etc/kiwi.conf \
	/etc/logrotate.d/kiwi /usr/share/man/man8/kiwi.8.gz; do
	[ -e "$f" ] || fail "$f is not installed: $(dpkg -L kiwi)"
done
getent passwd kiwi >/dev/null || fail "the package did not create the kiwi user"
[ "$(id -u kiwi)" != 0 ] || fail "kiwi user is root"
/usr/sbin/kiwi --version | grep -q '^kiwi 0.1.0' || fail "installed kiwi"
/usr/sbin/kiwi --interface lo --check-config >/dev/null ||
	fail "the installed configuration does not check"
echo "deb: ok ($(basename "$deb"))"
