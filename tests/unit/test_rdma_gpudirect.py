"""GPUDirect RDMA plan of the rdma role (issue 22 item 3): module_utils/rdma.py gpudirect_plan."""

import pytest

from ansible_collections.llmfleet.baremetal.plugins.module_utils.rdma import GpudirectError, gpudirect_plan

GPU = {"source": "live", "nvml_available": True, "gpus": [{"index": 0}]}
PORTS = [{"fabric": "rail0", "device": "mlx5_0", "port": 1}]
OPEN = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build"
PROPRIETARY = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.95.05  Release Build"
MODULES = "nvidia_uvm 1 0 - Live 0x0\nnvidia 2 1 nvidia_uvm, Live 0x0\n"


def test_open_modules_on_a_new_kernel_use_dma_buf():
    plan = gpudirect_plan(GPU, PORTS, OPEN, "6.8.0-51-generic", MODULES)
    assert plan["applicable"] and plan["how"] == "dma-buf" and plan["load"] == []
    assert plan["nccl_env"] == {"NCCL_DMABUF_ENABLE": "1"}


@pytest.mark.parametrize("text, kernel, why", [
    (PROPRIETARY, "6.8.0-51-generic", "proprietary kernel modules"),
    (OPEN, "5.10.0-30-amd64", "kernel 5.10.0-30-amd64 is older than 5.12"),
])
def test_otherwise_nvidia_peermem_is_loaded(text, kernel, why):
    plan = gpudirect_plan(GPU, PORTS, text, kernel, MODULES)
    assert plan["applicable"] and plan["how"] == "nvidia_peermem" and plan["load"] == ["nvidia_peermem"]
    assert why in plan["why"] and plan["nccl_env"] == {}


@pytest.mark.parametrize("gpu, ports, why", [
    (dict(GPU, source="replay"), PORTS, "replay"),
    ({"nvml_available": False, "gpus": []}, PORTS, "no GPU"),
    (None, PORTS, "no GPU"),
    (GPU, [], "no RDMA port"),
    (GPU, [{"fabric": "rail0", "device": None}], "no RDMA port"),
])
def test_not_applicable_says_why_and_required_refuses(gpu, ports, why):
    plan = gpudirect_plan(gpu, ports, OPEN, "6.8.0", MODULES)
    assert not plan["applicable"] and why in plan["why"] and plan["load"] == [] and plan["nccl_env"] == {}
    with pytest.raises(GpudirectError, match="gpu-a01: rdma_gpudirect is required, but GPUDirect RDMA does not apply"):
        gpudirect_plan(gpu, ports, OPEN, "6.8.0", MODULES, mode="required", host="gpu-a01")


def test_off_and_a_bad_mode():
    assert gpudirect_plan(GPU, PORTS, OPEN, "6.8.0", MODULES, mode="off") == {
        "applicable": False, "how": "", "load": [], "nccl_env": {}, "why": "rdma_gpudirect is off"}
    with pytest.raises(GpudirectError, match="auto, off or required"):
        gpudirect_plan(GPU, PORTS, OPEN, "6.8.0", MODULES, mode=False)


def test_the_task_file_hands_the_plan_to_nccl_and_loads_nothing_without_a_live_gpu(tmp_path):
    """roles/rdma/tasks/gpudirect.yml for real on localhost: a replayed snapshot is not applicable, says why, loads
    nothing and leaves NCCL's environment as the fabric ports made it."""
    from localhost_play import run_tasks

    tasks = [
        {"name": "GPUDirect", "ansible.builtin.include_role": {"name": "llmfleet.baremetal.rdma",
                                                               "tasks_from": "gpudirect.yml"}},
        {"name": "Show", "ansible.builtin.debug": {
            "msg": "RESULT {{ {'g': llmfleet_rdma_gpudirect, 'env': llmfleet_rdma_nccl_env} | to_json }}"}},
    ]
    proc = run_tasks(tmp_path, tasks, {"ansible_facts": {"llmfleet_gpu": dict(GPU, source="replay")},
                                       "llmfleet_rdma_fabric_ports": PORTS,
                                       "llmfleet_rdma_nccl_env": {"NCCL_IB_HCA": "mlx5_0:1"}})
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "GPUDirect RDMA: not applicable - the GPU snapshot is a replay (no live GPU)" in out, out[-2000:]
    assert '"applicable": false' in out and '"NCCL_IB_HCA": "mlx5_0:1"' in out and "NCCL_DMABUF" not in out
    assert "changed=0" in out and "failed=0" in out, out[-1000:]  # no modules-load.d file, no modprobe


def test_the_planner_on_a_real_h100_open_kernel_modules():
    """tests/fixtures/gpu/h100-gpudirect: the driver text, /proc/modules and NVML snapshot read on the lent H100
    (open kernel modules 580.159.04, kernel 6.18): no RDMA port there, so not applicable; with a port it would be
    DMA-BUF. The same answers as the planner gave on the device (plan.json)."""
    import json
    from pathlib import Path

    from ansible_collections.llmfleet.baremetal.plugins.module_utils.rdma import gpudirect_plan as plan_

    fx = Path(__file__).resolve().parents[1] / "fixtures" / "gpu" / "h100-gpudirect"
    snap = json.loads((fx / "snapshot.json").read_text())
    drv = (fx / "driver-version.txt").read_text()
    mods = (fx / "proc-modules.txt").read_text()
    kernel = "6.18.44-fc-v1272-gpu"
    recorded = json.loads((fx / "plan.json").read_text())
    assert "Open Kernel Module" in drv and kernel in (fx / "machine.txt").read_text()
    assert plan_(snap, [], drv, kernel, mods, host="h100") == recorded["plan_no_rdma_port"]
    assert recorded["plan_no_rdma_port"]["why"] == "no RDMA port on a fabric"
    with_port = plan_(snap, [{"fabric": "rail0", "device": "mlx5_0", "port": 1}], drv, kernel, mods, host="h100")
    assert with_port == recorded["plan_with_a_port"]
    assert with_port["how"] == "dma-buf" and with_port["nccl_env"] == {"NCCL_DMABUF_ENABLE": "1"}
