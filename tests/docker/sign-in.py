"""A user signs in to the compose stack like a browser would, then the client exchanges the code
and refreshes. Standard library only (the test host has python3). Prints one JSON line.

Usage: sign-in.py ISSUER MANAGEMENT_TOKEN
"""
import base64
import hashlib
import html
import json
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

issuer, management = sys.argv[1], sys.argv[2]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


cookies = {}
opener = urllib.request.build_opener(NoRedirect)


def call(method, url, body=None, headers=None, form=False):
    headers = dict(headers or {})
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
    if cookies:
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        response = opener.open(request)
    except urllib.error.HTTPError as error:
        response = error
    for header in response.headers.get_all("set-cookie") or []:
        name, _, value = header.split(";")[0].partition("=")
        cookies[name] = value
    return response.status, response.headers, response.read().decode()


def api(method, path, body=None):
    status, _, text = call(method, f"{issuer}/api/v1/{path}", body, {"authorization": f"Bearer {management}"})
    assert status == 200, f"{method} {path}: {status} {text}"
    return json.loads(text)


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


user = api("POST", "user", {
    "profile": {"given_name": "Ada", "family_name": "Lovelace"},
    "identities": [{"type": "email", "details": {"email": "ada@example.com"}}],
})
api("PUT", f"users/{user['id']}/password", {"password": "correct horse battery"})
app = api("POST", "applications", {"name": "Web", "type": "reg"})["application"]
redirect_uri = "http://127.0.0.1:9/callback"
api("POST", f"applications/{app['client_id']}/auth_redirect_urls", {"urls": [redirect_uri]})

verifier = secrets.token_urlsafe(32)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
query = urllib.parse.urlencode({
    "client_id": app["client_id"], "redirect_uri": redirect_uri, "response_type": "code",
    "scope": "openid profile email offline", "state": "st", "nonce": "n-0",
    "code_challenge": challenge, "code_challenge_method": "S256",
})
status, _, page = call("GET", f"{issuer}/oauth2/auth?{query}")
assert status == 200, f"login page: {status} {page}"
form = {name: html.unescape(value) for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
form.update(email="ada@example.com", password="correct horse battery")
status, headers, text = call("POST", f"{issuer}/oauth2/auth", form, form=True)
assert status == 303, f"sign-in: {status} {text}"
code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["location"]).query)["code"][0]

client = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
status, _, text = call("POST", f"{issuer}/oauth2/token", {
    "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier, **client,
}, form=True)
assert status == 200, f"code exchange: {status} {text}"
tokens = json.loads(text)
status, _, text = call("POST", f"{issuer}/oauth2/token", {
    "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **client,
}, form=True)
assert status == 200, f"refresh: {status} {text}"
id_claims = claims(tokens["id_token"])
print(json.dumps({
    "email": id_claims["email"], "nonce": id_claims["nonce"], "sub": id_claims["sub"], "user": user["id"],
    "refreshed_sub": claims(json.loads(text)["access_token"])["sub"],
}))
