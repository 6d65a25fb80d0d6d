#!/usr/bin/env python3
"""Re-seeds fuzz/corpus/ from the test suite: the filters, PATCH paths, PATCH bodies and
resource bodies that tests/api/*.rs and the unit tests in src/scim/ use. Rust string
literals and `json!(...)` blocks that are plain JSON are read as they stand; blocks that
interpolate Rust expressions are skipped. Run from the repository root; it rewrites the
committed seeds (tens per target), never libFuzzer's own output."""

import hashlib
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
PER_TARGET = 60

STR = re.compile(r'r(#+)"(.*?)"\1|"((?:[^"\\\n]|\\.)*)"', re.S)


def unescape(body):
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n == "u":
            end = body.index("}", i)
            out.append(chr(int(body[i + 3 : end], 16)))
            i = end + 1
            continue
        if n == "\n":  # line continuation
            i += 2
            while i < len(body) and body[i] in " \t\n":
                i += 1
            continue
        out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}.get(n, n))
        i += 2
    return "".join(out)


def literals(text):
    for m in STR.finditer(text):
        yield m.group(2) if m.group(1) else unescape(m.group(3))


def json_blocks(text):
    """The JSON inside each `json!( ... )`, when it is JSON once trailing commas go."""
    for m in re.finditer(r"json!\(", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            c = text[i]
            if c == '"':
                i += 1
                while text[i] != '"':
                    i += 2 if text[i] == "\\" else 1
            elif c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            i += 1
        src = text[m.end() : i - 1]
        src = re.sub(r",(\s*[}\]])", r"\1", src)
        try:
            yield json.loads(src)
        except ValueError:
            continue


def files(*globs):
    for g in globs:
        yield from sorted(ROOT.glob(g))


FILTER_WORD = re.compile(r"\b(eq|ne|co|sw|ew|gt|ge|lt|le|pr)\b", re.I)
PATH_SHAPE = re.compile(r"^(urn:[^\s\"]+:)?[A-Za-z$][\w$-]*(\.[\w$-]+)?(\[[^\]]*\](\.[\w$-]+)?)?$")


def filters():
    for f in files("src/scim/filter/*.rs", "tests/api/*.rs", "src/service/filter.rs"):
        for s in literals(f.read_text()):
            if FILTER_WORD.search(s) and len(s) < 400 and "{" not in s:
                yield s
        for v in json_blocks(f.read_text()):
            if isinstance(v, dict) and isinstance(v.get("filter"), str):
                yield v["filter"]


def walk(v):
    yield v
    if isinstance(v, dict):
        for x in v.values():
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)


def patch_bodies():
    for f in files("tests/api/patch*.rs", "tests/api/groups.rs", "tests/api/users.rs", "src/scim/patch.rs"):
        for v in json_blocks(f.read_text()):
            if isinstance(v, dict) and any(k.lower() == "operations" for k in v):
                yield v
            elif isinstance(v, list) and v and all(isinstance(o, dict) and "op" in o for o in v):
                yield {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": v}


def paths():
    for v in patch_bodies():
        for x in walk(v):
            if isinstance(x, dict) and isinstance(x.get("path"), str):
                yield x["path"]
    for f in files("src/scim/filter/path.rs", "src/scim/patch.rs", "src/service/sort.rs"):
        for s in literals(f.read_text()):
            if PATH_SHAPE.match(s) or ("[" in s and len(s) < 200):
                yield s


def resources():
    for f in files("tests/api/*.rs", "src/scim/validate.rs", "src/scim/patch.rs"):
        for v in json_blocks(f.read_text()):
            if not isinstance(v, dict) or any(k.lower() == "operations" for k in v):
                continue
            keys = {k.lower() for k in v}
            if keys & {"username", "displayname", "members", "emails", "name", "schemas"}:
                yield v


def write(target, items):
    out = CORPUS / target
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    seen = []
    for it in items:
        data = it if isinstance(it, bytes) else (it.encode() if isinstance(it, str) else json.dumps(it, ensure_ascii=False).encode())
        if data and data not in seen:
            seen.append(data)
    # Spread the pick over the whole list rather than taking the first files' literals.
    step = max(1, len(seen) / PER_TARGET)
    picked = [seen[int(i * step)] for i in range(min(PER_TARGET, len(seen)))]
    for data in picked:
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    print(f"{target}: {len(picked)} seeds (of {len(seen)} found)")


def main():
    write("filter_parser", filters())
    write("attr_path", paths())
    write("patch_document", patch_bodies())
    write("resource_validation", resources())
    # Cursor tokens: printable shapes of the token (body.signature); the target signs its own.
    write("cursor_token", [
        "", ".", "garbage", "a.b", "eyJxIjoicSJ9.AAAA", "eyJxIjoicSIsInQiOjEsImsiOm51bGwsImkiOiIxIiwiYiI6ZmFsc2V9.",
        "====.====", "e30.e30", "x" * 64 + "." + "y" * 22,
    ])


if __name__ == "__main__":
    sys.exit(main())
