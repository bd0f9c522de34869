"""``free_port`` and ``run_torchrun``: distributed runs from a test, loopback only, bounded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Variables a launch never inherits: a test run under torchrun must not pass its own rank on,
#: and plugins named in the environment would change what the workers enable.
_SCRUBBED = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "HOOKWISE_PLUGINS")


def free_port() -> int:
    """A TCP port on the loopback interface that is free now (for a server or a rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loopback_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This environment for a loopback-only launch: no inherited rank variables, gloo on
    ``lo``, one intra-op thread per worker, every thread's Python stack printed if a rank
    crashes (``PYTHONFAULTHANDLER``), then ``extra`` (a ``None`` value removes one)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(MASTER_ADDR="127.0.0.1", GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    env.update(PYTHONFAULTHANDLER="1")
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def torchrun_command(args: Sequence[str | os.PathLike[str]], nproc: int = 2) -> list[str]:
    """``python -m torch.distributed.run`` on one node with ``nproc`` workers and a static
    rendezvous on 127.0.0.1 at a free port, then ``args`` (a script and its arguments, or
    ``-m module ...``)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        f"--nproc-per-node={nproc}",
        "--master-addr=127.0.0.1",
        f"--master-port={free_port()}",
        "--max-restarts=0",
        *map(str, args),
    ]


def run_torchrun(
    args: Sequence[str | os.PathLike[str]],
    nproc: int = 2,
    *,
    env: Mapping[str, str | None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 300,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``torchrun`` with ``nproc`` local workers on the loopback interface and wait.

    ::

        done = run_torchrun([tmp_path / "worker.py", tmp_path], nproc=2)
        reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]

    The launch runs in a session of its own: on a hang, everything it started is killed and
    the test fails with the output so far.

    :param args: the script and its arguments (or ``["-m", "module", ...]``).
    :param nproc: the number of worker processes.
    :param env: variables to set in the workers' environment (this process's, without rank
        variables, with ``MASTER_ADDR``, ``GLOO_SOCKET_IFNAME=lo`` and ``OMP_NUM_THREADS=1``);
        a ``None`` value removes one.
    :param cwd: the folder to run in (default: this process's).
    :param timeout: seconds before the launch counts as hung.
    :param check: fail the test, with the output, when the launch exits non-zero.
    :returns: the finished process; ``stdout`` holds stdout and stderr together.
    """
    import pytest

    command = torchrun_command(args, nproc)
    process = subprocess.Popen(
        command,
        cwd=Path(cwd) if cwd is not None else None,
        env=loopback_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"torchrun did not end within {timeout:g} s (a hang); output:\n{output}")
    if check and process.returncode != 0:
        pytest.fail(f"torchrun exited with {process.returncode}; output:\n{output}")
    return subprocess.CompletedProcess(command, process.returncode, output, None)
