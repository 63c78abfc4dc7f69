#!/usr/bin/env python3
"""Lint real public repositories that no one here wrote (issue #24).

    Tools/corpus/corpus.py build  [--saved DIR] [--mirror DIR]   files -> Tools/corpus/.work/
    Tools/corpus/corpus.py lint   MESHC [--only NAME,NAME] [--quiet]

`build` lays out every unit of manifest.yaml as one folder, Tools/corpus/.work/UNIT/, holding
the unit's files under their repository paths. A file comes from the first of:
  --saved DIR    files saved with the search tool's read_file, as DIR/OWNER/NAME/PATH
  --mirror DIR   git snapshots, as DIR/OWNER+NAME/repo (the search tool's fetch), read at the
                 manifest's commit (or HEAD when the snapshot lacks it)
A unit (or a path) with `namespace:` gets it on every object that names none, as `kubectl apply -n` does.

`lint` runs `MESHC lint --format json` on each unit and prints, per unit, the exit code and
every error and warning (file:line code message), then one summary line per unit:
    UNIT  exit=N  errors=E warnings=W  verdict=clean|errors: N  ok|MISMATCH
and exits 1 when a unit's result differs from its verdict. Nothing third-party is committed:
.work/ is git-ignored.
"""
import json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, ".work")


def load_manifest():
    import yaml
    with open(os.path.join(HERE, "manifest.yaml")) as f:
        return yaml.safe_load(f)["repos"]


def units():
    for repo in load_manifest():
        for u in repo["units"]:
            yield repo, u


def git(mirror, *args):
    return subprocess.run(["git", "-C", mirror, *args], capture_output=True, check=False)


def mirror_files(mirror, commit, path):
    """Every YAML file at or under `path` in the snapshot, with its bytes."""
    rev = commit if git(mirror, "cat-file", "-e", commit).returncode == 0 else "HEAD"
    listing = git(mirror, "ls-tree", "-r", "--name-only", rev, "--", path).stdout.decode().splitlines()
    for name in listing:
        if name == path or name.endswith((".yaml", ".yml", ".json")):
            blob = git(mirror, "show", f"{rev}:{name}")
            if blob.returncode == 0:
                yield name, blob.stdout


def saved_files(root, path):
    full = os.path.join(root, path)
    if os.path.isfile(full):
        yield path, open(full, "rb").read()
    elif os.path.isdir(full):
        for d, _, files in os.walk(full):
            for f in sorted(files):
                if f.endswith((".yaml", ".yml", ".json")):
                    p = os.path.join(d, f)
                    yield os.path.relpath(p, root), open(p, "rb").read()


def with_namespace(text, namespace):
    """Give every object without a namespace `namespace`, line by line (positions of the other
    lines move by the inserted ones only; findings still name the right object)."""
    out, docs = [], text.split("\n")
    in_meta, meta_indent, has_ns, insert_at = False, None, False, None
    pending = []

    def flush():
        nonlocal pending, insert_at, has_ns
        if insert_at is not None and not has_ns:
            pending.insert(insert_at, f"{' ' * (meta_indent or 2)}namespace: {namespace}")
        out.extend(pending)
        pending, insert_at, has_ns = [], None, False

    for line in docs:
        if line.startswith("---"):
            flush()
            out.append(line)
            in_meta = False
            continue
        if line.startswith("metadata:") and line.strip() == "metadata:":
            in_meta, meta_indent = True, None
            pending.append(line)
            insert_at = len(pending)
            continue
        if in_meta:
            stripped = line.lstrip(" ")
            indent = len(line) - len(stripped)
            if stripped and not stripped.startswith("#"):
                if indent == 0:
                    in_meta = False
                else:
                    if meta_indent is None:
                        meta_indent = indent
                    if indent == meta_indent and stripped.startswith("namespace:"):
                        has_ns = True
        pending.append(line)
    flush()
    return "\n".join(out)


def build(args):
    saved = args[args.index("--saved") + 1] if "--saved" in args else None
    mirror = args[args.index("--mirror") + 1] if "--mirror" in args else None
    if not saved and not mirror:
        sys.exit("corpus: build needs --saved DIR or --mirror DIR")
    missing = 0
    for repo, u in units():
        dest = os.path.join(WORK, u["name"])
        subprocess.run(["rm", "-rf", dest], check=True)
        found = 0
        for entry in u["paths"]:
            # A path, or {path: P, namespace: N} for files applied into a namespace of their own.
            path = entry["path"] if isinstance(entry, dict) else entry
            namespace = (entry.get("namespace") if isinstance(entry, dict) else None) or u.get("namespace")
            files = []
            if saved and os.path.exists(os.path.join(saved, repo["repo"], path)):
                files = list(saved_files(os.path.join(saved, repo["repo"]), path))
            elif mirror:
                m = os.path.join(mirror, repo["repo"].replace("/", "+"), "repo")
                if os.path.isdir(m):
                    files = list(mirror_files(m, repo["commit"], path))
            if not files:
                print(f"corpus: {repo['repo']}: {path}: not found", file=sys.stderr)
                missing += 1
            for name, data in files:
                target = os.path.join(dest, name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if namespace:
                    data = with_namespace(data.decode("utf-8", "replace"), namespace).encode()
                with open(target, "wb") as f:
                    f.write(data)
                found += 1
        print(f"{u['name']:32} {repo['repo']:45} {found} files")
    return 1 if missing else 0


def lint(args):
    meshc = os.path.abspath(args[0])
    only = set(args[args.index("--only") + 1].split(",")) if "--only" in args else None
    quiet = "--quiet" in args
    summary, mismatches = [], 0
    for repo, u in units():
        if only and u["name"] not in only:
            continue
        d = os.path.join(WORK, u["name"])
        if not os.path.isdir(d):
            summary.append(f"{u['name']:32} not built (run build first)")
            mismatches += 1
            continue
        p = subprocess.run([meshc, "lint", "--format", "json", "."], cwd=d, capture_output=True, text=True, timeout=300)
        try:
            diags = json.loads(p.stdout).get("diagnostics", [])
        except ValueError:
            diags = []
            print(f"== {u['name']}: no JSON output: {p.stderr.strip()[:300]}")
        errors = [x for x in diags if x.get("severity") == "error"]
        warnings = [x for x in diags if x.get("severity") == "warning"]
        if not quiet and (errors or warnings or p.returncode not in (0, 1)):
            print(f"== {u['name']} ({repo['repo']}) exit={p.returncode}")
            for x in errors + warnings:
                f = x.get("file", "?").split(f".work/{u['name']}/", 1)[-1]
                print(f"   {x['severity']:7} {x['code']} {f}:{x.get('line', '?')}  {x['message']}")
        verdict = str(u.get("verdict", "clean"))
        expected_errors = 0 if verdict == "clean" else int(verdict.split(":")[1].strip().split()[0])
        # Warnings do not fail a run (exit 0); each is judged in the closing note's table.
        ok = p.returncode == (0 if expected_errors == 0 else 1) and len(errors) == expected_errors
        mismatches += not ok
        summary.append(f"{u['name']:32} exit={p.returncode} errors={len(errors)} warnings={len(warnings)}  verdict={verdict}  {'ok' if ok else 'MISMATCH'}")
    print("\n".join(summary))
    print(f"corpus: {len(summary) - mismatches}/{len(summary)} units as expected")
    return 1 if mismatches else 0


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("build", "lint"):
        sys.exit(__doc__)
    sys.exit(build(sys.argv[2:]) if sys.argv[1] == "build" else lint(sys.argv[2:]))


if __name__ == "__main__":
    main()
