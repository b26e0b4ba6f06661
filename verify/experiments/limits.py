"""Resource limits checked before any work starts: memory actually available, and hard caps.

A memory cap (``--memory-cap``) says how much a user is willing to spend; it does not say how
much the machine has. :func:`available_memory_bytes` reads what is free now (``MemAvailable``
of ``/proc/meminfo`` on Linux, ``os.sysconf`` elsewhere; free CUDA memory from
``torch.cuda.mem_get_info`` on a GPU), and :func:`check_memory_fits` refuses an estimate above
either, naming both numbers, before anything is allocated. :func:`note_estimate` remembers the
last estimate checked, so that an allocator error that still gets through can be reported as
one line naming it (:func:`out_of_memory_message`).

Torch is never imported here: a CUDA device in use means :mod:`verify.training` loaded it.

Caps that bound the size of a plan before it is built:

* :data:`MAX_DEPTH`: hidden layers of a trained MLP (the memory estimator and the model hold one
  entry per layer, so ``--depth 1e12`` must be refused before either is built);
* :data:`MAX_LATTICE_POINTS`: sizes of the frontier search's lattice in m.
"""

from __future__ import annotations

import os
import re
import sys

__all__ = ["available_memory_bytes", "check_memory_fits", "note_estimate", "last_estimate",
           "out_of_memory_message", "is_out_of_memory", "format_bytes", "MAX_DEPTH",
           "MAX_LATTICE_POINTS", "estimate_ensemble_seconds"]

#: Most hidden layers a run may have. The paper trains depth 1 (2-layer MLPs); a hundred
#: layers is already far beyond anything this toolkit is meant for, and a larger value is a
#: typo (``--depth 1e12``) whose plan alone would exhaust memory. RunConfig's validation may
#: import this constant.
MAX_DEPTH = 1000

#: Most sizes the frontier search's lattice in m may hold (``--points-per-decade`` times the
#: decades between ``--m-min`` and ``--m-max``). 100 000 float64 are 0.8 MB; the default lattice
#: has about 25.
MAX_LATTICE_POINTS = 100_000

_last: dict = {}


def format_bytes(value: float) -> str:
    """``1.5 GiB``-style text for messages."""
    value = float(value)
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:.4g} {unit}"
    return f"{value:.0f} bytes"


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            text = handle.read()
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def _sysconf_available() -> int | None:
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    if pages <= 0 or size <= 0:
        return None
    return int(pages) * int(size)


def _cgroup_limit() -> int | None:
    """Memory left under a cgroup v2 limit (containers), when one is set."""
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            limit = handle.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as handle:
            used = int(handle.read().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def available_memory_bytes(device="cpu") -> int | None:
    """Memory free for a new allocation on ``device``, in bytes; None when unknown.

    CPU: ``MemAvailable`` (what the kernel can hand out without swapping), else free pages
    from ``os.sysconf``, bounded by a cgroup v2 limit when one applies. CUDA (``"cuda"``,
    ``"cuda:i"`` or a ``torch.device``): free memory of that GPU (``torch.cuda.mem_get_info``).
    ``"auto"`` means CUDA when torch is loaded and sees a GPU, else the CPU.

    Examples
    --------
    >>> available_memory_bytes("cpu") is None or available_memory_bytes("cpu") > 0
    True
    """
    kind = str(getattr(device, "type", device) or "cpu")
    if kind == "auto":
        torch = sys.modules.get("torch")
        kind = "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    if kind.startswith("cuda"):
        # Torch is loaded whenever a CUDA device is in use (only verify.training imports it).
        torch = sys.modules.get("torch")
        if torch is None:
            return None
        try:
            index = getattr(device, "index", None)
            if index is None and ":" in str(device):
                index = int(str(device).split(":", 1)[1])
            free, _total = torch.cuda.mem_get_info(0 if index is None else index)
            return int(free)
        except (RuntimeError, ValueError, AssertionError):
            return None
    found = [v for v in (_meminfo_available() or _sysconf_available(), _cgroup_limit())
             if v is not None]
    return min(found) if found else None


def note_estimate(estimate_bytes: int, what: str, device="cpu") -> None:
    """Remember the last memory estimate checked (for :func:`out_of_memory_message`)."""
    _last.clear()
    _last.update(bytes=int(estimate_bytes), what=str(what), device=str(device))


def last_estimate() -> dict:
    """The last estimate noted: ``{"bytes", "what", "device"}``, or {} if none."""
    return dict(_last)


def check_memory_fits(estimate_bytes: int, cap_bytes: int | None, what: str,
                      device="cpu", available: int | None = -1,
                      cap_name: str = "the memory cap (--memory-cap)") -> None:
    """Refuse (ValueError) an estimate above the cap or above the memory available now.

    ``available`` defaults to :func:`available_memory_bytes` of ``device`` (pass None to skip
    that half, e.g. when the work runs on another machine). The message names the estimate and
    whichever limit it exceeds, with its number (``cap_name`` says which cap it is).
    """
    note_estimate(estimate_bytes, what, device)
    if cap_bytes is not None and estimate_bytes > cap_bytes:
        raise ValueError(f"{what} does not fit in the memory cap: it needs an estimated "
                         f"{format_bytes(estimate_bytes)}, over {cap_name} of "
                         f"{format_bytes(cap_bytes)}")
    if available == -1:
        available = available_memory_bytes(device)
    if available is not None and estimate_bytes > available:
        where = "on the GPU" if str(getattr(device, "type", device)).startswith("cuda") \
            else "on this machine"
        cap_text = "" if cap_bytes is None else f" (the cap is {format_bytes(cap_bytes)})"
        raise ValueError(f"{what} needs an estimated {format_bytes(estimate_bytes)}, but only "
                         f"{format_bytes(available)} is available {where}{cap_text}")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for MemoryError, torch's OutOfMemoryError and allocator RuntimeErrors."""
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    text = str(exc).lower()
    return name == "OutOfMemoryError" or (isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
        or "failed to allocate" in text or "defaultcpuallocator" in text))


def out_of_memory_message(exc: BaseException) -> str:
    """One line for an allocation that failed although the estimate was accepted."""
    noted = last_estimate()
    first = " ".join(str(exc).split())[:160] or type(exc).__name__
    if noted:
        return (f"ran out of memory ({first}); the estimate for {noted['what']} was "
                f"{format_bytes(noted['bytes'])}: lower --memory-cap or --max-ensemble, or free "
                "memory")
    return f"ran out of memory ({first}); use smaller sizes or free memory"


# --- time of training ------------------------------------------------------------------------

#: Fixed cost of one training step of an ensemble (Python and kernel launches), seconds.
STEP_OVERHEAD_SECONDS = {"cpu": 1.5e-4, "cuda": 2e-4}
#: Sustained float32 rate of the training step (flop/s): measured 6e10 to 8e10 on one core of
#: this project's machine (widths 64 to 2048, depth 1 to 3, ensembles 1 to 16); the CPU value
#: is a little below that, so estimates err long. The CUDA value is a modest GPU's.
FLOP_RATE = {"cpu": 5e10, "cuda": 5e12}


def estimate_ensemble_seconds(config, ensemble_size: int, device="cpu") -> float:
    """Worst-case wall time of training ``ensemble_size`` runs of ``config`` together.

    Every run taking all ``max_steps`` (none succeeds early): per step, the fixed overhead
    :data:`STEP_OVERHEAD_SECONDS` plus the forward and backward pass of a minibatch (6 flops per
    parameter and sample) and the share of the periodic evaluation on ``test_size`` samples (2
    flops per parameter and sample every ``eval_every`` steps), at :data:`FLOP_RATE`. Within
    3x of the measured time on small CPU cases (tests/test_fuzz_cli.py).
    """
    kind = "cuda" if str(getattr(device, "type", device)).startswith("cuda") else "cpu"
    width, depth = int(config.width), int(config.depth)
    params = config.n * width + (depth - 1) * width * (width + 1) + 2 * width + 1
    per_step = 6.0 * config.batch_size * params + 2.0 * config.test_size * params / max(
        1, config.eval_every)
    flops = float(ensemble_size) * per_step
    return float(config.max_steps) * (STEP_OVERHEAD_SECONDS[kind] + flops / FLOP_RATE[kind])
