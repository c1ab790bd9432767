// The stateless reference for bench_tls.py: crosspost's own Mastodon strategy (Node fetch), at a
// given concurrency, against the TLS fake. No queue, no durability, no idempotency keys: each worker posts
// the next status as soon as its last one was answered.
//
// node race.mjs HOST POSTS CONCURRENCY TOKENS_JSON   (trust the fake's certificate with NODE_EXTRA_CA_CERTS)
import { MastodonStrategy } from "@humanwhocodes/crosspost";

const [host, posts, concurrency, tokensJson] = process.argv.slice(2);
const tokens = JSON.parse(tokensJson);
const strategies = tokens.map(accessToken => new MastodonStrategy({ accessToken, host }));
let next = 0;
const total = Number(posts);

async function worker() {
    while (next < total) {
        const i = next++;
        await strategies[i % strategies.length].post(`Post ${i} #bench`);
    }
}

await Promise.all(Array.from({ length: Number(concurrency) }, worker));
console.log(JSON.stringify({ posted: total }));
