// Conformance oracle for Bluesky requests: validates XRPC params, inputs and records against the published
// AT Protocol lexicons with the reference validator (npm @atproto/lexicon; the lexicon documents come with
// npm @atproto/api). Reads JSON lines {"kind": "params"|"input"|"record"|"output", "nsid": ..., "value": ...}
// on stdin and writes one JSON line per input: {"ok": true} or {"ok": false, "error": "..."}.
'use strict';
const readline = require('readline');
const { Lexicons, jsonToLex } = require('@atproto/lexicon');
const { schemas } = require('@atproto/api');

const lexicons = new Lexicons(schemas);

function check(raw) {
  // JSON as sent on the wire -> lexicon values (a blob's {"$link": cid} becomes a BlobRef), as the PDS does.
  const req = { ...raw, value: jsonToLex(raw.value) };
  if (!lexicons.getDef(req.nsid)) throw new Error(`no lexicon ${req.nsid}`);
  if (req.kind === 'params') lexicons.assertValidXrpcParams(req.nsid, req.value);
  else if (req.kind === 'input') lexicons.assertValidXrpcInput(req.nsid, req.value);
  else if (req.kind === 'output') lexicons.assertValidXrpcOutput(req.nsid, req.value);
  else if (req.kind === 'record') lexicons.assertValidRecord(req.nsid, req.value);
  else throw new Error(`unknown kind ${req.kind}`);
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let out;
  try {
    check(JSON.parse(line));
    out = { ok: true };
  } catch (err) {
    out = { ok: false, error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
