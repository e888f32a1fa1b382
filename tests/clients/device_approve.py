#!/usr/bin/env python3
"""Approves a device sign-in (RFC 8628) the way a person would on another
device: opens the verification URL with the user code in it, and submits
each form the IdP shows (oidc-provider's code form, then its confirmation
form) with the values it carries, keeping cookies, until a page without a
form is reached. Prints that page's title and exits 0 when it reads as a
success.
"""

import html
import http.cookiejar
import re
import sys
import urllib.parse
import urllib.request


def attribute(tag, name):
    found = re.search(r'\b%s="([^"]*)"' % name, tag)
    return html.unescape(found.group(1)) if found else None


def main(url):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    response = opener.open(url, timeout=30)
    page = response.read().decode("utf-8", "replace")
    for _ in range(5):
        form = re.search(r"<form\b[^>]*>(.*?)</form>", page, re.S)
        if not form:
            break
        opening = form.group(0)[: form.group(0).index(">") + 1]
        fields = {}
        for tag in re.findall(r"<input\b[^>]*>", form.group(1)):
            name, value = attribute(tag, "name"), attribute(tag, "value")
            if name and value is not None:
                fields[name] = value
        target = urllib.parse.urljoin(response.geturl(), attribute(opening, "action") or "")
        response = opener.open(target, data=urllib.parse.urlencode(fields).encode(), timeout=30)
        page = response.read().decode("utf-8", "replace")
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    title = title.group(1).strip() if title else page[:200]
    print(title)
    sys.exit(0 if "Success" in title else 1)


if __name__ == "__main__":
    main(sys.argv[1])
