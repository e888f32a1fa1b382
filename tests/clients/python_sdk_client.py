"""Drives cnpg-mcp with the official Python MCP SDK (mcp 2.x).

Lists the tools, calls one, and prints a JSON summary on stdout for the
Rust test that runs this script to check.

    python python_sdk_client.py http URL MODE TOOL ARGS_JSON
    python python_sdk_client.py stdio MODE TOOL ARGS_JSON -- COMMAND ARG...

MODE is the SDK's protocol mode: "legacy" (initialize + session) or
"2026-07-28" (stateless).
"""
import json
import sys

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


def summary(client, tools, result):
    return {
        "protocol": str(client.protocol_version),
        "tools": [tool.name for tool in tools.tools],
        "is_error": bool(result.is_error),
        "content": [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in result.content],
        "structured": result.structured_content,
    }


async def over_http(url, mode, tool, arguments):
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=120.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            result = await client.call_tool(tool, arguments)
            return summary(client, tools, result)


async def over_stdio(command, mode, tool, arguments):
    params = StdioServerParameters(command=command[0], args=command[1:])
    async with Client(params, mode=mode) as client:
        tools = await client.list_tools()
        result = await client.call_tool(tool, arguments)
        return summary(client, tools, result)


def main(argv):
    if argv[0] == "http":
        url, mode, tool, arguments = argv[1], argv[2], argv[3], json.loads(argv[4])
        out = anyio.run(over_http, url, mode, tool, arguments)
    elif argv[0] == "stdio":
        split = argv.index("--")
        mode, tool, arguments = argv[1], argv[2], json.loads(argv[3])
        out = anyio.run(over_stdio, argv[split + 1:], mode, tool, arguments)
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
