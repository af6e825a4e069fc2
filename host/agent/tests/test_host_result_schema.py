"""The agent's result lines against the contract the coordinator reads them with.

host/results/host-result.schema.json is generated from the coordinator's zod schema. This file checks
real agent lines (the agent run against an empty host root, for each document, and with arguments it
cannot parse) and the shared samples (host/results/host-result-samples.jsonl, which the zod side checks
too) against it, with a small validator for the part of JSON Schema the file uses. Self-contained:
stdlib only, and it runs the agent as the documents do (`python3 -I host/agent ...`), without importing it.
"""

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = ROOT / "host" / "results" / "host-result.schema.json"
SAMPLES_PATH = ROOT / "host" / "results" / "host-result-samples.jsonl"
AGENT_DIR = ROOT / "host" / "agent"


class SchemaError(Exception):
    """The schema uses a keyword this validator does not implement: extend it rather than pass."""


# Keywords that only describe, and those this validator checks. Anything else is refused (SchemaError).
ANNOTATIONS = {"$schema", "$comment", "description", "title"}
CHECKED = {
    "type",
    "const",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "items",
    "maxItems",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "oneOf",
    "anyOf",
    "not",
}


def _is_type(value, name):
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if name == "integer":
        return _is_type(value, "number") and float(value).is_integer()
    raise SchemaError("unknown type %r" % name)


def _ecma_pattern(pattern):
    # ECMA's `$` (no multiline) matches only at the very end; Python's also before a final newline.
    return re.compile(re.sub(r"(?<!\\)\$$", r"\\Z", pattern))


def unimplemented_keywords(schema, path="(root)"):
    """Every keyword anywhere in `schema` that validate() does not implement, as `path: keyword`."""
    found = ["%s: %s" % (path, k) for k in sorted(set(schema) - ANNOTATIONS - CHECKED)]
    for key in ("items", "additionalProperties", "propertyNames", "not"):
        if isinstance(schema.get(key), dict):
            found.extend(unimplemented_keywords(schema[key], "%s/%s" % (path, key)))
    for name, sub in schema.get("properties", {}).items():
        found.extend(unimplemented_keywords(sub, "%s/properties/%s" % (path, name)))
    for key in ("anyOf", "oneOf"):
        for index, sub in enumerate(schema.get(key, [])):
            found.extend(unimplemented_keywords(sub, "%s/%s/%d" % (path, key, index)))
    return found


def validate(value, schema, path="(root)"):
    """The problems of `value` against `schema`, each as `path: what`; empty when it conforms."""
    unknown = set(schema) - ANNOTATIONS - CHECKED
    if unknown:
        raise SchemaError("%s: keywords not implemented: %s" % (path, ", ".join(sorted(unknown))))
    problems = []
    if "type" in schema and not _is_type(value, schema["type"]):
        return ["%s: expected %s" % (path, schema["type"])]
    # JSON tells true from 1, which Python's == does not.
    const = schema.get("const")
    if "const" in schema and not (value == const and isinstance(value, bool) == isinstance(const, bool)):
        problems.append("%s: expected %r" % (path, schema["const"]))
    if "enum" in schema and value not in schema["enum"]:
        problems.append("%s: expected one of %s" % (path, ", ".join(map(str, schema["enum"]))))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append("%s: longer than %d" % (path, schema["maxLength"]))
        if "pattern" in schema and not _ecma_pattern(schema["pattern"]).search(value):
            problems.append("%s: does not match %s" % (path, schema["pattern"]))
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append("%s: below %s" % (path, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            problems.append("%s: above %s" % (path, schema["maximum"]))
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            problems.append("%s: not above %s" % (path, schema["exclusiveMinimum"]))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append("%s: more than %d items" % (path, schema["maxItems"]))
        if "items" in schema:
            for index, item in enumerate(value):
                problems.extend(validate(item, schema["items"], "%s.%d" % (path, index)))
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                problems.append("%s.%s: required" % (path, key))
        for key, item in value.items():
            if "propertyNames" in schema:
                problems.extend(validate(key, schema["propertyNames"], "%s[%r]" % (path, key)))
            if key in properties:
                problems.extend(validate(item, properties[key], "%s.%s" % (path, key)))
            elif schema.get("additionalProperties") is False:
                problems.append("%s.%s: not allowed" % (path, key))
            elif isinstance(schema.get("additionalProperties"), dict):
                problems.extend(validate(item, schema["additionalProperties"], "%s.%s" % (path, key)))
    if "anyOf" in schema and not any(not validate(value, s, path) for s in schema["anyOf"]):
        problems.append("%s: matches none of its %d shapes" % (path, len(schema["anyOf"])))
    if "oneOf" in schema:
        matches = [s for s in schema["oneOf"] if not validate(value, s, path)]
        if len(matches) != 1:
            problems.append("%s: matches %d of its %d shapes, not one" % (path, len(matches), len(schema["oneOf"])))
    if "not" in schema and not validate(value, schema["not"], path):
        problems.append("%s: matches what it must not" % path)
    return problems


def load_schema():
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)


def agent_lines(args, host_root):
    """The lines starting with `{` the agent prints on stdout, run as the documents run it (`python3 -I`)."""
    launcher = AGENT_DIR / "__main__.py"
    if not launcher.is_file():
        raise AssertionError("no agent launcher at %s" % launcher)
    run = subprocess.run(
        [sys.executable, "-I", str(AGENT_DIR)] + args,
        env=dict(os.environ, REJUV_HOST_ROOT=host_root),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [line for line in run.stdout.splitlines() if line.startswith("{")]


class ValidatorTest(unittest.TestCase):
    def test_reports_each_problem_with_its_path(self):
        schema = {
            "type": "object",
            "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}, "s": {"type": "string", "pattern": "^a$"}},
            "required": ["n", "s"],
        }
        self.assertEqual(validate({"n": 1, "s": "a"}, schema), [])
        self.assertEqual(
            validate({"n": 0, "s": "a\n"}, schema), ["(root).n: not above 0", "(root).s: does not match ^a$"]
        )
        self.assertEqual(validate({"s": "a"}, schema), ["(root).n: required"])

    def test_tells_booleans_from_numbers_and_integers_from_fractions(self):
        self.assertNotEqual(validate(True, {"type": "number"}), [])
        self.assertNotEqual(validate(1.5, {"type": "integer"}), [])
        self.assertEqual(validate(2.0, {"type": "integer"}), [])
        self.assertNotEqual(validate(True, {"const": 1}), [])

    def test_refuses_a_keyword_it_does_not_implement(self):
        with self.assertRaises(SchemaError):
            validate("x", {"type": "string", "minLength": 1})


class HostResultSchemaTest(unittest.TestCase):
    schema = None

    @classmethod
    def setUpClass(cls):
        cls.schema = load_schema()

    def test_the_schema_uses_only_what_the_validator_checks(self):
        self.assertEqual(unimplemented_keywords(self.schema), [])
        self.assertEqual(unimplemented_keywords({"items": {"minLength": 1}}), ["(root)/items: minLength"])

    def test_every_document_the_agent_answers_on_an_empty_host(self):
        with tempfile.TemporaryDirectory() as host_root:
            cases = [
                ["preflight", "--run-id", "r1", "--level", "vmm-process"],
                ["warm-reboot", "--run-id", "r1", "--level", "vmm-process"],
                ["verify", "--run-id", "r1"],
                ["recover", "--run-id", "r1"],
                ["preflight", "--no-such-option"],
            ]
            for args in cases:
                with self.subTest(args=args):
                    lines = agent_lines(args, host_root)
                    self.assertEqual(len(lines), 1, "one result line on stdout")
                    self.assertEqual(validate(json.loads(lines[0]), self.schema), [])

    def test_the_shared_samples(self):
        samples = self.samples()
        self.assertGreater(len(samples), 10)
        for sample in samples:
            with self.subTest(sample["what"]):
                problems = validate(sample["line"], self.schema)
                self.assertEqual(problems == [], sample["valid"], problems)

    @staticmethod
    def samples():
        with open(SAMPLES_PATH, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


if __name__ == "__main__":
    unittest.main()
