# -*- coding: utf-8 -*-
# Copyright: llmfleet
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters over the GPU stack planner (docs: the gpu_stack_*.yml sidecars, docs/gpu-stack.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.llmfleet.baremetal.plugins.module_utils.gpu_stack import (
    CompatError,
    deb_upstream_version,
    dkms_missing,
    parse_cudnn_header,
    parse_nvcc_version,
    resolve_cuda_plan,
    resolve_cudnn_plan,
    resolve_driver_plan,
    verify_driver,
    violation_table,
)
from ansible_collections.llmfleet.baremetal.plugins.module_utils.openpgp import fingerprints_or_none, normalize
from ansible_collections.llmfleet.baremetal.plugins.plugin_utils.filter_errors import named_filters

_FILTERS = {
    "gpu_stack_driver_plan": resolve_driver_plan,
    "gpu_stack_cuda_plan": resolve_cuda_plan,
    "gpu_stack_cudnn_plan": resolve_cudnn_plan,
    "gpu_stack_verify_driver": verify_driver,
    "gpu_stack_nvcc_version": parse_nvcc_version,
    "gpu_stack_cudnn_header_version": parse_cudnn_header,
    "gpu_stack_dkms_missing": dkms_missing,
    "gpu_stack_deb_upstream": deb_upstream_version,
    "gpu_stack_violation_table": violation_table,
    "openpgp_fingerprints": fingerprints_or_none,
    "openpgp_normalize": normalize,
}


class FilterModule(object):
    """GPU software stack planning and verification filters."""

    def filters(self):
        return named_filters(_FILTERS, CompatError)
