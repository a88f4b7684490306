#!/usr/bin/python3
"""Writes docs/api-reference.md from the OpenAPI document that `kade openapi` prints.

Usage: scripts/gen_api_reference.py OPENAPI_JSON [OUT]   (OUT defaults to docs/api-reference.md)
       scripts/gen_api_reference.py --check OPENAPI_JSON  (fails when the file is out of date)
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "api-reference.md")


def fields(schema, components, depth=0):
    """One line describing a schema's top-level fields."""
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"`{name}`"
    t = schema.get("type")
    if t == "object" and schema.get("properties"):
        req = set(schema.get("required", []))
        parts = []
        for k, v in schema["properties"].items():
            kind = fields(v, components, depth + 1) if "$ref" in v else v.get("type", "any")
            if v.get("type") == "array":
                kind = "[" + (fields(v["items"], components, depth + 1) if "$ref" in v.get("items", {})
                              else v.get("items", {}).get("type", "any")) + "]"
            parts.append(f"`{k}`{'*' if k in req else ''}: {kind}")
        return "{" + ", ".join(parts) + "}"
    if t == "array":
        return "[" + (fields(schema.get("items", {}), components, depth + 1) or "any") + "]"
    if "contentMediaType" in schema:
        return "bytes"
    return t or "any"


def render(doc):
    comps = doc["components"]["schemas"]
    lines = [
        "# API reference",
        "",
        "Generated from the OpenAPI 3.1 document (`kade openapi`, or `GET /api/v1/openapi.json`",
        "with a token) by `scripts/gen_api_reference.py`; do not edit by hand. The test suite",
        "fails when this file is out of date. [api.md](api.md) explains authentication, errors",
        "and limits; `*` marks required fields; role is the least a caller needs.",
        "",
    ]
    by_tag = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            by_tag.setdefault(op["tags"][0], []).append((path, method, op))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", "", "| method | path | role | summary | body | answer |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for path, method, op in sorted(by_tag[tag], key=lambda x: (x[0], x[1])):
            body = ""
            if "requestBody" in op:
                content = op["requestBody"]["content"]
                ct, spec = next(iter(content.items()))
                body = fields(spec["schema"], comps) if ct == "application/json" else f"`{ct}`"
            query = [p["name"] + ("*" if p.get("required") else "")
                     for p in op.get("parameters", []) if p["in"] == "query"]
            if query:
                body = (body + " " if body else "") + "query: " + ", ".join(f"`{q}`" for q in query)
            ok = next(k for k in op["responses"] if k[0] == "2")
            resp = op["responses"][ok]
            answer = ok
            if "content" in resp:
                ct, spec = next(iter(resp["content"].items()))
                answer += " " + (fields(spec["schema"], comps) if ct == "application/json" else f"`{ct}`")
            role = op.get("x-kade-permission", "")
            if op.get("security") == []:
                role = "public"
            audit = op.get("x-kade-audit-action")
            summary = op["summary"] + (f" (audit: `{audit}`)" if audit else "")
            row = [method.upper(), f"`{path}`", role, summary, body, answer]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        lines.append("")
    lines += ["## Schemas", ""]
    for name in sorted(comps):
        lines.append(f"- **{name}**: {fields(comps[name], comps)}")
    lines.append("")
    return "\n".join(lines)


def main():
    args = sys.argv[1:]
    check = args and args[0] == "--check"
    if check:
        args = args[1:]
    doc = json.load(open(args[0]))
    text = render(doc)
    out = args[1] if len(args) > 1 else OUT
    if check:
        current = open(out).read() if os.path.exists(out) else ""
        if current != text:
            sys.exit(f"{out} is out of date: run make api-reference")
        print(f"{out} is up to date")
        return
    with open(out, "w") as f:
        f.write(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
