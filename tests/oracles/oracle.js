// Differential-test oracle: reads JSON lines {"op": ..., "text": ...} on stdin, writes one JSON line per input.
// ops: "x" -> twitter-text parseTweet (config v3) weightedLength and extracted URLs;
//      "facets" -> @atproto/api RichText.detectFacets without an agent (mentions stay unresolved).
'use strict';
const readline = require('readline');
const twitter = require('twitter-text');
const { RichText } = require('@atproto/api');

function facets(text) {
  const rt = new RichText({ text });
  rt.detectFacetsWithoutResolution();
  return (rt.facets || []).map((f) => ({
    byteStart: f.index.byteStart,
    byteEnd: f.index.byteEnd,
    features: f.features,
  }));
}

function handle(req) {
  if (req.op === 'x') {
    const parsed = twitter.parseTweet(req.text);
    const urls = twitter.extractUrlsWithIndices(req.text).map((u) => u.url);
    return { weightedLength: parsed.weightedLength, valid: parsed.valid, urls };
  }
  if (req.op === 'facets') return { facets: facets(req.text) };
  throw new Error(`unknown op ${req.op}`);
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let out;
  try {
    out = handle(JSON.parse(line));
  } catch (err) {
    out = { error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
