"""Mitogen's linear strategy for the VM lanes (molecule/node_vm, molecule/ha; docs/lab-vms.md).

Under TCG (no KVM) every stock task starts a new Python on the guest and imports its module from a zip, 2-4 s per
task per host (measured: a file task 1.8 s, a copy 3.7 s, an apt check 14 s on the two HA VMs); Mitogen keeps one
interpreter per host and its imports, 0.1-0.4 s per task. Only the lab's strategy changes: the roles are the same, and
the container scenarios keep Ansible's own `linear` strategy, so both ways of running are tested in CI.
This file only names the plugin that the `mitogen` package (requirements.lock) ships.
"""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401  pylint: disable=unused-import
