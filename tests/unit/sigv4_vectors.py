#!/usr/bin/env python3
"""Generate tests/unit/sigv4_vectors.h: requests signed by botocore's own
SigV4Auth, for test_sigv4.c to verify, so the C verifier is checked against
the signer the aws CLI really uses.

    python3 tests/unit/sigv4_vectors.py > tests/unit/sigv4_vectors.h

Needs botocore (the pyenv python3 has 1.43; the output records the version).
The header is committed: the C test never needs python.

Two kinds of vectors:
  - client: a real botocore client (the CLI's code path) calls the operation
    against http://127.0.0.1:8149; a before-send hook captures the request
    exactly as it would go on the wire and answers it locally.
  - direct: SigV4Auth.add_auth() on an AWSRequest built here, for shapes no
    CloudTrail operation produces (odd query keys, repeated parameters,
    unicode and reserved characters in the path, repeated headers, extra
    whitespace in header values, X-Amz-Content-SHA256, long keys).
For each: method, raw request-target, headers as sent (with the Host header
urllib3 adds), body, and botocore's canonical request, string to sign and
signature.  The clock is frozen at NOW.
"""
import calendar
import datetime
import os
import sys
import uuid
from unittest import mock
from urllib.parse import urlsplit

for var in list(os.environ):
    if var.startswith("AWS_"):
        del os.environ[var]
os.environ.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                  AWS_EC2_METADATA_DISABLED="true")

import botocore  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.session  # noqa: E402
from botocore.awsrequest import AWSRequest, AWSResponse  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.utils import percent_encode_sequence  # noqa: E402

NOW = datetime.datetime(2026, 1, 1, 0, 25, 0)  # naive UTC, as botocore uses
NOW_EPOCH = calendar.timegm(NOW.timetuple())
ENDPOINT = "http://127.0.0.1:8149"

ADMIN_KEY = "AKIAHOSTTRAILADMIN01"
ADMIN_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
LONG_KEY = "AKIA" + "Z9" * 62  # 128 characters, the longest conf.c allows
ODD_SECRET = "s3cr3t with spaces/+=é€~"

captured = {}
_orig_string_to_sign = botocore.auth.SigV4Auth.string_to_sign


def _recording_string_to_sign(self, request, canonical_request):
    sts = _orig_string_to_sign(self, request, canonical_request)
    captured.update(creq=canonical_request, sts=sts, region=self._region_name,
                    service=self._service_name)
    return sts


class _FakeRaw:
    def __init__(self, body):
        self._body = body

    def stream(self, *args, **kwargs):
        yield self._body


def _text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _wire(url, headers, body):
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    host = botocore.auth._host_from_url(url)
    hdrs = [("Host", host)] + [(_text(k), _text(v)) for k, v in headers]
    if isinstance(body, str):
        body = body.encode("utf-8")
    return target, hdrs, body or b""


def _record(name, method, target, headers, body, key, secret):
    auth = dict(headers)["Authorization"]
    # User-Agent is never signed (botocore's SIGNED_HEADERS_BLACKLIST) and
    # names this machine's kernel: replace it so the output is reproducible.
    assert "user-agent" not in auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = [(k, "Botocore/%s (sigv4_vectors.py)" % botocore.__version__)
               if k.lower() == "user-agent" else (k, v) for k, v in headers]
    return dict(name=name, method=method, uri=target, headers=headers, body=body,
                region=captured["region"], service=captured["service"], key=key,
                secret=secret, creq=captured["creq"], sts=captured["sts"],
                signature=auth.rsplit("Signature=", 1)[1])


def client_vector(name, service, operation, params, key=ADMIN_KEY, secret=ADMIN_SECRET,
                  region="us-east-1"):
    """Call operation through a real botocore client and capture the request."""
    captured.clear()
    sent = {}
    session = botocore.session.get_session()
    client = session.create_client(service, region_name=region, endpoint_url=ENDPOINT,
                                   aws_access_key_id=key, aws_secret_access_key=secret,
                                   config=Config(retries={"max_attempts": 1}))

    def before_send(request, **kwargs):
        sent["request"] = request
        return AWSResponse(request.url, 200, {"x-amzn-RequestId": "test"}, _FakeRaw(b"{}"))

    client.meta.events.register("before-send", before_send)
    getattr(client, operation)(**params)
    req = sent["request"]
    target, hdrs, body = _wire(req.url, req.headers.items(), req.body)
    return _record(name, req.method, target, hdrs, body, key, secret)


def direct_vector(name, method, url, headers, body=b"", service="cloudtrail",
                  region="us-east-1", key=ADMIN_KEY, secret=ADMIN_SECRET):
    """Sign an AWSRequest with SigV4Auth; headers is a list (repeats kept)."""
    captured.clear()
    req = AWSRequest(method=method, url=url, data=body)
    for k, v in headers:
        req.headers[k] = v  # HTTPHeaders appends: a repeated name stays repeated
    botocore.auth.SigV4Auth(Credentials(key, secret), service, region).add_auth(req)
    prepared = req.prepare()
    hdrs = list(req.headers.items())
    if "Content-Length" in prepared.headers:
        hdrs.append(("Content-Length", prepared.headers["Content-Length"]))
    target, hdrs, body = _wire(req.url, hdrs, prepared.body)
    return _record(name, method, target, hdrs, body, key, secret)


def vectors():
    channel = "arn:aws:cloudtrail:us-east-1:123456789012:channel/0123abcd-ef45-6789-abcd-ef0123456789"
    event_data = ('{"version":"1.0","userIdentity":{"type":"user","principalId":"ü-1"},'
                  '"eventSource":"app","eventName":"Login","eventTime":"2026-01-01T00:20:00Z",'
                  '"UID":"u-1","recipientAccountId":"123456789012"}')
    odd_query = percent_encode_sequence([
        ("a b", "1"), ("a", "2"), ("a", "1"), ("/", "slash"), ("ü", "ünïcödé"),
        ("~tilde", "x~y"), ("!*'()", "sub-delims"), ("k=eq", "v=eq&amp"),
        ("empty", ""), ("plus", "1+1 = 2"), ("Param-3", "c"), ("Param", "b"),
    ])
    return [
        client_vector("cli-lookup-events", "cloudtrail", "lookup_events", dict(
            LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "root"}],
            StartTime=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
            MaxResults=5)),
        client_vector("cli-create-trail", "cloudtrail", "create_trail", dict(
            Name="my-trail", S3BucketName="my-bucket", IsMultiRegionTrail=True,
            EnableLogFileValidation=True)),
        client_vector("cli-describe-trails", "cloudtrail", "describe_trails", {}),
        client_vector("cli-lookup-events-eu", "cloudtrail", "lookup_events",
                      dict(MaxResults=1), region="eu-west-1"),
        client_vector("cli-put-audit-events", "cloudtrail-data", "put_audit_events", dict(
            channelArn=channel, externalId="ext id/+&=ü",
            auditEvents=[{"id": "event-1", "eventData": event_data}])),
        direct_vector("get-odd-query", "GET", ENDPOINT + "/?" + odd_query, []),
        direct_vector("get-path-reserved-unicode", "GET",
                      ENDPOINT + "/a%20b/c%2Fd/%C3%BC/./x/../y//z/", []),
        direct_vector("post-json-spaced-headers", "POST", ENDPOINT + "/",
                      [("Content-Type", "application/x-amz-json-1.1"),
                       ("X-Amz-Target",
                        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.GetTrail"),
                       ("X-Custom", "  spaced   out\tvalue  "),
                       ("X-Multi", "one"), ("X-Multi", "two  three")],
                      body=b'{"Name": "my-trail"}'),
        direct_vector("get-empty-long-key", "GET", ENDPOINT + "/", [], key=LONG_KEY,
                      secret=ODD_SECRET),
        direct_vector("post-content-sha256", "POST", ENDPOINT + "/PutAuditEvents?channelArn=c1",
                      [("Content-Type", "application/json"),
                       ("X-Amz-Content-SHA256",
                        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")],
                      body=b"{}", service="cloudtrail-data", region="eu-west-1"),
    ]


def c_str(data, indent="\t    ", width=72):
    """A C string literal for data (bytes), split after each newline and
    wherever a piece would pass width columns (never inside an escape)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    pieces, cur, used = [], [], 0
    for ch in data:
        if ch == 0x5C:
            tok = "\\\\"
        elif ch == 0x22:
            tok = '\\"'
        elif ch == 0x3F:
            tok = "\\?"
        elif ch == 0x0A:
            tok = "\\n"
        elif ch == 0x09:
            tok = "\\t"
        elif 0x20 <= ch < 0x7F:
            tok = chr(ch)
        else:
            tok = "\\%03o" % ch
        if used + len(tok) > width:
            pieces.append("".join(cur))
            cur, used = [], 0
        cur.append(tok)
        used += len(tok)
        if ch == 0x0A:
            pieces.append("".join(cur))
            cur, used = [], 0
    if cur or not pieces:
        pieces.append("".join(cur))
    return ("\n" + indent).join('"%s"' % p for p in pieces)


def emit(vecs, out):
    w = out.write
    w("/*\n * sigv4_vectors.h - requests signed by botocore %s's SigV4Auth.\n"
      " * GENERATED by tests/unit/sigv4_vectors.py; do not edit.\n */\n" % botocore.__version__)
    w("#ifndef HT_TEST_SIGV4_VECTORS_H\n#define HT_TEST_SIGV4_VECTORS_H\n\n")
    w("#include <stddef.h>\n#include <stdint.h>\n\n")
    w("struct sigv4_vec_header {\n\tconst char *name;\n\tconst char *value;\n};\n\n")
    w("struct sigv4_vec {\n\tconst char *name;\n\tconst char *method;\n\tconst char *uri;\n"
      "\tconst struct sigv4_vec_header *headers;\n\tsize_t n_headers;\n"
      "\tconst char *body;\n\tsize_t body_len;\n\tconst char *region;\n"
      "\tconst char *service;\n\tconst char *access_key_id;\n\tconst char *secret;\n"
      "\tint64_t now;\n\tconst char *creq;\n\tconst char *sts;\n\tconst char *signature;\n};\n\n")
    w("#define SIGV4_VEC_NOW %dLL /* %s */\n\n" % (NOW_EPOCH, NOW.strftime("%Y%m%dT%H%M%SZ")))
    for i, v in enumerate(vecs):
        w("static const struct sigv4_vec_header sigv4_vec_h%d[] = {\n" % i)
        for k, val in v["headers"]:
            w("\t{ %s,\n\t    %s },\n" % (c_str(k), c_str(val, "\t    ")))
        w("};\n\n")
    w("static const struct sigv4_vec sigv4_vecs[] = {\n")
    for i, v in enumerate(vecs):
        w("\t{\n")
        w("\t    .name = %s,\n" % c_str(v["name"], "\t\t", 64))
        w("\t    .method = %s,\n" % c_str(v["method"], "\t\t", 64))
        w("\t    .uri = %s,\n" % c_str(v["uri"], "\t\t", 64))
        w("\t    .headers = sigv4_vec_h%d,\n" % i)
        w("\t    .n_headers = %d,\n" % len(v["headers"]))
        w("\t    .body = %s,\n" % c_str(v["body"], "\t\t", 64))
        w("\t    .body_len = %d,\n" % len(v["body"]))
        w("\t    .region = %s,\n" % c_str(v["region"], "\t\t", 64))
        w("\t    .service = %s,\n" % c_str(v["service"], "\t\t", 64))
        w("\t    .access_key_id = %s,\n" % c_str(v["key"], "\t\t", 64))
        w("\t    .secret = %s,\n" % c_str(v["secret"], "\t\t", 64))
        w("\t    .now = SIGV4_VEC_NOW,\n")
        w("\t    .creq = %s,\n" % c_str(v["creq"], "\t\t", 64))
        w("\t    .sts = %s,\n" % c_str(v["sts"], "\t\t", 64))
        w("\t    .signature = %s,\n" % c_str(v["signature"], "\t\t", 64))
        w("\t},\n")
    w("};\n\n#endif\n")


def main():
    fixed = uuid.UUID("00000000-0000-4000-8000-000000000000")
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW), \
            mock.patch("botocore.auth.SigV4Auth.string_to_sign", _recording_string_to_sign), \
            mock.patch("uuid.uuid4", return_value=fixed):
        vecs = vectors()
    emit(vecs, sys.stdout)


if __name__ == "__main__":
    main()
