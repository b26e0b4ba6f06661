"""Devices and the default memory cap of one ensemble: the one place that names them.

:func:`check_device` validates a device name without importing torch unless CUDA is named
(planning and the CLI use it); :func:`resolve_device` turns it into a ``torch.device``.
"""

from __future__ import annotations

__all__ = ["DEVICES", "check_device", "resolve_device", "default_memory_cap",
           "DEFAULT_CPU_MEMORY_CAP_BYTES", "DEFAULT_CUDA_MEMORY_FRACTION", "set_torch_threads"]


DEVICES = ("auto", "cpu", "cuda")


def check_device(device: str) -> str:
    """Validate a device name: "auto", "cpu", "cuda" or "cuda:N" (CUDA must be available)."""
    if not isinstance(device, str) or not (
            device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ValueError(f"device must be one of {DEVICES} (or cuda:N), got {device!r}")
    if device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but CUDA is not available here "
                             "(use --device cpu or auto)")
        index = int(device[5:]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA "
                             "device(s)")
    return device


#: Default memory cap of one ensemble on the CPU (bytes).
DEFAULT_CPU_MEMORY_CAP_BYTES = 4 * 2**30


#: Default memory cap of one ensemble on a CUDA device, as a fraction of its total memory.
DEFAULT_CUDA_MEMORY_FRACTION = 0.8


def resolve_device(device="auto"):
    """``"auto"`` -> cuda if available else cpu; ``"cpu"``, ``"cuda"``, ``"cuda:i"`` checked."""
    import torch  # only when a run is about to be placed: validation alone stays torch-free

    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("CUDA requested but not available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"CUDA device {dev.index} requested but only "
                             f"{torch.cuda.device_count()} available")
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}")
    return dev


def default_memory_cap(device="cpu") -> int:
    """:data:`DEFAULT_CPU_MEMORY_CAP_BYTES` on the CPU, else that fraction of the GPU memory.
    ``"cpu"`` is answered without importing torch (planning code)."""
    if isinstance(device, str) and device == "cpu":
        return DEFAULT_CPU_MEMORY_CAP_BYTES
    dev = resolve_device(device)
    if dev.type == "cuda":
        import torch  # a CUDA device is in use, so torch is loaded already

        total = torch.cuda.get_device_properties(dev).total_memory
        return int(DEFAULT_CUDA_MEMORY_FRACTION * total)
    return DEFAULT_CPU_MEMORY_CAP_BYTES


def set_torch_threads(threads: int | None) -> None:
    """Give torch ``threads`` CPU threads (None leaves torch's choice).

    One thread is often faster on a machine whose other cores are busy: OpenMP barriers wait
    for a descheduled second thread.
    """
    if threads is not None:
        import torch  # only when a thread count is asked for

        torch.set_num_threads(threads)
