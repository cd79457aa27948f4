# -*- coding: utf-8 -*-
# Copyright: llmfleet
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVIDIA version-compatibility data (single source of truth for the gates).

Transcribed from the project reference ``nvidia-compat-facts.md`` (kept in the
shared reference folder, not shipped).  Every row carries a ``source`` key that
cites the reference's source ids (S1...S20) or, where the reference cites a
document without an id, that document.  Rows tagged [SECONDARY] in the
reference say so in their ``source``.

Rules for editing (see docs/compat.md):
  * only facts the reference states; nothing inferred is stored (derived values
    are computed in nvidia_compat.py);
  * what the reference lists as NOT confirmed is left out and recorded in
    NOT_ENCODED instead;
  * add the matching hand-copied pair to tests/unit/test_nvidia_compat.py.

Plain Python literals only (no imports), so the module ships inside modules via
AnsiballZ and inside the collection tarball.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

REFERENCE = "nvidia-compat-facts.md"

# ---------------------------------------------------------------------------
# 1. CUDA toolkit release -> (a) toolkit driver, Linux x86_64 (reference §1.1)
#
# version: canonical X.Y.Z; "Update N" of X.Y is X.Y.N (CUDA's own numbering);
#          CUDA 11.0 and 10.x releases use the numbers the reference prints.
# ga:      the row that a bare "X.Y" resolves to.
# any_patch: the row covers every X.Y.Z (reference: "all updates" /
#          "and updates").
# driver:  exact minimum Linux driver, or None where only a branch is stated,
#          in which case branch_floor holds the branch number ("615" = R615 or
#          later).
# ---------------------------------------------------------------------------
CUDA_TOOLKIT_DRIVERS = [
    {"cuda": "13.4", "release": "13.4 (all updates)", "version": "13.4.0", "ga": True, "any_patch": True,
     "driver": None, "branch_floor": "615",
     "source": "S2 [OFFICIAL] (CUDA 13.4 -> R615; exact minimum not given, Linux driver no longer bundled)"},
    {"cuda": "13.3", "release": "13.3 Update 1", "version": "13.3.1", "ga": False,
     "driver": None, "branch_floor": "610",
     "source": "S2 [OFFICIAL] (branch R610); exact 610.43.02 only [SECONDARY] -> not encoded (reference §7.2)"},
    {"cuda": "13.3", "release": "13.3 GA", "version": "13.3.0", "ga": True,
     "driver": None, "branch_floor": "610",
     "source": "S2 [OFFICIAL] (branch R610); exact 610.43.02 only [SECONDARY] -> not encoded (reference §7.2)"},
    {"cuda": "13.2", "release": "13.2 Update 2", "version": "13.2.2", "ga": False, "driver": "595.71.05", "source": "S1"},
    {"cuda": "13.2", "release": "13.2 Update 1", "version": "13.2.1", "ga": False, "driver": "595.58.03", "source": "S1"},
    {"cuda": "13.2", "release": "13.2 GA", "version": "13.2.0", "ga": True, "driver": "595.45.04", "source": "S1 (branch R595 per S2)"},
    {"cuda": "13.1", "release": "13.1 Update 1", "version": "13.1.1", "ga": False, "driver": "590.48.01", "source": "S1"},
    {"cuda": "13.1", "release": "13.1 GA", "version": "13.1.0", "ga": True, "driver": "590.44.01", "source": "S1 (branch R590 per S2)"},
    {"cuda": "13.0", "release": "13.0 Update 2", "version": "13.0.2", "ga": False, "driver": "580.95.05", "source": "S1"},
    {"cuda": "13.0", "release": "13.0 Update 1", "version": "13.0.1", "ga": False, "driver": "580.82.07", "source": "S1"},
    {"cuda": "13.0", "release": "13.0 GA", "version": "13.0.0", "ga": True, "driver": "580.65.06", "source": "S1 (branch R580 per S2)"},
    {"cuda": "12.9", "release": "12.9 Update 1", "version": "12.9.1", "ga": False, "driver": "575.57.08", "source": "S1, S2"},
    {"cuda": "12.9", "release": "12.9 GA", "version": "12.9.0", "ga": True, "driver": "575.51.03", "source": "S1, S2"},
    {"cuda": "12.8", "release": "12.8 Update 1", "version": "12.8.1", "ga": False, "driver": "570.124.06", "source": "S1, S2"},
    {"cuda": "12.8", "release": "12.8 GA", "version": "12.8.0", "ga": True, "driver": "570.26", "source": "S1, S2"},
    {"cuda": "12.6", "release": "12.6 Update 3", "version": "12.6.3", "ga": False, "driver": "560.35.05", "source": "S1, S2"},
    {"cuda": "12.6", "release": "12.6 Update 2", "version": "12.6.2", "ga": False, "driver": "560.35.03", "source": "S1, S2"},
    {"cuda": "12.6", "release": "12.6 Update 1", "version": "12.6.1", "ga": False, "driver": "560.35.03", "source": "S1, S2"},
    {"cuda": "12.6", "release": "12.6 GA", "version": "12.6.0", "ga": True, "driver": "560.28.03", "source": "S1, S2"},
    {"cuda": "12.5", "release": "12.5 Update 1", "version": "12.5.1", "ga": False, "driver": "555.42.06", "source": "S1, S2"},
    {"cuda": "12.5", "release": "12.5 GA", "version": "12.5.0", "ga": True, "driver": "555.42.02", "source": "S1, S2"},
    {"cuda": "12.4", "release": "12.4 Update 1", "version": "12.4.1", "ga": False, "driver": "550.54.15", "source": "S1, S2"},
    {"cuda": "12.4", "release": "12.4 GA", "version": "12.4.0", "ga": True, "driver": "550.54.14", "source": "S1, S2"},
    {"cuda": "12.3", "release": "12.3 Update 1", "version": "12.3.1", "ga": False, "driver": "545.23.08", "source": "S1, S2"},
    {"cuda": "12.3", "release": "12.3 GA", "version": "12.3.0", "ga": True, "driver": "545.23.06", "source": "S1, S2"},
    {"cuda": "12.2", "release": "12.2 Update 2", "version": "12.2.2", "ga": False, "driver": "535.104.05", "source": "S1, S2"},
    {"cuda": "12.2", "release": "12.2 Update 1", "version": "12.2.1", "ga": False, "driver": "535.86.09", "source": "S1, S2"},
    {"cuda": "12.2", "release": "12.2 GA", "version": "12.2.0", "ga": True, "driver": "535.54.03", "source": "S1, S2"},
    {"cuda": "12.1", "release": "12.1 Update 1", "version": "12.1.1", "ga": False, "driver": "530.30.02", "source": "S1, S2"},
    {"cuda": "12.1", "release": "12.1 GA", "version": "12.1.0", "ga": True, "driver": "530.30.02", "source": "S1, S2"},
    {"cuda": "12.0", "release": "12.0 Update 1", "version": "12.0.1", "ga": False, "driver": "525.85.12", "source": "S1, S2"},
    {"cuda": "12.0", "release": "12.0 GA", "version": "12.0.0", "ga": True, "driver": "525.60.13", "source": "S1, S2"},
    {"cuda": "11.8", "release": "11.8 GA", "version": "11.8.0", "ga": True, "driver": "520.61.05", "source": "S1, S2"},
    {"cuda": "11.7", "release": "11.7 Update 1", "version": "11.7.1", "ga": False, "driver": "515.48.07", "source": "S1, S2"},
    {"cuda": "11.7", "release": "11.7 GA", "version": "11.7.0", "ga": True, "driver": "515.43.04", "source": "S1, S2"},
    {"cuda": "11.6", "release": "11.6 Update 2", "version": "11.6.2", "ga": False, "driver": "510.47.03", "source": "S1, S2"},
    {"cuda": "11.6", "release": "11.6 Update 1", "version": "11.6.1", "ga": False, "driver": "510.47.03", "source": "S1, S2"},
    {"cuda": "11.6", "release": "11.6 GA", "version": "11.6.0", "ga": True, "driver": "510.39.01", "source": "S1, S2"},
    {"cuda": "11.5", "release": "11.5 Update 2", "version": "11.5.2", "ga": False, "driver": "495.29.05", "source": "S1, S2"},
    {"cuda": "11.5", "release": "11.5 Update 1", "version": "11.5.1", "ga": False, "driver": "495.29.05", "source": "S1, S2"},
    {"cuda": "11.5", "release": "11.5 GA", "version": "11.5.0", "ga": True, "driver": "495.29.05", "source": "S1, S2"},
    {"cuda": "11.4", "release": "11.4 Update 4", "version": "11.4.4", "ga": False, "driver": "470.82.01", "source": "S1, S2"},
    {"cuda": "11.4", "release": "11.4 Update 3", "version": "11.4.3", "ga": False, "driver": "470.82.01", "source": "S1, S2"},
    {"cuda": "11.4", "release": "11.4 Update 2", "version": "11.4.2", "ga": False, "driver": "470.57.02", "source": "S1, S2"},
    {"cuda": "11.4", "release": "11.4 Update 1", "version": "11.4.1", "ga": False, "driver": "470.57.02", "source": "S1, S2"},
    {"cuda": "11.4", "release": "11.4.0 GA", "version": "11.4.0", "ga": True, "driver": "470.42.01", "source": "S1, S2"},
    {"cuda": "11.3", "release": "11.3.1 Update 1", "version": "11.3.1", "ga": False, "driver": "465.19.01", "source": "S1, S2"},
    {"cuda": "11.3", "release": "11.3.0 GA", "version": "11.3.0", "ga": True, "driver": "465.19.01", "source": "S1, S2"},
    {"cuda": "11.2", "release": "11.2.2 Update 2", "version": "11.2.2", "ga": False, "driver": "460.32.03", "source": "S1, S2"},
    {"cuda": "11.2", "release": "11.2.1 Update 1", "version": "11.2.1", "ga": False, "driver": "460.32.03", "source": "S1, S2"},
    {"cuda": "11.2", "release": "11.2.0 GA", "version": "11.2.0", "ga": True, "driver": "460.27.03", "source": "S1, S2"},
    {"cuda": "11.1", "release": "11.1.1 Update 1", "version": "11.1.1", "ga": False, "driver": "455.32", "source": "S1, S2"},
    {"cuda": "11.1", "release": "11.1 GA", "version": "11.1.0", "ga": True, "driver": "455.23", "source": "S1, S2"},
    {"cuda": "11.0", "release": "11.0.3 Update 1", "version": "11.0.3", "ga": False, "driver": "450.51.06", "source": "S1, S2"},
    {"cuda": "11.0", "release": "11.0.2 GA", "version": "11.0.2", "ga": True, "driver": "450.51.05", "source": "S1, S2"},
    {"cuda": "11.0", "release": "11.0.1 RC", "version": "11.0.1", "ga": False, "driver": "450.36.06", "source": "S1, S2"},
    {"cuda": "10.2", "release": "10.2.89", "version": "10.2.89", "ga": True, "driver": "440.33", "source": "S1, S2"},
    {"cuda": "10.1", "release": "10.1 (10.1.105 and updates)", "version": "10.1.105", "ga": True, "any_patch": True,
     "driver": "418.39", "source": "S1, S2"},
    {"cuda": "10.0", "release": "10.0.130", "version": "10.0.130", "ga": True, "driver": "410.48", "source": "S1, S2"},
]

# Minor versions that do not exist (so a request for them is an error, not "unknown").
CUDA_NONEXISTENT = [
    {"cuda": "12.7", "note": "no such release: the toolkit table jumps 12.6 -> 12.8", "source": "S1, S2 (absence)"},
]

# ---------------------------------------------------------------------------
# 1(b). CUDA major -> minor-version-compatibility (MVC) floor (reference §1)
#
# branch_floor: the current official wording (">= 580" etc.).
# driver: the exact floor the gate uses; 450.80.02 is official (S1 footnote,
#   S3); 525.60.13 and 580.65.06 are the exact numbers NVIDIA's cuDNN support
#   matrix (S11) uses for its 12.x / 13.x builds (525.60.13 also appears in
#   older editions of S1 Table 2, [SECONDARY] copies).
# upper_branch: upper end of the MVC range (newer drivers still work through
#   backward compatibility); None = N/A.
# No MVC before CUDA 11 (S3: "From CUDA 11 onwards").
# ---------------------------------------------------------------------------
CUDA_MVC_FLOORS = [
    {"major": 13, "branch_floor": "580", "driver": "580.65.06", "upper_branch": None,
     "source": "S1 Table 2, S2, S3 (>= 580); exact 580.65.06 as used by S11 cuDNN 9.17 for its 13.x build"},
    {"major": 12, "branch_floor": "525", "driver": "525.60.13", "upper_branch": "580",
     "source": "S1, S2, S3 (>= 525, < 580); exact 525.60.13 per S11 and older S1 Table 2 editions [SECONDARY]"},
    {"major": 11, "branch_floor": "450", "driver": "450.80.02", "upper_branch": "525",
     "source": "S1 (footnote ***), S2, S3 (>= 450, < 525; MVC across 11.x needs 450.80.02)",
     "note": "CUDA 11.0 shipped with an earlier driver (450.36.06); MVC across 11.x needs 450.80.02"},
]
MVC_FIRST_MAJOR = 11  # S3: "From CUDA 11 onwards..."

# ---------------------------------------------------------------------------
# 2. cuDNN release -> CUDA toolkits, minimum Linux driver, CCs (reference §2)
#
# One row per (cuDNN release, build).  cuda: CUDA minor versions listed by the
# support matrix.  driver: minimum Linux driver for the build, or None where
# the matrix says "refer to CUDA Compatibility"/"per row" (then the CUDA
# release's own requirement applies; cuda_branches records the per-row branch
# where given).  ccs: compute capabilities listed ("5.0-9.0" kept verbatim as
# text because the reference gives ranges, not lists).
# covered_majors (CUDNN_COVERAGE): the CUDA majors the reference read for that
# cuDNN release; a question outside them is an error, not "False".
# ---------------------------------------------------------------------------
CUDNN_BUILDS = [
    {"cudnn": "9.17.0", "build": "cuda13", "cuda": ["13.0", "13.1"], "driver": "580.65.06",
     "ccs": "7.5, 8.0, 8.6, 8.9, 9.0, 10.0, 12.0",
     "source": "S11 cuDNN 9.17.0 support matrix https://docs.nvidia.com/deeplearning/sdk/cudnn-support-matrix/index.html"},
    {"cudnn": "9.17.0", "build": "cuda12", "cuda": ["12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.8", "12.9"],
     "driver": "525.60.13", "ccs": "7.5-9.0, plus 10.0/12.0 (footnoted)",
     "source": "S11 cuDNN 9.17.0 support matrix https://docs.nvidia.com/deeplearning/sdk/cudnn-support-matrix/index.html"},
    {"cudnn": "9.10.2", "build": "cuda12 (12.8/12.9 row)", "cuda": ["12.8", "12.9"], "driver": "570.26",
     "ccs": "5.0-9.0, 10.0, 12.0 (Volta/Pascal/Maxwell footnoted [5])",
     "source": "S11 cuDNN 9.10.2 support matrix https://docs.nvidia.com/deeplearning/cudnn/latest/support-matrix/index.html"},
    {"cudnn": "9.10.2", "build": "cuda12", "cuda": ["12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.8", "12.9"],
     "driver": "525.60.13", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 9.10.2 support matrix https://docs.nvidia.com/deeplearning/cudnn/latest/support-matrix/index.html"},
    {"cudnn": "9.10.2", "build": "cuda11", "cuda": ["11.8"], "driver": "450.80.02", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 9.10.2 support matrix https://docs.nvidia.com/deeplearning/cudnn/latest/support-matrix/index.html"},
    {"cudnn": "9.5.1", "build": "cuda12", "cuda": ["12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6"],
     "driver": "525.60.13", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 9.5.1 support matrix https://docs.nvidia.com/deeplearning/cudnn/backend/v9.5.1/reference/support-matrix.html"},
    {"cudnn": "9.5.1", "build": "cuda11", "cuda": ["11.8"], "driver": "450.80.02", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 9.5.1 support matrix https://docs.nvidia.com/deeplearning/cudnn/backend/v9.5.1/reference/support-matrix.html"},
    {"cudnn": "9.5.0", "build": "cuda12", "cuda": ["12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6"],
     "driver": "525.60.13", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 9.5.0 support matrix https://docs.nvidia.com/deeplearning/cudnn/v9.5.0/reference/support-matrix.html"},
    {"cudnn": "9.5.0", "build": "cuda11", "cuda": ["11.8"], "driver": "450.80.02", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 9.5.0 support matrix https://docs.nvidia.com/deeplearning/cudnn/v9.5.0/reference/support-matrix.html"},
    {"cudnn": "9.4.0", "build": "cuda11 (no static)", "cuda": ["11.0", "11.1", "11.2", "11.3", "11.4", "11.5", "11.6", "11.7"],
     "driver": "450.80.02", "ccs": "5.0-9.0",
     "source": "S11 (row read on the cuDNN 9.5.0 support-matrix page)"},
    {"cudnn": "9.0.0", "build": "cuda12", "cuda": ["12.0", "12.1", "12.2", "12.3"], "driver": "525.60.13",
     "ccs": "5.0-9.0", "note": "static libraries only for 12.3",
     "source": "S11 cuDNN 9.0.0 support matrix https://docs.nvidia.com/deeplearning/cudnn/backend/v9.0.0/reference/support-matrix.html"},
    {"cudnn": "9.0.0", "build": "cuda11", "cuda": ["11.0", "11.1", "11.2", "11.3", "11.4", "11.5", "11.6", "11.7", "11.8"],
     "driver": "450.80.02", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 9.0.0 support matrix https://docs.nvidia.com/deeplearning/cudnn/backend/v9.0.0/reference/support-matrix.html"},
    {"cudnn": "8.9.6", "build": "cuda12", "cuda": ["12.0", "12.1", "12.2"], "driver": "525.60.13", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 8.9.6 support matrix https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-896/support-matrix"},
    {"cudnn": "8.9.6", "build": "cuda11", "cuda": ["11.0", "11.1", "11.2", "11.3", "11.4", "11.5", "11.6", "11.7", "11.8"],
     "driver": "450.80.02", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 8.9.6 support matrix https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-896/support-matrix"},
    {"cudnn": "8.9.5", "build": "cuda12", "cuda": ["12.0", "12.1", "12.2"], "driver": "525.60.13", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 8.9.5 support matrix PDF https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-895/pdf/cuDNN-Support-Matrix.pdf"},
    {"cudnn": "8.9.5", "build": "cuda11", "cuda": ["11.0", "11.1", "11.2", "11.3", "11.4", "11.5", "11.6", "11.7", "11.8"],
     "driver": "450.80.02", "ccs": "5.0-9.0",
     "source": "S11 cuDNN 8.9.5 support matrix PDF https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-895/pdf/cuDNN-Support-Matrix.pdf"},
    {"cudnn": "8.5.0", "build": "cuda11", "cuda": ["11.0", "11.1", "11.2", "11.3", "11.4", "11.5", "11.6", "11.7"],
     "driver": None, "ccs": "SM 3.5+", "note": "driver: 'refer to CUDA Compatibility'",
     "source": "S11 cuDNN 8.5.0 support matrix PDF https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-850/pdf/cuDNN-Support-Matrix.pdf"},
    {"cudnn": "8.5.0", "build": "cuda10.2", "cuda": ["10.2"], "driver": None, "ccs": "SM 3.5+",
     "note": "driver: 'refer to CUDA Compatibility'",
     "source": "S11 cuDNN 8.5.0 support matrix PDF https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-850/pdf/cuDNN-Support-Matrix.pdf"},
    {"cudnn": "8.3.0", "build": "per-CUDA rows", "cuda": ["11.5", "11.4", "11.3", "11.2", "11.1", "11.0", "10.2"],
     "driver": None,
     "cuda_branches": {"11.5": ["R495"], "11.4": ["R470"], "11.3": ["R465"], "11.2": ["R460", "R455", "R450"],
                       "11.1": ["R450", "R455"], "11.0": ["R450"], "10.2": ["R440"]},
     "ccs": "SM 3.5+ (11.x), SM 3.0+ (10.2)",
     "source": "S11 cuDNN 8.3.0 support matrix PDF https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-830/pdf/cuDNN-Support-Matrix.pdf"},
    {"cudnn": "8.2.2", "build": "per-CUDA rows", "cuda": ["11.4", "11.3", "11.2", "11.1", "11.0", "10.2"],
     "driver": None,
     "cuda_branches": {"11.4": ["R470"], "11.3": ["R465"], "11.0": ["R450"], "10.2": ["R440"]},
     "ccs": "SM 3.5+ / 3.0+", "note": "11.2 listed as '11.2u1' (CUDA 11.2 Update 1)",
     "source": "S11 cuDNN 8.2.2 support matrix https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-822/support-matrix/index.html"},
    {"cudnn": "8.2.1", "build": "per-CUDA rows", "cuda": ["11.3", "11.2", "11.1", "11.0", "10.2"],
     "driver": None, "cuda_branches": {"11.3": ["R465"], "11.0": ["R450"], "10.2": ["R440"]},
     "ccs": None, "note": "reference row '8.2.0-8.2.1': '11.3 (r465) ... 11.0 (r450), 10.2 (r440)'",
     "source": "S11 cuDNN 8.2.2 support-matrix page (8.2.0-8.2.1 row) https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-822/support-matrix/index.html"},
    {"cudnn": "8.2.0", "build": "per-CUDA rows", "cuda": ["11.3", "11.2", "11.1", "11.0", "10.2"],
     "driver": None, "cuda_branches": {"11.3": ["R465"], "11.0": ["R450"], "10.2": ["R440"]},
     "ccs": None, "note": "reference row '8.2.0-8.2.1': '11.3 (r465) ... 11.0 (r450), 10.2 (r440)'",
     "source": "S11 cuDNN 8.2.2 support-matrix page (8.2.0-8.2.1 row) https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-822/support-matrix/index.html"},
    {"cudnn": "8.0.3", "build": "per-CUDA rows", "cuda": ["11.0", "10.2", "10.1"], "driver": None,
     "cuda_branches": {"11.0": ["R450"], "10.2": ["R440"], "10.1": ["R418"]},
     "ccs": "SM 3.5+ (11.0), 3.0+", "note": "10.1 listed as '10.1 Update 2 (r418.39)'",
     "source": "S11 cuDNN 8.0.3 support matrix https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-803/support-matrix/index.html"},
    {"cudnn": "8.0.2", "build": "per-CUDA rows", "cuda": ["11.0", "10.2", "10.1"], "driver": None,
     "cuda_branches": {"11.0": ["R450"], "10.2": ["R440"], "10.1": ["R418"]},
     "ccs": "SM 3.5+ (11.0), 3.0+", "note": "10.1 listed as '10.1 Update 2 (r418.39)'",
     "source": "S11 cuDNN 8.0.3 support-matrix page (8.0.2-8.0.3 row) https://docs.nvidia.com/deeplearning/cudnn/archives/cudnn-803/support-matrix/index.html"},
]

# CUDA majors each cuDNN release's reference row covers (see CUDNN_BUILDS).
# 9.17.0 explicitly has no CUDA 11.x build; 9.4.0 was read only for 11.x.
CUDNN_COVERAGE = [
    {"cudnn": "9.17.0", "majors": [13, 12, 11], "source": "S11 (9.17.0: 'no CUDA 11.x build listed')"},
    {"cudnn": "9.10.2", "majors": [12, 11], "source": "S11"},
    {"cudnn": "9.5.1", "majors": [12, 11], "source": "S11"},
    {"cudnn": "9.5.0", "majors": [12, 11], "source": "S11"},
    {"cudnn": "9.4.0", "majors": [11], "source": "S11 (only the 11.x row was read)"},
    {"cudnn": "9.0.0", "majors": [12, 11], "source": "S11"},
    {"cudnn": "8.9.6", "majors": [12, 11], "source": "S11"},
    {"cudnn": "8.9.5", "majors": [12, 11], "source": "S11"},
    {"cudnn": "8.5.0", "majors": [11, 10], "source": "S11"},
    {"cudnn": "8.3.0", "majors": [11, 10], "source": "S11"},
    {"cudnn": "8.2.2", "majors": [11, 10], "source": "S11"},
    {"cudnn": "8.2.1", "majors": [11, 10], "source": "S11"},
    {"cudnn": "8.2.0", "majors": [11, 10], "source": "S11"},
    {"cudnn": "8.0.3", "majors": [11, 10], "source": "S11"},
    {"cudnn": "8.0.2", "majors": [11, 10], "source": "S11"},
]

# ---------------------------------------------------------------------------
# 3. Compute capability -> architecture, first/last CUDA (reference §3.1)
#
# first_cuda: first toolkit supporting the CC (X.Y); last_cuda_major: last
# CUDA major that supports it (None = ongoing); last_driver_branch: last
# driver branch (None = ongoing); jetson: Jetson-only CC (kernel-module flavor
# not stated by the reference).
# ---------------------------------------------------------------------------
COMPUTE_CAPABILITIES = [
    {"cc": "12.1", "arch": "blackwell", "first_cuda": "12.9", "last_cuda_major": None, "last_driver_branch": None,
     "products": "GB10 (DGX Spark)", "source": "S7, S12, S13 (12.9 adds sm_121)"},
    {"cc": "12.0", "arch": "blackwell", "first_cuda": "12.8", "last_cuda_major": None, "last_driver_branch": None,
     "products": "RTX 50xx, RTX PRO 6000 Blackwell", "source": "S7, S12, S13"},
    {"cc": "11.0", "arch": "jetson_thor", "first_cuda": "13.0", "last_cuda_major": None, "last_driver_branch": None,
     "jetson": True, "products": "Jetson Thor",
     "note": "Jetson Thor is supported from CUDA 12.8 as sm_101; the sm_110 name exists from CUDA 13.0",
     "source": "S12; rename [SECONDARY] cuRANDDx release notes"},
    {"cc": "10.3", "arch": "blackwell", "first_cuda": "12.9", "last_cuda_major": None, "last_driver_branch": None,
     "products": "B300, GB300 (Blackwell Ultra)", "source": "S7, S12, S13 (12.9 adds sm_103)"},
    {"cc": "10.1", "arch": "jetson_thor", "first_cuda": "12.8", "last_cuda_major": 12, "last_driver_branch": None,
     "jetson": True, "products": "Jetson Thor (old name, CUDA 12.8/12.9)",
     "note": "sm_101 exists only in CUDA 12.8/12.9; from CUDA 13.0 it is sm_110",
     "source": "S12; rename [SECONDARY] cuRANDDx release notes"},
    {"cc": "10.0", "arch": "blackwell", "first_cuda": "12.8", "last_cuda_major": None, "last_driver_branch": None,
     "products": "B200, GB200", "source": "S7, S12, S13"},
    {"cc": "9.0", "arch": "hopper", "first_cuda": "11.8", "last_cuda_major": None, "last_driver_branch": None,
     "products": "H100, H200, GH200", "note": "S7 lists first toolkit as 'CUDA 11.8 CUDA 12.0'; 11.8 = initial support",
     "source": "S7, S10, S12"},
    {"cc": "8.9", "arch": "ada", "first_cuda": "11.8", "last_cuda_major": None, "last_driver_branch": None,
     "products": "L4, L40, L40S, RTX 6000 Ada, RTX 4090", "source": "S7, S12"},
    {"cc": "8.7", "arch": "ampere", "first_cuda": None, "last_cuda_major": None, "last_driver_branch": None,
     "jetson": True, "products": "Jetson Orin", "note": "first CUDA not stated by the reference", "source": "S12"},
    {"cc": "8.6", "arch": "ampere", "first_cuda": "11.1", "last_cuda_major": None, "last_driver_branch": None,
     "products": "A10, A40, A16, A2, RTX A6000, RTX 3090",
     "source": "S7, S12; 11.1 adds CC 8.6 [SECONDARY] copy of CUDA docs + LLVM D88668"},
    {"cc": "8.0", "arch": "ampere", "first_cuda": "11.0", "last_cuda_major": None, "last_driver_branch": None,
     "products": "A100, A30", "source": "S7, S12"},
    {"cc": "7.5", "arch": "turing", "first_cuda": "10.0", "last_cuda_major": None, "last_driver_branch": None,
     "products": "T4, RTX 20xx, Quadro RTX", "source": "S7, S9, S12"},
    {"cc": "7.0", "arch": "volta", "first_cuda": "9.0", "last_cuda_major": 12, "last_driver_branch": "580",
     "products": "V100, Titan V, Quadro GV100", "source": "S7, S9, S12 (legacy page); CUDA 13.0 removal S1 §2.6.2"},
    {"cc": "6.1", "arch": "pascal", "first_cuda": "8.0", "last_cuda_major": 12, "last_driver_branch": "580",
     "products": "P40, P4, GTX 10xx", "source": "S7, S9; CUDA 13.0 removal S1 §2.6.2"},
    {"cc": "6.0", "arch": "pascal", "first_cuda": "8.0", "last_cuda_major": 12, "last_driver_branch": "580",
     "products": "P100", "source": "S7, S9; CUDA 13.0 removal S1 §2.6.2"},
    {"cc": "5.3", "arch": "maxwell", "first_cuda": "6.5", "last_cuda_major": 12, "last_driver_branch": "580",
     "products": "", "source": "S7, S9; CUDA 13.0 removal S1 §2.6.2"},
    {"cc": "5.2", "arch": "maxwell", "first_cuda": "6.5", "last_cuda_major": 12, "last_driver_branch": "580",
     "products": "", "source": "S7, S9; CUDA 13.0 removal S1 §2.6.2"},
    {"cc": "5.0", "arch": "maxwell", "first_cuda": "6.5", "last_cuda_major": 12, "last_driver_branch": "580",
     "products": "", "source": "S7, S9; CUDA 13.0 removal S1 §2.6.2"},
    {"cc": "3.7", "arch": "kepler", "first_cuda": "6.0", "last_cuda_major": 11, "last_driver_branch": "470",
     "products": "", "source": "S7"},
    {"cc": "3.5", "arch": "kepler", "first_cuda": "6.0", "last_cuda_major": 11, "last_driver_branch": "470",
     "products": "", "source": "S7"},
    {"cc": "3.2", "arch": "kepler", "first_cuda": "6.0", "last_cuda_major": 10, "last_driver_branch": "470",
     "products": "", "source": "S7 (row truncated in excerpt)"},
    {"cc": "3.0", "arch": "kepler", "first_cuda": "6.0", "last_cuda_major": 10, "last_driver_branch": "470",
     "products": "", "source": "S7 (row truncated in excerpt)"},
]

# Architecture -> CUDA range and last driver branch (reference §3.1).
# first_cuda: earliest first_cuda of the architecture's (non-Jetson) CCs.
ARCHITECTURES = [
    {"arch": "blackwell", "first_cuda": "12.8", "last_cuda_major": None, "last_driver_branch": None,
     "source": "S7, S13 (12.8 first toolkit with Blackwell; 12.9 adds sm_103/sm_121)"},
    {"arch": "jetson_thor", "first_cuda": "12.8", "last_cuda_major": None, "last_driver_branch": None,
     "source": "S12"},
    {"arch": "hopper", "first_cuda": "11.8", "last_cuda_major": None, "last_driver_branch": None,
     "source": "S7 ('CUDA 11.8 CUDA 12.0'; 11.8 = initial)"},
    {"arch": "ada", "first_cuda": "11.8", "last_cuda_major": None, "last_driver_branch": None, "source": "S7, S12"},
    {"arch": "ampere", "first_cuda": "11.0", "last_cuda_major": None, "last_driver_branch": None, "source": "S7, S12"},
    {"arch": "turing", "first_cuda": "10.0", "last_cuda_major": None, "last_driver_branch": None, "source": "S7, S12"},
    {"arch": "volta", "first_cuda": "9.0", "last_cuda_major": 12, "last_driver_branch": "580",
     "source": "S7, S12; CUDA 13.0 removed Volta (S1 §2.6.2)"},
    {"arch": "pascal", "first_cuda": "8.0", "last_cuda_major": 12, "last_driver_branch": "580",
     "source": "S7; CUDA 13.0 removed Pascal (S1 §2.6.2)"},
    {"arch": "maxwell", "first_cuda": "6.5", "last_cuda_major": 12, "last_driver_branch": "580",
     "source": "S7; CUDA 13.0 removed Maxwell (S1 §2.6.2)"},
    {"arch": "kepler", "first_cuda": "6.0", "last_cuda_major": 11, "last_driver_branch": "470",
     "source": "S7 (CC 3.5/3.7 -> 11.x; CC 3.0/3.2 -> 10.x)"},
]

# Architecture -> kernel-module flavors allowed (reference §3.1, §3.3).
# grace_hopper is keyed separately: same CC (9.0) as Hopper, but open-only.
KERNEL_MODULE_FLAVORS = [
    {"arch": "blackwell", "flavors": ["open"],
     "source": "§3.3 NVIDIA blog Jul 2024 [SECONDARY quotes]; consistent with S10 (nvidia-open-<branch> on HGX B200/B300); S7"},
    {"arch": "grace_hopper", "flavors": ["open"],
     "source": "§3.3 NVIDIA blog Jul 2024 [SECONDARY quotes]; S19 (GH200 requires useOpenKernelModules=true)"},
    {"arch": "hopper", "flavors": ["open", "proprietary"], "recommended": "open", "source": "S7, S9, §3.3"},
    {"arch": "ada", "flavors": ["open", "proprietary"], "recommended": "open", "source": "S7, S9, §3.3"},
    {"arch": "ampere", "flavors": ["open", "proprietary"], "recommended": "open", "source": "S7, S9, §3.3"},
    {"arch": "turing", "flavors": ["open", "proprietary"], "recommended": "open",
     "source": "S9 (open modules: Turing and newer; Turing is the oldest)"},
    {"arch": "volta", "flavors": ["proprietary"], "source": "S9"},
    {"arch": "pascal", "flavors": ["proprietary"], "source": "S9"},
    {"arch": "maxwell", "flavors": ["proprietary"], "source": "S9"},
    {"arch": "kepler", "flavors": ["proprietary"], "source": "S7"},
]
KERNEL_MODULE_FACTS = [
    {"fact": "open_flavor_first_branch", "value": "515",
     "text": "Since the 515 series two flavors (open, proprietary) ship", "source": "S9"},
    {"fact": "open_default_from_branch", "value": "560",
     "text": "Starting in the 560 driver release series, the open kernel module flavor is the default", "source": "S9"},
]

# Product -> compute capability (reference §3.2, S12).  flavor_arch overrides
# the architecture used for the kernel-module flavor (Grace Hopper).
PRODUCTS = [
    {"product": "B200", "cc": "10.0", "source": "S12"},
    {"product": "GB200", "cc": "10.0", "source": "S12"},
    {"product": "B300", "cc": "10.3", "source": "S12"},
    {"product": "GB300", "cc": "10.3", "source": "S12"},
    {"product": "RTX PRO 6000 Blackwell", "cc": "12.0", "source": "S12"},
    {"product": "RTX 5090", "cc": "12.0", "source": "S12"},
    {"product": "RTX 5080", "cc": "12.0", "source": "S12"},
    {"product": "GB10", "cc": "12.1", "source": "S12"},
    {"product": "H100", "cc": "9.0", "source": "S12"},
    {"product": "H200", "cc": "9.0", "source": "S12"},
    {"product": "GH200", "cc": "9.0", "flavor_arch": "grace_hopper", "source": "S12; open-only per §3.3/S19"},
    {"product": "L4", "cc": "8.9", "source": "S12"},
    {"product": "L40", "cc": "8.9", "source": "S12"},
    {"product": "L40S", "cc": "8.9", "source": "S12"},
    {"product": "RTX 6000 Ada", "cc": "8.9", "source": "S12"},
    {"product": "RTX 4090", "cc": "8.9", "source": "S12"},
    {"product": "A10", "cc": "8.6", "source": "S12"},
    {"product": "A40", "cc": "8.6", "source": "S12"},
    {"product": "A16", "cc": "8.6", "source": "S12"},
    {"product": "A2", "cc": "8.6", "source": "S12"},
    {"product": "RTX A6000", "cc": "8.6", "source": "S12"},
    {"product": "RTX 3090", "cc": "8.6", "source": "S12"},
    {"product": "A100", "cc": "8.0", "source": "S12 (older copies of cuda-gpus)"},
    {"product": "A30", "cc": "8.0", "source": "S12 (older copies of cuda-gpus)"},
    {"product": "T4", "cc": "7.5", "source": "S12 (older copies of cuda-gpus)"},
    {"product": "V100", "cc": "7.0", "source": "S12 (cuda-legacy-gpus)"},
]

# ---------------------------------------------------------------------------
# 4. Driver branches (reference §4).  type: LTSB | PB | NFB | EVAL
# (R455 "Evaluation/Developer"); eol: "YYYY-MM" as published; eol_listed:
# True where S5a lists the branch as end of life without a date.  Branches
# whose designation/EOL the reference marks unconfirmed are not here (see
# NOT_ENCODED); a branch that is only in S5a's end-of-life list has type None.
# ---------------------------------------------------------------------------
DRIVER_BRANCHES = [
    {"branch": "410", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "418", "type": "LTSB", "eol": "2022-03", "max_cuda": "10.1", "source": "S8"},
    {"branch": "440", "type": "NFB", "eol": "2020-11", "max_cuda": "10.2", "source": "S8"},
    {"branch": "450", "type": "LTSB", "eol": "2023-07", "max_cuda": "11.0", "source": "S8"},
    {"branch": "455", "type": "EVAL", "eol": None, "eol_listed": True, "max_cuda": "11.1",
     "source": "S8 (Evaluation/Developer); S5a (listed as end of life)"},
    {"branch": "460", "type": "PB", "eol": "2022-01", "max_cuda": "11.2", "source": "S8"},
    {"branch": "465", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "495", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "510", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "515", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "525", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "535", "type": "LTSB", "eol": "2026-06", "max_cuda": "12.2", "source": "S5a, S5b"},
    {"branch": "550", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "560", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "565", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "570", "type": "PB", "eol": "2026-02", "max_cuda": "12.8", "source": "S5a"},
    {"branch": "575", "type": None, "eol": None, "eol_listed": True, "source": "S5a (listed as end of life)"},
    {"branch": "580", "type": "LTSB", "eol": "2028-06", "eol_alternatives": ["2028-08 (S5a)", "2028-06 (S5b)"],
     "max_cuda": "13.0",
     "note": "NVIDIA pages conflict (August 2028 per S5a, June 2028 per S5b); the earlier date is used",
     "source": "S5a, S5b"},
    {"branch": "595", "type": "PB", "eol": "2027-03", "max_cuda": "13.2", "source": "S5b"},
    {"branch": "610", "type": "NFB", "eol": "2026-08", "max_cuda": "13.3", "source": "S5b"},
]
DRIVER_BRANCH_TYPES = [
    {"type": "NFB", "name": "New Feature Branch", "source": "S6"},
    {"type": "PB", "name": "Production Branch", "source": "S6"},
    {"type": "LTSB", "name": "Long Term Support Branch", "source": "S6"},
    {"type": "EVAL", "name": "Evaluation/Developer", "source": "S8"},
]

# ---------------------------------------------------------------------------
# 5. Fabric Manager (reference §5)
# ---------------------------------------------------------------------------
FABRIC_MANAGER_RULES = [
    {"rule": "required_on_nvswitch",
     "text": "Fabric Manager is required on NVSwitch-based HGX/DGX systems; PCIe cards and NVLink-bridge pairs "
             "have no NVSwitch and need no FM",
     "source": "S10 'Supported Platforms'; non-NVSwitch statement [SECONDARY] ai-infrastructure.net"},
    {"rule": "exact_version_match",
     "text": "FM aborts unless its version equals the loaded kernel driver version exactly (full version, not branch)",
     "source": "S10 (compatibility check), S17 (verbatim mismatch logs), S18 (driver X ships FM X)"},
    {"rule": "min_driver_branch", "value": "450",
     "text": "Fabric Manager requires a data-center driver >= R450", "source": "S10"},
    {"rule": "gen4_nvlsm",
     "text": "Gen4 NVSwitch (DGX/HGX B200/B300, HGX B100) also needs NVLink Subnet Manager (package nvlink5-<branch>), "
             "open kernel modules (nvidia-open-<branch>), DOCA-OFED/MOFED and kernel >= 5.17",
     "source": "S10"},
    {"rule": "service", "value": "nvidia-fabricmanager",
     "text": "systemd unit nvidia-fabricmanager; daemon nv-fabricmanager (-v prints the version)", "source": "S10"},
]

# NVSwitch platforms (S10 "Supported Platforms").  min_branch only where S10
# states one for the platform ("450.xx", "525.xx", "570.xx").
FABRIC_MANAGER_PLATFORMS = [
    {"platform": "DGX-2", "gpu": "V100", "nvswitch_gen": 1, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "HGX-2", "gpu": "V100", "nvswitch_gen": 1, "fm_required": True, "min_branch": "450", "source": "S10"},
    {"platform": "DGX A100", "gpu": "A100", "nvswitch_gen": 2, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "HGX A100", "gpu": "A100", "nvswitch_gen": 2, "fm_required": True, "min_branch": "450", "source": "S10"},
    {"platform": "DGX A800", "gpu": "A800", "nvswitch_gen": 2, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "HGX A800", "gpu": "A800", "nvswitch_gen": 2, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "DGX H100", "gpu": "H100", "nvswitch_gen": 3, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "HGX H100", "gpu": "H100", "nvswitch_gen": 3, "fm_required": True, "min_branch": "525", "source": "S10"},
    {"platform": "DGX H800", "gpu": "H800", "nvswitch_gen": 3, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "HGX H800", "gpu": "H800", "nvswitch_gen": 3, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "DGX H200", "gpu": "H200", "nvswitch_gen": 3, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "HGX H200", "gpu": "H200", "nvswitch_gen": 3, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "DGX H20", "gpu": "H20", "nvswitch_gen": 3, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "HGX H20", "gpu": "H20", "nvswitch_gen": 3, "fm_required": True, "min_branch": None, "source": "S10"},
    {"platform": "DGX B200", "gpu": "B200", "nvswitch_gen": 4, "fm_required": True, "min_branch": "570", "nvlsm": True,
     "source": "S10"},
    {"platform": "HGX B200", "gpu": "B200", "nvswitch_gen": 4, "fm_required": True, "min_branch": "570", "nvlsm": True,
     "source": "S10"},
    {"platform": "DGX B300", "gpu": "B300", "nvswitch_gen": 4, "fm_required": True, "min_branch": "570", "nvlsm": True,
     "source": "S10"},
    {"platform": "HGX B300", "gpu": "B300", "nvswitch_gen": 4, "fm_required": True, "min_branch": "570", "nvlsm": True,
     "source": "S10"},
    {"platform": "HGX B100", "gpu": "B100", "nvswitch_gen": 4, "fm_required": True, "min_branch": "570", "nvlsm": True,
     "source": "S10"},
    {"platform": "GB200 NVL72", "gpu": "GB200", "nvswitch_gen": None, "fm_required": False, "min_branch": None,
     "note": "multi-node NVLink: FM/NVLSM run in NVOS on the switch trays, not as nvidia-fabricmanager on compute nodes",
     "source": "[SECONDARY] leptonai/gpud docs quoting NVIDIA NVOS/MNNVL docs (reference §5)"},
]

# ---------------------------------------------------------------------------
# Stated in the reference but deliberately NOT encoded as data (§7 et al.).
# ---------------------------------------------------------------------------
NOT_ENCODED = [
    {"item": "CUDA 13.4 exact minimum driver", "why": "only branch R615 stated (S2); reference §7.1"},
    {"item": "CUDA 13.3 exact drivers (610.43.02)", "why": "third-party copies only; reference §7.2 (branch R610 kept)"},
    {"item": "Windows toolkit drivers", "why": "gate is Linux x86_64 only"},
    {"item": "Per-arch 'first driver' column", "why": "[INFERRED] in the reference; computed from first_cuda instead"},
    {"item": "Designation/EOL of R465-R565 (except R535), R470, R520, R530, R545, R555, R575, R590, R615",
     "why": "endoflife.date/forum only; reference §7.4 (S5a end-of-life listing kept where given)"},
    {"item": "First cuDNN with a CUDA 13 build; cuDNN 8.9.7", "why": "reference §2 / §7.5"},
    {"item": "Proprietary flavor in R595+", "why": "reference §3.3 / §7.8"},
    {"item": "Kernel-module flavors for Jetson (Orin 8.7, Thor 11.0)", "why": "not stated by the reference"},
    {"item": "NCCL/DMA-BUF/MLNX_OFED requirements", "why": "reference §5.1 / §7.7"},
    {"item": "Forward-compatibility (cuda-compat) branch list", "why": "not a gate input yet; see reference §1"},
]
