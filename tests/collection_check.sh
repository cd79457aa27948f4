#!/usr/bin/env bash
# The collection builds, installs from its tarball, and its plugins resolve by FQCN from the installed copy.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --output-path "$work" --force . >/dev/null
tarball=$(ls "$work"/llmfleet-baremetal-*.tar.gz)
echo "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
# Nothing of the controller's checkout may ship: caches, venvs, lab disks.
if tar -tzf "$tarball" | grep -E '^(\.venv|lab/cache|runs|\.collections|build)/' ; then
  echo "tarball carries checkout-only files" >&2; exit 1
fi
# Away from the checkout's ansible.cfg (which links the checkout in as the collection).
printf "[defaults]\n" > "$work/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$work/installed" ANSIBLE_CONFIG="$work/ansible.cfg"
ansible-galaxy collection install --force -p "$work/installed" "$tarball" >/dev/null
test -f "$work/installed/ansible_collections/llmfleet/baremetal/MANIFEST.json"
cd "$work"
ansible-doc -t filter llmfleet.baremetal.cuda_min_driver >/dev/null
ansible-doc -t module -l llmfleet.baremetal | tee "$work/modules.txt"
ansible-doc -t filter -l llmfleet.baremetal | tee "$work/filters.txt"
grep -q cuda_min_driver "$work/filters.txt"
ansible-doc -t role llmfleet.baremetal.common >/dev/null
# The filters run from the installed copy (proves plugin + module_utils imports resolve by FQCN).
out=$(ansible localhost -m ansible.builtin.debug -a "msg={{ '12.4' | llmfleet.baremetal.cuda_min_driver }}" 2>&1)
echo "$out" | grep -q '"msg": "550' || { echo "$out"; exit 1; }
# The site playbook resolves by FQCN once installed.
ansible-playbook --syntax-check -i localhost, llmfleet.baremetal.site >/dev/null
echo "collection install OK: plugins resolve by FQCN, llmfleet.baremetal.site parses"
