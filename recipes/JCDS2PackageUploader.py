#!/usr/local/autopkg/python
#
# JCDS2PackageUploader: the AutoPkg processor that runs the jcds2-uploader
# binary. AutoPkg only loads processors written in Python; this file is the
# thin bridge. The work (Jamf Pro API, JCDS 2.0 upload through S3, package
# metadata) is done by the binary; see README.md beside this file.
#
# Standard library only; runs on Python 3.9 and later.
"""AutoPkg shim processor for the jcds2-uploader binary.

The shim hands AutoPkg's environment to the binary as a binary property list
on standard input, shows the binary's log lines (its standard error) as they
arrive, and copies the environment the binary prints on standard output back
into AutoPkg's.

Values a property list cannot carry (None, sets, custom objects, dates of
another type, integers outside -2**63 .. 2**64-1, strings with lone
surrogates, dictionary keys that are not strings, recursive containers) are
not sent. Inside a dictionary or list only the offending item is left out, so
the binary sees as much as possible; the log names the item, never its
value. AutoPkg's own copy is never changed for them: a key whose value the
binary hands back unchanged keeps its original Python value, items included.

Secrets (API_PASSWORD, CLIENT_SECRET, BEARER_TOKEN, SMB_PASSWORD) are not
declared in input_variables, because `autopkg run -vv` prints every declared
input with its value; they reach the binary with the rest of the environment.

A secret kept out of AutoPkg's preferences, which AutoPkg prints at -vvv
and writes into every receipt, may instead be in autopkg's own process
environment (API_PASSWORD, CLIENT_SECRET, BEARER_TOKEN): the shim passes it
to the binary without adding it to AutoPkg's environment. AutoPkg's
environment wins when both have it.

Before each run the shim asks the binary for its version and refuses one of
another release than BINARY_VERSION (build metadata after "+" aside), so the
processor file, which AutoPkg's trust info hashes, changes with every
upgrade of the binary. The check applies to jcds2_uploader_path too.
"""

import collections
import collections.abc
import datetime
import math
import os
import plistlib
import shutil
import signal
import subprocess
import threading

from autopkglib import Processor, ProcessorError  # pylint: disable=import-error

__all__ = ["JCDS2PackageUploader"]

BINARY_NAME = "jcds2-uploader"
# The binary starts its log lines with this; AutoPkg's output() adds it again.
LOG_PREFIX = "JCDS2PackageUploader: "
# The jcds2-uploader release this processor belongs to: the VERSION file of
# its source tree (test_shim.py checks they agree). The shim refuses a binary
# of any other version, so that upgrading the binary always comes with a new
# .py file, and AutoPkg's trust info (which hashes this file only) shows it.
BINARY_VERSION = "0.3.0"
# Where the installer package and `make install` put the binary; AutoPkg
# started by launchd or cron has a PATH without /usr/local/bin.
DEFAULT_BINARY = "/usr/local/bin/" + BINARY_NAME
# Homebrew's prefix on Apple silicon, also missing from launchd's PATH.
HOMEBREW_BINARY = "/opt/homebrew/bin/" + BINARY_NAME
# macOS tags downloaded files with this attribute; Gatekeeper then kills a
# binary that is not notarized as it starts.
QUARANTINE_ATTR = "com.apple.quarantine"
XATTR = "/usr/bin/xattr"
# Secrets the shim takes from its process environment when AutoPkg's has
# none, so that they never enter AutoPkg's (printed at -vvv, kept in
# receipts).
PROCESS_ENV_SECRETS = ("API_PASSWORD", "CLIENT_SECRET", "BEARER_TOKEN")
# A deadlock guard for `jcds2-uploader -version`, which does no I/O.
VERSION_TIMEOUT_SECONDS = 60
EXIT_PROCESSOR_ERROR = 10
ERROR_PREFIX = "ProcessorError: "
# Lines of standard error quoted when the binary fails without a
# ProcessorError line (crash, killed, usage error).
TAIL_LINES = 20
# How long the binary gets to stop cleanly (abort its multipart upload)
# after SIGTERM before it is killed.
TERMINATE_GRACE_SECONDS = 15

_PLIST_INT_MIN = -(1 << 63)
_PLIST_INT_MAX = (1 << 64) - 1
_PLIST_EPOCH = datetime.datetime(2001, 1, 1)


class _Interrupted(BaseException):
    """Raised in the main thread by the shim's SIGTERM handler."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class _Dropped:
    """Marks a value that cannot go into a property list."""

    def __init__(self, reason):
        self.reason = reason


def _describe_path(key, path):
    out = repr(key) if not isinstance(key, str) else key
    for item in path:
        out += "[%r]" % (item,)
    return out


def _sanitize(value, path, seen, notes):
    """Return value as plistlib can write it, or _Dropped.

    Containers are rebuilt without the items that cannot be written; each
    dropped item is appended to notes as (path, reason, is_none).
    """
    if value is None:
        return _Dropped("value is None")
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if _PLIST_INT_MIN <= value <= _PLIST_INT_MAX:
            return int(value)
        return _Dropped("integer outside the property list range -2**63 .. 2**64-1")
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _Dropped("string is not valid Unicode (lone surrogate)")
        return str.__str__(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            # Property list dates are UTC; plistlib before 3.13 cannot
            # write an aware datetime.
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        try:
            value - _PLIST_EPOCH
        except (OverflowError, TypeError):
            return _Dropped("date out of range")
        return value.replace(tzinfo=None)
    if isinstance(value, (collections.abc.Mapping, list, tuple)) or (
        isinstance(value, collections.abc.Sequence)
        and not isinstance(value, (str, bytes, bytearray, memoryview))
    ):
        if id(value) in seen:
            return _Dropped("container refers to itself")
        seen.add(id(value))
        try:
            if isinstance(value, collections.abc.Mapping):
                out = {}
                for key, item in value.items():
                    if not isinstance(key, str):
                        notes.append(
                            (
                                path + [key],
                                "dictionary key of type %s is not a string"
                                % type(key).__name__,
                                False,
                            )
                        )
                        continue
                    clean = _sanitize(item, path + [key], seen, notes)
                    if isinstance(clean, _Dropped):
                        notes.append((path + [key], clean.reason, item is None))
                        continue
                    out[str.__str__(key)] = clean
                return out
            out = []
            for index, item in enumerate(value):
                clean = _sanitize(item, path + [index], seen, notes)
                if isinstance(clean, _Dropped):
                    notes.append((path + [index], clean.reason, item is None))
                    continue
                out.append(clean)
            return out
        finally:
            seen.discard(id(value))
    return _Dropped(
        "type %s cannot be written to a property list" % type(value).__name__
    )


def _same(a, b):
    """Whether a value came back from the binary as it was sent.

    Dates lose their fraction of a second in an XML property list, and NaN
    is not equal to itself.
    """
    if isinstance(a, datetime.datetime) and isinstance(b, datetime.datetime):
        return abs((a - b).total_seconds()) < 1
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _parse_version(out):
    """The version in `jcds2-uploader -version` output, or None."""
    parts = out.split()
    if len(parts) != 2 or parts[0] != BINARY_NAME:
        return None
    return parts[1]


def _release_of(version):
    """version without semver build metadata (after "+"), which dev builds of
    the same release add (e.g. 0.3.0+g1a2b3c4)."""
    return version.split("+", 1)[0]


def _quarantined(path):
    """Whether path has the quarantine attribute; None when xattr fails."""
    try:
        proc = subprocess.run(
            [XATTR, "-p", QUARANTINE_ATTR, path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=VERSION_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode == 0:
        return True
    if b"No such xattr" in proc.stderr or proc.returncode == 1:
        return False
    return None


def _killed_at_start(binary):
    """Why macOS kills a binary before it prints anything, and the fix."""
    real = os.path.realpath(binary)
    head = "%s was killed as it started (SIGKILL, no output)" % binary
    quarantine_fix = (
        "clear the attribute with:\n    xattr -d %s %s\n(prefix sudo when the "
        "file belongs to root), or install the signed and notarized installer "
        "package instead" % (QUARANTINE_ATTR, real)
    )
    signature_fix = (
        "macOS runs only binaries with a valid code signature: use the release "
        "binary, which has a Developer ID signature and is notarized (installer "
        "package or release archive), or give a binary you built yourself an "
        "ad-hoc signature with `codesign --force --sign - %s`. `codesign "
        "--verify --verbose %s` shows what is wrong" % (real, real)
    )
    quarantined = _quarantined(real)
    if quarantined:
        return (
            "%s: macOS Gatekeeper stopped it because it carries the quarantine "
            "attribute (%s) of a download and is not notarized; %s."
            % (head, QUARANTINE_ATTR, quarantine_fix)
        )
    if quarantined is False:
        return (
            "%s, and it has no quarantine attribute, so its code signature is "
            "missing or invalid (an unsigned or modified binary); %s." % (head, signature_fix)
        )
    return (
        "%s. If it was downloaded, %s. Otherwise %s." % (head, quarantine_fix, signature_fix)
    )


class JCDS2PackageUploader(Processor):  # pylint: disable=too-few-public-methods
    """Runs jcds2-uploader, which uploads a package to Jamf Pro's JCDS 2.0."""

    # BEGIN MANIFEST (generated from `jcds2-uploader -describe` by
    # recipes/sync_manifest.py, secrets moved into the description;
    # test_shim.py checks it matches)
    description = (
        "Uploads a package to Jamf Pro's cloud distribution point (JCDS 2.0) and writes"
        " its package metadata. A drop-in replacement for JamfPackageUploader in jcds2 "
        "mode: same inputs, same outputs, truthful results, multipart uploads of any "
        "size, no Python modules to install. Secrets are read from AutoPkg's "
        "environment (its preferences) but not declared as inputs, so that `autopkg run"
        " -vv` does not print them. API_PASSWORD: Password of API_USERNAME. On macOS it"
        " may instead come from the login keychain (an internet password for JSS_URL "
        "and the account). CLIENT_SECRET: Secret of CLIENT_ID. On macOS it may instead "
        "come from the login keychain. BEARER_TOKEN: A ready Jamf Pro bearer token, "
        "used as is instead of any other credential. SMB_PASSWORD: Ignored: the "
        "password for SMB_URL, which is refused."
    )
    input_variables = {
        "API_USERNAME": {
            "required": False,
            "description": (
                "Jamf Pro account name, exchanged with API_PASSWORD for a bearer token."
                " On macOS, when neither API_USERNAME nor CLIENT_ID is given, the "
                "account is taken from the login keychain's internet password for "
                "JSS_URL (as JamfUploader's set-credentials.sh stores it): a UUID is "
                "used as an API client ID, anything else as an account name."
            ),
        },
        "CLIENT_ID": {
            "required": False,
            "description": (
                "API client ID (OAuth client credentials); preferred over API_USERNAME "
                "when both are given."
            ),
        },
        "CLOUD_DP": {
            "required": False,
            "description": (
                "JamfPackageUploader's switch to upload to the cloud distribution point"
                " as well as to file shares. This processor only ever uploads to the "
                "cloud distribution point, so True on its own changes nothing; with a "
                "file share set it is refused like SMB_URL."
            ),
        },
        "JAMF_CLI_PROFILE": {
            "required": False,
            "description": (
                "Refused when set: jamf-cli is not used. Give JSS_URL and CLIENT_ID "
                "with CLIENT_SECRET (or the secret in the login keychain), or a ready "
                "BEARER_TOKEN, instead."
            ),
        },
        "JSS_URL": {
            "required": True,
            "description": (
                "URL of the Jamf Pro server, e.g. https://example.jamfcloud.com. A "
                "trailing / is ignored."
            ),
        },
        "PLATFORM_API_REGION": {
            "required": False,
            "description": (
                "Refused when set: the Jamf Platform API gateway is not supported; "
                "authenticate to Jamf Pro at JSS_URL with an API client or account "
                "instead."
            ),
        },
        "PLATFORM_API_TENANT_ID": {
            "required": False,
            "description": "Refused when set, like PLATFORM_API_REGION.",
        },
        "S3_BUCKET_NAME": {
            "required": False,
            "description": "Ignored: the bucket of aws_cdp_mode, which is refused.",
        },
        "SMB_SHARES": {
            "required": False,
            "description": "Refused when a non-empty array, like SMB_URL.",
        },
        "SMB_URL": {
            "required": False,
            "description": (
                "Refused when set (not empty): JamfPackageUploader copied the package "
                "to this file share distribution point, and this processor uploads only"
                " to the cloud distribution point. The run stops before contacting Jamf"
                " Pro unless file_shares_updated_elsewhere is True. The same holds for "
                "SMB2_URL, SMB3_URL and so on."
            ),
        },
        "SMB_USERNAME": {
            "required": False,
            "description": "Ignored: the account for SMB_URL, which is refused.",
        },
        "aws_cdp_mode": {
            "required": False,
            "description": (
                "Refused when True: JamfPackageUploader then copied the package to your"
                " own S3 bucket as the cloud distribution point, and this processor "
                "uploads only to Jamf's cloud distribution service (JCDS). The run "
                "stops before contacting Jamf Pro."
            ),
        },
        "dry_run": {
            "required": False,
            "default": "False",
            "description": (
                "Look everything up and log the plan, but change nothing (boolean). "
                "Outputs say what would have happened."
            ),
        },
        "file_shares_updated_elsewhere": {
            "required": False,
            "default": "False",
            "description": (
                "True: another step (e.g. JamfPackageUploader after this one, with "
                "CLOUD_DP False) keeps the file share distribution points updated, so "
                "SMB_URL, SMBn_URL and SMB_SHARES do not stop the run; this processor "
                "leaves the shares alone (boolean)."
            ),
        },
        "insecure_mode": {
            "required": False,
            "default": "False",
            "description": (
                "Do not verify TLS certificates (boolean). Prefer SSL_CERT_FILE with "
                "your CA bundle."
            ),
        },
        "jcds2_mode": {
            "required": False,
            "default": "False",
            "description": (
                "Accepted for compatibility with JamfPackageUploader; the same as "
                "leaving upload_mode unset (the JCDS 2.0 flow while the server offers "
                "it)."
            ),
        },
        "jcds2_uploader_path": {
            "required": False,
            "description": (
                "Path to the jcds2-uploader binary; used by the shim processor only."
            ),
        },
        "jcds_mode": {
            "required": False,
            "description": (
                "Ignored: the JCDS 1 mode no longer exists; a warning is logged when "
                "set."
            ),
        },
        "max_tries": {
            "required": False,
            "default": "5",
            "description": "Tries per request, 1 to 10 (anything else: 5).",
        },
        "md5": {
            "required": False,
            "default": "False",
            "description": (
                "Before Jamf Pro 11.11 (no inventory refresh), write an MD5 hash in the"
                " package metadata instead of SHA-512 (boolean). From 11.11 the "
                "metadata carries only the server's own hashes, its md5 field included,"
                " which the inventory refresh after every upload fills (see "
                "recipes/MIGRATING.md, The md5 input)."
            ),
        },
        "os_requirements": {
            "required": False,
            "description": "OS requirements, e.g. 14.x, 15.x.",
        },
        "pkg_category": {
            "required": False,
            "description": (
                "Category name for the package object; %KEY% placeholders are replaced "
                "from the environment. The category must already exist."
            ),
        },
        "pkg_display_name": {
            "required": False,
            "description": "Display name of the package object. Defaults to pkg_name.",
        },
        "pkg_info": {
            "required": False,
            "description": "Package info field.",
        },
        "pkg_name": {
            "required": False,
            "description": (
                "File name in the distribution point. Defaults to the base name of "
                "pkg_path; when it differs, the file is uploaded under this name."
            ),
        },
        "pkg_notes": {
            "required": False,
            "description": "Package notes field.",
        },
        "pkg_path": {
            "required": False,
            "description": (
                "Path to the package to upload. When empty, pathname is used if it ends"
                " in .pkg. A relative path is searched for beside the recipe "
                "(RECIPE_DIR, its siblings, RECIPE_OVERRIDE_DIRS, RECIPE_SEARCH_DIRS). "
                "A bundle package (a folder) is zipped first."
            ),
        },
        "pkg_priority": {
            "required": False,
            "default": "10",
            "description": "Package priority.",
        },
        "reboot_required": {
            "required": False,
            "description": "Whether the package requires a reboot (boolean).",
        },
        "recalculate": {
            "required": False,
            "default": "False",
            "description": (
                "Ask Jamf Pro (11.11+) for a full inventory refresh after writing "
                "metadata, unless this run already refreshed (boolean). Every upload is"
                " followed by a refresh of its file anyway; packages_recalculated "
                "reports True when either ran."
            ),
        },
        "recalculate_wait_time": {
            "required": False,
            "default": "0",
            "description": (
                "Seconds to wait before the first inventory refresh of the run, as "
                "JamfPackageUploader does before its refresh. Rarely needed: every "
                "upload and metadata write is followed by a refresh and a check that "
                "Jamf Pro shows the package ready."
            ),
        },
        "replace_pkg": {
            "required": False,
            "default": "False",
            "description": (
                "Upload even if a package object of that name exists (boolean)."
            ),
        },
        "replace_pkg_metadata": {
            "required": False,
            "default": "False",
            "description": (
                "Rewrite the package metadata even when the file is not uploaded again "
                "(boolean)."
            ),
        },
        "required_processor": {
            "required": False,
            "default": "None",
            "description": "Required processor: None, x86 or ppc.",
        },
        "send_notification": {
            "required": False,
            "description": "Whether to send a notification when installed (boolean).",
        },
        "skip_and_proceed": {
            "required": False,
            "default": "False",
            "description": (
                "If True, skip the upload process and proceed (boolean), as in "
                "JamfPackageUploader: no file is read and no request is sent to Jamf "
                "Pro, process_skipped is set True and every other output is left as it "
                'was. Usually given from a recipe variable ("%SKIP_PACKAGE%") or with '
                "--key."
            ),
        },
        "skip_metadata_upload": {
            "required": False,
            "default": "False",
            "description": (
                "Never amend an existing package object (boolean). A new package still "
                "gets its object, as JamfPackageUploader does."
            ),
        },
        "sleep": {
            "required": False,
            "default": "0",
            "description": (
                "Seconds to wait before the first retry of a request; later retries "
                "back off exponentially with jitter, and a server's Retry-After is "
                "honoured."
            ),
        },
        "upload_concurrency": {
            "required": False,
            "default": "32",
            "description": (
                "Parts of the JCDS 2.0 upload in flight at once, 1 to 64. More suit "
                "long, fast paths; fewer leave more of a link shared with people at "
                "work. Parts are read from the file as they are sent, so memory does "
                "not grow with it."
            ),
        },
        "upload_mode": {
            "required": False,
            "default": "auto",
            "description": (
                "auto (the default): the JCDS 2.0 S3 flow while the server's JCDS "
                "endpoints answer (deprecated by Jamf since 2025-08-28), else "
                "/api/v1/packages/{id}/upload with one warning; jcds2: the JCDS flow "
                "only (on 11.5+ a file of the same name is still replaced through "
                "{id}/upload, never deleted), failing where the endpoints are gone; v1:"
                " /api/v1/packages/{id}/upload (Jamf Pro 11.5+)."
            ),
        },
        "upload_part_size": {
            "required": False,
            "description": (
                "Part size of the JCDS 2.0 upload in MiB, 5 to 5120. By default 8, "
                "larger when a file needs it to stay within S3's 10,000 parts. A size "
                "that would need more than 10,000 parts is refused before the upload "
                "starts."
            ),
        },
        "verify_timeout": {
            "required": False,
            "description": (
                "Seconds to wait for every pod of Jamf Pro to show the file READY with "
                "its size and SHA3-512 after an upload or metadata write before "
                "failing; -v logs each pod's progress. Unset, the budget grows with the"
                " file: 600 s, or the size at 8 MB/s plus 2 minutes where that is "
                "longer (25 minutes for 10.85 GB). A value you set is kept."
            ),
        },
        "version": {
            "required": False,
            "description": "Version string, only reported in the summary.",
        },
    }
    output_variables = {
        "jamfpackageuploader_summary_result": {
            "description": (
                "Summary for AutoPkg's report, present only when something was uploaded"
                " or updated."
            ),
        },
        "pkg_display_name": {
            "description": "Display name of the package object.",
        },
        "pkg_id": {
            "description": (
                "ID of the package object in Jamf Pro (empty when none exists, e.g. on "
                "a dry run of a new package)."
            ),
        },
        "pkg_metadata_updated": {
            "description": (
                "True when the package object was created or updated in this run."
            ),
        },
        "pkg_name": {
            "description": "File name in the distribution point.",
        },
        "pkg_path": {
            "description": (
                "Path of the uploaded file: pkg_path, or the .zip made from a bundle "
                "package."
            ),
        },
        "pkg_plan": {
            "description": (
                "On a dry run only: the steps a real run would take, one sentence each."
            ),
        },
        "pkg_pods_verified": {
            "description": (
                "How many pods of the Jamf Cloud instance showed the file READY with "
                "its size and SHA3-512 in this run: every pod, or the run fails (1 on "
                "an instance without a load-balancer cookie; 0 when nothing was waited "
                "for). The summary reports it as pods_verified."
            ),
        },
        "pkg_sha3_512": {
            "description": (
                "SHA3-512 of the package file, when it was computed in this run."
            ),
        },
        "pkg_upload_status": {
            "description": (
                "What happened to the file: uploaded, unchanged-hash-match, "
                "skipped-exists or dry-run."
            ),
        },
        "pkg_uploaded": {
            "description": "True only when package bytes were sent in this run.",
        },
        "process_skipped": {
            "description": (
                "True if the process was skipped because skip_and_proceed was True; "
                "False on every other run."
            ),
        },
    }
    # END MANIFEST

    def main(self):
        binary = self._find_binary()
        self._check_version(binary)
        payload, sent = self._encode_env()
        proc, stdout, stderr_tail, error_message = self._run(binary, payload)
        code = proc.returncode
        if code == 0:
            self._update_env(stdout, sent)
            return
        if code == EXIT_PROCESSOR_ERROR and error_message is not None:
            raise ProcessorError(error_message)
        if code < 0:
            try:
                what = "was stopped by signal %s" % signal.Signals(-code).name
            except ValueError:
                what = "was stopped by signal %d" % -code
        else:
            what = "exited with status %d" % code
        if (
            code == -signal.SIGKILL
            and not stderr_tail
            and not stdout
            and _quarantined(os.path.realpath(binary))
        ):
            # -version ran a moment ago, so Gatekeeper is the cause only if
            # the file was swapped since; without the attribute a silent
            # SIGKILL is as likely the memory killer or a user's kill -9.
            raise ProcessorError(_killed_at_start(binary))
        msg = "%s %s" % (binary, what)
        if stderr_tail:
            msg += "; last lines of its output:\n" + "\n".join(stderr_tail)
        else:
            msg += " and printed nothing"
        raise ProcessorError(msg)

    # -- finding the binary -------------------------------------------------

    def _find_binary(self):
        explicit = self.env.get("jcds2_uploader_path")
        if explicit:
            path = os.path.expanduser(str(explicit))
            if _is_executable(path):
                return path
            raise ProcessorError(
                "jcds2_uploader_path is %s, which is not an executable file. "
                "Point it at the jcds2-uploader binary, or leave it unset to "
                "use the one installed beside this processor or on PATH." % path
            )
        candidates = []
        here = os.path.dirname(os.path.abspath(__file__))
        candidates.append(os.path.join(here, BINARY_NAME))
        real_here = os.path.dirname(os.path.realpath(__file__))
        if real_here != here:
            candidates.append(os.path.join(real_here, BINARY_NAME))
        for path in candidates:
            if _is_executable(path):
                return path
        on_path = shutil.which(BINARY_NAME)
        if on_path:
            return on_path
        for path in (DEFAULT_BINARY, HOMEBREW_BINARY):
            if _is_executable(path):
                return path
        looked = candidates + [
            "PATH (%s)" % os.environ.get("PATH", ""),
            DEFAULT_BINARY,
            HOMEBREW_BINARY,
        ]
        raise ProcessorError(
            "the jcds2-uploader binary was not found (looked at: %s). Install "
            "jcds2-uploader %s: the installer package puts the binary in "
            "/usr/local/bin; from the release archive, copy jcds2-uploader to "
            "/usr/local/bin; from source, `make build` then `sudo make install`. "
            "Or set the jcds2_uploader_path input (or AutoPkg preference) to the "
            "binary's full path." % (", ".join(looked), BINARY_VERSION)
        )

    # -- checking the binary ------------------------------------------------

    def _check_version(self, binary):
        """Refuse a binary of another release than this processor's.

        Applies to jcds2_uploader_path too: that input chooses which copy
        runs, not which release, because this file's inputs and outputs
        describe one release of the binary.
        """
        try:
            proc = subprocess.run(
                [binary, "-version"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=VERSION_TIMEOUT_SECONDS,
                check=False,
            )
        except OSError as err:
            raise ProcessorError("cannot run %s: %s" % (binary, err)) from err
        except subprocess.TimeoutExpired as err:
            raise ProcessorError(
                "%s -version did not answer within %ds" % (binary, VERSION_TIMEOUT_SECONDS)
            ) from err
        out = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode == -signal.SIGKILL and not out and not proc.stderr:
            raise ProcessorError(_killed_at_start(binary))
        found = _parse_version(out) if proc.returncode == 0 else None
        if found is None:
            detail = (out or proc.stderr.decode("utf-8", "replace")).strip()
            raise ProcessorError(
                "%s does not look like jcds2-uploader %s: `%s -version` exited "
                "with status %d and printed %r. Point jcds2_uploader_path at the "
                "jcds2-uploader binary, or reinstall it."
                % (binary, BINARY_VERSION, binary, proc.returncode, detail[:200])
            )
        if _release_of(found) != _release_of(BINARY_VERSION):
            raise ProcessorError(
                "%s is jcds2-uploader %s, but this processor (%s) belongs to "
                "jcds2-uploader %s. Install the binary and the processor from the "
                "same release: the installer package or release archive of the "
                "version you want has both (from source: `make build` then `sudo "
                "make install`), or point jcds2_uploader_path at a %s binary. A new "
                "processor file changes your overrides' trust info: review it with "
                "`autopkg verify-trust-info -vv`, then `autopkg update-trust-info`."
                % (
                    binary,
                    found,
                    os.path.abspath(__file__),
                    BINARY_VERSION,
                    BINARY_VERSION,
                )
            )

    # -- environment out ----------------------------------------------------

    def _encode_env(self):
        """Return (plist bytes, the dict that was encoded)."""
        notes = []
        sent = {}
        for key, value in self.env.items():
            if not isinstance(key, str):
                reason = "key of type %s is not a string" % type(key).__name__
                notes.append(([], reason, False, key))
                continue
            inner = []
            clean = _sanitize(value, [], set(), inner)
            for path, reason, is_none in inner:
                notes.append((path, reason, is_none, key))
            if isinstance(clean, _Dropped):
                notes.append(([], clean.reason, value is None, key))
                continue
            sent[str.__str__(key)] = clean
        for key in PROCESS_ENV_SECRETS:
            if key not in sent and os.environ.get(key):
                sent[key] = os.environ[key]
        for path, reason, is_none, key in notes:
            where = _describe_path(key, path)
            if is_none:
                # None is common in AutoPkg's environment and never reaches
                # an external processor (execute_shell drops it too).
                self.output("not passing %s: value is None" % where, verbose_level=2)
            else:
                self.output(
                    "WARNING: not passing %s to jcds2-uploader: %s" % (where, reason),
                    verbose_level=0,
                )
        try:
            payload = plistlib.dumps(sent, fmt=plistlib.FMT_BINARY, sort_keys=False)
        except (TypeError, ValueError, OverflowError, UnicodeError):
            # _sanitize should have caught everything; if plistlib still
            # refuses, find the key one at a time rather than fail the run.
            for key in list(sent):
                try:
                    plistlib.dumps({key: sent[key]}, fmt=plistlib.FMT_BINARY)
                except (TypeError, ValueError, OverflowError, UnicodeError) as err:
                    self.output(
                        "WARNING: not passing %s to jcds2-uploader: %s"
                        % (key, type(err).__name__),
                        verbose_level=0,
                    )
                    del sent[key]
            payload = plistlib.dumps(sent, fmt=plistlib.FMT_BINARY, sort_keys=False)
        return payload, sent

    # -- running ------------------------------------------------------------

    def _emit(self, line):
        # The binary already prefixes its lines with the processor name and
        # filters them by the verbose key; show every line it prints.
        if line.startswith(LOG_PREFIX):
            line = line[len(LOG_PREFIX):]
        self.output(line, verbose_level=0)

    def _run(self, binary, payload):
        """Run the binary; return (proc, stdout bytes, stderr tail, error)."""
        try:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [binary],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as err:
            raise ProcessorError("cannot run %s: %s" % (binary, err)) from err

        chunks = []

        def write_stdin():
            try:
                proc.stdin.write(payload)
            except OSError:
                # The binary exited before reading everything (it reports
                # why on standard error).
                pass
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        def read_stdout():
            chunks.append(proc.stdout.read())

        writer = threading.Thread(target=write_stdin, name="jcds2-stdin", daemon=True)
        reader = threading.Thread(target=read_stdout, name="jcds2-stdout", daemon=True)
        tail = collections.deque(maxlen=TAIL_LINES)
        error_lines = None
        restore = self._install_sigterm_handler()
        try:
            writer.start()
            reader.start()
            # The main thread reads standard error so that log lines are
            # printed from the thread AutoPkg runs processors in, and so that
            # a signal interrupts the wait here.
            for raw in iter(proc.stderr.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if error_lines is None and line.startswith(ERROR_PREFIX):
                    error_lines = [line[len(ERROR_PREFIX):]]
                elif error_lines is not None:
                    # A multi-line error message: the binary exits right
                    # after printing it.
                    error_lines.append(line)
                else:
                    tail.append(line)
                    self._emit(line)
            proc.wait()
            reader.join()
            writer.join()
        except BaseException as err:
            self._stop(proc, reader, writer)
            # The binary's last words say which step it was in and what it
            # had changed; shown now, they are in the log even when the
            # signal passed on below ends AutoPkg.
            said = self._stop_message(proc, error_lines)
            if said:
                self.output("jcds2-uploader stopped: %s" % said, verbose_level=0)
            self._close(proc, reader, writer)
            restore()
            restore = None
            if isinstance(err, _Interrupted):
                self._redeliver(err.signum)
                raise ProcessorError(
                    "interrupted by %s; jcds2-uploader was stopped%s"
                    % (signal.Signals(err.signum).name, ": " + said if said else "")
                ) from None
            raise
        finally:
            if restore is not None:
                restore()
        self._close(proc, reader, writer)
        message = None
        if error_lines is not None:
            message = "\n".join(error_lines).strip()
            tail.append(ERROR_PREFIX + error_lines[0])
            tail.extend(error_lines[1:])
        return proc, b"".join(chunks), list(tail), message

    def _stop_message(self, proc, error_lines):
        """The ProcessorError the stopped binary printed, if any: the rest
        of its standard error, read once it has exited (so the read ends),
        its other lines shown as usual."""
        lines = list(error_lines or [])
        if proc.poll() is None or proc.stderr is None or proc.stderr.closed:
            return "\n".join(lines).strip()
        try:
            rest = proc.stderr.read()
        except (OSError, ValueError):
            rest = b""
        for raw in (rest or b"").splitlines():
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if not lines and line.startswith(ERROR_PREFIX):
                lines = [line[len(ERROR_PREFIX):]]
            elif lines:
                lines.append(line)
            else:
                self._emit(line)
        return "\n".join(lines).strip()

    def _install_sigterm_handler(self):
        """While the binary runs, SIGTERM stops it before AutoPkg goes.

        SIGINT needs nothing: Python turns it into KeyboardInterrupt, which
        the run loop handles like any exception. Returns a function that
        puts the previous handler back.
        """
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        try:
            previous = signal.getsignal(signal.SIGTERM)
        except (AttributeError, ValueError):
            return lambda: None
        if previous in (signal.SIG_IGN, None):
            # Ignored (or set outside Python): leave it alone.
            return lambda: None

        def handler(signum, frame):  # pylint: disable=unused-argument
            raise _Interrupted(signum)

        signal.signal(signal.SIGTERM, handler)

        def restore():
            signal.signal(signal.SIGTERM, previous)

        return restore

    @staticmethod
    def _redeliver(signum):
        """Give the signal to whatever handled it before the shim."""
        os.kill(os.getpid(), signum)
        # A Python handler runs at the next bytecode; give it the chance.
        # With the default action the process is gone before this returns.

    @staticmethod
    def _stop(proc, *threads):
        """Stop the binary: SIGTERM (it aborts its upload), then SIGKILL."""
        if proc.poll() is None:
            try:
                proc.terminate()
                proc.wait(TERMINATE_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except OSError:
                pass
        # With the binary gone its pipes reach end of file and the helper
        # threads finish; they are daemons, so a stuck one cannot hold
        # AutoPkg open.
        for thread in threads:
            if thread.is_alive():
                thread.join(5)

    @staticmethod
    def _close(proc, *threads):
        """Close the pipes no helper thread is still using."""
        if any(thread.is_alive() for thread in threads):
            return
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except (OSError, ValueError):
                    pass

    # -- environment back ---------------------------------------------------

    def _update_env(self, stdout, sent):
        try:
            out = plistlib.loads(stdout)
        except Exception as err:  # pylint: disable=broad-except
            raise ProcessorError(
                "jcds2-uploader succeeded but its standard output is not a "
                "property list (%s: %s); first bytes: %r"
                % (type(err).__name__, err, stdout[:80])
            ) from err
        if not isinstance(out, dict):
            raise ProcessorError(
                "jcds2-uploader succeeded but printed a %s instead of the "
                "environment dictionary" % type(out).__name__
            )
        for key, value in out.items():
            if key in sent and _same(sent[key], value):
                # Unchanged: keep AutoPkg's own value, including any items
                # the shim could not send.
                continue
            self.env[key] = value
        for key in sent:
            if key not in out and key in self.output_variables:
                # The binary removed one of its own outputs (e.g. a summary
                # from an earlier run). Other keys it leaves out, such as the
                # credentials it never echoes back, stay as AutoPkg has them
                # for the processors that follow.
                self.env.pop(key, None)


if __name__ == "__main__":
    PROCESSOR = JCDS2PackageUploader()
    PROCESSOR.execute_shell()
