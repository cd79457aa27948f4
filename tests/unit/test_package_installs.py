"""No daemon ever runs with its distribution's default configuration (issue 16).

Every package a role installs with ansible.builtin.apt is installed with `policy_rc_d: 101`, so a maintainer script
that would start (or restart) a service is refused: the role writes llmfleet's configuration and starts the service
itself. The exceptions below install no daemon, each with the reason. A new apt task fails this test until it takes
the guard or an exception with its reason.
"""

import glob
import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

NO_DAEMON = {
    ("backup", "Install restic"): "restic: a command, no service",
    ("cuda", "Install the CUDA toolkit at exactly the planned version"): "toolkit libraries and nvcc: no service",
    ("cudnn", "Install cuDNN at exactly the planned version"): "libraries only: no service",
    ("model_server", "Install what the engines' venvs need"): "python3-venv, python3-pip: no service",
    ("numa", "Install numactl"): "numactl: a command, no service",
    ("nvidia_driver", "Install the headers of every installed kernel (DKMS builds for each)"):
        "linux-headers-*: no service",
    ("nvidia_driver", "Refresh the apt lists for the new repository"): "update_cache only, installs nothing",
    ("rdma", "Install the vendor RDMA stack"):
        "the vendor stack (MLNX_OFED/DOCA) is installed for a reboot (notify: RDMA reboot needed); its services start "
        "at that boot with the configuration llmfleet wrote",
}


def tasks(node):
    """Every task of a task file, blocks flattened."""
    for item in node or []:
        if not isinstance(item, dict):
            continue
        yield item
        for key in ("block", "rescue", "always"):
            yield from tasks(item.get(key))


def apt_tasks():
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml"))):
        role = path.split(os.sep)[-3]
        for task in tasks(yaml.safe_load(open(path))):
            args = task.get("ansible.builtin.apt") or task.get("apt")
            if args is not None:
                yield role, os.path.basename(path), task.get("name"), args


def test_every_package_install_is_found():
    found = list(apt_tasks())
    assert len(found) >= 15, found
    assert all(task[2] for task in found), [task for task in found if not task[2]]


def test_daemon_packages_are_installed_without_starting():
    unguarded = [(role, path, name) for role, path, name, args in apt_tasks()
                 if args.get("policy_rc_d") != 101 and (role, name) not in NO_DAEMON]
    assert not unguarded, (
        "these apt tasks may let a package start its daemon with the distribution's configuration: set "
        "policy_rc_d: 101 (or add an exception with its reason): %s" % unguarded)


def test_exceptions_name_existing_tasks():
    names = {(task[0], task[2]) for task in apt_tasks()}
    assert not set(NO_DAEMON) - names, set(NO_DAEMON) - names


def test_no_exception_is_guarded_anyway():
    guarded = {(task[0], task[2]) for task in apt_tasks() if task[3].get("policy_rc_d") == 101}
    assert not guarded & set(NO_DAEMON), guarded & set(NO_DAEMON)
