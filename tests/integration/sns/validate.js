// validate.js PKI_DIR SIGN_TOOL - check hosttrail's SNS notifications with
// the npm package sns-validator, an implementation independent of ours.
//
// Serves PKI_DIR/signing.pem at https://127.0.0.1:PORT/SimpleNotificationService-test.pem
// (TLS certificate from the test CA, which node must trust through
// NODE_EXTRA_CA_CERTS=PKI_DIR/ca.pem), has SIGN_TOOL (tests/unit/sns_sign_tool,
// i.e. daemon/deliver/sns.c) sign notifications that name that URL, and hands
// each body to new MessageValidator(/^127\.0\.0\.1:\d+$/).  Signature versions
// 1 and 2 must verify; tampered messages, another key, a wrong version, an
// http URL and a certificate served from an untrusted TLS server must not.
// Prints "ok - ..." / "FAIL - ..." lines and "N passed, N failed"; exits 1 on
// any failure.  Made for test_sns_validator.sh, which sets up the environment.
'use strict';

const childProcess = require('child_process');
const fs = require('fs');
const https = require('https');
const path = require('path');
const MessageValidator = require('sns-validator');

const [pkiDir, signTool] = process.argv.slice(2);
if (!pkiDir || !signTool) {
  console.error('usage: node validate.js PKI_DIR SIGN_TOOL');
  process.exit(2);
}
const pki = (name) => path.join(pkiDir, name);
const CERT_PATH = '/SimpleNotificationService-test.pem';
const BUCKET = 'hosttrail-logs';
const KEY1 = 'AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/01/' +
  '123456789012_CloudTrail_us-east-1_20240301T1205Z_AbCdEfGhIjKlMnOp.json.gz';
let passed = 0;
let failed = 0;
let certFetches = 0;

function ok(name) {
  passed++;
  console.log(`ok - ${name}`);
}

function fail(name, why) {
  failed++;
  console.log(`FAIL - ${name}: ${why}`);
}

// An HTTPS server on 127.0.0.1 serving only the signing certificate.
function serve(keyFile, certFile) {
  return new Promise((resolve, reject) => {
    const server = https.createServer({
      key: fs.readFileSync(pki(keyFile)),
      cert: fs.readFileSync(pki(certFile)),
    }, (req, res) => {
      if (req.method === 'GET' && req.url === CERT_PATH) {
        certFetches++;
        res.writeHead(200, { 'Content-Type': 'application/x-pem-file' });
        res.end(fs.readFileSync(pki('signing.pem')));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// Run the C signer; returns { headers: {lowercased name: value}, body (text), json }.
function sign(certUrl, args, key = 'signing.key') {
  const out = childProcess.execFileSync(signTool,
    ['--key', pki(key), '--cert-url', certUrl, '--headers', ...args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const split = out.indexOf('\n\n');
  const headers = {};
  for (const line of out.slice(0, split).split('\n')) {
    const colon = line.indexOf(': ');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 2);
  }
  const body = out.slice(split + 2).replace(/\n$/, '');
  return { headers, body, json: JSON.parse(body) };
}

// Resolves to null when the validator accepts, else to its error message.
function validate(message, validator) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timed out'), 20000);
    validator.validate(message, (err) => {
      clearTimeout(timer);
      resolve(err ? err.message : null);
    });
  });
}

async function expectValid(name, validator, message, extra) {
  const err = await validate(message, validator);
  if (err !== null) return fail(name, `refused: ${err}`);
  const why = extra ? extra() : null;
  return why ? fail(name, why) : ok(name);
}

async function expectRefused(name, validator, message, pattern) {
  const err = await validate(message, validator);
  if (err === null) return fail(name, 'accepted');
  if (pattern && !pattern.test(err)) return fail(name, `refused for the wrong reason: ${err}`);
  return ok(name);
}

function eq(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// What every notification must carry besides a valid signature.
function shapeProblems(m, version, certUrl) {
  const j = m.json;
  const want = ['Type', 'MessageId', 'TopicArn', ...('Subject' in j ? ['Subject'] : []),
    'Message', 'Timestamp', 'SignatureVersion', 'Signature', 'SigningCertURL', 'UnsubscribeURL'];
  if (!eq(Object.keys(j), want)) return `keys ${Object.keys(j)}`;
  if (j.Type !== 'Notification') return `Type ${j.Type}`;
  if (j.SignatureVersion !== version) return `SignatureVersion ${j.SignatureVersion}`;
  if (j.SigningCertURL !== certUrl) return `SigningCertURL ${j.SigningCertURL}`;
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(j.MessageId)) {
    return `MessageId ${j.MessageId}`;
  }
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(j.Timestamp)) return `Timestamp ${j.Timestamp}`;
  if (j.TopicArn !== 'arn:aws:sns:us-east-1:123456789012:hosttrail-test') return `TopicArn ${j.TopicArn}`;
  const h = m.headers;
  const sub = h['x-amz-sns-subscription-arn'];
  const wantHeaders = {
    'x-amz-sns-message-type': 'Notification',
    'x-amz-sns-message-id': j.MessageId,
    'x-amz-sns-topic-arn': j.TopicArn,
    'x-amz-sns-subscription-arn': sub,
    'content-type': 'text/plain; charset=UTF-8',
    'user-agent': 'Amazon Simple Notification Service Agent',
  };
  if (!eq(h, wantHeaders)) return `headers ${JSON.stringify(h)}`;
  if (!sub || !sub.startsWith(`${j.TopicArn}:`)) return `subscription ARN ${sub}`;
  if (j.UnsubscribeURL !== `https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${sub}`) {
    return `UnsubscribeURL ${j.UnsubscribeURL}`;
  }
  return null;
}

function tamper(m, change) {
  const j = JSON.parse(m.body);
  change(j);
  return JSON.stringify(j);
}

async function main() {
  const good = await serve('server.key', 'server.pem');
  const rogue = await serve('rogue.key', 'rogue.pem');
  const certUrl = `https://127.0.0.1:${good.address().port}${CERT_PATH}`;
  const rogueUrl = `https://127.0.0.1:${rogue.address().port}${CERT_PATH}`;
  const v = new MessageValidator(/^127\.0\.0\.1:\d+$/);

  // CloudTrail's notification, both signature versions.
  for (const version of ['2', '1']) {
    const m = sign(certUrl, ['--signature-version', version, '--bucket', BUCKET, '--object-key', KEY1]);
    await expectValid(`CloudTrail notification, SignatureVersion ${version}`, v, m.body, () => {
      const why = shapeProblems(m, version, certUrl);
      if (why) return why;
      const msg = JSON.parse(m.json.Message);
      if (!eq(msg, { s3Bucket: BUCKET, s3ObjectKey: [KEY1] })) return `Message ${m.json.Message}`;
      if (m.json.Message !== JSON.stringify(msg)) return 'Message is not compact JSON';
      return null;
    });
    // Validating the parsed object as well as the text.
    await expectValid(`same, passed as an object (v${version})`, v, JSON.parse(m.body));
  }

  // Several keys, some with unicode and characters JSON must escape.
  const keys = [KEY1, 'AWSLogs/123456789012/CloudTrail/eu-west-3/2024/03/01/été-日本-"q"\\b.json.gz',
    'prefix with space/AWSLogs/x.json.gz'];
  for (const version of ['2', '1']) {
    const m = sign(certUrl, ['--signature-version', version, '--bucket', BUCKET,
      ...keys.flatMap((k) => ['--object-key', k])]);
    await expectValid(`three object keys with unicode, v${version}`, v, m.body, () => {
      const msg = JSON.parse(m.json.Message);
      return eq(msg, { s3Bucket: BUCKET, s3ObjectKey: keys }) ? shapeProblems(m, version, certUrl)
        : `Message ${m.json.Message}`;
    });
  }

  // A Subject and a free-form Message with newlines, tabs, quotes and emoji.
  const subject = 'Log delivered \u2014 "trail-1"\nsecond line';
  const message = 'line one\nline two\t\u00e9\u20ac \ud83d\udcdc "quoted" \\ back\n';
  for (const version of ['2', '1']) {
    const m = sign(certUrl, ['--signature-version', version, '--subject', subject,
      '--message', message]);
    await expectValid(`Subject and multi-line unicode Message, v${version}`, v, m.body, () => {
      if (m.json.Subject !== subject) return `Subject ${JSON.stringify(m.json.Subject)}`;
      if (m.json.Message !== message) return `Message ${JSON.stringify(m.json.Message)}`;
      return shapeProblems(m, version, certUrl);
    });
  }

  // A retry: MessageId and Timestamp as given.
  const id = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const retry = sign(certUrl, ['--message-id', id, '--timestamp-ms', '1709294706123',
    '--bucket', BUCKET, '--object-key', KEY1]);
  await expectValid('retry keeps the MessageId', v, retry.body, () => {
    if (retry.json.MessageId !== id || retry.headers['x-amz-sns-message-id'] !== id) {
      return `MessageId ${retry.json.MessageId}`;
    }
    return retry.json.Timestamp === '2024-03-01T12:05:06.123Z' ? null
      : `Timestamp ${retry.json.Timestamp}`;
  });

  // Refusals.
  const bad = /signature is invalid/;
  const base = sign(certUrl, ['--bucket', BUCKET, '--object-key', KEY1]);
  const withSubject = sign(certUrl, ['--subject', 'S', '--message', 'hello']);
  await expectRefused('tampered Message', v, tamper(base, (j) => {
    j.Message = JSON.stringify({ s3Bucket: 'evil-bucket', s3ObjectKey: [KEY1] });
  }), bad);
  await expectRefused('tampered Timestamp', v, tamper(base, (j) => {
    j.Timestamp = j.Timestamp.replace(/\.\d{3}Z$/, '.999Z');
  }), bad);
  await expectRefused('tampered TopicArn', v, tamper(base, (j) => {
    j.TopicArn = j.TopicArn.replace('hosttrail-test', 'other-topic');
  }), bad);
  await expectRefused('tampered MessageId', v, tamper(base, (j) => {
    j.MessageId = id;
  }), bad);
  await expectRefused('Subject added', v, tamper(base, (j) => {
    j.Subject = '';
  }), bad);
  await expectRefused('Subject removed', v, tamper(withSubject, (j) => {
    delete j.Subject;
  }), bad);
  await expectRefused('SignatureVersion 2 relabelled 1', v, tamper(base, (j) => {
    j.SignatureVersion = '1';
  }), bad);
  await expectRefused('SignatureVersion 3', v, tamper(base, (j) => {
    j.SignatureVersion = '3';
  }), /not supported/);
  await expectRefused('signed by another key', v,
    sign(certUrl, ['--bucket', BUCKET, '--object-key', KEY1], 'other.key').body, bad);
  await expectRefused('http SigningCertURL', v, tamper(base, (j) => {
    j.SigningCertURL = j.SigningCertURL.replace('https:', 'http:');
  }), /invalid domain/);
  await expectRefused('certificate from a TLS server the CA did not issue', v,
    sign(rogueUrl, ['--bucket', BUCKET, '--object-key', KEY1]).body,
    /self[- ]signed|unable to verify|not trusted/i);
  await expectRefused("stock validator (AWS's host pattern) refuses a self-hosted URL",
    new MessageValidator(), base.body, /invalid domain/);

  if (certFetches < 1) fail('signing certificate fetched over HTTPS', 'never requested');
  else ok(`signing certificate fetched over HTTPS (${certFetches} time(s))`);
  good.close();
  rogue.close();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAIL - ${e.stack || e}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
