#!/usr/bin/env python3
"""Rewrite the shim's manifest from the binary's `-describe` output.

AutoPkg reads description, input_variables and output_variables from the
Python class without running anything (`autopkg processor-info`, recipe
verification), so the shim carries a copy of the binary's manifest. After
changing the binary's inputs or outputs run, from the repository root:

    go build -o bin/jcds2-uploader . && python3 recipes/sync_manifest.py

test_shim.py fails while the copy and the binary disagree.
"""

import json
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, "JCDS2PackageUploader.py")
DEFAULT_BINARY = os.path.join(os.path.dirname(HERE), "bin", "jcds2-uploader")
BEGIN = "    # BEGIN MANIFEST"
END = "    # END MANIFEST"
WIDTH = 88

# Inputs that carry secrets. AutoPkg prints every declared input with its
# value at `autopkg run -vv`, so the shim does not declare these; AutoPkg
# still passes them in the environment (from its preferences, or a recipe's
# Arguments), and the shim hands the whole environment to the binary. Their
# documentation moves into the description, which `autopkg processor-info`
# shows. test_shim.py fails when -describe gains an input whose name looks
# like a secret and is not listed here.
SECRET_INPUTS = ("API_PASSWORD", "CLIENT_SECRET", "BEARER_TOKEN", "SMB_PASSWORD")


def shim_manifest(manifest):
    """The manifest as the shim declares it: secrets moved from
    input_variables into the description."""
    inputs = dict(manifest["input_variables"])
    notes = []
    for name in SECRET_INPUTS:
        flags = inputs.pop(name, None)
        if flags is not None:
            notes.append("%s: %s" % (name, flags["description"]))
    description = manifest["description"]
    if notes:
        description += (
            " Secrets are read from AutoPkg's environment (its preferences) but "
            "not declared as inputs, so that `autopkg run -vv` does not print them. "
            + " ".join(notes)
        )
    return {
        "name": manifest["name"],
        "description": description,
        "input_variables": inputs,
        "output_variables": manifest["output_variables"],
    }


def describe(binary):
    """Run `binary -describe` and return the parsed manifest."""
    out = subprocess.run(
        [binary, "-describe"], check=True, stdout=subprocess.PIPE
    ).stdout
    return json.loads(out.decode("utf-8"))


def quote(text):
    """A double-quoted Python string literal for text."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1].replace("\\'", "'") + '"'
    return literal


def string_block(text, indent, lead):
    """text as a literal after lead characters, or as a parenthesised run
    of literals when it does not fit the line width."""
    pad = " " * indent
    one = quote(text)
    if lead + len(one) + 1 <= WIDTH:
        return one
    room = WIDTH - indent - 4 - 2
    pieces = textwrap.wrap(
        text, room, drop_whitespace=False, break_long_words=False, break_on_hyphens=False
    )
    inner = "\n".join(pad + "    " + quote(p) for p in pieces)
    return "(\n" + inner + "\n" + pad + ")"


def render(manifest):
    """The class body lines between the BEGIN and END markers."""
    lines = []
    lines.append(
        "    description = " + string_block(manifest["description"], 4, 18)
    )
    lines.append("    input_variables = {")
    for name, flags in manifest["input_variables"].items():
        lines.append("        %s: {" % quote(name))
        lines.append('            "required": %r,' % bool(flags["required"]))
        if "default" in flags:
            lines.append('            "default": %s,' % quote(flags["default"]))
        for key in sorted(k for k in flags if k not in ("required", "default", "description")):
            lines.append("            %s: %r," % (quote(key), flags[key]))
        lines.append(
            '            "description": %s,' % string_block(flags["description"], 12, 27)
        )
        lines.append("        },")
    lines.append("    }")
    lines.append("    output_variables = {")
    for name, flags in manifest["output_variables"].items():
        lines.append("        %s: {" % quote(name))
        lines.append(
            '            "description": %s,' % string_block(flags["description"], 12, 27)
        )
        lines.append("        },")
    lines.append("    }")
    return lines


def main(argv):
    binary = argv[1] if len(argv) > 1 else DEFAULT_BINARY
    manifest = shim_manifest(describe(binary))
    with open(SHIM, encoding="utf-8") as f:
        source = f.read().split("\n")
    start = next(i for i, l in enumerate(source) if l.startswith(BEGIN))
    # The BEGIN comment runs over two lines.
    first = start + 1
    while source[first].startswith("    #"):
        first += 1
    end = next(i for i, l in enumerate(source) if l.startswith(END))
    new = "\n".join(source[:first] + render(manifest) + source[end:])
    if new == "\n".join(source):
        print("manifest already up to date")
        return 0
    with open(SHIM, "w", encoding="utf-8") as f:
        f.write(new)
    print("updated", SHIM)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
