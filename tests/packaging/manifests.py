#!/usr/bin/python3
"""The Kubernetes manifests parse and grant exactly what kiwi needs."""
import os
import re
import sys

import yaml

src = os.environ.get("KIWI_SRC") or os.path.join(
    os.path.dirname(__file__), "..", "..")
errors = []


def check(cond, what):
    if not cond:
        errors.append(what)


with open(os.path.join(src, "packaging/kubernetes/kiwi.yaml")) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
by_kind = {}
for d in docs:
    check("apiVersion" in d and "kind" in d and "metadata" in d,
          f"document without apiVersion/kind/metadata: {d}")
    by_kind.setdefault(d["kind"], []).append(d)

for kind in ("Namespace", "ServiceAccount", "ClusterRole",
             "ClusterRoleBinding", "ConfigMap", "DaemonSet"):
    check(len(by_kind.get(kind, [])) == 1, f"want exactly one {kind}")
if errors:
    sys.exit("\n".join(errors))

ns = by_kind["Namespace"][0]["metadata"]["name"]
sa = by_kind["ServiceAccount"][0]["metadata"]
role = by_kind["ClusterRole"][0]
binding = by_kind["ClusterRoleBinding"][0]
ds = by_kind["DaemonSet"][0]
cm = by_kind["ConfigMap"][0]

check(sa["namespace"] == ns, "ServiceAccount is not in the namespace")
check(role["rules"] == [{"apiGroups": [""], "resources": ["services"],
                         "verbs": ["get", "list", "watch"]}],
      f"ClusterRole grants more or less than services get/list/watch: "
      f"{role['rules']}")
check(binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                             "kind": "ClusterRole",
                             "name": role["metadata"]["name"]},
      "binding does not name the ClusterRole")
check(binding["subjects"] == [{"kind": "ServiceAccount",
                               "name": sa["name"], "namespace": ns}],
      "binding does not name the ServiceAccount")

pod = ds["spec"]["template"]["spec"]
check(ds["metadata"]["namespace"] == ns, "DaemonSet not in the namespace")
check(ds["spec"]["selector"]["matchLabels"].items() <=
      ds["spec"]["template"]["metadata"]["labels"].items(),
      "selector does not match the pod labels")
check(pod.get("hostNetwork") is True, "pod is not on the host network")
check(pod.get("serviceAccountName") == sa["name"],
      "pod does not use the ServiceAccount")
check(pod.get("automountServiceAccountToken", True) is True,
      "the token is not mounted, in-cluster auth cannot work")
check(pod.get("dnsPolicy") == "ClusterFirstWithHostNet",
      "host-network pod without ClusterFirstWithHostNet")
check(len(pod["containers"]) == 1, "want one container")
c = pod["containers"][0]
sc = c["securityContext"]
check(sc.get("privileged") is False, "container is privileged")
check(sc.get("runAsUser") == 0,
      "added capabilities reach only a container running as UID 0")
check(sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]},
      f"capabilities are not drop ALL, add NET_ADMIN NET_RAW: "
      f"{sc['capabilities']}")
check(sc.get("allowPrivilegeEscalation") is False,
      "privilege escalation is allowed")

mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
vols = {v["name"]: v for v in pod.get("volumes", [])}
lock = [n for n, v in vols.items()
        if v.get("hostPath", {}).get("path") == "/run/xtables.lock"]
check(len(lock) == 1, "the host's /run/xtables.lock is not mounted")
if lock:
    check(vols[lock[0]]["hostPath"].get("type") == "FileOrCreate",
          "xtables lock hostPath is not FileOrCreate")
    check(mounts.get(lock[0], {}).get("mountPath") == "/run/xtables.lock",
          "xtables lock is not mounted at /run/xtables.lock")

# The configuration the container reads is the ConfigMap's, and the
# ConfigMap holds only keys kiwi knows.
args = " ".join(c.get("args", []))
m = re.search(r"--config[= ](\S+)", args)
check(m is not None, "container does not pass --config")
cfgs = [n for n, v in vols.items()
        if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
check(len(cfgs) == 1, "ConfigMap is not mounted")
if m and cfgs:
    path = m.group(1)
    check(path == os.path.join(mounts[cfgs[0]]["mountPath"], "kiwi.conf"),
          f"--config {path} is not the ConfigMap's kiwi.conf")
known = set(re.findall(r'\{ "([a-z-]+)", (?:required|no)_argument',
                       open(os.path.join(src, "common/config.c")).read()))
for line in cm["data"]["kiwi.conf"].splitlines():
    line = line.split("#")[0].strip()
    if line:
        key = line.split("=")[0].strip()
        check(key in known, f"ConfigMap key '{key}' is unknown to kiwi")

# The image is made by the same install step the tests run.
cf = open(os.path.join(src, "packaging/container/Containerfile")).read()
check("cmake --install" in cf, "Containerfile does not use cmake --install")
check(cf.count("FROM ") >= 2, "Containerfile is not multi-stage")

if errors:
    sys.exit("manifests: " + "\n".join(errors))
print("manifests: ok")
