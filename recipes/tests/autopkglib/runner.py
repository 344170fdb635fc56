"""A stand-in for the parts of the `autopkg` tool that decide which steps
run with which environment: finding and loading recipes (parents,
overrides, `--post`), the environment (preferences, recipe Input, `--key`,
step Arguments) and finding a shared processor. For the migration tests
only; written for these tests from how AutoPkg behaves, not AutoPkg's code.

What it models, as AutoPkg 2.x does it:

- A recipe is found by file name (NAME.recipe, .recipe.plist, .recipe.yaml)
  or by Identifier, in each search folder and one level below; overrides
  folders are searched first.
- A recipe with a ParentRecipe is merged into its parent: the child's
  Input keys replace the parent's, the child's Process steps are appended
  to the parent's. An override is such a child: it can add steps, never
  replace one.
- `--post NAME` (`--postprocessor`) appends a step {"Processor": NAME}, with
  no Arguments, after the merged recipe's steps; `--pre` puts one first.
- The environment starts from the preferences, plus RECIPE_PATH,
  RECIPE_DIR, PARENT_RECIPES, RECIPE_SEARCH_DIRS, RECIPE_OVERRIDE_DIRS and
  verbose; then the recipe's Input, then the `--key KEY=VALUE` values
  (strings, for every recipe in the run), with %KEY% substitution; then
  RECIPE_CACHE_DIR. Each step's Arguments are set into the shared
  environment (and stay there for later steps) before it runs.
- A processor named IDENTIFIER/Name is loaded from Name.py beside the
  recipe with that identifier (found in RECIPE_SEARCH_DIRS), beside the
  running recipe, or beside its parents.
- `autopkg processor-info NAME [--recipe RECIPE]` looks NAME up with only
  the recipe (no environment): beside that recipe and its parents, never
  through an IDENTIFIER/ prefix.
"""

import glob
import importlib.util
import os
import plistlib

import autopkglib
from autopkglib import ProcessorError, update_data

RECIPE_EXTS = (".recipe", ".recipe.plist", ".recipe.yaml")


class RecipeError(Exception):
    """A recipe or processor could not be found or loaded."""


def recipe_from_file(path):
    """Read a plist or YAML recipe."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".yaml"):
        import yaml  # pylint: disable=import-outside-toplevel

        recipe = yaml.safe_load(data.decode("utf-8"))
    else:
        recipe = plistlib.loads(data)
    recipe.setdefault("Input", {})
    recipe.setdefault("Process", [])
    return recipe


def _candidates(dirs, pattern_name):
    for directory in dirs:
        top = os.path.abspath(os.path.expanduser(directory))
        for ext in RECIPE_EXTS:
            for pattern in (os.path.join(top, pattern_name + ext), os.path.join(top, "*", pattern_name + ext)):
                for match in sorted(glob.glob(pattern)):
                    yield match


def find_recipe_by_identifier(identifier, dirs):
    for path in _candidates(dirs, "*"):
        if recipe_from_file(path).get("Identifier") == identifier:
            return path
    return None


def find_recipe(name, dirs):
    if os.path.isfile(name):
        return name
    found = find_recipe_by_identifier(name, dirs)
    if found:
        return found
    base = name
    for ext in RECIPE_EXTS:
        if base.endswith(ext):
            base = base[: -len(ext)]
    for path in _candidates(dirs, base):
        return path
    return None


def load_recipe(name, override_dirs, search_dirs, preprocessors=None, postprocessors=None):
    """Find name and merge it with its parents; add pre/post steps."""
    path = find_recipe(name, list(override_dirs) + list(search_dirs))
    if not path:
        raise RecipeError("No recipe found for %s" % name)
    recipe = recipe_from_file(path)
    parent_id = recipe.get("ParentRecipe")
    if parent_id:
        child = recipe
        # The parent is searched beside the child too, never among overrides.
        recipe = load_recipe(parent_id, [], list(search_dirs) + [os.path.dirname(path)])
        recipe["Identifier"] = child.get("Identifier", recipe.get("Identifier"))
        recipe["Input"].update(child.get("Input", {}))
        recipe["Process"].extend(child.get("Process", []))
        recipe["PARENT_RECIPES"] = [recipe["RECIPE_PATH"]] + recipe.get("PARENT_RECIPES", [])
    recipe["RECIPE_PATH"] = path
    recipe["name"] = name
    if preprocessors:
        recipe["Process"] = [{"Processor": p} for p in preprocessors] + recipe["Process"]
    for post in postprocessors or []:
        recipe["Process"].append({"Processor": post})
    return recipe


def get_processor(processor_name, recipe=None, env=None):
    """The processor class for a step, loaded from a .py file when needed."""
    if env is None:
        env = {}
    if not recipe:
        # Only what is already loaded: a "IDENTIFIER/Name" is not a name.
        return getattr(autopkglib, processor_name)
    identifier, sep, name = processor_name.partition("/")
    dirs = [os.path.dirname(recipe["RECIPE_PATH"])]
    if not sep:
        name = identifier
    else:
        # processor-info passes no environment: this raises KeyError,
        # which AutoPkg reports as an unknown processor.
        shared = find_recipe_by_identifier(identifier, env["RECIPE_SEARCH_DIRS"])
        if shared:
            dirs.append(os.path.dirname(shared))
    dirs.extend(os.path.dirname(p) for p in recipe.get("PARENT_RECIPES", []))
    for directory in dirs:
        path = os.path.join(directory, name + ".py")
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            setattr(autopkglib, name, getattr(module, name))
            break
    return getattr(autopkglib, name)


class AutoPackager:
    """Runs a loaded recipe's steps in one shared environment."""

    def __init__(self, env):
        self.env = env
        self.steps = []  # processor names, in the order they ran

    def process_cli_overrides(self, recipe, cli_values):
        inputs = dict(recipe["Input"])
        inputs.update(cli_values)
        self.env.update(inputs)
        for key, value in list(self.env.items()):
            update_data(self.env, key, value)

    def verify(self, recipe):
        known = set(recipe["Input"]) | set(self.env)
        for step in recipe["Process"]:
            try:
                cls = get_processor(step["Processor"], recipe=recipe, env=self.env)
            except (KeyError, AttributeError) as err:
                raise RecipeError("Unknown processor '%s'." % step["Processor"]) from err
            known |= set(step.get("Arguments", {}))
            for key, flags in cls.input_variables.items():
                if flags.get("required") and key not in known:
                    raise RecipeError("%s requires missing argument %s" % (step["Processor"], key))
            known |= set(cls.output_variables)

    def process(self, recipe):
        cache = self.env.get("CACHE_DIR") or os.path.expanduser("~/Library/AutoPkg/Cache")
        self.env["RECIPE_CACHE_DIR"] = os.path.join(cache, recipe["Identifier"])
        os.makedirs(self.env["RECIPE_CACHE_DIR"], exist_ok=True)
        for step in recipe["Process"]:
            # verify() has loaded every processor by now.
            cls = get_processor(step["Processor"].partition("/")[2] or step["Processor"])
            processor = cls(self.env)
            processor.inject(step.get("Arguments", {}))
            self.env = processor.process()
            self.steps.append(step["Processor"])


def parse_recipe_list(path):
    """A recipe list: a plist dictionary (recipes, preprocessors,
    postprocessors, and any other keys as inputs) or a text file of recipe
    names, one a line, # for comments."""
    try:
        with open(path, "rb") as f:
            data = plistlib.load(f)
        if isinstance(data, dict):
            return data
    except Exception:  # pylint: disable=broad-except
        pass
    with open(path, encoding="utf-8") as f:
        return {"recipes": [l for l in f.read().splitlines() if l and not l.startswith("#")]}


def parse_run_args(argv):
    """`autopkg run` arguments: recipe names, -l/--recipe-list FILE,
    --post/--postprocessor, --pre/--preprocessor, -k/--key KEY=VALUE, -v.
    Returns recipes, preprocessors, postprocessors, input values, verbosity.
    A recipe list's processors give way to those on the command line, its
    other keys to --key."""
    recipes, pre, post, keys, verbose = [], [], [], {}, 0
    listed = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-l", "--recipe-list"):
            listed = parse_recipe_list(args.pop(0))
        elif arg in ("--post", "--postprocessor"):
            post.append(args.pop(0))
        elif arg in ("--pre", "--preprocessor"):
            pre.append(args.pop(0))
        elif arg in ("-k", "--key"):
            key, sep, value = args.pop(0).partition("=")
            if sep != "=":
                raise RecipeError("Invalid variable [key=value]: %s" % key)
            keys[key] = value
        elif arg.startswith("-v") and set(arg[1:]) == {"v"}:
            verbose += len(arg) - 1
        else:
            recipes.append(arg)
    recipes.extend(listed.get("recipes", []))
    pre = pre or listed.get("preprocessors", [])
    post = post or listed.get("postprocessors", [])
    values = {k: v for k, v in listed.items() if k not in ("recipes", "preprocessors", "postprocessors")}
    values.update(keys)
    return recipes, pre, post, values, verbose


def run(argv, prefs):
    """`autopkg run ARGS` with these preferences. Returns the finished
    AutoPackager of each recipe; a processor failure raises its
    ProcessorError."""
    names, pre, post, keys, verbose = parse_run_args(argv)
    search_dirs = prefs.get("RECIPE_SEARCH_DIRS", [])
    override_dirs = prefs.get("RECIPE_OVERRIDE_DIRS", [])
    done = []
    for name in names:
        recipe = load_recipe(name, override_dirs, search_dirs, pre, post)
        env = dict(prefs)
        env["RECIPE_PATH"] = os.path.abspath(recipe["RECIPE_PATH"])
        env["RECIPE_DIR"] = os.path.dirname(env["RECIPE_PATH"])
        env["PARENT_RECIPES"] = recipe.get("PARENT_RECIPES", [])
        env["RECIPE_SEARCH_DIRS"] = search_dirs
        env["RECIPE_OVERRIDE_DIRS"] = override_dirs
        env["verbose"] = verbose
        packager = AutoPackager(env)
        packager.process_cli_overrides(recipe, keys)
        packager.verify(recipe)
        packager.process(recipe)
        done.append(packager)
    return done


def processor_info(argv, prefs):
    """`autopkg processor-info NAME [--recipe RECIPE]`: the class whose
    description and variables AutoPkg prints, or RecipeError as AutoPkg's
    "Unknown processor"."""
    args = list(argv)
    recipe_name = None
    if "--recipe" in args:
        i = args.index("--recipe")
        recipe_name = args[i + 1]
        del args[i : i + 2]
    if len(args) != 1:
        raise RecipeError("Need exactly one processor name")
    recipe = None
    if recipe_name:
        recipe = load_recipe(recipe_name, prefs.get("RECIPE_OVERRIDE_DIRS", []), prefs.get("RECIPE_SEARCH_DIRS", []))
    try:
        return get_processor(args[0], recipe=recipe)
    except (KeyError, AttributeError) as err:
        raise RecipeError("Unknown processor '%s'" % args[0]) from err


__all__ = [
    "AutoPackager",
    "ProcessorError",
    "RecipeError",
    "get_processor",
    "load_recipe",
    "parse_run_args",
    "processor_info",
    "run",
]
