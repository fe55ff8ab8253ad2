#!/usr/bin/python3
"""Validates JSON documents against the OpenID Connect for Identity Assurance verified_claims
schema shipped next to this file (SOURCE.md). Usage: validate.py FILE... Prints one line per
file; exits 1 when any is invalid, 2 on bad usage."""
import json
import os
import sys
import warnings

import jsonschema

here = os.path.dirname(os.path.abspath(__file__))
schema = json.load(open(os.path.join(here, "verified_claims.json")))
claims = json.load(open(os.path.join(here, "claims_schema.json")))
with warnings.catch_warnings():
    # RefResolver is what Debian 12's jsonschema (4.10) has; newer ones warn that it is deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    resolver = jsonschema.RefResolver.from_schema(
        schema, store={schema["$id"]: schema, claims["$id"]: claims})
    validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
if len(sys.argv) < 2:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
bad = 0
for path in sys.argv[1:]:
    document = json.load(open(path))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    if errors:
        bad += 1
        print(f"{path}: INVALID: {errors[0].message} at /{'/'.join(map(str, errors[0].path))}")
    else:
        print(f"{path}: valid")
sys.exit(1 if bad else 0)
