"""``python3 -m tarn.discover FILE.py...``: the plan-time inspection of a
project's Python files, run by ``tarn run`` in a subprocess.

Imports each file as its own module and prints one JSON object on stdout:
``{"models": [...], "errors": [{"file", "line", "message"}]}`` where each
model is ``tarn.sdk.describe()`` plus its ``file``. A file that fails to
import is reported with the line of the failure; nothing is run but the
module's top level.

That top level is user code: it runs in a confined child process
(tarn.confine, the same as a model's, without network and within the run's
time limit), which writes its findings to a pipe; what it prints goes to
stderr. Only this parent, which runs no user code, resolves and unpacks
the models' environments into the lakehouse's cache. The runtime passes
the policy as ``TARN_CONFINE`` (JSON) and the limit as
``TARN_DISCOVER_TIMEOUT`` (seconds)."""

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


def _sources():
    """(the wheelhouses, the environments' cache folder) the runtime names."""
    find_links = [p for p in os.environ.get("TARN_FIND_LINKS", "").split(":") if p]
    return find_links, os.environ.get("TARN_ENVS_DIR") or os.path.join(os.getcwd(), ".tarn", "envs")


def _environment(pins):
    """The model's assembled environment (tarn.envs): resolved from the
    wheelhouses the runtime names, unpacked once into the lakehouse's cache."""
    from . import envs
    find_links, cache = _sources()
    limits = {}
    for key, env in (("max_unpacked_mb", "TARN_ENV_MAX_UNPACKED_MB"),
                     ("max_files", "TARN_ENV_MAX_FILES")):
        if os.environ.get(env):
            limits[key] = int(os.environ[env])
    return envs.resolve(pins, find_links, cache, index_url=os.environ.get("TARN_INDEX_URL") or None,
                        **limits)


def _watched():
    """The folders the environments were resolved from besides the project
    (wheelhouses, downloads, the interpreter's own packages): a runtime
    that keeps these findings between runs discovers again when one of
    them changes (runtime/discocache.c)."""
    from . import envs
    dirs, cache = _sources()
    if os.environ.get("TARN_INDEX_URL"):
        dirs.append(envs.downloads_dir(cache))
    dirs += envs.base_dirs()
    return sorted(set(os.path.abspath(d) for d in dirs))


def _project_defaults():
    """The project file's defaults.python (``TARN_PROJECT_DEFAULTS``):
    {"python": VERSION, "pip": {NAME: VERSION}} for models that declare
    neither."""
    try:
        return json.loads(os.environ.get("TARN_PROJECT_DEFAULTS") or "{}") or {}
    except ValueError:
        return {}


def _apply_defaults(d, defaults):
    if not d["python"] and defaults.get("python"):
        d["python"] = defaults["python"]
    if defaults.get("pip"):
        pins = dict(defaults["pip"])
        pins.update(d["pip"] or {})
        d["pip"] = pins


def inspect_files(paths):
    """{"models", "errors", "interpreter", "executable"} of the files (runs
    their top level: call it confined)."""
    defaults = _project_defaults()
    out = {"models": [], "errors": [],
           "interpreter": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable}
    for i, path in enumerate(paths):
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
            _apply_defaults(d, defaults)
            d["installed"] = _installed(d["pip"])
            out["models"].append(d)
    return out


def _inspect_confined(paths, policy, timeout):
    """inspect_files(PATHS) in a confined child; its findings come back
    through a pipe, its prints go to stderr."""
    from . import confine
    rd, wr = os.pipe()
    srd, swr = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    scratch = confine.make_scratch()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        os.close(srd)

        def body():
            os.dup2(2, 1)  # a print at a module's top level must not corrupt the findings
            found = json.dumps(inspect_files(paths)).encode("utf-8", "surrogateescape")
            with os.fdopen(wr, "wb") as f:
                f.write(found)

        def report(end):
            with os.fdopen(swr, "w") as f:
                json.dump(end, f)

        confine.supervise(policy, body, report, scratch, timeout=timeout, keep_fds=[wr, swr])
    os.close(wr)
    os.close(swr)
    with os.fdopen(rd, "rb") as f:
        found = f.read()
    with os.fdopen(srd, "r") as f:
        end_text = f.read()
    os.waitpid(pid, 0)
    confine.remove_scratch(scratch)
    end = json.loads(end_text) if end_text else {}
    if end.get("refused"):
        raise RuntimeError("the project's Python files were not inspected: %s" % end["refused"])
    if end.get("timed_out"):
        raise RuntimeError("inspecting the project's Python files took longer than %g s (their "
                           "top level runs at plan time; run.timeout_s in .tarn/config is the "
                           "limit)" % timeout)
    if not found:
        how = "killed by signal %s" % end["signal"] if end.get("signal") is not None \
            else "exit status %s" % end.get("exitcode")
        raise RuntimeError("inspecting the project's Python files failed (%s); see above" % how)
    return json.loads(found.decode("utf-8", "replace"))


def main(argv):
    policy = json.loads(os.environ["TARN_CONFINE"]) if os.environ.get("TARN_CONFINE") else None
    timeout = float(os.environ.get("TARN_DISCOVER_TIMEOUT") or 0) or None
    try:
        out = _inspect_confined(argv, policy, timeout)
    except RuntimeError as e:
        print(str(e), file=sys.stderr)
        return 1
    # Environments are resolved here, outside the user's code.
    for d in list(out["models"]):
        if not d["pip"]:
            continue
        try:
            d["env"] = _environment(d["pip"])
        except Exception as exc:  # EnvError, or a broken wheelhouse
            out["errors"].append({"file": d["file"], "line": d["line"],
                                  "message": "model '%s': %s" % (d["name"], exc)})
            out["models"].remove(d)
    out["watch"] = _watched()
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
