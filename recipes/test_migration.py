"""The migration paths of MIGRATING.md, run under the real AutoPkg.

Run from the repository root (after `make build`):

    python3 -m unittest discover -s recipes -p 'test_*.py'

Each test lays out a Mac's AutoPkg folders in a temporary directory (the
installed processor and its stub recipe, a stand-in for the AutoPkg core
Firefox_EN .pkg recipe, the example recipes and overrides of
recipes/examples), runs `autopkg ...` from AutoPkg 2.9.0's own code
(recipes/tests/real_autopkg.py says where it is found; without it these
tests skip and say how to run them), and checks the result in the Jamf Pro
simulator, with the real binary doing the upload.

Stand-ins, for what AutoPkg cannot do on Linux only: the core .pkg recipe's
download and PkgCreator steps (fixtures/StandInPkgBuilder.py writes a small
package instead) and StopProcessingIf, which needs Apple's Foundation
(fixtures/StopProcessingIf.py, placed beside the child recipe).
"""

import json
import os
import plistlib
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "tests")
FIXTURES = os.path.join(STANDIN, "fixtures")
EXAMPLES = os.path.join(HERE, "examples")

for path in (STANDIN, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

import real_autopkg  # noqa: E402  (recipes/tests)
import sync_manifest  # noqa: E402
from real_autopkg import POST  # noqa: E402
from test_shim import JAMFSIM, UPLOADER, ensure_binaries  # noqa: E402

real_autopkg.AutoPkgTestCase.uploader = UPLOADER
real_autopkg.AutoPkgTestCase.jamfsim = JAMFSIM


class MigrationTestCase(real_autopkg.AutoPkgTestCase, unittest.TestCase):
    """AutoPkg's preferences hold the server and the account, as most
    sites have them today."""

    @classmethod
    def setUpClass(cls):
        ensure_binaries()

    def setUp(self):
        super().setUp()
        self.credentials_in_prefs()

    def steps(self, result):
        """The processors the newest receipt lists, in the order they ran."""
        return [s["Processor"] for s in result.last_receipt() if isinstance(s, dict) and "Processor" in s]


class TestPostProcessor(MigrationTestCase):
    """Path 1: autopkg run Foo.pkg --post .../JCDS2PackageUploader."""

    def test_override_keys_are_the_inputs(self):
        self.place(os.path.join(EXAMPLES, "local.pkg.Firefox_EN.recipe.yaml"), self.overrides)
        run = self.autopkg("run", "-v", "local.pkg.Firefox_EN", "--post", POST)
        self.assertEqual(self.steps(run), ["StandInPkgBuilder", POST])
        out = self.assert_landed(run)
        self.assertEqual(out["jamfpackageuploader_summary_result"]["data"]["version"], "128.0")
        self.assertEqual(self.package("Firefox-128.0.pkg")["packageName"], "Firefox (AutoPkg)")
        self.assertEqual(self.category_of("Firefox-128.0.pkg"), "Browsers")
        # AutoPkg's report lists the upload from the summary result.
        self.assertIn("The following packages were uploaded", run.stdout)

    def test_key_arguments_without_an_override(self):
        # The plain .pkg recipe, every input on the command line.
        keys = ["--key", "pkg_category=Browsers", "--key", "pkg_name=Firefox-ESR.pkg"]
        run = self.autopkg("run", "Firefox_EN.pkg", "--post", POST, *keys)
        self.assert_landed(run, "Firefox-ESR.pkg")
        self.assertEqual(self.category_of("Firefox-ESR.pkg"), "Browsers")
        # --key values are text; booleans like replace_pkg work as text. A
        # new package with replace_pkg=True replaces the file ...
        again = self.autopkg("run", "Firefox_EN.pkg", "--post", POST, *keys, "--key", "replace_pkg=True")
        self.assertEqual(again.step_outputs(POST)["pkg_upload_status"], "uploaded")
        # ... and with replace_pkg=False it is left alone.
        kept = self.autopkg("run", "Firefox_EN.pkg", "--post", POST, *keys, "--key", "replace_pkg=False")
        out = kept.step_outputs(POST)
        self.assertEqual(out["pkg_upload_status"], "skipped-exists")
        # AutoPkg's receipt leaves out outputs that are False.
        self.assertNotIn("pkg_uploaded", out)

    def test_key_wins_over_the_override(self):
        self.place(os.path.join(EXAMPLES, "local.pkg.Firefox_EN.recipe.yaml"), self.overrides)
        run = self.autopkg(
            "run", "local.pkg.Firefox_EN", "--post", POST, "--key", "pkg_category=Not A Category", check=False
        )
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("Not A Category", run.output)
        self.assertEqual(self.sim_state()["packages"] or [], [])

    def test_recipe_list_for_nightly_runs(self):
        # autopkg run --recipe-list FILE: its postprocessors and keys apply
        # to every recipe in it.
        run = self.autopkg("run", "-v", "--recipe-list", os.path.join(EXAMPLES, "recipe-list.plist"))
        self.assertEqual(self.steps(run), ["StandInPkgBuilder", POST])
        self.assert_landed(run)
        self.assertEqual(self.category_of("Firefox-128.0.pkg"), "Browsers")

    def test_global_file_share_preference_is_refused_then_acknowledged(self):
        # A hybrid site keeps SMB_URL in AutoPkg's preferences for every
        # recipe. The run stops before anything reaches Jamf Pro ...
        self.prefs.update({"SMB_URL": "smb://fs.example.com/CasperShare", "SMB_USERNAME": "svc", "SMB_PASSWORD": "x"})
        run = self.autopkg("run", "Firefox_EN.pkg", "--post", POST, "--key", "pkg_category=Browsers", check=False)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("SMB_URL is set", run.output)
        self.assertIn("file_shares_updated_elsewhere", run.output)
        state = self.sim_state()
        self.assertEqual(state["calls"] or [], [])
        self.assertEqual(state["s3Calls"] or [], [])
        # ... and goes ahead once another step is said to keep the shares.
        run = self.autopkg(
            "run", "Firefox_EN.pkg", "--post", POST, "--key", "pkg_category=Browsers",
            "--key", "file_shares_updated_elsewhere=True",
        )
        self.assert_landed(run)


class TestCopiedJamfRecipe(MigrationTestCase):
    """Path 2: a copy of the .jamf recipe with the processor swapped, and the
    user's override pointed at it, trusted with update-trust-info."""

    def test_override_of_the_copy(self):
        mine = os.path.join(self.recipes, "my-recipes")
        self.place(os.path.join(EXAMPLES, "Firefox_EN.copied.jamf.recipe.yaml"), mine)
        self.place(os.path.join(EXAMPLES, "local.jamf.Firefox.recipe.yaml"), self.overrides)
        # As a site that refuses untrusted overrides has AutoPkg set up.
        self.prefs["FAIL_RECIPES_WITHOUT_TRUST_INFO"] = True
        refused = self.autopkg("run", "local.jamf.Firefox", check=False)
        self.assertNotEqual(refused.returncode, 0, refused.output)
        self.assertEqual(self.sim_state()["packages"] or [], [])
        # MIGRATING.md step 4.
        self.autopkg("update-trust-info", "local.jamf.Firefox")
        self.autopkg("verify-trust-info", "-vv", "local.jamf.Firefox")
        run = self.autopkg("run", "-v", "local.jamf.Firefox")
        self.assertEqual(self.steps(run), ["StandInPkgBuilder", POST])
        self.assert_landed(run)
        # The override's PKG_CATEGORY reached the swapped step's argument.
        self.assertEqual(self.category_of("Firefox-128.0.pkg"), "Web Browsers")


class TestChildRecipe(MigrationTestCase):
    """Path 3: a child recipe of the .pkg recipe (recipes/examples)."""

    def test_child_recipe_and_its_override(self):
        mine = os.path.join(self.recipes, "my-recipes")
        self.place(os.path.join(EXAMPLES, "Firefox_EN.jamf.recipe.yaml"), mine)
        self.place(os.path.join(FIXTURES, "StopProcessingIf.py"), mine)
        self.place(os.path.join(EXAMPLES, "local.jamf.Firefox_EN.recipe.yaml"), self.overrides)
        # The same package bytes each night (the .pkg recipe found no new
        # version).
        seed = ("--key", "STANDIN_PKG_SEED=128.0")
        run = self.autopkg("run", "-v", "local.jamf.Firefox_EN", *seed)
        self.assertEqual(self.steps(run), ["StandInPkgBuilder", POST, "StopProcessingIf"])
        self.assert_landed(run)
        self.assertEqual(self.category_of("Firefox-128.0.pkg"), "Web Browsers")
        self.assertNotIn("stop_processing_recipe", run.step_outputs("StopProcessingIf"))
        # The next night nothing new is sent, and the StopProcessingIf step
        # of the example stops the recipe on pkg_uploaded False.
        again = self.autopkg("run", "-v", "local.jamf.Firefox_EN", *seed)
        self.assertIs(again.step_outputs("StopProcessingIf").get("stop_processing_recipe"), True, again.output)


class TestWhatDoesNotWork(MigrationTestCase):
    """Why MIGRATING.md offers the three paths: an override of a community
    .jamf recipe can only add steps, so JamfPackageUploader still runs."""

    def test_override_appends_never_swaps(self):
        community = os.path.join(self.recipes, "community-recipes")
        self.place(os.path.join(FIXTURES, "Firefox.community.jamf.recipe.yaml"), community)
        self.place(os.path.join(FIXTURES, "JamfPackageUploader.py"), community)
        self.place(
            "Firefox.jamf.recipe.yaml",
            self.overrides,
            text="Identifier: local.jamf.Firefox\n"
            "ParentRecipe: com.github.community.jamf.Firefox_EN\n"
            "Input: {}\n"
            "Process:\n"
            "  - Processor: %s\n"
            "    Arguments: {pkg_category: Browsers}\n" % POST,
        )
        run = self.autopkg("run", "local.jamf.Firefox")
        self.assertEqual(self.steps(run), ["StandInPkgBuilder", "JamfPackageUploader", POST])
        self.assertEqual(run.step_outputs("JamfPackageUploader")["standin_steps_ran"], ["JamfPackageUploader"])


class TestProcessorInfo(MigrationTestCase):
    """`autopkg processor-info`: the form MIGRATING.md and README give."""

    DOCUMENTED = ["processor-info", "JCDS2PackageUploader", "--recipe", "com.github.jcds2-uploader.SharedProcessors"]

    def test_documented_form(self):
        info = self.autopkg(*self.DOCUMENTED)
        manifest = json.loads(subprocess.run([UPLOADER, "-describe"], check=True, stdout=subprocess.PIPE).stdout)
        self.assertIn(manifest["description"], " ".join(info.stdout.split()))
        # Every declared input and output is listed; the secrets, which
        # AutoPkg would print with their values at -vv, are not declared.
        for name in set(manifest["input_variables"]) - set(sync_manifest.SECRET_INPUTS):
            self.assertIn(name, info.stdout)
        for name in manifest["output_variables"]:
            self.assertIn(name, info.stdout)

    def test_identifier_form_is_unknown(self):
        # processor-info looks a processor up without an environment, so the
        # IDENTIFIER/Name form recipes use cannot be found this way.
        for argv in (
            [POST],
            [POST, "--recipe", "com.github.jcds2-uploader.SharedProcessors"],
            ["JCDS2PackageUploader"],
        ):
            info = self.autopkg("processor-info", *argv, check=False)
            self.assertNotEqual(info.returncode, 0, argv)
            self.assertNotIn("Input variables", info.stdout, argv)

    def test_documents_say_so(self):
        documented = "autopkg " + " ".join(self.DOCUMENTED)
        for doc in ("MIGRATING.md", "README.md"):
            with open(os.path.join(HERE, doc), encoding="utf-8") as f:
                text = f.read()
            self.assertTrue(documented in text, "%s lacks: %s" % (doc, documented))
            self.assertFalse("processor-info com.github.jcds2-uploader" in text, "%s keeps the form that fails" % doc)


class TestMigratingMatchesDescribe(unittest.TestCase):
    """MIGRATING.md names every refused and ignored input as -describe does."""

    @classmethod
    def setUpClass(cls):
        ensure_binaries()

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

    def test_recipe_list_example_is_a_plist(self):
        with open(os.path.join(EXAMPLES, "recipe-list.plist"), "rb") as f:
            listed = plistlib.load(f)
        self.assertEqual(listed["postprocessors"], [POST])


if __name__ == "__main__":
    unittest.main()
