"""Example tool component in Python (componentize-py): `count_postgres_clusters`
counts the CloudNativePG clusters of a namespace through the host's `k8s`
import. Same WIT contract as the Rust components (world `tool`); built by
build.sh, loaded by the server like any other component.
"""
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import k8s, types

SCHEMA = {
    "type": "object",
    "properties": {
        "namespace": {"type": "string", "description": "Namespace to count clusters in."},
    },
    "additionalProperties": False,
}


class Tools(exports.Tools):
    def list_tools(self):
        return [
            types.ToolDescriptor(
                name="count_postgres_clusters",
                title="Count clusters",
                description="Counts the CloudNativePG clusters of a namespace (a Python component).",
                input_schema=json.dumps(SCHEMA),
                output_schema=None,
                annotations=types.ToolAnnotations("Count clusters", True, False, True, False),
            )
        ]

    def call_tool(self, name, arguments, ctx):
        if name != "count_postgres_clusters":
            raise Err(types.ToolError_UnknownTool(name))
        args = json.loads(arguments)
        namespace = args.get("namespace") or k8s.default_namespace()
        target = k8s.ObjectRef(k8s.ResourceType("postgresql.cnpg.io", "v1", "clusters"), namespace, None, None)
        try:
            listed = json.loads(k8s.list(target, k8s.ListOptions(None, None, None, None)))
        except Err as error:
            return types.ToolOutput([types.Content_Text(f"listing failed: {error.value}")], None, True)
        names = [item["metadata"]["name"] for item in listed.get("items", [])]
        structured = {"namespace": namespace, "count": len(names), "names": names}
        return types.ToolOutput([types.Content_Text(f"{len(names)} cluster(s) in {namespace}")], json.dumps(structured), False)
