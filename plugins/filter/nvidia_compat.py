# -*- coding: utf-8 -*-
# Copyright: llmfleet
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters over the NVIDIA compatibility data (docs: the <filter>.yml sidecars, docs/compat.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError

from ansible_collections.llmfleet.baremetal.plugins.module_utils.nvidia_compat import (
    CompatError,
    cc_to_arch,
    cuda_min_driver,
    cudnn_supports,
    driver_branch_info,
    driver_supports_cuda,
    evaluate_stack,
    fabric_manager_matches,
    kernel_module_flavors,
)


def _wrap(name, func):
    @functools.wraps(func)
    def _filter(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CompatError as e:
            raise AnsibleFilterError("%s: %s" % (name, e))
    return _filter


_FILTERS = {
    "cuda_min_driver": cuda_min_driver,
    "driver_supports_cuda": driver_supports_cuda,
    "cudnn_supports": cudnn_supports,
    "cc_to_arch": cc_to_arch,
    "kernel_module_flavors": kernel_module_flavors,
    "driver_branch_info": driver_branch_info,
    "fabric_manager_matches": fabric_manager_matches,
    "nvidia_stack_violations": evaluate_stack,
}


class FilterModule(object):
    """NVIDIA driver / CUDA / cuDNN / architecture / Fabric Manager compatibility filters."""

    def filters(self):
        return dict((name, _wrap(name, func)) for name, func in _FILTERS.items())
