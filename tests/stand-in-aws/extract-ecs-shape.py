#!/usr/bin/env python3
"""Extracts the ECS API's ContainerDefinition shape tree from botocore's
published service model into the JSON file the stand-in AWS provider (a test
fixture) validates `containerDefinitions` against.

Usage: python extract-ecs-shape.py OUT.json   (botocore must be importable;
scripts/build-pulumi.sh runs it with the .venv of scripts/moto-venv.sh)

Kept per shape: type (structure/list/map/string/integer/long/boolean/double/
float/timestamp/blob), structure members and required members, list member,
map key/value, string enums, min/max. Documentation is dropped.
"""
import json
import sys

import botocore
import botocore.loaders


def main(out):
    loader = botocore.loaders.create_loader()
    model = loader.load_service_model("ecs", "service-2")
    shapes = model["shapes"]
    kept = {}

    def visit(name):
        if name in kept:
            return
        s = shapes[name]
        e = {"type": s["type"]}
        kept[name] = e
        if s["type"] == "structure":
            e["members"] = {m: v["shape"] for m, v in s.get("members", {}).items()}
            if s.get("required"):
                e["required"] = list(s["required"])
            for v in s.get("members", {}).values():
                visit(v["shape"])
        elif s["type"] == "list":
            e["member"] = s["member"]["shape"]
            visit(e["member"])
        elif s["type"] == "map":
            e["key"] = s["key"]["shape"]
            e["value"] = s["value"]["shape"]
            visit(e["key"])
            visit(e["value"])
        if "enum" in s:
            e["enum"] = list(s["enum"])
        for k in ("min", "max"):
            if k in s:
                e[k] = s[k]

    visit("ContainerDefinition")
    doc = {
        "source": "botocore %s, ecs service model %s (service-2.json), shape ContainerDefinition"
        % (botocore.__version__, model["metadata"]["apiVersion"]),
        "root": "ContainerDefinition",
        "shapes": dict(sorted(kept.items())),
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: extract-ecs-shape.py OUT.json")
    main(sys.argv[1])
