"""``python3 -m tarn.discover FILE.py...``: the plan-time inspection of a
project's Python files, run by ``tarn run`` in a subprocess.

Imports each file as its own module and prints one JSON object on stdout:
``{"models": [...], "errors": [{"file", "line", "message"}]}`` where each
model is ``tarn.sdk.describe()`` plus its ``file``. A file that fails to
import is reported with the line of the failure; nothing is run but the
module's top level."""

import importlib.util
import json
import os
import sys
import traceback

from . import sdk


def _import(path, index):
    name = "tarn_project_%d_%s" % (index, os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _error_line(path, exc):
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            return frame.lineno
    return getattr(exc, "lineno", None) or 0


def _installed(pins):
    """The installed version of each pinned package (None when absent)."""
    from importlib import metadata
    found = {}
    for name in pins:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _environment(pins):
    """The model's assembled environment (tarn.envs): resolved from the
    wheelhouses the runtime names, unpacked once into the lakehouse's cache."""
    from . import envs
    find_links = [p for p in os.environ.get("TARN_FIND_LINKS", "").split(":") if p]
    cache = os.environ.get("TARN_ENVS_DIR") or os.path.join(os.getcwd(), ".tarn", "envs")
    return envs.resolve(pins, find_links, cache, index_url=os.environ.get("TARN_INDEX_URL") or None)


def main(argv):
    out = {"models": [], "errors": [],
           "interpreter": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable}
    for i, path in enumerate(argv):
        before = len(sdk.registered())
        try:
            _import(path, i)
        except BaseException as exc:  # user code: report anything, even SystemExit
            out["errors"].append({"file": path, "line": _error_line(path, exc),
                                  "message": "%s: %s" % (type(exc).__name__, exc)})
            continue
        for fn in sdk.registered()[before:]:
            try:
                d = sdk.describe(fn)
            except Exception as exc:
                out["errors"].append({"file": path, "line": fn.__code__.co_firstlineno,
                                      "message": str(exc)})
                continue
            d["file"] = path
            d["installed"] = _installed(d["pip"])
            if d["pip"]:
                try:
                    d["env"] = _environment(d["pip"])
                except Exception as exc:  # EnvError, or a broken wheelhouse
                    out["errors"].append({"file": path, "line": d["line"],
                                          "message": "model '%s': %s" % (d["name"], exc)})
                    continue
            out["models"].append(d)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
