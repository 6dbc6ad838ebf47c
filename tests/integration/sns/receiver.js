// receiver.js PKI_DIR LOG_FILE HTTP_PORT HTTPS_PORT - a webhook receiver for
// test_webhooks.py: hosttraild's SNS HTTP/S notifications, each checked by the
// npm package sns-validator (an implementation independent of hosttrail's).
//
// On 127.0.0.1 it runs
//   - an HTTPS server on HTTPS_PORT (TLS certificate PKI_DIR/server.pem from
//     the test CA of sns/mkcert.sh; node must trust PKI_DIR/ca.pem through
//     NODE_EXTRA_CA_CERTS) serving PKI_DIR/signing.pem at
//     /SimpleNotificationService-test.pem: the topic's SigningCertURL;
//   - an HTTP server on HTTP_PORT taking the notifications.  What it answers
//     depends on the path's first segment: /ok... 200, /fail... 500,
//     /hang... nothing, ever (the connection stays open until the client
//     gives up), /status-NNN... NNN.
// The answer goes out as soon as the body is read (so retry gaps measured
// here are not stretched by validation); then the body is handed to
// new MessageValidator(/^127\.0\.0\.1:\d+$/) (stock sns-validator trusts
// only sns.REGION.amazonaws.com certificate hosts) and one JSON line is
// appended to LOG_FILE:
//   {"kind":"post","t":ARRIVAL_EPOCH_MS,"tEnd":BODY_READ_MS,"seq":N,
//    "method":..,"path":..,"headers":{lowercased},"body":TEXT,
//    "valid":true|false,"error":null|TEXT,"answered":STATUS|null}
// and, for /hang, {"kind":"closed","seq":N,"path":..,"t":EPOCH_MS} when the
// client drops the connection; {"kind":"cert","t":..} per certificate fetch.
// Port 0 picks a free port.  Prints one line
// {"ready":true,"http":PORT,"https":PORT} on stdout once both listen.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const MessageValidator = require('sns-validator');

const [pkiDir, logFile, httpPortArg, httpsPortArg] = process.argv.slice(2);
if (!pkiDir || !logFile) {
  console.error('usage: node receiver.js PKI_DIR LOG_FILE [HTTP_PORT [HTTPS_PORT]]');
  process.exit(2);
}
const pki = (name) => path.join(pkiDir, name);
const CERT_PATH = '/SimpleNotificationService-test.pem';
const validator = new MessageValidator(/^127\.0\.0\.1:\d+$/);
const signingPem = fs.readFileSync(pki('signing.pem'));
let seq = 0;

function record(obj) {
  fs.appendFileSync(logFile, `${JSON.stringify(obj)}\n`);
}

function validate(body) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('validation timed out (20 s)'), 20000);
    try {
      validator.validate(body, (err) => {
        clearTimeout(timer);
        resolve(err ? String(err.message || err) : null);
      });
    } catch (e) {
      clearTimeout(timer);
      resolve(`validator threw: ${e && e.message ? e.message : e}`);
    }
  });
}

function answerFor(p) {
  if (p.startsWith('/ok')) return 200;
  if (p.startsWith('/fail')) return 500;
  if (p.startsWith('/hang')) return null;
  const m = /^\/status-(\d{3})/.exec(p);
  return m ? Number(m[1]) : 404;
}

function onPost(req, res) {
  const t = Date.now();
  const n = ++seq;
  const chunks = [];
  const status = answerFor(req.url);
  if (status === null) {
    req.socket.on('close', () => record({ kind: 'closed', seq: n, path: req.url, t: Date.now() }));
  }
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const tEnd = Date.now();
    const body = Buffer.concat(chunks).toString('utf8');
    if (status !== null) {
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status === 200 ? 'ok\n' : 'no\n');
    }
    let error = null;
    if (req.method !== 'POST') error = `method ${req.method}`;
    else error = await validate(body);
    record({
      kind: 'post', t, tEnd, seq: n, method: req.method, path: req.url, headers: req.headers,
      body, valid: error === null, error, answered: status,
    });
  });
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port || 0), '127.0.0.1', () => resolve(server.address().port));
  });
}

async function main() {
  const tls = https.createServer({ key: fs.readFileSync(pki('server.key')),
    cert: fs.readFileSync(pki('server.pem')) }, (req, res) => {
    if (req.method === 'GET' && req.url === CERT_PATH) {
      record({ kind: 'cert', t: Date.now() });
      res.writeHead(200, { 'Content-Type': 'application/x-pem-file' });
      res.end(signingPem);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  const plain = http.createServer(onPost);
  // A hanging request must outlive any client timeout the test uses.
  plain.requestTimeout = 0;
  plain.headersTimeout = 60000;
  const httpsPort = await listen(tls, httpsPortArg);
  const httpPort = await listen(plain, httpPortArg);
  process.stdout.write(`${JSON.stringify({ ready: true, http: httpPort, https: httpsPort })}\n`);
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(`receiver.js: ${e.stack || e}`);
  process.exit(1);
});
