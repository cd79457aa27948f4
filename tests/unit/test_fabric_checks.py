"""Pre-flight's fabric checks (issue 22 item 2): PCIe ACS on the bridges between GPUs and NICs (from configuration
space and from recorded lspci output), IOMMU mode, GPUDirect RDMA, HCA firmware across nodes."""

import struct
from pathlib import Path

from ansible_collections.llmfleet.baremetal.plugins.module_utils import fabric_checks as fc
from ansible_collections.llmfleet.baremetal.plugins.module_utils import host_probe, topology

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "pci"


def config_space(acs_ctl, acs_at=0x148):
    """4096 bytes: AER (0x0001) at 0x100 pointing at ACS (0x000D) at ``acs_at``, as a PLX switch port has them."""
    cfg = bytearray(4096)
    struct.pack_into("<I", cfg, 0x100, 0x0001 | (1 << 16) | (acs_at << 20))
    struct.pack_into("<I", cfg, acs_at, 0x000D | (1 << 16))
    struct.pack_into("<HH", cfg, acs_at + 4, 0x7F, acs_ctl)
    return bytes(cfg)


def test_acs_masks_from_configuration_space():
    cap, ctl = host_probe._acs_masks(config_space(0x1D))  # pylint: disable=protected-access
    names = fc.acs_names(cap, ctl)
    assert names["control"] == ["SrcValid", "ReqRedir", "CmpltRedir", "UpstreamFwd"]
    assert fc.p2p_redirect(names) == ["ReqRedir", "CmpltRedir"]
    assert host_probe._acs_masks(config_space(0)) == (0x7F, 0)  # pylint: disable=protected-access
    assert host_probe._acs_masks(config_space(0x1D)[:256]) is None  # not root: 256 bytes only  # pylint: disable=protected-access


def test_lspci_dump_reads_the_same_bits():
    acs = fc.acs_from_lspci((FIX / "acs-lspci.txt").read_text())
    assert sorted(acs) == ["0000:03:00.0", "0000:04:08.0"]
    assert fc.p2p_redirect(acs["0000:03:00.0"]) == ["ReqRedir", "CmpltRedir"] and acs["0000:03:00.0"]["bridge"]
    assert fc.p2p_redirect(acs["0000:04:08.0"]) == []
    # the lspci reading and the configuration-space reading agree on the broken port
    assert acs["0000:03:00.0"]["control"] == fc.acs_names(0x7F, 0x1D)["control"]


def _host(ctl, iommu="passthrough", modules=(), flavor="open", kernel="6.1.0-28-amd64"):
    return {"fabric": {"bridges": [{"pci_bus_id": "0000:03:00.0", "below": ["0000:05:00.0"], "config_bytes": 4096,
                                    "acs_cap": 0x7F, "acs_ctl": ctl}], "modules": list(modules)},
            "iommu": {"mode": iommu}, "nvidia_driver": {"flavor": flavor}, "kernel": {"release": kernel}}


EXPECT = {"acs_disabled": True, "iommu_passthrough": True, "gpudirect_rdma": True}


def test_a_clean_fabric_passes():
    res = topology.evaluate(EXPECT, {}, _host(0), "gpu-a01")
    assert res["passed"], res["violations"]


def test_every_fabric_fault_is_named():
    res = topology.evaluate(EXPECT, {}, _host(0x1D, iommu="translated", flavor="proprietary", kernel="5.10.0"),
                            "gpu-a01")
    got = {(v["check"], str(v["found"])) for v in res["violations"]}
    assert ("acs_disabled", "0000:03:00.0: ReqRedir+CmpltRedir") in got
    assert ("iommu_passthrough", "translated") in got
    assert ("gpudirect_rdma", "neither") in got
    acs = [v for v in res["violations"] if v["check"] == "acs_disabled"][0]
    assert "above 0000:05:00.0" in acs["message"] and "setpci -s 0000:03:00.0" in acs["message"]


def test_gpudirect_rdma_ways():
    assert fc.gpudirect_rdma(["nvidia_peermem"], "", "5.10.0")["how"] == "nvidia_peermem"
    dmabuf = fc.gpudirect_rdma([], "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05", "6.1.0")
    assert dmabuf["available"] and dmabuf["how"].startswith("dma-buf")
    assert not fc.gpudirect_rdma([], "NVIDIA UNIX x86_64 Kernel Module  580.95.05", "6.1.0")["available"]
    assert not fc.gpudirect_rdma([], "Open Kernel Module", "5.10.0")["available"]


def test_hca_firmware_must_match_across_a_fabric():
    hosts = {"gpu-a01": [{"device": "mlx5_0", "fw_ver": "28.39.1002", "board_id": "MT_0000000838"}],
             "gpu-a02": [{"device": "mlx5_0", "fw_ver": "28.41.1000", "board_id": "MT_0000000838"}],
             "gpu-a03": [{"device": "mlx5_0", "fw_ver": "28.39.1002", "board_id": "MT_0000000838"}]}
    assert fc.hca_firmware_mismatch(hosts) == {
        "MT_0000000838": {"28.39.1002": ["gpu-a01/mlx5_0", "gpu-a03/mlx5_0"], "28.41.1000": ["gpu-a02/mlx5_0"]}}
    hosts["gpu-a02"][0]["fw_ver"] = "28.39.1002"
    assert fc.hca_firmware_mismatch(hosts) == {}
