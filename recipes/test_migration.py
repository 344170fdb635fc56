"""The migration paths of MIGRATING.md, run the way AutoPkg runs them.

Run from the repository root:

    python3 -m unittest discover -s recipes -p 'test_*.py'

Each test lays out a Mac's AutoPkg folders in a temporary directory (the
installed processor and its stub recipe, a stand-in for the AutoPkg core
Firefox_EN .pkg recipe, the example recipes and overrides of
recipes/examples), runs `autopkg run ...` through the stand-in
(recipes/tests/autopkglib/runner.py, which models how AutoPkg merges
parents and overrides, appends --post steps and applies --key), and checks
the result in the Jamf Pro simulator, with the real binary doing the upload.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STANDIN = os.path.join(HERE, "tests")
FIXTURES = os.path.join(STANDIN, "fixtures")
EXAMPLES = os.path.join(HERE, "examples")
BIN_DIR = os.path.join(ROOT, "bin")
UPLOADER = os.path.join(BIN_DIR, "jcds2-uploader")
JAMFSIM = os.path.join(BIN_DIR, "jamfsim")

if STANDIN not in sys.path:
    sys.path.insert(0, STANDIN)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import autopkglib  # noqa: E402  (the stand-in)
from autopkglib import runner  # noqa: E402

import jamfsim_process  # noqa: E402  (recipes/tests)
import sync_manifest  # noqa: E402

POST = "com.github.jcds2-uploader.SharedProcessors/JCDS2PackageUploader"


def build_binaries():
    """bin/jcds2-uploader and bin/jamfsim, rebuilt when Go sources are newer."""
    newest = 0.0
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("bin", "dist", "testdata")]
        for name in files:
            if name.endswith(".go") or name in ("go.mod", "go.sum"):
                newest = max(newest, os.stat(os.path.join(top, name)).st_mtime)
    go = shutil.which("go") or "/usr/local/go/bin/go"
    for out, pkg in ((UPLOADER, "."), (JAMFSIM, "./jamf/cmd/jamfsim")):
        if os.access(out, os.X_OK) and os.stat(out).st_mtime >= newest:
            continue
        os.makedirs(BIN_DIR, exist_ok=True)
        tmp = "%s.building-%d" % (out, os.getpid())
        subprocess.run([go, "build", "-o", tmp, pkg], cwd=ROOT, check=True)
        os.replace(tmp, out)


class MigrationTestCase(unittest.TestCase):
    """One simulated Jamf Pro and one Mac's AutoPkg folders per test."""

    @classmethod
    def setUpClass(cls):
        build_binaries()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="migration-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.start_sim()
        # ~/Library/AutoPkg as `make install` and `autopkg repo-add` leave it.
        self.recipes = os.path.join(self.tmp, "Recipes")
        self.overrides = os.path.join(self.tmp, "RecipeOverrides")
        installed = os.path.join(self.recipes, "jcds2-uploader")
        core = os.path.join(self.recipes, "autopkg-recipes")
        for d in (installed, core, self.overrides):
            os.makedirs(d)
        for name in ("JCDS2PackageUploader.py", "JCDS2PackageUploader.recipe"):
            shutil.copy(os.path.join(HERE, name), installed)
        for name in ("Firefox_EN.pkg.recipe.yaml", "StandInPkgBuilder.py"):
            shutil.copy(os.path.join(FIXTURES, name), core)
        # AutoPkg's preferences: server and credentials once for all recipes.
        self.prefs = {
            "JSS_URL": self.url,
            "API_USERNAME": "admin",
            "API_PASSWORD": "password",
            "jcds2_uploader_path": UPLOADER,
            "CACHE_DIR": os.path.join(self.tmp, "Cache"),
            "RECIPE_SEARCH_DIRS": [self.recipes],
            "RECIPE_OVERRIDE_DIRS": [self.overrides],
        }
        # Each test loads the processor afresh from the installed copy.
        for name in ("JCDS2PackageUploader", "StandInPkgBuilder", "JamfPackageUploader"):
            if hasattr(autopkglib, name):
                delattr(autopkglib, name)

    def start_sim(self):
        self.url = jamfsim_process.start(self, JAMFSIM, self.tmp, categories=("Browsers", "Web Browsers"))

    def sim_state(self):
        with urllib.request.urlopen(self.url + "/_sim/state", timeout=10) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def package(self, name):
        for p in self.sim_state()["packages"] or []:
            if p.get("fileName") == name:
                return p
        self.fail("no package object for %s in %s" % (name, json.dumps(self.sim_state()["packages"])))
        return None

    def place(self, src, dest_dir):
        os.makedirs(dest_dir, exist_ok=True)
        shutil.copy(src, dest_dir)

    def autopkg_run(self, *argv):
        """`autopkg run ARGV`; the environment after the last step."""
        done = runner.run(list(argv), dict(self.prefs))
        self.assertEqual(len(done), 1)
        return done[0]


class TestPostProcessor(MigrationTestCase):
    """Path 1: autopkg run Foo.pkg --post .../JCDS2PackageUploader."""

    def test_override_keys_are_the_inputs(self):
        self.place(os.path.join(EXAMPLES, "local.pkg.Firefox_EN.recipe.yaml"), self.overrides)
        run = self.autopkg_run("local.pkg.Firefox_EN", "--post", POST)
        self.assertEqual(run.steps, ["StandInPkgBuilder", POST])
        env = run.env
        self.assertIs(env["pkg_uploaded"], True)
        self.assertEqual(env["pkg_upload_status"], "uploaded")
        self.assertEqual(env["pkg_name"], "Firefox-128.0.pkg")
        self.assertEqual(env["jamfpackageuploader_summary_result"]["data"]["version"], "128.0")
        pkg = self.package("Firefox-128.0.pkg")
        self.assertEqual(pkg["packageName"], "Firefox (AutoPkg)")
        self.assertEqual(self.category_name(pkg), "Browsers")
        self.assertIn("Firefox-128.0.pkg", [f["fileName"] for f in self.sim_state()["files"]])

    def category_name(self, pkg):
        cats = {c["id"]: c["name"] for c in self.sim_state()["categories"]}
        return cats.get(pkg.get("categoryId"))

    def test_key_arguments_without_an_override(self):
        # The plain .pkg recipe, every input on the command line.
        run = self.autopkg_run(
            "Firefox_EN.pkg", "--post", POST, "--key", "pkg_category=Browsers", "--key", "pkg_name=Firefox-ESR.pkg"
        )
        self.assertEqual(run.env["pkg_name"], "Firefox-ESR.pkg")
        self.assertEqual(self.category_name(self.package("Firefox-ESR.pkg")), "Browsers")
        # --key values are strings; booleans like replace_pkg work as
        # strings. A changed package with replace_pkg=True replaces the file.
        again = self.autopkg_run(
            "Firefox_EN.pkg", "--post", POST, "--key", "pkg_category=Browsers", "--key", "pkg_name=Firefox-ESR.pkg",
            "--key", "replace_pkg=True",
        )
        self.assertEqual(again.env["pkg_upload_status"], "uploaded")
        kept = self.autopkg_run(
            "Firefox_EN.pkg", "--post", POST, "--key", "pkg_category=Browsers", "--key", "pkg_name=Firefox-ESR.pkg",
            "--key", "replace_pkg=False",
        )
        self.assertEqual(kept.env["pkg_upload_status"], "skipped-exists")
        self.assertIs(kept.env["pkg_uploaded"], False)

    def test_key_wins_over_the_override(self):
        self.place(os.path.join(EXAMPLES, "local.pkg.Firefox_EN.recipe.yaml"), self.overrides)
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            self.autopkg_run("local.pkg.Firefox_EN", "--post", POST, "--key", "pkg_category=Not A Category")
        self.assertIn("Not A Category", str(ctx.exception))

    def test_recipe_list_for_nightly_runs(self):
        # autopkg run --recipe-list FILE: its postprocessors and keys apply
        # to every recipe in it.
        shutil.copy(os.path.join(EXAMPLES, "recipe-list.plist"), self.tmp)
        run = self.autopkg_run("--recipe-list", os.path.join(self.tmp, "recipe-list.plist"))
        self.assertEqual(run.steps, ["StandInPkgBuilder", POST])
        self.assertIs(run.env["pkg_uploaded"], True)
        self.assertEqual(self.category_name(self.package("Firefox-128.0.pkg")), "Browsers")

    def test_global_file_share_preference_is_refused_then_acknowledged(self):
        # A hybrid site keeps SMB_URL in AutoPkg's preferences for every
        # recipe. The run stops before anything reaches Jamf Pro ...
        self.prefs.update({"SMB_URL": "smb://fs.example.com/CasperShare", "SMB_USERNAME": "svc", "SMB_PASSWORD": "x"})
        with self.assertRaises(autopkglib.ProcessorError) as ctx:
            self.autopkg_run("Firefox_EN.pkg", "--post", POST, "--key", "pkg_category=Browsers")
        self.assertIn("SMB_URL is set", str(ctx.exception))
        self.assertIn("file_shares_updated_elsewhere", str(ctx.exception))
        state = self.sim_state()
        self.assertEqual(state["calls"] or [], [])
        self.assertEqual(state["s3Calls"] or [], [])
        # ... and goes ahead once another step is said to keep the shares.
        run = self.autopkg_run(
            "Firefox_EN.pkg", "--post", POST, "--key", "pkg_category=Browsers",
            "--key", "file_shares_updated_elsewhere=True",
        )
        self.assertIs(run.env["pkg_uploaded"], True)


class TestCopiedJamfRecipe(MigrationTestCase):
    """Path 2: a copy of the .jamf recipe with the processor swapped, and the
    user's override pointed at it."""

    def test_override_of_the_copy(self):
        mine = os.path.join(self.recipes, "my-recipes")
        self.place(os.path.join(EXAMPLES, "Firefox_EN.copied.jamf.recipe.yaml"), mine)
        self.place(os.path.join(EXAMPLES, "local.jamf.Firefox.recipe.yaml"), self.overrides)
        run = self.autopkg_run("local.jamf.Firefox")
        self.assertEqual(run.steps, ["StandInPkgBuilder", POST])
        self.assertIs(run.env["pkg_uploaded"], True)
        pkg = self.package("Firefox-128.0.pkg")
        cats = {c["id"]: c["name"] for c in self.sim_state()["categories"]}
        # The override's PKG_CATEGORY reached the swapped step's argument.
        self.assertEqual(cats[pkg["categoryId"]], "Web Browsers")


class TestChildRecipe(MigrationTestCase):
    """Path 3: a child recipe of the .pkg recipe (recipes/examples)."""

    def test_child_recipe_and_its_override(self):
        mine = os.path.join(self.recipes, "my-recipes")
        self.place(os.path.join(EXAMPLES, "Firefox_EN.jamf.recipe.yaml"), mine)
        self.place(os.path.join(EXAMPLES, "local.jamf.Firefox_EN.recipe.yaml"), self.overrides)
        # The example's later StopProcessingIf is AutoPkg's core processor;
        # the stand-in has none, so that step is checked, not run.
        child = runner.recipe_from_file(os.path.join(mine, "Firefox_EN.jamf.recipe.yaml"))
        self.assertEqual([s["Processor"] for s in child["Process"]], [POST, "StopProcessingIf"])
        child["Process"] = child["Process"][:1]
        with open(os.path.join(mine, "Firefox_EN.jamf.recipe.yaml"), "w", encoding="utf-8") as f:
            import yaml  # pylint: disable=import-outside-toplevel

            yaml.safe_dump(child, f)
        run = self.autopkg_run("local.jamf.Firefox_EN")
        self.assertEqual(run.steps, ["StandInPkgBuilder", POST])
        self.assertIs(run.env["pkg_uploaded"], True)
        pkg = self.package("Firefox-128.0.pkg")
        cats = {c["id"]: c["name"] for c in self.sim_state()["categories"]}
        self.assertEqual(cats[pkg["categoryId"]], "Web Browsers")


class TestWhatDoesNotWork(MigrationTestCase):
    """Why MIGRATING.md offers the three paths: an override of a community
    .jamf recipe can only add steps, so JamfPackageUploader still runs."""

    def test_override_appends_never_swaps(self):
        community = os.path.join(self.recipes, "community-recipes")
        self.place(os.path.join(FIXTURES, "Firefox.community.jamf.recipe.yaml"), community)
        self.place(os.path.join(FIXTURES, "JamfPackageUploader.py"), community)
        with open(os.path.join(self.overrides, "Firefox.jamf.recipe.yaml"), "w", encoding="utf-8") as f:
            f.write(
                "Identifier: local.jamf.Firefox\n"
                "ParentRecipe: com.github.community.jamf.Firefox_EN\n"
                "Input: {}\n"
                "Process:\n"
                "  - Processor: %s\n"
                "    Arguments: {pkg_category: Browsers}\n" % POST
            )
        run = self.autopkg_run("local.jamf.Firefox")
        self.assertEqual(run.steps, ["StandInPkgBuilder", "JamfPackageUploader", POST])
        self.assertEqual(run.env["standin_steps_ran"], ["JamfPackageUploader"])


class TestProcessorInfo(MigrationTestCase):
    """`autopkg processor-info`: the form MIGRATING.md and README give."""

    def test_documented_form(self):
        cls = runner.processor_info(
            ["JCDS2PackageUploader", "--recipe", "com.github.jcds2-uploader.SharedProcessors"], self.prefs
        )
        out = subprocess.run([UPLOADER, "-describe"], check=True, stdout=subprocess.PIPE).stdout
        manifest = json.loads(out.decode("utf-8"))
        # The shim is the manifest minus the secret inputs, which AutoPkg
        # would print at -vv; they are documented in its description instead.
        self.assertTrue(cls.description.startswith(manifest["description"]), cls.description)
        self.assertEqual(
            set(cls.input_variables),
            set(manifest["input_variables"]) - set(sync_manifest.SECRET_INPUTS),
        )

    def test_identifier_form_is_unknown(self):
        # processor-info looks a processor up without an environment, so the
        # IDENTIFIER/Name form recipes use cannot be found this way.
        for argv in (
            [POST],
            [POST, "--recipe", "com.github.jcds2-uploader.SharedProcessors"],
            ["JCDS2PackageUploader"],
        ):
            with self.assertRaises(runner.RecipeError, msg=argv):
                runner.processor_info(argv, self.prefs)

    def test_documents_say_so(self):
        documented = "autopkg processor-info JCDS2PackageUploader --recipe com.github.jcds2-uploader.SharedProcessors"
        for doc in ("MIGRATING.md", "README.md"):
            with open(os.path.join(HERE, doc), encoding="utf-8") as f:
                text = f.read()
            self.assertTrue(documented in text, "%s lacks: %s" % (doc, documented))
            self.assertFalse("processor-info com.github.jcds2-uploader" in text, "%s keeps the form that fails" % doc)


class TestMigratingMatchesDescribe(unittest.TestCase):
    """MIGRATING.md names every refused and ignored input as -describe does."""

    @classmethod
    def setUpClass(cls):
        build_binaries()

    def test_refused_inputs_listed(self):
        out = subprocess.run([UPLOADER, "-describe"], check=True, stdout=subprocess.PIPE).stdout
        manifest = json.loads(out.decode("utf-8"))
        with open(os.path.join(HERE, "MIGRATING.md"), encoding="utf-8") as f:
            text = f.read()
        refused = sorted(k for k, v in manifest["input_variables"].items() if v["description"].startswith("Refused"))
        self.assertTrue(refused)
        for name in refused + ["file_shares_updated_elsewhere", "recalculate_wait_time", "CLOUD_DP"]:
            self.assertTrue("`%s`" % name in text, "MIGRATING.md does not list %s" % name)
        for name in manifest["input_variables"]:
            self.assertTrue("`%s`" % name in text, "MIGRATING.md does not mention input %s" % name)


if __name__ == "__main__":
    unittest.main()
