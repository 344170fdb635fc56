"""A minimal stand-in for AutoPkg's autopkglib, for the shim's unit tests
only: they import the processor into the test's own Python, which lacks
AutoPkg's modules (yaml, appdirs, certifi, lxml). Everything AutoPkg does
(recipes, overrides, defaults, --key, recipe lists, receipts, verbosity) is
tested under the real AutoPkg (recipes/tests/real_autopkg.py).

It has just what the shim and AutoPkg's processor contract use: a
Processor with env, output(), process() (defaults and required inputs,
then main()) and execute_shell(), and ProcessorError. Written for these
tests; it is not AutoPkg's code.
"""

import plistlib
import re
import sys

__all__ = ["Processor", "ProcessorError", "update_data"]

# A %KEY% reference inside a value, as AutoPkg's substitution reads them.
RE_KEYREF = re.compile(r"%(?P<key>[a-zA-Z_][a-zA-Z_0-9]*)%")


def update_data(a_dict, key, value):
    """Set a_dict[key] to value with %KEY% references replaced from
    a_dict, inside lists and dictionaries too. An unknown reference is
    left as it is (AutoPkg logs it)."""

    def sub(item):
        if isinstance(item, str):
            return RE_KEYREF.sub(
                lambda m: str(a_dict[m.group("key")]) if m.group("key") in a_dict else m.group(0), item
            )
        if isinstance(item, list):
            return [sub(i) for i in item]
        if isinstance(item, dict):
            return {k: sub(v) for k, v in item.items()}
        return item

    a_dict[key] = sub(value)


class ProcessorError(Exception):
    """A processor failure AutoPkg reports and stops the recipe for."""


class Processor:
    """Base class of AutoPkg processors, reduced to the parts the shim uses."""

    description = ""
    input_variables = {}
    output_variables = {}

    def __init__(self, env=None, infile=None, outfile=None):
        self.env = env if env is not None else {}
        self.infile = infile if infile is not None else sys.stdin.buffer
        self.outfile = outfile if outfile is not None else sys.stdout.buffer

    def output(self, msg, verbose_level=1):
        """Print msg when the env's verbose is at least verbose_level."""
        if int(self.env.get("verbose", 0)) >= verbose_level:
            print("%s: %s" % (self.__class__.__name__, msg), flush=True)

    def main(self):
        raise ProcessorError("main() is not implemented")

    def inject(self, arguments):
        """Set a recipe step's Arguments into the environment."""
        for key, value in arguments.items():
            update_data(self.env, key, value)

    def process(self):
        """Apply input defaults, check required inputs, run main()."""
        for name, flags in self.input_variables.items():
            if "default" in flags and name not in self.env:
                self.env[name] = flags["default"]
            if flags.get("required") and name not in self.env:
                raise ProcessorError("%s requires %s" % (self.__class__.__name__, name))
        self.main()
        return self.env

    def execute_shell(self):
        """Run as a program: env plist on stdin, env plist on stdout."""
        try:
            data = self.infile.read()
            self.env = plistlib.loads(data) if data else {}
            self.main()
            plistlib.dump(
                {k: v for k, v in self.env.items() if v is not None}, self.outfile
            )
        except ProcessorError as err:
            print("ProcessorError: %s" % err, file=sys.stderr)
            sys.exit(10)
        sys.exit(0)
