"""tarn.envs: environments assembled from a cache of unpacked wheels.

Every test builds its own wheelhouse with tarn.envs.build_wheel; nothing
needs the network or the C extension (envs.py is loaded from the source
tree when the built package is not importable)."""
import importlib.util
import json
import os
import random
import stat
import subprocess
import sys
import zipfile

import pytest

try:
    from tarn import envs
except ImportError:  # no build: envs.py is pure Python, load it directly
    _src = os.path.join(os.path.dirname(__file__), "..", "..", "python", "tarn", "envs.py")
    _spec = importlib.util.spec_from_file_location("tarn_envs", os.path.abspath(_src))
    envs = importlib.util.module_from_spec(_spec)
    sys.modules["tarn_envs"] = envs
    _spec.loader.exec_module(envs)

EnvError = envs.EnvError
NOBASE = {}  # most tests: an interpreter with nothing installed


def _mod(name, version, extra=""):
    return {"%s/__init__.py" % name: "__version__ = %r\n%s" % (version, extra)}


@pytest.fixture
def wh(tmp_path):
    d = str(tmp_path / "wheelhouse")
    envs.build_wheel(d, "alpha", "1.0", _mod("alpha", "1.0", "import beta\n"),
                     requires=["beta>=1,<2"])
    for v in ("1.0", "1.5", "2.0"):
        envs.build_wheel(d, "beta", v, _mod("beta", v))
    envs.build_wheel(d, "gamma", "1.0", _mod("gamma", "1.0"), requires=["beta>=2"])
    # a_first needs any beta (greedy takes 2.0), z_last needs beta<2: one restart
    envs.build_wheel(d, "a_first", "1.0", _mod("a_first", "1.0"), requires=["beta"])
    envs.build_wheel(d, "z-last", "1.0", _mod("z_last", "1.0"), requires=["beta<2"])
    envs.build_wheel(d, "marked", "1.0", _mod("marked", "1.0"),
                     requires=["nope; python_version < '3'", "nope2; sys_platform == 'win32'",
                               "beta==1.0; extra == 'fast'"])
    with open(os.path.join(d, "x-1.0-cp39-cp39-win_amd64.whl"), "wb") as fh:
        fh.write(b"PK\x03\x04 not really a wheel")
    with open(os.path.join(d, "broken-1.0-py3-none-any.whl"), "wb") as fh:
        fh.write(b"this is not a zip file")
    return d


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "cache")


def _entries(cache):
    pkgs = os.path.join(cache, "pkgs")
    return sorted(os.listdir(pkgs)) if os.path.isdir(pkgs) else []


def _run_in_env(paths, code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


# --- choosing versions -------------------------------------------------------

def test_exact_pin(wh, cache):
    for spec in ("1.0", "==1.0"):
        r = envs.resolve({"beta": spec}, [wh], cache, base_packages=NOBASE)
        assert r["packages"] == {"beta": "1.0"} and r["sources"] == {"beta": "wheel"}
        assert len(r["paths"]) == 1 and os.path.basename(r["paths"][0]).startswith("beta-1.0-")
        assert r["python"] == "%d.%d.%d" % sys.version_info[:3]


def test_range_pin_takes_highest_match(wh, cache):
    assert envs.resolve({"beta": ">=1,<2"}, [wh], cache,
                        base_packages=NOBASE)["packages"] == {"beta": "1.5"}
    assert envs.resolve({"beta": "*"}, [wh], cache,
                        base_packages=NOBASE)["packages"] == {"beta": "2.0"}


def test_transitive_dependency_choice(wh, cache):
    r = envs.resolve({"alpha": "1.0"}, [wh], cache, base_packages=NOBASE)
    assert r["packages"] == {"alpha": "1.0", "beta": "1.5"}
    assert [os.path.basename(p).split("-")[0] for p in r["paths"]] == ["alpha", "beta"]
    assert sorted(r["cold"]) == ["alpha", "beta"]
    assert _run_in_env(r["paths"], "import alpha, beta; print(beta.__version__)") == "1.5"


def test_pins_win_over_dependency_choice(wh, cache):
    r = envs.resolve({"alpha": "1.0", "beta": "1.0"}, [wh], cache, base_packages=NOBASE)
    assert r["packages"] == {"alpha": "1.0", "beta": "1.0"}


def test_restart_on_conflict_with_greedy_choice(wh, cache):
    r = envs.resolve({"a_first": "*", "z_last": "*"}, [wh], cache, base_packages=NOBASE)
    assert r["packages"] == {"a-first": "1.0", "z-last": "1.0", "beta": "1.5"}
    # nothing was unpacked for the abandoned choice (beta 2.0)
    assert not any(e.startswith("beta-2.0") for e in _entries(cache))


def test_markers_and_extras(wh, cache):
    r = envs.resolve({"marked": "1.0"}, [wh], cache, base_packages=NOBASE)
    assert r["packages"] == {"marked": "1.0"}
    r = envs.resolve({"marked[fast]": "1.0"}, [wh], cache, base_packages=NOBASE)
    assert r["packages"] == {"marked": "1.0", "beta": "1.0"}


# --- errors, all before anything is unpacked ---------------------------------

def _err(pins, wh, cache, **kw):
    kw.setdefault("base_packages", NOBASE)
    with pytest.raises(EnvError) as ei:
        envs.resolve(pins, [wh], cache, **kw)
    assert _entries(cache) == []
    return ei.value


def test_conflict_with_pin(wh, cache):
    e = _err({"alpha": "1.0", "beta": "2.0"}, wh, cache)
    assert e.package == "beta"
    assert "alpha 1.0 requires beta>=1,<2, but beta is pinned to 2.0" in str(e)


def test_conflict_between_dependencies(wh, cache):
    e = _err({"alpha": "1.0", "gamma": "1.0"}, wh, cache)
    assert e.package == "beta"
    assert "alpha 1.0 requires beta>=1,<2" in str(e) and "gamma 1.0 requires beta>=2" in str(e)


def test_package_not_found(wh, cache):
    e = _err({"nope": "1.0"}, wh, cache)
    assert e.package == "nope"
    assert str(e) == "package 'nope' is not in any wheelhouse (looked in: %s)" % wh


def test_version_not_found_lists_available(wh, cache):
    e = _err({"beta": "3.0"}, wh, cache)
    assert e.package == "beta"
    assert "3.0" in str(e) and "available: 1.0, 1.5, 2.0" in str(e)


def test_dependency_missing_names_dependent(tmp_path, cache):
    d = str(tmp_path / "wh2")
    envs.build_wheel(d, "needy", "1.0", _mod("needy", "1.0"), requires=["ghost>=1"])
    e = _err({"needy": "1.0"}, d, cache)
    assert e.package == "ghost" and "needy 1.0 requires ghost>=1" in str(e)


def test_wheel_for_another_platform(wh, cache):
    e = _err({"x": "1.0"}, wh, cache)
    assert e.package == "x"
    assert "no wheel for this interpreter" in str(e)
    assert "cp39-cp39-win_amd64" in str(e)


def test_corrupt_wheel(wh, cache):
    e = _err({"broken": "1.0"}, wh, cache)
    assert e.package == "broken" and "corrupt" in str(e)


def test_wheel_corrupt_inside_fails_while_unpacking(tmp_path, cache):
    d = str(tmp_path / "wh3")
    rnd = random.Random(7)  # incompressible: the flipped bytes land inside data.py
    path = envs.build_wheel(d, "dented", "1.0",
                            {"dented/__init__.py": "", "dented/data.py": "X = %r\n" % (
                                "".join(chr(rnd.randint(33, 122)) for _ in range(20000)))})
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("dented/data.py")
    with open(path, "r+b") as fh:  # flip bytes inside the member's compressed data
        fh.seek(info.header_offset + 30 + len(info.filename) + 200)
        fh.write(b"\xff" * 64)
    with pytest.raises(EnvError) as ei:
        envs.resolve({"dented": "1.0"}, [d], cache, base_packages=NOBASE)
    assert ei.value.package == "dented" and "corrupt" in str(ei.value)
    assert "unreadable" not in str(ei.value)  # found while unpacking, not while resolving
    assert _entries(cache) == []  # neither an entry nor a .tmp- folder is left


def test_bad_pin_spec(wh, cache):
    e = _err({"beta": "~=9"}, wh, cache)
    assert e.package == "beta" and "not a version" in str(e)


# --- the base interpreter ----------------------------------------------------

def test_pin_equal_to_base_needs_no_wheel(wh, cache):
    from importlib import metadata
    try:
        v = metadata.version("numpy")
    except metadata.PackageNotFoundError:
        pytest.skip("numpy is not installed")
    r = envs.resolve({"numpy": v}, [wh], cache)  # base read from this interpreter
    assert r["packages"] == {"numpy": v} and r["sources"] == {"numpy": "base"}
    assert r["paths"] == [] and r["cold"] == [] and _entries(cache) == []
    assert envs.base_packages()["numpy"] == v


def test_dependency_from_base_unless_pinned(wh, cache):
    r = envs.resolve({"alpha": "1.0"}, [wh], cache, base_packages={"beta": "1.2"})
    assert r["packages"] == {"alpha": "1.0", "beta": "1.2"}
    assert r["sources"] == {"alpha": "wheel", "beta": "base"}
    assert len(r["paths"]) == 1
    r = envs.resolve({"alpha": "1.0", "beta": "1.0"}, [wh], cache, base_packages={"beta": "1.2"})
    assert r["packages"]["beta"] == "1.0" and r["sources"]["beta"] == "wheel"
    # a base version that does not satisfy the dependency is not used
    r = envs.resolve({"alpha": "1.0"}, [wh], cache, base_packages={"beta": "2.5"})
    assert r["packages"]["beta"] == "1.5" and r["sources"]["beta"] == "wheel"


# --- the cache ---------------------------------------------------------------

def test_cache_reuse(wh, cache):
    a = envs.resolve({"alpha": "1.0"}, [wh], cache, base_packages=NOBASE)
    b = envs.resolve({"alpha": "1.0"}, [wh], cache, base_packages=NOBASE)
    assert b["cold"] == [] and b["id"] == a["id"] and b["paths"] == a["paths"]
    # without the resolution memo too (full resolution, entries reused)
    for f in os.listdir(os.path.join(cache, "resolved")):
        os.unlink(os.path.join(cache, "resolved", f))
    c = envs.resolve({"alpha": "1.0"}, [wh], cache, base_packages=NOBASE)
    assert c["cold"] == [] and c["id"] == a["id"] and c["paths"] == a["paths"]
    # environments share entries: beta 1.5 is already there
    d = envs.resolve({"beta": "1.5"}, [wh], cache, base_packages=NOBASE)
    assert d["cold"] == [] and d["paths"] == a["paths"][1:]


def test_memo_notices_new_wheels_and_missing_entries(wh, cache):
    a = envs.resolve({"beta": "*"}, [wh], cache, base_packages=NOBASE)
    assert a["packages"] == {"beta": "2.0"}
    envs.build_wheel(wh, "beta", "2.1", _mod("beta", "2.1"))
    b = envs.resolve({"beta": "*"}, [wh], cache, base_packages=NOBASE)
    assert b["packages"] == {"beta": "2.1"} and b["cold"] == ["beta"]
    envs._force_rmtree(b["paths"][0])  # what `tarn env gc` does
    c = envs.resolve({"beta": "*"}, [wh], cache, base_packages=NOBASE)
    assert c["cold"] == ["beta"] and c["paths"] == b["paths"] and os.path.isdir(c["paths"][0])


def test_environment_record(wh, cache):
    r = envs.resolve({"alpha": "1.0"}, [wh], cache, base_packages=NOBASE)
    with open(os.path.join(cache, "envs", r["id"] + ".json")) as fh:
        rec = json.load(fh)
    assert isinstance(rec.pop("last_used"), int)
    assert rec == r


def test_id_depends_on_packages(wh, cache):
    a = envs.resolve({"beta": "1.0"}, [wh], cache, base_packages=NOBASE)
    b = envs.resolve({"beta": "1.5"}, [wh], cache, base_packages=NOBASE)
    c = envs.resolve({"beta": "==1.0"}, [wh], cache, base_packages=NOBASE)
    assert a["id"] != b["id"] and a["id"] == c["id"] and len(a["id"]) == 64


def test_entries_read_only(wh, cache):
    r = envs.resolve({"alpha": "1.0"}, [wh], cache, base_packages=NOBASE)
    for entry in r["paths"]:
        for root, dirs, files in os.walk(entry):
            assert stat.S_IMODE(os.stat(root).st_mode) == 0o555
            for f in files:
                assert stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) == 0o444
        assert os.path.exists(os.path.join(entry, os.path.basename(entry).split("-")[0],
                                           "__init__.py"))


def test_lost_rename_race_uses_the_winner(wh, cache):
    r = envs.resolve({"beta": "1.0"}, [wh], cache, base_packages=NOBASE)
    index = envs._Index([wh], envs._listing([wh]))
    wheel = index.compatible("beta")[[v for v in index.compatible("beta")
                                      if str(v) == "1.0"][0]]
    path, fresh = envs._unpack(wheel, envs._sha256(wheel.path),
                               os.path.join(cache, "pkgs"), check_existing=False)
    assert path == r["paths"][0] and not fresh
    assert _entries(cache) == [os.path.basename(path)]  # no .tmp- left over


def test_concurrent_unpack(tmp_path, cache):
    d = str(tmp_path / "big")
    files = {"bigmod/m%03d.py" % i: "X = %r\n" % ("x" * 2000 + str(i)) for i in range(300)}
    files["bigmod/__init__.py"] = "__version__ = '1.0'\n"
    envs.build_wheel(d, "bigmod", "1.0", files)
    cmd = [sys.executable, envs.__file__, "--resolve", '{"bigmod": "1.0"}',
           "--find-links", d, "--cache", cache, "--base-packages", "{}"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    results = [json.loads(o) for o, _e in outs]
    assert len({r["id"] for r in results}) == 1
    assert len({tuple(r["paths"]) for r in results}) == 1
    assert _entries(cache) == [os.path.basename(results[0]["paths"][0])]
    assert len(os.listdir(os.path.join(results[0]["paths"][0], "bigmod"))) == 301


# --- size caps ---------------------------------------------------------------

def test_a_small_wheel_that_unpacks_huge_is_refused(tmp_path, cache):
    # 50 MiB of zeros compress to about 50 KiB: a zip bomb in miniature
    d = str(tmp_path / "bomb")
    path = envs.build_wheel(d, "bomb", "1.0", {"bomb/__init__.py": "", "bomb/zeros.bin":
                                               b"\0" * (50 << 20)})
    assert os.path.getsize(path) < (1 << 20)
    with pytest.raises(EnvError) as e:
        envs.resolve({"bomb": "1.0"}, [d], cache, base_packages=NOBASE, max_unpacked_mb=10)
    assert path in str(e.value) and "env.max_unpacked_mb" in str(e.value)
    assert "50.0 MiB" in str(e.value) and "10 MiB" in str(e.value)
    assert e.value.package == "bomb"
    assert _entries(cache) == []  # nothing unpacked, nothing half-unpacked
    # within the cap it unpacks
    r = envs.resolve({"bomb": "1.0"}, [d], cache, base_packages=NOBASE, max_unpacked_mb=64)
    assert os.path.getsize(os.path.join(r["paths"][0], "bomb", "zeros.bin")) == 50 << 20


def test_too_many_files_is_refused(tmp_path, cache):
    d = str(tmp_path / "many")
    envs.build_wheel(d, "many", "1.0", {"many/m%d.py" % i: "" for i in range(40)})
    with pytest.raises(EnvError) as e:
        envs.resolve({"many": "1.0"}, [d], cache, base_packages=NOBASE, max_files=20)
    assert "env.max_files" in str(e.value) and "files" in str(e.value)
    assert _entries(cache) == []


# --- isolation ---------------------------------------------------------------

def test_isolation_two_versions_side_by_side(wh, cache):
    one = envs.resolve({"beta": "1.0"}, [wh], cache, base_packages=NOBASE)
    two = envs.resolve({"beta": "2.0"}, [wh], cache, base_packages=NOBASE)
    code = ("import beta, importlib.metadata as m; "
            "print(beta.__version__, m.version('beta'))")
    assert _run_in_env(one["paths"], code) == "1.0 1.0"
    assert _run_in_env(two["paths"], code) == "2.0 2.0"
    # and a model sees only what it declared: alpha is in neither environment
    assert _run_in_env(one["paths"], "import importlib.util as u; "
                                     "print(u.find_spec('alpha') is None)") == "True"


# --- CLI and wheels ----------------------------------------------------------

def test_cli(wh, cache):
    ok = subprocess.run([sys.executable, envs.__file__, "--resolve", '{"alpha": "1.0"}',
                         "--find-links", wh + ":" + wh, "--cache", cache,
                         "--base-packages", "{}"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["packages"] == {"alpha": "1.0", "beta": "1.5"}
    bad = subprocess.run([sys.executable, envs.__file__, "--resolve", '{"nope": "1"}',
                          "--find-links", wh, "--cache", cache],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "package 'nope' is not in any wheelhouse" in bad.stderr


def test_build_wheel_is_valid(tmp_path):
    p = envs.build_wheel(str(tmp_path), "My.Pkg", "0.3", {"my_pkg/__init__.py": "x = 1\n"},
                         requires=["beta>=1"])
    assert os.path.basename(p) == "My_Pkg-0.3-py3-none-any.whl"
    with zipfile.ZipFile(p) as z:
        assert z.testzip() is None
        meta = z.read("My_Pkg-0.3.dist-info/METADATA").decode()
        assert "Name: My.Pkg" in meta and "Requires-Dist: beta>=1" in meta
        assert "Root-Is-Purelib: true" in z.read("My_Pkg-0.3.dist-info/WHEEL").decode()
        record = z.read("My_Pkg-0.3.dist-info/RECORD").decode()
        assert "my_pkg/__init__.py,sha256=" in record
