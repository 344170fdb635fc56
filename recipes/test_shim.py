"""Tests of the AutoPkg shim processor (JCDS2PackageUploader.py).

Run from the repository root:

    python3 -m unittest discover -s recipes -p 'test_*.py'

TestUnderRealAutoPkg runs the shim under the real AutoPkg 2.9.0
(recipes/tests/real_autopkg.py: found at AUTOPKG_SRC or ../shared/autopkg;
without it those tests skip and say how to run them) against the real
jcds2-uploader binary and the jamfsim simulator: the one-line switch with
jcds2_mode given every way recipes give it, and no secret at -vvvv.

The other tests import the shim into this Python, which lacks AutoPkg's
modules, with a small stand-in for autopkglib's Processor
(recipes/tests/autopkglib), and run it against the real binary and against
small fake binaries for the failure modes a real binary does not produce
on demand (serialisation, exit statuses, signals). The binaries are built
with `go build` first.
"""

import datetime
import glob
import importlib.util
import json
import math
import os
import plistlib
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import urllib.request
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN_DIR = os.path.join(ROOT, "bin")
UPLOADER = os.path.join(BIN_DIR, "jcds2-uploader")
JAMFSIM = os.path.join(BIN_DIR, "jamfsim")
SHIM = os.path.join(HERE, "JCDS2PackageUploader.py")
STANDIN = os.path.join(HERE, "tests")

if STANDIN not in sys.path:
    sys.path.insert(0, STANDIN)

import autopkglib  # noqa: E402  (the stand-in)
import jamfsim_process  # noqa: E402  (recipes/tests)
import real_autopkg  # noqa: E402  (recipes/tests)

sys.path.insert(0, HERE)
import sync_manifest  # noqa: E402

# A deadlock guard, not a speed target: runs that should take a second or
# two fail if they have not finished in this time.
HANG_SECONDS = 120

_built = []


def _newest_go_source():
    newest = 0.0
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("bin", "dist", "testdata")]
        for name in files:
            if name.endswith(".go") or name in ("go.mod", "go.sum"):
                newest = max(newest, os.stat(os.path.join(top, name)).st_mtime)
    return newest


def ensure_binaries():
    """Build bin/jcds2-uploader and bin/jamfsim when missing or older than
    the Go sources (`make test` builds them first, so usually nothing)."""
    if _built:
        return
    go = shutil.which("go") or "/usr/local/go/bin/go"
    newest = _newest_go_source()
    for out, pkg in ((UPLOADER, "."), (JAMFSIM, "./jamf/cmd/jamfsim")):
        if os.access(out, os.X_OK) and os.stat(out).st_mtime >= newest:
            continue
        if not os.path.exists(go):
            raise RuntimeError("%s needs building and go was not found" % out)
        os.makedirs(BIN_DIR, exist_ok=True)
        tmp = out + ".building"
        subprocess.run([go, "build", "-o", tmp, pkg], cwd=ROOT, check=True)
        # Renamed into place so that nothing ever runs a half-written file.
        os.replace(tmp, out)
    _built.append(True)


def load_shim(path=SHIM):
    """Import the shim from path as a fresh module."""
    spec = importlib.util.spec_from_file_location("JCDS2PackageUploader", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHIM_MODULE = load_shim()


def recording(cls):
    """A subclass of processor class cls that records its output lines."""

    class Recording(cls):
        def __init__(self, env=None):
            super().__init__(env)
            self.lines = []
            self.on_line = None

        def output(self, msg, verbose_level=1):
            if int(self.env.get("verbose", 0)) >= verbose_level:
                self.lines.append(msg)
                if self.on_line is not None:
                    self.on_line(msg)

    Recording.__name__ = cls.__name__
    return Recording


Shim = recording(SHIM_MODULE.JCDS2PackageUploader)


def run_with_guard(fn):
    """Run fn in a thread; fail instead of hanging forever."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as err:  # pylint: disable=broad-except
            result["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    if thread.is_alive():
        raise AssertionError("the shim did not finish within %ds (deadlock?)" % HANG_SECONDS)
    if "error" in result:
        raise result["error"]
    return result.get("value")


# Fake binaries answer `-version` as the real one does, with the version
# the shim expects unless FAKE_VERSION says otherwise.
VERSION_PREAMBLE = """\
import os as _os, sys as _sys
if _sys.argv[1:] == ["-version"]:
    with open(_os.environ.get("FAKE_RECEIVED", _os.devnull) + ".version-asked", "a") as _f:
        _f.write("asked\\n")
    print("jcds2-uploader " + _os.environ.get("FAKE_VERSION", %r))
    _sys.exit(0)
"""


def write_script(directory, name, body, answers_version=True):
    """Write an executable Python script run by this interpreter."""
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("#!%s\n" % sys.executable)
        if answers_version:
            f.write(VERSION_PREAMBLE % SHIM_MODULE.BINARY_VERSION)
        f.write(textwrap.dedent(body))
    os.chmod(path, 0o755)
    return path


# A fake binary that records the plist it received (as JSON-ish repr) and
# echoes it back, so tests can see exactly what the shim sent.
ECHO_BINARY = """\
import os, plistlib, sys
data = sys.stdin.buffer.read()
with open(os.environ["FAKE_RECEIVED"], "wb") as f:
    f.write(data)
env = plistlib.loads(data)
print("JCDS2PackageUploader: echo got %d keys" % len(env), file=sys.stderr)
env.update({"pkg_uploaded": True, "added_by_binary": "yes"})
env.pop("remove_me", None)
env.pop("pkg_sha3_512", None)
env.pop("API_PASSWORD", None)
sys.stdout.buffer.write(plistlib.dumps(env, fmt=plistlib.FMT_BINARY))
"""


class FakeBinaryTestCase(unittest.TestCase):
    """Tests that run the shim against a fake binary in a temp folder."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shimtest-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.received = os.path.join(self.tmp, "received.plist")
        patcher = mock.patch.dict(os.environ, {"FAKE_RECEIVED": self.received})
        patcher.start()
        self.addCleanup(patcher.stop)

    def fake(self, body, name="fake-uploader", answers_version=True):
        return write_script(self.tmp, name, body, answers_version)

    @staticmethod
    def shim(env, cls=None):
        """A recording shim; JSS_URL (required) is added when absent."""
        env.setdefault("JSS_URL", "https://jamf.invalid")
        return (cls or Shim)(env)

    def run_shim(self, env, cls=None):
        proc = self.shim(env, cls)
        run_with_guard(proc.process)
        return proc

    def sent(self):
        with open(self.received, "rb") as f:
            return plistlib.loads(f.read())


class TestManifest(unittest.TestCase):
    """The class attributes AutoPkg reads must match the binary's -describe."""

    @classmethod
    def setUpClass(cls):
        ensure_binaries()

    def describe(self):
        out = subprocess.run(
            [UPLOADER, "-describe"], check=True, stdout=subprocess.PIPE
        ).stdout
        return json.loads(out.decode("utf-8"))

    def test_matches_binary_describe(self):
        # The shim declares what -describe lists, less the secrets, which
        # sync_manifest.py moves into the description (see the next test).
        manifest = self.describe()
        self.assertEqual(set(manifest), {"name", "description", "input_variables", "output_variables"})
        cls = SHIM_MODULE.JCDS2PackageUploader
        hint = " (run: python3 recipes/sync_manifest.py)"
        self.assertEqual(manifest["name"], cls.__name__)
        declared = dict(manifest["input_variables"])
        for name in sync_manifest.SECRET_INPUTS:
            del declared[name]
        self.assertEqual(cls.input_variables, declared, "input_variables" + hint)
        self.assertTrue(
            cls.description.startswith(manifest["description"] + " "), "description" + hint
        )
        self.assertEqual(
            cls.output_variables, manifest["output_variables"], "output_variables" + hint
        )
        self.assertEqual(
            sync_manifest.shim_manifest(manifest)["description"], cls.description, hint
        )

    def test_secrets_are_documented_not_declared(self):
        # `autopkg run -vv` prints each declared input with its value.
        manifest = self.describe()
        cls = SHIM_MODULE.JCDS2PackageUploader
        looks_secret = {
            name
            for name in manifest["input_variables"]
            if any(word in name.upper() for word in ("PASSWORD", "SECRET", "TOKEN", "KEY"))
        }
        self.assertEqual(
            looks_secret,
            set(sync_manifest.SECRET_INPUTS),
            "an input that carries a secret must be listed in sync_manifest.SECRET_INPUTS",
        )
        for name in ("API_PASSWORD", "CLIENT_SECRET", "BEARER_TOKEN", "SMB_PASSWORD"):
            self.assertNotIn(name, cls.input_variables)
            self.assertIn(name, manifest["input_variables"], "-describe still lists " + name)
            entry = "%s: %s" % (name, manifest["input_variables"][name]["description"])
            self.assertIn(entry, cls.description)
        self.assertIn("autopkg run -vv", cls.description)

    def test_version_matches_version_file(self):
        with open(os.path.join(ROOT, "VERSION"), encoding="utf-8") as f:
            release = f.read().strip()
        self.assertEqual(SHIM_MODULE.BINARY_VERSION, release)
        out = subprocess.run(
            [UPLOADER, "-version"], check=True, stdout=subprocess.PIPE
        ).stdout.decode()
        name, version = out.split()
        self.assertEqual(name, "jcds2-uploader")
        # bin/ holds a dev build of this tree: VERSION plus build metadata.
        self.assertEqual(version.split("+")[0], release)

    def test_module_shape(self):
        self.assertEqual(SHIM_MODULE.__all__, ["JCDS2PackageUploader"])
        self.assertTrue(issubclass(SHIM_MODULE.JCDS2PackageUploader, autopkglib.Processor))

    def test_python39_syntax(self):
        import ast  # pylint: disable=import-outside-toplevel

        for path in (SHIM, os.path.join(STANDIN, "autopkglib", "__init__.py")):
            with open(path, encoding="utf-8") as f:
                ast.parse(f.read(), path, feature_version=(3, 9))


class TestWithSimulator(unittest.TestCase):
    """The shim with the real binary against jamfsim."""

    @classmethod
    def setUpClass(cls):
        ensure_binaries()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shimsim-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.url = jamfsim_process.start(self, JAMFSIM, self.tmp)
        self.pkg = os.path.join(self.tmp, "Firefox-128.0.pkg")
        with open(self.pkg, "wb") as f:
            f.write(os.urandom(256 * 1024))

    def env(self, **extra):
        env = {
            "JSS_URL": self.url,
            "API_USERNAME": "admin",
            "API_PASSWORD": "password",
            "pkg_path": self.pkg,
            "pkg_category": "Browsers",
            "NAME": "Firefox",
            "version": "128.0",
            "verbose": 1,
            "jcds2_uploader_path": UPLOADER,
            "RECIPE_CACHE_DIR": os.path.join(self.tmp, "recipe-cache"),
        }
        env.update(extra)
        return env

    def sim_state(self):
        with urllib.request.urlopen(self.url + "/_sim/state", timeout=10) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def test_upload_copies_outputs_back(self):
        proc = Shim(self.env())
        env = run_with_guard(proc.process)
        self.assertIs(env, proc.env)
        self.assertIs(env["pkg_uploaded"], True)
        self.assertIs(env["pkg_metadata_updated"], True)
        self.assertEqual(env["pkg_name"], "Firefox-128.0.pkg")
        self.assertEqual(env["pkg_display_name"], "Firefox-128.0.pkg")
        self.assertEqual(env["pkg_upload_status"], "uploaded")
        self.assertTrue(env["pkg_id"])
        self.assertEqual(len(env["pkg_sha3_512"]), 128)
        summary = env["jamfpackageuploader_summary_result"]
        self.assertEqual(summary["data"]["pkg_name"], "Firefox-128.0.pkg")
        self.assertEqual(summary["data"]["version"], "128.0")
        # Inputs come back as they went in.
        self.assertEqual(env["API_PASSWORD"], "password")
        # Log lines were shown, once each, without a doubled prefix.
        self.assertTrue(proc.lines, "no log lines shown")
        self.assertFalse([l for l in proc.lines if l.startswith("JCDS2PackageUploader:")])
        self.assertTrue(any("uploaded" in l for l in proc.lines), proc.lines)
        # The password never shows up in what the user sees.
        self.assertFalse([l for l in proc.lines if "password" in l.split("=")[-1]])
        # The simulator has the package object and the file.
        state = json.dumps(self.sim_state())
        self.assertIn("Firefox-128.0.pkg", state)

    def test_second_run_reports_no_upload_and_drops_stale_summary(self):
        first = run_with_guard(Shim(self.env()).process)
        self.assertIn("jamfpackageuploader_summary_result", first)
        second_env = dict(first)
        second = run_with_guard(Shim(second_env).process)
        self.assertIs(second["pkg_uploaded"], False)
        self.assertEqual(second["pkg_upload_status"], "skipped-exists")
        # The binary removed the summary left by the first run; the shim
        # must remove it from AutoPkg's env too.
        self.assertNotIn("jamfpackageuploader_summary_result", second)

    def test_processor_error_passes_through(self):
        proc = Shim(self.env(pkg_category="No Such Category"))
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(proc.process)
        msg = str(ctx.exception)
        self.assertNotIn("ProcessorError:", msg)
        self.assertIn("No Such Category", msg)
        self.assertIn("categor", msg.lower())
        self.assertNotIn("pkg_uploaded", proc.env)

    def test_bad_password_is_not_shown(self):
        secret = "s3cr3t-Wrong-Pass"
        proc = Shim(self.env(API_PASSWORD=secret, verbose=4))
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(proc.process)
        self.assertNotIn(secret, str(ctx.exception))
        self.assertFalse([l for l in proc.lines if secret in l])

    def test_verbose_4_streams_many_lines(self):
        proc = Shim(self.env(verbose=4))
        env = run_with_guard(proc.process)
        self.assertIs(env["pkg_uploaded"], True)
        quiet = Shim(self.env(verbose=1, pkg_name="Other.pkg"))
        run_with_guard(quiet.process)
        self.assertGreater(len(proc.lines), len(quiet.lines))

    def test_quiet_run_prints_nothing(self):
        # Nothing at verbose 0 but the warning a plain-http JSS_URL always
        # earns (the simulator speaks http; real Jamf Pro is https).
        proc = Shim(self.env(verbose=0))
        run_with_guard(proc.process)
        self.assertEqual([l for l in proc.lines if "uses http://" not in l], [])
        self.assertLessEqual(len(proc.lines), 1, proc.lines)

    def test_unicode_and_nested_values_round_trip(self):
        values = {
            "unicode": "Zürich ✓ 日本語 🎉",
            "control": "tab\tbell\x07",  # not XML: the binary answers in binary
            "nested": {
                "list": [1, -2, 2.5, True, False, "ü", b"\x00\xff", {"deep": ["x"]}],
                "date": datetime.datetime(2024, 2, 29, 12, 30, 45),
                "empty_dict": {},
                "empty_list": [],
            },
            "max_uint64": (1 << 64) - 1,
            "min_int64": -(1 << 63),
            "float": 1.0e300,
            "inf": float("inf"),
            "data": bytes(range(256)),
            "tuple": ("a", ("b",)),
        }
        returned = {}

        class Capture(Shim):
            def _update_env(self, stdout, sent):
                returned.update(plistlib.loads(stdout))
                super()._update_env(stdout, sent)

        env = self.env(**values)
        originals = {k: env[k] for k in values}
        proc = Capture(env)
        run_with_guard(proc.process)
        self.assertIs(proc.env["pkg_uploaded"], True)
        for key, value in values.items():
            if key == "tuple":
                self.assertEqual(returned[key], ["a", ["b"]])
            else:
                self.assertEqual(returned[key], value, key)
            # AutoPkg's own value object is kept when nothing changed.
            self.assertIs(proc.env[key], originals[key], key)
        self.assertEqual(proc.env["unicode"], "Zürich ✓ 日本語 🎉")

    def test_nan_with_binary_plist_output(self):
        # A NaN float beside a value XML cannot carry (a control character)
        # once failed the run after the upload: the binary plist encoder
        # cannot write NaN. The binary now leaves such keys out and the shim
        # keeps AutoPkg's own values for them.
        proc = Shim(self.env(nan=float("nan"), control="bell\x07"))
        env = run_with_guard(proc.process)
        self.assertIs(env["pkg_uploaded"], True)
        self.assertTrue(math.isnan(env["nan"]))
        self.assertEqual(env["control"], "bell\x07")


class TestSerialisation(FakeBinaryTestCase):
    """Values a property list cannot carry are left out, with a warning."""

    class Custom:
        pass

    def test_each_kind_of_unwritable_value(self):
        binary = self.fake(ECHO_BINARY)
        custom = self.Custom()
        recursive = {"ok": 1}
        recursive["self"] = recursive
        aware = datetime.datetime(2024, 1, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
        env = {
            "jcds2_uploader_path": binary,
            "verbose": 2,
            "none": None,
            "custom": custom,
            "a_set": {1, 2},
            "a_date": datetime.date(2024, 1, 1),
            "huge": 1 << 64,
            "very_negative": -(1 << 63) - 1,
            "surrogate": "bad\udc80",
            "dict_with_int_key": {1: "one", "two": 2},
            "nested_dict": {"good": "g", "bad": custom, "none": None, "inner": {"x": {3}}},
            "nested_list": ["a", custom, None, 1 << 70, "b"],
            "recursive": recursive,
            "aware_date": aware,
            "fine": "kept",
        }
        originals = dict(env)
        proc = self.run_shim(env)
        sent = self.sent()

        # Dropped entirely at top level.
        for key in ("none", "custom", "a_set", "a_date", "huge", "very_negative", "surrogate"):
            self.assertNotIn(key, sent, key)
        # Inside containers only the bad item is dropped.
        self.assertEqual(sent["dict_with_int_key"], {"two": 2})
        self.assertEqual(sent["nested_dict"], {"good": "g", "inner": {}})
        self.assertEqual(sent["nested_list"], ["a", "b"])
        self.assertEqual(sent["recursive"], {"ok": 1})
        self.assertEqual(sent["aware_date"], datetime.datetime(2024, 1, 1, 10, 0))
        self.assertEqual(sent["fine"], "kept")

        warnings = "\n".join(proc.lines)
        expected = [
            "not passing custom to jcds2-uploader: type Custom",
            "not passing a_set to jcds2-uploader: type set",
            "not passing a_date to jcds2-uploader: type date",
            "not passing huge to jcds2-uploader: integer outside",
            "not passing very_negative to jcds2-uploader: integer outside",
            "not passing surrogate to jcds2-uploader: string is not valid Unicode",
            "not passing dict_with_int_key[1] to jcds2-uploader: dictionary key of type int",
            "not passing nested_dict['bad'] to jcds2-uploader: type Custom",
            "not passing nested_dict['inner']['x'] to jcds2-uploader: type set",
            "not passing nested_list[1] to jcds2-uploader: type Custom",
            "not passing nested_list[3] to jcds2-uploader: integer outside",
            "not passing recursive['self'] to jcds2-uploader: container refers to itself",
            "not passing none: value is None",
            "not passing nested_dict['none']: value is None",
            "not passing nested_list[2]: value is None",
        ]
        for text in expected:
            self.assertIn(text, warnings)
        # Warnings name keys, never values.
        self.assertNotIn("bad\udc80", warnings)
        self.assertNotIn("Custom object", warnings)

        # AutoPkg's env keeps every original value object untouched.
        for key, value in originals.items():
            self.assertIs(proc.env[key], value, key)
        # And takes what the binary added.
        self.assertEqual(proc.env["added_by_binary"], "yes")
        self.assertIs(proc.env["pkg_uploaded"], True)

    def test_warnings_show_at_verbose_0_but_none_notes_do_not(self):
        binary = self.fake(ECHO_BINARY)
        proc = self.run_shim(
            {"jcds2_uploader_path": binary, "verbose": 0, "none": None, "custom": self.Custom()}
        )
        self.assertEqual(
            [l for l in proc.lines if "not passing" in l],
            ["WARNING: not passing custom to jcds2-uploader: type Custom cannot be "
             "written to a property list"],
        )

    def test_non_string_top_level_key(self):
        binary = self.fake(ECHO_BINARY)
        proc = self.run_shim({"jcds2_uploader_path": binary, 7: "seven", "verbose": 1})
        self.assertNotIn(7, self.sent())
        self.assertEqual(proc.env[7], "seven")
        self.assertIn("not passing 7 to jcds2-uploader: key of type int", "\n".join(proc.lines))

    def test_changed_keys_and_removed_outputs_follow_the_binary(self):
        binary = self.fake(ECHO_BINARY)
        proc = self.run_shim(
            {"jcds2_uploader_path": binary, "remove_me": "x", "pkg_uploaded": False, "keep": [1],
             "pkg_sha3_512": "stale", "API_PASSWORD": "s3cret-pw"}
        )
        # An output of the processor that the binary removed is gone...
        self.assertNotIn("pkg_sha3_512", proc.env)
        # ...but keys it does not own stay for the processors that follow,
        # including the credentials the binary never echoes back.
        self.assertEqual(proc.env["remove_me"], "x")
        self.assertEqual(proc.env["API_PASSWORD"], "s3cret-pw")
        self.assertIs(proc.env["pkg_uploaded"], True)
        self.assertEqual(proc.env["keep"], [1])

    def test_binary_receives_defaults_and_verbose(self):
        binary = self.fake(ECHO_BINARY)
        self.run_shim({"jcds2_uploader_path": binary, "verbose": 3, "JSS_URL": "https://x"})
        sent = self.sent()
        self.assertEqual(sent["verbose"], 3)
        # AutoPkg applies input defaults before main(); they reach the binary.
        self.assertEqual(sent["max_tries"], "5")
        self.assertEqual(sent["upload_mode"], "auto")

    def test_required_input_checked_before_running(self):
        binary = self.fake(ECHO_BINARY)
        proc = Shim({"jcds2_uploader_path": binary})
        with self.assertRaises(autopkglib.ProcessorError):
            proc.process()
        self.assertFalse(os.path.exists(self.received))


class TestProcessHandling(FakeBinaryTestCase):
    """Streams, exit statuses and pipes."""

    def test_big_stderr_and_stdout_do_not_deadlock(self):
        # The fake writes 100,000 log lines and an 8 MB plist before it
        # reads any of its (8 MB) input: a shim that did not drain all three
        # pipes at once would hang here.
        binary = self.fake(
            """\
            import plistlib, sys
            err = sys.stderr
            for i in range(100000):
                err.write("JCDS2PackageUploader: line %d\\n" % i)
            err.flush()
            out = {"big_out": "y" * (8 << 20), "pkg_uploaded": True}
            sys.stdout.buffer.write(plistlib.dumps(out, fmt=plistlib.FMT_BINARY))
            sys.stdout.flush()
            env = plistlib.loads(sys.stdin.buffer.read())
            assert len(env["big_in"]) == 8 << 20
            """
        )
        env = {"jcds2_uploader_path": binary, "verbose": 1, "big_in": "x" * (8 << 20)}
        proc = self.run_shim(env)
        self.assertEqual(len(proc.lines), 100000)
        self.assertEqual(proc.lines[0], "line 0")
        self.assertEqual(proc.lines[-1], "line 99999")
        self.assertEqual(len(proc.env["big_out"]), 8 << 20)
        # The binary's output env did not carry big_in, which is not one of
        # its outputs: AutoPkg's own value stays.
        self.assertEqual(len(proc.env["big_in"]), 8 << 20)

    def test_lines_are_shown_while_the_binary_runs(self):
        go_file = os.path.join(self.tmp, "go")
        binary = self.fake(
            """\
            import os, plistlib, sys, time
            env = plistlib.loads(sys.stdin.buffer.read())
            print("JCDS2PackageUploader: waiting", file=sys.stderr, flush=True)
            deadline = time.time() + 60
            while not os.path.exists(%r):
                if time.time() > deadline:
                    print("ProcessorError: the shim did not stream", file=sys.stderr)
                    sys.exit(10)
                time.sleep(0.01)
            print("JCDS2PackageUploader: done", file=sys.stderr, flush=True)
            sys.stdout.buffer.write(plistlib.dumps(env))
            """
            % go_file
        )
        proc = self.shim({"jcds2_uploader_path": binary, "verbose": 1})

        def on_line(msg):
            if msg == "waiting":
                open(go_file, "w").close()  # pylint: disable=consider-using-with

        proc.on_line = on_line
        run_with_guard(proc.process)
        self.assertEqual(proc.lines, ["waiting", "done"])

    def test_exit_10_multiline_message(self):
        binary = self.fake(
            """\
            import sys
            sys.stdin.buffer.read()
            print("JCDS2PackageUploader: working", file=sys.stderr)
            print("ProcessorError: first line\\nsecond line", file=sys.stderr)
            sys.exit(10)
            """
        )
        proc = self.shim({"jcds2_uploader_path": binary, "verbose": 1})
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(proc.process)
        self.assertEqual(str(ctx.exception), "first line\nsecond line")
        # The error is raised, not also printed as a log line.
        self.assertEqual(proc.lines, ["working"])

    def test_exit_10_without_message(self):
        binary = self.fake("import sys\nprint('boom', file=sys.stderr)\nsys.exit(10)\n")
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)
        self.assertIn("exited with status 10", str(ctx.exception))
        self.assertIn("boom", str(ctx.exception))

    def test_other_exit_status_quotes_last_lines(self):
        binary = self.fake(
            """\
            import sys
            for i in range(50):
                print("noise %d" % i, file=sys.stderr)
            sys.exit(3)
            """
        )
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)
        msg = str(ctx.exception)
        self.assertIn("exited with status 3", msg)
        self.assertIn("noise 49", msg)
        self.assertIn("noise 30", msg)
        self.assertNotIn("noise 29\n", msg)

    def test_killed_by_signal(self):
        binary = self.fake("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)
        self.assertIn("stopped by signal SIGSEGV", str(ctx.exception))
        self.assertIn("printed nothing", str(ctx.exception))

    def test_sigkill_after_output_is_not_blamed_on_gatekeeper(self):
        binary = self.fake(
            "import os, signal, sys\nprint('JCDS2PackageUploader: working', file=sys.stderr, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)
        msg = str(ctx.exception)
        self.assertIn("stopped by signal SIGKILL", msg)
        self.assertIn("working", msg)
        self.assertNotIn("quarantine", msg)

    def test_exit_0_with_garbage_output(self):
        binary = self.fake("import sys\nsys.stdin.read()\nprint('not a plist')\n")
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)
        self.assertIn("not a property list", str(ctx.exception))

    def test_exit_0_with_non_dict_plist(self):
        binary = self.fake(
            "import plistlib, sys\nsys.stdin.read()\n"
            "sys.stdout.buffer.write(plistlib.dumps([1]))\n"
        )
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)
        self.assertIn("list instead of the environment dictionary", str(ctx.exception))

    def test_binary_that_exits_without_reading_stdin(self):
        binary = self.fake(
            "import sys\nprint('ProcessorError: no thanks', file=sys.stderr)\nsys.exit(10)\n"
        )
        env = {"jcds2_uploader_path": binary, "big": "x" * (4 << 20)}
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(self.shim(env).process)
        self.assertEqual(str(ctx.exception), "no thanks")

    def test_xml_output_is_read(self):
        binary = self.fake(
            "import plistlib, sys\nenv = plistlib.loads(sys.stdin.buffer.read())\n"
            "env['pkg_name'] = 'x.pkg'\n"
            "sys.stdout.buffer.write(plistlib.dumps(env, fmt=plistlib.FMT_XML))\n"
        )
        proc = self.run_shim({"jcds2_uploader_path": binary})
        self.assertEqual(proc.env["pkg_name"], "x.pkg")


class TestSecrets(FakeBinaryTestCase):
    """Secrets are not declared, so AutoPkg does not print them, yet reach the binary."""

    SECRETS = {
        "API_PASSWORD": "pw-Secret-1",
        "CLIENT_SECRET": "cs-Secret-2",
        "BEARER_TOKEN": "bt-Secret-3",
        "SMB_PASSWORD": "smb-Secret-4",
    }

    def test_passed_to_the_binary_but_not_in_what_autopkg_prints(self):
        binary = self.fake(ECHO_BINARY)
        env = {"jcds2_uploader_path": binary, "verbose": 2, "API_USERNAME": "admin"}
        env.update(self.SECRETS)
        proc = self.shim(env)
        # What AutoPkg prints at -vv before running a processor: each
        # declared input that is in the environment, with its value.
        printed = repr(
            {"Input": {k: proc.env[k] for k in proc.input_variables if k in proc.env}}
        )
        self.assertIn("API_USERNAME", printed)
        run_with_guard(proc.process)
        sent = self.sent()
        for name, value in self.SECRETS.items():
            self.assertNotIn(name, proc.input_variables)
            self.assertNotIn(value, printed)
            self.assertEqual(sent[name], value, name)
            self.assertFalse([l for l in proc.lines if value in l])
        # Still in AutoPkg's environment for the processors that follow.
        self.assertEqual(proc.env["API_PASSWORD"], self.SECRETS["API_PASSWORD"])

    def test_process_environment_secrets_reach_the_binary_only(self):
        # Kept out of AutoPkg's preferences, a secret in autopkg's process
        # environment reaches the binary but never AutoPkg's environment,
        # which AutoPkg prints at -vvv and writes into receipts.
        binary = self.fake(ECHO_BINARY)
        from_process = {"CLIENT_SECRET": "cs-Process-5", "BEARER_TOKEN": "bt-Process-6", "API_PASSWORD": "pw-Process-7"}
        with mock.patch.dict(os.environ, from_process):
            proc = self.run_shim({"jcds2_uploader_path": binary, "verbose": 4, "API_PASSWORD": "pw-Prefs-8"})
        sent = self.sent()
        self.assertEqual(sent["CLIENT_SECRET"], "cs-Process-5")
        self.assertEqual(sent["BEARER_TOKEN"], "bt-Process-6")
        # AutoPkg's environment wins where both have one.
        self.assertEqual(sent["API_PASSWORD"], "pw-Prefs-8")
        for value in from_process.values():
            self.assertNotIn(value, repr(proc.env))
            self.assertFalse([l for l in proc.lines if value in l])


class TestVersionCheck(FakeBinaryTestCase):
    """The shim runs only the binary release it was released with."""

    def test_other_version_is_refused_with_both_versions_and_the_fix(self):
        binary = self.fake(ECHO_BINARY)
        with mock.patch.dict(os.environ, {"FAKE_VERSION": "0.2.9"}):
            with self.assertRaises(autopkglib.ProcessorError) as ctx:
                run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)
        msg = str(ctx.exception)
        self.assertIn("%s is jcds2-uploader 0.2.9" % binary, msg)
        self.assertIn("belongs to jcds2-uploader %s" % SHIM_MODULE.BINARY_VERSION, msg)
        self.assertIn("same release", msg)
        self.assertIn("jcds2_uploader_path", msg)
        self.assertIn("update-trust-info", msg)
        # Refused before the environment (and its secrets) went anywhere.
        self.assertFalse(os.path.exists(self.received))

    def test_refused_wherever_the_binary_was_found(self):
        bindir = os.path.join(self.tmp, "path")
        os.mkdir(bindir)
        write_script(bindir, "jcds2-uploader", ECHO_BINARY)
        with mock.patch.dict(os.environ, {"FAKE_VERSION": "1.0.0", "PATH": bindir}):
            with self.assertRaises(autopkglib.ProcessorError) as ctx:
                run_with_guard(self.shim({}).process)
        self.assertIn("is jcds2-uploader 1.0.0", str(ctx.exception))

    def test_a_prerelease_of_the_same_numbers_is_another_version(self):
        binary = self.fake(ECHO_BINARY)
        with mock.patch.dict(
            os.environ, {"FAKE_VERSION": SHIM_MODULE.BINARY_VERSION + "-rc.1"}
        ):
            with self.assertRaises(autopkglib.ProcessorError):
                run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)

    def test_build_metadata_is_ignored(self):
        binary = self.fake(ECHO_BINARY)
        for version in ("+g1a2b3c4.dirty", "+dev", "+snapshot.1a2b3c4", ""):
            with mock.patch.dict(
                os.environ, {"FAKE_VERSION": SHIM_MODULE.BINARY_VERSION + version}
            ):
                proc = self.run_shim({"jcds2_uploader_path": binary})
            self.assertEqual(proc.env["added_by_binary"], "yes", version)

    def test_version_asked_once_per_run(self):
        binary = self.fake(ECHO_BINARY)
        self.run_shim({"jcds2_uploader_path": binary})
        with open(self.received + ".version-asked", encoding="utf-8") as f:
            self.assertEqual(f.read(), "asked\n")

    def test_not_a_jcds2_uploader(self):
        binary = self.fake("print('hello')\n", answers_version=False)
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)
        msg = str(ctx.exception)
        self.assertIn("does not look like jcds2-uploader", msg)
        self.assertIn("hello", msg)


# A binary that macOS kills before it runs: SIGKILL, nothing printed.
KILLED_AT_START = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"

# A stand-in for /usr/bin/xattr: records its arguments, and answers as
# `xattr -p NAME FILE` does (status 0 and the value when FILE has NAME).
FAKE_XATTR = """\
import os, sys
with open(os.environ["FAKE_RECEIVED"] + ".xattr", "w") as f:
    f.write(" ".join(sys.argv[1:]))
if os.environ.get("FAKE_QUARANTINED") == "1":
    print("0081;65a1b2c3;Safari;")
    sys.exit(0)
print("xattr: %s: No such xattr: %s" % (sys.argv[-1], sys.argv[-2]), file=sys.stderr)
sys.exit(1)
"""


class TestKilledAtStart(FakeBinaryTestCase):
    """Gatekeeper's SIGKILL gets a diagnosis: quarantine or signature."""

    def setUp(self):
        super().setUp()
        xattr = self.fake(FAKE_XATTR, name="xattr", answers_version=False)
        patcher = mock.patch.object(SHIM_MODULE, "XATTR", xattr)
        patcher.start()
        self.addCleanup(patcher.stop)

    def run_killed(self, quarantined, body=KILLED_AT_START, answers_version=False):
        binary = self.fake(body, answers_version=answers_version)
        with mock.patch.dict(os.environ, {"FAKE_QUARANTINED": quarantined}):
            with self.assertRaises(autopkglib.ProcessorError) as ctx:
                run_with_guard(self.shim({"jcds2_uploader_path": binary}).process)
        return binary, str(ctx.exception)

    def test_quarantined_binary_gets_the_xattr_command(self):
        binary, msg = self.run_killed("1")
        self.assertIn("killed as it started", msg)
        self.assertIn("quarantine attribute", msg)
        self.assertIn("xattr -d com.apple.quarantine %s" % os.path.realpath(binary), msg)
        with open(self.received + ".xattr", encoding="utf-8") as f:
            self.assertEqual(
                f.read(), "-p com.apple.quarantine %s" % os.path.realpath(binary)
            )
        self.assertFalse(os.path.exists(self.received), "the environment was sent")

    def test_unquarantined_binary_needs_a_signature(self):
        binary, msg = self.run_killed("0")
        self.assertIn("killed as it started", msg)
        self.assertIn("no quarantine attribute", msg)
        self.assertIn("Developer ID", msg)
        self.assertIn("codesign --force --sign - %s" % os.path.realpath(binary), msg)
        self.assertNotIn("xattr -d", msg)

    def test_xattr_unavailable_gives_both_fixes(self):
        with mock.patch.object(SHIM_MODULE, "XATTR", os.path.join(self.tmp, "no-xattr")):
            _, msg = self.run_killed("1")
        self.assertIn("xattr -d com.apple.quarantine", msg)
        self.assertIn("Developer ID", msg)

    def test_killed_in_the_real_run_too(self):
        # -version answered (say, before a copy replaced the file), then the
        # run itself was killed before printing anything.
        _, msg = self.run_killed("1", answers_version=True)
        self.assertIn("killed as it started", msg)
        self.assertIn("xattr -d com.apple.quarantine", msg)

    def test_silent_sigkill_in_the_real_run_without_quarantine_is_not_blamed(self):
        # A run killed by the memory killer or kill -9 at verbosity 0 also
        # dies silently; -version proved the signature was accepted.
        _, msg = self.run_killed("0", answers_version=True)
        self.assertIn("stopped by signal SIGKILL and printed nothing", msg)
        self.assertNotIn("killed as it started", msg)

    def test_through_a_link_the_real_file_is_named(self):
        real = self.fake(KILLED_AT_START, name="real-uploader", answers_version=False)
        link = os.path.join(self.tmp, "linked-uploader")
        os.symlink(real, link)
        with mock.patch.dict(os.environ, {"FAKE_QUARANTINED": "1"}):
            with self.assertRaises(autopkglib.ProcessorError) as ctx:
                run_with_guard(self.shim({"jcds2_uploader_path": link}).process)
        self.assertIn("xattr -d com.apple.quarantine %s" % os.path.realpath(real), str(ctx.exception))


class TestFindingTheBinary(FakeBinaryTestCase):
    """jcds2_uploader_path, beside the shim, PATH, /usr/local/bin, or a clear error."""

    def setUp(self):
        super().setUp()
        self.empty = os.path.join(self.tmp, "empty")
        os.mkdir(self.empty)
        patcher = mock.patch.dict(os.environ, {"PATH": self.empty})
        patcher.start()
        self.addCleanup(patcher.stop)
        # No /usr/local/bin or /opt/homebrew/bin fallback while these tests run.
        for attr in ("DEFAULT_BINARY", "HOMEBREW_BINARY"):
            patcher = mock.patch.object(
                SHIM_MODULE, attr, os.path.join(self.tmp, "nowhere", attr, "jcds2-uploader")
            )
            patcher.start()
            self.addCleanup(patcher.stop)

    def test_missing_binary_says_how_to_install(self):
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            self.shim({}).main()
        msg = str(ctx.exception)
        self.assertIn("jcds2-uploader binary was not found", msg)
        self.assertIn("installer package", msg)
        self.assertIn("make install", msg)
        self.assertIn("jcds2_uploader_path", msg)
        self.assertIn(SHIM_MODULE.BINARY_VERSION, msg)
        self.assertIn(SHIM_MODULE.HOMEBREW_BINARY, msg)

    def test_homebrew_location_after_usr_local_bin(self):
        homebrew = os.path.join(self.tmp, "opt-homebrew-bin")
        usr_local = os.path.join(self.tmp, "usr-local-bin")
        os.mkdir(homebrew)
        os.mkdir(usr_local)
        write_script(homebrew, "jcds2-uploader", ECHO_BINARY.replace('"yes"', '"homebrew"'))
        with mock.patch.object(
            SHIM_MODULE, "HOMEBREW_BINARY", os.path.join(homebrew, "jcds2-uploader")
        ), mock.patch.object(
            SHIM_MODULE, "DEFAULT_BINARY", os.path.join(usr_local, "jcds2-uploader")
        ):
            proc = self.run_shim({})
            self.assertEqual(proc.env["added_by_binary"], "homebrew")
            write_script(usr_local, "jcds2-uploader", ECHO_BINARY.replace('"yes"', '"usr-local"'))
            proc = self.run_shim({})
            self.assertEqual(proc.env["added_by_binary"], "usr-local")
        self.assertEqual(load_shim().HOMEBREW_BINARY, "/opt/homebrew/bin/jcds2-uploader")

    def test_explicit_path_that_is_not_executable(self):
        path = os.path.join(self.tmp, "jcds2-uploader")
        with open(path, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\n")
        os.chmod(path, 0o644)
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            self.shim({"jcds2_uploader_path": path}).main()
        self.assertIn("not an executable file", str(ctx.exception))
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            self.shim({"jcds2_uploader_path": os.path.join(self.tmp, "missing")}).main()
        self.assertIn("missing", str(ctx.exception))

    def test_found_on_path(self):
        write_script(self.empty, "jcds2-uploader", ECHO_BINARY)
        proc = self.run_shim({"verbose": 1})
        self.assertEqual(proc.env["added_by_binary"], "yes")

    def test_found_beside_the_shim_before_path(self):
        beside = os.path.join(self.tmp, "installed")
        os.mkdir(beside)
        shutil.copy(SHIM, beside)
        write_script(beside, "jcds2-uploader", ECHO_BINARY.replace('"yes"', '"beside"'))
        write_script(self.empty, "jcds2-uploader", ECHO_BINARY.replace('"yes"', '"path"'))
        module = load_shim(os.path.join(beside, "JCDS2PackageUploader.py"))
        proc = self.run_shim({}, recording(module.JCDS2PackageUploader))
        self.assertEqual(proc.env["added_by_binary"], "beside")
        # An explicit path wins over both.
        explicit = self.fake(ECHO_BINARY.replace('"yes"', '"explicit"'))
        proc = self.run_shim(
            {"jcds2_uploader_path": explicit}, recording(module.JCDS2PackageUploader)
        )
        self.assertEqual(proc.env["added_by_binary"], "explicit")

    def test_default_location_last(self):
        default = os.path.join(self.tmp, "usr-local-bin")
        os.mkdir(default)
        write_script(default, "jcds2-uploader", ECHO_BINARY.replace('"yes"', '"default"'))
        with mock.patch.object(SHIM_MODULE, "DEFAULT_BINARY", os.path.join(default, "jcds2-uploader")):
            proc = self.run_shim({})
        self.assertEqual(proc.env["added_by_binary"], "default")


# The switch as real jcds2 recipes and overrides give JamfPackageUploader's
# inputs (../shared/reference/jamfpackageuploader.md): booleans as YAML
# booleans or as text, %KEY% references, most keys left out.
SWITCHED_RECIPE = """\
Identifier: com.example.jamf.ShimTest
ParentRecipe: com.github.autopkg.pkg.Firefox_EN
Input:
  NAME: Firefox
  CATEGORY: Browsers
  REPLACE_PKG: "False"
  JCDS2_MODE: "True"
Process:
  - Processor: %(post)s
    Arguments:
      pkg_category: "%%CATEGORY%%"
      replace_pkg: "%%REPLACE_PKG%%"
%(arguments)s
"""

# Every other input a JamfPackageUploader step commonly carried, with the
# values JamfUploader's own defaults and recipes give them.
COMMON_ARGUMENTS = """\
      pkg_priority: "10"
      replace_pkg_metadata: "False"
      skip_metadata_upload: "False"
      recalculate: "True"
      md5: "False"
      insecure_mode: "False"
      max_tries: "5"
      sleep: "0"
      reboot_required: "False"
      send_notification: "False"
      os_requirements: ""
      pkg_info: ""
      pkg_notes: ""
      required_processor: "None"
      CLOUD_DP: False
      SMB_URL: ""
      SMB_SHARES: []
"""


class TestUnderRealAutoPkg(real_autopkg.AutoPkgTestCase, unittest.TestCase):
    """The shim as AutoPkg 2.9.0 runs it (recipes/tests/real_autopkg.py):
    AutoPkg sets every input's default into the environment before the
    shim runs, passes its whole environment, preferences included, and
    prints it at -vvv. The account is the simulator's API client."""

    uploader = UPLOADER
    jamfsim = JAMFSIM
    SECRET = "cs-9f8e7d6c-Only-In-The-Environment"
    sim_args = ("-client-secret", SECRET)

    @classmethod
    def setUpClass(cls):
        ensure_binaries()

    def setUp(self):
        super().setUp()
        self.prefs["CLIENT_ID"] = "client-id"
        self.child_env["CLIENT_SECRET"] = self.SECRET
        self.mine = os.path.join(self.recipes, "my-recipes")

    def switched(self, arguments=""):
        """Write the switched recipe with these extra step arguments."""
        text = SWITCHED_RECIPE % {"post": real_autopkg.POST, "arguments": arguments.rstrip("\n")}
        self.place("ShimTest.jamf.recipe.yaml", self.mine, text=text)

    def assert_switch_works(self, *args):
        run = self.autopkg("run", "-vv", *args)
        out = self.assert_landed(run)
        self.assertEqual(self.category_of("Firefox-128.0.pkg"), "Browsers")
        # Verified: the binary waited until Jamf Pro showed the file's size
        # and digest and the record READY.
        self.assertIn("READY with its size and SHA3-512 on every pod", run.stdout)
        self.assertIn("mode=jcds2", run.stdout)
        return run, out

    def test_jcds2_mode_true(self):
        self.switched("      jcds2_mode: True\n" + COMMON_ARGUMENTS)
        run, _ = self.assert_switch_works("com.example.jamf.ShimTest")
        # AutoPkg handed the shim upload_mode "auto", its default, beside
        # jcds2_mode True: the pair that was refused.
        self.assertIn("No value supplied for upload_mode, setting default value of: auto", run.stdout)
        step = [s for s in run.last_receipt() if isinstance(s, dict) and s.get("Processor") == real_autopkg.POST][0]
        self.assertIs(step["Input"]["jcds2_mode"], True)

    def test_jcds2_mode_true_as_text(self):
        self.switched('      jcds2_mode: "True"\n' + COMMON_ARGUMENTS)
        self.assert_switch_works("com.example.jamf.ShimTest")

    def test_jcds2_mode_from_a_key_reference(self):
        self.switched('      jcds2_mode: "%JCDS2_MODE%"\n')
        self.assert_switch_works("com.example.jamf.ShimTest")

    def test_jcds2_mode_on_the_command_line(self):
        self.switched()
        self.assert_switch_works("com.example.jamf.ShimTest", "--key", "jcds2_mode=True", "--key", "replace_pkg=False")

    def test_jcds2_mode_in_a_recipe_list(self):
        self.switched()
        listed = os.path.join(self.tmp, "list.plist")
        with open(listed, "wb") as f:
            plistlib.dump({"recipes": ["com.example.jamf.ShimTest"], "jcds2_mode": True, "max_tries": "5"}, f)
        self.assert_switch_works("--recipe-list", listed)

    def test_jcds2_mode_in_the_preferences(self):
        self.switched()
        self.prefs.update({"jcds2_mode": True, "upload_mode": "auto"})
        self.assert_switch_works("com.example.jamf.ShimTest")

    def test_jcds2_mode_with_upload_mode_v1_is_refused_before_any_request(self):
        self.switched("      jcds2_mode: True\n")
        run = self.autopkg("run", "com.example.jamf.ShimTest", "--key", "upload_mode=v1", check=False)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("jcds2_mode and upload_mode disagree", run.output)
        self.assertEqual(self.sim_state()["calls"] or [], [])

    def test_no_secret_at_vvvv_when_not_in_the_preferences(self):
        # The secret is only in autopkg's process environment (the keychain,
        # its first place on a Mac, is not on Linux).
        self.switched("      jcds2_mode: True\n")
        run = self.autopkg("run", "-vvvv", "com.example.jamf.ShimTest")
        self.assert_landed(run)
        self.assertIn("CLIENT_ID", run.stdout)  # -vvv printed the environment
        self.assertIn("s3 request", run.stdout)  # and each S3 request
        self.assertNotIn(self.SECRET, run.output)
        self.assertTrue(run.receipt_paths)
        leaked = []
        for top, _, files in os.walk(self.tmp):
            for name in files:
                with open(os.path.join(top, name), "rb") as f:
                    if self.SECRET.encode() in f.read():
                        leaked.append(os.path.join(top, name))
        self.assertEqual(leaked, [], "the secret is in these files")

    def test_secret_in_the_preferences_is_printed_by_autopkg(self):
        # What README says AutoPkg itself does: at -vvv it prints its whole
        # environment, preferences included, and every receipt keeps them.
        self.child_env.pop("CLIENT_SECRET")
        self.prefs["CLIENT_SECRET"] = self.SECRET
        self.switched("      jcds2_mode: True\n")
        quiet = self.autopkg("run", "-vv", "com.example.jamf.ShimTest")
        self.assertNotIn(self.SECRET, quiet.output)
        loud = self.autopkg("run", "-vvv", "com.example.jamf.ShimTest")
        self.assertIn(self.SECRET, loud.stdout)
        with open(loud.receipt_paths[-1], "rb") as f:
            self.assertIn(self.SECRET.encode(), f.read())


STUB_ID = "com.github.jcds2-uploader.SharedProcessors"


def find_stub(search_dir):
    """The stub recipe as AutoPkg finds a recipe by identifier: in a search
    folder or one level below it."""
    found = None
    for pattern in ("*.recipe", os.path.join("*", "*.recipe")):
        for path in sorted(glob.glob(os.path.join(search_dir, pattern))):
            with open(path, "rb") as f:
                if plistlib.load(f).get("Identifier") == STUB_ID:
                    found = path
    return found


class TestInstall(unittest.TestCase):
    """install.sh and uninstall.sh (make install / make uninstall)."""

    @classmethod
    def setUpClass(cls):
        ensure_binaries()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="shiminstall-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def install(self, prefix, recipes, destdir=None, script="install.sh"):
        args = ["sh", os.path.join(HERE, script), prefix]
        if destdir is not None:
            args.append(destdir)
        env = dict(os.environ, RECIPES_DIR=recipes)
        return subprocess.run(
            args, check=True, stdout=subprocess.PIPE, env=env
        ).stdout.decode()

    def test_layout_under_destdir(self):
        destdir = os.path.join(self.tmp, "dest")
        self.install("/opt/jcds2", "/Library/AutoPkg/Recipes/jcds2-uploader", destdir)
        binary = os.path.join(destdir, "opt/jcds2/bin/jcds2-uploader")
        recipes = os.path.join(destdir, "Library/AutoPkg/Recipes/jcds2-uploader")
        self.assertTrue(os.access(binary, os.X_OK))
        for name in ("JCDS2PackageUploader.py", "JCDS2PackageUploader.recipe"):
            mode = stat.S_IMODE(os.stat(os.path.join(recipes, name)).st_mode)
            self.assertEqual(mode, 0o644, name)
        with open(os.path.join(recipes, "JCDS2PackageUploader.recipe"), "rb") as f:
            stub = plistlib.load(f)
        self.assertEqual(stub["Identifier"], STUB_ID)
        self.assertEqual(stub["Process"], [])
        # Absolute, to where the binary lands once DESTDIR is gone.
        self.assertEqual(
            os.readlink(os.path.join(recipes, "jcds2-uploader")), "/opt/jcds2/bin/jcds2-uploader"
        )
        docs = os.path.join(destdir, "opt/jcds2/share/doc/jcds2-uploader")
        for name in ("README.md", "LICENSE", "CHANGELOG.md", "MIGRATING.md", "AutoPkg.md"):
            self.assertTrue(os.path.isfile(os.path.join(docs, name)), name)
        self.assertTrue(os.listdir(os.path.join(docs, "examples")))
        # AutoPkg finds the stub in the default search folder.
        self.assertEqual(
            find_stub(os.path.join(destdir, "Library/AutoPkg/Recipes")),
            os.path.join(recipes, "JCDS2PackageUploader.recipe"),
        )

    def test_shim_finds_the_binary_through_the_link(self):
        # Any PREFIX: the shim in RECIPES_DIR reaches PREFIX/bin through the
        # link beside it, with a PATH that lacks PREFIX/bin (launchd, cron).
        prefix = os.path.join(self.tmp, "prefix")
        search = os.path.join(self.tmp, "Library", "AutoPkg", "Recipes")
        self.install(prefix, os.path.join(search, "jcds2-uploader"))
        stub = find_stub(search)
        self.assertIsNotNone(stub, "stub recipe not found by identifier")
        module = load_shim(os.path.join(os.path.dirname(stub), "JCDS2PackageUploader.py"))
        module.DEFAULT_BINARY = os.path.join(self.tmp, "nowhere")
        module.HOMEBREW_BINARY = os.path.join(self.tmp, "nowhere")
        with mock.patch.dict(os.environ, {"PATH": self.tmp}):
            binary = module.JCDS2PackageUploader({})._find_binary()
            module.JCDS2PackageUploader({})._check_version(binary)
        self.assertEqual(
            os.path.realpath(binary), os.path.join(os.path.realpath(prefix), "bin", "jcds2-uploader")
        )
        out = subprocess.run([binary, "-describe"], check=True, stdout=subprocess.PIPE)
        self.assertEqual(json.loads(out.stdout)["name"], "JCDS2PackageUploader")

    def test_upgrade_from_the_old_layout_then_uninstall(self):
        prefix = os.path.join(self.tmp, "prefix")
        recipes = os.path.join(self.tmp, "Recipes", "jcds2-uploader")
        old = os.path.join(prefix, "share", "jcds2-uploader")
        os.makedirs(old)
        with open(os.path.join(old, "JCDS2PackageUploader.py"), "w", encoding="utf-8") as f:
            f.write("old")
        out = self.install(prefix, recipes)
        self.assertFalse(os.path.exists(old))
        self.assertIn("removed the old", out)
        self.install(prefix, recipes)  # again: idempotent
        out = self.install(prefix, recipes, script="uninstall.sh")
        self.assertIn("removed %s/bin/jcds2-uploader" % prefix, out)
        self.assertFalse(os.path.exists(recipes))
        self.assertFalse(os.path.lexists(os.path.join(prefix, "bin", "jcds2-uploader")))
        self.assertFalse(os.path.exists(os.path.join(prefix, "share", "doc", "jcds2-uploader")))
        # A folder the user put their own files in stays, with them.
        self.install(prefix, recipes)
        mine = os.path.join(recipes, "Mine.recipe")
        with open(mine, "w", encoding="utf-8") as f:
            f.write("mine")
        self.install(prefix, recipes, script="uninstall.sh")
        self.assertEqual(os.listdir(recipes), ["Mine.recipe"])

    def test_missing_binary_is_an_error_that_says_build_first(self):
        env = dict(os.environ, JCDS2_UPLOADER_BIN=os.path.join(self.tmp, "none"))
        proc = subprocess.run(
            ["sh", os.path.join(HERE, "install.sh"), "/usr/local", os.path.join(self.tmp, "d")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
        )
        self.assertEqual(proc.returncode, 1)
        self.assertIn(b"make build", proc.stderr)

    def test_stub_recipe_in_repo(self):
        with open(os.path.join(HERE, "JCDS2PackageUploader.recipe"), "rb") as f:
            stub = plistlib.load(f)
        self.assertEqual(stub["Identifier"], STUB_ID)
        self.assertIn("Description", stub)
        self.assertEqual(stub["Input"], {})


class TestMakeInstall(unittest.TestCase):
    """`sudo make install` installs bin/ as built; it never builds."""

    def make(self, *args):
        return subprocess.run(
            ["make", "-s", "-C", ROOT] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
        )

    def test_install_builds_nothing(self):
        proc = self.make("-n", "install", "PREFIX=/opt/x", "DESTDIR=/nonexistent")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn(b"go build", proc.stdout)
        for line in proc.stdout.decode().splitlines():
            self.assertFalse(line.split()[0].endswith("go"), line)
        self.assertIn(b"recipes/install.sh", proc.stdout)

    def test_install_without_a_build_says_so(self):
        tmp = tempfile.mkdtemp(prefix="makeinstall-")
        self.addCleanup(shutil.rmtree, tmp, True)
        proc = self.make("install", "BIN=" + os.path.join(tmp, "nobin"), "DESTDIR=" + tmp)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"is missing; run make build first", proc.stderr)
        self.assertEqual(os.listdir(tmp), [])

    def test_install_then_uninstall_into_destdir(self):
        ensure_binaries()
        tmp = tempfile.mkdtemp(prefix="makeinstall-")
        self.addCleanup(shutil.rmtree, tmp, True)
        proc = self.make("install", "DESTDIR=" + tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(os.access(os.path.join(tmp, "usr/local/bin/jcds2-uploader"), os.X_OK))
        self.assertTrue(
            os.path.isfile(
                os.path.join(tmp, "Library/AutoPkg/Recipes/jcds2-uploader/JCDS2PackageUploader.py")
            )
        )
        proc = self.make("uninstall", "DESTDIR=" + tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(os.path.lexists(os.path.join(tmp, "usr/local/bin/jcds2-uploader")))
        self.assertFalse(os.path.exists(os.path.join(tmp, "Library/AutoPkg/Recipes/jcds2-uploader")))


class TestPackagePayload(unittest.TestCase):
    """packaging/stage-pkg.sh lays out what the installer package installs."""

    @classmethod
    def setUpClass(cls):
        ensure_binaries()

    def test_payload_layout(self):
        tmp = tempfile.mkdtemp(prefix="pkgroot-")
        self.addCleanup(shutil.rmtree, tmp, True)
        root = os.path.join(tmp, "root")
        os.makedirs(os.path.join(root, "stale"))
        subprocess.run(
            ["sh", os.path.join(ROOT, "packaging", "stage-pkg.sh"), UPLOADER, root],
            check=True, stdout=subprocess.DEVNULL,
        )
        files = {}
        for top, dirs, names in os.walk(root):
            for name in dirs + names:
                path = os.path.join(top, name)
                rel = "/" + os.path.relpath(path, root)
                if os.path.islink(path):
                    files[rel] = "-> " + os.readlink(path)
                elif os.path.isfile(path):
                    files[rel] = oct(stat.S_IMODE(os.stat(path).st_mode))
                else:
                    self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o755, rel)
        recipes = "/Library/AutoPkg/Recipes/jcds2-uploader/"
        self.assertEqual(files.pop("/usr/local/bin/jcds2-uploader"), "0o755")
        self.assertEqual(files.pop(recipes + "JCDS2PackageUploader.py"), "0o644")
        self.assertEqual(files.pop(recipes + "JCDS2PackageUploader.recipe"), "0o644")
        self.assertEqual(files.pop(recipes + "jcds2-uploader"), "-> /usr/local/bin/jcds2-uploader")
        # The rest is documentation; nothing else, and the stale folder is gone.
        self.assertTrue(files)
        for rel, mode in files.items():
            self.assertTrue(rel.startswith("/usr/local/share/doc/jcds2-uploader/"), rel)
            self.assertEqual(mode, "0o644", rel)
        with open(os.path.join(root, recipes[1:], "JCDS2PackageUploader.py"), "rb") as f, open(
            SHIM, "rb"
        ) as g:
            self.assertEqual(f.read(), g.read())

    def test_make_pkg_on_linux_says_it_needs_a_mac(self):
        if sys.platform == "darwin":
            self.skipTest("on a Mac make pkg builds the package")
        tmp = tempfile.mkdtemp(prefix="makepkg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        proc = subprocess.run(
            ["make", "-s", "-C", ROOT, "pkg", "DIST=" + tmp, "PKG_BINARY=" + UPLOADER],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
        )
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"pkgbuild needs macOS", proc.stderr)
        self.assertTrue(os.path.isfile(os.path.join(tmp, "pkgroot/usr/local/bin/jcds2-uploader")))


# AutoPkg run from a terminal has Python's own SIGINT handler (Ctrl-C is
# KeyboardInterrupt). A process started in the background by a shell
# without job control starts with SIGINT ignored, and Python then installs
# no handler: make test runs this suite beside the Go suite that way, so
# the runner puts the terminal's handler back first.
RUNNER = """\
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {standin!r})
import importlib.util
spec = importlib.util.spec_from_file_location("JCDS2PackageUploader", {shim!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
proc = mod.JCDS2PackageUploader(
    {{"JSS_URL": "https://jamf.invalid", "jcds2_uploader_path": {binary!r}, "verbose": 1}}
)
proc.process()
print("finished")
"""

SLEEPER = """\
import os, signal, sys, time
def on_term(signum, frame):
    with open(os.environ["FAKE_RECEIVED"] + ".term", "w") as f:
        f.write("term")
    sys.exit(10)
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, signal.SIG_IGN)  # only the shim may stop us
with open(os.environ["FAKE_RECEIVED"] + ".pid", "w") as f:
    f.write(str(os.getpid()))
print("JCDS2PackageUploader: sleeping", file=sys.stderr, flush=True)
time.sleep(120)
"""


# A binary that, stopped, says where it was, as jcds2-uploader does.
STOPPED_SAYS = (
    "stopped by SIGTERM while uploading A.pkg to the JCDS. "
    "Nothing was changed in Jamf Pro; the next run does the whole job."
)
STOPPER = SLEEPER.replace(
    "    sys.exit(10)\n",
    "    print('JCDS2PackageUploader: aborting the upload', file=sys.stderr, flush=True)\n"
    "    print('ProcessorError: %s', file=sys.stderr, flush=True)\n"
    "    sys.exit(10)\n" % STOPPED_SAYS,
)


class TestSignals(FakeBinaryTestCase):
    """If AutoPkg is interrupted, the binary is stopped too."""

    def start_runner(self, body=SLEEPER):
        binary = self.fake(body)
        script = os.path.join(self.tmp, "runner.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(RUNNER.format(standin=STANDIN, shim=SHIM, binary=binary))
        runner = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # signals reach the runner only
        )
        self.addCleanup(self.cleanup_runner, runner)
        # Wait for the binary to be up and its first line shown.
        line = runner.stdout.readline().decode()
        self.assertEqual(line.strip(), "JCDS2PackageUploader: sleeping")
        with open(self.received + ".pid", encoding="utf-8") as f:
            child = int(f.read())
        return runner, child

    @staticmethod
    def cleanup_runner(runner):
        if runner.poll() is None:
            runner.kill()
        runner.communicate()

    def assert_child_stopped(self, child):
        self.assertTrue(os.path.exists(self.received + ".term"), "the binary got no SIGTERM")
        with self.assertRaises(ProcessLookupError):
            os.kill(child, 0)

    def test_sigterm_stops_the_binary_then_autopkg(self):
        runner, child = self.start_runner()
        runner.send_signal(signal.SIGTERM)
        out, _ = runner.communicate(timeout=HANG_SECONDS)
        self.assertEqual(runner.returncode, -signal.SIGTERM)
        self.assertNotIn(b"finished", out)
        self.assert_child_stopped(child)

    def test_sigint_stops_the_binary_and_raises_keyboardinterrupt(self):
        runner, child = self.start_runner()
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=HANG_SECONDS)
        self.assertNotEqual(runner.returncode, 0)
        self.assertNotIn(b"finished", out)
        self.assertIn(b"KeyboardInterrupt", err)
        self.assert_child_stopped(child)

    def test_previous_sigterm_handler_is_restored_and_called(self):
        binary = self.fake(SLEEPER)
        calls = []

        def previous(signum, frame):  # pylint: disable=unused-argument
            calls.append(signum)

        err = self.sigterm_in_process(binary, previous)
        self.assertIn("interrupted by SIGTERM", str(err))
        self.assertEqual(calls, [signal.SIGTERM])
        self.assertIs(signal.getsignal(signal.SIGTERM), previous)
        with open(self.received + ".pid", encoding="utf-8") as f:
            self.assert_child_stopped(int(f.read()))

    def test_sigterm_shows_what_the_binary_said(self):
        # AutoPkg dies of the signal the shim passes on; the binary's own
        # account of the stop (the step, what changed) is in its log first.
        runner, child = self.start_runner(STOPPER)
        runner.send_signal(signal.SIGTERM)
        out, _ = runner.communicate(timeout=HANG_SECONDS)
        self.assertEqual(runner.returncode, -signal.SIGTERM)
        self.assertIn(b"aborting the upload", out)
        self.assertIn(("jcds2-uploader stopped: " + STOPPED_SAYS).encode(), out)
        self.assert_child_stopped(child)

    def test_stop_message_in_the_error(self):
        err = self.sigterm_in_process(self.fake(STOPPER), lambda signum, frame: None)
        self.assertEqual(str(err), "interrupted by SIGTERM; jcds2-uploader was stopped: " + STOPPED_SAYS)

    def sigterm_in_process(self, binary, previous):
        """Run the shim in this process with previous as the SIGTERM
        handler, send SIGTERM once the binary is up, and return the
        ProcessorError the shim raised."""
        old = signal.signal(signal.SIGTERM, previous)
        self.addCleanup(signal.signal, signal.SIGTERM, old)
        proc = self.shim({"jcds2_uploader_path": binary, "verbose": 1})

        def on_line(msg):
            if msg == "sleeping":
                os.kill(os.getpid(), signal.SIGTERM)

        proc.on_line = on_line
        # In the main thread: signal handlers only run there.
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            proc.process()
        return ctx.exception


if __name__ == "__main__":
    unittest.main()
