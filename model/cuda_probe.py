"""Which CUDA devices the driver sees, without torch: libcuda through ctypes (empty list when no driver)."""

from __future__ import annotations

import ctypes
import functools


@functools.cache
def cuda_device_names() -> tuple[str, ...]:
    """Names of the CUDA devices the NVIDIA driver reports (cuInit + cuDeviceGetName); () without a driver."""
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return ()
    if lib.cuInit(0) != 0:
        return ()
    count = ctypes.c_int(0)
    if lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return ()
    names = []
    for ordinal in range(count.value):
        device, buf = ctypes.c_int(0), ctypes.create_string_buffer(256)
        if lib.cuDeviceGet(ctypes.byref(device), ordinal) == 0 and lib.cuDeviceGetName(buf, 256, device) == 0:
            names.append(buf.value.decode(errors="replace"))
        else:
            names.append(f"CUDA device {ordinal}")
    return tuple(names)
