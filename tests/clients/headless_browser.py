#!/usr/bin/env python3
"""A stand-in for the user's browser, for clients that open one (`BROWSER`).

Given an authorization URL it does what a user would: loads it, approves
the cnpg-mcp consent page when one is shown (keeping the consent cookie),
and follows every redirect (the test IdP signs its user in by itself) until
the client's own loopback callback has been reached. Writes what it did to
the file named by HEADLESS_BROWSER_LOG, if set.
"""

import html
import http.cookiejar
import os
import re
import sys
import urllib.parse
import urllib.request


def main(url):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    steps = [f"GET {url}"]
    response = opener.open(url, timeout=30)
    body = response.read().decode("utf-8", "replace")
    if 'name="transaction"' in body:
        fields = {
            name: html.unescape(re.search(r'name="%s" value="([^"]*)"' % name, body).group(1))
            for name in ("transaction", "csrf")
        }
        fields["decision"] = "approve"
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', body).group(1))
        target = urllib.parse.urljoin(response.geturl(), action)
        steps.append(f"POST {target} (consent approved)")
        response = opener.open(target, data=urllib.parse.urlencode(fields).encode(), timeout=30)
        response.read()
    steps.append(f"ended at {response.geturl()} with HTTP {response.status}")
    log = os.environ.get("HEADLESS_BROWSER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write("\n".join(steps) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
