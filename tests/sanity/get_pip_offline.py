"""Stand-in for ansible-test's downloaded get-pip bootstrap script (its host is unreachable here).

ansible-test runs this as `python quiet_pip.py [pip install options] pip==X setuptools==Y ...` inside a fresh venv.
We bootstrap pip with the standard library's ensurepip, then let that pip install the pinned versions from PyPI.
"""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"] + args)
