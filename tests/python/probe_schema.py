"""`concord probe --json` validates against docs/probe.schema.json (jsonschema, PyPI).

Usage: probe_schema.py CONCORD_BINARY SCHEMA. Exits 77 (skip) without jsonschema."""
import json
import subprocess
import sys

try:
    import jsonschema
except ImportError as e:  # pragma: no cover
    print(f"SKIP: jsonschema not installed ({e}); scripts/install-deps.sh installs it")
    sys.exit(77)

probe = json.loads(subprocess.run([sys.argv[1], "probe", "--json"], check=True,
                                  capture_output=True, text=True).stdout)
schema = json.load(open(sys.argv[2]))
jsonschema.validate(probe, schema)
names = [b["name"] for b in probe["backends"]]
assert names[:1] == ["cuda"] and "cpu" in names and "cpu-ref" in names, names
assert probe["auto"]["selected"] in names
print("1 passed, 0 failed")
