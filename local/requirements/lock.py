#!/usr/bin/env python3
"""Regenerates the pinned requirement files in local/requirements/ from their header lines.

Each file names the virtualenv it goes into (`# venv:`) and its top-level requirements
(`# requires:`); everything below its comment header is generated here. The files of one venv
are resolved together: every top-level requirement of that venv is installed into a scratch venv
and frozen, so a package two files share gets one version. Each file then keeps the part of that
frozen set its own requirements pull in (pip's dry-run report, constrained by the freeze).

    python3 local/requirements/lock.py           # after editing a `# requires:` line
    python3 local/requirements/lock.py checkov   # only the venvs of the files named (checkov.txt)
    python3 local/requirements/lock.py --hashes  # the pins as they are, their hashes fetched again

Every pin carries the sha256 of each file PyPI has for that version (`--hash=`), so pip installs
them in hash-checking mode: a file replaced on the index, or a mirror serving another one, fails
the install instead of running in the deploy job, which holds AWS credentials.

Run it with the Python the venvs are made with (python3 on PATH; the pins are resolved for its
version). It needs PyPI, and writes nothing but the requirement files and a temporary directory.
"""

import json
import pathlib
import re
import subprocess
import sys
import tempfile
import urllib.request
import venv

HERE = pathlib.Path(__file__).resolve().parent
PIP_QUIET = ["--quiet", "--disable-pip-version-check"]


def parse(path):
    """The comment header, the venv and the top-level requirements of one requirement file."""
    header, venv_dir, requires = [], None, []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
        if line.startswith("# venv:"):
            venv_dir = line.split(":", 1)[1].strip()
        elif line.startswith("# requires:"):
            requires += line.split(":", 1)[1].split()
    if not venv_dir or not requires:
        sys.exit(f"error: {path} needs a '# venv:' and a '# requires:' line in its header")
    return header, venv_dir, requires


def pip(python, *args, capture=False):
    return subprocess.run(
        [python, "-m", "pip", *args], check=True, text=True, capture_output=capture
    ).stdout


def pins_needed_by(python, requires, constraints):
    """name==version of every package `pip install requires` would install under constraints."""
    report = pip(
        python, "install", *PIP_QUIET, "--dry-run", "--ignore-installed", "--report", "-",
        "-c", str(constraints), *requires, capture=True,
    )
    installs = json.loads(report)["install"]
    # Extras are part of a pin: hash-checking mode installs `name[extras]`, whether the extras are
    # asked for here or by a dependency (aws-sam-cli's `boto3-stubs[…]`), only when pinned as such.
    # pip's own copy of `packaging` reads the dependencies' requirements.
    from pip._vendor.packaging.requirements import Requirement

    extras = {
        normalized(item["metadata"]["name"]): set(item.get("requested_extras") or [])
        for item in installs
    }
    # Until nothing changes: an extra wanted of one package can want extras of its dependencies.
    changed = True
    while changed:
        changed = False
        for item in installs:
            own = [""] + sorted(extras[normalized(item["metadata"]["name"])])
            for spec in item["metadata"].get("requires_dist", []):
                requirement = Requirement(spec)
                wanted = extras.get(normalized(requirement.name))
                if wanted is None or (
                    requirement.marker
                    and not any(requirement.marker.evaluate({"extra": e}) for e in own)
                ):
                    continue
                if not requirement.extras <= wanted:
                    wanted |= requirement.extras
                    changed = True

    def pins(item):
        # The plain pin too: a dependent asking for the package without extras needs it.
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        wanted = sorted(extras.get(normalized(name), ()))
        plain = [f"{name}=={version}"]
        return plain + ([f"{name}[{','.join(wanted)}]=={version}"] if wanted else [])

    return sorted((pin for item in installs for pin in pins(item)), key=str.lower)


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def with_hashes(pin):
    """`name==version` and the sha256 of every file of that release (PyPI's JSON simple API)."""
    name, version = pin.split("==")
    request = urllib.request.Request(
        f"https://pypi.org/simple/{normalized(name.split('[')[0])}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]

    def release_of(filename):
        if filename.endswith(".whl"):
            return filename.split("-")[1]
        stem = re.sub(r"\.(tar\.gz|zip|tar\.bz2)$", "", filename)
        return stem.rsplit("-", 1)[-1]

    digests = sorted(
        f["hashes"]["sha256"]
        for f in files
        if not f.get("yanked") and release_of(f["filename"]) == version and "sha256" in f["hashes"]
    )
    if not digests:
        sys.exit(f"error: PyPI lists no file of {pin}")
    return " \\\n".join([pin] + [f"    --hash=sha256:{digest}" for digest in digests])


def pins_of(path):
    """The `name==version` lines of a generated file (hash lines left out)."""
    return [
        line.split()[0]
        for line in path.read_text().splitlines()
        if "==" in line and not line.startswith("#")
    ]


def write(path, header, pins):
    path.write_text("\n".join(header + [with_hashes(pin) for pin in pins]) + "\n")


def main():
    if sys.argv[1:] == ["--hashes"]:
        # The pinned versions stay: each file's requirements are resolved again under its own
        # pins (for the extras), and every pin hashed.
        with tempfile.TemporaryDirectory(prefix="requirements-hash.") as tmp:
            for path in sorted(HERE.glob("*.txt")):
                header, _, requires = parse(path)
                constraints = pathlib.Path(tmp) / path.name
                constraints.write_text(
                    "\n".join(sorted({pin.split("==")[0].split("[")[0] + "==" + pin.split("==")[1]
                                       for pin in pins_of(path)})) + "\n"
                )
                pins = pins_needed_by(sys.executable, requires, constraints)
                write(path, header, pins)
                print(f"    {path.relative_to(HERE.parent.parent)}: {len(pins)} packages, hashed")
        return
    files = {}
    for path in sorted(HERE.glob("*.txt")):
        files[path] = parse(path)
    by_venv = {}
    for path, (_, venv_dir, _) in files.items():
        by_venv.setdefault(venv_dir, []).append(path)
    # Named files: only their venvs are resolved again, so the other files keep their pins.
    named = set(sys.argv[1:])
    unknown = named - {path.stem for path in files}
    if unknown:
        sys.exit(f"error: no such requirement file: {', '.join(sorted(unknown))}")
    if named:
        by_venv = {v: ps for v, ps in by_venv.items() if named & {p.stem for p in ps}}

    with tempfile.TemporaryDirectory(prefix="requirements-lock.") as tmp:
        for venv_dir, paths in by_venv.items():
            scratch = pathlib.Path(tmp) / venv_dir.strip("./").replace("/", "_")
            venv.create(scratch, with_pip=True)
            python = str(scratch / "bin" / "python")
            requires = [r for p in paths for r in files[p][2]]
            print(f"==> resolving {venv_dir}: {' '.join(requires)}")
            pip(python, "install", *PIP_QUIET, *requires)
            frozen = scratch / "frozen.txt"
            frozen.write_text(pip(python, "freeze", capture=True))
            for path in paths:
                header, _, own = files[path]
                pins = pins_needed_by(python, own, frozen)
                write(path, header, pins)
                print(f"    {path.relative_to(HERE.parent.parent)}: {len(pins)} packages")


if __name__ == "__main__":
    main()
