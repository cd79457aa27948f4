# -*- coding: utf-8 -*-
# Copyright (c) 2025 llmfleet engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address planning for RDMA fabrics (IPoIB and RoCE netdevs) with netaddr.

A fabric is ``{name, cidr, mode, first_host_offset?, mtu?, gateway?, ipoib_mode?}``.  A host's address is the
``index``-th usable address of the fabric's CIDR, where ``index`` is the host's position in the fabric's
ordered host list (the inventory order of the fabric's group), counted from ``first_host_offset``.

Rules (docs/rdma.md, "Addressing"):

* IPv4 /8../30: the network and broadcast addresses are never handed out; the default offset is 1.
* IPv4 /31 (RFC 3021): both addresses are usable, default offset 0; /32: one address, one host.
* IPv6: the subnet-router anycast address (offset 0) is never handed out except in /127 (RFC 6164) and /128;
  the default offset is 1 (0 for /127 and /128).
* A ``gateway`` inside the CIDR is skipped (hosts never get it); outside the CIDR it is an error.
* Two fabrics whose CIDRs overlap, a CIDR with host bits set, an offset past the range, a host that is not in
  the fabric's host list and a host list longer than the range are errors naming the fabric and the host.

Runs on the controller (filters); netaddr is imported lazily so that the module is importable without it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MODES = ("roce", "ipoib")
IPOIB_MODES = ("datagram", "connected")

# Default MTU per mode: RoCE runs on jumbo Ethernet; IPoIB datagram = IB MTU 4096 - 4 byte header,
# connected mode = 65520 (the IPoIB CM maximum).
DEFAULT_MTU = {"roce": 9000, ("ipoib", "datagram"): 4092, ("ipoib", "connected"): 65520}
MTU_MAX = {"roce": 9216, ("ipoib", "datagram"): 4092, ("ipoib", "connected"): 65520}
IPV4_MIN_MTU = 576
IPV6_MIN_MTU = 1280

__all__ = ["AddrPlanError", "plan_fabric", "check_overlaps", "usable_range", "DEFAULT_MTU", "MODES"]


class AddrPlanError(ValueError):
    """A plan cannot be made; the message names the fabric and the host."""


def _netaddr():
    try:
        import netaddr  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - netaddr is in the controller venv
        raise AddrPlanError("the fabric address planner needs the python library netaddr on the controller")
    return netaddr


def _where(fabric_name, host):
    return "fabric %r, host %r" % (fabric_name, host)


def _network(fabric, host):
    """netaddr.IPNetwork of the fabric's CIDR, validated (no host bits set)."""
    netaddr = _netaddr()
    name = fabric.get("name") if isinstance(fabric, dict) else None
    if not isinstance(fabric, dict) or not name:
        raise AddrPlanError("%s: a fabric must be a dict with at least 'name' and 'cidr', got %r" % (_where(name, host), fabric))
    cidr = fabric.get("cidr")
    if not cidr or "/" not in str(cidr):
        raise AddrPlanError("%s: cidr %r must be a network in CIDR notation (e.g. 10.77.0.0/24 or fd00:77::/64)"
                            % (_where(name, host), cidr))
    try:
        net = netaddr.IPNetwork(str(cidr))
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise AddrPlanError("%s: cidr %r is not a valid network: %s" % (_where(name, host), cidr, exc))
    if net.ip != net.network:
        raise AddrPlanError("%s: cidr %s has host bits set (did you mean %s/%d?)"
                            % (_where(name, host), cidr, net.network, net.prefixlen))
    return net


def usable_range(net, offset=None):
    """(first, last, default_offset) usable integer addresses of a netaddr.IPNetwork for host addressing.

    ``offset`` (None = the default) counts from the network address.
    """
    size = net.size
    base = int(net.network)
    if net.version == 4:
        if net.prefixlen >= 31:
            default, lo, hi = 0, base, base + size - 1
        else:
            default, lo, hi = 1, base + 1, base + size - 2
    else:
        if net.prefixlen >= 127:
            default, lo, hi = 0, base, base + size - 1
        else:
            default, lo, hi = 1, base + 1, base + size - 1
    off = default if offset is None else int(offset)
    return base + off, hi, default, lo


def check_overlaps(fabrics, host=None):
    """Raise AddrPlanError when two fabrics share a name or their CIDRs overlap."""
    seen = []
    names = set()
    for fab in fabrics or []:
        net = _network(fab, host)
        if fab["name"] in names:
            raise AddrPlanError("%s: the fabric name is used twice in rdma_fabrics" % _where(fab["name"], host))
        names.add(fab["name"])
        for other_name, other in seen:
            if other.version == net.version and (net.first <= other.last and other.first <= net.last):
                raise AddrPlanError("%s: cidr %s overlaps fabric %r (%s); every fabric needs its own range"
                                    % (_where(fab["name"], host), net, other_name, other))
        seen.append((fab["name"], net))


def _mtu(fabric, net, host):
    mode = fabric.get("mode", "roce")
    if mode not in MODES:
        raise AddrPlanError("%s: mode %r must be one of %s" % (_where(fabric["name"], host), mode, ", ".join(MODES)))
    key = mode
    if mode == "ipoib":
        ipoib_mode = fabric.get("ipoib_mode", "datagram")
        if ipoib_mode not in IPOIB_MODES:
            raise AddrPlanError("%s: ipoib_mode %r must be datagram or connected" % (_where(fabric["name"], host), ipoib_mode))
        key = (mode, ipoib_mode)
    mtu = fabric.get("mtu")
    if mtu in (None, "", 0):
        mtu = DEFAULT_MTU[key]
    try:
        mtu = int(mtu)
    except (TypeError, ValueError):
        raise AddrPlanError("%s: mtu %r is not an integer" % (_where(fabric["name"], host), fabric.get("mtu")))
    lo, hi = (IPV6_MIN_MTU if net.version == 6 else IPV4_MIN_MTU), MTU_MAX[key]
    if not lo <= mtu <= hi:
        label = mode if mode == "roce" else "ipoib %s mode" % key[1]
        raise AddrPlanError("%s: mtu %d is outside %d..%d for %s%s" % (
            _where(fabric["name"], host), mtu, lo, hi, label,
            " (IPoIB datagram MTU is the IB MTU - 4: 2044 or 4092; connected mode allows 65520)" if mode == "ipoib" else ""))
    return mtu


def plan_fabric(fabric, hosts_in_order, host, all_fabrics=None, index=None):
    """The address of ``host`` on ``fabric``.

    ``hosts_in_order``: the fabric's hosts in inventory order (the host's position is its index unless
    ``index`` is given).  ``all_fabrics``: every fabric of the site, checked for overlaps.
    Returns ``{fabric, host, index, address, prefix, cidr, network, netmask, version, gateway, mtu, mode,
    ipoib_mode}``; raises AddrPlanError naming the fabric and the host.
    """
    netaddr = _netaddr()
    net = _network(fabric, host)
    name = fabric["name"]
    if all_fabrics:
        check_overlaps(all_fabrics, host)
    hosts = list(hosts_in_order or [])
    if index is None or index == "" or (isinstance(index, int) and index < 0):
        if host not in hosts:
            raise AddrPlanError("%s: the host is not in the fabric's host list (%d hosts: %s); add it to the fabric's "
                                "group or set its index explicitly" % (_where(name, host), len(hosts), ", ".join(map(str, hosts[:8]))
                                                                       + (", ..." if len(hosts) > 8 else "")))
        index = hosts.index(host)
    try:
        index = int(index)
    except (TypeError, ValueError):
        raise AddrPlanError("%s: host index %r is not an integer" % (_where(name, host), index))

    offset = fabric.get("first_host_offset")
    if offset in ("",):
        offset = None
    if offset is not None:
        try:
            offset = int(offset)
        except (TypeError, ValueError):
            raise AddrPlanError("%s: first_host_offset %r is not an integer" % (_where(name, host), offset))
    first, last, default_offset, lowest = usable_range(net, offset)
    if offset is not None and first < lowest:
        what = "the network address" if net.version == 4 else "the subnet-router anycast address"
        raise AddrPlanError("%s: first_host_offset %d would hand out %s of %s (use >= %d)"
                            % (_where(name, host), offset, what, net, default_offset))

    gateway = fabric.get("gateway") or None
    gw_int = None
    if gateway:
        try:
            gw = netaddr.IPAddress(str(gateway))
        except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
            raise AddrPlanError("%s: gateway %r is not an IP address: %s" % (_where(name, host), gateway, exc))
        if gw not in net:
            raise AddrPlanError("%s: gateway %s is outside the fabric's cidr %s" % (_where(name, host), gw, net))
        gw_int = int(gw)
        gateway = str(gw)

    capacity = last - first + 1 if last >= first else 0
    if gw_int is not None and first <= gw_int <= last:
        capacity -= 1
    if capacity <= 0:
        raise AddrPlanError("%s: cidr %s has no usable address from offset %d"
                            % (_where(name, host), net, first - int(net.network)))
    needed = max(len(hosts), index + 1)
    if needed > capacity:
        raise AddrPlanError("%s: range exhausted - the host is #%d of %d host(s) but %s has only %d usable address(es) "
                            "from offset %d%s; use a larger cidr or a smaller first_host_offset"
                            % (_where(name, host), index + 1, len(hosts), net, capacity, first - int(net.network),
                               " (gateway %s excluded)" % gateway if gw_int is not None and first <= gw_int <= last else ""))
    addr_int = first + index
    if gw_int is not None and first <= gw_int <= addr_int:
        addr_int += 1
    address = netaddr.IPAddress(addr_int, net.version)
    mtu = _mtu(fabric, net, host)
    return {
        "fabric": name,
        "host": host,
        "index": index,
        "address": str(address),
        "prefix": net.prefixlen,
        "cidr": "%s/%d" % (address, net.prefixlen),
        "network": str(net.cidr),
        "netmask": str(net.netmask),
        "version": net.version,
        "gateway": gateway,
        "mtu": mtu,
        "mode": fabric.get("mode", "roce"),
        "ipoib_mode": fabric.get("ipoib_mode", "datagram") if fabric.get("mode") == "ipoib" else None,
    }
