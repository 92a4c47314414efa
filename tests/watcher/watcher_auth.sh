#!/bin/bash
# The watcher over HTTPS, connected each way an operator can configure:
# a kubeconfig with a token, with a client certificate (files and inline
# data), with a tokenFile that rotates, the in-cluster service account
# (in a mount namespace of its own), and a server it must not trust.
. "$(dirname "$0")/../lib/common.sh"
need_root

prog="$KIWI_BUILD/tests/watcher/watcher_auth"
certs="$T_TMP/certs"
tls_make_certs "$certs"
cat >"$T_TMP/seed.json" <<'JSON'
[{"metadata": {"namespace": "default", "name": "seeded"},
  "spec": {"externalIPs": ["192.0.2.10"], "ports": [{"port": 80}]}}]
JSON
tls=(--tls-cert "$certs/server.pem" --tls-key "$certs/server.key")
export KUBE_CA="$certs/ca.pem"

# kubeconfig NAME CLUSTER-LINES USER-LINES: a kubeconfig in $T_TMP/NAME,
# whose current context is not its first, so that lookups are by name.
kubeconfig() {
	cat >"$T_TMP/$1" <<EOF2
apiVersion: v1
kind: Config
current-context: kiwi
clusters:
- name: other
  cluster:
    server: https://192.0.2.99:6443
- name: test
  cluster:
    server: $KUBE_URL
$2
contexts:
- name: unused
  context: {cluster: other, user: nobody}
- name: kiwi
  context:
    cluster: test
    user: kiwi
users:
- name: nobody
  user: {token: not-this-one}
- name: kiwi
  user:
$3
EOF2
}

# run TITLE VAR=VALUE... [WRAPPER...]: the test program in one mode; no
# token may appear in what it logs.
run() {
	echo "--- $1"
	shift
	env KUBE_URL="$KUBE_URL" "$@" "$prog" 2>"$T_TMP/log" ||
		{ cat "$T_TMP/log" >&2; fail "watcher_auth failed: $*"; }
	! grep SECRET "$T_TMP/log" || fail "a token was logged"
}

stop_fixture() {
	kill "$KUBE_PID"
	wait "$KUBE_PID" 2>/dev/null || true
}

# A token, the CA given inline.
kube_fixture_start "" --seed "$T_TMP/seed.json" --token tok-SECRET-1 \
	"${tls[@]}"
kubeconfig token.yaml \
	"    certificate-authority-data: $(base64 -w0 "$certs/ca.pem")" \
	"    token: tok-SECRET-1"
run "kubeconfig with a token" W_KUBECONFIG="$T_TMP/token.yaml" \
	W_EXPECT_AUTH=token

# A tokenFile, relative to the kubeconfig, which rotates.
echo tok-SECRET-1 >"$T_TMP/token"
kubeconfig tokenfile.yaml "    certificate-authority: certs/ca.pem" \
	"    tokenFile: token"
run "kubeconfig with a tokenFile" W_KUBECONFIG="$T_TMP/tokenfile.yaml" \
	W_EXPECT_AUTH=token W_TOKEN_FILE="$T_TMP/token"
stop_fixture

# A client certificate, as files and as inline data.
kube_fixture_start "" --seed "$T_TMP/seed.json" --client-ca "$certs/ca.pem" \
	"${tls[@]}"
kubeconfig cert.yaml "    certificate-authority: $certs/ca.pem" \
	"    client-certificate: certs/client.pem
    client-key: certs/client.key"
run "kubeconfig with a client certificate" W_KUBECONFIG="$T_TMP/cert.yaml" \
	W_EXPECT_AUTH=certificate
kubeconfig certdata.yaml "    certificate-authority: $certs/ca.pem" \
	"    client-certificate-data: $(base64 -w0 "$certs/client.pem")
    client-key-data: $(base64 -w0 "$certs/client.key")"
run "kubeconfig with inline client certificate data" \
	W_KUBECONFIG="$T_TMP/certdata.yaml" W_EXPECT_AUTH=certificate

# --kube-endpoint over HTTPS checks the server against the system's CAs,
# which do not include this test's CA.
run "an untrusted server" W_UNTRUSTED=1
stop_fixture

# In-cluster: the service account files where a pod has them, in a
# mount namespace so that the host's /run is left alone.
kube_fixture_start "" --seed "$T_TMP/seed.json" --token tok-SECRET-1 \
	"${tls[@]}"
cat >"$T_TMP/in-cluster.sh" <<'EOF2'
set -eu
mount -t tmpfs -o mode=755 kiwi-test /run
sa=/var/run/secrets/kubernetes.io/serviceaccount
mkdir -p "$sa"
cp "$KUBE_CA" "$sa/ca.crt"
echo tok-SECRET-1 >"$sa/token"
exec "$@"
EOF2
run "in-cluster" KUBERNETES_SERVICE_HOST=127.0.0.1 \
	KUBERNETES_SERVICE_PORT="$KUBE_PORT" W_IN_CLUSTER=1 \
	W_EXPECT_AUTH=token \
	W_TOKEN_FILE=/var/run/secrets/kubernetes.io/serviceaccount/token \
	unshare -m bash "$T_TMP/in-cluster.sh"
