"""The seed's "time to add a package", on this machine.

A model's pins grow by one package: ``bigpkg==1.0`` (a realistic pure-Python
wheel built here: 400 generated modules, a few MB, plus its dependency
``smallbase``). Side by side, one run:

* venv + pip install: ``python3 -m venv DIR`` then
  ``DIR/bin/pip install --no-index --find-links WH bigpkg==1.0``
* tarn, package not yet cached: ``tarn.envs.resolve()`` with an empty cache
  (resolve, unpack into the cache, assemble)
* tarn, package cached: ``resolve()`` again (assemble only)
* worker start with the environment vs without:
  ``PYTHONPATH=<paths> python3 -c pass`` vs ``python3 -c pass``

    PYTHONPATH=build/python /usr/bin/python3 bench/env_bench.py [--repeat 5]

(``tarn.envs`` is pure Python: without a build, envs.py is loaded from
python/tarn.) Runs in about a minute; prints a markdown table.
"""
import argparse
import importlib.util
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

try:
    from tarn import envs
except ImportError:
    _src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "tarn",
                        "envs.py")
    _spec = importlib.util.spec_from_file_location("tarn_envs", os.path.abspath(_src))
    envs = importlib.util.module_from_spec(_spec)
    sys.modules["tarn_envs"] = envs
    _spec.loader.exec_module(envs)

PY = "/usr/bin/python3"


def make_wheelhouse(wh, modules=400):
    rnd = random.Random(42)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(4, 12)))
             for _ in range(3000)]
    files = {"bigpkg/__init__.py": "__version__ = '1.0'\nimport smallbase\n"}
    for i in range(modules):
        lines = ['"""Generated module %d of bigpkg."""' % i, "import math", ""]
        for j in range(60):
            a, b = rnd.sample(words, 2)
            lines += ["def %s_%d(x, %s=%d):" % (a, j, b, rnd.randint(0, 10 ** 9)),
                      "    '''%s'''" % " ".join(rnd.sample(words, 8)),
                      "    return math.sqrt(abs(x * %r + %s)) - %r" % (
                          rnd.random(), b, rnd.random()),
                      ""]
        lines.append("TABLE = %r" % [rnd.randint(0, 10 ** 12) for _ in range(40)])
        files["bigpkg/mod_%03d.py" % i] = "\n".join(lines) + "\n"
    big = envs.build_wheel(wh, "bigpkg", "1.0", files, requires=["smallbase>=1"])
    envs.build_wheel(wh, "smallbase", "1.0",
                     {"smallbase/__init__.py": "__version__ = '1.0'\n"})
    return big, len(files), sum(len(t) for t in files.values())


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def median(xs):
    return statistics.median(xs)


def fmt(s):
    return "%.1f ms" % (s * 1e3) if s < 1 else "%.2f s" % s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pip-repeat", type=int, default=3,
                    help="venv + pip runs (each several seconds)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tarn-env-bench-")
    try:
        wh = os.path.join(work, "wheelhouse")
        big, nfiles, nbytes = make_wheelhouse(wh)
        print("bigpkg-1.0 wheel: %d files, %.1f MB unpacked, %.1f MB wheel; "
              "+ smallbase-1.0; %s %s" % (nfiles, nbytes / 1e6, os.path.getsize(big) / 1e6,
                                          PY, envs.PYTHON), file=sys.stderr)
        pins = {"bigpkg": "1.0"}
        base = None  # the real interpreter's base

        # venv + pip install (pip byte-compiles what it installs; --no-compile does not)
        clean = {k: v for k, v in os.environ.items()
                 if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
        pip_t, nocomp_t = [], []
        venv_keep = os.path.join(work, "venv-keep")
        for i in range(args.pip_repeat):
            for compile_, out in ((True, pip_t), (False, nocomp_t)):
                venv = venv_keep if (i == 0 and compile_) else os.path.join(work, "venv-tmp")

                def run_pip():
                    subprocess.run([PY, "-m", "venv", venv], check=True, env=clean)
                    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet",
                                    "--disable-pip-version-check", "--no-index"]
                                   + ([] if compile_ else ["--no-compile"])
                                   + ["--find-links", wh, "bigpkg==1.0"], check=True, env=clean)
                out.append(timed(run_pip))
                if venv != venv_keep:
                    shutil.rmtree(venv)
        print("venv+pip: %s; --no-compile: %s" % (", ".join(fmt(t) for t in pip_t),
                                                  ", ".join(fmt(t) for t in nocomp_t)),
              file=sys.stderr)

        # tarn cold: a fresh cache every time (first call also imports packaging)
        cold_t, res = [], None
        for i in range(args.repeat):
            cache = os.path.join(work, "cache-cold%d" % i)
            box = {}
            cold_t.append(timed(lambda: box.update(r=envs.resolve(pins, [wh], cache,
                                                                    base_packages=base))))
            res = box["r"]
            assert sorted(res["cold"]) == ["bigpkg", "smallbase"], res
        cache = os.path.join(work, "cache-cold%d" % (args.repeat - 1))

        # tarn cold via the CLI: a fresh process (interpreter start, imports, resolve)
        cli_t = []
        for i in range(args.repeat):
            c = os.path.join(work, "cache-cli%d" % i)
            cli_t.append(timed(lambda: subprocess.run(
                [PY, envs.__file__, "--resolve", '{"bigpkg": "1.0"}', "--find-links", wh,
                 "--cache", c], check=True, stdout=subprocess.DEVNULL)))

        # tarn warm: the same resolve again (memo hit: assemble only)
        warm_t = []
        for _ in range(args.repeat):
            box = {}
            warm_t.append(timed(lambda: box.update(r=envs.resolve(pins, [wh], cache,
                                                                    base_packages=base))))
            assert box["r"]["cold"] == [] and box["r"]["paths"] == res["paths"]
        # warm without the resolution memo: full resolution, entries reused
        nomemo_t = []
        for _ in range(args.repeat):
            shutil.rmtree(os.path.join(cache, "resolved"))
            nomemo_t.append(timed(lambda: envs.resolve(pins, [wh], cache, base_packages=base)))
        # warm via the CLI (process start included)
        cli_warm_t = [timed(lambda: subprocess.run(
            [PY, envs.__file__, "--resolve", '{"bigpkg": "1.0"}', "--find-links", wh,
             "--cache", cache], check=True, stdout=subprocess.DEVNULL))
            for _ in range(args.repeat)]

        # worker start with / without the environment
        # (the caller's PYTHONPATH / bytecode settings must not leak into workers)
        plain = {k: v for k, v in os.environ.items()
                 if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
        envp = dict(plain, PYTHONPATH=os.pathsep.join(res["paths"]))
        start_with, start_without = [], []
        for _ in range(10):
            start_without.append(timed(lambda: subprocess.run([PY, "-c", "pass"], env=plain,
                                                              check=True)))
            start_with.append(timed(lambda: subprocess.run([PY, "-c", "pass"], env=envp,
                                                           check=True)))
        # a run that imports all 400 modules: the venv has pip's .pyc files; the
        # tarn entries are read-only, so workers keep bytecode under
        # PYTHONPYCACHEPREFIX (first run compiles, later runs reuse)
        code = ("import importlib, bigpkg\n"
                "for i in range(400): importlib.import_module('bigpkg.mod_%03d' % i)")
        venv_py = os.path.join(venv_keep, "bin", "python3")
        imp_venv = median([timed(lambda: subprocess.run([venv_py, "-c", code], env=plain,
                                                        check=True)) for _ in range(5)])
        envc = dict(envp, PYTHONPYCACHEPREFIX=os.path.join(cache, "pycache"))
        imp_first = timed(lambda: subprocess.run([PY, "-c", code], env=envc, check=True))
        imp_next = median([timed(lambda: subprocess.run([PY, "-c", code], env=envc,
                                                        check=True)) for _ in range(5)])
        envn = dict(envp, PYTHONDONTWRITEBYTECODE="1")
        # what byte-compiling at unpack time would add to "not yet cached"
        copy = os.path.join(work, "entry-copy")
        shutil.copytree(res["paths"][0], copy)
        for root, dirs, _f in os.walk(copy):
            os.chmod(root, 0o755)
        compile_t = timed(lambda: subprocess.run(
            [PY, "-m", "compileall", "-q", copy], env=plain, check=True))
        imp_nobc = median([timed(lambda: subprocess.run([PY, "-c", code], env=envn,
                                                        check=True)) for _ in range(3)])

        print("tarn cold runs: %s; CLI: %s" % (", ".join(fmt(t) for t in cold_t),
                                                ", ".join(fmt(t) for t in cli_t)),
              file=sys.stderr)
        p = median(pip_t)
        rows = [
            ("venv + pip install (the usual local way)", p, len(pip_t)),
            ("venv + pip install --no-compile (no .pyc, like tarn)", median(nocomp_t),
             len(nocomp_t)),
            ("tarn, package not yet cached: `resolve()` (resolve + unpack + assemble)",
             median(cold_t), len(cold_t)),
            ("tarn, not yet cached, CLI in a fresh process (`python3 envs.py --resolve`)",
             median(cli_t), len(cli_t)),
            ("tarn, package cached: `resolve()` again (assemble only, memo hit)",
             median(warm_t), len(warm_t)),
            ("tarn, package cached, resolution memo cleared (full resolve, no unpack)",
             median(nomemo_t), len(nomemo_t)),
            ("tarn, package cached, CLI in a fresh process",
             median(cli_warm_t), len(cli_warm_t)),
        ]
        print("| approach | time (median) | runs | venv+pip / this |")
        print("|---|---:|---:|---:|")
        for name, t, n in rows:
            print("| %s | %s | %d | %s |" % (name, fmt(t), n,
                                             "1.0x" if t == p else ("%.1fx" if p / t < 10 else "%.0fx") % (p / t)))
        sw, so = median(start_with), median(start_without)
        print("| worker start `python3 -c pass`, without env | %s | 10 | |" % fmt(so))
        print("| worker start `python3 -c pass`, with env on PYTHONPATH | %s | 10 | "
              "(%+.1f ms) |" % (fmt(sw), (sw - so) * 1e3))
        print()
        print("| a run importing all 400 bigpkg modules | time (median) | runs |")
        print("|---|---:|---:|")
        print("| venv (pip's .pyc) | %s | 5 |" % fmt(imp_venv))
        print("| tarn env + PYTHONPYCACHEPREFIX, first run (compiles) | %s | 1 |" % fmt(imp_first))
        print("| tarn env + PYTHONPYCACHEPREFIX, later runs | %s | 5 |" % fmt(imp_next))
        print("| tarn env, no writable bytecode cache (recompiles every run) | %s | 3 |"
              % fmt(imp_nobc))
        print()
        print("byte-compiling the bigpkg entry (python3 -m compileall), what precompiling "
              "at unpack would add to 'not yet cached': %s" % fmt(compile_t))
        print()
        print("goal: tarn cold >= 10x faster than venv+pip: %s (%.0fx); "
              "warm < 10 ms: %s (%s); start with env no slower: %+.1f ms"
              % ("met" if p / median(cold_t) >= 10 else "NOT met", p / median(cold_t),
                 "met" if median(warm_t) < 0.010 else "NOT met", fmt(median(warm_t)),
                 (sw - so) * 1e3))
    finally:
        envs._force_rmtree(work)


if __name__ == "__main__":
    main()
