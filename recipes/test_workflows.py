"""The shell steps of the workflows, run here with stand-ins for the macOS
tools they call.

Run from the repository root:

    python3 -m unittest discover -s recipes -p 'test_*.py'

Each test takes a step's `run` script from the YAML as it is committed and
runs it as GitHub runs a step without a `shell:` (`bash -e SCRIPT`), with
the environment the runner gives it (RUNNER_TEMP, GITHUB_OUTPUT, HOME) and
stand-ins, first on PATH, for autopkg, security, xcrun, pkgutil and spctl
that record how they were called. What this cannot show (Apple's tools
themselves, the keychain, the notary service, GitHub's `if:` evaluation) is
listed in README's "What only the macOS CI job proves".

The YAML is read with PyYAML: this interpreter's, else the one the real
AutoPkg runs under (recipes/tests/real_autopkg.py); without either the
tests skip, or fail under JCDS2_REQUIRE_AUTOPKG as the AutoPkg tests do.
"""

import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STANDIN = os.path.join(HERE, "tests")
if STANDIN not in sys.path:
    sys.path.insert(0, STANDIN)

import real_autopkg  # noqa: E402  (recipes/tests)

NIGHTLY = os.path.join(HERE, "examples", "autopkg-nightly.yml")
RELEASE = os.path.join(ROOT, ".github", "workflows", "release.yml")
CI = os.path.join(ROOT, ".github", "workflows", "ci.yml")


def load_yaml(testcase, path):
    """The YAML file at path as Python values."""
    try:
        import yaml  # pylint: disable=import-outside-toplevel

        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except ImportError:
        pass
    python, _, why = real_autopkg.find()
    if why is not None:
        real_autopkg.require(testcase)
    proc = subprocess.run(
        [python, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", path],
        stdout=subprocess.PIPE,
        check=True,
    )
    return json.loads(proc.stdout)


def find_step(testcase, workflow, job, name):
    """The step of job whose name starts with name (or whose id is name)."""
    for step in workflow["jobs"][job]["steps"]:
        if step.get("id") == name or step.get("name", "").startswith(name):
            return step
    testcase.fail("no step %r in job %s" % (name, job))
    return None


def write_tool(directory, name, body):
    """An executable bash script directory/name."""
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("#!/bin/bash\n" + body)
    os.chmod(path, 0o755)
    return path


# A stand-in that appends its name and arguments (one per line, then a
# blank line) to $CALLS.
RECORD = 'printf "%s\\n" "$(basename "$0")" "$@" "" >> "$CALLS"\n'


class StepTestCase(unittest.TestCase):
    """A runner's folders for one step: RUNNER_TEMP, HOME, the workspace,
    a bin folder of stand-ins first on PATH, and GITHUB_OUTPUT."""

    def setUp(self):  # pylint: disable=invalid-name
        self.tmp = tempfile.mkdtemp(prefix="workflow-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.temp = os.path.join(self.tmp, "runner-temp")
        self.home = os.path.join(self.tmp, "home")
        self.workspace = os.path.join(self.tmp, "workspace")
        self.bin = os.path.join(self.tmp, "bin")
        for d in (self.temp, self.home, self.workspace, self.bin):
            os.makedirs(d)
        self.output = os.path.join(self.tmp, "github-output")
        self.calls_file = os.path.join(self.tmp, "calls")
        open(self.output, "w", encoding="utf-8").close()
        open(self.calls_file, "w", encoding="utf-8").close()

    def run_script(self, script, env):
        """script as GitHub runs a step's `run` without a `shell:`."""
        path = os.path.join(self.tmp, "step.sh")
        with open(path, "w", encoding="utf-8") as f:
            f.write(script)
        full = {
            "PATH": self.bin + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.home,
            "RUNNER_TEMP": self.temp,
            "GITHUB_OUTPUT": self.output,
            "GITHUB_WORKSPACE": self.workspace,
            "CALLS": self.calls_file,
        }
        full.update(env)
        return subprocess.run(
            ["bash", "-e", path],
            cwd=self.workspace,
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
            timeout=60,
            check=False,
        )

    def outputs(self):
        with open(self.output, encoding="utf-8") as f:
            return dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)

    def calls(self):
        """The stand-ins' calls, in order: lists of name and arguments."""
        with open(self.calls_file, encoding="utf-8") as f:
            blocks = f.read().split("\n\n")
        return [b.split("\n") for b in blocks if b.strip()]


class NightlyRunTest(StepTestCase):
    """recipes/examples/autopkg-nightly.yml when a recipe fails: autopkg
    exits 70, and the report and this run's receipts still reach the
    artifact, the secret scan still runs, and the job fails afterwards."""

    SECRET = "nightly-client-secret-7f3a"

    def setUp(self):
        super().setUp()
        self.workflow = load_yaml(self, NIGHTLY)
        self.out = os.path.join(self.temp, "autopkg-output")
        # An earlier night's receipt in the restored cache: not this run's.
        old = os.path.join(self.home, "Library", "AutoPkg", "Cache", "local.jamf.Firefox_EN", "receipts")
        os.makedirs(old)
        self.old_receipt = os.path.join(old, "Firefox_EN-receipt-20260101-020000.plist")
        with open(self.old_receipt, "wb") as f:
            plistlib.dump([{"Processor": "old"}], f)
        day_ago = time.time() - 86400
        os.utime(self.old_receipt, (day_ago, day_ago))
        with open(os.path.join(self.workspace, "recipe-list.txt"), "w", encoding="utf-8") as f:
            f.write("local.jamf.Firefox_EN\n")
        # autopkg run as it ends when a recipe fails: the report lists the
        # failure, the receipt is written, the exit status is 70
        # (RECIPE_FAILED_CODE in AutoPkg 2.9.0's Code/autopkg).
        write_tool(
            self.bin,
            "autopkg",
            RECORD
            + """report=""
while [ $# -gt 0 ]; do
  if [ "$1" = --report-plist ]; then report=$2; shift; fi
  shift
done
cat > "$report" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>failures</key><array><dict><key>recipe</key><string>local.jamf.Firefox_EN</string>
<key>message</key><string>ProcessorError: upload failed</string></dict></array>
<key>summary_results</key><dict/>
</dict></plist>
EOF
receipts="$HOME/Library/AutoPkg/Cache/local.jamf.Firefox_EN/receipts"
mkdir -p "$receipts"
echo '<plist version="1.0"><array/></plist>' > "$receipts/Firefox_EN-receipt-new.plist"
echo "The following recipes failed:"
echo "    local.jamf.Firefox_EN"
echo "        Error in local.jamf.Firefox_EN: ProcessorError: upload failed${LEAK:+ $LEAK}"
exit "${AUTOPKG_STATUS:-70}"
""",
        )

    def run_step(self, name, env=None, python=None):
        script = find_step(self, self.workflow, "autopkg", name)["run"]
        if python:
            # AutoPkg's own Python on the Mac; this one here.
            self.assertIn("/usr/local/autopkg/python", script)
            script = script.replace("/usr/local/autopkg/python", python)
        return self.run_script(script, env or {})

    def test_exit_70_keeps_the_report_and_receipts_then_fails_the_job(self):
        run = self.run_step("autopkg run")
        self.assertEqual(run.returncode, 0, "the step ended at autopkg's exit 70:\n" + run.stdout)
        self.assertEqual(self.outputs().get("status"), "70")
        self.assertEqual(self.calls()[0][:4], ["autopkg", "run", "-v", "--recipe-list"])
        self.assertEqual(
            sorted(os.listdir(self.out)), ["Firefox_EN-receipt-new.plist", "autopkg.log", "report.plist"]
        )
        with open(os.path.join(self.out, "autopkg.log"), encoding="utf-8") as f:
            self.assertIn("Error in local.jamf.Firefox_EN", f.read())
        self.assertIn("Error in local.jamf.Firefox_EN", run.stdout)  # and in the job's log

        scan = self.run_step("No secret", {"CLIENT_SECRET": self.SECRET})
        self.assertEqual(scan.returncode, 0, scan.stdout)
        self.assertTrue(os.path.isdir(self.out))

        fail = self.run_step("Fail when a recipe failed", {"STATUS": "70"}, python=sys.executable)
        self.assertEqual(fail.returncode, 1, fail.stdout)
        self.assertIn("::error::autopkg exited with status 70; 1 recipe(s) failed", fail.stdout)

    def test_upload_and_failure_steps_run_after_a_failure(self):
        """The steps after the run are not skipped by an earlier failure,
        and nothing unscanned is uploaded."""
        scan = find_step(self, self.workflow, "autopkg", "scan")
        self.assertEqual(scan["if"], "always()")
        upload = [s for s in self.workflow["jobs"]["autopkg"]["steps"] if "upload-artifact" in s.get("uses", "")]
        self.assertEqual(len(upload), 1)
        self.assertEqual(upload[0]["if"], "always() && steps.scan.outcome == 'success'")
        self.assertEqual(upload[0]["with"]["path"], "${{ runner.temp }}/autopkg-output")
        fail = find_step(self, self.workflow, "autopkg", "Fail when a recipe failed")
        self.assertIn("always()", fail["if"])
        self.assertEqual(fail["env"]["STATUS"], "${{ steps.run.outputs.status }}")
        self.assertEqual(find_step(self, self.workflow, "autopkg", "autopkg run")["id"], "run")

    def test_a_secret_in_the_output_deletes_it_and_fails(self):
        run = self.run_step("autopkg run", {"LEAK": self.SECRET})
        self.assertEqual(run.returncode, 0, run.stdout)
        scan = self.run_step("No secret", {"CLIENT_SECRET": self.SECRET})
        self.assertEqual(scan.returncode, 1, scan.stdout)
        self.assertIn("the client secret is in AutoPkg's output; nothing is uploaded", scan.stdout)
        self.assertFalse(os.path.exists(self.out))

    def test_success_passes(self):
        with open(os.path.join(self.bin, "autopkg"), encoding="utf-8") as f:
            body = f.read()
        write_tool(
            self.bin,
            "autopkg",
            body.replace("#!/bin/bash\n", "", 1).replace(
                "<key>failures</key><array><dict><key>recipe</key><string>local.jamf.Firefox_EN</string>\n"
                "<key>message</key><string>ProcessorError: upload failed</string></dict></array>",
                "<key>failures</key><array/>",
            ),
        )
        run = self.run_step("autopkg run", {"AUTOPKG_STATUS": "0"})
        self.assertEqual(run.returncode, 0, run.stdout)
        self.assertEqual(self.outputs().get("status"), "0")
        fail = self.run_step("Fail when a recipe failed", {"STATUS": "0"}, python=sys.executable)
        self.assertEqual(fail.returncode, 0, fail.stdout)

    def test_a_failure_in_the_report_fails_even_with_status_0(self):
        self.run_step("autopkg run", {"AUTOPKG_STATUS": "0"})
        fail = self.run_step("Fail when a recipe failed", {"STATUS": "0"}, python=sys.executable)
        self.assertEqual(fail.returncode, 1, fail.stdout)
        self.assertIn("1 recipe(s) failed", fail.stdout)

    def test_no_report_says_so(self):
        os.makedirs(self.out)
        fail = self.run_step("Fail when a recipe failed", {"STATUS": "1"}, python=sys.executable)
        self.assertEqual(fail.returncode, 1, fail.stdout)
        self.assertIn("autopkg exited with status 1 and wrote no report", fail.stdout)


class ReleaseSigningTest(StepTestCase):
    """release.yml's keychain and notarization steps, with security, xcrun,
    pkgutil and spctl standing in: the commands and their order."""

    def setUp(self):
        super().setUp()
        self.workflow = load_yaml(self, RELEASE)
        for tool in ("xcrun", "pkgutil", "spctl"):
            write_tool(
                self.bin,
                tool,
                RECORD
                + 'if [ -n "${FAIL_NOTARYTOOL:-}" ] && [ "$1 $2" = "notarytool submit" ]; then echo "status: Invalid"; exit 1; fi\n',
            )
        write_tool(
            self.bin,
            "security",
            RECORD
            + """case "$1" in
find-identity) echo '  1) 0123456789ABCDEF0123456789ABCDEF01234567 "Developer ID Installer: Example Inc (TEAMID1234)"' ;;
import) cmp -s "$2" "$EXPECT_P12" || { echo "import: not the decoded .p12" >&2; exit 1; } ;;
esac
""",
        )
        write_tool(self.bin, "uuidgen", "echo 6F1C2A9E-0000-4000-8000-0123456789AB\n")

    def test_every_imported_certificate_gets_a_partition_list(self):
        """Each step that imports a certificate into a keychain then lets
        Apple's tools (productsign, codesign) use its key without a prompt."""
        importing = [
            s for s in self.workflow["jobs"]["release"]["steps"] if "security import" in s.get("run", "")
        ]
        self.assertTrue(importing)
        for step in importing:
            run = step["run"]
            for imp in re.finditer(r'security import .* -k "(\$\w+)"', run):
                keychain = imp.group(1)
                rest = run[imp.end():]
                m = re.search(r'security set-key-partition-list -S (\S+) -s -k "(\$\w+)" "(\$\w+)"', rest)
                self.assertIsNotNone(m, "%s: no set-key-partition-list after the import" % step["name"])
                self.assertEqual(m.group(1).split(","), ["apple-tool:", "apple:", "codesign:"])
                self.assertEqual(m.group(3), keychain)
                created = re.search(r'security create-keychain -p "(\$\w+)" "%s"' % re.escape(keychain), run)
                self.assertEqual(m.group(2), created.group(1), "the partition list needs the keychain's password")

    def test_installer_import_runs_in_order(self):
        p12 = b"\x30\x82not-a-real-p12"
        expect = os.path.join(self.tmp, "expect.p12")
        with open(expect, "wb") as f:
            f.write(p12)
        import base64  # pylint: disable=import-outside-toplevel

        step = find_step(self, self.workflow, "release", "Import the Developer ID Installer certificate")
        run = self.run_script(
            step["run"],
            {
                "INSTALLER_P12": base64.b64encode(p12).decode(),
                "INSTALLER_PASSWORD": "p12-password",
                "EXPECT_P12": expect,
            },
        )
        self.assertEqual(run.returncode, 0, run.stdout)
        keychain = os.path.join(self.temp, "installer.keychain-db")
        calls = [c for c in self.calls() if c[0] == "security"]
        self.assertEqual(
            [c[1] for c in calls],
            [
                "create-keychain",
                "set-keychain-settings",
                "unlock-keychain",
                "import",
                "set-key-partition-list",
                "list-keychains",
                "find-identity",
            ],
        )
        password = calls[0][3]
        self.assertEqual(calls[0], ["security", "create-keychain", "-p", password, keychain])
        self.assertEqual(
            calls[3],
            ["security", "import", os.path.join(self.temp, "installer.p12"), "-k", keychain, "-P", "p12-password",
             "-T", "/usr/bin/productsign"],
        )
        self.assertEqual(
            calls[4],
            ["security", "set-key-partition-list", "-S", "apple-tool:,apple:,codesign:", "-s", "-k", password,
             keychain],
        )
        self.assertFalse(os.path.exists(os.path.join(self.temp, "installer.p12")), "the .p12 is left on disk")

    def test_a_failed_import_leaves_no_p12(self):
        step = find_step(self, self.workflow, "release", "Import the Developer ID Installer certificate")
        run = self.run_script(
            step["run"], {"INSTALLER_P12": "bm90LWl0", "INSTALLER_PASSWORD": "x", "EXPECT_P12": "/nonexistent"}
        )
        self.assertNotEqual(run.returncode, 0, run.stdout)
        self.assertNotIn("set-key-partition-list", [c[1] for c in self.calls()])
        self.assertFalse(os.path.exists(os.path.join(self.temp, "installer.p12")))

    def notarize(self, env=None):
        step = find_step(self, self.workflow, "release", "Notarize and staple the installer package")
        full = {
            "RELEASE_VERSION": "1.2.3",
            "MACOS_NOTARY_KEY": "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t",  # base64 of a .p8's first line
            "MACOS_NOTARY_KEY_ID": "KEYID12345",
            "MACOS_NOTARY_ISSUER_ID": "c0ffee00-1111-2222-3333-444455556666",
        }
        full.update(env or {})
        return self.run_script(step["run"], full)

    def test_notarization_command_lines(self):
        run = self.notarize()
        self.assertEqual(run.returncode, 0, run.stdout)
        pkg = "dist/jcds2-uploader-1.2.3.pkg"
        key = os.path.join(self.temp, "notary.p8")
        self.assertEqual(
            self.calls(),
            [
                ["xcrun", "notarytool", "submit", pkg, "--key", key, "--key-id", "KEYID12345", "--issuer",
                 "c0ffee00-1111-2222-3333-444455556666", "--wait", "--timeout", "30m"],
                ["xcrun", "stapler", "staple", pkg],
                ["xcrun", "stapler", "validate", pkg],
                ["pkgutil", "--check-signature", pkg],
                ["spctl", "--assess", "--type", "install", "--verbose", pkg],
            ],
        )
        self.assertFalse(os.path.exists(key), "the notary key is left on disk")

    def test_rejected_submission_stops_before_stapling_and_removes_the_key(self):
        run = self.notarize({"FAIL_NOTARYTOOL": "1"})
        self.assertNotEqual(run.returncode, 0, run.stdout)
        self.assertEqual([c[:3] for c in self.calls()], [["xcrun", "notarytool", "submit"]])
        self.assertFalse(os.path.exists(os.path.join(self.temp, "notary.p8")))


class AutoPkgDigestTest(StepTestCase):
    """ci.yml's AutoPkg install on the Mac: the download is checked against
    the pin and against the digest GitHub keeps for the release asset
    (gh api), and a wrong pin fails saying which digest to pin."""

    PKG = b"stand-in for autopkg-2.9.0.pkg\n"
    WORKFLOW, JOB, STEP = CI, "macos", "Requirements: AutoPkg"

    def pinned(self):
        job_env = self.workflow["jobs"][self.JOB].get("env", {})
        return job_env.get("AUTOPKG_PKG_SHA256") or self.workflow["env"]["AUTOPKG_PKG_SHA256"]

    def setUp(self):
        super().setUp()
        import hashlib  # pylint: disable=import-outside-toplevel

        self.workflow = load_yaml(self, self.WORKFLOW)
        self.step = find_step(self, self.workflow, self.JOB, self.STEP)
        self.sum = hashlib.sha256(self.PKG).hexdigest()
        body = os.path.join(self.tmp, "pkg-body")
        with open(body, "wb") as f:
            f.write(self.PKG)
        write_tool(
            self.bin,
            "curl",
            RECORD + 'while [ $# -gt 1 ]; do [ "$1" = --output ] && out=$2; shift; done\ncp "$PKG_BODY" "$out"\n',
        )
        # gh api ... --jq '...digest // empty': the digest, or nothing.
        write_tool(self.bin, "gh", RECORD + '[ -n "${GH_FAIL:-}" ] && exit 1\nprintf "%s" "${GH_DIGEST:-}"\n')
        if not shutil.which("shasum"):
            write_tool(self.bin, "shasum", 'sha256sum "$3"\n')
        for tool in ("pkgutil", "installer"):
            write_tool(self.bin, tool, RECORD)
        write_tool(self.bin, "sudo", RECORD + '"$@"\n')
        write_tool(self.bin, "autopkg", 'echo 2.9.0\n')
        self.env = {
            "PKG_BODY": body,
            "AUTOPKG_VERSION": "2.9.0",
            "AUTOPKG_PKG_SHA256": self.sum,
            "GH_TOKEN": "t",
        }

    def install(self, **env):
        full = dict(self.env)
        full.update(env)
        return self.run_script(self.step["run"], full)

    def installed(self):
        return [c for c in self.calls() if c[0] == "installer"]

    def test_the_workflow_pins_a_digest_and_gives_the_step_a_token(self):
        self.assertRegex(self.pinned(), r"^[0-9a-f]{64}$")
        self.assertEqual(self.pinned(), load_yaml(self, CI)["env"]["AUTOPKG_PKG_SHA256"], "one pin everywhere")
        self.assertEqual(self.step["env"]["GH_TOKEN"], "${{ github.token }}")
        gh = [c for c in (self.install(GH_DIGEST="sha256:" + self.sum), self.calls())[1] if c[0] == "gh"]
        self.assertEqual(gh[0][1:3], ["api", "repos/autopkg/autopkg/releases/tags/v2.9.0"])
        self.assertIn('select(.name == "autopkg-2.9.0.pkg") | .digest', gh[0][4])

    def test_pin_download_and_github_agree(self):
        run = self.install(GH_DIGEST="sha256:" + self.sum)
        self.assertEqual(run.returncode, 0, run.stdout)
        self.assertIn("the pin is GitHub's digest of the release asset", run.stdout)
        self.assertEqual(len(self.installed()), 1)

    def test_a_wrong_pin_names_the_digest_to_pin(self):
        run = self.install(GH_DIGEST="sha256:" + self.sum, AUTOPKG_PKG_SHA256="0" * 64)
        self.assertEqual(run.returncode, 1, run.stdout)
        self.assertIn("pin AUTOPKG_PKG_SHA256: " + self.sum, run.stdout)
        self.assertIn("sha256:" + "0" * 64, run.stdout)  # both printed
        self.assertEqual(self.installed(), [])

    def test_a_download_github_does_not_know_is_refused(self):
        run = self.install(GH_DIGEST="sha256:" + "1" * 64)
        self.assertEqual(run.returncode, 1, run.stdout)
        self.assertIn("is not the asset GitHub recorded", run.stdout)
        self.assertEqual(self.installed(), [])

    def test_no_digest_at_github_checks_the_pin_only(self):
        run = self.install()
        self.assertEqual(run.returncode, 0, run.stdout)
        self.assertIn("::warning::GitHub records no digest", run.stdout)
        wrong = self.install(AUTOPKG_PKG_SHA256="0" * 64)
        self.assertEqual(wrong.returncode, 1, wrong.stdout)
        self.assertIn("GitHub records no digest to settle which is right", wrong.stdout)

    def test_an_unreadable_release_fails(self):
        run = self.install(GH_FAIL="1")
        self.assertEqual(run.returncode, 1, run.stdout)
        self.assertIn("could not read release v2.9.0 from GitHub's API", run.stdout)
        self.assertEqual(self.installed(), [])



class NightlyAutoPkgDigestTest(AutoPkgDigestTest):
    """The nightly example installs AutoPkg with the same checks."""

    WORKFLOW, JOB, STEP = NIGHTLY, "autopkg", "Install AutoPkg"


if __name__ == "__main__":
    unittest.main()
