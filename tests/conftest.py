"""Shared fixtures: a coordinator per test on SQLite, and on PostgreSQL when one is set up
(``PARLEY_TEST_POSTGRES_URL``, which the test script exports after starting a throwaway
cluster)."""

from __future__ import annotations

import faulthandler
import os
import secrets
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from desktop_app.coordinator.config import CoordinatorConfig
from tests.support.coordinator import SECRET, RunningCoordinator, running

POSTGRES_URL = os.environ.get("PARLEY_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"]


def make_config(tmp_path: Path, database_url: str) -> CoordinatorConfig:
    return CoordinatorConfig(
        database_url=database_url,
        secret=SECRET,
        data_dir=tmp_path,
        participant_grace_seconds=0.5,
        # Tests send requests back to back from a few tokens, far past any human's pace;
        # tests/coordinator/test_rate_limits.py runs with the deployment's budgets.
        rate_limits=None,
    )


async def _postgres_database() -> str:
    import asyncpg

    name = f"parley_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_URL.rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}"


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coordinator.sqlite3'}"
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI; PARLEY_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL (set PARLEY_TEST_POSTGRES_URL)")
    return await _postgres_database()


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> CoordinatorConfig:
    return make_config(tmp_path, database_url)


@pytest.fixture
async def coordinator(config: CoordinatorConfig) -> AsyncIterator[RunningCoordinator]:
    async with running(config) as running_coordinator:
        yield running_coordinator


_exit_status = 0


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """A crash (SIGSEGV in a C extension) prints only the crashing thread's stack: with
    every thread's, CI's excerpt of the log showed idle workers and lost the one that
    mattered."""
    from _pytest.faulthandler import fault_handler_stderr_fd_key  # the uncaptured stderr

    fd = config.stash.get(fault_handler_stderr_fd_key, None)
    if fd is not None:
        faulthandler.enable(file=fd, all_threads=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """A thread left running (aiortc's decoder threads are not daemons) would keep the
    interpreter from exiting after the summary, until CI's timeout: name it, and exit."""
    # executors' workers end at exit by themselves
    pools = ("asyncio_", "ThreadPoolExecutor", "tile-convert")
    leaked = [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and not t.name.startswith(pools)
    ]
    if leaked:
        names = ", ".join(sorted(t.name for t in leaked))
        sys.stderr.write(f"\nthreads still running after the tests (a leak): {names}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(_exit_status)
