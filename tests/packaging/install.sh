#!/bin/bash
# `cmake --install` puts the binary, unit, user, config, man page and
# logrotate snippet where a Debian system expects them.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
root=$T_TMP/root
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$KIWI_BUILD/CMakeCache.txt")
# GNUInstallDirs puts the configuration of a /usr install under /etc.
etc=$prefix/etc
[ "$prefix" = /usr ] && etc=/etc
DESTDIR=$root cmake --install "$KIWI_BUILD" >/dev/null || fail "install"
for f in $prefix/sbin/kiwi $prefix/lib/systemd/system/kiwi.service \
	$prefix/lib/sysusers.d/kiwi.conf $etc/kiwi.conf $etc/logrotate.d/kiwi \
	$prefix/share/man/man8/kiwi.8; do
	[ -f "$root/$f" ] || fail "$f was not installed: $(cd "$root" && find .)"
done
"$root$prefix/sbin/kiwi" --version | grep -q '^kiwi ' || fail "installed kiwi does not run"
# The installed default configuration is valid as shipped.
"$root$prefix/sbin/kiwi" --config "$root$etc/kiwi.conf" --interface lo \
	--check-config >/dev/null || fail "shipped kiwi.conf does not check"
man -l "$root$prefix/share/man/man8/kiwi.8" >/dev/null 2>&1 ||
	fail "man page does not render"
echo "install: ok"
