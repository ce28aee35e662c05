"""GPU image check: the CUDA/cuDNN libraries onnxruntime-gpu's CUDA provider needs are installed and resolve.

`python cuda_libs.py dirs`  prints the nvidia wheel library folders (for /etc/ld.so.conf.d in the image)
`python cuda_libs.py check` exits 1 naming every library that is missing or does not resolve (ldd), except
                            libcuda.so.1: the driver library comes from the host (NVIDIA container toolkit).
Runs on a build host without a GPU: loading libraries needs no device.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnxruntime

DRIVER_LIBS = {"libcuda.so.1"}


def site_packages() -> Path:
    """The folder holding onnxruntime/ and the nvidia/ wheels."""
    return Path(onnxruntime.__file__).resolve().parents[1]


def expected_libraries() -> list[Path]:
    """The CUDA and cuDNN files this onnxruntime build loads (its own list, as preload_dlls uses it)."""
    listing = getattr(onnxruntime, "_get_nvidia_dll_paths", None)
    if listing is None:  # older/newer layout: fall back to every shared library of the nvidia wheels
        return sorted(site_packages().glob("nvidia/*/lib/lib*.so*"))
    return [site_packages().joinpath(*parts) for parts in listing(False, cuda=True, cudnn=True)]


def library_dirs() -> list[Path]:
    """Distinct folders of the expected libraries (existing ones only)."""
    return sorted({p.parent for p in expected_libraries() if p.exists()})


def unresolved(provider: Path, dirs: list[Path]) -> list[str]:
    """Libraries `ldd` cannot find for the provider, given dirs on LD_LIBRARY_PATH (driver excluded)."""
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(map(str, dirs))}
    out = subprocess.run(["ldd", str(provider)], env=env, capture_output=True, text=True, check=True).stdout
    missing = [line.split()[0] for line in out.splitlines() if "not found" in line]
    return [name for name in missing if name not in DRIVER_LIBS]


def check() -> list[str]:
    """Problems found: expected files absent, or provider dependencies that do not resolve."""
    problems = [f"missing {p.relative_to(site_packages())}" for p in expected_libraries() if not p.exists()]
    provider = Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not provider.is_file():
        return problems + [f"{provider.name} is not part of this onnxruntime build"]
    problems += [f"{provider.name} needs {name}, which does not resolve" for name in unresolved(provider, library_dirs())]
    return problems


def main(argv: list[str]) -> int:
    """`dirs` or `check` (see the module docstring)."""
    if argv[1:] == ["dirs"]:
        print("\n".join(map(str, library_dirs())))
        return 0
    if argv[1:] == ["check"]:
        problems = check()
        for problem in problems:
            print(f"cuda_libs: {problem}", file=sys.stderr)
        print(f"cuda_libs: onnxruntime-gpu {onnxruntime.__version__}: "
              f"{len(expected_libraries())} CUDA/cuDNN libraries " + ("MISSING" if problems else "found"))
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
