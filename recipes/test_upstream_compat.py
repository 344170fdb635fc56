"""Recipes written for today's JamfPackageUploader, run under the real
AutoPkg 2.9.0 with JCDS2PackageUploader in its place (issue 28):
skip_and_proceed given as an argument, as a %VAR% from the recipe's Input
and with --key; and a boolean input left as an unresolved %NAME%.

Run from the repository root (after `make build`):

    python3 -m unittest recipes/test_upstream_compat.py

The recipe's next step is the stand-in StopProcessingIf
(tests/fixtures/StopProcessingIf.py, since AutoPkg's own needs Apple's
Foundation): that it ran, and what it read from process_skipped, is in the
receipt.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "tests")
FIXTURES = os.path.join(STANDIN, "fixtures")

for path in (STANDIN, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

import real_autopkg  # noqa: E402  (recipes/tests)
from real_autopkg import POST  # noqa: E402
from test_shim import JAMFSIM, UPLOADER, ensure_binaries  # noqa: E402

real_autopkg.AutoPkgTestCase.uploader = UPLOADER
real_autopkg.AutoPkgTestCase.jamfsim = JAMFSIM

# A .jamf recipe as upstream's _Templates_Examples/BlockBlock.jamf.recipe.yaml
# (commits 0f11aec, e3a733c) writes them: the upload step's booleans from
# recipe variables, then a step that reads what the upload reported.
RECIPE = """Identifier: com.example.jamf.Firefox_EN
ParentRecipe: com.github.autopkg.pkg.Firefox_EN
MinimumVersion: "2.3"
Input:
  NAME: Firefox
  CATEGORY: Browsers
%(input)s
Process:
  - Processor: %(post)s
    Arguments:
      pkg_category: "%%CATEGORY%%"
%(arguments)s
  - Processor: StopProcessingIf
    Arguments:
      predicate: process_skipped == %(predicate)s
"""


class UpstreamRecipeTestCase(real_autopkg.AutoPkgTestCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ensure_binaries()

    def setUp(self):
        super().setUp()
        self.credentials_in_prefs()
        self.mine = os.path.join(self.recipes, "my-recipes")
        self.place(os.path.join(FIXTURES, "StopProcessingIf.py"), self.mine)

    def recipe(self, arguments="", input_="", predicate="TRUE"):
        indent = lambda text, n: "\n".join(" " * n + line for line in text.splitlines())  # noqa: E731
        self.place(
            "Firefox_EN.jamf.recipe.yaml",
            self.mine,
            text=RECIPE
            % {"input": indent(input_, 2), "arguments": indent(arguments, 6), "post": POST, "predicate": predicate},
        )

    def steps(self, result):
        return [s["Processor"] for s in result.last_receipt() if isinstance(s, dict) and "Processor" in s]

    def assert_skipped(self, run):
        """Nothing reached Jamf Pro, the upload step reported
        process_skipped True, and the next step ran and read it."""
        state = self.sim_state()
        self.assertEqual(state["calls"] or [], [], run.output)
        self.assertEqual(state["s3Calls"] or [], [])
        self.assertEqual(state["packages"] or [], [])
        self.assertEqual(self.steps(run), ["StandInPkgBuilder", POST, "StopProcessingIf"])
        out = run.step_outputs(POST)
        self.assertIs(out["process_skipped"], True, run.output)
        for key in ("pkg_uploaded", "pkg_upload_status", "pkg_id", "jamfpackageuploader_summary_result"):
            self.assertNotIn(key, out)
        self.assertIs(run.step_outputs("StopProcessingIf")["stop_processing_recipe"], True, run.output)
        self.assertIn("Skipping package to next process as skip_and_proceed is set to True", run.output)


class TestSkipAndProceed(UpstreamRecipeTestCase):
    def test_argument(self):
        self.recipe(arguments="skip_and_proceed: True")
        self.assert_skipped(self.autopkg("run", "-v", "com.example.jamf.Firefox_EN"))

    def test_recipe_variable_from_input(self):
        self.recipe(arguments='skip_and_proceed: "%SKIP%"', input_='SKIP: "True"')
        self.assert_skipped(self.autopkg("run", "-v", "com.example.jamf.Firefox_EN"))

    def test_key_for_the_whole_run(self):
        self.recipe()
        self.assert_skipped(
            self.autopkg("run", "-v", "com.example.jamf.Firefox_EN", "--key", "skip_and_proceed=True")
        )

    def test_false_uploads(self):
        self.recipe(arguments='skip_and_proceed: "%SKIP%"', input_='SKIP: "False"', predicate="FALSE")
        run = self.autopkg("run", "-v", "com.example.jamf.Firefox_EN")
        self.assert_landed(run)
        self.assertEqual(self.steps(run), ["StandInPkgBuilder", POST, "StopProcessingIf"])
        # AutoPkg's receipt leaves out outputs that are False; the next
        # step read a real False.
        self.assertNotIn("process_skipped", run.step_outputs(POST))
        self.assertIs(run.step_outputs("StopProcessingIf")["stop_processing_recipe"], True, run.output)


class TestUnresolvedBoolean(UpstreamRecipeTestCase):
    def test_undefined_variable_reads_false_with_a_warning(self):
        # Neither REPLACE_PKG nor SKIP_PACKAGE is defined anywhere: AutoPkg
        # leaves the text as it is, and JamfPackageUploader reads it False.
        self.recipe(
            arguments='replace_pkg: "%REPLACE_PKG%"\nskip_and_proceed: "%SKIP_PACKAGE%"', predicate="FALSE"
        )
        run = self.autopkg("run", "-v", "com.example.jamf.Firefox_EN")
        self.assert_landed(run)
        for name, var in (("replace_pkg", "REPLACE_PKG"), ("skip_and_proceed", "SKIP_PACKAGE")):
            warning = "input %s is \"%%%s%%\": the recipe variable %s is not defined, so it reads as False" % (name, var, var)
            self.assertEqual(run.output.count(warning), 1, run.output)
        # The package is there: replace_pkg False keeps it the next night.
        again = self.autopkg("run", "-v", "com.example.jamf.Firefox_EN")
        self.assertEqual(again.step_outputs(POST)["pkg_upload_status"], "skipped-exists", again.output)


# JamfPackageUploader at grahampugh/jamf-upload e3a733c (2026-04-29): the
# inputs it declares and the keys execute() reads without declaring them,
# and the outputs it sets.
UPSTREAM_INPUTS = (
    "JSS_URL API_USERNAME API_PASSWORD CLIENT_ID CLIENT_SECRET BEARER_TOKEN JAMF_CLI_PROFILE "
    "PLATFORM_API_REGION PLATFORM_API_TENANT_ID CLOUD_DP SMB_URL SMB_USERNAME SMB_PASSWORD SMB_SHARES "
    "pkg_name pkg_display_name pkg_path version pkg_category pkg_info pkg_notes pkg_priority "
    "reboot_required os_requirements required_processor send_notification replace_pkg jcds_mode "
    "jcds2_mode aws_cdp_mode replace_pkg_metadata skip_metadata_upload recalculate "
    "recalculate_wait_time sleep max_tries skip_and_proceed "
    # read, not declared
    "md5 pathname S3_BUCKET_NAME NAME insecure_mode custom_curl_opts jamfupload_tmp_dir"
).split()
UPSTREAM_OUTPUTS = (
    "pkg_path pkg_name pkg_display_name pkg_uploaded pkg_metadata_updated "
    "jamfpackageuploader_summary_result process_skipped"
).split()


class TestMigratingListsUpstream(unittest.TestCase):
    """MIGRATING.md's tables say what becomes of each upstream input and
    output."""

    def test_every_input_and_output_has_a_row(self):
        with open(os.path.join(HERE, "MIGRATING.md"), encoding="utf-8") as f:
            text = f.read()
        inputs = text[text.index("| Upstream input |"):text.index("### Booleans")]
        rows = [line for line in inputs.splitlines() if line.startswith("| `")]
        for name in UPSTREAM_INPUTS:
            self.assertTrue(
                any(("`%s`" % name) in row.split(" | ")[0] for row in rows), "no MIGRATING.md input row for %s" % name
            )
        outputs = text[text.index("| Upstream output |"):]
        for name in UPSTREAM_OUTPUTS:
            self.assertIn("| `%s` |" % name, outputs)
        self.assertIn("### The md5 input", text)


if __name__ == "__main__":
    unittest.main()
