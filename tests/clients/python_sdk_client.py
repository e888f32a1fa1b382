"""Drives cnpg-mcp with the official Python MCP SDK (mcp 2.x).

Lists the tools, calls one, and prints a JSON summary on stdout for the
Rust test that runs this script to check.

    python python_sdk_client.py http URL MODE TOOL ARGS_JSON
    python python_sdk_client.py http-bearer URL TOKEN MODE TOOL ARGS_JSON
    python python_sdk_client.py oauth URL MODE TOOL ARGS_JSON
    python python_sdk_client.py oauth-cimd URL CLIENT_METADATA_URL MODE TOOL ARGS_JSON
    python python_sdk_client.py stdio MODE TOOL ARGS_JSON -- COMMAND ARG...
    python python_sdk_client.py http-elicit URL MODE ANSWER TOOL ARGS_JSON

`http-elicit` declares the elicitation capability and answers every
elicitation request with ANSWER: "accept" (content {"confirm": true}) or
"decline"; the summary lists the messages it was asked.

`oauth` runs the SDK's own OAuth client (OAuthClientProvider) headless:
401 -> protected resource metadata -> authorization server metadata ->
dynamic client registration -> authorization request with PKCE and
`resource`, whose redirects this script follows itself instead of a
browser (the test IdP approves without a login form) -> token -> calls.

`oauth-cimd` is the same flow with the SDK's `client_metadata_url`: when
the authorization server advertises Client ID Metadata Document support,
that URL is the client_id and no registration happens.

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


async def with_bearer(url, token, mode, tool, arguments):
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=120.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            result = await client.call_tool(tool, arguments)
            return summary(client, tools, result)


async def with_elicitation(url, mode, answer, tool, arguments):
    from mcp import types

    asked = []

    async def on_elicit(context, params):
        asked.append(params.message)
        if answer == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")

    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=120.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, elicitation_callback=on_elicit) as client:
            tools = await client.list_tools()
            result = await client.call_tool(tool, arguments)
            out = summary(client, tools, result)
    out["elicitations"] = asked
    return out


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


REDIRECT_URI = "http://127.0.0.1:53682/callback"


async def approve_consent(browser, page_url, html):
    from urllib.parse import urljoin
    import re

    def field(name):
        match = re.search(r'name="%s" value="([^"]*)"' % name, html)
        if not match:
            raise RuntimeError(f"consent page without {name}: {html[:300]}")
        return match.group(1)

    action = re.search(r'<form method="post" action="([^"]+)"', html)
    if not action:
        raise RuntimeError(f"consent page without a form: {html[:300]}")
    url = urljoin(page_url, action.group(1).replace("&amp;", "&"))
    return await browser.post(
        url,
        data={"transaction": field("transaction"), "csrf": field("csrf"), "decision": "approve"},
    )


async def with_oauth(url, mode, tool, arguments, client_metadata_url=None):
    from urllib.parse import parse_qs, urljoin, urlparse

    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

    captured = {}
    consents = []

    async def redirect_handler(authorization_url):
        # Play the browser: follow the IdP's redirects until it sends the
        # user agent back to our redirect URI.
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30.0) as browser:
            target = authorization_url
            for _ in range(20):
                response = await browser.get(target)
                if response.status_code == 200 and 'name="transaction"' in response.text:
                    # The facade's consent page: approve, as the user would
                    # (the browser keeps the consent cookie).
                    response = await approve_consent(browser, target, response.text)
                    consents.append(target)
                location = response.headers.get("location")
                if response.status_code not in (301, 302, 303, 307, 308) or not location:
                    raise RuntimeError(f"authorization stopped at {target}: {response.status_code} {response.text[:300]}")
                location = urljoin(target, location)
                if location.startswith(REDIRECT_URI):
                    query = parse_qs(urlparse(location).query)
                    captured.update({key: values[0] for key, values in query.items()})
                    return
                target = location
            raise RuntimeError("too many redirects")

    async def callback_handler():
        if "code" not in captured:
            raise RuntimeError(f"no code in the authorization response: {captured}")
        return AuthorizationCodeResult(code=captured["code"], state=captured.get("state"), iss=captured.get("iss"))

    storage = MemoryStorage()
    auth = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="cnpg-mcp tests",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        client_metadata_url=client_metadata_url,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30.0, read=120.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            result = await client.call_tool(tool, arguments)
            out = summary(client, tools, result)
    out["registered_client"] = storage.client_info.client_id if storage.client_info else None
    out["token_scope"] = storage.tokens.scope if storage.tokens else None
    out["authorization_response_iss"] = captured.get("iss")
    out["consent_pages"] = len(consents)
    return out


def main(argv):
    if argv[0] == "http":
        url, mode, tool, arguments = argv[1], argv[2], argv[3], json.loads(argv[4])
        out = anyio.run(over_http, url, mode, tool, arguments)
    elif argv[0] == "http-bearer":
        url, token, mode, tool, arguments = argv[1], argv[2], argv[3], argv[4], json.loads(argv[5])
        out = anyio.run(with_bearer, url, token, mode, tool, arguments)
    elif argv[0] == "oauth":
        url, mode, tool, arguments = argv[1], argv[2], argv[3], json.loads(argv[4])
        out = anyio.run(with_oauth, url, mode, tool, arguments)
    elif argv[0] == "oauth-cimd":
        url, metadata_url, mode, tool, arguments = argv[1], argv[2], argv[3], argv[4], json.loads(argv[5])
        out = anyio.run(with_oauth, url, mode, tool, arguments, metadata_url)
    elif argv[0] == "http-elicit":
        url, mode, answer, tool, arguments = argv[1], argv[2], argv[3], argv[4], json.loads(argv[5])
        out = anyio.run(with_elicitation, url, mode, answer, tool, arguments)
    elif argv[0] == "stdio":
        split = argv.index("--")
        mode, tool, arguments = argv[1], argv[2], json.loads(argv[3])
        out = anyio.run(over_stdio, argv[split + 1:], mode, tool, arguments)
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
