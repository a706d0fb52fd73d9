"""Environments, assembled not built: resolve a model's pins to a list of
cached, unpacked wheels that a worker puts on its ``sys.path``, after the
standard library and ahead of the interpreter's site-packages.

Standard library plus ``pip._vendor.packaging`` only (no C extension), so
``python3 python/tarn/envs.py ...`` works from a source tree too.

API
---
``resolve(pins, find_links, cache_dir, index_url=None, base_packages=None, max_unpacked_mb=2048, max_files=100000) -> dict``
    ``pins``: ``{name: spec}`` as users write them: ``"1.5.3"`` (== exact),
    ``"==1.5.3"``, ``">=2,<3"``, ``"*"`` or ``""`` (any); a key may carry
    extras (``"pkg[fast]"``). ``find_links``: wheelhouse folders (``*.whl``,
    ``--find-links`` style). ``cache_dir``: the package cache (``.tarn/envs``).
    ``index_url``: when a package has no matching wheel in the wheelhouses,
    ``pip download --no-deps --only-binary=:all:`` it from this index into
    ``cache_dir/downloads`` (which is then searched like a wheelhouse).
    ``base_packages``: ``{normalized name: version}`` the interpreter itself
    provides; by default read (dist-info/egg-info names) from this
    interpreter's ``sys.path`` minus ``$PYTHONPATH`` and the script folder,
    i.e. what a worker sees behind its environment. ``max_unpacked_mb`` /
    ``max_files``: a wheel that would unpack to more bytes or files is
    refused, naming it (``env.max_unpacked_mb`` / ``env.max_files`` in
    ``.tarn/config``): a small archive must not fill the disk.

    Returns ``{"id", "python", "paths", "packages", "sources", "cold"}``:
    ``id`` = sha256 hex of ``json.dumps([python, sorted([name, version,
    wheel sha256 or "base"])], separators=(",", ":"))``; ``python`` =
    ``"3.11.2"``; ``paths`` = the cache entries to put on ``sys.path``
    (after the standard library, ahead of site-packages, as a venv does), in
    resolution order (pins sorted by name, then their dependencies
    breadth-first); ``packages`` = ``{normalized name: version}`` of every
    resolved package, ``sources`` = ``{name: "base" | "wheel"}``; ``cold`` =
    the names this call unpacked. The same dict plus ``"last_used"`` (epoch
    seconds) is written to ``cache_dir/envs/<id>.json``.

``EnvError(message, package=None)``
    Every failure: ``.package`` (the normalized name concerned, or None),
    ``.message``; ``str(e)`` is the message.

``build_wheel(dest_dir, name, version, files, requires=(), tag="py3-none-any") -> path``
    Writes a valid pure-Python wheel (``files``: ``{relative path: text}``);
    tests and the benchmark build their wheelhouses with it.

``normalize(name)``, ``base_packages()``, ``base_dirs()``, ``downloads_dir(cache)``:
PEP 503 names; the interpreter's base packages and the folders they come
from; where wheels fetched from an index land.

CLI: ``python3 -m tarn.envs --resolve JSON_PINS --find-links DIR[:DIR...]
--cache DIR [--index-url URL] [--base-packages JSON]`` prints the result
as JSON; on failure prints the message on stderr and exits 1.

Rules
-----
* Compatible wheel: one of its tags is in ``packaging.tags.sys_tags()`` of
  this interpreter (cp311/abi3/none/py3x, ``any``/``linux_x86_64``/
  ``manylinux*_x86_64`` the glibc allows); among several wheels of one
  version the most specific tag wins. Resolve with the interpreter the
  model will run under.
* Choice: a pinned package takes the highest version, among compatible
  wheels and the base version, that satisfies every constraint (ties go to
  the base, so ``pandas==1.5.3`` on Debian 12 needs no wheel); a dependency
  nobody pinned takes the base version when that satisfies its constraints,
  else the highest satisfying wheel. Pre-releases only when nothing else
  matches. Dependencies are the wheel's ``Requires-Dist`` whose marker holds
  here (with requested extras); base packages' own dependencies are not
  followed.
* Greedy, breadth-first; a new constraint that an already chosen version
  violates restarts the resolution with that constraint known from the
  start (up to 50 restarts); if no available version can satisfy the
  constraints, ``EnvError`` names the clashing requirements, e.g.
  ``alpha 1.0 requires beta>=1,<2, but beta is pinned to 2.0``.
  No backtracking into older versions of the dependents.
* All resolution errors (not found, version not available, only other
  platforms, conflicts, unreadable wheels) are raised before anything is
  unpacked; data corruption inside a wheel surfaces while unpacking it.
* Cache: each wheel is unpacked once into
  ``cache_dir/pkgs/<normname>-<version>-<sha256[:16]>/`` (unpacked in
  ``pkgs/.tmp-*`` then renamed into place: a reader never sees a partial
  entry; a writer that loses the rename race deletes its copy and uses the
  winner's), then made read-only (files 0444 or 0555, dirs 0555).
  ``*.data/purelib`` and ``platlib`` go to the entry root; other ``.data``
  parts stay under ``<name>.data/``. Every use sets the entry folder's mtime
  (``gc``: recent use). A crashed writer may leave ``pkgs/.tmp-*``: ``gc``
  may delete any older than a few minutes.
* Bytecode: entries hold no ``.pyc`` (byte-compiling 400 modules would
  cost ~0.5 s per cold add) and are read-only. The runtime's warm parent
  (tarn.worker, with ``PYTHONPYCACHEPREFIX=<cache_dir>/pycache``) compiles
  an environment's entries into that tree the first time it serves it;
  workers, confined, only read it.
* Memo: ``cache_dir/resolved/<key>.json`` maps (interpreter, pins, the
  wheelhouses' file names/sizes/mtimes, index URL, base: folder mtimes or
  the given dict) to an environment id, so a repeated resolve with nothing
  changed reads two small files and stats the entries (no parsing, no
  hashing). It is skipped when an entry has disappeared.
"""

import base64
import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections import deque

__all__ = ["EnvError", "resolve", "build_wheel", "normalize", "base_packages"]

PYTHON = "%d.%d.%d" % sys.version_info[:3]
_MAX_RESTARTS = 50
MAX_UNPACKED_MB = 2048
MAX_FILES = 100000
_MEMO_VERSION = "tarn-envs-1"


class EnvError(Exception):
    """An environment cannot be assembled. ``.package``: the package concerned
    (normalized name) or None; ``.message``: a sentence for the user."""

    def __init__(self, message, package=None):
        super().__init__(message)
        self.message = message
        self.package = package

    def __str__(self):
        return self.message


def normalize(name):
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- packaging (pip's vendored copy), imported lazily: requirements/markers
# pull in pyparsing, which a memo hit never needs.
_pk_cache = {}


def _pk(mod):
    m = _pk_cache.get(mod)
    if m is None:
        import importlib
        m = _pk_cache[mod] = importlib.import_module("pip._vendor.packaging." + mod)
    return m


_supported = None


def _supported_tags():
    """{"cp311-cp311-manylinux_2_36_x86_64": rank, ...} (lower = more specific)."""
    global _supported
    if _supported is None:
        _supported = {}
        for i, t in enumerate(_pk("tags").sys_tags()):
            _supported.setdefault(str(t), i)
    return _supported


def _interp_tags_summary():
    t = _pk("tags")
    interp = "%s%d%d" % (t.interpreter_name(), sys.version_info[0], sys.version_info[1])
    plats = list(t.platform_tags())
    return "%s, %s" % (interp, plats[-1] if plats else "any")


# --- the base interpreter ----------------------------------------------------

def base_dirs():
    """The folders this interpreter's own packages come from."""
    skip = set()
    for p in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if p:
            skip.add(os.path.realpath(p))
    if sys.path and sys.path[0] not in ("",):
        skip.add(os.path.realpath(sys.path[0]))
    dirs = []
    for p in sys.path[1:]:
        if not p or not os.path.isdir(p):
            continue
        rp = os.path.realpath(p)
        if rp in skip or rp in dirs:
            continue
        dirs.append(rp)
    return dirs


_INFO_RE = re.compile(r"^(?P<name>.+?)-(?P<ver>[^-]+?)(-py\d[^-]*)?(-[^-]+)?\.(dist|egg)-info$")


def _read_info_meta(path):
    """(name, version) from a dist-info/egg-info folder or egg-info file."""
    if os.path.isdir(path):
        for f in ("METADATA", "PKG-INFO"):
            if os.path.exists(os.path.join(path, f)):
                path = os.path.join(path, f)
                break
        else:
            return None, None
    name = ver = None
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break
                if line.startswith("Name:"):
                    name = line[5:].strip()
                elif line.startswith("Version:"):
                    ver = line[8:].strip()
    except OSError:
        pass
    return name, ver


_base_memo = {}


def base_packages():
    """{normalized name: version} the interpreter provides without any
    environment (first occurrence on sys.path wins, as for imports)."""
    dirs = base_dirs()
    fp = tuple((d, _mtime(d)) for d in dirs)
    hit = _base_memo.get(fp)
    if hit is not None:
        return dict(hit)
    found = {}
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for fn in names:
            if not (fn.endswith(".dist-info") or fn.endswith(".egg-info")):
                continue
            m = _INFO_RE.match(fn)
            if m and m.group("ver")[:1].isdigit():
                name, ver = m.group("name"), m.group("ver")
            else:
                name, ver = _read_info_meta(os.path.join(d, fn))
            if name and ver:
                found.setdefault(normalize(name), ver)
    _base_memo[fp] = found
    return dict(found)


_interpreter_base = base_packages  # resolve()'s parameter shadows the name


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


# --- wheelhouses -------------------------------------------------------------

class _Wheel:
    __slots__ = ("name", "version", "path", "filename", "tags", "rank", "build")

    def __init__(self, name, version, path, filename, tags, build):
        self.name, self.version, self.path = name, version, path
        self.filename, self.tags, self.build = filename, tags, build
        sup = _supported_tags()
        ranks = [sup[t] for t in tags if t in sup]
        self.rank = min(ranks) if ranks else None


def _parse_wheel_filename(fn):
    """PEP 427: name-ver(-build)?-py-abi-plat.whl -> (name, ver, build, [tags])."""
    parts = fn[:-4].split("-")
    if len(parts) not in (5, 6):
        return None
    name, ver = parts[0], parts[1]
    build = parts[2] if len(parts) == 6 else ""
    py, abi, plat = parts[-3:]
    tags = ["%s-%s-%s" % (a, b, c) for a in py.split(".") for b in abi.split(".")
            for c in plat.split(".")]
    return normalize(name), ver, build, tags


def _listing(dirs):
    """[(dir, [(filename, size, mtime_ns)])] of the *.whl files: the memo key
    part that changes whenever a wheelhouse does."""
    out = []
    for d in dirs:
        files = []
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.name.endswith(".whl"):
                        st = e.stat()
                        files.append((e.name, st.st_size, st.st_mtime_ns))
        except OSError:
            files = None
        out.append((d, sorted(files) if files is not None else None))
    return out


class _Index:
    def __init__(self, dirs, listing):
        V = _pk("version")
        self.dirs = dirs
        self.missing = [d for d, files in listing if files is None]
        self.by_name = {}
        for d, files in listing:
            for fn, _size, _mt in files or ():
                p = _parse_wheel_filename(fn)
                if p is None:
                    continue
                name, ver, build, tags = p
                try:
                    v = V.Version(ver)
                except V.InvalidVersion:
                    continue
                self.by_name.setdefault(name, []).append(
                    _Wheel(name, v, os.path.join(d, fn), fn, tags, build))

    def compatible(self, name):
        """{Version: best compatible _Wheel} of one package."""
        best = {}
        for w in self.by_name.get(name, ()):
            if w.rank is None:
                continue
            cur = best.get(w.version)
            if cur is None or (w.rank, w.build) < (cur.rank, cur.build):
                best[w.version] = w
        return best

    def incompatible(self, name):
        return [w for w in self.by_name.get(name, ()) if w.rank is None]

    def looked_in(self):
        return ", ".join(d + (" (missing)" if d in self.missing else "") for d in self.dirs) \
            or "no folders"


# --- wheel contents ----------------------------------------------------------

def _dist_info_dir(names, pkg):
    dirs = sorted({n.split("/", 1)[0] for n in names
                   if "/" in n and n.split("/", 1)[0].endswith(".dist-info")})
    for d in dirs:
        if normalize(d[:-len(".dist-info")].rsplit("-", 1)[0]) == pkg:
            return d
    return dirs[0] if len(dirs) == 1 else None


def _wheel_requires(wheel):
    """The Requires-Dist lines of a wheel's METADATA (read from the zip)."""
    try:
        with zipfile.ZipFile(wheel.path) as z:
            di = _dist_info_dir(z.namelist(), wheel.name)
            if di is None:
                raise EnvError("wheel %s is corrupt: it has no %s-%s.dist-info folder"
                               % (wheel.path, wheel.name, wheel.version), wheel.name)
            try:
                data = z.read(di + "/METADATA")
            except KeyError:
                raise EnvError("wheel %s is corrupt: %s/METADATA is missing"
                               % (wheel.path, di), wheel.name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
        raise EnvError("wheel %s is corrupt or unreadable (%s)" % (wheel.path, e), wheel.name)
    from email.parser import HeaderParser
    msg = HeaderParser().parsestr(data.decode("utf-8", errors="replace"))
    return msg.get_all("Requires-Dist") or []


_sha_memo = {}


def _sha256(path):
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns, st.st_ino)
    h = _sha_memo.get(key)
    if h is None:
        d = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                d.update(chunk)
        h = _sha_memo[key] = d.hexdigest()
    return h


# --- resolution --------------------------------------------------------------

class _Con:
    """One constraint on a package: its specifier, the sentence explaining
    it ("alpha 1.0 requires beta<2" / "beta is pinned to 2.0"), and for a
    pin the text the user wrote."""
    __slots__ = ("spec", "why", "pin")

    def __init__(self, spec, why, pin=None):
        self.spec, self.why, self.pin = spec, why, pin


class _Conflict(Exception):
    def __init__(self, name, con):
        super().__init__(name)
        self.name, self.con = name, con


_PIN_KEY_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*$")


def _parse_pins(pins):
    S = _pk("specifiers")
    out = {}
    for key, raw in sorted(pins.items()):
        m = _PIN_KEY_RE.match(str(key))
        if not m:
            raise EnvError("%r is not a valid package name" % (key,), None)
        name = normalize(m.group(1))
        extras = {normalize(e) for e in (m.group(2) or "").split(",") if e.strip()}
        text = "" if raw is None else str(raw).strip()
        spec_text = "" if text in ("", "*") else ("==" + text if text[0].isdigit() else text)
        try:
            spec = S.SpecifierSet(spec_text)
        except S.InvalidSpecifier:
            raise EnvError("package '%s' is pinned to %r, which is not a version or a "
                           "version range" % (name, raw), name)
        out[name] = (spec, text or "*", extras)
    return out


def _satisfies(v, cons, prereleases=None):
    return all(c.spec.contains(v, prereleases=prereleases) for c in cons)


def _fmt_versions(vs):
    return ", ".join(str(v) for v in sorted(vs)) or "none"


class _Resolver:
    def __init__(self, pins, index, base, fetch):
        self.pins = pins          # name -> (SpecifierSet, text, extras)
        self.index = index
        self.base = base          # name -> Version
        self.fetch = fetch        # callable(name, cons) -> bool, or None
        self.requires_memo = {}

    def candidates(self, name):
        """{Version: _Wheel or "base"}."""
        c = dict(self.index.compatible(name))
        b = self.base.get(name)
        if b is not None:
            c.setdefault(b, "base")
        return c

    def choose(self, name, cons):
        for attempt in (0, 1):
            cands = self.candidates(name)
            pick = self._pick(name, cons, cands)
            if pick is not None:
                return pick
            if attempt == 0 and self.fetch and self.fetch(name, cons):
                continue
            break
        raise self.explain(name, cons)

    def _pick(self, name, cons, cands):
        b = self.base.get(name)
        for pre in (None, True):
            ok = [v for v in cands if _satisfies(v, cons, pre)]
            if not ok:
                continue
            if name not in self.pins and b is not None and b in ok:
                return b, "base"
            top = max(ok)
            if b is not None and b == top:
                return b, "base"
            return top, cands[top]
        return None

    def explain(self, name, cons):
        """The EnvError for constraints no available version meets."""
        cands = self.candidates(name)
        avail = list(cands)
        pin = next((c for c in cons if c.pin), None)
        needed = "" if pin else " (%s)" % "; ".join(c.why for c in cons)
        bad = self.index.incompatible(name)
        if not avail:
            if bad:
                return EnvError(
                    "package '%s' has no wheel for this interpreter (%s)%s; found only: %s"
                    % (name, _interp_tags_summary(), needed,
                       "; ".join("%s (tags %s)" % (w.filename, ", ".join(w.tags)) for w in bad)),
                    name)
            return EnvError("package '%s' is not in any wheelhouse (looked in: %s)%s"
                            % (name, self.index.looked_in(), needed), name)

        def any_ok(cs):
            return any(_satisfies(v, cs, pre) for v in avail for pre in (None, True))

        for c in cons:
            if not any_ok([c]):
                other = [w for w in bad if c.spec.contains(w.version, prereleases=True)]
                extra = ""
                if other:
                    extra = "; %s exists only for other platforms/Pythons (tags %s)" % (
                        ", ".join(sorted({"%s %s" % (name, w.version) for w in other})),
                        ", ".join(t for w in other for t in w.tags))
                if c.pin:
                    return EnvError("package '%s' has no version matching %s for this "
                                    "interpreter (available: %s)%s"
                                    % (name, c.pin, _fmt_versions(avail), extra), name)
                return EnvError("%s, but no version of %s matches (available: %s)%s"
                                % (c.why, name, _fmt_versions(avail), extra), name)
        ordered = sorted(cons, key=lambda c: not c.pin)  # a pin first when there is one
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                if not any_ok([a, b]):
                    first, second = (b, a) if a.pin else (a, b)
                    return EnvError("%s, but %s (available: %s)"
                                    % (first.why, second.why, _fmt_versions(avail)), name)
        return EnvError("no version of %s satisfies all of: %s (available: %s)"
                        % (name, "; ".join(c.why for c in cons), _fmt_versions(avail)), name)

    def requires(self, wheel):
        r = self.requires_memo.get(wheel.path)
        if r is None:
            R = _pk("requirements")
            r = []
            for line in _wheel_requires(wheel):
                try:
                    req = R.Requirement(line)
                except R.InvalidRequirement as e:
                    raise EnvError("wheel %s is corrupt: bad Requires-Dist %r (%s)"
                                   % (wheel.path, line, e), wheel.name)
                r.append((req, line.split(";", 1)[0].strip()))
            self.requires_memo[wheel.path] = r
        return r

    def run(self, learned):
        cons = self.cons = {}
        extras = {}
        for name, (spec, text, ex) in self.pins.items():
            cons[name] = [_Con(spec, "%s is pinned to %s" % (name, text), pin=text)]
            extras[name] = set(ex)
        for name, con in learned:
            cons.setdefault(name, []).append(con)
        chosen = {}   # name -> (Version, _Wheel or "base")
        order = []
        queue = deque(sorted(self.pins))

        def walk(name, which_extras):
            v, src = chosen[name]
            if src == "base":
                return
            for req, text in self.requires(src):
                if req.marker is not None:
                    if not any(req.marker.evaluate({"extra": e}) for e in which_extras):
                        continue
                dn = normalize(req.name)
                con = _Con(req.specifier, "%s %s requires %s" % (name, v, text))
                cons.setdefault(dn, []).append(con)
                new_ex = {normalize(e) for e in req.extras} - extras.setdefault(dn, set())
                extras[dn] |= new_ex
                if dn in chosen:
                    if not con.spec.contains(chosen[dn][0], prereleases=True):
                        raise _Conflict(dn, con)
                    if new_ex:
                        walk(dn, new_ex)
                else:
                    queue.append(dn)

        while queue:
            name = queue.popleft()
            if name in chosen:
                continue
            chosen[name] = self.choose(name, cons.get(name, []))
            order.append(name)
            walk(name, {""} | extras.get(name, set()))
        return order, chosen


# --- the cache ---------------------------------------------------------------

def _force_rmtree(path):
    def onerror(func, p, exc):
        try:
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
        except OSError:
            pass
        func(p)
    for root, dirs, _files in os.walk(path):
        for d in dirs:
            try:
                os.chmod(os.path.join(root, d), 0o755)
            except OSError:
                pass
    try:
        os.chmod(path, 0o755)
    except OSError:
        pass
    shutil.rmtree(path, onerror=onerror)


def _member_target(root, name, dist_data):
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or any(p in ("..",) for p in parts) or \
            re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in parts if p not in ("", ".")]
    if dist_data and len(parts) >= 2 and parts[0] == dist_data and \
            parts[1] in ("purelib", "platlib"):
        parts = parts[2:]
    if not parts:
        return root
    return os.path.join(root, *parts)


def _too_big(wheel, have, limit, key):
    return EnvError("wheel %s would unpack to %s, more than the %s allowed (%s in .tarn/config): "
                    "refusing it; raise %s if you trust this wheel"
                    % (wheel.path, have, limit, key, key), wheel.name)


def _copy_capped(src, dst, budget, wheel, limit_mb):
    """Copies SRC to DST, at most BUDGET bytes; returns the bytes copied.
    The sizes a zip declares are checked first, the bytes that come out are
    counted too."""
    done = 0
    while True:
        chunk = src.read(1 << 20)
        if not chunk:
            return done
        done += len(chunk)
        if done > budget:
            raise _too_big(wheel, "more than %d MiB" % limit_mb, "%d MiB" % limit_mb,
                           "env.max_unpacked_mb")
        dst.write(chunk)


def _unpack(wheel, sha, pkgs, check_existing=True, max_unpacked_mb=MAX_UNPACKED_MB,
            max_files=MAX_FILES):
    """Unpack once into pkgs/<name>-<ver>-<sha16>; returns (path, unpacked_now)."""
    final = os.path.join(pkgs, "%s-%s-%s" % (wheel.name, wheel.version, sha[:16]))
    if check_existing and os.path.isdir(final):
        return final, False
    budget = int(max_unpacked_mb) << 20
    try:
        with zipfile.ZipFile(wheel.path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
        raise EnvError("wheel %s is corrupt or unreadable (%s)" % (wheel.path, e), wheel.name)
    if len(infos) > max_files:
        raise _too_big(wheel, "%d files" % len(infos), "%d files" % max_files, "env.max_files")
    declared = sum(i.file_size for i in infos)
    if declared > budget:
        raise _too_big(wheel, "%.1f MiB" % (declared / 1048576.0), "%d MiB" % max_unpacked_mb,
                       "env.max_unpacked_mb")
    os.makedirs(pkgs, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=pkgs)
    try:
        with zipfile.ZipFile(wheel.path) as z:
            names = z.namelist()
            di = _dist_info_dir(names, wheel.name)
            dist_data = di[:-len(".dist-info")] + ".data" if di else None
            made = {tmp}
            for info in z.infolist():
                target = _member_target(tmp, info.filename, dist_data)
                if target is None:
                    raise EnvError("wheel %s is corrupt: unsafe member name %r"
                                   % (wheel.path, info.filename), wheel.name)
                if info.filename.endswith("/"):
                    if target not in made:
                        os.makedirs(target, exist_ok=True)
                        made.add(target)
                    continue
                parent = os.path.dirname(target)
                if parent not in made:
                    os.makedirs(parent, exist_ok=True)
                    made.add(parent)
                mode = 0o555 if (info.external_attr >> 16) & 0o111 else 0o444
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
                with os.fdopen(fd, "wb") as dst, z.open(info) as src:
                    budget -= _copy_capped(src, dst, budget, wheel, max_unpacked_mb)
        for root, dirs, _files in os.walk(tmp, topdown=False):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o555)
        os.chmod(tmp, 0o555)
    except EnvError:
        _force_rmtree(tmp)
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError,
            FileExistsError, NotADirectoryError, IsADirectoryError) as e:
        _force_rmtree(tmp)  # bad data, a duplicate member, a file that is also a folder
        raise EnvError("wheel %s is corrupt (%s)" % (wheel.path, e), wheel.name)
    except BaseException:
        _force_rmtree(tmp)
        raise
    try:
        os.rename(tmp, final)
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST) and os.path.isdir(final):
            _force_rmtree(tmp)          # another writer won; use theirs
            return final, False
        _force_rmtree(tmp)
        raise
    return final, True


def _touch(path):
    try:
        os.utime(path)
    except OSError:
        pass


def _write_json(path, obj):
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, sort_keys=True, indent=1)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _env_id(packages, shas):
    items = sorted([n, packages[n], shas.get(n, "base")] for n in packages)
    blob = json.dumps([PYTHON, items], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _record(cache_dir, result):
    env = dict(result)
    env["last_used"] = int(time.time())
    _write_json(os.path.join(cache_dir, "envs", result["id"] + ".json"), env)


def _pip_fetcher(index_url, dest):
    def fetch(name, cons):
        spec = ",".join(str(c.spec) for c in cons if str(c.spec))
        os.makedirs(dest, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", "--dest", dest,
               "--index-url", index_url, name + spec]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return r.returncode == 0
    return fetch


# --- resolve -----------------------------------------------------------------

def downloads_dir(cache_dir):
    """Where wheels fetched from an index land (searched like a wheelhouse)."""
    return os.path.join(os.path.abspath(cache_dir), "downloads")


def resolve(pins, find_links, cache_dir, index_url=None, base_packages=None,
            max_unpacked_mb=MAX_UNPACKED_MB, max_files=MAX_FILES):
    """Resolve ``pins`` to cached package entries; see the module docstring."""
    cache_dir = os.path.abspath(cache_dir)
    dirs = [os.path.abspath(d) for d in find_links if d]
    downloads = downloads_dir(cache_dir)
    if index_url:
        dirs.append(downloads)
    listing = _listing(dirs)
    if base_packages is None:
        base_fp = ["dirs", [(d, _mtime(d)) for d in base_dirs()]]
    else:
        base_fp = ["given", sorted((normalize(k), str(v)) for k, v in base_packages.items())]
    key_blob = json.dumps([_MEMO_VERSION, sys.executable, PYTHON,
                           sorted((str(k), str(v)) for k, v in pins.items()),
                           listing, index_url or "", base_fp], separators=(",", ":"))
    key = hashlib.sha256(key_blob.encode()).hexdigest()
    memo_path = os.path.join(cache_dir, "resolved", key + ".json")

    hit = _memo_hit(cache_dir, memo_path)
    if hit is not None:
        return hit

    V = _pk("version")
    if base_packages is None:
        base_packages = _interpreter_base()
    base = {}
    for k, v in base_packages.items():
        try:
            base[normalize(k)] = V.Version(str(v))
        except V.InvalidVersion:
            pass

    parsed = _parse_pins(pins)
    index = _Index(dirs, listing)
    fetch = None
    if index_url:
        fetcher = _pip_fetcher(index_url, downloads)

        def fetch(name, cons):
            if not fetcher(name, cons):
                return False
            index.__init__(dirs, _listing(dirs))
            return True
    r = _Resolver(parsed, index, base, fetch)
    learned = []
    for _ in range(_MAX_RESTARTS + 1):
        try:
            order, chosen = r.run(learned)
            break
        except _Conflict as c:
            # Restart if some version still meets everything known now.
            all_cons = r.cons[c.name]
            if r._pick(c.name, all_cons, r.candidates(c.name)) is None:
                raise r.explain(c.name, all_cons)
            learned.append((c.name, c.con))
    else:
        raise EnvError("could not resolve %s after %d restarts"
                       % (", ".join(sorted(parsed)), _MAX_RESTARTS))

    # Everything resolved: hash and unpack (the only writes).
    pkgs = os.path.join(cache_dir, "pkgs")
    packages, sources, shas, paths, cold = {}, {}, {}, [], []
    for name in order:
        v, src = chosen[name]
        packages[name] = str(v)
        sources[name] = "base" if src == "base" else "wheel"
        if src != "base":
            shas[name] = _sha256(src.path)
    for name in order:
        v, src = chosen[name]
        if src == "base":
            continue
        path, fresh = _unpack(src, shas[name], pkgs, max_unpacked_mb=max_unpacked_mb,
                              max_files=max_files)
        _touch(path)
        paths.append(path)
        if fresh:
            cold.append(name)
    result = {"id": _env_id(packages, shas), "python": PYTHON, "paths": paths,
              "packages": packages, "sources": sources, "cold": cold}
    _record(cache_dir, result)
    _write_json(memo_path, {"id": result["id"]})
    return result


def _memo_hit(cache_dir, memo_path):
    try:
        with open(memo_path) as fh:
            env_id = json.load(fh)["id"]
        with open(os.path.join(cache_dir, "envs", env_id + ".json")) as fh:
            env = json.load(fh)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    paths = env.get("paths", [])
    if not all(os.path.isdir(p) for p in paths):
        return None
    for p in paths:
        _touch(p)
    result = {"id": env["id"], "python": env["python"], "paths": paths,
              "packages": env["packages"], "sources": env["sources"], "cold": []}
    _record(cache_dir, result)
    return result


# --- building wheels (tests, benchmark) --------------------------------------

def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(dest_dir, name, version, files, requires=(), tag="py3-none-any"):
    """Write ``<name>-<version>-<tag>.whl`` into dest_dir; return its path.
    ``files``: {relative path ("pkg/__init__.py"): text}; ``requires``:
    Requires-Dist lines ("beta>=1,<2", "gamma; python_version < '3'")."""
    os.makedirs(dest_dir, exist_ok=True)
    esc = re.sub(r"[-_.]+", "_", name)
    di = "%s-%s.dist-info" % (esc, version)
    meta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    meta += "".join("Requires-Dist: %s\n" % r for r in requires)
    wheel_meta = ("Wheel-Version: 1.0\nGenerator: tarn.envs\nRoot-Is-Purelib: true\n"
                  "Tag: %s\n" % tag)
    entries = [(p, t.encode() if isinstance(t, str) else t) for p, t in sorted(files.items())]
    entries += [(di + "/METADATA", meta.encode()), (di + "/WHEEL", wheel_meta.encode())]
    record = "".join("%s,%s,%d\n" % (p, _record_hash(b), len(b)) for p, b in entries)
    record += "%s/RECORD,,\n" % di
    entries.append((di + "/RECORD", record.encode()))
    path = os.path.join(dest_dir, "%s-%s-%s.whl" % (esc, version, tag))
    tmp = path + ".part"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for p, b in entries:
            zi = zipfile.ZipInfo(p, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, b)
    os.replace(tmp, path)
    return path


# --- CLI ---------------------------------------------------------------------

def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="python3 -m tarn.envs",
                                 description="Resolve pins to a cached environment.")
    ap.add_argument("--resolve", required=True, metavar="JSON_PINS")
    ap.add_argument("--find-links", default="", metavar="DIR[:DIR...]")
    ap.add_argument("--cache", required=True, metavar="DIR")
    ap.add_argument("--index-url", default=None)
    ap.add_argument("--base-packages", default=None, metavar="JSON")
    a = ap.parse_args(argv)
    try:
        pins = json.loads(a.resolve)
        base = json.loads(a.base_packages) if a.base_packages else None
    except ValueError as e:
        print("tarn.envs: error: bad JSON argument (%s)" % e, file=sys.stderr)
        return 2
    try:
        res = resolve(pins, [d for d in a.find_links.split(":") if d], a.cache,
                      index_url=a.index_url, base_packages=base)
    except EnvError as e:
        print("tarn.envs: error: %s" % e, file=sys.stderr)
        return 1
    json.dump(res, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
