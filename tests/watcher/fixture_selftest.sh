#!/bin/bash
# The Kubernetes API fixture itself: what the watcher's tests rely on.
. "$(dirname "$0")/../lib/common.sh"

kube_fixture_start "" --token sesame --bookmark-interval 0.2
python3 "$KIWI_SRC/tests/fixture/test_kube_api.py" "$KUBE_URL" sesame
