"""nvml_snapshot.py stays self-contained (it runs alone on GPU hosts with only pynvml), so it formats CPU masks
itself; its cpulists must read back, through host_probe's parser, as exactly the CPUs of the mask."""

import random

import pytest

from ansible_collections.llmfleet.baremetal.plugins.module_utils import host_probe, nvml_snapshot


def _mask_words(cpus, words=4):
    out = [0] * words
    for cpu in cpus:
        out[cpu // 64] |= 1 << (cpu % 64)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_nvml_cpulist_reads_back_through_host_probe(seed):
    rng = random.Random(seed)
    cpus = sorted(rng.sample(range(256), rng.randint(0, 128)))
    text = nvml_snapshot.cpumask_to_cpulist(_mask_words(cpus))
    assert sorted(host_probe.parse_cpulist(text)) == cpus
    assert text == host_probe.format_cpulist(cpus)


def test_real_h200_affinity_shape():
    cpus = list(range(0, 48)) + list(range(96, 144))
    assert nvml_snapshot.cpumask_to_cpulist(_mask_words(cpus)) == "0-47,96-143" == host_probe.format_cpulist(cpus)
