# -*- coding: utf-8 -*-
# Copyright: llmfleet
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters over the NVIDIA compatibility data (docs: the <filter>.yml sidecars, docs/compat.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.filter_errors import named_filters

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
        return named_filters(_FILTERS, CompatError)
