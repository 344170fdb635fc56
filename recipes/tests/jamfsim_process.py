"""The Jamf Pro simulator (bin/jamfsim) as a child process of a test.

test_shim.py and test_migration.py both run the real binary against it.
"""

import os
import subprocess
import time
from unittest import mock


def start(testcase, binary, tmp, categories=("Browsers",), extra_args=()):
    """Start jamfsim on a free loopback port and point the environment at it.

    The simulator gets the given categories and runs Jamf Cloud's pace at a
    sixtieth (-time-scale 60), as the Go end-to-end rigs do: a 1 s cluster
    lag instead of the minute (a new upload is verified on every pod, so
    each waits until the other pod shows the new object, and these tests
    are about the shim), a file's first inventory refresh in 67 ms. AWS_ENDPOINT_URL_S3
    points at its S3 proxy, and HOME and XDG_CACHE_HOME at tmp, so the token
    cache stays out of the real home folder. Everything is undone when the
    test ends. extra_args go to jamfsim as they are (e.g. -client-secret).
    Returns the simulator's JSS_URL.
    """
    args = [binary, "-addr", "127.0.0.1:0", "-time-scale", "60"]
    for category in categories:
        args += ["-category", category]
    args += list(extra_args)
    sim = subprocess.Popen(  # pylint: disable=consider-using-with
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    testcase.addCleanup(_stop, sim)
    lines = {}
    deadline = time.monotonic() + 30
    while len(lines) < 2:
        if time.monotonic() > deadline:
            testcase.fail("jamfsim did not print its two lines")
        line = sim.stdout.readline().decode().strip()
        if not line:
            testcase.fail("jamfsim exited early (status %s)" % sim.poll())
        key, _, value = line.partition("=")
        lines[key] = value
    patcher = mock.patch.dict(
        os.environ,
        {
            "AWS_ENDPOINT_URL_S3": lines["AWS_ENDPOINT_URL_S3"],
            "XDG_CACHE_HOME": os.path.join(tmp, "cache"),
            "HOME": tmp,
        },
    )
    patcher.start()
    testcase.addCleanup(patcher.stop)
    return lines["JSS_URL"]


def _stop(sim):
    if sim.poll() is None:
        sim.terminate()
        try:
            sim.wait(10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.wait()
    sim.stdout.close()
