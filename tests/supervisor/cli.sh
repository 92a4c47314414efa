#!/bin/bash
# The command line: help, version, and clear refusals of bad options.
. "${KIWI_SRC:-$(dirname "$0")/../..}/tests/lib/common.sh"
kiwi=$KIWI_BUILD/kiwi

"$kiwi" --help | grep -q -- '--cidr-range' || fail "--help lacks --cidr-range"
"$kiwi" --version | grep -qE '^kiwi [0-9]+\.[0-9]+' || fail "--version"

# expect_refusal PATTERN ARGS...: exit status 2 and PATTERN on stderr.
expect_refusal() {
	local pat=$1 rc=0
	shift
	"$kiwi" --config=/dev/null "$@" >"$T_TMP/out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "kiwi $* exited $rc, not 2"
	grep -q -- "$pat" "$T_TMP/out" ||
		fail "kiwi $*: no '$pat' in: $(cat "$T_TMP/out")"
}

expect_refusal "no interface: give --interface"
expect_refusal "not a network" --interface x --cidr-range 10.0.0.1/8
expect_refusal "not a network" --interface x --cidr-range 10.0.0.0/33
expect_refusal "not a network" --interface x --cidr-range bogus
expect_refusal "ttl" --interface x --ttl 1
expect_refusal "ttl" --interface x --ttl 10s
expect_refusal "mark" --interface x --mark 0
expect_refusal "not an http" --interface x --etcd-endpoint localhost:2379
expect_refusal "not an http" --interface x \
	--etcd-endpoint http://a:1,ftp://b:2
expect_refusal "interface name" --interface averyverylongname
expect_refusal "unexpected argument" --interface x extra

# A missing interface is refused before anything starts.
rc=0
"$kiwi" --config=/dev/null --interface kwnone0 >"$T_TMP/out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a missing interface was accepted"
grep -q "does not exist" "$T_TMP/out" || fail "no clear error: $(cat "$T_TMP/out")"
# A configuration file, overridden by the command line, and checked.
cat >"$T_TMP/kiwi.conf" <<EOF
interface = em1
cidr-range = 192.168.0.0/16
ttl = 6
EOF
"$kiwi" --config "$T_TMP/kiwi.conf" --ttl 8 --check-config >"$T_TMP/out" ||
	fail "--check-config refused a good file: $(cat "$T_TMP/out")"
grep -qx "interface = em1" "$T_TMP/out" || fail "check-config: $(cat "$T_TMP/out")"
grep -qx "ttl = 8" "$T_TMP/out" || fail "the command line did not override"
grep -qx "cidr-range = 192.168.0.0/16" "$T_TMP/out" || fail "no range"
echo "bogus = 1" >>"$T_TMP/kiwi.conf"
rc=0
"$kiwi" --config "$T_TMP/kiwi.conf" --check-config >"$T_TMP/out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "a bad file was accepted"
grep -q "kiwi.conf:4: unknown key 'bogus'" "$T_TMP/out" ||
	fail "no file and line in: $(cat "$T_TMP/out")"
echo "cli: ok"
