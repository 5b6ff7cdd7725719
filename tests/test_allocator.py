"""``retain_freed_memory``: glibc's allocator tuned in a real process, and the opt-out."""

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.process  # every test here starts real processes

CODE = "from parametricSN.allocator import retain_freed_memory as r; print(r(), r())"


def run(env_value=None) -> str:
    env = dict(os.environ)
    env.pop("PSN_RETAIN_FREED_MEMORY", None)
    if env_value is not None:
        env["PSN_RETAIN_FREED_MEMORY"] = env_value
    return subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the tuning is glibc's mallopt")
def test_the_allocator_is_tuned_once_per_process_on_glibc():
    assert run() == ["True", "True"]


@pytest.mark.parametrize("value", ["0", "off"])
def test_the_environment_turns_the_tuning_off(value):
    assert run(value) == ["False", "False"]
