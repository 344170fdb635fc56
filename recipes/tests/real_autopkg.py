"""The real AutoPkg (2.9.0) as a child process of a test.

The shim and migration tests run `autopkg run` from AutoPkg's own code, not
a model of it. AutoPkg is found at AUTOPKG_SRC (a checkout of autopkg/autopkg
at a release tag) or else at ../shared/autopkg beside the repository, and run
with the interpreter in AUTOPKG_PYTHON (default /usr/bin/python3), which needs
Debian's python3-yaml, python3-appdirs, python3-certifi and python3-lxml
(.ci/run installs them). Where AutoPkg is not found the tests skip and say
how to run them, unless JCDS2_REQUIRE_AUTOPKG is set (.ci/run sets it): then
they fail.

What AutoPkg cannot do on Linux, and so a test stands in for: its core
processors that import Apple's Foundation (StopProcessingIf among them) load
but fail when they run; recipes/tests/fixtures/StopProcessingIf.py replaces
that one, beside the recipe that uses it.
"""

import functools
import glob
import json
import os
import plistlib
import shutil
import subprocess
import tempfile
import urllib.request

import jamfsim_process

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODULES = ("yaml", "appdirs", "certifi", "lxml")
DEBIAN_PACKAGES = "python3-yaml python3-appdirs python3-certifi python3-lxml"
# A guard against a hung run, not a speed target.
RUN_TIMEOUT = 300

HOW = (
    "real AutoPkg not found (%s): put AutoPkg 2.9.0's source at ../shared/autopkg "
    "beside the repository or set AUTOPKG_SRC to a checkout of autopkg/autopkg at "
    "v2.9.0, install %s for /usr/bin/python3 (or set AUTOPKG_PYTHON), then rerun "
    "python3 -m unittest discover -s recipes -p 'test_*.py'"
)


@functools.lru_cache(maxsize=None)
def find():
    """(python, autopkg script, None) or (None, None, why not)."""
    src = os.environ.get("AUTOPKG_SRC") or os.path.join(ROOT, "..", "shared", "autopkg")
    tool = os.path.join(os.path.abspath(src), "Code", "autopkg")
    python = os.environ.get("AUTOPKG_PYTHON", "/usr/bin/python3")
    if not os.path.isfile(tool):
        return None, None, "no %s" % tool
    if not os.access(python, os.X_OK):
        return None, None, "no %s" % python
    check = subprocess.run(
        [python, "-c", "import " + ", ".join(MODULES)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if check.returncode != 0:
        return None, None, "%s: %s" % (python, check.stderr.decode().strip().splitlines()[-1])
    return python, tool, None


def require(testcase):
    """Skip (or, with JCDS2_REQUIRE_AUTOPKG, fail) a test without AutoPkg."""
    _, _, why = find()
    if why is None:
        return
    message = HOW % (why, DEBIAN_PACKAGES)
    if os.environ.get("JCDS2_REQUIRE_AUTOPKG"):
        testcase.fail(message)
    testcase.skipTest(message)


class Result:
    """One `autopkg` command: exit status, output, and the receipts written."""

    def __init__(self, proc, cache_dir):
        self.returncode = proc.returncode
        self.stdout = proc.stdout.decode("utf-8", "replace")
        self.stderr = proc.stderr.decode("utf-8", "replace")
        self.receipt_paths = sorted(glob.glob(os.path.join(cache_dir, "*", "receipts", "*.plist")))

    @property
    def output(self):
        return self.stdout + self.stderr

    def receipts(self):
        out = []
        for path in self.receipt_paths:
            with open(path, "rb") as f:
                out.append(plistlib.load(f))
        return out

    def last_receipt(self):
        """The newest receipt: a list of the run's steps, each a dict."""
        newest = max(self.receipt_paths, key=os.path.getmtime)
        with open(newest, "rb") as f:
            return plistlib.load(f)

    def step_outputs(self, processor):
        """The output of the last step of the newest receipt whose
        Processor is processor (AutoPkg keeps each step's input and output)."""
        steps = [s for s in self.last_receipt() if isinstance(s, dict) and s.get("Processor") == processor]
        if not steps:
            raise AssertionError("no %s step in the receipt:\n%s" % (processor, self.output))
        return steps[-1]["Output"]


def autopkg(home, prefs, *args, env=None):
    """Run `autopkg ARGS` with HOME=home and the preferences in prefs (a
    dict, written to home/prefs.plist and given with --prefs, so nothing is
    read from the user's own). Returns a Result."""
    python, tool, why = find()
    if why is not None:
        raise RuntimeError(HOW % (why, DEBIAN_PACKAGES))
    os.makedirs(home, exist_ok=True)
    prefs_path = os.path.join(home, "prefs.plist")
    with open(prefs_path, "wb") as f:
        plistlib.dump(prefs, f)
    child_env = dict(os.environ)
    child_env.update({"HOME": home, "XDG_CACHE_HOME": os.path.join(home, ".cache")})
    child_env.update(env or {})
    # Every autopkg command takes --prefs.
    proc = subprocess.run(
        [python, tool, args[0], "--prefs", prefs_path] + list(args[1:]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return Result(proc, prefs.get("CACHE_DIR", os.path.join(home, "Library", "AutoPkg", "Cache")))


class AutoPkgTestCase:
    """Mixin for unittest.TestCase: one simulated Jamf Pro and one Mac's
    AutoPkg folders per test, laid out as `make install` and `autopkg
    repo-add` leave them: the installed processor and its stub recipe, a
    stand-in for AutoPkg's core Firefox_EN .pkg recipe (its one step writes
    a small package, as PkgCreator would), and empty overrides. The
    preferences hold the server, jcds2_uploader_path and the folders; no
    credentials unless a test adds them."""

    uploader = None  # set by the test module: bin/jcds2-uploader
    jamfsim = None  # bin/jamfsim
    recipes_src = os.path.join(ROOT, "recipes")
    fixtures = os.path.join(HERE, "fixtures")
    sim_args = ()  # more jamfsim flags

    def setUp(self):  # pylint: disable=invalid-name
        require(self)
        self.tmp = tempfile.mkdtemp(prefix="autopkg-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.url = jamfsim_process.start(
            self, self.jamfsim, self.tmp, categories=("Browsers", "Web Browsers"), extra_args=self.sim_args
        )
        self.home = os.path.join(self.tmp, "home")
        self.recipes = os.path.join(self.tmp, "Recipes")
        self.overrides = os.path.join(self.tmp, "RecipeOverrides")
        installed = os.path.join(self.recipes, "jcds2-uploader")
        self.core = os.path.join(self.recipes, "autopkg-recipes")
        for d in (installed, self.core, self.overrides, self.home):
            os.makedirs(d)
        for name in ("JCDS2PackageUploader.py", "JCDS2PackageUploader.recipe"):
            shutil.copy(os.path.join(self.recipes_src, name), installed)
        for name in ("Firefox_EN.pkg.recipe.yaml", "StandInPkgBuilder.py"):
            shutil.copy(os.path.join(self.fixtures, name), self.core)
        self.prefs = {
            "JSS_URL": self.url,
            "jcds2_uploader_path": self.uploader,
            "CACHE_DIR": os.path.join(self.tmp, "Cache"),
            "RECIPE_SEARCH_DIRS": [self.recipes],
            "RECIPE_OVERRIDE_DIRS": [self.overrides],
        }
        # Added to autopkg's process environment (where a secret may be
        # kept instead of the preferences; see README).
        self.child_env = {}

    def credentials_in_prefs(self):
        self.prefs.update({"API_USERNAME": "admin", "API_PASSWORD": "password"})

    def autopkg(self, *args, check=True):
        """`autopkg ARGS`; with check, a failed run fails the test with
        AutoPkg's output."""
        result = autopkg(self.home, self.prefs, *args, env=self.child_env)
        if check and result.returncode != 0:
            self.fail("autopkg %s exited %d:\n%s" % (" ".join(args), result.returncode, result.output))
        return result

    def place(self, src, dest_dir, text=None):
        """Copy src into dest_dir (or write text under src's name)."""
        os.makedirs(dest_dir, exist_ok=True)
        dest = os.path.join(dest_dir, os.path.basename(src))
        if text is None:
            with open(src, "rb") as f:
                text = f.read().decode("utf-8")
        with open(dest, "w", encoding="utf-8") as f:
            f.write(text)
        return dest

    def sim_state(self):
        with urllib.request.urlopen(self.url + "/_sim/state", timeout=10) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def package(self, name):
        """The simulator's package object whose file is name."""
        for p in self.sim_state()["packages"] or []:
            if p.get("fileName") == name:
                return p
        self.fail("no package object for %s in %s" % (name, self.sim_state()["packages"]))
        return None

    def category_of(self, name):
        state = self.sim_state()
        cats = {c["id"]: c["name"] for c in state["categories"]}
        return cats.get(self.package(name).get("categoryId"))

    def assert_landed(self, result, name="Firefox-128.0.pkg"):
        """The upload step reported an upload, and the simulator has the
        file and an object whose hash matches it."""
        out = result.step_outputs(POST)
        self.assertIs(out["pkg_uploaded"], True, result.output)
        self.assertEqual(out["pkg_upload_status"], "uploaded")
        self.assertEqual(out["pkg_name"], name)
        files = {f["fileName"]: f for f in self.sim_state()["files"] or []}
        self.assertIn(name, files)
        self.package(name)
        return out


POST = "com.github.jcds2-uploader.SharedProcessors/JCDS2PackageUploader"
