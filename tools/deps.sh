#!/bin/sh
# Install what kiwi needs to build, test and demo on Debian 12.
set -eu
pkgs="build-essential cmake pkg-config clang-format curl python3
libcurl4-openssl-dev libjansson-dev libyaml-dev libnl-3-dev libnl-route-3-dev
libip4tc-dev libip6tc-dev libxtables-dev libcap-ng-dev libcmocka-dev libssl-dev
openssl
etcd-server etcd-client iptables iproute2 procps libcap-ng-utils man-db python3-yaml iputils-ping
dpkg-dev debhelper lintian clang libclang-rt-14-dev clang-tidy cppcheck valgrind"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "kiwi: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# The packaged etcd must not start as a service: tests run their own.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	apt-get install -y -q --no-install-recommends $missing ||
		{ rm -f /usr/sbin/policy-rc.d; exit 1; }
	rm -f /usr/sbin/policy-rc.d
fi
