#!/usr/bin/env bash
# Renders the Knative Service for one platform with the image filled in.
# The one render step: the Makefile and Cloud Build both call it.
#   deploy/render.sh knative|cloudrun IMAGE [POLICY_SECRET]
# IMAGE is a reference, best pinned by digest (REPO/bouncer@sha256:...).
# KUBECTL names the kubectl to use (it carries kustomize).
set -euo pipefail
variant=${1:?usage: deploy/render.sh knative|cloudrun IMAGE}
image=${2:?usage: deploy/render.sh knative|cloudrun IMAGE}
here=$(cd "$(dirname "$0")" && pwd)
[ -d "$here/$variant" ] || { echo "render: unknown variant $variant (knative or cloudrun)" >&2; exit 2; }
case "$image" in
  *@sha256:*) name=${image%@*}; pin="digest: ${image#*@}" ;;
  *:*) name=${image%:*}; pin="newTag: ${image##*:}" ;;
  *) name=$image; pin="newTag: latest" ;;
esac
# kustomize takes directories by relative path only, so render beside them.
tmp=$(mktemp -d "$here/.render.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../$variant
images:
  - name: bouncer
    newName: $name
    $pin
YAML
# service.yaml sits at the repository root, outside the overlays.
"${KUBECTL:-kubectl}" kustomize --load-restrictor LoadRestrictionsNone "$tmp"
