#!/usr/bin/env python3
"""Generate tests/unit/sigv4_sign_vectors.h: S3 requests signed by botocore's
S3SigV4Auth, for test_sigv4_sign.c to sign again with ht_sigv4_sign() and
compare byte for byte.

    python3 tests/unit/sigv4_sign_vectors.py > tests/unit/sigv4_sign_vectors.h

Needs botocore (the pyenv python3 has 1.43; the output records the version).
The header is committed: the C test never needs python.

Every vector is a real botocore S3 client call (the aws CLI's code path,
endpoint rules included) with a before-send hook that captures the request
as it would go on the wire and answers it locally; the clock is frozen at
NOW.  Path-style (http://127.0.0.1:9000/bucket/key, as Swift or MinIO are
reached) and virtual-hosted (http://bucket.s3.localhost:8080/key, and AWS's
own https endpoints) both appear, with and without a session token, with
Content-MD5, x-amz-checksum-sha256, SSE and storage-class headers, metadata,
query strings, and odd object keys.

For each vector the C test gets what a caller of ht_sigv4_sign() has: the
bucket and raw key (it must rebuild botocore's path with ht_s3_path()), the
query parameters decoded (it must re-encode them to botocore's query), the
headers botocore signed other than the four the signer adds itself, the body,
the credentials; and botocore's results: X-Amz-Content-SHA256, the canonical
request (session token replaced by HT_SIGV4_REDACTED, as ht_sigv4_sign()
logs it), the string to sign and the Authorization header.
"""
import base64
import calendar
import datetime
import hashlib
import os
import sys
import uuid
from unittest import mock
from urllib.parse import unquote_to_bytes, urlsplit

for var in list(os.environ):
    if var.startswith("AWS_"):
        del os.environ[var]
os.environ.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                  AWS_EC2_METADATA_DISABLED="true")

import botocore  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.session  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.config import Config  # noqa: E402

NOW = datetime.datetime(2026, 11, 24, 1, 5, 0)  # naive UTC, as botocore uses
NOW_EPOCH = calendar.timegm(NOW.timetuple())
PATH_ENDPOINT = "http://127.0.0.1:9000"
VHOST_ENDPOINT = "http://s3.localhost:8080"

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SWIFT_KEY_ID = "test:tester"  # Swift tempauth's access key shape
SWIFT_SECRET = "testing"
TOKEN = ("IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token/with+plus="
         "and/slashes==")
BUCKET = "hosttrail-logs"
CT_KEY = ("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/24/"
          "123456789012_CloudTrail_us-east-1_20261124T0105Z_AbCdEf0123456789.json.gz")
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0123abcd-ef45-6789-abcd-ef0123456789"
REDACTED = "(redacted)"  # HT_SIGV4_REDACTED
# Signed by the signer itself, never passed in as an extra header.
OWN_HEADERS = ("host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token")

captured = {}
_orig_string_to_sign = botocore.auth.SigV4Auth.string_to_sign


def _recording_string_to_sign(self, request, canonical_request):
    sts = _orig_string_to_sign(self, request, canonical_request)
    captured.update(creq=canonical_request, sts=sts, region=self._region_name,
                    service=self._service_name, auth_class=type(self).__name__)
    return sts


class _FakeRaw:
    def __init__(self, body):
        self._body = body

    def stream(self, *args, **kwargs):
        yield self._body


def _text(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _body_bytes(body):
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        pos = body.tell()
        data = body.read()
        body.seek(pos)
        return data
    return bytes(body)


def _params(query):
    """botocore's query, decoded: [(name bytes, value bytes or None)]."""
    out = []
    for part in query.split("&") if query else []:
        name, eq, value = part.partition("=")
        out.append((unquote_to_bytes(name), unquote_to_bytes(value) if eq else None))
    return out


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def s3_vector(name, operation, params, virtual=False, endpoint=None, region="us-east-1",
              key_id=KEY_ID, secret=SECRET, token=None, precomputed=False, **config):
    """Call an S3 operation through a real botocore client; capture it."""
    captured.clear()
    sent = {}
    if endpoint is None:
        endpoint = VHOST_ENDPOINT if virtual else PATH_ENDPOINT
    cfg = dict(retries={"max_attempts": 1}, request_checksum_calculation="when_required",
               response_checksum_validation="when_required")
    cfg.update(config)
    cfg["s3"] = dict(cfg.get("s3", {}), addressing_style="virtual" if virtual else "path")
    session = botocore.session.get_session()
    client = session.create_client("s3", region_name=region,
                                   endpoint_url=endpoint or None,
                                   aws_access_key_id=key_id, aws_secret_access_key=secret,
                                   aws_session_token=token, config=Config(**cfg))

    def before_send(request, **kwargs):
        sent["request"] = request
        return AWSResponse(request.url, 200, {"x-amz-request-id": "test"}, _FakeRaw(b""))

    client.meta.events.register("before-send", before_send)
    try:
        getattr(client, operation)(**params)
    except Exception:  # noqa: BLE001 - the canned empty answer may not parse
        if "request" not in sent:
            raise
    req = sent["request"]
    assert captured["auth_class"] == "S3SigV4Auth", captured["auth_class"]
    headers = [(_text(k), _text(v)) for k, v in req.headers.items()]
    hmap = {k.lower(): v for k, v in headers}
    auth = hmap["authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    extra = [(k, v) for k, v in headers if k.lower() in signed and k.lower() not in OWN_HEADERS]
    parts = urlsplit(req.url)
    host = botocore.auth._host_from_url(req.url)
    bucket = params.get("Bucket", BUCKET)
    # what botocore did, not what was asked: GetBucketLocation stays path-style
    virtual = host.startswith(bucket + ".")
    creq = captured["creq"]
    if token is not None:
        line = "\nx-amz-security-token:" + token + "\n"
        assert line in creq
        creq = creq.replace(line, "\nx-amz-security-token:" + REDACTED + "\n")
    return dict(
        name=name, method=req.method, host=host, bucket=bucket, key=params.get("Key"),
        virtual=virtual,
        path=parts.path, query=parts.query, params=_params(parts.query), headers=extra,
        body=_body_bytes(req.body), precomputed=precomputed,
        content_sha256=hmap["x-amz-content-sha256"], region=captured["region"],
        key_id=key_id, secret=secret, token=token, amz_date=hmap["x-amz-date"],
        creq=creq, sts=captured["sts"], authorization=auth)


def vectors():
    gz = b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4  # every byte value, 1 KiB
    records = (b'{"Records":[{"eventVersion":"1.08","eventName":"Login",'
               b'"ev\xc3\xa9":"\xe2\x82\xac"}]}')
    odd_keys = [
        ("key-spaces", "odd key/with  two  spaces/and trailing .txt"),
        ("key-unicode", "\u00fcn\u00efc\u00f6d\u00e9/\u65e5\u672c\u8a9e/\u20ac \U0001F600.json"),
        ("key-reserved", "plus+equals=amp&tilde~percent%25hash#question?colon:at@.txt"),
        ("key-sub-delims", "sub!$'()*,;[]{}|^`\\\"<>delims"),
        ("key-dot-segments", "dots/./and/../segments//double/slash/"),
        ("key-leading-slash", "/leading/slash"),
    ]
    long_key = "AWSLogs/" + "/".join("seg %02d+\u00e9=&~" % i for i in range(75))
    assert len(long_key.encode()) > 900 and len(long_key.encode()) <= 1024
    v = [
        # what hosttraild sends: a CloudTrail log file, Content-MD5, SSE
        s3_vector("put-cloudtrail-path-style", "put_object", dict(
            Bucket=BUCKET, Key=CT_KEY, Body=gz, ContentMD5=md5_b64(gz),
            ContentType="application/json", ContentEncoding="gzip",
            ServerSideEncryption="AES256", StorageClass="STANDARD_IA")),
        s3_vector("put-cloudtrail-virtual-token-kms", "put_object", dict(
            Bucket=BUCKET, Key=CT_KEY, Body=gz, ContentMD5=md5_b64(gz),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=KMS_KEY,
            Metadata={"signature": "a" * 64, "signing-algorithm": "SHA256withRSA"}),
            virtual=True, token=TOKEN),
        s3_vector("put-cloudtrail-precomputed-hash", "put_object", dict(
            Bucket=BUCKET, Key=CT_KEY, Body=gz, ContentMD5=md5_b64(gz)),
            precomputed=True),
        s3_vector("put-checksum-sha256-virtual", "put_object", dict(
            Bucket=BUCKET, Key=CT_KEY, Body=records, ChecksumAlgorithm="SHA256",
            StorageClass="REDUCED_REDUNDANCY"), virtual=True),
        s3_vector("put-checksum-sha256-path-token", "put_object", dict(
            Bucket=BUCKET, Key="digest/" + CT_KEY, Body=records, ChecksumAlgorithm="SHA256",
            Metadata={"spaced": "  several   spaces\tand tab  "}), token=TOKEN),
        s3_vector("put-empty-body", "put_object", dict(
            Bucket=BUCKET, Key="AWSLogs/123456789012/CloudTrail-Digest/empty", Body=b"",
            ContentMD5=md5_b64(b""))),
        s3_vector("put-swift-tempauth-key", "put_object", dict(
            Bucket=BUCKET, Key=CT_KEY, Body=records, ContentMD5=md5_b64(records)),
            key_id=SWIFT_KEY_ID, secret=SWIFT_SECRET),
        s3_vector("put-long-key-virtual", "put_object", dict(
            Bucket=BUCKET, Key=long_key, Body=records, ContentMD5=md5_b64(records)),
            virtual=True),
        # AWS's own endpoint over https: with Content-MD5 on a streaming body
        # botocore leaves the payload unsigned (UNSIGNED-PAYLOAD)
        s3_vector("put-aws-https-unsigned-payload", "put_object", dict(
            Bucket=BUCKET, Key=CT_KEY, Body=gz, ContentMD5=md5_b64(gz)),
            virtual=True, endpoint="", region="eu-west-1", precomputed=True),
        s3_vector("get-aws-https-path-style", "get_object", dict(
            Bucket=BUCKET, Key=CT_KEY, Range="bytes=0-1023"),
            endpoint="", region="ap-southeast-2", token=TOKEN),
        # query strings
        s3_vector("list-v2-path-style", "list_objects_v2", dict(
            Bucket=BUCKET, Prefix="AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/",
            Delimiter="/", StartAfter="a b+c=d&e~f\u00e9", MaxKeys=1000,
            ContinuationToken="1+/==ABC%20def")),
        s3_vector("list-v2-virtual-token", "list_objects_v2", dict(
            Bucket=BUCKET, Prefix="\u00fcn\u00efc\u00f6d\u00e9 prefix/", FetchOwner=True),
            virtual=True, token=TOKEN),
        s3_vector("get-object-version-response-headers", "get_object", dict(
            Bucket=BUCKET, Key=CT_KEY, VersionId="3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vj",
            ResponseContentDisposition='attachment; filename="\u00fc.json"',
            ResponseContentType="application/json; charset=utf-8")),
        s3_vector("head-bucket-virtual", "head_bucket", dict(Bucket=BUCKET), virtual=True),
        s3_vector("get-bucket-location-path", "get_bucket_location", dict(Bucket=BUCKET)),
        # asked for virtual-hosted, botocore still sends this one path-style
        s3_vector("get-bucket-location-forced-path", "get_bucket_location",
                  dict(Bucket=BUCKET), virtual=True),
        s3_vector("create-multipart-upload", "create_multipart_upload", dict(
            Bucket=BUCKET, Key=CT_KEY, ServerSideEncryption="AES256",
            StorageClass="GLACIER_IR")),
        s3_vector("upload-part-virtual", "upload_part", dict(
            Bucket=BUCKET, Key=CT_KEY, PartNumber=7, UploadId="VXBsb2FkIElE+/=", Body=records,
            ContentMD5=md5_b64(records)), virtual=True),
        s3_vector("delete-objects", "delete_objects", dict(
            Bucket=BUCKET, Delete={"Objects": [{"Key": CT_KEY}, {"Key": "a&b<c>"}],
                                   "Quiet": True})),
    ]
    for name, key in odd_keys:
        v.append(s3_vector("put-" + name + "-path", "put_object", dict(
            Bucket=BUCKET, Key=key, Body=records, ContentMD5=md5_b64(records))))
        v.append(s3_vector("get-" + name + "-virtual", "get_object", dict(
            Bucket=BUCKET, Key=key), virtual=True, token=TOKEN))
    return v


def c_str(data, indent="\t    ", width=72):
    """A C string literal for data (bytes), split after each newline and
    wherever a piece would pass width columns (never inside an escape)."""
    if data is None:
        return "NULL"
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


STRUCTS = """struct sigv4_sign_vec_param {
\tconst char *name;
\tconst char *value; /* NULL: no '=' on the wire */
};

struct sigv4_sign_vec_header {
\tconst char *name;
\tconst char *value;
};

struct sigv4_sign_vec {
\tconst char *name;
\tconst char *method;
\tconst char *host;
\tconst char *bucket;
\tconst char *key; /* raw object key; NULL for a bucket operation */
\tint virtual_hosted;
\tconst char *path;  /* botocore's, as on the wire */
\tconst char *query; /* botocore's, as on the wire; "" for none */
\tconst struct sigv4_sign_vec_param *params; /* the query decoded, in order */
\tsize_t n_params;
\t/* headers botocore signed but host, x-amz-date, x-amz-content-sha256
\t * and x-amz-security-token, as sent */
\tconst struct sigv4_sign_vec_header *headers;
\tsize_t n_headers;
\tconst char *body;
\tsize_t body_len;
\tint precomputed; /* pass content_sha256 in, not the body */
\tconst char *content_sha256;
\tconst char *region;
\tconst char *access_key_id;
\tconst char *secret;
\tconst char *session_token;
\tint64_t now;
\tconst char *amz_date;
\tconst char *creq; /* session token redacted */
\tconst char *sts;
\tconst char *authorization;
};
"""


def emit(vecs, out):
    w = out.write
    w("/*\n * sigv4_sign_vectors.h - S3 requests signed by botocore %s's S3SigV4Auth.\n"
      " * GENERATED by tests/unit/sigv4_sign_vectors.py; do not edit.\n */\n"
      % botocore.__version__)
    w("#ifndef HT_TEST_SIGV4_SIGN_VECTORS_H\n#define HT_TEST_SIGV4_SIGN_VECTORS_H\n\n")
    w("#include <stddef.h>\n#include <stdint.h>\n\n")
    w(STRUCTS)
    w("\n#define SIGV4_SIGN_VEC_NOW %dLL /* %s */\n\n"
      % (NOW_EPOCH, NOW.strftime("%Y%m%dT%H%M%SZ")))
    for i, v in enumerate(vecs):
        if v["params"]:
            w("static const struct sigv4_sign_vec_param sigv4_sign_vec_q%d[] = {\n" % i)
            for k, val in v["params"]:
                w("\t{ %s,\n\t    %s },\n" % (c_str(k), c_str(val, "\t    ")))
            w("};\n\n")
        if v["headers"]:
            w("static const struct sigv4_sign_vec_header sigv4_sign_vec_h%d[] = {\n" % i)
            for k, val in v["headers"]:
                w("\t{ %s,\n\t    %s },\n" % (c_str(k), c_str(val, "\t    ")))
            w("};\n\n")
    w("static const struct sigv4_sign_vec sigv4_sign_vecs[] = {\n")
    for i, v in enumerate(vecs):
        f = lambda field, val: w("\t    .%s = %s,\n" % (field, val))  # noqa: E731
        s = lambda field: f(field, c_str(v[field], "\t\t", 64))  # noqa: E731
        w("\t{\n")
        for field in ("name", "method", "host", "bucket", "key"):
            s(field)
        f("virtual_hosted", int(v["virtual"]))
        s("path")
        s("query")
        f("params", "sigv4_sign_vec_q%d" % i if v["params"] else "NULL")
        f("n_params", len(v["params"]))
        f("headers", "sigv4_sign_vec_h%d" % i if v["headers"] else "NULL")
        f("n_headers", len(v["headers"]))
        s("body")
        f("body_len", len(v["body"]))
        f("precomputed", int(v["precomputed"]))
        s("content_sha256")
        s("region")
        f("access_key_id", c_str(v["key_id"], "\t\t", 64))
        s("secret")
        f("session_token", c_str(v["token"], "\t\t", 64))
        f("now", "SIGV4_SIGN_VEC_NOW")
        for field in ("amz_date", "creq", "sts", "authorization"):
            s(field)
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
