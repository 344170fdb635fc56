"""Trust info for the processor, under the real AutoPkg 2.9.0.

Run from the repository root:

    python3 -m unittest discover -s recipes -p 'test_*.py'

AutoPkg finds a shared processor such as
com.github.jcds2-uploader.SharedProcessors/JCDS2PackageUploader in two
ways. `autopkg run` looks for its stub recipe in the search folders it runs
with: RECIPE_SEARCH_DIRS, else the defaults (".", ~/Library/AutoPkg/Recipes,
/Library/AutoPkg/Recipes). Trust info (make-override, update-trust-info,
verify-trust-info, and the check `autopkg run` makes) looks only in the
RECIPE_SEARCH_DIRS preference (Code/autopkg, find_processor_path:
`get_pref("RECIPE_SEARCH_DIRS") or []`). Without that preference the
override records "PROCESSOR FILEPATH NOT FOUND" for the processor, and a
changed processor passes verify-trust-info. These tests pin both halves,
with the processor where the Homebrew cask and the package put it (a
default folder), and are what the macOS CI job's trust steps repeat on a
Mac. README ("Trust info") tells admins.
"""

import hashlib
import os
import plistlib
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "tests")
if STANDIN not in sys.path:
    sys.path.insert(0, STANDIN)

import real_autopkg  # noqa: E402  (recipes/tests)
from real_autopkg import POST  # noqa: E402

NOT_FOUND = "PROCESSOR FILEPATH NOT FOUND"
# AutoPkg 2.9.0's defaults (Code/autopkg, get_search_dirs).
DEFAULT_SEARCH_DIRS = [".", "~/Library/AutoPkg/Recipes", "/Library/AutoPkg/Recipes"]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class TrustInfoTest(unittest.TestCase):
    """The example recipe and a stand-in for its parent in a folder of
    their own (as the CI job has them), the processor in
    ~/Library/AutoPkg/Recipes/jcds2-uploader."""

    def setUp(self):  # pylint: disable=invalid-name
        real_autopkg.require(self)
        self.tmp = tempfile.mkdtemp(prefix="trust-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, "home")
        self.work = os.path.join(self.tmp, "recipes")
        self.overrides = os.path.join(self.tmp, "RecipeOverrides")
        installed = os.path.join(self.home, "Library", "AutoPkg", "Recipes", "jcds2-uploader")
        for d in (installed, self.work, self.overrides):
            os.makedirs(d)
        for name in ("JCDS2PackageUploader.py", "JCDS2PackageUploader.recipe"):
            shutil.copy(os.path.join(HERE, name), installed)
        self.processor = os.path.join(installed, "JCDS2PackageUploader.py")
        shutil.copy(os.path.join(HERE, "examples", "Firefox_EN.jamf.recipe.yaml"), self.work)
        for name in ("Firefox_EN.pkg.recipe.yaml", "StandInPkgBuilder.py"):
            shutil.copy(os.path.join(STANDIN, "fixtures", name), self.work)
        self.prefs = {
            "RECIPE_OVERRIDE_DIRS": [self.overrides],
            "CACHE_DIR": os.path.join(self.tmp, "Cache"),
        }
        # AutoPkg runs from the recipes' folder, as in CI: "." of the
        # search folders is the working directory, and from the repository
        # root it would find recipes/JCDS2PackageUploader.recipe instead.
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.work)

    def autopkg(self, *args):
        return real_autopkg.autopkg(self.home, self.prefs, *args)

    def make_override(self, *extra):
        made = self.autopkg("make-override", *extra, "Firefox_EN.jamf")
        self.assertEqual(made.returncode, 0, made.output)
        path = os.path.join(self.overrides, "Firefox_EN.jamf.recipe")
        with open(path, "rb") as f:
            override = plistlib.load(f)
        return override["ParentRecipeTrustInfo"]["non_core_processors"][POST], made

    def change_processor(self):
        with open(self.processor, "a", encoding="utf-8") as f:
            f.write("\n# changed after the override was trusted\n")

    def test_with_the_default_folders_in_the_preference(self):
        """What an admin (and CI) needs: RECIPE_SEARCH_DIRS holding the
        default folders (autopkg repo-add writes them) and the recipes'."""
        self.prefs["RECIPE_SEARCH_DIRS"] = DEFAULT_SEARCH_DIRS + [self.work]
        info, made = self.make_override()
        self.assertEqual(info["sha256_hash"], sha256(self.processor), made.output)
        self.assertEqual(info["path"], "~/Library/AutoPkg/Recipes/jcds2-uploader/JCDS2PackageUploader.py")
        self.assertNotIn(NOT_FOUND, made.output)
        ok = self.autopkg("verify-trust-info", "-vv", "Firefox_EN.jamf")
        self.assertEqual(ok.returncode, 0, ok.output)

        self.change_processor()
        changed = self.autopkg("verify-trust-info", "-vv", "Firefox_EN.jamf")
        self.assertNotEqual(changed.returncode, 0, "a changed processor passed:\n" + changed.output)
        self.assertIn("JCDS2PackageUploader", changed.output)

        updated = self.autopkg("update-trust-info", "Firefox_EN.jamf")
        self.assertEqual(updated.returncode, 0, updated.output)
        again = self.autopkg("verify-trust-info", "-vv", "Firefox_EN.jamf")
        self.assertEqual(again.returncode, 0, again.output)

    def test_without_the_preference_the_processor_is_not_seen(self):
        """AutoPkg's behaviour the README warns of: the recipe is found
        (through --search-dir here, "." on the Mac), the processor is not,
        and its change goes unnoticed."""
        info, made = self.make_override("--search-dir", self.work)
        self.assertEqual(info["sha256_hash"], NOT_FOUND, made.output)
        self.assertIn("processor path not found", made.output)
        self.change_processor()
        unseen = self.autopkg("verify-trust-info", "-vv", "--search-dir", self.work, "Firefox_EN.jamf")
        self.assertEqual(unseen.returncode, 0, unseen.output)


if __name__ == "__main__":
    unittest.main()
