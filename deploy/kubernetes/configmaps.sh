#!/usr/bin/env bash
# Makes (or updates) the ConfigMaps the Deployment mounts, from this repository's files:
# playbooks, the data-center inventory and the document templates. Run from anywhere:
#   INVENTORY=/path/to/datacenter.yaml bash deploy/kubernetes/configmaps.sh | kubectl apply -f -
set -euo pipefail
cd "$(dirname "$0")/../.."
ns="${NAMESPACE:-kolokasi}"
inventory="${INVENTORY:-deploy/examples/datacenter.yaml}"
kubectl create configmap kolokasi-playbooks -n "$ns" --from-file=playbooks/ --dry-run=client -o yaml
echo "---"
kubectl create configmap kolokasi-inventory -n "$ns" --from-file=datacenter.yaml="$inventory" --dry-run=client -o yaml
echo "---"
kubectl create configmap kolokasi-document-templates -n "$ns" --from-file=templates/documents/ --dry-run=client -o yaml
