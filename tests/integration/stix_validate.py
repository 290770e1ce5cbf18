#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tests/integration/stix_validate.py SCHEMAS FILE... - validate STIX 2.1 bundles (or TAXII
envelopes, whose "objects" are checked one by one) against OASIS's JSON schemas.

Every bundle is checked against common/bundle.json, and every object in it against the schema
of its own type (sdos/indicator.json, sdos/identity.json, common/marking-definition.json, ...):
bundle.json accepts an unknown object as a custom one, so a broken indicator could pass it.
Exits 1 naming the file, the object and the schema error on the first failure.
"""
import json
import os
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

root = sys.argv[1]
schemas = {}
registry = Registry()
for d, _, files in os.walk(root):
    for f in files:
        if f.endswith(".json"):
            with open(os.path.join(d, f)) as fh:
                s = json.load(fh)
            schemas[os.path.relpath(os.path.join(d, f), root)] = s
            registry = registry.with_resource(s["$id"], Resource.from_contents(s))

by_type = {}
for rel, s in schemas.items():
    t = s.get("title")
    if rel.split("/")[0] in ("sdos", "sros", "observables") or t in ("marking-definition", "bundle"):
        by_type[t] = s


def check(schema, doc, what):
    v = Draft202012Validator(schema, registry=registry)
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    if errs:
        print("%s: %s: %s (at %s)" % (what, schema["title"], errs[0].message,
                                      "/".join(map(str, errs[0].path))))
        sys.exit(1)


n = 0
for path in sys.argv[2:]:
    with open(path) as fh:
        doc = json.load(fh)
    if doc.get("type") == "bundle":
        check(by_type["bundle"], doc, path)
    objs = doc.get("objects") or []
    for o in objs:
        t = o.get("type")
        if t not in by_type:
            print("%s: %s: no schema for type %r" % (path, o.get("id"), t))
            sys.exit(1)
        check(by_type[t], o, "%s: %s" % (path, o.get("id")))
        n += 1
print("valid: %d objects" % n)
